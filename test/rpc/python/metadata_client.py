"""python3-libvirt's setMetadata()/metadata() against mpvirtd
(test/rpc/metadata-desc-and-title-round-trip-through-virsh.test.ts).

Prints one JSON object per line; the test reads them. Argument 1: the URI;
argument 2: the name of a defined, shut-off domain.
"""
import json
import sys
import threading
import time

import libvirt

uri, name = sys.argv[1], sys.argv[2]
out = lambda **kw: print(json.dumps(kw), flush=True)
MPQ = "http://mpvirt.org/schemas/domain/mpqemu/1.0"
APP = "http://example.org/app/1"
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # no default stderr lines

libvirt.virEventRegisterDefaultImpl()
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()

conn = libvirt.open(uri)
dom = conn.lookupByName(name)
events = []
cond = threading.Condition()


def on_metadata(_conn, d, mtype, nsuri, _opaque):
    with cond:
        events.append([d.name(), mtype, nsuri])
        cond.notify_all()


cb = conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, on_metadata, None)


def error(step, fn):
    try:
        fn()
        out(step=step, error=None)
    except libvirt.libvirtError as e:
        out(step=step, code=e.get_error_code(), domain=e.get_error_domain(), message=e.get_error_message())


D, T, E = libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, libvirt.VIR_DOMAIN_METADATA_TITLE, libvirt.VIR_DOMAIN_METADATA_ELEMENT
CONFIG = libvirt.VIR_DOMAIN_AFFECT_CONFIG

dom.setMetadata(D, "from python", None, None, 0)
dom.setMetadata(T, "py title", None, None, CONFIG)
out(step="texts", desc=dom.metadata(D, None, 0), title=dom.metadata(T, None, CONFIG))

dom.setMetadata(E, "<app><v>1</v></app>", "app", APP, 0)
out(step="element", get=dom.metadata(E, APP, 0), in_xml=('<app:app xmlns:app="%s">' % APP) in dom.XMLDesc(0))
error("missing", lambda: dom.metadata(E, "http://nowhere.example/", 0))
dom.setMetadata(E, None, None, APP, 0)
error("removed", lambda: dom.metadata(E, APP, 0))

before = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
error("bad-placement", lambda: dom.setMetadata(E, '<remote><process rid="x"><device alias="ua-none"/></process></remote>', "mpq", MPQ, 0))
out(step="unchanged", same=dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == before)
error("title-newline", lambda: dom.setMetadata(T, "a\nb", None, None, 0))
error("live-while-off", lambda: dom.setMetadata(D, "x", None, None, libvirt.VIR_DOMAIN_AFFECT_LIVE))

deadline = time.time() + 10
with cond:
    while len(events) < 4 and time.time() < deadline:
        cond.wait(0.1)
time.sleep(0.2)  # a fifth event would be a bug: give it the chance to arrive
with cond:
    out(step="events", events=list(events))
conn.domainEventDeregisterAny(cb)
conn.close()
out(step="done")
