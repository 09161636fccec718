/**
 * Host queries: `virsh nodeinfo`, `nodememstats`, `nodecpustats`, `freecell`, and the security
 * model `virsh dominfo` probes.
 */
import { availableParallelism, machine } from 'node:os';
import { REMOTE_PROGRAM } from '../protocol.js';
import * as x from '../xdr.js';
import { cellsFreeMemory, cpuMhz, freeMemory, nodeCpuStats, nodeMemoryKiB, nodeMemoryStats } from '../../driver/host-stats.js';
import { MpvirtError } from '../../errors.js';
import { proc, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;

/** VIR_SECURITY_MODEL_BUFLEN / VIR_SECURITY_DOI_BUFLEN (256 + 1) */
const SECURITY_BUFLEN = 257;

const statParams = x.struct({ params: x.array(x.struct({ field: x.string(), value: x.uhyper }), 16), nparams: x.int });

export const nodeProcedures: Procedure[] = [
  proc({
    program: R, proc: 228, name: 'NODE_GET_MEMORY_STATS', api: 'virNodeGetMemoryStats',
    args: x.struct({ nparams: x.int, cellNum: x.int, flags: x.uint }), ret: statParams, readOnlySafe: true,
    handler: (_ctx, a) => nodeMemoryStats(a.cellNum, a.nparams, a.flags),
  }),
  proc({
    program: R, proc: 227, name: 'NODE_GET_CPU_STATS', api: 'virNodeGetCPUStats',
    args: x.struct({ cpuNum: x.int, nparams: x.int, flags: x.uint }), ret: statParams, readOnlySafe: true,
    handler: (_ctx, a) => nodeCpuStats(a.cpuNum, a.nparams, a.flags),
  }),
  proc({
    program: R, proc: 102, name: 'NODE_GET_FREE_MEMORY', api: 'virNodeGetFreeMemory',
    args: x.none, ret: x.struct({ freeMem: x.uhyper }), readOnlySafe: true,
    handler: () => ({ freeMem: freeMemory() }),
  }),
  proc({
    program: R, proc: 101, name: 'NODE_GET_CELLS_FREE_MEMORY', api: 'virNodeGetCellsFreeMemory',
    args: x.struct({ startCell: x.int, maxcells: x.int }), ret: x.struct({ cells: x.array(x.uhyper, 1024) }), readOnlySafe: true,
    handler: (_ctx, a) => {
      if (a.maxcells > 1024) throw new MpvirtError('VIR_ERR_RPC', 'maxCells > REMOTE_NODE_MAX_CELLS');
      return { cells: cellsFreeMemory(a.startCell, a.maxcells) };
    },
  }),
  proc({
    program: R, proc: 6, name: 'NODE_GET_INFO', api: 'virNodeGetInfo',
    args: x.none,
    ret: x.struct({
      model: x.fixedChars(32), // char model[32]: 32 four-byte chars
      memory: x.uhyper, // KiB
      cpus: x.int, mhz: x.int, nodes: x.int, sockets: x.int, cores: x.int, threads: x.int,
    }),
    readOnlySafe: true,
    handler: () => {
      const n = availableParallelism();
      // one node, one socket: virsh checks only that the product equals the CPU count
      return {
        model: machine(), memory: nodeMemoryKiB(),
        cpus: n, mhz: cpuMhz(), nodes: 1, sockets: 1, cores: n, threads: 1,
      };
    },
  }),
  proc({
    program: R, proc: 122, name: 'NODE_GET_SECURITY_MODEL', api: 'virNodeGetSecurityModel',
    args: x.none, ret: x.struct({ model: x.chars(SECURITY_BUFLEN), doi: x.chars(SECURITY_BUFLEN) }),
    readOnlySafe: true,
    // mpvirt applies no security labels: libvirt's 'none' driver, as with security_driver = "none"
    handler: () => ({ model: 'none', doi: '0' }),
  }),
];
