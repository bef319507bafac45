#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Installs everything needed to build and boot the Portal guests (Debian 12, apt only): the x86_64
# guest from the host's own packages, then the mipsel, aarch64 and armel guests' kits
# (setup-guest-kits.sh: downloaded and unpacked, not installed).
# Idempotent: exits quickly when every package is already installed.
# Usage: scripts/setup-guest.sh (as root, or a user with sudo)
set -euo pipefail

# squashfs-tools-ng (sqfs2tar), squashfs-tools and binwalk read firmware images (portal boot --rootfs).
PKGS=(qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static cpio
      build-essential xz-utils squashfs-tools squashfs-tools-ng binwalk)

. "$(dirname "$0")/apt-packages.sh"
ensure_packages setup-guest.sh "${PKGS[@]}"

# Which kernel each guest boots is Portal.Qemu's choice (GuestPrerequisites): `portal setup --check`
# reports it, and names anything still missing.
bash "$(dirname "$0")/setup-guest-kits.sh"
bash "$(dirname "$0")/setup-firmware-parts.sh"
