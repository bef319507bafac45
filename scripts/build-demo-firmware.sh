#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Builds Portal's demo firmware: a small router-like root filesystem as a squashfs image, made of
# Debian's real C library and dynamically linked busybox for ABI (downloaded by
# setup-firmware-parts.sh, unpacked here with dpkg -x) and the Archer C20's switch tool
# (guest/programs/mtk7530_switch.c, built for ABI against that C library). Its /etc/init.d/rcS brings
# up "the Ethernet switch" the way the seed's TP-Link firmware does: it prints swRegRead and retries
# until `mtk7530_switch table_del` says done., then prints "rcS: boot complete". Without a handler for
# the Ralink driver's ioctl the boot stalls there; with the RAEth plugin it completes.
# The image also has what a real firmware image carries and a user's own unpacking would lose: device
# nodes, a setuid program and a hard link (mksquashfs pseudo files and -all-root: no root needed).
# Usage: scripts/build-demo-firmware.sh ABI OUTPUT.sqfs   (ABI: x86_64, mipsel, aarch64, armel)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KITS=${PORTAL_GUEST_KITS:-/var/lib/portal/guests}
tag=build-demo-firmware.sh
[ $# -eq 2 ] || { echo "usage: $tag ABI OUTPUT.sqfs" >&2; exit 2; }
abi=$1 out=$2
case "$abi" in
x86_64) cc=gcc ;;
mipsel) cc=mipsel-linux-gnu-gcc ;;
aarch64) cc=aarch64-linux-gnu-gcc ;;
armel) cc=arm-linux-gnueabi-gcc ;;
*) echo "$tag: unknown ABI $abi (x86_64, mipsel, aarch64, armel)" >&2; exit 2 ;;
esac
parts="$KITS/firmware-parts/$abi"
if ! ls "$parts"/libc6_*.deb "$parts"/busybox_*.deb >/dev/null 2>&1; then
	echo "$tag: the $abi firmware parts are missing from $parts: run scripts/setup.sh" >&2
	exit 1
fi
for tool in dpkg mksquashfs "$cc"; do
	command -v "$tool" >/dev/null || { echo "$tag: $tool is missing: run scripts/setup.sh" >&2; exit 1; }
done

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
for deb in "$parts"/libc6_*.deb "$parts"/busybox_*.deb; do
	dpkg -x "$deb" "$root"
done
# What a router's flash has no room for: documentation and the iconv modules (20 MiB).
rm -rf "$root/usr/share" "$root"/usr/lib/*/gconv

mkdir -p "$root/sbin" "$root/usr/sbin" "$root/etc/init.d" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/var"
for applet in sh cat echo ls mount umount sleep ps grep mkdir ln rm cp mv kill dmesg uname stat readlink id true false; do
	ln -s busybox "$root/bin/$applet"
done
ln -s ../bin/busybox "$root/sbin/init"
"$cc" -O2 -Wall -o "$root/usr/sbin/mtk7530_switch" "$here/../guest/programs/mtk7530_switch.c"
chmod 4755 "$root/usr/sbin/mtk7530_switch"                          # setuid, as vendors ship their tools
ln "$root/usr/sbin/mtk7530_switch" "$root/usr/sbin/switch"           # a hard link (one inode, two names)

cat >"$root/etc/inittab" <<'TAB'
::sysinit:/etc/init.d/rcS
TAB
cat >"$root/etc/init.d/rcS" <<'RCS'
#!/bin/sh
echo "rcS: Portal demo firmware ($(uname -m)), bringing up the Ethernet switch"
tries=0
while :; do
	# The vendor's tool exits 0 either way: what it prints says whether the switch answered.
	out=$(mtk7530_switch table_del 2>&1)
	case "$out" in
	*done.*) echo "$out"; break ;;
	esac
	tries=$((tries + 1))
	echo "swRegRead: $out (try $tries), retrying"
	sleep 1
done
echo "rcS: boot complete"
RCS
chmod 0755 "$root/etc/init.d/rcS"
echo "portal-demo" >"$root/etc/hostname"

mkdir -p "$(dirname "$out")"
mksquashfs "$root" "$out.tmp" -noappend -quiet -all-root -no-progress \
	-p "/dev/console c 600 0 0 5 1" -p "/dev/null c 666 0 0 1 3" -p "/dev/ttyS0 c 660 0 0 4 64" \
	-p "/dev/gpio c 640 0 0 252 0" >/dev/null   # gpio: a vendor driver's node, which devtmpfs does not have
mv "$out.tmp" "$out"
echo "$tag: $abi demo firmware: $out ($(du -k "$out" | cut -f1) KiB)"
