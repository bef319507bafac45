// SPDX-License-Identifier: GPL-2.0
/*
 * portal.ko - guest side of "Portal for .NET".
 *
 * Implements docs/protocol.md (version 1) over a window of guest physical
 * memory that the host can map (the guest RAM is a shared file on the host;
 * the host keeps the window out of System RAM on the kernel command line and
 * passes its address as portal.window_phys=, there being no default):
 *
 *  - slot 0 (control) is served by a kernel thread that polls host_seq,
 *    spinning for a short while after activity and sleep-polling otherwise;
 *  - slots 1..N belong to the vCPUs: when a native syscall matches a hook,
 *    the sys_enter / sys_exit tracepoint probe writes an EVENT into the slot
 *    of the vCPU it runs on, then spins (preemption is disabled in
 *    tracepoint probes, so the slot cannot change under it) until the host
 *    posts a VERDICT, serving every request inline in the context of the
 *    process that made the syscall, or until host_timeout_ms expires;
 *  - a syscall "stop" (its enter events, or its return events) holds its
 *    vCPU for at most hold_budget_ms in all, whatever the number of hooks:
 *    each event waits until the earlier of its own timeout and the stop's
 *    deadline, and a hook whose event would start after the deadline is not
 *    delivered (events_over_budget).  Neither a stop nor, on a kernel
 *    without full preemption, the syscall between its enter and return
 *    stops need pass through the scheduler, so a stop that finds its task
 *    not switched out since the last stop on its vCPU shares that stop's
 *    deadline: hold_budget_ms is the longest the probes keep a vCPU from
 *    scheduling (protocol.md §5.3), well under the soft-lockup threshold;
 *  - the guest reports the outcome of every verdict it accepts, its writes
 *    included, in the slot's verdict report (protocol.md §4.2);
 *  - function hooks (protocol.md §4.6) are uprobes whose handlers deliver
 *    events through the same path, on the slot of the vCPU that hit them.
 *
 * Nothing in the probe or request paths sleeps or allocates: user memory is
 * accessed with the *_nofault helpers, so pages that are not resident fail
 * with EFAULT instead of being faulted in.  The exception is QUERY
 * (portal_query.c), which only the control thread serves, in process
 * context.
 *
 * This file loads and unloads the module; portal.h says which file owns
 * what.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/utsname.h>

#include "portal.h"

/* ------------------------------------------------------------------------ */
/* Parameters                                                               */

unsigned long portal_window_phys;
module_param_named(window_phys, portal_window_phys, ulong, 0444);
MODULE_PARM_DESC(window_phys, "guest physical address of the window (required; the host chooses it)");

unsigned long portal_window_size = 1 << 20;
module_param_named(window_size, portal_window_size, ulong, 0444);
MODULE_PARM_DESC(window_size, "size of the window in bytes");

unsigned int portal_host_timeout_ms = 2000;
module_param_named(host_timeout_ms, portal_host_timeout_ms, uint, 0644);
MODULE_PARM_DESC(host_timeout_ms, "longest wait for a verdict, ms (capped at 10000)");

unsigned int portal_hold_budget_ms = 4000;
module_param_named(hold_budget_ms, portal_hold_budget_ms, uint, 0644);
MODULE_PARM_DESC(hold_budget_ms,
		 "longest a vCPU is held without scheduling, all events, ms (1..10000)");

unsigned int portal_poll_spin_ms = 20;
module_param_named(poll_spin_ms, portal_poll_spin_ms, uint, 0644);
MODULE_PARM_DESC(poll_spin_ms, "control thread: keep spinning this long after a request, ms");

unsigned int portal_poll_sleep_us = 1000;
module_param_named(poll_sleep_us, portal_poll_sleep_us, uint, 0644);
MODULE_PARM_DESC(poll_sleep_us, "control thread: sleep between polls after spinning, us");

unsigned int portal_poll_idle_ms = 1000;
module_param_named(poll_idle_ms, portal_poll_idle_ms, uint, 0644);
MODULE_PARM_DESC(poll_idle_ms, "control thread: idle this long, ms, before polling every poll_idle_us");

unsigned int portal_poll_idle_us = 20000;
module_param_named(poll_idle_us, portal_poll_idle_us, uint, 0644);
MODULE_PARM_DESC(poll_idle_us, "control thread: sleep between polls when long idle, us");

bool portal_unloading;

/* ------------------------------------------------------------------------ */
/* Statistics                                                               */

atomic64_t portal_stats[PORTAL_STAT_COUNT];

/* ------------------------------------------------------------------------ */
/* Load and unload                                                          */

static int __init portal_init(void)
{
	int err;

	err = portal_window_create();
	if (err)
		goto fail;
	err = portal_probes_find();
	if (err)
		goto fail;
	err = portal_control_start();
	if (err)
		goto fail;
	err = portal_probes_register();
	if (err)
		goto fail_thread;

	/* ready last (release): the host reads the header once it sees state 1 */
	portal_window_publish(PORTAL_STATE_READY);
	pr_info("ready: window %#lx+%#lx, %u slots, timeout %u ms, budget %u ms, %s\n",
		portal_window_phys, portal_window_size, portal_slot_count,
		portal_host_timeout_ms, portal_hold_budget_ms,
		init_utsname()->release);
	return 0;

fail_thread:
	portal_control_stop();
	portal_uprobes_release();
	portal_query_release();
fail:
	portal_window_abort();
	return err;
}

static void __exit portal_exit(void)
{
	/* release: a host seeing state 2 sees everything written before */
	portal_window_publish(PORTAL_STATE_UNLOADING);
	WRITE_ONCE(portal_unloading, true);	/* held syscalls stop waiting */
	portal_probes_unregister();
	portal_control_stop();
	/* no function hook handler runs past this, nor uses the window */
	portal_uprobes_release();
	portal_query_release();	/* the control thread held it */
	portal_window_destroy();
	pr_info("unloaded\n");
}

module_init(portal_init);
module_exit(portal_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Portal guest side: syscall interception and memory introspection");
