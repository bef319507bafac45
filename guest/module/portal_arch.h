/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Architecture-specific bits of the Portal guest module, all in one place:
 * reading and writing syscall arguments, deciding whether a syscall is a
 * native one, skipping a syscall at entry and setting the return value.
 *
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
 *
 * A MIPS o32 port adds a block here: nr in regs[2] (4000 + n), arguments in
 * regs[4..7] with the 5th and 6th on the user stack (sp + 16, sp + 20, read
 * and written with the nofault helpers); skip = regs[2] = -1 at entry plus
 * syscall_set_return_value() at exit (the value set at entry is
 * overwritten), so the skip needs an exit fix-up keyed by the task.
 */
#ifndef PORTAL_ARCH_H
#define PORTAL_ARCH_H

#include <linux/compat.h>
#include <linux/sched.h>
#include <asm/ptrace.h>
#include <asm/syscall.h>
#include "portal_proto.h"

/* Size of the hooked-number bitmaps; numbers outside are never hooked. */
#define PORTAL_NR_BITS		1024

#if defined(CONFIG_X86_64)

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
static inline void portal_arch_skip(struct pt_regs *regs, s64 retval)
{
	regs->orig_ax = -1;
	regs->ax = retval;
}

/*
 * At sys_exit, before anything else: completes a skip begun at sys_enter
 * (nothing to do on x86_64; on MIPS this is where the skipped call's return
 * value is set).
 */
static __always_inline void portal_arch_sys_exit(struct pt_regs *regs)
{
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

#else
#error "portal: this architecture is not supported yet (see portal_arch.h)"
#endif

#endif /* PORTAL_ARCH_H */
