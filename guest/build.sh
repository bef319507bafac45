#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Builds everything the Portal test guest needs into OUTDIR (never into the
# repository):
#   OUTDIR/vmlinux             uncompressed guest kernel (PVH boot, ~2 s)
#   OUTDIR/initramfs.cpio.gz   busybox + /init + portal.ko + guest programs
#                              + the virtio-serial modules of the agent's port
#   OUTDIR/module/portal.ko    OUTDIR/bin/<programs>
# usage: guest/build.sh [OUTDIR]        (default /tmp/portal-guest)
# env:   KVER=<guest kernel version>    (default: newest *-amd64 with headers)
#        EXTRA_BINS="file..."           more static programs for /usr/bin
# Needs root only for mknod /dev/console in the initramfs.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mkdir -p "${1:-/tmp/portal-guest}" && cd "${1:-/tmp/portal-guest}" && pwd)
if [ -z "${KVER:-}" ]; then
	KVER=$(ls /lib/modules 2>/dev/null | grep -- '-amd64$' | sort -V | while read -r v; do
		[ -e "/lib/modules/$v/build/Makefile" ] && echo "$v"; done | tail -1)
fi
[ -n "$KVER" ] || { echo "build.sh: no guest kernel headers; run scripts/setup-guest.sh" >&2; exit 1; }
VMLINUZ=/boot/vmlinuz-$KVER
echo "build.sh: guest kernel $KVER -> $OUT"

make -s -C "$HERE/module" KDIR="/lib/modules/$KVER/build" OUT="$OUT/module"
make -s -C "$HERE/programs" OUT="$OUT/bin"

# vmlinux: the bzImage payload is XZ; booting the ELF directly (PVH entry)
# skips ~3 s of decompression under TCG.
if [ ! -s "$OUT/vmlinux" ] || [ "$VMLINUZ" -nt "$OUT/vmlinux" ]; then
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$VMLINUZ" | head -1 | cut -d: -f1)
	tail -c +$((off + 1)) "$VMLINUZ" | xz -dcq > "$OUT/vmlinux.tmp" 2>/dev/null || true
	if [ "$(head -c 4 "$OUT/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
		mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
	else
		echo "build.sh: could not extract vmlinux; boot $VMLINUZ instead" >&2
		rm -f "$OUT/vmlinux.tmp"
	fi
fi

root="$OUT/rootfs"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,lib/modules,lib/portal}
cp /bin/busybox "$root/bin/busybox"
cp "$HERE/init" "$root/init"
chmod 755 "$root/init"
cp "$HERE/load-modules.sh" "$root/lib/portal/load-modules.sh"     # sourced by /init
cp "$OUT/module/portal.ko" "$root/lib/modules/portal.ko"
for p in portal-selftest ioctl_interaction mtk7530_switch portal-agent portal-bench; do
	cp "$OUT/bin/$p" "$root/usr/bin/$p"
done
for p in ${EXTRA_BINS:-}; do
	cp "$p" "$root/usr/bin/"
done

# The agent's channel: virtio_console on the virtio PCI transport, dependencies
# first (from modules.dep; the guest has no modprobe), signatures dropped
# (verifying one costs 10-90 ms under TCG, and portal.ko taints anyway).
moddir=/lib/modules/$KVER
mkdir -p "$root/lib/modules/virtio"
order=()
add_module() {
	local dep
	for dep in $(grep "^$1:" "$moddir/modules.dep" | cut -d: -f2); do
		add_module "$dep"
	done
	case " ${order[*]} " in *" $1 "*) ;; *) order+=("$1") ;; esac
}
for driver in virtio_pci virtio_console; do
	m=$(grep -oE "^[^:]*/$driver\.ko:" "$moddir/modules.dep" | tr -d :) || true
	if [ -n "$m" ]; then
		add_module "$m"
	elif ! grep -q "/$driver\.ko$" "$moddir/modules.builtin"; then
		echo "build.sh: $KVER has no $driver module" >&2
		exit 1
	fi
done
for m in "${order[@]}"; do
	f="$root/lib/modules/virtio/$(basename "$m")"
	cp "$moddir/$m" "$f"
	if [ "$(tail -c 28 "$f")" = "~Module signature appended~" ]; then
		set -- $(tail -c 32 "$f" | head -c 4 | od -An -tu1)
		truncate -s $(($(stat -c %s "$f") - 40 - ($1 << 24 | $2 << 16 | $3 << 8 | $4))) "$f"
	fi
	basename "$m"
done > "$root/lib/modules/virtio/load-order"
mknod "$root/dev/console" c 5 1 2>/dev/null ||
	echo "build.sh: warning: no /dev/console in the initramfs (not root)" >&2
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT/initramfs.cpio.gz"
echo "build.sh: $OUT/initramfs.cpio.gz ($(stat -c %s "$OUT/initramfs.cpio.gz") bytes), $OUT/vmlinux"
