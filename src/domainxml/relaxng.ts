/**
 * RelaxNG validation of XML documents against libvirt's schemas, through the
 * system libxml2 (the library xmllint and libvirt use), bound with koffi.
 *
 * The schema is compiled once per validator. Each validate() parses the text
 * without entity expansion, DTD loading or network access, collects libxml2's
 * structured errors instead of letting it print them, and frees everything it
 * allocated. Problems carry the same line, element and message as xmllint's
 * `--relaxng` output, and formatProblems() prints them the way xmllint does.
 */
import koffi from 'koffi';
import { MpvirtError } from '../errors.js';

export interface SchemaProblem {
  /** 1-based line; 0 when libxml2 reported no location (xmllint then prints no `file:line:` prefix) */
  line: number;
  /** name of the element the error is about, when libxml2 gave one */
  element?: string;
  message: string;
  /** set for diagnostics from parsing rather than from the schema (xmllint's `parser error`, `namespace error`) */
  kind?: 'parser' | 'namespace' | 'I/O';
}

const LIBXML2 = 'libxml2.so.2';
const DEFAULT_SCHEMA = '/usr/share/libvirt/schemas/domain.rng';

// xmlParserOption values (libxml2 parser.h). Never NOENT or DTDLOAD: entities stay unexpanded.
const XML_PARSE_NOERROR = 1 << 5;
const XML_PARSE_NOWARNING = 1 << 6;
const XML_PARSE_NONET = 1 << 11;
const XML_PARSE_COMPACT = 1 << 16;
const XML_PARSE_IGNORE_ENC = 1 << 21; // the text is a JS string, always handed over as UTF-8
const XML_PARSE_BIG_LINES = 1 << 22; // like xmllint: real line numbers past 65535
const READ_OPTIONS =
  XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NONET | XML_PARSE_COMPACT | XML_PARSE_IGNORE_ENC | XML_PARSE_BIG_LINES;

const XML_ELEMENT_NODE = 1;
const XML_ERR_ERROR = 2;
const KIND_BY_DOMAIN: Record<number, SchemaProblem['kind']> = { 1: 'parser', 3: 'namespace', 8: 'I/O' };

type Ptr = bigint | null;
type Fn = (...args: unknown[]) => unknown;

interface RawError { domain: number; level: number; line: number; file: string | null; message: string | null; node: Ptr }

/** Where the structured callback files errors; set only while libxml2 runs inside quietly(). */
let sink: SchemaProblem[] | undefined;

/** libxml2's functions, and the two callbacks, registered for the process's lifetime. */
function makeBinding() {
  const lib = koffi.load(LIBXML2);
  const P = 'void *';
  const f = (name: string, result: string, args: unknown[]): Fn => lib.func(name, result, args as string[]) as Fn;
  const XmlError = koffi.struct({
    domain: 'int', code: 'int', message: 'char *', level: 'int', file: 'char *', line: 'int',
    str1: 'char *', str2: 'char *', str3: 'char *', int1: 'int', int2: 'int', ctxt: P, node: P,
  });
  const XmlNodeHead = koffi.struct({ _private: P, type: 'int', name: 'char *' });
  const ErrorCb = koffi.pointer(koffi.proto(null, 'void', [P, P]));
  const onError = (_ctx: unknown, errPtr: Ptr): void => {
    try {
      if (!sink || errPtr === null) return;
      const e = koffi.decode(errPtr, XmlError) as RawError;
      if (e.level < XML_ERR_ERROR) return; // warnings are not validity problems
      const problem: SchemaProblem = { line: e.file === null ? 0 : e.line, message: (e.message ?? '').replace(/\n$/, '') };
      if (e.node !== null) {
        const node = koffi.decode(e.node, XmlNodeHead) as { type: number; name: string | null };
        if (node.type === XML_ELEMENT_NODE && node.name !== null) problem.element = node.name;
      }
      const kind = KIND_BY_DOMAIN[e.domain];
      if (kind) problem.kind = kind;
      sink.push(problem);
    } catch {
      // never let an exception unwind into libxml2
    }
  };
  return {
    newParserCtxt: f('xmlRelaxNGNewParserCtxt', P, ['str']),
    setParserErrors: f('xmlRelaxNGSetParserStructuredErrors', 'void', [P, P, P]),
    parse: f('xmlRelaxNGParse', P, [P]),
    freeParserCtxt: f('xmlRelaxNGFreeParserCtxt', 'void', [P]),
    newValidCtxt: f('xmlRelaxNGNewValidCtxt', P, [P]),
    setValidErrors: f('xmlRelaxNGSetValidStructuredErrors', 'void', [P, P, P]),
    validateDoc: f('xmlRelaxNGValidateDoc', 'int', [P, P]),
    freeValidCtxt: f('xmlRelaxNGFreeValidCtxt', 'void', [P]),
    readMemory: f('xmlReadMemory', P, [P, 'int', 'str', 'str', 'int']),
    freeDoc: f('xmlFreeDoc', 'void', [P]),
    // the per-thread handler slots, so quietly() can put back whatever was there
    genericSlot: f('__xmlGenericError', P, []),
    genericCtxSlot: f('__xmlGenericErrorContext', P, []),
    structuredSlot: f('__xmlStructuredError', P, []),
    structuredCtxSlot: f('__xmlStructuredErrorContext', P, []),
    setGeneric: f('xmlSetGenericErrorFunc', 'void', [P, P]),
    setStructured: f('xmlSetStructuredErrorFunc', 'void', [P, P]),
    /** void (*)(void *ctx, xmlError *err), for the structured error handlers */
    onError: koffi.register(onError, ErrorCb),
    /** stands in for the variadic xmlGenericErrorFunc: on SysV/AAPCS a callee may ignore the variadic tail */
    noop: koffi.register(() => undefined, ErrorCb),
  };
}
type Binding = ReturnType<typeof makeBinding>;
let binding: Binding | undefined;
const bind = (): Binding => (binding ??= makeBinding());

/** Runs fn with libxml2's global error output diverted into `into` (nothing reaches stderr). */
function quietly<T>(b: Binding, into: SchemaProblem[], fn: () => T): T {
  const slot = (get: Fn): Ptr => koffi.decode(get() as bigint, 'void *') as Ptr;
  const saved = [slot(b.genericCtxSlot), slot(b.genericSlot), slot(b.structuredCtxSlot), slot(b.structuredSlot)];
  const outer = sink;
  b.setGeneric(null, b.noop);
  b.setStructured(null, b.onError);
  sink = into;
  try {
    return fn();
  } finally {
    sink = outer;
    b.setGeneric(saved[0], saved[1]);
    b.setStructured(saved[2], saved[3]);
  }
}

export class RelaxNgValidator {
  readonly schemaPath: string;
  readonly #b: Binding;
  /** the compiled xmlRelaxNGPtr; kept for the validator's (in practice the process's) lifetime */
  readonly #schema: bigint;

  private constructor(schemaPath: string, b: Binding, schema: bigint) {
    this.schemaPath = schemaPath;
    this.#b = b;
    this.#schema = schema;
  }

  static load(schemaPath: string = DEFAULT_SCHEMA): RelaxNgValidator {
    let b: Binding;
    try {
      b = bind();
    } catch (cause) {
      throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `cannot load ${LIBXML2} to validate against ${schemaPath}: ${String(cause)}`, { cause });
    }
    const errors: SchemaProblem[] = [];
    const schema = quietly(b, errors, () => {
      const pctxt = b.newParserCtxt(schemaPath) as Ptr;
      if (pctxt === null) return null;
      try {
        b.setParserErrors(pctxt, b.onError, null);
        return b.parse(pctxt) as Ptr;
      } finally {
        b.freeParserCtxt(pctxt);
      }
    });
    if (schema === null) {
      const why = errors.map((p) => p.message).slice(0, 3).join('; ') || 'unknown error';
      throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `cannot compile RelaxNG schema ${schemaPath}: ${why}`);
    }
    return new RelaxNgValidator(schemaPath, b, schema);
  }

  /** Validates one document; returns [] when it is valid. Never throws for bad input. */
  validate(xml: string, sourceName = '-'): SchemaProblem[] {
    const b = this.#b;
    const problems: SchemaProblem[] = [];
    const buf = Buffer.from(xml, 'utf8');
    quietly(b, problems, () => {
      const doc = b.readMemory(buf, buf.length, sourceName, null, READ_OPTIONS) as Ptr;
      if (doc === null) {
        // xmlReadMemory refuses an empty buffer without a word; say what xmllint says
        if (buf.length === 0) problems.push({ line: 1, message: 'Document is empty', kind: 'parser' });
        else if (problems.length === 0) problems.push({ line: 0, message: 'Document is not well-formed', kind: 'parser' });
        problems.splice(1); // the first parse error is the one that matters
        return;
      }
      try {
        const vctxt = b.newValidCtxt(this.#schema) as Ptr;
        if (vctxt === null) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'cannot create RelaxNG validation context');
        try {
          b.setValidErrors(vctxt, b.onError, null);
          const rc = b.validateDoc(vctxt, doc) as number;
          if (rc !== 0 && problems.length === 0) {
            problems.push({ line: 0, message: rc < 0 ? 'internal error during validation' : 'Document fails to validate' });
          }
        } finally {
          b.freeValidCtxt(vctxt);
        }
      } finally {
        b.freeDoc(doc);
      }
    });
    return problems;
  }

  /** The problems as xmllint prints them, one per line (without xmllint's source excerpt for parse errors). */
  static formatProblems(problems: SchemaProblem[], sourceName: string): string {
    return problems
      .map((p) => {
        const where = p.line === 0 ? '' : `${sourceName}:${p.line}: `;
        const element = p.element === undefined ? '' : `element ${p.element}: `;
        return `${where}${element}${p.kind ?? 'Relax-NG validity'} error : ${p.message}`;
      })
      .join('\n');
  }
}

let domainValidator: RelaxNgValidator | undefined;

/** The validator for libvirt's domain.rng, compiled on first use. */
export function getDomainValidator(): RelaxNgValidator {
  domainValidator ??= RelaxNgValidator.load(DEFAULT_SCHEMA);
  return domainValidator;
}
