#!/bin/busybox sh
# /demo-init: the init of `npm run demo`'s guest (scripts/demo.mjs). It is added to the test
# guest's initramfs (test/fixtures/guest: busybox, the SCSI modules, /modules.list) as a second
# cpio archive and run with rdinit=/demo-init, so the tests' own init.sh stays as it is.
#
# It follows the demo's story and reports each step on the serial console as one line starting
# with E2E- (the host waits for these lines):
#   1. reads the host's marker at sector 2048 of /dev/sda and writes its answer at sector 4096;
#   2. waits for a hot-plugged /dev/sdb (SCSI rescans: the LSI bus does not announce new disks)
#      and reads the host's marker on it;
#   3. rides out a crash of the remote QEMU process that serves both disks: they vanish when the
#      daemon unplugs the dead controller and come back when it plugs in the restarted one; then
#      it reads both again and writes its answer on /dev/sdb at sector 4096;
#   4. waits for the ACPI power button (virsh shutdown) and powers off.
# Any failure prints "E2E-FAIL: <reason>" and powers off. e2e.timeout=S (default 90) bounds the
# whole run, so a stuck step never leaves the guest running.

/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
PATH=/bin
export PATH
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

TIMEOUT=90
for p in $(cat /proc/cmdline); do
	case "$p" in
	e2e.timeout=*) TIMEOUT=${p#e2e.timeout=} ;;
	esac
done
case "$TIMEOUT" in
'' | *[!0-9]*) TIMEOUT=90 ;;
esac

off() {
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
	sync
	poweroff -f
	exit 1 # poweroff -f does not return; if it did, the kernel panics and QEMU exits (panic=-1)
}

fail() {
	echo "E2E-FAIL: $*"
	off
}

uptime_cs() { # centiseconds since boot (/proc/uptime has two decimals)
	read -r up _ </proc/uptime
	echo "${up%%.*}${up#*.}"
}

DEADLINE=$(($(uptime_cs) + TIMEOUT * 100))
expired() {
	[ "$(uptime_cs)" -ge "$DEADLINE" ]
}

# catches a step that blocks inside the kernel, where the loops below cannot check the deadline
(
	sleep $((TIMEOUT + 2))
	echo "E2E-FAIL: timeout after ${TIMEOUT}s"
	sync
	poweroff -f
) &
WATCHDOG=$!

rescan() { # ask every SCSI host to scan all its targets
	for s in /sys/class/scsi_host/host*/scan; do
		[ -e "$s" ] && echo '- - -' >"$s"
	done
}

wait_disk() { # device [rescan]
	while [ ! -b "$1" ]; do
		expired && fail "no $1 after ${TIMEOUT}s"
		[ -n "$2" ] && rescan
		usleep 100000
	done
}

read_marker() { # device sector: the first line of that sector, NULs stripped
	dd if="$1" bs=512 skip="$2" count=1 iflag=direct 2>/dev/null | tr -d '\000' | head -n 1
}

write_line() { # device sector text: one padded sector, written through to the disk
	printf '%s\n' "$3" | dd of="$1" bs=512 seek="$2" count=1 conv=sync oflag=direct 2>/dev/null || fail "write to sector $2 of $1"
	sync
	blockdev --flushbufs "$1" || fail "flush $1"
}

echo "E2E-INIT mode=demo kernel=$(uname -r)"
while read -r name params; do
	[ -n "$name" ] || continue
	# $params is split on purpose: "settle=0" is an argument of its own
	# shellcheck disable=SC2086
	insmod "/lib/modules/$name.ko" $params || fail "insmod $name"
done </modules.list
# the ACPI power button's input device, for step 4
insmod /lib/modules/button.ko || fail "insmod button"
insmod /lib/modules/evdev.ko || fail "insmod evdev"
echo "E2E-MODULES-LOADED"

# 1. the disk the guest booted with
wait_disk /dev/sda
echo "E2E-DISK sda size_sectors=$(cat /sys/block/sda/size)"
M=$(read_marker /dev/sda 2048)
[ -n "$M" ] || fail "no marker at sector 2048 of /dev/sda"
echo "E2E-READ: $M"
write_line /dev/sda 4096 "E2E-GUEST-WROTE:$M"
echo "E2E-WRITTEN sda sector=4096"

# 2. a disk hot-plugged into the running remote process
echo "E2E-HOTPLUG-WAIT"
wait_disk /dev/sdb rescan
echo "E2E-HOTPLUG-DISK sdb size_sectors=$(cat /sys/block/sdb/size)"
H=$(read_marker /dev/sdb 2048)
[ -n "$H" ] || fail "no marker at sector 2048 of /dev/sdb"
echo "E2E-HOTPLUG-READ: $H"

# 3. the remote process is killed and restarted: watch presence only (no I/O), so that nothing
# is in flight when the host kills it
echo "E2E-REPLUG-WAIT"
while [ -b /dev/sda ]; do
	expired && fail "/dev/sda never went away"
	usleep 20000
done
echo "E2E-REPLUG-GONE $(uptime_cs)"
wait_disk /dev/sda
echo "E2E-REPLUG-READ sda $(uptime_cs): $(read_marker /dev/sda 2048)"
wait_disk /dev/sdb rescan
H2=$(read_marker /dev/sdb 2048)
echo "E2E-REPLUG-READ sdb $(uptime_cs): $H2"
write_line /dev/sdb 4096 "E2E-GUEST-WROTE-AFTER-RESTART:$H2"
echo "E2E-WRITTEN sdb sector=4096"

# 4. the power button (QMP system_powerdown, which virsh shutdown sends)
EV=
while [ -z "$EV" ]; do
	for n in /sys/class/input/event*/device/name; do
		[ -e "$n" ] && [ "$(cat "$n")" = "Power Button" ] && EV=${n#/sys/class/input/} && EV=${EV%%/*} && break
	done
	[ -n "$EV" ] && break
	expired && fail "no Power Button input device after ${TIMEOUT}s"
	usleep 100000
done
while [ ! -c "/dev/input/$EV" ]; do
	expired && fail "no /dev/input/$EV after ${TIMEOUT}s"
	usleep 100000
done
# open first, then announce: a press after the announcement is queued for this reader
exec 3<"/dev/input/$EV" || fail "open /dev/input/$EV"
echo "E2E-ACPI-WAIT event=$EV"
# one struct input_event (24 bytes on x86_64): the key press
dd bs=24 count=1 <&3 >/dev/null 2>&1 || fail "read /dev/input/$EV"
echo "E2E-ACPI-POWER"
off
