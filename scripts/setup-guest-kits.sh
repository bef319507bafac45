#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prepares the foreign real guests (mipsel, aarch64, armel): for each, a "kit" with Debian's kernel,
# its headers (to build portal.ko), its module tree (the agent's virtio drivers) and a static busybox,
# downloaded with apt-get download and unpacked with dpkg -x under $KITS/<abi>: nothing foreign is
# installed on the host. Also installs QEMU for MIPS and ARM and the cross compilers (apt).
#
#   abi      kernel package (dpkg arch)      busybox      QEMU
#   mipsel   linux-image-4kc-malta (mipsel)  mipsel       qemu-system-mipsel -M malta
#   aarch64  linux-image-arm64 (arm64)       arm64        qemu-system-aarch64 -M virt
#   armel    linux-image-armmp (armhf)       armel        qemu-system-arm -M virt   (an armhf kernel runs armel EABI programs)
#
# Idempotent: a kit whose packages are the current candidates is left alone (no download). It adds a
# foreign dpkg architecture (and runs apt-get update) only when one is missing, and says so.
# Usage: scripts/setup-guest-kits.sh [abi...]   (as root, or a user with sudo; default: all three)
# KITS defaults to /var/lib/portal/guests (QemuGuest reads PORTAL_GUEST_KITS, else that path).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/apt-packages.sh"
KITS=${PORTAL_GUEST_KITS:-/var/lib/portal/guests}
tag=setup-guest-kits.sh

ensure_packages "$tag" qemu-system-mips qemu-system-arm kmod dpkg-dev xz-utils cpio \
	gcc-mipsel-linux-gnu gcc-aarch64-linux-gnu gcc-arm-linux-gnueabi \
	libc6-dev-mipsel-cross libc6-dev-arm64-cross libc6-dev-armel-cross

run=()
if [ "$(id -u)" -ne 0 ]; then
	run=(sudo)
fi

# The dpkg architectures the kits download from, added once (apt-get download needs their lists).
added=()
for arch in mipsel arm64 armhf armel; do
	if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
		echo "$tag: adding the foreign dpkg architecture $arch (for apt-get download; nothing of it is installed)"
		"${run[@]}" dpkg --add-architecture "$arch"
		added+=("$arch")
	fi
done
if [ ${#added[@]} -gt 0 ]; then
	echo "$tag: apt-get update (new architectures: ${added[*]})"
	"${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
fi

# candidate VERSION of package NAME (empty if apt does not know it)
candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }'; }

# kit ABI DPKG_ARCH FLAVOUR BUSYBOX_ARCH KERNEL_ARCH CROSS
kit() {
	local abi=$1 darch=$2 flavour=$3 barch=$4 karch=$5 cross=$6
	local image_meta="linux-image-$flavour:$darch" image abi_version pkgver kit="$KITS/$abi"
	image=$(apt-cache depends "$image_meta" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
	if [ -z "$image" ]; then
		# apt-get update only when the lists do not know the kernel (fresh machine, stale lists)
		"${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
		image=$(apt-cache depends "$image_meta" | awk '/Depends: linux-image-/ { print $2; exit }')
	fi
	image=${image%%:*}                              # linux-image-6.1.0-50-4kc-malta
	abi_version=${image#linux-image-}               # 6.1.0-50-4kc-malta
	pkgver=$(candidate "$image:$darch")             # 6.1.176-1
	local number=${abi_version%-"$flavour"}         # 6.1.0-50
	local busybox_version
	busybox_version=$(candidate "busybox-static:$barch")
	local stamp="$image $pkgver busybox $busybox_version"
	if [ -f "$kit/kit.env" ] && grep -qxF "# $stamp" "$kit/kit.env"; then
		echo "$tag: $abi kit is current ($abi_version, busybox $busybox_version): $kit"
		return 0
	fi

	echo "$tag: building the $abi kit in $kit: $image $pkgver, busybox-static:$barch $busybox_version"
	local work
	work=$(mktemp -d)
	trap 'rm -rf "$work"' RETURN
	(
		cd "$work"
		# apt-get download runs as the _apt user when it can; a world-writable directory avoids the warning
		chmod 0777 "$work"
		apt-get download -q "$image:$darch" "linux-headers-$abi_version:$darch" \
			"linux-headers-$number-common" "busybox-static:$barch" "linux-kbuild-6.1=$pkgver"
	)
	"${run[@]}" rm -rf "$kit.new"
	"${run[@]}" mkdir -p "$kit.new/root" "$kit.new/kbuild"
	for deb in "$work"/linux-image-*.deb "$work"/linux-headers-*.deb "$work"/busybox-static_*.deb; do
		"${run[@]}" dpkg -x "$deb" "$kit.new/root"
	done
	"${run[@]}" dpkg -x "$work"/linux-kbuild-6.1_*.deb "$kit.new/kbuild"

	# The headers refer to the common headers and the host's kbuild tools by absolute paths (/usr/src,
	# /usr/lib/linux-kbuild-6.1): point them into the kit.
	local headers="$kit/root/usr/src/linux-headers-$abi_version"
	"${run[@]}" sed -i "s#^include /usr/src/#include $kit/root/usr/src/#" "$kit.new/root/usr/src/linux-headers-$abi_version/Makefile"
	for link in scripts tools; do
		"${run[@]}" ln -sfn "$kit/kbuild/usr/lib/linux-kbuild-6.1/$link" "$kit.new/root/usr/src/linux-headers-$number-common/$link"
		if [ -L "$kit.new/root/usr/src/linux-headers-$abi_version/$link" ]; then
			"${run[@]}" ln -sfn "$kit/kbuild/usr/lib/linux-kbuild-6.1/$link" "$kit.new/root/usr/src/linux-headers-$abi_version/$link"
		fi
	done
	# modules.dep is made by the package's postinst, which dpkg -x does not run
	"${run[@]}" depmod -b "$kit.new/root" "$abi_version"

	local kernel
	kernel=$(ls "$kit.new/root/boot/vmlinuz-$abi_version")
	"${run[@]}" tee "$kit.new/kit.env" >/dev/null <<EOF
# $stamp
ABI=$abi
KERNEL_VERSION=$abi_version
KERNEL_IMAGE=$kit/root/boot/vmlinuz-$abi_version
KERNEL_HEADERS=$headers
MODULES_ROOT=$kit/root/lib/modules
BUSYBOX=$kit/root/bin/busybox
ARCH=$karch
CROSS_COMPILE=$cross
EOF
	[ -n "$kernel" ]
	"${run[@]}" rm -rf "$kit"
	"${run[@]}" mv "$kit.new" "$kit"
	echo "$tag: $abi kit ready: kernel $abi_version"
}

"${run[@]}" mkdir -p "$KITS"
abis=("$@")
[ ${#abis[@]} -gt 0 ] || abis=(mipsel aarch64 armel)
for abi in "${abis[@]}"; do
	case "$abi" in
	mipsel) kit mipsel mipsel 4kc-malta mipsel mips mipsel-linux-gnu- ;;
	aarch64) kit aarch64 arm64 arm64 arm64 arm64 aarch64-linux-gnu- ;;
	armel) kit armel armhf armmp armel arm arm-linux-gnueabi- ;;
	*) echo "$tag: unknown ABI $abi (mipsel, aarch64, armel)" >&2; exit 2 ;;
	esac
done
