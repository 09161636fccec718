/**
 * The domain XML layer: libvirt domain XML ⇄ typed model. Knows nothing of
 * processes; raw strings stay raw (escaping is the argv builder's job).
 */
import { MpvirtError } from '../errors.js';
import type { DomainDef } from './model.js';
import { RelaxNgValidator, getDomainValidator } from './relaxng.js';
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

/** libvirt's name for a domain document that came from an API call rather than a file */
const SOURCE_NAME = '(domain_definition)';

function validateAgainstSchema(xml: string): void {
  const validator = getDomainValidator();
  const problems = validator.validate(xml, SOURCE_NAME);
  if (problems.length === 0) return;
  const first = problems[0]!;
  throw new MpvirtError(
    'VIR_ERR_XML_INVALID_SCHEMA',
    `Unable to validate doc against ${validator.schemaPath}\n${RelaxNgValidator.formatProblems(problems, SOURCE_NAME)}`,
    first.line > 0 ? { line: first.line } : {},
  );
}

export { formatDomainXml, domainToElement } from './format.js';
export { validateDomainDef, validateDomainName } from './validate.js';
export * from './model.js';
export { RelaxNgValidator, getDomainValidator } from './relaxng.js';
export type { SchemaProblem } from './relaxng.js';
export { findUnsupported, assertSupported } from './supported.js';
export type { UnsupportedItem } from './supported.js';
export { diskSourceIndex, ptyPathsOf, resourcePartition, withResourcePartition, withChannelConnection, withChannelState, withLiveState, withoutChannelState, withoutLiveState, withPtyPaths, withRunningDisks } from './live.js';
export { sourceBridge, tapNamesOf, withTapNames } from './net.js';
export { resolvedVolumes, volumeDisks, withResolvedVolumes, type ResolvedVolume } from './volume-disks.js';
