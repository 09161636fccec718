import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixturesDir = join(projectRoot, 'test', 'fixtures', 'domainxml');
export const corpusDir = join(projectRoot, '..', 'shared', 'libvirt-9.0-testdata', 'qemuxml2argvdata');

/** A model as plain data, without source positions (which legitimately differ between rounds). */
export function comparable(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (k, v: unknown) => {
    if (k === 'line') return undefined;
    // layout between elements is not content: libvirt (and our formatter) re-indents it
    if (k === 'children' && Array.isArray(v) && v.some((c) => (c as { kind?: string }).kind === 'element')) {
      return v.filter((c) => !((c as { kind?: string }).kind === 'text' && String((c as { value?: string }).value).trim() === ''));
    }
    return v;
  }));
}
