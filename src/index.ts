/** mpvirt's library entry: XML parse/format and the error table. */
export { parseDomainXml, formatDomainXml, validateDomainDef } from './domainxml/index.js';
export type { ParseOptions } from './domainxml/index.js';
export * from './domainxml/model.js';
export { MpvirtError, ErrorKinds, ErrorDomain, isMpvirtError } from './errors.js';
export type { ErrorCode } from './errors.js';
