/**
 * The domain XML layer: libvirt domain XML ⇄ typed model. Knows nothing of
 * processes; raw strings stay raw (escaping is the argv builder's job).
 */
import type { DomainDef } from './model.js';
import { parseDomainElement } from './parse.js';
import { validateDomainDef } from './validate.js';
import { parseXmlDocument, type ParseLimits } from './xmltree.js';

export interface ParseOptions extends ParseLimits {
  /**
   * Strict mode (`virsh define --validate`): validate the document against
   * libvirt's domain.rng before reading it.
   */
  validateSchema?: boolean;
}

/** Parse and validate a domain definition. Throws MpvirtError with a stable code. */
export function parseDomainXml(xml: string, opts: ParseOptions = {}): DomainDef {
  const root = parseXmlDocument(xml, opts);
  if (opts.validateSchema) validateAgainstSchema(xml);
  const def = parseDomainElement(root);
  validateDomainDef(def);
  return def;
}

function validateAgainstSchema(_xml: string): void {
  // filled in by relaxng.ts
}

export { formatDomainXml, domainToElement } from './format.js';
export { validateDomainDef, validateDomainName } from './validate.js';
export * from './model.js';
export { findUnsupported, assertSupported } from './supported.js';
export type { UnsupportedItem } from './supported.js';
