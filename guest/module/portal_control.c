// SPDX-License-Identifier: GPL-2.0
/*
 * The control slot (slot 0): served by the portal-control kernel thread,
 * which polls host_seq.  It holds no syscall, so process-bound requests fail
 * there with ESRCH (portal_serve()).  Being a thread in process context, it
 * is the one place QUERY (portal_query.c), which sleeps, is served.
 */
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/minmax.h>
#include <linux/sched.h>

#include "portal.h"

static struct task_struct *control_task;

/* One request on the control slot. */
static void control_serve(struct portal_slot *s)
{
	if (win_ld64(s->r + PORTAL_REG_OP) == PORTAL_OP_VERDICT) {
		/* the control slot never holds an event */
		stat_inc(PORTAL_STAT_STALE_VERDICTS);
	} else {
		portal_serve(s, NULL);
		slot_post(s);
	}
}

/* Sleeps poll_sleep_us, or poll_idle_us once idle for poll_idle_ms. */
static void control_sleep(u64 last_active)
{
	u64 idle_ns = ktime_get_ns() - last_active;
	unsigned int us;

	if (idle_ns > (u64)READ_ONCE(portal_poll_idle_ms) * NSEC_PER_MSEC)
		us = READ_ONCE(portal_poll_idle_us);
	else
		us = READ_ONCE(portal_poll_sleep_us);
	us = clamp(us, 10U, 1000000U);
	usleep_range(us, us + us / 4);
}

/*
 * Hybrid polling: spin (yielding with cond_resched()) for poll_spin_ms after
 * the last request, so that a burst of requests is served in well under a
 * microsecond; then sleep-poll every poll_sleep_us; after poll_idle_ms without
 * a request, every poll_idle_us.  Each wake-up costs the host CPU time under
 * TCG, so an idle guest should wake rarely (see guest/README.md).
 */
static int portal_control(void *unused)
{
	struct portal_slot *s = &portal_slots[0];
	u32 seen = slot_host_seq(s);
	u64 last_active = ktime_get_ns();
	unsigned long spins = 0;
	bool spinning = true;

	while (!kthread_should_stop()) {
		u32 cur = slot_host_seq(s);

		if (cur != seen) {
			seen = cur;
			control_serve(s);
			last_active = ktime_get_ns();
			spinning = true;
			continue;
		}
		if (spinning) {
			cpu_relax();
			cond_resched();
			if (++spins % PORTAL_CLOCK_EVERY == 0 &&
			    ktime_get_ns() - last_active >
			    (u64)READ_ONCE(portal_poll_spin_ms) * NSEC_PER_MSEC)
				spinning = false;
			continue;
		}
		control_sleep(last_active);
	}
	return 0;
}

int __init portal_control_start(void)
{
	control_task = kthread_run(portal_control, NULL, "portal-control");
	if (IS_ERR(control_task)) {
		int err = PTR_ERR(control_task);

		control_task = NULL;
		return err;
	}
	return 0;
}

void portal_control_stop(void)
{
	kthread_stop(control_task);
	control_task = NULL;
}
