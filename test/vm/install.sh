#!/usr/bin/env bash
# Prepares the stock-kernel VM used by test/vm/run.sh: apt packages, the kernel
# from kernel.env, and an initramfs (busybox + 9p/virtio modules), all cached in
# <repo>/.cache/vm/. Idempotent; a no-op when everything is already in place.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE="$ROOT/.cache/vm"
. "$HERE/kernel.env"

PKGS=(qemu-system-x86 busybox-static cpio kmod)
# Load order (dependencies first), as verified against modinfo below.
MODULES=(virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
         netfs fscache 9pnet 9pnet_virtio 9p virtio-rng)
# Changes to this script or kernel.env invalidate the cache.
STAMP="$KERNEL_PKG $(cat "${BASH_SOURCE[0]}" "$HERE/kernel.env" | md5sum | cut -c1-32)"

log() { echo "vm-install: $*" >&2; }
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo

missing=()
for p in "${PKGS[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
    log "apt-get update"
    $SUDO apt-get update -qq >&2
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
fi

[ -f "$CACHE/stamp" ] && [ "$(cat "$CACHE/stamp")" = "$STAMP" ] \
  && [ -f "$CACHE/vmlinuz" ] && [ -f "$CACHE/initrd.gz" ] && exit 0

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
# Another process may have finished the work while this one waited.
[ -f "$CACHE/stamp" ] && [ "$(cat "$CACHE/stamp")" = "$STAMP" ] && exit 0
rm -f "$CACHE/stamp"

KDIR="$CACHE/kernel"
if [ "$(cat "$KDIR/.pkg" 2>/dev/null)" != "$KERNEL_PKG" ]; then
  rm -rf "$KDIR" "$CACHE/dl"
  mkdir -p "$CACHE/dl"
  if ! apt-cache show "$KERNEL_PKG" >/dev/null 2>&1; then
    log "apt-get update"
    $SUDO apt-get update -qq >&2
  fi
  log "downloading $KERNEL_PKG"
  (cd "$CACHE/dl" && apt-get download -qq -o APT::Sandbox::User=root "$KERNEL_PKG" >&2)
  deb=$(ls "$CACHE"/dl/*.deb)
  log "unpacking $(basename "$deb")"
  dpkg -x "$deb" "$KDIR"
  rm -rf "$CACHE/dl"
  echo "$KERNEL_PKG" >"$KDIR/.pkg"
fi

kver=$(ls "$KDIR/lib/modules")
moddir="$KDIR/lib/modules/$kver"

log "building initramfs for $kver"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys,newroot,lib/modules}
cp /bin/busybox "$work/bin/busybox"
loaded=" "
for m in "${MODULES[@]}"; do
  ko=$(find "$moddir" -name "$m.ko" -print -quit)
  [ -n "$ko" ] || { log "module $m not found in $kver"; exit 1; }
  for dep in $(modinfo -F depends "$ko" | tr , ' '); do
    [[ "$loaded" == *" ${dep//-/_} "* ]] || { log "module $m needs $dep, which is not loaded before it"; exit 1; }
  done
  cp "$ko" "$work/lib/modules/"
  loaded+="${m//-/_} "
done
echo "${MODULES[*]}" >"$work/modules"

# init: mounts the host root (9p, read-only, cached: the VM is short-lived) and
# the out share, the kernel file systems, runs /run/vmout/job.sh chrooted in
# the host root, records its exit status and powers off.
cat >"$work/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
die() { echo "vm-init: $*" >&2; sync; poweroff -f; sleep 10; }
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules); do insmod /lib/modules/$m.ko || die "insmod $m"; done
R=/newroot
P9=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o $P9,ro,cache=loose hostroot $R || die "cannot mount the host root"
mkdir -p /vmout /keep
mount -t 9p -o $P9 vmout /vmout || die "cannot mount the out share"
# A caller's directory under the host /tmp or /run (a CI clone, say) stays
# visible: it is set aside before the guest's own tmpfs covers it.
[ -s /vmout/keep ] && mount --bind "$R$(cat /vmout/keep)" /keep
mount -t tmpfs -o mode=1777 tmp $R/tmp || die "tmpfs /tmp"
mount -t tmpfs -o mode=755 run $R/run || die "tmpfs /run"
if [ -s /vmout/keep ]; then
  mkdir -p "$R$(cat /vmout/keep)" && mount --move /keep "$R$(cat /vmout/keep)" || die "cannot keep $(cat /vmout/keep)"
fi
mkdir $R/run/vmout
mount --move /vmout $R/run/vmout || die "cannot move the out share"
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
# What udev adds on a real system: the kernel names an execveat script /dev/fd/N/NAME.
ln -s /proc/self/fd $R/dev/fd
mount -t tmpfs -o mode=1777 shm $R/dev/shm
mount -t securityfs securityfs $R/sys/kernel/security || die securityfs
mount -t bpf bpf $R/sys/fs/bpf || die bpffs
mount -t tracefs tracefs $R/sys/kernel/tracing || die tracefs
mount -t debugfs debugfs $R/sys/kernel/debug || echo "vm-init: no debugfs" >&2
CG=/sys/fs/cgroup
if ! mount -t cgroup2 cgroup2 $R$CG; then
  CG=/run/cgroup2; mkdir -p $R$CG
  mount -t cgroup2 cgroup2 $R$CG || die cgroup2
fi
ip link set lo up
O=$R/run/vmout
[ -f $O/job.sh ] || die "no job.sh in the out share"
chroot $R /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
  VIGIL_CGROUP_ROOT=$CG /bin/sh /run/vmout/job.sh </dev/null >>$O/output 2>&1
echo $? >$O/status
sync
poweroff -f
EOF
chmod +x "$work/init"
(cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) >"$CACHE/initrd.gz.tmp"
mv "$CACHE/initrd.gz.tmp" "$CACHE/initrd.gz"
cp "$KDIR/boot/vmlinuz-$kver" "$CACHE/vmlinuz.tmp"
mv "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
echo "$STAMP" >"$CACHE/stamp"
log "ready in $CACHE"
