#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Installs everything needed to build and boot the Portal guest (Debian 12, apt only).
# Idempotent: exits quickly when every package is already installed.
# Usage: sudo scripts/setup-guest.sh
set -euo pipefail

PKGS=(qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static cpio
      build-essential xz-utils)

if [ "$(id -u)" -ne 0 ]; then
	echo "setup-guest.sh: must be run as root (it installs packages with apt-get)." >&2
	echo "setup-guest.sh: try: sudo $0" >&2
	exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "setup-guest.sh: all packages already installed: ${PKGS[*]}"
else
	echo "setup-guest.sh: installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# apt-get update only when needed: no package lists yet, or the
	# install fails with the lists we have (e.g. they are stale)
	if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
		echo "setup-guest.sh: no package lists: apt-get update"
		apt-get update
	fi
	if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
		echo "setup-guest.sh: install failed with the current lists: apt-get update and retry"
		apt-get update
		apt-get install -y --no-install-recommends "${missing[@]}"
	fi
	echo "setup-guest.sh: installed: ${missing[*]}"
fi

# Report the guest kernel (newest Debian amd64 kernel with headers).
kver=$(ls /lib/modules 2>/dev/null | grep -- '-amd64$' | sort -V | while read -r v; do
	[ -e "/lib/modules/$v/build/Makefile" ] && echo "$v"; done | tail -1)
if [ -z "$kver" ]; then
	echo "setup-guest.sh: no guest kernel with headers found under /lib/modules" >&2
	exit 1
fi
echo "setup-guest.sh: guest kernel $kver (/boot/vmlinuz-$kver, headers /lib/modules/$kver/build)"
