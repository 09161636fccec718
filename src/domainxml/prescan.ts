/**
 * A linear pre-scan of the raw text, run before the DOM parser sees it.
 *
 * xmldom builds the whole tree before anyone can count its depth, recovers from
 * some malformed input libxml2 (and so libvirt) refuses, and accepts a DOCTYPE.
 * This scan enforces, in one pass and O(1) memory per level, what must hold
 * before any tree is built: no DOCTYPE, bounded depth and element count, `&`
 * only as a well-formed reference, no `]]>` in text, no `<` in attribute values.
 */
import { xmlError } from '../errors.js';

export interface PrescanLimits {
  maxDepth: number;
  maxElements: number;
}

const REFERENCE = /^&(?:[A-Za-z_:][A-Za-z0-9._:-]*|#[0-9]+|#x[0-9A-Fa-f]+);/;

function position(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: index - lineStart + 1 };
}

function fail(text: string, index: number, what: string): never {
  const at = position(text, index);
  throw xmlError(`malformed XML at line ${at.line}, column ${at.column}: ${what}`, at);
}

/** Index just past `terminator` starting at `from`, or a malformed-XML error. */
function skipPast(text: string, from: number, terminator: string, what: string): number {
  const end = text.indexOf(terminator, from);
  if (end < 0) fail(text, from, `unterminated ${what}`);
  return end + terminator.length;
}

function checkReference(text: string, i: number): void {
  if (!REFERENCE.test(text.slice(i, i + 64))) fail(text, i, "'&' must start an entity or character reference (write &amp;)");
}

export function prescanXml(text: string, limits: PrescanLimits): void {
  let depth = 0;
  let elements = 0;
  let i = 0;
  const n = text.length;
  // next occurrences, cached so the scan stays linear when they are rare
  let nextAmp = -2;
  let nextCdataEnd = -2;
  const next = (cached: number, needle: string, from: number): number =>
    cached !== -1 && cached < from ? text.indexOf(needle, from) : cached;
  while (i < n) {
    const lt = text.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    // character data between markup
    for (nextAmp = next(nextAmp, '&', i); nextAmp !== -1 && nextAmp < textEnd; nextAmp = text.indexOf('&', nextAmp + 1)) {
      checkReference(text, nextAmp);
    }
    nextCdataEnd = next(nextCdataEnd, ']]>', i);
    if (nextCdataEnd !== -1 && nextCdataEnd < textEnd) fail(text, nextCdataEnd, "']]>' is not allowed in text (write ]]&gt;)");
    if (lt < 0) break;
    if (text.startsWith('<!--', lt)) {
      i = skipPast(text, lt + 4, '-->', 'comment');
    } else if (text.startsWith('<![CDATA[', lt)) {
      i = skipPast(text, lt + 9, ']]>', 'CDATA section');
    } else if (text.startsWith('<?', lt)) {
      i = skipPast(text, lt + 2, '?>', 'processing instruction');
    } else if (text.startsWith('<!', lt)) {
      // DOCTYPE (or any other declaration): never read, so no entity can ever be declared
      fail(text, lt, 'DOCTYPE declarations are not accepted (no DTDs or entities)');
    } else if (text.startsWith('</', lt)) {
      depth--;
      i = skipPast(text, lt + 2, '>', 'end tag');
    } else {
      // a start tag: walk it honouring quotes, so '>' or '/' inside values do not count
      let j = lt + 1;
      let quote = '';
      for (; j < n; j++) {
        const c = text[j]!;
        if (quote) {
          if (c === quote) quote = '';
          else if (c === '<') fail(text, j, "'<' is not allowed in an attribute value");
          else if (c === '&') checkReference(text, j);
        } else if (c === '"' || c === "'") {
          quote = c;
        } else if (c === '>') {
          break;
        }
      }
      if (j >= n) fail(text, lt, 'unterminated start tag');
      elements++;
      if (elements > limits.maxElements) fail(text, lt, `more than ${limits.maxElements} elements`);
      if (text[j - 1] !== '/') {
        depth++;
        if (depth > limits.maxDepth) {
          const at = position(text, lt);
          throw xmlError(`elements are nested deeper than the limit of ${limits.maxDepth} (line ${at.line})`, at);
        }
      }
      i = j + 1;
    }
  }
}
