// SPDX-License-Identifier: GPL-2.0
/*
 * The window (protocol.md §5.1): a reserved range of guest physical memory,
 * memremapped, that holds a header and the slots; and the slot handover
 * steps that are not on the spin paths (those are inline in portal.h).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/errno.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "portal.h"

static void *win;		/* the memremapped window */
static bool win_claimed;
u32 portal_slot_count;		/* including the control slot */
struct portal_slot *portal_slots;

/* The window must fit a header and two slots and be reserved, not RAM. */
static int __init window_check(void)
{
	unsigned long phys = portal_window_phys, size = portal_window_size;

	/* The host alone knows where it keeps the window (Portal.Qemu's GuestMachine). */
	if (!phys) {
		pr_err("no window_phys= given (the host passes portal.window_phys=)\n");
		return -EINVAL;
	}
	if (size < PORTAL_WIN_HDR_SIZE + 2 * PORTAL_SLOT_STRIDE ||
	    !PAGE_ALIGNED(phys)) {
		pr_err("bad window %#lx+%#lx\n", phys, size);
		return -EINVAL;
	}
	/* memremap() would happily map live RAM: insist on a reserved range */
	if (region_intersects(phys, size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("window %#lx+%#lx is System RAM: boot with memmap=%luK$%#lx\n",
		       phys, size, size >> 10, phys);
		return -EINVAL;
	}
	return 0;
}

/* The private state of every slot that fits, up to one per possible CPU. */
static int __init slots_create(void)
{
	unsigned long max_slots;
	unsigned int i;

	max_slots = (portal_window_size - PORTAL_WIN_HDR_SIZE) / PORTAL_SLOT_STRIDE;
	portal_slot_count = min_t(unsigned long, nr_cpu_ids + 1, max_slots);
	if (portal_slot_count < nr_cpu_ids + 1)
		pr_warn("window holds %u slots: CPUs %u.. get no events\n",
			portal_slot_count, portal_slot_count - 1);
	portal_slots = kcalloc(portal_slot_count, sizeof(*portal_slots),
			       GFP_KERNEL);
	if (!portal_slots)
		return -ENOMEM;
	for (i = 0; i < portal_slot_count; i++) {
		struct portal_slot *s = &portal_slots[i];

		s->w = win + PORTAL_WIN_HDR_SIZE + i * PORTAL_SLOT_STRIDE;
		s->r = s->w + PORTAL_SLOT_REGION;
		s->next_event = 1;
		if (i == 0)
			continue;
		s->scratch = kmalloc(PAGE_SIZE, GFP_KERNEL);
		s->batch = portal_batch_alloc();
		if (!s->scratch || !s->batch)
			return -ENOMEM;
	}
	return 0;
}

/* Lays out the header (§5.1), state 0 (not ready). */
static void __init window_reset(void)
{
	/* not ready; everything but the host's session word starts at zero */
	win_st32(win + PORTAL_WIN_OFF_STATE, PORTAL_STATE_NOT_READY);
	smp_wmb();	/* state 0 is visible before the header changes */
	memset(win, 0, PORTAL_WIN_OFF_SESSION);
	memset(win + PORTAL_WIN_OFF_SESSION + 8, 0,
	       PORTAL_WIN_HDR_SIZE - PORTAL_WIN_OFF_SESSION - 8);
	memset(win + PORTAL_WIN_HDR_SIZE, 0,
	       (size_t)portal_slot_count * PORTAL_SLOT_STRIDE);
	memcpy(win + PORTAL_WIN_OFF_MAGIC, PORTAL_WIN_MAGIC, 8);
	win_st32(win + PORTAL_WIN_OFF_VERSION, PORTAL_PROTOCOL_VERSION);
	win_st32(win + PORTAL_WIN_OFF_SLOTS, portal_slot_count);
	win_st32(win + PORTAL_WIN_OFF_STRIDE, PORTAL_SLOT_STRIDE);
}

/*
 * Maps the window, sets up the slots and writes the header, not ready yet.
 * On failure the caller undoes what was done with portal_window_abort().
 */
int __init portal_window_create(void)
{
	unsigned long phys = portal_window_phys, size = portal_window_size;
	int err;

	err = window_check();
	if (err)
		return err;
	win_claimed = request_mem_region(phys, size, "portal");
	if (!win_claimed)
		pr_warn("could not claim %#lx+%#lx, using it anyway\n",
			phys, size);
	win = memremap(phys, size, MEMREMAP_WB);
	if (!win) {
		pr_err("memremap %#lx+%#lx failed\n", phys, size);
		return -ENOMEM;
	}
	err = slots_create();
	if (err)
		return err;
	window_reset();
	return 0;
}

/* Frees the slots and unmaps the window, whatever was set up. */
void portal_window_destroy(void)
{
	unsigned int i;

	if (portal_slots) {
		for (i = 0; i < portal_slot_count; i++) {
			kfree(portal_slots[i].scratch);
			kfree(portal_slots[i].batch);
		}
		kfree(portal_slots);
		portal_slots = NULL;
	}
	if (win) {
		memunmap(win);
		win = NULL;
	}
	if (win_claimed) {
		release_mem_region(portal_window_phys, portal_window_size);
		win_claimed = false;
	}
}

/* A load that failed: the window, if mapped, is left not ready. */
void __init portal_window_abort(void)
{
	if (win)
		win_st32(win + PORTAL_WIN_OFF_STATE, PORTAL_STATE_NOT_READY);
	portal_window_destroy();
}

/* Sets the header's state with release: everything written before is seen. */
void portal_window_publish(u32 state)
{
	smp_store_release((__le32 *)(win + PORTAL_WIN_OFF_STATE),
			  cpu_to_le32(state));
}

/* §5.3: gives event_id up; the slot keeps off the region until acked. */
void portal_slot_abandon(struct portal_slot *s, u64 event_id)
{
	s->abandoned = event_id;
	/* release: the region is the host's last view of the event */
	win_st64_release(s->w + PORTAL_SLOT_ABANDONED, event_id);
}

/* True while the slot waits for the host to acknowledge an abandonment. */
bool portal_slot_abandoned(struct portal_slot *s)
{
	if (!s->abandoned)
		return false;
	/* acquire: the host stops touching the region before it acks */
	if (win_ld64_acquire(s->w + PORTAL_SLOT_HOST_ACK) != s->abandoned)
		return true;
	s->abandoned = 0;	/* acknowledged: the slot is ours again */
	return false;
}
