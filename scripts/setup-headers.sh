#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Installs what portal-headers and its tests need (Debian 12, apt only):
#   - libclang (libclang1-14) and its builtin headers (libclang-common-14-dev), clang-14;
#   - each target ABI's libc headers (the cross sysroots under /usr/<triple>/include);
#   - for the layout truth tests: the cross gcc of each 32/64-bit target and qemu-user-static,
#     which build and run small programs that print records' bytes.
# Idempotent: exits quickly when every package is already installed.
# Usage: sudo scripts/setup-headers.sh
set -euo pipefail

PKGS=(libclang1-14 libclang-common-14-dev clang-14
      libc6-dev linux-libc-dev
      libc6-dev-i386-cross libc6-dev-mipsel-cross libc6-dev-mips-cross
      libc6-dev-armel-cross libc6-dev-arm64-cross
      gcc gcc-i686-linux-gnu gcc-mipsel-linux-gnu gcc-mips-linux-gnu
      gcc-arm-linux-gnueabi gcc-aarch64-linux-gnu qemu-user-static)

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "setup-headers.sh: all packages already installed: ${PKGS[*]}"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "setup-headers.sh: missing packages: ${missing[*]}" >&2
	echo "setup-headers.sh: must be run as root to install them (it uses apt-get)." >&2
	echo "setup-headers.sh: try: sudo $0" >&2
	exit 1
fi

echo "setup-headers.sh: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# apt-get update only when needed: no package lists yet, or the
# install fails with the lists we have (e.g. they are stale)
if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
	echo "setup-headers.sh: no package lists: apt-get update"
	apt-get update
fi
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
	echo "setup-headers.sh: install failed with the current lists: apt-get update and retry"
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
fi
echo "setup-headers.sh: installed: ${missing[*]}"
