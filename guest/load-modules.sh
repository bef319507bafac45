# SPDX-License-Identifier: GPL-2.0
# Sourced by the guests' inits (guest/init, guest/firmware-init): load_modules DIR loads DIR/portal.ko
# with every portal.NAME=VALUE of the kernel command line as a module parameter (none with
# portal.noload), then the agent channel's virtio-serial modules DIR/virtio/*, in the order
# DIR/virtio/load-order gives (the image builder lists dependencies first: there is no modprobe).
load_modules() {
	local dir=$1 params= arg m
	for arg in $(cat /proc/cmdline); do
		case "$arg" in
		portal.*=*) params="$params ${arg#portal.}" ;;
		esac
	done
	if grep -q 'portal.noload' /proc/cmdline; then
		echo "portal-init: portal.ko not loaded (portal.noload)"
	elif insmod "$dir/portal.ko" $params; then
		echo "portal-init: portal.ko loaded${params:+ with$params}"
	else
		echo "portal-init: ERROR: insmod portal.ko FAILED (rc=$?); see dmesg:"
		dmesg | tail -5
	fi
	# The agent's channel is a virtio-serial port (a UART under TCG moves ~150 KB/s).
	if [ -f "$dir/virtio/load-order" ]; then
		for m in $(cat "$dir/virtio/load-order"); do
			insmod "$dir/virtio/$m" ||
				echo "portal-init: ERROR: insmod $m FAILED (rc=$?)"
		done
	fi
}
