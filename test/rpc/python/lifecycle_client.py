"""A python3-libvirt client driving mpvirtd (test/rpc/python-libvirt-manages-domains.test.ts).

Prints one JSON object per line; the test reads them. Argument 1: the URI;
argument 2: the path of a domain XML file to define.
"""
import json
import sys
import threading
import time

import libvirt

uri, xml_path = sys.argv[1], sys.argv[2]
out = lambda **kw: print(json.dumps(kw), flush=True)

libvirt.virEventRegisterDefaultImpl()
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()

conn = libvirt.open(uri)
out(step="open", type=conn.getType(), uri=conn.getURI(), alive=conn.isAlive())

events = []
cond = threading.Condition()


def on_lifecycle(_conn, dom, event, detail, _opaque):
    with cond:
        events.append([dom.name(), event, detail])
        cond.notify_all()


cb = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle, None)

with open(xml_path) as f:
    dom = conn.defineXML(f.read())
out(step="define", name=dom.name(), uuid=dom.UUIDString(), id=dom.ID(), active=dom.isActive(), persistent=dom.isPersistent())
dom.create()
dom = conn.lookupByName(dom.name())
out(step="create", id=dom.ID(), state=dom.state(), info=dom.info()[:4], ostype=dom.OSType())
out(step="xml", has_mpq="http://mpvirt.org/schemas/domain/mpqemu/1.0" in dom.XMLDesc(0), live_id=("id='%d'" % dom.ID()) in dom.XMLDesc(0))
out(step="list", names=sorted(d.name() for d in conn.listAllDomains(0)))
dom.destroy()
out(step="destroy", state=dom.state())
try:
    dom.destroy()
except libvirt.libvirtError as e:
    out(step="destroy-again", code=e.get_error_code(), domain=e.get_error_domain(), message=e.get_error_message())
dom.undefine()
try:
    conn.lookupByName(dom.name())
except libvirt.libvirtError as e:
    out(step="lookup-gone", code=e.get_error_code(), message=e.get_error_message())

deadline = time.time() + 10
with cond:
    while len(events) < 6 and time.time() < deadline:
        cond.wait(0.1)
out(step="events", events=events)
conn.domainEventDeregisterAny(cb)
conn.close()
out(step="done")
