// SPDX-License-Identifier: GPL-2.0
/*
 * 32-bit ARM only: cancelling a syscall from the sys_enter tracepoint.
 *
 * syscall_trace_enter() reads the syscall number before it runs the
 * tracepoint and returns that copy, and vector_swi calls whatever it
 * returns; -1 makes it skip the call (portal_arch.h, ARM block).  So a
 * verdict's skip records itself (portal_skip_begin()) and a probe makes
 * syscall_trace_enter() return -1 for the task that recorded it.
 *
 * The probe runs on every traced syscall, so its cost is what every syscall
 * pays (docs/performance.md).  The cheap one is a kprobe on the instruction
 * that moves the result into r0 in syscall_trace_enter()'s epilogue,
 * "mov r0, rN" followed by "add sp, sp, #n" and/or "pop {..., pc}": the
 * kernel optimises it into a branch (no trap), and the handler only sets rN
 * to -1.  That epilogue is what gcc makes of the function in Debian's armmp
 * kernels; on a kernel where the code does not match it exactly, a
 * kretprobe on the function (about 5 µs more per syscall under TCG) does
 * the same job.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kallsyms.h>
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/moduleparam.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/string.h>

#include "portal.h"

#define ARM_MOV_R0_REG_MASK	0xfffffff0u	/* mov r0, rN (no shift) */
#define ARM_MOV_R0_REG		0xe1a00000u
#define ARM_ADD_SP_IMM_MASK	0xfffff000u	/* add sp, sp, #imm */
#define ARM_ADD_SP_IMM		0xe28dd000u
#define ARM_POP_PC_MASK		0xffff8000u	/* ldmia sp!, {..., pc} */
#define ARM_POP_PC		0xe8bd8000u
#define PORTAL_ARM_EPILOGUES	4

static unsigned int portal_arm_reg[PORTAL_ARM_EPILOGUES];

static bool portal_arm_force_kretprobe;
module_param_named(arm_skip_kretprobe, portal_arm_force_kretprobe, bool, 0444);
MODULE_PARM_DESC(arm_skip_kretprobe,
		 "ARM: cancel skipped syscalls with the kretprobe even where the epilogue kprobe fits (tests)");

static struct kprobe portal_arm_epilogue[PORTAL_ARM_EPILOGUES];
static int portal_arm_epilogues;

static int portal_arm_trace_enter_ret(struct kretprobe_instance *ri,
				      struct pt_regs *regs)
{
	if (portal_skip_applied(current))
		regs->ARM_r0 = -1;
	return 0;
}

static struct kretprobe portal_arm_skip_kretprobe = {
	.kp.symbol_name = "syscall_trace_enter",
	.handler = portal_arm_trace_enter_ret,
	/* held only from a syscall's entry work to its tracepoint; ptrace and
	 * seccomp may sleep in between, hence more than one per CPU */
	.maxactive = 64,
};
static bool portal_arm_kretprobe_used;

static int portal_arm_epilogue_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned int i = p - portal_arm_epilogue;

	if (portal_skip_applied(current))
		regs->uregs[portal_arm_reg[i]] = -1;	/* "mov r0, rN" makes it the result */
	return 0;
}

/* syscall_trace_enter's address and size (kallsyms_lookup_name is not exported). */
static u32 *portal_arm_function(unsigned long *size)
{
	struct kprobe kp = { .symbol_name = "syscall_trace_enter" };
	char name[KSYM_SYMBOL_LEN], *slash;
	u32 *addr;

	if (register_kprobe(&kp))
		return NULL;
	addr = (u32 *)kp.addr;
	unregister_kprobe(&kp);
	sprint_symbol(name, (unsigned long)addr);	/* "syscall_trace_enter+0x0/0x164" */
	slash = strrchr(name, '/');
	if (!slash || kstrtoul(slash + 1, 0, size) || *size > 4096)
		return NULL;
	return addr;
}

static bool portal_arm_is_exit(u32 insn)
{
	return (insn & 0x0fff8000u) == 0x08bd8000u ||	/* ldm sp!, {..., pc} */
	       (insn & 0x0fffffffu) == 0x049df004u ||	/* ldr pc, [sp], #4 */
	       (insn & 0x0ffffff0u) == 0x012fff10u;	/* bx rN */
}

/*
 * Probes the "mov r0, rN" of every exit of syscall_trace_enter(); false
 * (nothing probed) unless every exit is "mov r0, rN; [add sp, sp, #n;]
 * pop {..., pc}", unconditional.
 */
static bool portal_arm_probe_epilogues(void)
{
	unsigned long size, i;
	u32 *code = portal_arm_function(&size);
	int err;

	if (!code)
		return false;
	for (i = 2; i < size / 4; i++) {
		unsigned long mov = (code[i - 1] & ARM_ADD_SP_IMM_MASK) == ARM_ADD_SP_IMM ? i - 2 : i - 1;

		if (!portal_arm_is_exit(code[i]))
			continue;
		if ((code[i] & ARM_POP_PC_MASK) != ARM_POP_PC ||
		    (code[mov] & ARM_MOV_R0_REG_MASK) != ARM_MOV_R0_REG ||
		    portal_arm_epilogues == PORTAL_ARM_EPILOGUES) {
			pr_info("syscall_trace_enter+%#lx is an exit of another shape\n", i * 4);
			goto undo;
		}
		portal_arm_reg[portal_arm_epilogues] = code[mov] & 0xf;
		portal_arm_epilogue[portal_arm_epilogues] = (struct kprobe){
			.addr = (kprobe_opcode_t *)&code[mov],
			.pre_handler = portal_arm_epilogue_pre,
		};
		err = register_kprobe(&portal_arm_epilogue[portal_arm_epilogues]);
		if (err) {
			pr_warn("cannot probe syscall_trace_enter+%#lx (%d)\n", mov * 4, err);
			goto undo;
		}
		portal_arm_epilogues++;
	}
	return portal_arm_epilogues > 0;
undo:
	while (portal_arm_epilogues)
		unregister_kprobe(&portal_arm_epilogue[--portal_arm_epilogues]);
	return false;
}

int portal_arch_init(void)
{
	int err;

	if (!portal_arm_force_kretprobe && portal_arm_probe_epilogues()) {
		pr_info("skips: kprobe on syscall_trace_enter's epilogue (%d)\n",
			portal_arm_epilogues);
		return 0;
	}
	err = register_kretprobe(&portal_arm_skip_kretprobe);
	if (err) {
		pr_err("cannot probe syscall_trace_enter (%d): skips need it on ARM\n", err);
		return err;
	}
	portal_arm_kretprobe_used = true;
	pr_info("skips: kretprobe on syscall_trace_enter\n");
	return 0;
}

void portal_arch_exit(void)
{
	while (portal_arm_epilogues)
		unregister_kprobe(&portal_arm_epilogue[--portal_arm_epilogues]);
	if (portal_arm_kretprobe_used) {
		unregister_kretprobe(&portal_arm_skip_kretprobe);
		if (portal_arm_skip_kretprobe.nmissed)
			pr_warn("syscall_trace_enter probe missed %d calls\n",
				portal_arm_skip_kretprobe.nmissed);
	}
}
