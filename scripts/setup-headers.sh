#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Installs what portal-headers and its tests need (Debian 12, apt only):
#   - libclang (libclang1-14) and its builtin headers (libclang-common-14-dev), clang-14;
#   - each target ABI's libc and Linux headers (the cross sysroots under /usr/<triple>/include; the Linux
#     ones, asm/unistd.h and asm/errno.h, are what `portal-headers abi-tables` evaluates);
#   - for the layout truth tests: the cross gcc of each 32/64-bit target and qemu-user-static,
#     which build and run small programs that print records' bytes.
# Idempotent: exits quickly when every package is already installed.
# Usage: scripts/setup-headers.sh (as root, or a user with sudo)
set -euo pipefail

PKGS=(libclang1-14 libclang-common-14-dev clang-14
      libc6-dev linux-libc-dev
      libc6-dev-i386-cross libc6-dev-mipsel-cross libc6-dev-mips-cross
      libc6-dev-armel-cross libc6-dev-arm64-cross
      linux-libc-dev-i386-cross linux-libc-dev-mipsel-cross linux-libc-dev-mips-cross
      linux-libc-dev-armel-cross linux-libc-dev-arm64-cross
      gcc gcc-i686-linux-gnu gcc-mipsel-linux-gnu gcc-mips-linux-gnu
      gcc-arm-linux-gnueabi gcc-aarch64-linux-gnu qemu-user-static)

. "$(dirname "$0")/apt-packages.sh"
ensure_packages setup-headers.sh "${PKGS[@]}"
