/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Architecture-specific bits of the Portal guest module, all in one place:
 * which syscalls are native, reading and writing their arguments, skipping
 * a syscall at entry and setting its return value.  One block per
 * architecture; each states the rules it relies on and the kernel they were
 * checked on (by reading that kernel's entry code, disassembled from the
 * Debian image, and by the conformance suite on the real guest).
 *
 * Every block provides:
 *   PORTAL_ABI, PORTAL_REG_BITS
 *   portal_arch_native(regs)        the call uses the ABI the hooks name
 *   portal_arch_nr_index(nr)        bitmap index of a syscall number, or -1
 *   portal_arch_get_args(regs, a)   the six arguments (also right at exit)
 *   portal_arch_set_arg(regs, i, v) replaces one, at entry
 *   portal_arch_skip(regs, v)       at entry: the call does not run and the
 *                                   caller sees v; false if it could not
 *   portal_arch_set_retval(regs, v) at exit
 *   portal_arch_get_retval(regs)    at exit, sign-extended
 * and PORTAL_ARCH_SKIP_AT_EXIT when a skip must be completed at sys_exit
 * (portal_skip_*() in portal_events.c): there the syscall number at sys_exit
 * is still the original one, and the return value must be set there.
 *
 * And for function hooks (uprobes, protocol.md §4.6), in a uprobe handler,
 * whose regs are the task's user registers as its breakpoint trap saved them
 * (handle_swbp() has set the instruction pointer back to the breakpoint; a
 * return handler runs at the uretprobe trampoline, after the function
 * returned), by the C calling convention, not the syscall one.  Stack
 * arguments are where the convention puts them at the function's first
 * instruction (the host probes that one; past the prologue sp has moved):
 *   portal_arch_func_native(regs)        the task uses the ABI the hooks name
 *   portal_arch_func_get_args(regs, a)   the six arguments, zero-extended;
 *                                        returns a mask of those that could
 *                                        not be read (stack, not resident),
 *                                        which read as 0
 *   portal_arch_func_set_arg(regs, i, v) at entry: replaces one; -EFAULT
 *                                        when a stack argument cannot be
 *                                        written
 *   portal_arch_func_get_retval(regs)    on return, sign-extended
 *   portal_arch_func_set_retval(regs, v) on return (low 32 bits on 32-bit)
 *   PORTAL_ARCH_FUNC_RET_SP              how far above its value at the
 *                                        function's first instruction the
 *                                        stack pointer is once it returned
 */
#ifndef PORTAL_ARCH_H
#define PORTAL_ARCH_H

#include <linux/compat.h>
#include <linux/err.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <asm/ptrace.h>
#include <asm/syscall.h>
#include <asm/unistd.h>
#include "portal_proto.h"

/*
 * Skips completed at sys_exit (portal_events.c), for the blocks that define
 * PORTAL_ARCH_SKIP_AT_EXIT: records that the current task skips its syscall
 * with retval; applied says the call is already cancelled (else the arch
 * code cancels it and calls portal_skip_applied()).  False when no record
 * is free: the verdict then cannot skip.
 */
bool portal_skip_begin(s64 retval, bool applied);
bool portal_skip_applied(struct task_struct *task);

/* Size of the hooked-number bitmaps; numbers outside are never hooked. */
#define PORTAL_NR_BITS		1024

/*
 * Function arguments on the user stack (32-bit conventions): the word at
 * sp + off, read and written without faulting pages in, like every user
 * access on the event path.  A page that is not resident fails.
 */
static inline bool portal_arch_stack_get(struct pt_regs *regs,
					 unsigned long off, u64 *val)
{
	unsigned long at = user_stack_pointer(regs) + off;
	u32 word;

	if (copy_from_user_nofault(&word, (const void __user *)at, sizeof(word)))
		return false;
	*val = word;
	return true;
}

static inline int portal_arch_stack_set(struct pt_regs *regs,
					unsigned long off, u64 val)
{
	unsigned long at = user_stack_pointer(regs) + off;
	u32 word = (u32)val;

	if (copy_to_user_nofault((void __user *)at, &word, sizeof(word)))
		return -EFAULT;
	return 0;
}

/*
 * The 32-bit calling conventions (MIPS o32, ARM AAPCS) pass the first four
 * arguments in four consecutive registers, reg[0..3], and the fifth and
 * sixth as the words at sp + stack and sp + stack + 4.
 */
static inline unsigned int portal_func_get_args_4reg(struct pt_regs *regs,
						     const unsigned long *reg,
						     unsigned long stack,
						     u64 args[PORTAL_SYSCALL_ARGS])
{
	unsigned int i, unread = 0;

	for (i = 0; i < 4; i++)
		args[i] = reg[i];
	for (i = 4; i < PORTAL_SYSCALL_ARGS; i++) {
		args[i] = 0;
		if (!portal_arch_stack_get(regs, stack + 4 * (i - 4), &args[i]))
			unread |= 1U << i;
	}
	return unread;
}

static inline int portal_func_set_arg_4reg(struct pt_regs *regs,
					   unsigned long *reg,
					   unsigned long stack, int i, u64 val)
{
	if (i >= 0 && i < 4) {
		reg[i] = val;
		return 0;
	}
	if (i == 4 || i == 5)
		return portal_arch_stack_set(regs, stack + 4 * (i - 4), val);
	return -EINVAL;
}

#if defined(CONFIG_X86_64)
/*
 * x86_64 (verified on Debian 6.1.0-NN-amd64):
 *  - arguments live in di, si, dx, r10, r8, r9; the syscall wrappers read
 *    them from pt_regs after the sys_enter tracepoint, so writing them there
 *    changes what the kernel uses;
 *  - the syscall number is reloaded from orig_ax after the sys_enter
 *    tracepoint, so orig_ax = -1 makes do_syscall_64() skip the call and
 *    leave ax alone: ax = retval is what the caller sees.  sys_exit then
 *    reports nr -1, so no return hook fires for a skipped call;
 *  - at sys_exit the return value is ax;
 *  - 32-bit (int 0x80 / sysenter) and x32 calls are "compat" syscalls with
 *    other numbers and argument registers: they are ignored.
 */

#define PORTAL_ABI		PORTAL_ABI_X86_64
#define PORTAL_REG_BITS		64

/* True when the current syscall uses the native 64-bit ABI. */
static __always_inline bool portal_arch_native(struct pt_regs *regs)
{
	return !in_compat_syscall();
}

/* Index into the hook bitmaps, or -1 for numbers that can never be hooked. */
static __always_inline long portal_arch_nr_index(long nr)
{
	return (unsigned long)nr < PORTAL_NR_BITS ? nr : -1;
}

static inline void portal_arch_get_args(struct pt_regs *regs,
					u64 args[PORTAL_SYSCALL_ARGS])
{
	args[0] = regs->di;
	args[1] = regs->si;
	args[2] = regs->dx;
	args[3] = regs->r10;
	args[4] = regs->r8;
	args[5] = regs->r9;
}

/* Replaces argument i (0..PORTAL_SYSCALL_ARGS - 1); returns 0 or -errno. */
static inline int portal_arch_set_arg(struct pt_regs *regs, int i, u64 val)
{
	switch (i) {
	case 0:
		regs->di = val;
		break;
	case 1:
		regs->si = val;
		break;
	case 2:
		regs->dx = val;
		break;
	case 3:
		regs->r10 = val;
		break;
	case 4:
		regs->r8 = val;
		break;
	case 5:
		regs->r9 = val;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

/* At sys_enter: the syscall does not run and the caller sees retval. */
static inline bool portal_arch_skip(struct pt_regs *regs, s64 retval)
{
	regs->orig_ax = -1;
	regs->ax = retval;
	return true;
}

/* At sys_exit: the caller sees retval. */
static inline void portal_arch_set_retval(struct pt_regs *regs, s64 retval)
{
	regs->ax = retval;
}

/* At sys_exit: the return value, sign-extended. */
static inline s64 portal_arch_get_retval(struct pt_regs *regs)
{
	return (s64)(long)regs->ax;
}

/*
 * Function hooks (arch/x86/include/asm/ptrace.h, the SysV x86-64 psABI):
 * the arguments are di, si, dx, cx (not the syscall's r10), r8, r9, all in
 * registers; the return value is ax (regs_return_value()).  A 32-bit task
 * (user_64bit_mode() false) passes arguments on the stack: not hooked.
 */
static __always_inline bool portal_arch_func_native(struct pt_regs *regs)
{
	return user_64bit_mode(regs);
}

/* ret pops the return address that call pushed */
#define PORTAL_ARCH_FUNC_RET_SP	8

static inline unsigned int portal_arch_func_get_args(struct pt_regs *regs,
						     u64 args[PORTAL_SYSCALL_ARGS])
{
	args[0] = regs->di;
	args[1] = regs->si;
	args[2] = regs->dx;
	args[3] = regs->cx;
	args[4] = regs->r8;
	args[5] = regs->r9;
	return 0;
}

static inline int portal_arch_func_set_arg(struct pt_regs *regs, int i,
					   u64 val)
{
	if (i == 3) {
		regs->cx = val;
		return 0;
	}
	return portal_arch_set_arg(regs, i, val);	/* the others are shared */
}

static inline s64 portal_arch_func_get_retval(struct pt_regs *regs)
{
	return (s64)(long)regs_return_value(regs);
}

static inline void portal_arch_func_set_retval(struct pt_regs *regs, s64 v)
{
	regs_set_return_value(regs, v);
}

#elif defined(CONFIG_ARM64)
/*
 * arm64 (verified on Debian 6.1.0-57-arm64, arch/arm64/kernel/syscall.c):
 *  - el0_svc_common() stores x0 in orig_x0 and the number (x8) in
 *    syscallno, then calls syscall_trace_enter(), which runs the sys_enter
 *    tracepoint and returns regs->syscallno as it is afterwards;
 *    NO_SYSCALL (-1) there jumps to the exit work without a call, leaving
 *    x0 alone: syscallno = -1, x0 = retval is a skip.  sys_exit reports
 *    syscallno, -1, so no return hook fires for a skipped call;
 *  - the wrappers read x0..x5 from pt_regs after the tracepoint, so writing
 *    them there changes the arguments.  x0 becomes the return value, so the
 *    first argument is read from orig_x0 (right at entry and exit) and
 *    written to both (orig_x0 is what a restarted syscall uses);
 *  - 32-bit (AArch32 compat) tasks use other numbers and registers: ignored.
 */
#define PORTAL_ABI		PORTAL_ABI_AARCH64
#define PORTAL_REG_BITS		64

static __always_inline bool portal_arch_native(struct pt_regs *regs)
{
	return !is_compat_task();
}

static __always_inline long portal_arch_nr_index(long nr)
{
	return (unsigned long)nr < PORTAL_NR_BITS ? nr : -1;
}

static inline void portal_arch_get_args(struct pt_regs *regs,
					u64 args[PORTAL_SYSCALL_ARGS])
{
	int i;

	args[0] = regs->orig_x0;
	for (i = 1; i < PORTAL_SYSCALL_ARGS; i++)
		args[i] = regs->regs[i];
}

static inline int portal_arch_set_arg(struct pt_regs *regs, int i, u64 val)
{
	if (i < 0 || i >= PORTAL_SYSCALL_ARGS)
		return -EINVAL;
	regs->regs[i] = val;
	if (i == 0)
		regs->orig_x0 = val;
	return 0;
}

static inline bool portal_arch_skip(struct pt_regs *regs, s64 retval)
{
	regs->syscallno = NO_SYSCALL;
	regs->regs[0] = retval;
	return true;
}

static inline void portal_arch_set_retval(struct pt_regs *regs, s64 retval)
{
	regs->regs[0] = retval;
}

static inline s64 portal_arch_get_retval(struct pt_regs *regs)
{
	return (s64)(long)regs->regs[0];
}

/*
 * Function hooks (arch/arm64/include/asm/ptrace.h, AAPCS64): the arguments
 * are x0..x5, the return value x0 (regs_return_value(), which sign-extends
 * only for compat tasks).  orig_x0 is a syscall's, untouched by a breakpoint
 * trap.  An AArch32 task (compat_user_mode()) uses other registers: not
 * hooked.
 */
static __always_inline bool portal_arch_func_native(struct pt_regs *regs)
{
	return !compat_user_mode(regs);
}

/* the return address is in x30: sp is back where it was at entry */
#define PORTAL_ARCH_FUNC_RET_SP	0

static inline unsigned int portal_arch_func_get_args(struct pt_regs *regs,
						     u64 args[PORTAL_SYSCALL_ARGS])
{
	int i;

	for (i = 0; i < PORTAL_SYSCALL_ARGS; i++)
		args[i] = regs->regs[i];
	return 0;
}

static inline int portal_arch_func_set_arg(struct pt_regs *regs, int i,
					   u64 val)
{
	if (i < 0 || i >= PORTAL_SYSCALL_ARGS)
		return -EINVAL;
	regs->regs[i] = val;
	return 0;
}

static inline s64 portal_arch_func_get_retval(struct pt_regs *regs)
{
	return (s64)(long)regs->regs[0];
}

static inline void portal_arch_func_set_retval(struct pt_regs *regs, s64 v)
{
	regs_set_return_value(regs, v);
}

#elif defined(CONFIG_MIPS) && defined(CONFIG_32BIT)
/*
 * MIPS o32 on a 32-bit kernel (verified on Debian 6.1.0-50-4kc-malta,
 * handle_sys in arch/mips/kernel/scall32-o32.S, disassembled):
 *  - the number is in v0 (regs[2]), 4000 + n; the arguments in a0..a3
 *    (regs[4..7]) and the 5th and 6th on the user stack at sp + 16 and
 *    sp + 20.  handle_sys copies those two (and the 7th, 8th) to the kernel
 *    stack, pt_regs.pad0[4..7], BEFORE the sys_enter tracepoint, and the
 *    syscall reads them from there (the C calling convention: it is called
 *    with sp = pt_regs).  So the 5th and 6th arguments are read and written
 *    in pad0[4], pad0[5], never on the user stack (which another thread may
 *    change after the copy);
 *  - handle_sys saves a3 in regs[26] for restarts and, at exit, overwrites
 *    a3 with the error flag: the 4th argument is read from regs[26] (right
 *    at entry and exit) and written to both;
 *  - after syscall_trace_enter() it reloads v0 and a0..a3 from pt_regs, so
 *    writing them there changes the call.  v0 = -1 sends it to
 *    illegal_syscall, which sets ENOSYS and takes the normal exit path
 *    (sys_exit tracepoint included).  So a skip is v0 = -1 at entry plus the
 *    chosen value set at sys_exit (PORTAL_ARCH_SKIP_AT_EXIT): at exit the
 *    syscall number (thread_info->syscall) is still the original one;
 *  - the return value is v0 with the error flag in a3 (negative errno
 *    = v0 when a3 is set): regs_return_value(), syscall_set_return_value();
 *  - a 32-bit kernel has only o32; 64-bit MIPS kernels are not supported.
 */
#define PORTAL_ABI		PORTAL_ABI_MIPSEL
#define PORTAL_REG_BITS		32
#define PORTAL_ARCH_SKIP_AT_EXIT

static __always_inline bool portal_arch_native(struct pt_regs *regs)
{
	return true;
}

static __always_inline long portal_arch_nr_index(long nr)
{
	nr -= __NR_O32_Linux;
	return (unsigned long)nr < PORTAL_NR_BITS ? nr : -1;
}

static inline void portal_arch_get_args(struct pt_regs *regs,
					u64 args[PORTAL_SYSCALL_ARGS])
{
	args[0] = regs->regs[4];
	args[1] = regs->regs[5];
	args[2] = regs->regs[6];
	args[3] = regs->regs[26];
	args[4] = regs->pad0[4];
	args[5] = regs->pad0[5];
}

static inline int portal_arch_set_arg(struct pt_regs *regs, int i, u64 val)
{
	switch (i) {
	case 0: case 1: case 2:
		regs->regs[4 + i] = val;
		break;
	case 3:
		regs->regs[7] = val;
		regs->regs[26] = val;
		break;
	case 4: case 5:
		regs->pad0[i] = val;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

static inline void portal_arch_set_retval(struct pt_regs *regs, s64 retval)
{
	long v = (long)retval;

	syscall_set_return_value(current, regs,
				 IS_ERR_VALUE((unsigned long)v) ? v : 0, v);
}

static inline bool portal_arch_skip(struct pt_regs *regs, s64 retval)
{
	if (!portal_skip_begin(retval, true))
		return false;
	regs->regs[2] = -1;
	return true;
}

static inline s64 portal_arch_get_retval(struct pt_regs *regs)
{
	return regs_return_value(regs);
}

/*
 * Function hooks (arch/mips/include/asm/ptrace.h, the o32 calling
 * convention): the arguments are a0..a3 (regs[4..7]), then the words at
 * sp + 16 and sp + 20 (the caller reserves 16 bytes for a0..a3 below them;
 * sp is regs[29], user_stack_pointer()); the return value is v0 (regs[2]),
 * and v1 holds the high word of a 64-bit one.  Not regs_return_value() nor
 * syscall_set_return_value(): those apply the syscall error flag in a3.
 */
static __always_inline bool portal_arch_func_native(struct pt_regs *regs)
{
	return true;
}

/* the return address is in ra: sp is back where it was at entry */
#define PORTAL_ARCH_FUNC_RET_SP	0

static inline unsigned int portal_arch_func_get_args(struct pt_regs *regs,
						     u64 args[PORTAL_SYSCALL_ARGS])
{
	return portal_func_get_args_4reg(regs, &regs->regs[4], 16, args);
}

static inline int portal_arch_func_set_arg(struct pt_regs *regs, int i,
					   u64 val)
{
	return portal_func_set_arg_4reg(regs, &regs->regs[4], 16, i, val);
}

static inline s64 portal_arch_func_get_retval(struct pt_regs *regs)
{
	return (s64)(long)regs->regs[2];
}

static inline void portal_arch_func_set_retval(struct pt_regs *regs, s64 v)
{
	regs->regs[2] = (unsigned long)v;
}

#elif defined(CONFIG_ARM) && defined(CONFIG_AEABI) && !defined(CONFIG_OABI_COMPAT)
/*
 * 32-bit ARM, EABI (verified on Debian 6.1.0-57-armmp, vector_swi in
 * arch/arm/kernel/entry-common.S and syscall_trace_enter(), disassembled):
 *  - the number is in r7, the arguments in r0..r5; r0 is saved in
 *    ARM_ORIG_r0 and becomes the return value, so the first argument is read
 *    from ARM_ORIG_r0 (right at entry and exit) and written to both;
 *  - after syscall_trace_enter() vector_swi reloads r0..r6 from pt_regs and
 *    re-pushes r4, r5 (the 5th and 6th) for the call: writing pt_regs
 *    changes the arguments;
 *  - but syscall_trace_enter() reads the number BEFORE the sys_enter
 *    tracepoint and returns that copy, so the tracepoint cannot change or
 *    cancel the call.  A return value of -1 makes vector_swi skip it and go
 *    to the exit work with r0 untouched (the ptrace skip).  So a skip is:
 *    r0 = retval at entry, and a kretprobe on syscall_trace_enter
 *    (portal_arm.c) that returns -1 for the task that asked
 *    (PORTAL_ARCH_SKIP_AT_EXIT): at exit the number is still the original.
 *    If the kretprobe cannot run (no free instance), the call runs: sys_exit
 *    sees that, counts skips_failed and logs it;
 *  - OABI calls (another number encoding) are not supported.
 */
#define PORTAL_ABI		PORTAL_ABI_ARMEL
#define PORTAL_REG_BITS		32
#define PORTAL_ARCH_SKIP_AT_EXIT
#define PORTAL_ARCH_HAS_INIT

int portal_arch_init(void);
void portal_arch_exit(void);

static __always_inline bool portal_arch_native(struct pt_regs *regs)
{
	return true;
}

static __always_inline long portal_arch_nr_index(long nr)
{
	return (unsigned long)nr < PORTAL_NR_BITS ? nr : -1;
}

static inline void portal_arch_get_args(struct pt_regs *regs,
					u64 args[PORTAL_SYSCALL_ARGS])
{
	int i;

	args[0] = regs->ARM_ORIG_r0;
	for (i = 1; i < PORTAL_SYSCALL_ARGS; i++)
		args[i] = regs->uregs[i];
}

static inline int portal_arch_set_arg(struct pt_regs *regs, int i, u64 val)
{
	if (i < 0 || i >= PORTAL_SYSCALL_ARGS)
		return -EINVAL;
	regs->uregs[i] = val;
	if (i == 0)
		regs->ARM_ORIG_r0 = val;
	return 0;
}

static inline bool portal_arch_skip(struct pt_regs *regs, s64 retval)
{
	if (!portal_skip_begin(retval, false))
		return false;
	regs->ARM_r0 = retval;
	return true;
}

static inline void portal_arch_set_retval(struct pt_regs *regs, s64 retval)
{
	regs->ARM_r0 = retval;
}

static inline s64 portal_arch_get_retval(struct pt_regs *regs)
{
	return (s64)(long)regs->ARM_r0;
}

/*
 * Function hooks (arch/arm/include/asm/ptrace.h and uapi/asm/ptrace.h, the
 * AAPCS): the arguments are r0..r3, then the words at sp and sp + 4 (sp is
 * ARM_sp, user_stack_pointer()); the return value is r0 (regs_return_value()),
 * and r1 holds the high word of a 64-bit one.  ARM_ORIG_r0 is a syscall's,
 * untouched by a breakpoint trap.  The kernel's uprobes decode the probed
 * instruction as ARM code (and refuse offsets that are not 4-byte aligned):
 * Thumb code cannot be probed (§4.6 excludes it).
 */
static __always_inline bool portal_arch_func_native(struct pt_regs *regs)
{
	return true;
}

/* the return address is in lr: sp is back where it was at entry */
#define PORTAL_ARCH_FUNC_RET_SP	0

static inline unsigned int portal_arch_func_get_args(struct pt_regs *regs,
						     u64 args[PORTAL_SYSCALL_ARGS])
{
	return portal_func_get_args_4reg(regs, &regs->uregs[0], 0, args);
}

static inline int portal_arch_func_set_arg(struct pt_regs *regs, int i,
					   u64 val)
{
	return portal_func_set_arg_4reg(regs, &regs->uregs[0], 0, i, val);
}

static inline s64 portal_arch_func_get_retval(struct pt_regs *regs)
{
	return (s64)(long)regs->ARM_r0;
}

static inline void portal_arch_func_set_retval(struct pt_regs *regs, s64 v)
{
	regs->ARM_r0 = (unsigned long)v;
}

#else
#error "portal: this architecture is not supported yet (see portal_arch.h)"
#endif

#endif /* PORTAL_ARCH_H */
