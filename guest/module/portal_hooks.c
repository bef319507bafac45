// SPDX-License-Identifier: GPL-2.0
/*
 * The hook table (protocol.md §4.3): the hooks the host registered, their
 * filters (on arguments, the return value, memory, and the calling process's
 * place in the process tree), and the per-phase bitmaps the probes test
 * first.  Function hooks (§4.6) live in the same table, with their own
 * phases, which no syscall matches; portal_uprobes.c owns their uprobes.
 */
#include <linux/bitmap.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/seqlock.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/unaligned.h>

#include "portal.h"

/* The header and filters; the data area is copied straight into the hook. */
#define PORTAL_DESC_MAX		(PORTAL_HD_ARG_FILTERS + \
				 PORTAL_HD_MAX_FILTERS * PORTAL_FLT_SIZE + \
				 PORTAL_HD_DATA_HDR)

/*
 * Concurrency scheme.  The table is changed by the control thread and, for a
 * HOOK_* request served inline, by a held probe (atomic context, possibly on
 * a one-vCPU guest where nothing else can run).  Both can run at the same
 * time on different CPUs, while other CPUs read the table from their probes.
 *
 * - Writers serialise on hooks_lock, a raw spinlock: it never sleeps and
 *   disables preemption, so a writer cannot be interrupted by a syscall probe
 *   on its own CPU (syscalls do not happen in interrupt context).
 * - Inside the lock, every change is bracketed by hooks_seq, a seqcount.
 *   Readers (the probes) never take the lock: they copy the entry they need
 *   inside a read_seqcount_begin/retry loop, retrying if a writer ran
 *   meanwhile, and evaluate the copy.  Nothing is freed, so no RCU grace
 *   period is needed and a writer never waits for readers.
 * - The per-phase bitmaps of hooked syscall numbers are rebuilt by the writer
 *   after every change.  The probes test them first, without any lock:
 *   that single bit test is the whole cost of a syscall that is not hooked.
 *   A stale bit only causes a table scan that finds nothing, or misses a
 *   syscall racing with its hook's registration.
 * - Hook ids increase and are never reused, so "registration order" is id
 *   order; a syscall only considers hooks with an id up to the highest one
 *   assigned when it started, so a hook registered by a handler does not
 *   fire for the syscall being handled.
 */
static DEFINE_RAW_SPINLOCK(hooks_lock);
static seqcount_raw_spinlock_t hooks_seq =
	SEQCNT_RAW_SPINLOCK_ZERO(hooks_seq, &hooks_lock);
static struct portal_hook hooks[PORTAL_MAX_HOOKS];
static u32 hooks_last_id;	/* highest id assigned */
unsigned long portal_hooked_enter[BITS_TO_LONGS(PORTAL_NR_BITS)] __read_mostly;
unsigned long portal_hooked_exit[BITS_TO_LONGS(PORTAL_NR_BITS)] __read_mostly;

/* Called with hooks_lock held. */
static void hooks_rebuild_maps(void)
{
	unsigned long en[BITS_TO_LONGS(PORTAL_NR_BITS)] = { 0 };
	unsigned long ex[BITS_TO_LONGS(PORTAL_NR_BITS)] = { 0 };
	unsigned int i;

	for (i = 0; i < PORTAL_MAX_HOOKS; i++) {
		const struct portal_hook *h = &hooks[i];
		long idx;

		if (!h->id || portal_phase_is_func(h->phase))
			continue;
		idx = portal_arch_nr_index(h->nr);
		if (idx < 0)
			continue;
		__set_bit(idx, h->phase == PORTAL_PHASE_ENTER ? en : ex);
	}
	for (i = 0; i < ARRAY_SIZE(en); i++) {
		WRITE_ONCE(portal_hooked_enter[i], en[i]);
		WRITE_ONCE(portal_hooked_exit[i], ex[i]);
	}
}

/* Whether [off, off + len) lies inside the hook's data area. */
static bool data_holds(const struct portal_hook *h, u64 off, u64 len)
{
	return off <= h->data_size && len <= h->data_size - off;
}

/* Memory filters (§4.3): pattern inside the data area, bounded lengths. */
static bool mem_filter_valid(const struct portal_hook *h,
			     const struct portal_filter *f)
{
	u32 len = PORTAL_MEM_LEN(f->b), window = PORTAL_MEM_WINDOW(f->b);

	if (f->b & ~PORTAL_MEM_KNOWN_BITS)
		return false;
	if (len < 1 || len > PORTAL_MEM_MAX_LEN ||
	    !data_holds(h, PORTAL_MEM_DATA_OFF(f->b), len))
		return false;
	if (f->kind == PORTAL_FLT_MEM_EQ)
		return window == 0 && !(f->b & PORTAL_MEM_STOP_AT_NUL);
	return window >= len && window <= PORTAL_MEM_MAX_WINDOW;
}

/*
 * Scope filters (§4.3): about the calling process, so argument filters only,
 * with arg 0; a subtree's root is a possible tgid, a set lies in the data area.
 */
static bool scope_filter_valid(const struct portal_hook *h,
			       const struct portal_filter *f)
{
	if (f->arg != 0)
		return false;
	if (f->kind == PORTAL_FLT_TASK_IN_SET)
		return f->b >= 1 && f->b <= PORTAL_SET_MAX &&
		       data_holds(h, f->a, 8 * f->b);
	return f->b == 0 && f->a >= 1 && f->a <= PORTAL_SCOPE_MAX_ROOT;
}

static bool filter_kind_valid(const struct portal_hook *h,
			      const struct portal_filter *f, bool retval)
{
	switch (f->kind) {
	case PORTAL_FLT_EQ:
	case PORTAL_FLT_NE:
	case PORTAL_FLT_MASK_SET:
	case PORTAL_FLT_MASK_CLEAR:
		return true;
	case PORTAL_FLT_RANGE:
		return f->a <= f->b;
	case PORTAL_FLT_SRANGE:
	case PORTAL_FLT_OUT_SRANGE:
		return (s64)f->a <= (s64)f->b;
	case PORTAL_FLT_IN_SET:
		return f->b >= 1 && f->b <= PORTAL_SET_MAX &&
		       data_holds(h, f->a, 8 * f->b);
	case PORTAL_FLT_MEM_EQ:
	case PORTAL_FLT_MEM_CONTAINS:
		return !retval && mem_filter_valid(h, f);
	case PORTAL_FLT_TASK_SUBTREE:
	case PORTAL_FLT_NOT_SUBTREE:
	case PORTAL_FLT_TASK_IN_SET:
		return !retval && scope_filter_valid(h, f);
	}
	return false;
}

static void filter_parse(const u8 *p, struct portal_filter *f)
{
	f->arg = get_unaligned_le32(p + PORTAL_FLT_ARG);
	f->kind = get_unaligned_le32(p + PORTAL_FLT_KIND);
	f->a = get_unaligned_le64(p + PORTAL_FLT_A);
	f->b = get_unaligned_le64(p + PORTAL_FLT_B);
}

/* The retval filter, if any, and the argument filters of a hook being parsed. */
static int hook_parse_filters(const u8 *d, struct portal_hook *h)
{
	unsigned int i;

	if (h->flags & PORTAL_HD_RETVAL_FILTER_FLAG) {
		if (!portal_phase_has_retval(h->phase))
			return -EINVAL;
		filter_parse(d + PORTAL_HD_RETVAL_FILTER, &h->retval);
		h->retval.arg = 0;
		if (!filter_kind_valid(h, &h->retval, true))
			return -EINVAL;
	}
	for (i = 0; i < h->nfilters; i++) {
		struct portal_filter *f = &h->args[i];

		filter_parse(d + PORTAL_HD_ARG_FILTERS + i * PORTAL_FLT_SIZE, f);
		if (f->arg >= PORTAL_SYSCALL_ARGS ||
		    !filter_kind_valid(h, f, false))
			return -EINVAL;
	}
	return 0;
}

/*
 * The data area (flag bit 3), copied from the region once, into the hook:
 * the filters are validated against this copy, never the region.
 */
static int hook_parse_data(const u8 *d, const u8 *region, u64 size,
			   struct portal_hook *h)
{
	u64 at = PORTAL_HD_ARG_FILTERS + (u64)PORTAL_FLT_SIZE * h->nfilters;

	if (!(h->flags & PORTAL_HD_DATA_FLAG))
		return 0;
	if (size < at + PORTAL_HD_DATA_HDR)
		return -EINVAL;
	h->data_size = get_unaligned_le32(d + at);
	if (h->data_size < 1 || h->data_size > PORTAL_HD_MAX_DATA ||
	    get_unaligned_le32(d + at + 4) ||
	    size < at + PORTAL_HD_DATA_HDR + h->data_size)
		return -EINVAL;
	memcpy(h->data, region + at + PORTAL_HD_DATA_HDR, h->data_size);
	return 0;
}

/* Where a function hook's file and offset are (§4.6). */
struct hook_target {
	u64 offset;		/* in the file */
	u32 path_len;
	u32 path_at;		/* the path's offset in the descriptor */
};

/*
 * The target of a function hook (flag bit 4, §4.6): after the filters, or
 * after the data area (padded to 8) when there is one; the descriptor ends
 * exactly with its path.  Its header is copied from the region once; the
 * path is left there for portal_uprobe_add() to copy.  Syscall hooks have
 * no target, function hooks must have one, with nr 0.
 */
static int hook_parse_target(const u8 *region, u64 size,
			     const struct portal_hook *h, struct hook_target *t)
{
	u64 at = PORTAL_HD_ARG_FILTERS + (u64)PORTAL_FLT_SIZE * h->nfilters;
	bool func = portal_phase_is_func(h->phase);
	u8 th[PORTAL_HT_PATH];

	if (!!(h->flags & PORTAL_HD_TARGET_FLAG) != func)
		return -EINVAL;
	if (!func)
		return 0;
	if (h->nr)
		return -EINVAL;
	if (h->flags & PORTAL_HD_DATA_FLAG)
		at += PORTAL_HD_DATA_HDR + ALIGN((u64)h->data_size, 8);
	if (size < at + PORTAL_HT_PATH)
		return -EINVAL;
	memcpy(th, region + at, sizeof(th));
	t->offset = get_unaligned_le64(th + PORTAL_HT_OFFSET);
	t->path_len = get_unaligned_le32(th + PORTAL_HT_PATH_LEN);
	if (t->path_len < 1 || t->path_len > PORTAL_HT_PATH_MAX ||
	    get_unaligned_le32(th + PORTAL_HT_RESERVED) ||
	    size != at + PORTAL_HT_PATH + t->path_len)
		return -EINVAL;
	t->path_at = at + PORTAL_HT_PATH;
	return 0;
}

/*
 * Parses and validates a hook descriptor (§4.3, §4.6); d holds
 * min(size, PORTAL_DESC_MAX) bytes copied from region.
 */
static int hook_parse(const u8 *d, const u8 *region, u64 size,
		      struct portal_hook *h, struct hook_target *t)
{
	unsigned int i;
	int err;

	memset(h, 0, sizeof(*h));
	if (size < PORTAL_HD_ARG_FILTERS || size > PORTAL_CHUNK_SIZE)
		return -EINVAL;
	h->nr = get_unaligned_le32(d + PORTAL_HD_NR);
	h->phase = get_unaligned_le32(d + PORTAL_HD_PHASE);
	h->flags = get_unaligned_le32(d + PORTAL_HD_FLAGS);
	h->nfilters = get_unaligned_le32(d + PORTAL_HD_ARG_COUNT);
	if (h->nfilters > PORTAL_HD_MAX_FILTERS ||
	    size < PORTAL_HD_ARG_FILTERS + (u64)PORTAL_FLT_SIZE * h->nfilters)
		return -EINVAL;
	if (h->phase != PORTAL_PHASE_ENTER && h->phase != PORTAL_PHASE_RETURN &&
	    !portal_phase_is_func(h->phase))
		return -EINVAL;
	if (h->flags & ~PORTAL_HD_KNOWN_FLAGS)
		return -EINVAL;
	h->pid = get_unaligned_le64(d + PORTAL_HD_PID);
	/* compared over 15 bytes, NUL-padded: drop anything after a NUL */
	for (i = 0; i < TASK_COMM_LEN - 1; i++) {
		h->comm[i] = d[PORTAL_HD_COMM + i];
		if (!h->comm[i])
			break;
	}
	err = hook_parse_data(d, region, size, h);
	if (!err)
		err = hook_parse_filters(d, h);
	return err ? err : hook_parse_target(region, size, h, t);
}

/* Adds a parsed hook; returns its id or -ENOSPC.  Atomic-safe. */
long portal_hook_add(const struct portal_hook *h)
{
	unsigned long flags;
	long ret = -ENOSPC;
	unsigned int i;

	raw_spin_lock_irqsave(&hooks_lock, flags);
	for (i = 0; i < PORTAL_MAX_HOOKS; i++) {
		if (hooks[i].id)
			continue;
		write_seqcount_begin(&hooks_seq);
		hooks[i] = *h;
		if (++hooks_last_id == 0)	/* 2^32 registrations: never */
			hooks_last_id = 1;
		hooks[i].id = hooks_last_id;
		write_seqcount_end(&hooks_seq);
		ret = hooks_last_id;
		hooks_rebuild_maps();
		break;
	}
	raw_spin_unlock_irqrestore(&hooks_lock, flags);
	return ret;
}

/*
 * Removes hook id (0 = all); returns the number removed.  Atomic-safe.  A
 * function hook's handlers stop delivering at once (they look their hook up
 * here); its uprobe is removed later, in process context.
 */
unsigned int portal_hook_remove(u64 id)
{
	unsigned int i, n = 0;
	unsigned long flags;
	bool func = false;

	raw_spin_lock_irqsave(&hooks_lock, flags);
	write_seqcount_begin(&hooks_seq);
	for (i = 0; i < PORTAL_MAX_HOOKS; i++) {
		if (!hooks[i].id || (id && hooks[i].id != id))
			continue;
		hooks[i].id = 0;
		func |= portal_phase_is_func(hooks[i].phase);
		n++;
	}
	write_seqcount_end(&hooks_seq);
	hooks_rebuild_maps();
	raw_spin_unlock_irqrestore(&hooks_lock, flags);
	if (func)
		portal_uprobes_reap();
	return n;
}

/* The highest id assigned so far: a syscall considers hooks up to it. */
u32 portal_hook_last_id(void)
{
	return READ_ONCE(hooks_last_id);
}

/*
 * Copies the hook with the lowest id in (after, upto] for nr and phase.
 * Lock-free; see the concurrency scheme above.
 */
bool portal_hook_next(u32 nr, u32 phase, u32 after, u32 upto,
		      struct portal_hook *out)
{
	unsigned int seq, i;
	int best;

	do {
		seq = read_seqcount_begin(&hooks_seq);
		best = -1;
		for (i = 0; i < PORTAL_MAX_HOOKS; i++) {
			const struct portal_hook *h = &hooks[i];
			u32 id = h->id;

			if (!id || id <= after || id > upto || h->nr != nr ||
			    h->phase != phase)
				continue;
			if (best < 0 || id < hooks[best].id)
				best = i;
		}
		if (best >= 0)
			*out = hooks[best];
	} while (read_seqcount_retry(&hooks_seq, seq));
	return best >= 0;
}

/*
 * Copies hook id if it is in the table (out may be NULL: only whether it is).
 * Lock-free, like portal_hook_next().
 */
bool portal_hook_get(u32 id, struct portal_hook *out)
{
	unsigned int seq, i;
	int found;

	if (!id)
		return false;
	do {
		seq = read_seqcount_begin(&hooks_seq);
		found = -1;
		for (i = 0; i < PORTAL_MAX_HOOKS; i++) {
			if (hooks[i].id == id) {
				found = i;
				break;
			}
		}
		if (found >= 0 && out)
			*out = hooks[found];
	} while (read_seqcount_retry(&hooks_seq, seq));
	return found >= 0;
}

static bool set_contains(const struct portal_hook *h,
			 const struct portal_filter *f, u64 x)
{
	u32 i, n = min_t(u64, f->b, PORTAL_SET_MAX);

	if (!data_holds(h, f->a, 8 * (u64)n))
		return false;
	for (i = 0; i < n; i++)
		if (get_unaligned_le64(h->data + f->a + 8 * i) == x)
			return true;
	return false;
}

/*
 * Whether the calling process is root or one of its descendants at most
 * PORTAL_SCOPE_MAX_DEPTH generations below it (§4.3, kind 11).  Processes are
 * thread groups: a thread's real_parent is its process's parent, so comparing
 * tgids on the way up treats every thread of a process alike.  The walk
 * follows real_parent, which the kernel changes when a parent dies: an orphan
 * reparented to init (or a subreaper) has left the subtree.  The probe is
 * atomic: the ancestors are read under RCU, which keeps every task_struct on
 * the way valid (they are freed after a grace period); the walk is bounded,
 * and stops at init (tgid 1) and the idle task (0), whose parent is itself.
 */
static bool task_in_subtree(u64 root)
{
	const struct task_struct *t;
	unsigned int generation;
	bool found = false;

	rcu_read_lock();
	t = current;
	for (generation = 0; generation <= PORTAL_SCOPE_MAX_DEPTH; generation++) {
		pid_t tgid = t->tgid;

		if ((u64)tgid == root) {
			found = true;
			break;
		}
		if (tgid <= 1)
			break;
		t = rcu_dereference(t->real_parent);
	}
	rcu_read_unlock();
	return found;
}

/*
 * Up to n bytes of a string at addr, stopping at its NUL (not counted).  Page
 * by page, so a short string at the end of a mapping reads although the
 * window reaches past it (strncpy_from_user_nofault is not exported).
 */
static long mem_read_string(unsigned long addr, u8 *buf, u32 n)
{
	u32 done = 0;

	while (done < n) {
		unsigned long at = addr + done;
		u32 chunk = min_t(u32, n - done, PAGE_SIZE - (at & ~PAGE_MASK));
		const u8 *nul;

		if (copy_from_user_nofault(buf + done, (const void __user *)at,
					   chunk))
			return -EFAULT;
		nul = memchr(buf + done, 0, chunk);
		if (nul)
			return nul - buf;
		done += chunk;
	}
	return n;
}

/*
 * Reads the bytes a memory filter looks at: nofault, so a page that is not
 * resident fails instead of sleeping (the probe is atomic).  Returns the
 * number of bytes read into buf (with stop-at-NUL: up to the NUL), or
 * -EFAULT.
 */
static long mem_filter_read(const struct portal_filter *f, u64 x, u8 *buf,
			    u32 n)
{
	unsigned long addr = (unsigned long)x;

	if (f->b & PORTAL_MEM_DEREF) {
		unsigned long p;

		addr += (long)(s32)(f->a >> 32);
		if (copy_from_user_nofault(&p, (const void __user *)addr,
					   sizeof(p)))
			return -EFAULT;
		addr = p;
	}
	addr += (long)(s32)f->a;
	if (f->b & PORTAL_MEM_STOP_AT_NUL)
		return mem_read_string(addr, buf, n);
	if (copy_from_user_nofault(buf, (const void __user *)addr, n))
		return -EFAULT;
	return n;
}

/* 1 match, 0 no match, -EFAULT the memory could not be read. */
static noinline int mem_filter_match(const struct portal_hook *h,
				     const struct portal_filter *f, u64 x)
{
	u32 len = PORTAL_MEM_LEN(f->b), off = PORTAL_MEM_DATA_OFF(f->b);
	u8 buf[PORTAL_MEM_MAX_WINDOW];
	const u8 *pattern;
	long got, i;

	if (len < 1 || len > PORTAL_MEM_MAX_LEN || !data_holds(h, off, len))
		return 0;
	pattern = h->data + off;
	if (f->kind == PORTAL_FLT_MEM_EQ) {
		got = mem_filter_read(f, x, buf, len);
		if (got < 0)
			return got;
		return got == len && !memcmp(buf, pattern, len);
	}
	got = mem_filter_read(f, x, buf,
			      clamp_t(u32, PORTAL_MEM_WINDOW(f->b), len,
				      PORTAL_MEM_MAX_WINDOW));
	if (got < 0)
		return got;
	/* the first byte decides most positions: no call for those */
	for (i = 0; i + len <= got; i++)
		if (buf[i] == pattern[0] && !memcmp(buf + i, pattern, len))
			return 1;
	return 0;
}

static bool filter_match(const struct portal_hook *h,
			 const struct portal_filter *f, u64 x, s64 s)
{
	switch (f->kind) {
	case PORTAL_FLT_EQ:
		return x == f->a;
	case PORTAL_FLT_NE:
		return x != f->a;
	case PORTAL_FLT_RANGE:
		return f->a <= x && x <= f->b;
	case PORTAL_FLT_SRANGE:
		return (s64)f->a <= s && s <= (s64)f->b;
	case PORTAL_FLT_MASK_SET:
		return (x & f->a) == f->a;
	case PORTAL_FLT_MASK_CLEAR:
		return (x & f->a) == 0;
	case PORTAL_FLT_IN_SET:
		return set_contains(h, f, x);
	case PORTAL_FLT_OUT_SRANGE:
		return s < (s64)f->a || s > (s64)f->b;
	case PORTAL_FLT_TASK_SUBTREE:
		return task_in_subtree(f->a);
	case PORTAL_FLT_NOT_SUBTREE:
		return !task_in_subtree(f->a);
	case PORTAL_FLT_TASK_IN_SET:
		return set_contains(h, f, (u64)current->tgid);
	case PORTAL_FLT_MEM_EQ:
	case PORTAL_FLT_MEM_CONTAINS: {
		int m = mem_filter_match(h, f, x);

		if (m < 0)
			stat_inc(PORTAL_STAT_FILTER_FAULTS);
		return m > 0;
	}
	}
	return false;
}

static inline bool is_mem_filter(const struct portal_filter *f)
{
	return f->kind == PORTAL_FLT_MEM_EQ || f->kind == PORTAL_FLT_MEM_CONTAINS;
}

static inline s64 sext_reg(u64 x)
{
	return PORTAL_REG_BITS == 64 ? (s64)x : (s64)(s32)x;
}

/* current->comm, NUL-padded to 16 bytes (it may change under us). */
void portal_task_comm16(char out[TASK_COMM_LEN])
{
	bool end = false;
	unsigned int i;

	for (i = 0; i < TASK_COMM_LEN; i++) {
		char c = end ? 0 : READ_ONCE(current->comm[i]);

		end = !c;
		out[i] = c;
	}
	out[TASK_COMM_LEN - 1] = 0;
}

/* Whether the current syscall passes h's filters: pid, comm, retval, args. */
bool portal_hook_match(const struct portal_hook *h,
		       const u64 args[PORTAL_SYSCALL_ARGS], s64 retval)
{
	unsigned int i;

	if ((h->flags & PORTAL_HD_PID_FILTER) && h->pid != (u64)current->tgid)
		return false;
	if (h->flags & PORTAL_HD_COMM_FILTER) {
		char comm[TASK_COMM_LEN];

		portal_task_comm16(comm);
		if (memcmp(comm, h->comm, TASK_COMM_LEN - 1))
			return false;
	}
	if ((h->flags & PORTAL_HD_RETVAL_FILTER_FLAG) &&
	    !filter_match(h, &h->retval, (u64)retval, retval))
		return false;
	/*
	 * Register and scope filters first (a scope filter walks at most a few
	 * dozen task_structs): a memory read only for calls they let through.
	 */
	for (i = 0; i < min_t(u32, h->nfilters, PORTAL_HD_MAX_FILTERS); i++) {
		const struct portal_filter *f = &h->args[i];
		u64 x = args[f->arg % PORTAL_SYSCALL_ARGS];

		if (is_mem_filter(f))
			continue;
		if (!filter_match(h, f, x, sext_reg(x)))
			return false;
	}
	for (i = 0; i < min_t(u32, h->nfilters, PORTAL_HD_MAX_FILTERS); i++) {
		const struct portal_filter *f = &h->args[i];
		u64 x = args[f->arg % PORTAL_SYSCALL_ARGS];

		if (is_mem_filter(f) && !filter_match(h, f, x, sext_reg(x)))
			return false;
	}
	return true;
}

/* HOOK_REGISTER (§4.3, §4.6): the descriptor is in the region, size bytes. */
void portal_op_hook_register(struct portal_slot *s, u64 size)
{
	u8 desc[PORTAL_DESC_MAX];
	struct hook_target t = { 0 };
	struct portal_hook h;
	long id;

	/* validate a private copy: the host may change the region meanwhile */
	memcpy(desc, slot_data(s), min_t(u64, size, sizeof(desc)));
	if (hook_parse(desc, slot_data(s), size, &h, &t))
		return region_respond(s, PORTAL_EXT_FAIL, EINVAL, 0);
	if (portal_phase_is_func(h.phase)) {
		/*
		 * Placing a uprobe sleeps: only the control thread may, a
		 * vCPU slot is served where its task is held (§4.6).
		 */
		if (s != &portal_slots[0])
			return region_respond(s, PORTAL_EXT_FAIL, EPERM, 0);
		id = portal_uprobe_add(&h, t.offset, slot_data(s) + t.path_at,
				       t.path_len);
	} else {
		id = portal_hook_add(&h);
	}
	if (id < 0)
		return region_respond(s, PORTAL_EXT_FAIL, -id, 0);
	region_respond(s, PORTAL_EXT_OK, id, 0);
}
