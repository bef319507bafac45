// SPDX-License-Identifier: GPL-2.0
/*
 * Verdicts (protocol.md §4.2): validated whole on a private copy, then
 * applied (the writes, then the registers) and reported in the slot.
 */
#include <linux/bits.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <asm/unaligned.h>

#include "portal.h"

/* What the guest tells the host about a verdict it accepted (§4.2). */
struct portal_report {
	u32 status;		/* PORTAL_REPORT_APPLIED or _REJECTED */
	u32 failures;		/* write entries that did not complete */
	u64 mask;		/* bit i: entry i failed (i < 64) */
	u32 first_written;	/* bytes the first failing entry wrote */
};

/*
 * Writes the slot's verdict report for event_id: the fields, then (release)
 * report_event.  The host reads the report once report_event is the id it
 * answered, and before it answers another event on the slot, so the fields
 * cannot change under it.
 */
static void verdict_report(struct portal_slot *s, u64 event_id,
			   const struct portal_report *rep)
{
	win_st32(s->w + PORTAL_SLOT_REPORT_STATUS, rep->status);
	win_st32(s->w + PORTAL_SLOT_REPORT_FAILURES, rep->failures);
	win_st64(s->w + PORTAL_SLOT_REPORT_MASK, rep->mask);
	win_st32(s->w + PORTAL_SLOT_REPORT_WRITTEN, rep->first_written);
	/* release: pairs with the host's acquire of report_event */
	win_st64_release(s->w + PORTAL_SLOT_REPORT_EVENT, event_id);
}

/* Whether every write entry (header + data) lies within the size bytes of v. */
static bool verdict_writes_fit(const u8 *v, u64 size, u32 count)
{
	u64 off = PORTAL_VD_WRITES;
	u32 i;

	for (i = 0; i < count; i++) {
		u32 n;

		if (off > size || size - off < PORTAL_VD_WR_HDR)
			return false;
		n = get_unaligned_le32(v + off + PORTAL_VD_WR_SIZE);
		if (n > size - off - PORTAL_VD_WR_HDR)
			return false;
		off += PORTAL_VD_WR_HDR + ALIGN((u64)n, 8);
	}
	return true;
}

/* Applies the count write entries of v, each independent of the others. */
static void verdict_writes(const u8 *v, u32 count, struct portal_report *rep)
{
	u64 off = PORTAL_VD_WRITES;
	u32 i;

	for (i = 0; i < count; i++) {
		u64 addr = get_unaligned_le64(v + off + PORTAL_VD_WR_ADDR);
		u32 n = get_unaligned_le32(v + off + PORTAL_VD_WR_SIZE);
		size_t written = portal_user_write(addr, v + off + PORTAL_VD_WR_HDR, n);

		if (written != n) {
			stat_inc(PORTAL_STAT_VERDICT_WRITE_FAULTS);
			if (!rep->failures++)
				rep->first_written = written;
			if (i < PORTAL_REPORT_MASK_BITS)
				rep->mask |= BIT_ULL(i);
		}
		off += PORTAL_VD_WR_HDR + ALIGN((u64)n, 8);
	}
}

/*
 * A function hook's verdict (§4.6).  On entry SET_ARGS replaces arguments;
 * those the convention puts on the stack (armel, mipsel) are written there,
 * and one that cannot be is a failed verdict write: counted in
 * verdict_write_faults and write_failures (it has no write entry, so no
 * bit in failed_mask).  On return SET_RETVAL replaces the return value.
 * Everything else is invalid there and ignored; a function is never
 * skipped.
 */
static void verdict_func_regs(const u8 *v, struct portal_held *held,
			      u32 flags, struct portal_report *rep)
{
	u32 mask = get_unaligned_le32(v + PORTAL_VD_ARG_MASK);
	u32 i;

	if (held->phase == PORTAL_PHASE_FUNC_RETURN) {
		if (flags & PORTAL_VD_SET_RETVAL)
			portal_arch_func_set_retval(held->regs,
				(s64)get_unaligned_le64(v + PORTAL_VD_RETVAL));
		return;
	}
	for (i = 0; i < PORTAL_SYSCALL_ARGS && (flags & PORTAL_VD_SET_ARGS); i++) {
		u64 arg = get_unaligned_le64(v + PORTAL_VD_ARGS + 8 * i);

		if (!(mask & BIT(i)) ||
		    !portal_arch_func_set_arg(held->regs, i, arg))
			continue;
		stat_inc(PORTAL_STAT_VERDICT_WRITE_FAULTS);
		rep->failures++;
	}
}

/*
 * Applies v's register changes; returns true if the syscall was skipped.
 * A skip the architecture cannot record (portal_arch.h) leaves the call to
 * run: counted in skips_failed and reported as rejected.
 */
static bool verdict_regs(const u8 *v, struct portal_held *held, u32 flags,
			 struct portal_report *rep)
{
	u32 mask = get_unaligned_le32(v + PORTAL_VD_ARG_MASK);
	s64 retval = (s64)get_unaligned_le64(v + PORTAL_VD_RETVAL);
	u32 i;

	BUILD_BUG_ON(PORTAL_VD_ARGS + 8 * PORTAL_SYSCALL_ARGS >
		     PORTAL_VD_WRITE_COUNT);
	if (portal_phase_is_func(held->phase)) {
		verdict_func_regs(v, held, flags, rep);
		return false;
	}
	if (held->phase == PORTAL_PHASE_ENTER) {
		/* SET_RETVAL without SKIP is invalid on enter: ignored */
		for (i = 0; i < PORTAL_SYSCALL_ARGS && (flags & PORTAL_VD_SET_ARGS); i++) {
			u64 arg = get_unaligned_le64(v + PORTAL_VD_ARGS + 8 * i);

			if (mask & BIT(i))
				portal_arch_set_arg(held->regs, i, arg);
		}
		if (flags & PORTAL_VD_SKIP) {
			if (portal_arch_skip(held->regs, retval))
				return true;
			stat_inc(PORTAL_STAT_SKIPS_FAILED);
			rep->status = PORTAL_REPORT_REJECTED;
			pr_warn_ratelimited("skip of syscall %d (pid %d) failed: no free skip record\n",
					    (int)syscall_get_nr(current, held->regs),
					    task_pid_nr(current));
		}
	} else if (flags & PORTAL_VD_SET_RETVAL) {
		/* SKIP and SET_ARGS are invalid on return: ignored */
		portal_arch_set_retval(held->regs, retval);
	}
	return false;
}

/*
 * Applies a VERDICT (§4.2) and reports how it went.  The verdict is copied
 * to the slot's scratch page first, so that a host changing the region
 * meanwhile cannot make us use a write list other than the one validated.
 * Returns true if the syscall was skipped (no further hooks).
 */
bool portal_verdict(struct portal_slot *s, struct portal_held *held)
{
	u64 size = win_ld64(s->r + PORTAL_REG_SIZE);
	struct portal_report rep = { .status = PORTAL_REPORT_APPLIED };
	u8 *v = s->scratch;
	u32 flags, count;
	bool skipped;

	if (size < PORTAL_VD_WRITES || size > PORTAL_CHUNK_SIZE)
		goto bad;
	memcpy(v, slot_data(s), size);
	flags = get_unaligned_le32(v + PORTAL_VD_FLAGS);
	count = get_unaligned_le32(v + PORTAL_VD_WRITE_COUNT);
	if (flags & ~PORTAL_VD_KNOWN_FLAGS)
		goto bad;
	/* every entry (header + data) must lie within size */
	if (!verdict_writes_fit(v, size, count))
		goto bad;

	/* writes first, each independent of the others */
	verdict_writes(v, count, &rep);
	stat_inc(PORTAL_STAT_VERDICTS_APPLIED);
	skipped = verdict_regs(v, held, flags, &rep);
	verdict_report(s, held->event_id, &rep);
	return skipped;

bad:
	stat_inc(PORTAL_STAT_BAD_VERDICTS);
	rep.status = PORTAL_REPORT_REJECTED;
	verdict_report(s, held->event_id, &rep);
	return false;
}
