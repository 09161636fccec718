/**
 * Host queries: `virsh nodeinfo` and the security model `virsh dominfo` probes.
 */
import { availableParallelism, cpus, machine, totalmem } from 'node:os';
import { REMOTE_PROGRAM } from '../protocol.js';
import * as x from '../xdr.js';
import { proc, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;

/** VIR_SECURITY_MODEL_BUFLEN / VIR_SECURITY_DOI_BUFLEN (256 + 1) */
const SECURITY_BUFLEN = 257;

export const nodeProcedures: Procedure[] = [
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
        model: machine(), memory: BigInt(Math.floor(totalmem() / 1024)),
        cpus: n, mhz: cpus()[0]?.speed ?? 0, nodes: 1, sockets: 1, cores: n, threads: 1,
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
