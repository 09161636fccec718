#!/bin/bash
# A host without libvirt's daemon, for the drop-in mode tests, without touching the real one: run
# as `unshare -m --propagation private drop-in-namespace.sh RUNDIR SBIN CONF -- COMMAND...`, it
# binds RUNDIR (empty) over /run/libvirt, CONF over /etc/libvirt/libvirt.conf (the client's
# remote_mode) and, with SBIN=hide, a non-executable empty file over libvirt's daemon binaries
# (SBIN=keep leaves them; SBIN=DIR binds DIR over /usr/sbin), then execs COMMAND in it. The
# mounts live only in this private mount namespace and vanish with its last process.
set -euo pipefail
run=$1 sbin=$2 conf=$3
shift 3
[ "${1:-}" = -- ] && shift

mount --make-rprivate /
# the mount point itself is on the host (libvirt's packages create it too); it stays empty there
mkdir -p -m 0755 /run/libvirt
mount --bind "$run" /run/libvirt
mount --bind "$conf" /etc/libvirt/libvirt.conf
case $sbin in
  keep) ;;
  hide)
    blank=$run/../blank
    : >"$blank"
    chmod 0644 "$blank"
    for b in /usr/sbin/libvirtd /usr/sbin/virtqemud; do
      if [ -e "$b" ]; then mount --bind "$blank" "$b"; fi
    done
    ;;
  *) mount --bind "$sbin" /usr/sbin ;;
esac
exec "$@"
