// The /proc readings behind domstats, vcpuinfo and dommemstat, the cpu lists of vcpupin and
// emulatorpin, nodeinfo's clock and send-key's key numbers, on fixed text (libvirt's parsers:
// virProcessGetStatInfo, qemuGetSchedstatDelay, virProcessGetSchedInfo, virBitmapFormat,
// virHostCPUParseFrequency, keycodemapdb's linux → qnum table).
import { describe, expect, it } from 'vitest';
import { cpumapToList, formatCpuList } from '../../src/driver/cpu-pinning.js';
import { parseCpuMhz } from '../../src/driver/host-stats.js';
import { linuxToQnum } from '../../src/driver/keycodes.js';
import { parseCpuList, parseNsPids, parseSchedstatDelay, parseSchedWaitSum, parseThreadStat } from '../../src/driver/proc-stats.js';

describe('proc files', () => {
  it('reads CPU time, last CPU and RSS from a stat line whose command has spaces and parentheses', () => {
    const fields = Array.from({ length: 52 }, (_, i) => String(i + 1));
    fields[13] = '250'; // utime (field 14)
    fields[14] = '70'; // stime
    fields[23] = '12000'; // rss pages (field 24)
    fields[38] = '1'; // processor (field 39)
    const text = `4242 (qemu (main) x) ${fields.slice(2).join(' ')}\n`;
    expect(parseThreadStat(text)).toEqual({ cpuNs: 3_200_000_000n, userNs: 2_500_000_000n, systemNs: 700_000_000n, processor: 1, rssKiB: 48_000n });
    expect(parseThreadStat('garbage')).toBeUndefined();
  });

  it('reads the run-queue delay and the wait sum as libvirt does', () => {
    expect(parseSchedstatDelay('1234 5678 9\n')).toBe(5678n);
    expect(parseSchedstatDelay('')).toBeUndefined();
    expect(parseSchedWaitSum('se.exec_start    :   1.0\nse.statistics.wait_sum    :     12.345678\n')).toBe(12_345_678n);
    expect(parseSchedWaitSum('se.wait_sum : 3.5\n')).toBe(3_500_000n);
    expect(parseSchedWaitSum('nothing here\n')).toBe(0n);
  });

  it('maps a thread id inside a pid namespace to the host one', () => {
    expect(parseNsPids('Name:\tqemu\nNSpid:\t81234\t7\n')).toEqual([81234, 7]);
    expect(parseNsPids('Name:\tx\n')).toEqual([]);
  });
});

describe('cpu lists', () => {
  it('parses and formats them as virBitmapParse / virBitmapFormat', () => {
    expect(parseCpuList('0-2,4,6-7')).toEqual([0, 1, 2, 4, 6, 7]);
    expect(formatCpuList([7, 6, 4, 2, 1, 0, 4])).toBe('0-2,4,6-7');
    expect(formatCpuList([3])).toBe('3');
  });

  it('reads a cpumap bit by bit', () => {
    expect(cpumapToList(Uint8Array.from([0b101, 0b1]))).toEqual([0, 2, 8]);
    expect(cpumapToList(new Uint8Array(2))).toEqual([]);
  });
});

describe('host facts and keys', () => {
  it('takes the last cpu MHz line, truncated, as nodeinfo does', () => {
    expect(parseCpuMhz('processor\t: 0\ncpu MHz\t\t: 2445.434\nprocessor\t: 1\ncpu MHz\t\t: 2399.999\n')).toBe(2399);
    expect(parseCpuMhz('no clock\n')).toBe(0);
  });

  it('turns linux keycodes into QEMU qnum numbers, extended keys included', () => {
    expect(linuxToQnum(30)).toBe(0x1e); // KEY_A
    expect(linuxToQnum(28)).toBe(0x1c); // KEY_ENTER
    expect(linuxToQnum(97)).toBe(0x9d); // KEY_RIGHTCTRL
    expect(linuxToQnum(111)).toBe(0xd3); // KEY_DELETE
    expect(linuxToQnum(119)).toBe(0xc6); // KEY_PAUSE
    expect(linuxToQnum(0)).toBeUndefined();
    expect(linuxToQnum(300)).toBeUndefined();
  });
});
