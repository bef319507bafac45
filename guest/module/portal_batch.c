// SPDX-License-Identifier: GPL-2.0
/*
 * BATCH (§3.3), in two passes over a private copy of the request: the host
 * may change the region while we work, so nothing is read from it after the
 * copy.  The first pass validates every entry and sizes the response for the
 * worst case (every read at its full size) before anything runs, so a
 * malformed or oversized request has no side effects.  The second pass runs
 * the entries in order and builds the results in a private buffer (CHASE
 * pointers are taken from there, not from memory the host can change), which
 * is copied to the region at the end.
 */
#include <linux/errno.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <asm/unaligned.h>

#include "portal.h"

/*
 * BATCH working memory of one vCPU slot, allocated at load: the serve path
 * runs in atomic context and cannot allocate.
 */
struct portal_batch {
	u8 req[PORTAL_CHUNK_SIZE];	/* private copy of the request */
	u8 res[PORTAL_CHUNK_SIZE];	/* the results, copied out at the end */
	u16 ent[PORTAL_BATCH_MAX];	/* entry i's offset in req */
	u16 data[PORTAL_BATCH_MAX];	/* entry i's result data offset in res */
	u16 avail[PORTAL_BATCH_MAX];	/* bytes a CHASE may use: 0 unless OK */
};

struct portal_batch * __init portal_batch_alloc(void)
{
	return kmalloc(sizeof(struct portal_batch), GFP_KERNEL);
}

/* The ops an entry may carry, and with which flags. */
static bool batch_op_valid(u16 op, u16 flags)
{
	switch (op) {
	case PORTAL_OP_READ:
	case PORTAL_OP_WRITE:
	case PORTAL_OP_READ_STR:
		return true;
	case PORTAL_OP_READ_FD_NAME:
	case PORTAL_OP_READ_PROCARGS:
	case PORTAL_OP_READ_PROCENV:
	case PORTAL_OP_READ_PROCPID:
		/* CHASE applies to READ, WRITE and READ_STR only */
		return !(flags & PORTAL_BE_CHASE);
	}
	return false;
}

/*
 * Checks entry i, at e with room bytes of the request left from there.
 * Returns its length in the request, or -EINVAL; adds the worst case of its
 * result to *need.
 */
static int batch_check_entry(const u8 *e, u32 i, u64 room, u64 *need)
{
	u16 op, flags;
	u32 n;

	if (room < PORTAL_BE_HDR)
		return -EINVAL;
	op = get_unaligned_le16(e + PORTAL_BE_OP);
	flags = get_unaligned_le16(e + PORTAL_BE_FLAGS);
	n = get_unaligned_le32(e + PORTAL_BE_SIZE);
	if (n > PORTAL_CHUNK_SIZE || (flags & ~PORTAL_BE_KNOWN_FLAGS) ||
	    get_unaligned_le16(e + PORTAL_BE_RESERVED))
		return -EINVAL;
	if (!batch_op_valid(op, flags))
		return -EINVAL;
	if (flags & PORTAL_BE_CHASE) {
		if (get_unaligned_le16(e + PORTAL_BE_BASE) >= i)
			return -EINVAL;
	} else if (get_unaligned_le16(e + PORTAL_BE_BASE) ||
		   get_unaligned_le32(e + PORTAL_BE_PTR_OFFSET)) {
		/* chase fields without CHASE: a confused host */
		return -EINVAL;
	}
	/* a WRITE's bytes and their padding must be there */
	if (op == PORTAL_OP_WRITE && ALIGN(n, 8) > room - PORTAL_BE_HDR)
		return -EINVAL;
	*need += PORTAL_BR_HDR + (op_returns_data(op) ? ALIGN(n, 8) : 0);
	return PORTAL_BE_HDR + (op == PORTAL_OP_WRITE ? ALIGN(n, 8) : 0);
}

/* The first pass: every entry valid, the worst case fits, entry offsets. */
static int batch_check(struct portal_batch *b, u32 count, u64 size)
{
	u64 off = 0, need = 0;
	u32 i;

	for (i = 0; i < count; i++) {
		/* off <= size <= PORTAL_CHUNK_SIZE throughout: no wrap */
		int len = batch_check_entry(b->req + off, i, size - off, &need);

		if (len < 0)
			return len;
		b->ent[i] = off;
		off += len;
	}
	/* size is exactly the entries: nothing may follow the last one */
	if (off != size)
		return -EINVAL;
	return need > PORTAL_CHUNK_SIZE ? -ENOSPC : 0;
}

/*
 * The address of CHASE entry e: the native pointer (size and byte order of
 * the guest) at ptr_offset in the base entry's result bytes, plus the signed
 * offset in addr.  False if the base did not succeed with those bytes.
 */
static bool batch_chase(const struct portal_batch *b, const u8 *e, u64 *addr)
{
	u16 base = get_unaligned_le16(e + PORTAL_BE_BASE);
	u32 po = get_unaligned_le32(e + PORTAL_BE_PTR_OFFSET);

	/* base is earlier (checked); avail is 0 unless it was OK */
	if ((u64)po + sizeof(unsigned long) > b->avail[base])
		return false;
	/* the sum wraps; a bad address simply faults */
	*addr += get_unaligned((const unsigned long *)(b->res + b->data[base] + po));
	return true;
}

static void batch_put_result(u8 *h, const struct portal_result *r)
{
	put_unaligned_le32(r->status, h + PORTAL_BR_STATUS);
	put_unaligned_le32(r->err, h + PORTAL_BR_ERRNO);
	put_unaligned_le32(r->count, h + PORTAL_BR_COUNT);
	put_unaligned_le32(r->extra, h + PORTAL_BR_EXTRA);
}

/* The second pass, entry i: its result goes at off in res; returns its length. */
static u32 batch_run(struct portal_slot *s, struct portal_batch *b, u32 i,
		     u32 off)
{
	const u8 *e = b->req + b->ent[i];
	u16 op = get_unaligned_le16(e + PORTAL_BE_OP);
	u32 n = get_unaligned_le32(e + PORTAL_BE_SIZE);
	u64 addr = get_unaligned_le64(e + PORTAL_BE_ADDR);
	u8 *h = b->res + off;
	struct portal_result r;
	u32 bytes = 0;

	b->data[i] = off + PORTAL_BR_HDR;
	b->avail[i] = 0;
	if ((get_unaligned_le16(e + PORTAL_BE_FLAGS) & PORTAL_BE_CHASE) &&
	    !batch_chase(b, e, &addr)) {
		result_set(&r, PORTAL_BS_SKIPPED, 0, 0, 0);
	} else {
		/*
		 * Room: the results so far take at most their worst
		 * case, and this one's (n bytes) was counted by
		 * batch_check(): off + PORTAL_BR_HDR + n <= 4072.
		 */
		portal_mem_op(&r, s, op, addr, n, h + PORTAL_BR_HDR,
			      e + PORTAL_BE_HDR);
		if (op_returns_data(op))
			bytes = min_t(u64, r.count, n);	/* <= n anyway */
		if (r.status == PORTAL_BS_OK)
			b->avail[i] = bytes;
	}
	batch_put_result(h, &r);
	/* zero the padding: no stale bytes of an earlier batch leak out */
	memset(h + PORTAL_BR_HDR + bytes, 0, ALIGN(bytes, 8) - bytes);
	return PORTAL_BR_HDR + ALIGN(bytes, 8);
}

/* BATCH on a slot that holds a syscall: count entries in size bytes. */
void portal_op_batch(struct portal_slot *s, u64 count, u64 size)
{
	struct portal_batch *b = s->batch;
	u32 i, off = 0;
	int err;

	if (!count || count > PORTAL_BATCH_MAX || size > PORTAL_CHUNK_SIZE)
		return region_respond(s, PORTAL_EXT_FAIL, EINVAL, 0);
	memcpy(b->req, slot_data(s), size);
	err = batch_check(b, count, size);
	if (err)
		return region_respond(s, PORTAL_EXT_FAIL, -err, 0);

	for (i = 0; i < count; i++)
		off += batch_run(s, b, i, off);
	memcpy(slot_data(s), b->res, off);
	region_respond(s, PORTAL_BATCH_OK, count, off);
}
