// virhostmem.c / virhostcpu.c's parsing, on fixed text: /proc/meminfo and a NUMA node's meminfo
// (its `Node N` prefix), /proc/stat's totals and per-CPU lines in nanoseconds (100 ticks a second).
import { describe, expect, it } from 'vitest';
import { parseMeminfo, parseProcStat } from '../../src/driver/host-stats.js';

describe('host statistics parsing', () => {
  it('reads meminfo fields in file order, with or without the node prefix', () => {
    const host = 'MemTotal:        8131380 kB\nMemFree:          301232 kB\nMemAvailable:    6624512 kB\nBuffers:          211476 kB\nCached:          6003832 kB\n';
    expect(parseMeminfo(host, 4)).toEqual([
      { field: 'total', value: 8131380n }, { field: 'free', value: 301232n }, { field: 'buffers', value: 211476n }, { field: 'cached', value: 6003832n },
    ]);
    expect(parseMeminfo('Node 0 MemTotal:       8131380 kB\nNode 0 MemFree:         301232 kB\nNode 0 MemUsed:        7830148 kB\n', 2)).toEqual([
      { field: 'total', value: 8131380n }, { field: 'free', value: 301232n },
    ]);
    expect(() => parseMeminfo('nothing here\n', 4)).toThrow(/no available memory line found/);
  });

  it('reads /proc/stat as kernel (system+irq+softirq), user (user+nice), idle, iowait in ns', () => {
    const stat = 'cpu  100 5 30 1000 7 2 1 0 0 0\ncpu0 60 5 20 500 3 1 1 0 0 0\ncpu1 40 0 10 500 4 1 0 0 0 0\nintr 1\n';
    expect(parseProcStat(stat, -1)).toEqual([
      { field: 'kernel', value: 330_000_000n }, { field: 'user', value: 1_050_000_000n }, { field: 'idle', value: 10_000_000_000n }, { field: 'iowait', value: 70_000_000n },
    ]);
    expect(parseProcStat(stat, 1)[0]).toEqual({ field: 'kernel', value: 110_000_000n });
    expect(() => parseProcStat(stat, 2)).toThrow(/Invalid cpuNum in virHostCPUGetStatsLinux/);
  });
});
