/**
 * virsh's tables (tools/vsh-table.c): cells separated so each column is as wide as its widest cell
 * plus two, a dashed line under the header (each column's width plus three), control characters
 * and literal `\x` shown as `\xNN`, wide characters counted twice. -q drops the header.
 */

/** vshTableSafeEncode: the cell as printed, and its width in terminal columns. */
function safeEncode(s: string): { text: string; width: number } {
  let text = '';
  let width = 0;
  for (let i = 0; i < s.length; ) {
    const cp = s.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if ((ch === '\\' && s[i + 1] === 'x') || cp < 0x20 || cp === 0x7f) {
      text += `\\x${cp.toString(16).padStart(2, '0')}`;
      width += 4;
    } else if (!printable(cp)) {
      for (const b of Buffer.from(ch, 'utf8')) text += `\\x${b.toString(16).padStart(2, '0')}`;
      width += 4 * Buffer.byteLength(ch);
    } else {
      text += ch;
      width += zeroWidth(cp) ? 0 : wide(cp) ? 2 : 1;
    }
    i += ch.length;
  }
  return { text, width };
}

/** iswprint in a UTF-8 locale, as far as tables need it: C1 controls and unassigned surrogates are not. */
const printable = (cp: number): boolean => !(cp >= 0x80 && cp < 0xa0) && !(cp >= 0xd800 && cp < 0xe000);
const zeroWidth = (cp: number): boolean => (cp >= 0x300 && cp < 0x370) || cp === 0x200b || (cp >= 0x200c && cp <= 0x200f);
/** g_unichar_iswide: East Asian wide and fullwidth ranges. */
const wide = (cp: number): boolean =>
  (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) || (cp >= 0xac00 && cp <= 0xd7a3) ||
  (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) ||
  (cp >= 0x1f300 && cp <= 0x1f64f) || (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd);

/** vshTablePrint: `header` is the first row, printed unless `withHeader` is false. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], withHeader = true): string {
  const all = [header, ...rows].map((r) => r.map(safeEncode));
  const max = header.map((_, j) => Math.max(...all.slice(withHeader ? 0 : 1).map((r) => r[j]?.width ?? 0), 0));
  const line = (r: Array<{ text: string; width: number }>): string =>
    `${r.map((c, j) => ` ${c.text}${j < r.length - 1 ? ' '.repeat(max[j]! - c.width + 2) : ''}`).join('')}\n`;
  let out = '';
  if (withHeader) out += line(all[0]!) + `${max.map((m) => '-'.repeat(m + 3)).join('')}\n`;
  for (const r of all.slice(1)) out += line(r);
  return out;
}
