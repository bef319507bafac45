#!/bin/bash
# Installs everything Portal's tests and tools need on Debian 12 (apt only, idempotent, root):
# the real guests (QEMU, Debian's amd64 kernel and headers, busybox...; the mipsel, aarch64 and armel
# guests' kernels, headers and busybox, downloaded and unpacked) and the header toolchain
# (libclang, the cross sysroots, and the cross compilers the layout-truth tests check against).
# Usage: scripts/setup.sh (as root, or a user with sudo: it asks only when something is missing)
set -euo pipefail
# Through bash: packages (the portal tool) do not keep the executable bit.
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/setup-guest.sh"
bash "$here/setup-headers.sh"
