/**
 * TCP ports for VNC and SPICE displays with autoport, reserved the way libvirt's
 * virPortAllocator does (remote_display_port_min/max: 5900-65535): the lowest port that no
 * domain of this daemon holds and that nothing on the host is bound to. The reservation is
 * written into the live definition before the argv is built, so QEMU listens exactly there and
 * the live XML (`virsh vncdisplay`, `domdisplay`) says where. A daemon restart re-adopts the
 * ports of the domains it reattaches.
 */
import { createServer } from 'node:net';
import type { DomainDef, GraphicsDef } from '../domainxml/model.js';
import { makeElement, type XElement } from '../domainxml/xmltree.js';
import { displaySocketPath } from '../emulator/display-argv.js';
import { MpvirtError } from '../errors.js';

export const DISPLAY_PORT_MIN = 5900;
export const DISPLAY_PORT_MAX = 65535;
/** Where a display listens when the definition names no address (libvirt's vnc_listen/spice_listen). */
export const DEFAULT_DISPLAY_LISTEN = '127.0.0.1';

/** Whether nothing on the host holds the port (libvirt binds the wildcard address to find out). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '0.0.0.0', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export class DisplayPorts {
  private readonly held = new Map<number, string>();

  constructor(private readonly min = DISPLAY_PORT_MIN, private readonly max = DISPLAY_PORT_MAX) {}

  /** The lowest free port, now held by `owner` until {@link release}. */
  async reserve(owner: string): Promise<number> {
    for (let port = this.min; port <= this.max; port++) {
      if (this.held.has(port)) continue;
      this.held.set(port, owner); // held across the probe, so parallel starts never pick alike
      if (await portIsFree(port)) return port;
      this.held.delete(port);
    }
    throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `Unable to find an unused port in range 'display' (${this.min}-${this.max})`);
  }

  /** Ports of a reattached domain's live definition, held again. */
  adopt(owner: string, ports: readonly number[]): void {
    for (const p of ports) this.held.set(p, owner);
  }

  release(owner: string): void {
    for (const [port, o] of this.held) if (o === owner) this.held.delete(port);
  }
}

/** The TCP ports a live definition's displays listen on. */
export function displayPortsOf(def: DomainDef): number[] {
  return def.devices.filter((d): d is GraphicsDef => d.kind === 'graphics' && d.port !== undefined && d.port > 0).map((g) => g.port!);
}

const isListen = (c: XElement): boolean => c.ns === null && c.local === 'listen';

/** The first listen completed as libvirt shows it running: its address, also as `listen=`. */
function withListenAddress(g: GraphicsDef): GraphicsDef {
  const listens = g.extra.children.filter(isListen);
  const first = listens[0];
  const type = first?.attrs.find((a) => a.name === 'type')?.value ?? 'address';
  if (type !== 'address') return g;
  const address = first?.attrs.find((a) => a.name === 'address')?.value ?? g.listen ?? DEFAULT_DISPLAY_LISTEN;
  const listen = makeElement('listen', [['type', 'address'], ['address', address]]);
  const others = g.extra.children.filter((c) => c !== first);
  return { ...g, listen: address, extra: { attrs: g.extra.attrs, children: [listen, ...others] } };
}

/**
 * A socket listen without a path gets the daemon's (displaySocketPath, in the runtime dir), shown
 * as libvirt shows it running: on the listen, and for VNC also as the display's `socket=`.
 */
function withSocketPath(g: GraphicsDef, runDir: string): GraphicsDef {
  const first = g.extra.children.find(isListen);
  if (!first || first.attrs.find((a) => a.name === 'type')?.value !== 'socket') return g;
  const path = first.attrs.find((a) => a.name === 'socket')?.value ?? displaySocketPath(runDir, g.type);
  const listen = makeElement('listen', [['type', 'socket'], ['socket', path]]);
  const attrs = g.type === 'vnc' ? [...g.extra.attrs.filter((a) => a.name !== 'socket'), { name: 'socket', ns: null, value: path }] : g.extra.attrs;
  return { ...g, extra: { attrs, children: g.extra.children.map((c) => (c === first ? listen : c)) } };
}

/**
 * The live definition with every TCP display's port fixed: autoport displays get a reserved
 * port, and every display's listen address is written out. Ports already set stay.
 */
export async function withDisplayPorts(def: DomainDef, ports: DisplayPorts, owner: string, runDir: string): Promise<DomainDef> {
  const devices = [];
  for (const d of def.devices) {
    if (d.kind !== 'graphics' || (d.type !== 'vnc' && d.type !== 'spice')) {
      devices.push(d);
      continue;
    }
    let g = withSocketPath(withListenAddress(d), runDir);
    const tcp = g.listen !== undefined;
    if (tcp && (g.autoport === 'yes' || g.port === undefined || g.port === -1) && !(d.type === 'spice' && g.autoport !== 'yes')) {
      g = { ...g, port: await ports.reserve(owner), autoport: 'yes' };
    }
    devices.push(g);
  }
  return { ...def, devices };
}
