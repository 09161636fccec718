#!/usr/bin/python3
# Drives the real virt-manager as a user would, for
# virt-manager-shows-a-guest-under-xvfb.test.ts: run inside a D-Bus session (dbus-run-session) on
# an X display (Xvfb), in the mount namespace where plain qemu:///system reaches mpvirtd. It reads
# what virt-manager shows through the accessibility tree (AT-SPI, the way virt-manager's own UI
# tests look at it), clicks with the X server's XTEST (xdotool) and takes screenshots of the
# screen (ImageMagick's import). It checks nothing itself: it prints one JSON object of what it
# saw, and the test decides. A step that times out is recorded with what was on screen instead.
#
#   virt-manager-at-spi.py DOMAIN OUTDIR
#
# Steps: the manager window lists the domain; Open shows its window (graphical console); the
# console menu switches to the serial console; `virsh resume` lets the paused guest boot, so its
# whole serial output arrives in the console; back to the VNC console once the guest holds; the
# Details page lists its hardware. Screenshots: OUTDIR/{manager,serial,vnc,details}.png,
# OUTDIR/vnc-display.png (the VNC widget alone), OUTDIR/virsh-screenshot-{before,after}.png (the
# daemon's own screendump around that moment) and OUTDIR/manager-running.png.
import json
import os
import subprocess
import sys
import time

import pyatspi

DOMAIN, OUT = sys.argv[1], sys.argv[2]
LOG = os.path.join(OUT, 'virt-manager-debug.log')
result = {'steps': [], 'timeouts': []}
started = time.monotonic()


def note(step, **facts):
    facts['step'] = step
    facts['t'] = round(time.monotonic() - started, 1)
    result['steps'].append(facts)
    print(json.dumps(facts), file=sys.stderr, flush=True)


def children(a):
    try:
        n = a.childCount
    except Exception:
        return []
    out = []
    for i in range(n):
        try:
            c = a.getChildAtIndex(i)
        except Exception:
            c = None
        if c is not None:
            out.append(c)
    return out


def walk(a, depth=0, limit=40):
    yield a
    if depth < limit:
        for c in children(a):
            yield from walk(c, depth + 1, limit)


def role(a):
    try:
        return a.getRoleName()
    except Exception:
        return ''


def name(a):
    try:
        return a.name or ''
    except Exception:
        return ''


def text(a):
    try:
        t = a.queryText()
        return t.getText(0, t.characterCount)
    except Exception:
        return None


def showing(a):
    try:
        return a.getState().contains(pyatspi.STATE_SHOWING)
    except Exception:
        return False


def find(root, pred, only_showing=False):
    for a in walk(root):
        if pred(a) and (not only_showing or showing(a)):
            return a
    return None


def wait(what, fn, timeout=30.0, step=0.25):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            result['timeouts'].append(what)
            note('timeout', what=what)
            return None
        time.sleep(step)


def extents(a):
    e = a.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
    return {'x': e.x, 'y': e.y, 'width': e.width, 'height': e.height}


def screenshot(file, box=None):
    path = os.path.join(OUT, file)
    args = ['import', '-window', 'root']
    if box:
        args += ['-crop', '%dx%d+%d+%d' % (box['width'], box['height'], box['x'], box['y']), '+repage']
    subprocess.run(args + [path], check=True, timeout=30)
    return path


def click(a, times=1):
    e = extents(a)
    x, y = e['x'] + e['width'] // 2, e['y'] + e['height'] // 2
    subprocess.run(['xdotool', 'mousemove', str(x), str(y), 'click', '--repeat', str(times), '--delay', '80', '1'], check=True, timeout=10)


def do_action(a, wanted=('click', 'activate', 'press')):
    act = a.queryAction()
    for i in range(act.nActions):
        if act.getName(i) in wanted:
            act.doAction(i)
            return act.getName(i)
    raise RuntimeError('no %s action on %s %r' % (wanted, role(a), name(a)))


def app():
    desktop = pyatspi.Registry.getDesktop(0)
    return find(desktop, lambda a: role(a) == 'application' and name(a) == 'virt-manager')


def frame(title):
    a = app()
    if not a:
        return None
    return next((f for f in children(a) if role(f) == 'frame' and name(f) == title and showing(f)), None)


virt_manager = subprocess.Popen(['virt-manager', '--debug', '--no-fork', '--connect', 'qemu:///system'],
                                stdout=open(LOG, 'w'), stderr=subprocess.STDOUT)
note('virt-manager started', pid=virt_manager.pid)
try:
    # 1. the manager window: the connection and the domain in its list
    manager = wait('manager window', lambda: frame('Virtual Machine Manager'), 60)
    row = None
    if manager:
        def dom_cell():
            return find(manager, lambda a: role(a) == 'table cell' and name(a).split('\n')[0] == DOMAIN, True)
        row = wait('domain row', dom_cell, 30)
        cells = [name(a) for a in walk(manager) if role(a) == 'table cell' and name(a)]
        note('manager', cells=cells)
        screenshot('manager.png', extents(manager))

    # 2. Open: the domain's window, on its graphical console
    vmwin = None
    if row:
        click(row)
        open_button = find(manager, lambda a: role(a) == 'push button' and name(a) == 'Open', True)
        do_action(open_button)
        vmwin = wait('domain window', lambda: frame('%s on QEMU/KVM' % DOMAIN), 30)

    if vmwin:
        # 3. the serial console, through View > Consoles
        def console_item(label):
            return find(vmwin, lambda a: role(a) == 'radio menu item' and name(a) == label)
        serial_item = wait('Serial 1 menu item', lambda: console_item('Serial 1'), 20)
        items = [name(a) for a in walk(vmwin) if role(a) == 'radio menu item']
        note('console menu', items=items)
        terminal = None
        if serial_item:
            do_action(serial_item)
            terminal = wait('serial terminal', lambda: find(vmwin, lambda a: role(a) == 'terminal', True), 20)
        if terminal:
            # the guest was started paused: it boots now, with the console attached
            r = subprocess.run(['virsh', '-c', 'qemu:///system', 'resume', DOMAIN], capture_output=True, text=True, timeout=60)
            note('virsh resume', code=r.returncode, stdout=r.stdout, stderr=r.stderr)
            wait('E2E-HOLD on the serial console', lambda: 'E2E-HOLD' in (text(terminal) or ''), 120)
            note('serial console', text=text(terminal))
            screenshot('serial.png', extents(vmwin))

        # 4. back to the graphical console: the guest's VGA screen over VNC
        vnc_item = console_item('Graphical Console VNC')
        if vnc_item:
            do_action(vnc_item)
            # gtk-vnc's widget has no accessible name: it is the large drawing area showing
            def display():
                areas = [a for a in walk(vmwin) if role(a) == 'drawing area' and showing(a)]
                areas = [(extents(a), a) for a in areas]
                areas = [x for x in areas if x[0]['width'] > 100 and x[0]['height'] > 100]
                return max(areas, key=lambda x: x[0]['width'] * x[0]['height'])[0] if areas else None
            box = wait('VNC display widget', display, 20)
            time.sleep(3)  # a few framebuffer updates
            # the daemon's own screendump just before and just after ours: the guest's screen
            # may change between them (a late kernel line), not both times
            def virsh_screenshot(file):
                r = subprocess.run(['virsh', '-c', 'qemu:///system', 'screenshot', DOMAIN, os.path.join(OUT, file)],
                                   capture_output=True, text=True, timeout=60)
                note('virsh screenshot', file=file, code=r.returncode, stdout=r.stdout, stderr=r.stderr)
            virsh_screenshot('virsh-screenshot-before.png')
            screenshot('vnc.png', extents(vmwin))
            if box:
                screenshot('vnc-display.png', box)
            virsh_screenshot('virsh-screenshot-after.png')
            note('vnc', display=box, roles=sorted({role(a) for a in walk(vmwin) if showing(a)}))

        # 5. Details: the hardware list and the overview
        details_button = find(vmwin, lambda a: role(a) == 'radio button' and name(a) == 'Details', True)
        if details_button:
            do_action(details_button)
            hw = wait('hardware list', lambda: find(vmwin, lambda a: role(a) == 'table' and name(a) == 'hw-list', True), 20)
            time.sleep(1)
            hardware = [name(a) for a in walk(hw)] if hw else []
            hardware = [h for h in hardware if h and h != 'Hardware' and h != 'hw-list']
            labels = [text(a) or name(a) for a in walk(vmwin) if showing(a) and role(a) in ('label', 'text') and (text(a) or name(a))]
            note('details', hardware=hardware, labels=labels)
            screenshot('details.png', extents(vmwin))

    # 6. the manager again, the guest running
    if manager:
        cells = [name(a) for a in walk(manager) if role(a) == 'table cell' and name(a)]
        note('manager at the end', cells=cells)
        # no window manager: raise it over the domain's window by hand
        subprocess.run(['xdotool', 'search', '--name', '^Virtual Machine Manager$', 'windowraise'], timeout=10)
        time.sleep(1)
        screenshot('manager-running.png', extents(manager))
finally:
    alive = virt_manager.poll() is None
    result['virt-manager alive'] = alive
    virt_manager.terminate()
    try:
        virt_manager.wait(10)
    except subprocess.TimeoutExpired:
        virt_manager.kill()
    print(json.dumps(result))
