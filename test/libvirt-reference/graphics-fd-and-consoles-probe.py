#!/usr/bin/python3
# What virt-manager asks of a daemon for a local guest's consoles, through python3-libvirt:
# virDomainOpenGraphicsFD (a socket to the display, passed with the reply) and
# virDomainOpenConsole by device alias. Run against one URI; prints one JSON line per step
# (the result, or libvirt's error code and message), for graphics-fd-and-consoles-*.test.ts.
#   graphics-fd-and-consoles-probe.py URI DOMAIN
import json
import os
import socket
import sys

import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)  # errors come back as exceptions only
uri, name = sys.argv[1], sys.argv[2]
conn = libvirt.open(uri)
dom = conn.lookupByName(name)


def step(label, fn):
    try:
        out = {'step': label, 'ok': fn()}
    except libvirt.libvirtError as e:
        out = {'step': label, 'error': [e.get_error_code(), e.get_error_domain(), e.get_error_message()]}
    print(json.dumps(out), flush=True)


def rfb(fd):
    """The server's first RFB message on a passed fd, read as a VNC client would."""
    s = socket.socket(fileno=fd)
    try:
        s.settimeout(10)
        return s.recv(12).decode('latin1')
    finally:
        s.close()


def console(devname, flags=0):
    st = conn.newStream(0)
    dom.openConsole(devname, st, flags)
    return st


step('stopped: openGraphicsFD(0)', lambda: dom.openGraphicsFD(0, 0))
dom.create()
step('openGraphicsFD(0): the display greets', lambda: rfb(dom.openGraphicsFD(0, 0)))
step('openGraphicsFD(0, SKIPAUTH)', lambda: rfb(dom.openGraphicsFD(0, libvirt.VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH)))
step('openGraphicsFD(1)', lambda: dom.openGraphicsFD(1, 0))
step('two at once', lambda: [rfb(dom.openGraphicsFD(0, 0)) for _ in range(2)] and [rfb(fd) for fd in [dom.openGraphicsFD(0, 0), dom.openGraphicsFD(0, 0)]])
held = []
step("openConsole('serial0')", lambda: held.append(console('serial0')) or 0)
step("openConsole('serial0') again", lambda: console('serial0') and 0)
step("openConsole(None), the console on serial port 0", lambda: console(None) and 0)
step("openConsole('serial0', FORCE)", lambda: held.append(console('serial0', libvirt.VIR_DOMAIN_CONSOLE_FORCE)) or 0)
step("openConsole('serial9')", lambda: console('serial9') and 0)
for st in held:
    try:
        st.abort()
    except libvirt.libvirtError:
        pass

def open_graphics():
    a, b = socket.socketpair()
    try:
        dom.openGraphics(0, b.fileno(), 0)  # the client passes the fd (CALL_WITH_FDS)
        b.close()
        a.settimeout(10)
        return a.recv(12).decode('latin1')
    finally:
        a.close()
        b.close()


step('openGraphics(0, fd)', open_graphics)
step('still connected', lambda: dom.name())
dom.destroy()
conn.close()
