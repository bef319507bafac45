#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boots the Portal test guest under QEMU TCG (exec's QEMU; prints the command
# line on stderr first).
# usage: guest/run-qemu.sh [OUTDIR]     (OUTDIR from guest/build.sh)
# env:   SMP=1|2        vCPUs (default 1)
#        RAM=/dev/shm/portal-ram   shared guest-RAM file (the host maps it;
#                       the window is at file offset 192 MiB)
#        AGENT=/tmp/portal-agent.sock   unix socket of the agent's virtio-serial
#                       port (org.portal.agent)
#        CONSOLE=/tmp/portal-console.log  kernel console (ttyS0)
#        APPEND="..."   extra kernel arguments, e.g. portal.host_timeout_ms=500
set -euo pipefail
OUT=${1:-/tmp/portal-guest}
SMP=${SMP:-1}
RAM=${RAM:-/dev/shm/portal-ram}
AGENT=${AGENT:-/tmp/portal-agent.sock}
CONSOLE=${CONSOLE:-/tmp/portal-console.log}
KERNEL=$OUT/vmlinux
[ -s "$KERNEL" ] || KERNEL=$(ls /boot/vmlinuz-*-amd64 | sort -V | tail -1)
rm -f "$RAM" "$AGENT"
args=(
	-machine pc,accel=tcg,memory-backend=ram
	-m 256M -smp "$SMP"
	-object "memory-backend-file,id=ram,size=256M,mem-path=$RAM,share=on"
	-kernel "$KERNEL" -initrd "$OUT/initramfs.cpio.gz"
	-append "console=ttyS0 quiet memmap=1M\$192M panic=-1 oops=panic no_timer_check ${APPEND:-}"
	-display none -monitor none -no-reboot -net none
	-serial "file:$CONSOLE"
	-chardev "socket,id=agent,path=$AGENT,server=on,wait=off"
	-device virtio-serial-pci,id=agentbus,max_ports=2
	-device virtserialport,bus=agentbus.0,chardev=agent,name=org.portal.agent
)
echo "qemu-system-x86_64 ${args[*]}" >&2
exec qemu-system-x86_64 "${args[@]}"
