/**
 * One table of error classes with stable codes (undici's pattern).
 *
 * Every error mpvirt reports is an MpvirtError whose `code` is the name of
 * libvirt's virErrorNumber (e.g. `VIR_ERR_XML_ERROR`), whose `number` and
 * `domain` are libvirt's numeric values, and whose `message` is the full text
 * in libvirt's wording (`XML error: …`). The wire protocol sends these three
 * values as they are, so real virsh prints our messages verbatim.
 */

/** virErrorDomain values we use (libvirt's virterror.h). */
export const ErrorDomain = {
  NONE: 0,
  RPC: 7,
  CONF: 9,
  QEMU: 10,
  REMOTE: 13,
  DOMAIN: 20,
  STORAGE: 18,
} as const;
export type ErrorDomainName = keyof typeof ErrorDomain;

interface ErrorKind {
  /** libvirt's virErrorNumber */
  readonly number: number;
  /** how libvirt's virErrorMsg() prefixes the detail text */
  readonly format: (detail: string) => string;
}

/** The codes mpvirt emits, with libvirt's numbers and message prefixes. */
export const ErrorKinds = {
  VIR_ERR_INTERNAL_ERROR: { number: 1, format: (d) => `internal error: ${d}` },
  VIR_ERR_NO_SUPPORT: { number: 3, format: (d) => `this function is not supported by the connection driver: ${d}` },
  VIR_ERR_NO_CONNECT: { number: 5, format: (d) => `no connection driver available for ${d}` },
  VIR_ERR_INVALID_ARG: { number: 8, format: (d) => `invalid argument: ${d}` },
  // virReportInvalidArg: the same number, but libvirt prints its text without the prefix
  VIR_ERR_INVALID_ARG_BARE: { number: 8, format: (d) => d },
  VIR_ERR_OPERATION_FAILED: { number: 9, format: (d) => `operation failed: ${d}` },
  VIR_ERR_NO_NAME: { number: 21, format: (d) => (d ? `missing name information in ${d}` : 'missing name information') },
  VIR_ERR_NO_TARGET: { number: 20, format: (d) => (d ? `missing target information for ${d}` : 'missing target information') },
  VIR_ERR_XML_ERROR: { number: 27, format: (d) => `XML error: ${d}` },
  VIR_ERR_OPERATION_DENIED: { number: 29, format: (d) => `operation forbidden: ${d}` },
  VIR_ERR_CONF_SYNTAX: { number: 33, format: (d) => `configuration file syntax error: ${d}` },
  VIR_ERR_XML_DETAIL: { number: 35, format: (d) => `XML error: ${d}` },
  // virReportSystemError: the text and strerror, no prefix
  VIR_ERR_SYSTEM_ERROR: { number: 38, format: (d) => d },
  // libvirt prints RPC errors without a prefix ("%s")
  VIR_ERR_RPC: { number: 39, format: (d) => d },
  VIR_ERR_NO_DOMAIN: { number: 42, format: (d) => `Domain not found: ${d}` },
  VIR_ERR_NO_STORAGE_POOL: { number: 49, format: (d) => `Storage pool not found: ${d}` },
  VIR_ERR_NO_STORAGE_VOL: { number: 50, format: (d) => `Storage volume not found: ${d}` },
  // virReportError(VIR_ERR_CPU_INCOMPATIBLE, NULL) gives the bare text
  VIR_ERR_CPU_INCOMPATIBLE: { number: 54, format: (d) => (d ? `the CPU is incompatible with host CPU: ${d}` : 'the CPU is incompatible with host CPU') },
  VIR_ERR_OPERATION_INVALID: { number: 55, format: (d) => `Requested operation is not valid: ${d}` },
  VIR_ERR_CONFIG_UNSUPPORTED: { number: 67, format: (d) => `unsupported configuration: ${d}` },
  VIR_ERR_OPERATION_TIMEOUT: { number: 68, format: (d) => `Timed out during operation: ${d}` },
  VIR_ERR_ARGUMENT_UNSUPPORTED: { number: 74, format: (d) => `argument unsupported: ${d}` },
  VIR_ERR_OPERATION_ABORTED: { number: 78, format: (d) => `operation aborted: ${d}` },
  VIR_ERR_NO_DOMAIN_METADATA: { number: 80, format: (d) => `metadata not found: ${d}` },
  VIR_ERR_OVERFLOW: { number: 82, format: (d) => `numerical overflow: ${d}` },
  VIR_ERR_OPERATION_UNSUPPORTED: { number: 84, format: (d) => `Operation not supported: ${d}` },
  VIR_ERR_XML_INVALID_SCHEMA: { number: 92, format: (d) => `XML document failed to validate against schema: ${d}` },
  VIR_ERR_STORAGE_VOL_EXIST: { number: 90, format: (d) => `storage volume ${d} exists already` },
  VIR_ERR_DEVICE_MISSING: { number: 99, format: (d) => `device not found: ${d}` },
} satisfies Record<string, ErrorKind>;
export type ErrorCode = keyof typeof ErrorKinds;

export interface ErrorDetails {
  domain?: ErrorDomainName;
  /** line and column of malformed input, 1-based */
  line?: number;
  column?: number;
  /** the element or attribute the error is about, e.g. `/domain/devices/disk[2]/target/@dev` */
  where?: string;
  /** a QMP command error as QEMU sent it (`{"error":{"class":…,"desc":…}}`) */
  qmp?: QmpErrorInfo;
  cause?: unknown;
}

export interface QmpErrorInfo {
  readonly class: string;
  readonly desc: string;
}

export class MpvirtError extends Error {
  override readonly name = 'MpvirtError';
  readonly code: ErrorCode;
  /** libvirt's virErrorNumber */
  readonly number: number;
  /** libvirt's virErrorDomain */
  readonly domain: number;
  /** the text after libvirt's prefix */
  readonly detail: string;
  readonly line?: number;
  readonly column?: number;
  readonly where?: string;
  readonly qmp?: QmpErrorInfo;

  constructor(code: ErrorCode, detail: string, details: ErrorDetails = {}) {
    const kind: ErrorKind = ErrorKinds[code];
    super(kind.format(detail), details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.number = kind.number;
    this.domain = ErrorDomain[details.domain ?? 'DOMAIN'];
    this.detail = detail;
    if (details.line !== undefined) this.line = details.line;
    if (details.column !== undefined) this.column = details.column;
    if (details.where !== undefined) this.where = details.where;
    if (details.qmp !== undefined) this.qmp = details.qmp;
  }
}

/**
 * An error another libvirt raised (the host's network, node device, secret, … daemons that
 * mpvirtd forwards to, as libvirt's own hypervisor daemons do): its number, domain, level,
 * text and extra fields pass to the client unchanged, so virsh prints what that daemon said.
 */
export class ForeignLibvirtError extends Error {
  override readonly name = 'ForeignLibvirtError';
  constructor(
    readonly number: number,
    readonly domain: number,
    message: string,
    readonly extra: { level: number; str1: string | null; str2: string | null; str3: string | null; int1: number; int2: number },
  ) {
    super(message);
  }
}

export function isMpvirtError(e: unknown, code?: ErrorCode): e is MpvirtError {
  return e instanceof MpvirtError && (code === undefined || e.code === code);
}

/** Shorthands for the errors the XML layer raises most. */
export const xmlError = (detail: string, details?: ErrorDetails): MpvirtError =>
  new MpvirtError('VIR_ERR_XML_ERROR', detail, details);
export const unsupportedConfig = (detail: string, details?: ErrorDetails): MpvirtError =>
  new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', detail, details);

/** libvirt's virCheckFlags: any bit outside `allowed` is refused, naming the function. */
export function checkFlags(flags: number, allowed: number, fn: string): void {
  const extra = (flags & ~allowed) >>> 0;
  if (extra !== 0) throw new MpvirtError('VIR_ERR_INVALID_ARG', `unsupported flags (0x${extra.toString(16)}) in function ${fn}`);
}
