// SPDX-License-Identifier: GPL-2.0
/*
 * 32-bit ARM only: cancelling a syscall from the sys_enter tracepoint.
 *
 * syscall_trace_enter() reads the syscall number before it runs the
 * tracepoint and returns that copy, and vector_swi calls whatever it
 * returns; -1 makes it skip the call (portal_arch.h, ARM block).  So a
 * verdict's skip records itself (portal_skip_begin()) and this kretprobe
 * makes syscall_trace_enter() return -1 for the task that recorded it.
 * Its return handler runs once per traced syscall and costs a table check
 * when no skip is pending (docs/performance.md has the measured cost).
 */
#include <linux/kprobes.h>
#include <linux/ptrace.h>
#include <linux/sched.h>

#include "portal.h"

static int portal_arm_trace_enter_ret(struct kretprobe_instance *ri,
				      struct pt_regs *regs)
{
	if (portal_skip_applied(current))
		regs->ARM_r0 = -1;
	return 0;
}

static struct kretprobe portal_arm_skip_probe = {
	.kp.symbol_name = "syscall_trace_enter",
	.handler = portal_arm_trace_enter_ret,
	/* held only from a syscall's entry work to its tracepoint; ptrace and
	 * seccomp may sleep in between, hence more than one per CPU */
	.maxactive = 64,
};

int portal_arch_init(void)
{
	int err = register_kretprobe(&portal_arm_skip_probe);

	if (err)
		pr_err("cannot probe syscall_trace_enter (%d): skips need it on ARM\n", err);
	return err;
}

void portal_arch_exit(void)
{
	unregister_kretprobe(&portal_arm_skip_probe);
	if (portal_arm_skip_probe.nmissed)
		pr_warn("syscall_trace_enter probe missed %d calls\n",
			portal_arm_skip_probe.nmissed);
}
