// SPDX-License-Identifier: GPL-2.0
/*
 * The syscall path: the sys_enter / sys_exit probes, the events they send
 * for matching hooks (protocol.md §4.1), the wait for each verdict with
 * requests served inline, and the bounds on that wait (§5.3): the event's
 * timeout and the stop's hold budget.  Function hooks (§4.6, their uprobe
 * handlers in portal_uprobes.c) deliver through the same path:
 * portal_func_event().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/errno.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/minmax.h>
#include <linux/sched.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>
#include <asm/unaligned.h>

#include "portal.h"

/*
 * The deadline of a stop about to deliver its first event: now plus the
 * hold budget, unless the task the last stop on this vCPU held is still
 * running and has not been switched out since.  Then the vCPU has not
 * passed through the scheduler in between (the syscall between an enter and
 * a return stop need not, without full preemption), and this stop shares
 * that stop's deadline: hold_budget_ms bounds the whole stretch, which is
 * what the soft-lockup watchdog measures.
 */
static u64 stop_deadline(struct portal_slot *s, u64 now)
{
	unsigned long switches = current->nvcsw + current->nivcsw;
	unsigned int ms = clamp(READ_ONCE(portal_hold_budget_ms), 1U,
				(unsigned int)PORTAL_MAX_TIMEOUT_MS);

	if (s->stop_task != current || s->stop_pid != current->pid ||
	    s->stop_switches != switches) {
		s->stop_task = current;
		s->stop_pid = current->pid;
		s->stop_switches = switches;
		s->stop_deadline = now + (u64)ms * NSEC_PER_MSEC;
	}
	return s->stop_deadline;
}

/* How an event ended. */
enum portal_outcome {
	PORTAL_ANSWERED,	/* verdict applied or rejected: on to the next hook */
	PORTAL_SKIPPED,		/* the syscall will not run: no more hooks */
	PORTAL_ABANDONED,	/* no verdict in time: no more events this stop */
};

/* The ABI's red zone: memory below the stack pointer a leaf function may use. */
#ifdef CONFIG_X86_64
#define PORTAL_STACK_RED_ZONE	128
#else
#define PORTAL_STACK_RED_ZONE	0
#endif

/*
 * The scratch area of an enter event (§4.1): the caller's stack below its
 * stack pointer and red zone, which nothing uses while the thread is in the
 * kernel; as much of PORTAL_SCRATCH_MAX as is resident (nofault probes: the
 * probe cannot fault pages in).  At most two pages are involved.
 */
static void event_scratch(const struct portal_held *held, u64 *addr,
			  u32 *size)
{
	unsigned long top, bottom, page;
	u8 probe;

	BUILD_BUG_ON(PORTAL_SCRATCH_MAX > PAGE_SIZE);
	*addr = 0;
	*size = 0;
	if (held->phase != PORTAL_PHASE_ENTER)
		return;
	top = (user_stack_pointer(held->regs) - PORTAL_STACK_RED_ZONE) & ~15UL;
	if (top < PAGE_SIZE + PORTAL_SCRATCH_MAX)	/* no sane stack */
		return;
	if (copy_from_user_nofault(&probe, (const void __user *)(top - 1), 1))
		return;
	page = (top - 1) & PAGE_MASK;
	bottom = top - PORTAL_SCRATCH_MAX;
	if (bottom < page &&
	    copy_from_user_nofault(&probe, (const void __user *)bottom, 1))
		bottom = page;
	if (bottom >= top)
		return;
	*addr = bottom;
	*size = top - bottom;
}

/*
 * Writes the event record (§4.1) and its response header into the region.
 * nr is the syscall number, or a function hook's address (§4.6).
 */
static void event_write(struct portal_slot *s, const struct portal_held *held,
			u64 nr, const struct portal_hook *h,
			const u64 args[PORTAL_SYSCALL_ARGS], s64 retval)
{
	u8 *d = slot_data(s);
	u32 scratch_size;
	unsigned int i;
	u64 scratch;

	BUILD_BUG_ON(PORTAL_EV_ARGS + 8 * PORTAL_SYSCALL_ARGS > PORTAL_EV_RETVAL);
	put_unaligned_le32(h->id, d + PORTAL_EV_HOOK_ID);
	put_unaligned_le32(held->phase, d + PORTAL_EV_PHASE);
	put_unaligned_le64(nr, d + PORTAL_EV_NR);
	for (i = 0; i < PORTAL_SYSCALL_ARGS; i++)
		put_unaligned_le64(args[i], d + PORTAL_EV_ARGS + 8 * i);
	put_unaligned_le64(portal_phase_has_retval(held->phase) ? retval : 0,
			   d + PORTAL_EV_RETVAL);
	put_unaligned_le32(current->tgid, d + PORTAL_EV_PID);
	put_unaligned_le32(current->pid, d + PORTAL_EV_TID);
	portal_task_comm16(d + PORTAL_EV_COMM);
	event_scratch(held, &scratch, &scratch_size);
	put_unaligned_le64(scratch, d + PORTAL_EV_SCRATCH);
	put_unaligned_le32(scratch_size, d + PORTAL_EV_SCRATCH_SIZE);
	put_unaligned_le32(0, d + PORTAL_EV_SCRATCH_SIZE + 4);
	region_respond(s, PORTAL_EVENT, held->event_id, PORTAL_EV_SIZE);
}

/*
 * Waits for the verdict on the posted event, serving requests inline;
 * seen is host_seq before the post.  Gives up at the earlier of the event's
 * timeout and the stop's deadline, or when the module unloads.
 */
static enum portal_outcome event_wait(struct portal_slot *s,
				      struct portal_held *held, u32 seen)
{
	u64 timeout_ns, deadline;
	unsigned long spins = 0;

	timeout_ns = (u64)min(READ_ONCE(portal_host_timeout_ms),
			      PORTAL_MAX_TIMEOUT_MS) * NSEC_PER_MSEC;
	deadline = min(ktime_get_ns() + timeout_ns, held->deadline);
	for (;;) {
		u32 cur;

		/*
		 * The bound covers the whole hold, requests included: a host
		 * that keeps posting cannot hold the vCPU past the deadline.
		 * The clock is read every PORTAL_CLOCK_EVERY spins only.
		 */
		if (++spins % PORTAL_CLOCK_EVERY == 0 &&
		    (ktime_get_ns() >= deadline || READ_ONCE(portal_unloading)))
			break;
		cur = slot_host_seq(s);
		if (cur == seen) {
			cpu_relax();
			continue;
		}
		seen = cur;
		if (win_ld64(s->r + PORTAL_REG_OP) == PORTAL_OP_VERDICT) {
			if (win_ld64(s->r + PORTAL_REG_ADDR) != held->event_id) {
				stat_inc(PORTAL_STAT_STALE_VERDICTS);
				continue;
			}
			return portal_verdict(s, held) ? PORTAL_SKIPPED :
							 PORTAL_ANSWERED;
		}
		portal_serve(s, held);
		slot_post(s);
	}

	/* §5.3: give up, leave the syscall alone, keep off the region until acked */
	portal_slot_abandon(s, held->event_id);
	stat_inc(PORTAL_STAT_HOST_TIMEOUTS);
	return PORTAL_ABANDONED;
}

/*
 * Sends one event and holds the syscall until the verdict, serving requests
 * inline, for at most host_timeout_ms and never past the stop's deadline.
 */
static enum portal_outcome portal_event(struct portal_slot *s,
					struct portal_held *held, u64 nr,
					const struct portal_hook *h,
					const u64 args[PORTAL_SYSCALL_ARGS],
					s64 retval)
{
	u32 seen;

	held->event_id = s->next_event++;
	event_write(s, held, nr, h, args, retval);

	seen = slot_host_seq(s);	/* before posting: a fast answer is not missed */
	slot_post(s);
	stat_inc(PORTAL_STAT_EVENTS_SENT);
	return event_wait(s, held, seen);
}

/*
 * Whether a matching hook gets its event, given the slot (NULL if its vCPU
 * has none) and how the stop's last event ended; counts it if not.  The
 * stop's deadline is set here, just before its first event.
 */
static bool event_admit(struct portal_slot *s, struct portal_held *held,
			enum portal_outcome outcome)
{
	u64 now;

	if (!s || READ_ONCE(portal_unloading)) {
		stat_inc(PORTAL_STAT_EVENTS_DROPPED);
		return false;
	}
	now = ktime_get_ns();
	if (outcome == PORTAL_ABANDONED || portal_slot_abandoned(s)) {
		stat_inc(held->deadline && now >= held->deadline ?
			 PORTAL_STAT_EVENTS_OVER_BUDGET :
			 PORTAL_STAT_EVENTS_DROPPED);
		return false;
	}
	if (!held->deadline)
		held->deadline = stop_deadline(s, now);
	if (now >= held->deadline) {
		stat_inc(PORTAL_STAT_EVENTS_OVER_BUDGET);
		return false;
	}
	return true;
}

/* The current vCPU's slot, NULL if it has none.  Preemption is disabled. */
static struct portal_slot *event_slot(void)
{
	int cpu = smp_processor_id();

	return cpu + 1 < portal_slot_count ? &portal_slots[cpu + 1] : NULL;
}

/*
 * Slow path: the syscall number is hooked for this phase.  Delivers one
 * event per matching hook, in registration order; each hook is matched
 * against the arguments as earlier verdicts left them.  Every matching hook
 * that gets no event is counted: events_over_budget once the stop's budget
 * has run out, events_dropped when the slot is abandoned (by this stop or
 * an earlier one) or there is no slot.
 */
static noinline void portal_dispatch(struct pt_regs *regs, long nr, u32 phase)
{
	u32 upto = portal_hook_last_id(), after = 0;
	struct portal_held held = { .regs = regs, .phase = phase };
	enum portal_outcome outcome = PORTAL_ANSWERED;
	struct portal_slot *s = event_slot();	/* probes run non-preemptible */
	struct portal_hook h;
	bool matched = false;

	while (portal_hook_next(nr, phase, after, upto, &h)) {
		u64 args[PORTAL_SYSCALL_ARGS];
		s64 retval = 0;

		after = h.id;
		portal_arch_get_args(regs, args);
		if (phase == PORTAL_PHASE_RETURN)
			retval = portal_arch_get_retval(regs);
		if (!portal_hook_match(&h, args, retval))
			continue;
		matched = true;
		if (!event_admit(s, &held, outcome))
			continue;
		outcome = portal_event(s, &held, nr, &h, args, retval);
		if (outcome == PORTAL_SKIPPED)
			break;
	}
	if (!matched)
		stat_inc(PORTAL_STAT_FILTERED_OUT);
}

/*
 * A function hook's hit (§4.6) that passed its filters, from its uprobe
 * handler with preemption disabled: a stop of one event, delivered, timed,
 * budgeted, abandoned and counted exactly like a syscall's.  A stop that
 * follows another on this vCPU without a context switch in between shares
 * its deadline (stop_deadline()), e.g. the events of two hooks on one
 * function.  addr is the probed address (the event's nr).
 */
void portal_func_event(struct pt_regs *regs, u64 addr, u32 phase,
		       const struct portal_hook *h,
		       const u64 args[PORTAL_SYSCALL_ARGS], s64 retval)
{
	struct portal_held held = { .regs = regs, .phase = phase };
	struct portal_slot *s = event_slot();

	if (event_admit(s, &held, PORTAL_ANSWERED))
		portal_event(s, &held, addr, h, args, retval);
}

/* ------------------------------------------------------------------------ */
/* Skips completed at sys_exit                                              */

#ifdef PORTAL_ARCH_SKIP_AT_EXIT
/*
 * On these architectures (portal_arch.h) a skip begun at sys_enter is
 * finished at sys_exit: the return value is set there, and the syscall
 * number at sys_exit is still the original one, so the exit must know the
 * call was skipped.  A record per task that skips lives from its sys_enter
 * to its sys_exit.  Without kernel preemption (Debian's kernels are
 * PREEMPT_VOLUNTARY, and the skipped path does not sleep) at most one record
 * per CPU is in use; the table is larger so that a preemptible kernel cannot
 * run out either.  Records are claimed with cmpxchg on .task and released
 * by their task only, so no lock.
 */
#define PORTAL_MAX_SKIPS	(4 * NR_CPUS < 64 ? 64 : 4 * NR_CPUS)

struct portal_skip {
	struct task_struct *task;	/* owner, NULL when free */
	s64 retval;
	bool applied;			/* the call is cancelled */
};

static struct portal_skip portal_skips[PORTAL_MAX_SKIPS];
static atomic_t portal_skips_pending = ATOMIC_INIT(0);

static struct portal_skip *portal_skip_find(struct task_struct *task)
{
	int i;

	if (likely(!atomic_read(&portal_skips_pending)))
		return NULL;
	for (i = 0; i < PORTAL_MAX_SKIPS; i++)
		if (READ_ONCE(portal_skips[i].task) == task)
			return &portal_skips[i];
	return NULL;
}

bool portal_skip_begin(s64 retval, bool applied)
{
	struct portal_skip *e = portal_skip_find(current);
	int i;

	for (i = 0; !e && i < PORTAL_MAX_SKIPS; i++)
		if (!READ_ONCE(portal_skips[i].task) &&
		    !cmpxchg(&portal_skips[i].task, NULL, current)) {
			e = &portal_skips[i];
			atomic_inc(&portal_skips_pending);
		}
	if (!e)
		return false;
	e->retval = retval;
	e->applied = applied;
	return true;
}

/* The arch code has cancelled task's call (e.g. the ARM kretprobe). */
bool portal_skip_applied(struct task_struct *task)
{
	struct portal_skip *e = portal_skip_find(task);

	if (e)
		e->applied = true;
	return e;
}

/*
 * At sys_exit: true when the current call was skipped (its return value is
 * now set; no return hooks).  A skip that did not take (the call ran) is
 * counted and logged, and the call's own result stands.
 */
static bool portal_skip_end(struct pt_regs *regs)
{
	struct portal_skip *e = portal_skip_find(current);
	bool applied;

	if (likely(!e))
		return false;
	applied = e->applied;
	if (applied) {
		portal_arch_set_retval(regs, e->retval);
	} else {
		stat_inc(PORTAL_STAT_SKIPS_FAILED);
		pr_warn_ratelimited("skip of syscall %d (pid %d) failed: the call ran\n",
				    (int)syscall_get_nr(current, regs),
				    task_pid_nr(current));
	}
	atomic_dec(&portal_skips_pending);
	smp_store_release(&e->task, NULL);
	return applied;
}
#else
static __always_inline bool portal_skip_end(struct pt_regs *regs)
{
	return false;
}
#endif

/*
 * The probes.  Fast path for a syscall that is not hooked: one bit test.
 * Compat (32-bit and x32) syscalls use other numbers and are ignored.
 */
static void probe_sys_enter(void *data, struct pt_regs *regs, long id)
{
	long idx = portal_arch_nr_index(id);

	if (likely(idx < 0 || !test_bit(idx, portal_hooked_enter)))
		return;
	if (!portal_arch_native(regs))
		return;
	portal_dispatch(regs, id, PORTAL_PHASE_ENTER);
}

static void probe_sys_exit(void *data, struct pt_regs *regs, long ret)
{
	long nr, idx;

	if (portal_skip_end(regs))
		return;		/* a skipped call: no return hooks */
	nr = syscall_get_nr(current, regs);
	idx = portal_arch_nr_index(nr);
	if (likely(idx < 0 || !test_bit(idx, portal_hooked_exit)))
		return;
	if (!portal_arch_native(regs))
		return;
	portal_dispatch(regs, nr, PORTAL_PHASE_RETURN);
}

/* ------------------------------------------------------------------------ */
/* Tracepoints                                                              */

static struct tracepoint *tp_sys_enter, *tp_sys_exit;

static void find_tracepoint(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sys_enter"))
		tp_sys_enter = tp;
	else if (!strcmp(tp->name, "sys_exit"))
		tp_sys_exit = tp;
}

int __init portal_probes_find(void)
{
	for_each_kernel_tracepoint(find_tracepoint, NULL);
	if (!tp_sys_enter || !tp_sys_exit) {
		pr_err("sys_enter/sys_exit tracepoints not found\n");
		return -ENOENT;
	}
	return 0;
}

/* Attaches the probes: syscalls are intercepted from here on. */
int __init portal_probes_register(void)
{
	int err = 0;

#ifdef PORTAL_ARCH_HAS_INIT
	err = portal_arch_init();
	if (err)
		return err;
#endif
	err = tracepoint_probe_register(tp_sys_enter, probe_sys_enter, NULL);
	if (err)
		goto fail_arch;
	err = tracepoint_probe_register(tp_sys_exit, probe_sys_exit, NULL);
	if (!err)
		return 0;
	tracepoint_probe_unregister(tp_sys_enter, probe_sys_enter, NULL);
	tracepoint_synchronize_unregister();
fail_arch:
#ifdef PORTAL_ARCH_HAS_INIT
	portal_arch_exit();
#endif
	return err;
}

/*
 * Detaches the probes and waits until none runs.  A task between the
 * sys_enter and sys_exit of a skip completed at exit (PORTAL_ARCH_SKIP_AT_EXIT)
 * at this moment returns the kernel's ENOSYS instead of the chosen value.
 */
void __exit portal_probes_unregister(void)
{
	tracepoint_probe_unregister(tp_sys_enter, probe_sys_enter, NULL);
	tracepoint_probe_unregister(tp_sys_exit, probe_sys_exit, NULL);
	tracepoint_synchronize_unregister();
#ifdef PORTAL_ARCH_HAS_INIT
	portal_arch_exit();
#endif
}
