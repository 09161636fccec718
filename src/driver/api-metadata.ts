/**
 * The driver's metadata APIs (virDomainSetMetadata / virDomainGetMetadata):
 * which definition changes (libvirt's live/config rules), validation of our
 * own namespace through define's path, persistence and the metadata-change
 * event. The XML work itself is in metadata.ts.
 */
import { MpvirtError } from '../errors.js';
import { formatDomainXml } from '../domainxml/index.js';
import { MPQ_NS, type DomainDef } from '../domainxml/model.js';
import type { DomainObject } from './domain-object.js';
import type { DriverCore } from './core.js';
import { prepareDefinition } from './definition.js';
import { runJob } from './domain-job.js';
import { liveDefinition } from './api-definitions.js';
import { Affect, affected, persistentDef, savePersistentDef } from './affect.js';
import { writeStatus } from './stop.js';
import { getMetadataElement, MetadataType, parseMetadataElement, replaceMetadata, withText } from './metadata.js';

/** virDomainModificationImpact */

export interface SetMetadataRequest {
  /** virDomainMetadataType: 0 DESCRIPTION, 1 TITLE, 2 ELEMENT */
  type: number;
  /** the new text or element; null (or "" for the texts) removes */
  value: string | null;
  /** ELEMENT: the namespace prefix the element gets */
  key?: string | null;
  /** ELEMENT: the namespace URI */
  uri?: string | null;
  /** Affect bits */
  flags: number;
}


/** The public API's argument checks (virDomainSetMetadata / virDomainGetMetadata), which libvirt's daemon runs too. */
function checkMetadataArgs(api: string, type: number, uri: string | null, key: string | null | undefined, value?: string | null): void {
  if (!Number.isInteger(type) || type < 0 || type > MetadataType.ELEMENT) {
    throw new MpvirtError('VIR_ERR_INVALID_ARG', `unknown metadata type '${type}'`);
  }
  if (type === MetadataType.ELEMENT) {
    if (uri === null) throw new MpvirtError('VIR_ERR_INVALID_ARG', `uri in ${api} must not be NULL`);
    if (value !== undefined && value !== null && !key) throw new MpvirtError('VIR_ERR_INVALID_ARG', `key in ${api} must not be NULL`);
    return;
  }
  if (type === MetadataType.TITLE && value?.includes('\n')) {
    throw new MpvirtError('VIR_ERR_INVALID_ARG', "metadata title can't contain newlines");
  }
  if (uri !== null) throw new MpvirtError('VIR_ERR_INVALID_ARG', `uri in ${api} must be NULL`);
  if (key !== undefined && key !== null) throw new MpvirtError('VIR_ERR_INVALID_ARG', `key in ${api} must be NULL`);
}

/**
 * `virDomainSetMetadata`: title, description or a `<metadata>` element, on
 * the live and/or persistent definition (Affect flags). Our own namespace
 * goes through everything define checks and can only change the persistent
 * definition: remote process placement cannot change under a running
 * domain. Every definition is validated before anything changes; the
 * persistent one is saved atomically. Emits only the metadata-change event,
 * as libvirt does (no lifecycle event).
 */
export async function setDomainMetadata(core: DriverCore, obj: DomainObject, req: SetMetadataRequest): Promise<void> {
  const { type, value, flags } = req;
  const uri = req.uri ?? null;
  const extra = (flags & ~(Affect.LIVE | Affect.CONFIG)) >>> 0;
  if (extra !== 0) throw new MpvirtError('VIR_ERR_INVALID_ARG', `unsupported flags (0x${extra.toString(16)}) in function qemuDomainSetMetadata`);
  checkMetadataArgs('virDomainSetMetadata', type, uri, req.key, value);
  await runJob(core, obj, 'remoteDispatchDomainSetMetadata', async () => {
    const { live, config } = affected(obj, flags);
    const ours = type === MetadataType.ELEMENT && uri === MPQ_NS;
    if (ours && live) {
      throw new MpvirtError('VIR_ERR_OPERATION_INVALID',
        'the remote process placement of a running domain cannot change; use --config to change it for the next start');
    }
    const element = type === MetadataType.ELEMENT && value !== null ? parseMetadataElement(value, uri!, req.key!) : undefined;
    const change = async (def: DomainDef): Promise<DomainDef> => {
      if (type !== MetadataType.ELEMENT) return withText(def, type as 0 | 1, value);
      const next: DomainDef = { ...def, metadata: replaceMetadata(def, uri!, element) };
      // our element: parsed, placed and checked exactly as define would
      return ours ? prepareDefinition(core, formatDomainXml(next), false) : next;
    };
    const newLive = live ? await change(obj.liveDef ?? obj.def) : undefined;
    const newConfig = config ? await change(persistentDef(obj)) : undefined;
    if (newConfig) {
      await savePersistentDef(core, obj, newConfig);
    }
    if (newLive) {
      obj.liveDef = newLive;
      await writeStatus(core, obj);
    }
  });
  core.events.emit('metadata-change', { dom: obj.ref(), type, ...(uri === null ? {} : { nsuri: uri }) });
}

/** `virDomainGetMetadata`: one definition (CURRENT, LIVE or CONFIG), libvirt's error when the item is absent. */
export function getDomainMetadata(core: DriverCore, obj: DomainObject, type: number, uri: string | null, flags: number): string {
  const extra = (flags & ~(Affect.LIVE | Affect.CONFIG)) >>> 0;
  if (extra !== 0) throw new MpvirtError('VIR_ERR_INVALID_ARG', `unsupported flags (0x${extra.toString(16)}) in function virDomainObjGetMetadata`);
  checkMetadataArgs('virDomainGetMetadata', type, uri, undefined);
  if ((flags & Affect.LIVE) && (flags & Affect.CONFIG)) {
    throw new MpvirtError('VIR_ERR_INVALID_ARG', "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive");
  }
  const { live } = affected(obj, flags);
  // the live definition as dumpxml shows it: our element carries each remote's pid, state and monitor
  const def = live ? liveDefinition(obj) : persistentDef(obj);
  const found =
    type === MetadataType.DESCRIPTION ? def.description
    : type === MetadataType.TITLE ? def.title
    : getMetadataElement(def, uri!);
  if (found === undefined) throw new MpvirtError('VIR_ERR_NO_DOMAIN_METADATA', 'Requested metadata element is not present');
  return found;
}

