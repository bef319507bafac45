#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Downloads the parts of Portal's demo firmware (scripts/build-demo-firmware.sh): Debian's C library and
# its dynamically linked busybox for each real guest's architecture, the userland a router firmware is
# made of. apt-get download only, into $KITS/firmware-parts/<abi>/: nothing foreign is installed.
# Idempotent: parts that are the current candidates are left alone.
# Usage: scripts/setup-firmware-parts.sh [abi...]   (default: x86_64 mipsel aarch64 armel)
set -euo pipefail
KITS=${PORTAL_GUEST_KITS:-/var/lib/portal/guests}
tag=setup-firmware-parts.sh
run=()
if [ "$(id -u)" -ne 0 ]; then
	run=(sudo)
fi

candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }'; }

# parts ABI DPKG_ARCH
parts() {
	local abi=$1 darch=$2 dir="$KITS/firmware-parts/$1"
	local stamp="libc6 $(candidate "libc6:$darch") busybox $(candidate "busybox:$darch")"
	if [ -f "$dir/parts.stamp" ] && grep -qxF "$stamp" "$dir/parts.stamp"; then
		echo "$tag: $abi firmware parts are current ($stamp): $dir"
		return 0
	fi
	local work
	work=$(mktemp -d)
	trap 'rm -rf "$work"' RETURN
	chmod 0777 "$work"      # apt-get download runs as _apt when it can
	(cd "$work" && apt-get download -q "libc6:$darch" "busybox:$darch")
	echo "$stamp" >"$work/parts.stamp"
	"${run[@]}" rm -rf "$dir.new"
	"${run[@]}" mkdir -p "$dir.new"
	"${run[@]}" cp "$work"/*.deb "$work/parts.stamp" "$dir.new/"
	"${run[@]}" rm -rf "$dir"
	"${run[@]}" mv "$dir.new" "$dir"
	echo "$tag: $abi firmware parts ready ($stamp): $dir"
}

abis=("$@")
[ ${#abis[@]} -gt 0 ] || abis=(x86_64 mipsel aarch64 armel)
for abi in "${abis[@]}"; do
	case "$abi" in
	x86_64) parts x86_64 amd64 ;;
	mipsel) parts mipsel mipsel ;;
	aarch64) parts aarch64 arm64 ;;
	armel) parts armel armel ;;
	*) echo "$tag: unknown ABI $abi (x86_64, mipsel, aarch64, armel)" >&2; exit 2 ;;
	esac
done
