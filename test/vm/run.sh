#!/usr/bin/env bash
# Runs a command as root in a qemu guest booting Debian's stock kernel (see
# kernel.env), with the host root file system shared read-only over 9p.
#
#   test/vm/run.sh 'shell script'          one argument: run with sh -c
#   test/vm/run.sh cmd arg...              several: run as that argv (quoted)
#
# The guest runs in the caller's working directory. Everything on the host is
# visible read-only, except /tmp, /run, /proc, /sys and /dev, which the guest
# replaces with its own (so the command must not write into the repo, and
# paths under the host /tmp are not visible, except the caller's working
# directory, which is kept read-only at its path). Writable in the guest: /tmp,
# /run and $VIGIL_VM_OUT (= /run/vmout), the host out dir: files written there
# come back to the host. HOME=/root is read-only.
# Guest environment: HOME, PATH, VIGIL_KERNEL=stock-6.1, VIGIL_VM_OUT,
# VIGIL_CGROUP_ROOT (the cgroup2 mount), plus the caller's VIGIL_* and CI.
# Mounted: proc, sysfs, devtmpfs, devpts, securityfs, bpffs, tracefs, debugfs,
# cgroup2.
#
# Output: the command's stdout+stderr is streamed live to stdout as the guest
# writes it (tail -f of the out file; nothing is printed again at the end).
# Exit status: the command's, or 125 when the VM fails to boot or run the
# command, or times out (VIGIL_VM_TIMEOUT seconds, default 900); then the
# last 40 lines of the kernel console go to stderr.
# VIGIL_VM_OUTDIR=<dir>: use and keep this host out dir (console.log,
# qemu.log, output, status, and whatever the command wrote to $VIGIL_VM_OUT);
# otherwise a temporary one is used and removed, unless the VM failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=$(cd "$HERE/../.." && pwd)/.cache/vm
TIMEOUT=${VIGIL_VM_TIMEOUT:-900}
[ $# -gt 0 ] || { echo "usage: $0 <command...>" >&2; exit 2; }

bash "$HERE/install.sh"

if [ -n "${VIGIL_VM_OUTDIR:-}" ]; then
  OUT=$(mkdir -p "$VIGIL_VM_OUTDIR" && cd "$VIGIL_VM_OUTDIR" && pwd); keep=1
  rm -f "$OUT"/{job.sh,output,status,started,console.log,qemu.log}
else
  OUT=$(mktemp -d "${TMPDIR:-/tmp}/vigil-vm.XXXXXX"); keep=0
fi

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
if [ $# -eq 1 ]; then cmd=$1; else cmd=; for a; do cmd+="$(q "$a") "; done; fi
{
  while IFS= read -r n; do
    case $n in
      VIGIL_KERNEL | VIGIL_VM_OUT | VIGIL_CGROUP_ROOT) ;;
      VIGIL_* | CI) echo "export $n=$(q "${!n}")" ;;
    esac
  done < <(compgen -e)
  echo "export VIGIL_KERNEL=stock-6.1 VIGIL_VM_OUT=/run/vmout"
  echo "cd $(q "$PWD") || exit 125"
  echo ": >/run/vmout/started"
  echo "exec /bin/sh -c $(q "$cmd")"
} >"$OUT/job.sh"
case $PWD/ in /tmp/* | /run/*) echo "$PWD" >"$OUT/keep" ;; *) rm -f "$OUT/keep" ;; esac
: >"$OUT/output"

qpid= tpid=
cleanup() {
  [ -z "$qpid" ] || kill "$qpid" 2>/dev/null || true
  [ -z "$tpid" ] || kill "$tpid" 2>/dev/null || true
}
trap 'cleanup; exit 130' INT TERM

t0=$(date +%s.%N)
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 -accel tcg -m 2048 -smp 1 \
  -nodefaults -display none -no-reboot \
  -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.gz" \
  -append "console=ttyS0 panic=-1 lsm=lockdown,capability,landlock,bpf" \
  -serial "file:$OUT/console.log" -device virtio-rng-pci \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$OUT,mount_tag=vmout,security_model=none" \
  >"$OUT/qemu.log" 2>&1 &
qpid=$!
# tail exits once qemu (via timeout) has exited, after a last read of the file.
tail -s 0.1 -c +1 -f --pid="$qpid" "$OUT/output" &
tpid=$!
rc=0; wait "$qpid" || rc=$?
wait "$tpid" || true
qpid= tpid=
t1=$(date +%s.%N)

status=$(cat "$OUT/status" 2>/dev/null || true)
if ! [[ "$status" =~ ^[0-9]+$ ]]; then
  if [ "$rc" = 124 ]; then why="timed out after ${TIMEOUT}s"
  else why="stopped before the command finished (qemu exit status $rc)"; fi
  {
    echo "vm: $why; out dir $OUT"
    tail -n 5 "$OUT/qemu.log" | sed 's/^/vm: /'
    echo "vm: last 40 lines of the kernel console:"
    tail -n 40 "$OUT/console.log" 2>/dev/null || true
  } >&2
  exit 125
fi

if [ -f "$OUT/started" ]; then
  awk -v t0="$t0" -v t1="$t1" -v ts="$(stat -c %.3Y "$OUT/started")" -v st="$status" \
    'BEGIN { printf "vm: booted in %.1fs, exit status %d, total %.1fs\n", ts - t0, st, t1 - t0 }' >&2
fi
[ "$keep" = 1 ] || rm -rf "$OUT"
exit "$status"
