/**
 * virsh's XML handling for the storage commands, on libxml2 itself (through koffi) so that the
 * output is libxml2's to the byte, as virsh's is: virshDumpXML (tools/virsh-util.c: `--xpath`,
 * `--wrap`) and virshMakeCloneXML (tools/virsh-volume.c: the volume XML with a new `<name>`).
 * The calls are libvirt's own (src/util/virxml.c virXMLParseHelper, virXPathNodeSet,
 * virXMLNodeToString); libxml2's own complaints (a bad XPath) go to stderr as in virsh.
 */
import koffi from 'koffi';
import { LibvirtError } from '../../libvirt/errors.js';
import { ErrorNumber } from '../../libvirt/enums-errors.js';
import type { Ptr } from '../../libvirt/ffi.js';
import type { OptDef } from '../vsh/command-def.js';
import type { Ctl } from './ctl.js';

interface Libxml {
  xmlKeepBlanksDefault(v: number): number;
  xmlNewParserCtxt(): Ptr | null;
  xmlFreeParserCtxt(c: Ptr): void;
  xmlCtxtReadDoc(c: Ptr, text: string, url: string | null, encoding: null, options: number): Ptr | null;
  xmlFreeDoc(d: Ptr): void;
  xmlDocGetRootElement(d: Ptr): Ptr | null;
  xmlXPathNewContext(d: Ptr): Ptr | null;
  xmlXPathFreeContext(c: Ptr): void;
  xmlXPathEval(expr: string, c: Ptr): Ptr | null;
  xmlXPathFreeObject(o: Ptr): void;
  xmlBufferCreate(): Ptr | null;
  xmlBufferFree(b: Ptr): void;
  xmlBufferContent(b: Ptr): string | null;
  xmlNodeDump(b: Ptr, d: Ptr, n: Ptr, level: number, format: number): number;
  xmlNewDoc(version: string): Ptr | null;
  xmlNewNode(ns: null, name: string): Ptr | null;
  xmlDocSetRootElement(d: Ptr, n: Ptr): Ptr | null;
  xmlDocCopyNode(n: Ptr, d: Ptr, recursive: number): Ptr | null;
  xmlAddChild(parent: Ptr, child: Ptr): Ptr | null;
  xmlNodeSetContent(n: Ptr, content: string): void;
}

let cached: Libxml | undefined;
function xml(): Libxml {
  if (cached) return cached;
  const lib = koffi.load('libxml2.so.2');
  const protos: { [K in keyof Libxml]: string } = {
    xmlKeepBlanksDefault: 'int xmlKeepBlanksDefault(int v)',
    xmlNewParserCtxt: 'void *xmlNewParserCtxt(void)',
    xmlFreeParserCtxt: 'void xmlFreeParserCtxt(void *c)',
    xmlCtxtReadDoc: 'void *xmlCtxtReadDoc(void *c, const char *text, const char *url, const char *encoding, int options)',
    xmlFreeDoc: 'void xmlFreeDoc(void *d)',
    xmlDocGetRootElement: 'void *xmlDocGetRootElement(void *d)',
    xmlXPathNewContext: 'void *xmlXPathNewContext(void *d)',
    xmlXPathFreeContext: 'void xmlXPathFreeContext(void *c)',
    xmlXPathEval: 'void *xmlXPathEval(const char *expr, void *c)',
    xmlXPathFreeObject: 'void xmlXPathFreeObject(void *o)',
    xmlBufferCreate: 'void *xmlBufferCreate(void)',
    xmlBufferFree: 'void xmlBufferFree(void *b)',
    xmlBufferContent: 'const char *xmlBufferContent(void *b)',
    xmlNodeDump: 'int xmlNodeDump(void *b, void *d, void *n, int level, int format)',
    xmlNewDoc: 'void *xmlNewDoc(const char *version)',
    xmlNewNode: 'void *xmlNewNode(void *ns, const char *name)',
    xmlDocSetRootElement: 'void *xmlDocSetRootElement(void *d, void *n)',
    xmlDocCopyNode: 'void *xmlDocCopyNode(void *n, void *d, int recursive)',
    xmlAddChild: 'void *xmlAddChild(void *parent, void *child)',
    xmlNodeSetContent: 'void xmlNodeSetContent(void *n, const char *content)',
  };
  const out: Record<string, unknown> = {};
  for (const [name, proto] of Object.entries(protos)) out[name] = lib.func(proto);
  cached = out as unknown as Libxml;
  return cached;
}

const XML_PARSE_NONET = 1 << 11;
const XML_PARSE_NOWARNING = 1 << 6;
const XPATH_NODESET = 1;
// struct layouts (x86_64, libxml2 2.9): xmlDoc.children at 24, xmlXPathContext.node at 8,
// xmlXPathObject { int type; xmlNodeSetPtr nodesetval; … }, xmlNodeSet { int nodeNr, nodeMax; xmlNodePtr *nodeTab }
const DOC_CHILDREN = 24;
const CTXT_NODE = 8;

/** An error of libvirt's util code, raised in virsh's own process (not by a daemon). */
function utilError(code: keyof typeof ErrorNumber, message: string, call: string): LibvirtError {
  return new LibvirtError({ code: ErrorNumber[code], domain: 0, message, level: 2, str1: null, str2: null, str3: null, int1: 0, int2: 0 }, call);
}

interface Parsed { doc: Ptr; ctxt: Ptr }

/** virXMLParseStringCtxt: the document and an XPath context on its root; undefined (with lastError) if unparsable. */
function parse(ctl: Ctl, text: string, url: string): Parsed | undefined {
  const x = xml();
  const pctxt = x.xmlNewParserCtxt();
  if (!pctxt) throw new Error('xmlNewParserCtxt failed');
  let doc: Ptr | null;
  try {
    doc = x.xmlCtxtReadDoc(pctxt, text, url, null, XML_PARSE_NONET | XML_PARSE_NOWARNING);
  } finally {
    x.xmlFreeParserCtxt(pctxt);
  }
  const root = doc ? x.xmlDocGetRootElement(doc) : null;
  if (!doc || !root) {
    if (doc) x.xmlFreeDoc(doc);
    ctl.lastError = utilError('VIR_ERR_XML_ERROR', `XML error: failed to parse xml document '${url}'`, 'virXMLParseHelper');
    return undefined;
  }
  const ctxt = x.xmlXPathNewContext(doc);
  if (!ctxt) throw new Error('xmlXPathNewContext failed');
  koffi.encode(ctxt, CTXT_NODE, 'void *', root);
  return { doc, ctxt };
}

function release(p: Parsed): void {
  xml().xmlXPathFreeContext(p.ctxt);
  xml().xmlFreeDoc(p.doc);
}

/** virXPathNodeSet: the nodes `xpath` selects (still owned by `obj`), or -1 for a result that is no node set. */
function nodeSet(ctl: Ctl, xpath: string, ctxt: Ptr): { nodes: Ptr[]; obj: Ptr | null } | undefined {
  const obj = xml().xmlXPathEval(xpath, ctxt);
  if (!obj) return { nodes: [], obj: null };
  const type = koffi.decode(obj, 0, 'int') as number;
  if (type !== XPATH_NODESET) {
    xml().xmlXPathFreeObject(obj);
    ctl.lastError = utilError('VIR_ERR_INTERNAL_ERROR', `internal error: Incorrect xpath '${xpath}'`, 'virXPathNodeSet');
    return undefined;
  }
  const set = koffi.decode(obj, 8, 'void *') as Ptr | null;
  if (!set) return { nodes: [], obj };
  const n = koffi.decode(set, 0, 'int') as number;
  const tab = koffi.decode(set, 8, 'void *') as Ptr | null;
  const nodes = n > 0 && tab ? (koffi.decode(tab, koffi.array('void *', n)) as Ptr[]) : [];
  return { nodes, obj };
}

/** virXMLNodeToString: xmlNodeDump(level 0, format 1); null when it produced nothing. */
function nodeToString(doc: Ptr, node: Ptr): string | null {
  const x = xml();
  const buf = x.xmlBufferCreate();
  if (!buf) throw new Error('xmlBufferCreate failed');
  try {
    if (x.xmlNodeDump(buf, doc, node, 0, 1) === 0) return null;
    return x.xmlBufferContent(buf);
  } finally {
    x.xmlBufferFree(buf);
  }
}

/** `--xpath` and `--wrap` of the dumpxml commands */
export const xpathOpts: OptDef[] = [
  { name: 'xpath', type: 'string', requireName: true, help: 'xpath expression to filter the XML document' },
  { name: 'wrap', type: 'bool', help: 'wrap xpath results in an common root element' },
];

/** virshDumpXML: the document, or with `xpath` the nodes it selects (`wrap`: under one `<nodes>`). */
export function dumpXml(ctl: Ctl, text: string, url: string, xpath: string | undefined, wrap: boolean): boolean {
  if (xpath === undefined) {
    ctl.print(text);
    return true;
  }
  const x = xml();
  const old = x.xmlKeepBlanksDefault(0);
  let parsed: Parsed | undefined;
  try {
    parsed = parse(ctl, text, url);
  } finally {
    x.xmlKeepBlanksDefault(old);
  }
  if (!parsed) return false;
  try {
    const set = nodeSet(ctl, xpath, parsed.ctxt);
    if (!set) return false;
    try {
      if (!wrap) {
        for (const n of set.nodes) ctl.print(`${nodeToString(parsed.doc, n) ?? '(null)'}\n`);
        return true;
      }
      const newdoc = x.xmlNewDoc('1.0');
      const root = x.xmlNewNode(null, 'nodes');
      if (!newdoc || !root) throw new Error('xmlNewDoc failed');
      try {
        x.xmlDocSetRootElement(newdoc, root);
        for (const n of set.nodes) {
          const copy = x.xmlDocCopyNode(n, newdoc, 1);
          if (!copy || !x.xmlAddChild(root, copy)) return false;
        }
        ctl.print(`${nodeToString(parsed.doc, root) ?? '(null)'}\n`);
        return true;
      } finally {
        x.xmlFreeDoc(newdoc);
      }
    } finally {
      if (set.obj) x.xmlXPathFreeObject(set.obj);
    }
  } finally {
    release(parsed);
  }
}

/** virshMakeCloneXML: `orig` with /volume/name set to `name`, as libxml2 writes it back; undefined on failure. */
export function cloneVolumeXml(ctl: Ctl, orig: string, name: string): string | undefined {
  const parsed = parse(ctl, orig, '(volume_definition)');
  if (!parsed) return undefined;
  try {
    const set = nodeSet(ctl, '/volume/name', parsed.ctxt);
    try {
      const node = set?.nodes[0];
      if (!node) return undefined;
      xml().xmlNodeSetContent(node, name);
      const first = koffi.decode(parsed.doc, DOC_CHILDREN, 'void *') as Ptr | null;
      return first ? nodeToString(parsed.doc, first) ?? undefined : undefined;
    } finally {
      if (set?.obj) xml().xmlXPathFreeObject(set.obj);
    }
  } finally {
    release(parsed);
  }
}
