// SPDX-License-Identifier: GPL-2.0
/*
 * portal.ko - guest side of "Portal for .NET".
 *
 * Implements docs/protocol.md (version 1) over a window of guest physical
 * memory that the host can map (the guest RAM is a shared file on the host,
 * the window is reserved on the kernel command line with memmap=1M$192M):
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
 *    included, in the slot's verdict report (protocol.md §4.2).
 *
 * Nothing in the probe or request paths sleeps or allocates: user memory is
 * accessed with the *_nofault helpers, so pages that are not resident fail
 * with EFAULT instead of being faulted in.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/dcache.h>
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mm_types.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/seqlock.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <asm/unaligned.h>

#include "portal_proto.h"
#include "portal_arch.h"

/* ------------------------------------------------------------------------ */
/* Parameters                                                               */

static unsigned long window_phys = 0x0c000000;
module_param(window_phys, ulong, 0444);
MODULE_PARM_DESC(window_phys, "guest physical address of the window (reserved with memmap=)");

static unsigned long window_size = 1 << 20;
module_param(window_size, ulong, 0444);
MODULE_PARM_DESC(window_size, "size of the window in bytes");

static unsigned int host_timeout_ms = 2000;
module_param(host_timeout_ms, uint, 0644);
MODULE_PARM_DESC(host_timeout_ms, "longest wait for a verdict, ms (capped at 10000)");

static unsigned int hold_budget_ms = 4000;
module_param(hold_budget_ms, uint, 0644);
MODULE_PARM_DESC(hold_budget_ms,
		 "longest a vCPU is held without scheduling, all events, ms (1..10000)");

static unsigned int poll_spin_ms = 20;
module_param(poll_spin_ms, uint, 0644);
MODULE_PARM_DESC(poll_spin_ms, "control thread: keep spinning this long after a request, ms");

static unsigned int poll_sleep_us = 1000;
module_param(poll_sleep_us, uint, 0644);
MODULE_PARM_DESC(poll_sleep_us, "control thread: sleep between polls after spinning, us");

static unsigned int poll_idle_ms = 1000;
module_param(poll_idle_ms, uint, 0644);
MODULE_PARM_DESC(poll_idle_ms, "control thread: idle this long, ms, before polling every poll_idle_us");

static unsigned int poll_idle_us = 20000;
module_param(poll_idle_us, uint, 0644);
MODULE_PARM_DESC(poll_idle_us, "control thread: sleep between polls when long idle, us");

#define PORTAL_MAX_HOOKS	64
#define PORTAL_MAX_TIMEOUT_MS	10000	/* well under the soft-lockup limit */
#define PORTAL_CLOCK_EVERY	64	/* spins between clock reads while held */
#define PORTAL_DESC_MAX		(PORTAL_HD_ARG_FILTERS + \
				 PORTAL_HD_MAX_FILTERS * PORTAL_FLT_SIZE)

/* ------------------------------------------------------------------------ */
/* Window access                                                            */

static void *win;		/* the memremapped window */
static u32 slot_count;		/* including the control slot */
static bool win_claimed;
static bool portal_unloading;

/*
 * Private per-slot state.  Slot 0 is used only by the control thread; slot
 * i > 0 only by tracepoint probes running on CPU i - 1 with preemption
 * disabled, so no locking is needed.
 */
struct portal_slot {
	void *w;		/* the slot in the window */
	void *r;		/* its region */
	u32 guest_seq;		/* last value written to guest_seq */
	u64 next_event;		/* next event id */
	u64 abandoned;		/* event given up on, not yet acknowledged */
	void *scratch;		/* PAGE_SIZE bytes, vCPU slots only */
	struct portal_batch *batch;	/* vCPU slots only */
	/* the last stop's budget, for the per-vCPU bound (stop_deadline()) */
	const struct task_struct *stop_task;	/* compared, never dereferenced */
	pid_t stop_pid;
	unsigned long stop_switches;	/* its context switches then */
	u64 stop_deadline;		/* ktime_get_ns() */
};

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

static struct portal_slot *slots;

static inline u32 win_ld32(const void *p)
{
	return le32_to_cpu(READ_ONCE(*(const __le32 *)p));
}

static inline u64 win_ld64(const void *p)
{
	return le64_to_cpu(READ_ONCE(*(const __le64 *)p));
}

static inline void win_st32(void *p, u32 v)
{
	WRITE_ONCE(*(__le32 *)p, cpu_to_le32(v));
}

static inline void win_st64(void *p, u64 v)
{
	WRITE_ONCE(*(__le64 *)p, cpu_to_le64(v));
}

/* host_seq with acquire semantics: the region is read after it. */
static inline u32 slot_host_seq(struct portal_slot *s)
{
	/* acquire: pairs with the host's release of host_seq (§5.2) */
	return le32_to_cpu(smp_load_acquire((__le32 *)(s->w + PORTAL_SLOT_HOST_SEQ)));
}

/* Hands the region to the host: everything written before is visible. */
static inline void slot_post(struct portal_slot *s)
{
	s->guest_seq++;
	/* release: pairs with the host's acquire of guest_seq (§5.2) */
	smp_store_release((__le32 *)(s->w + PORTAL_SLOT_GUEST_SEQ),
			  cpu_to_le32(s->guest_seq));
}

static inline void *slot_data(struct portal_slot *s)
{
	return s->r + PORTAL_REG_DATA;
}

static void region_respond(struct portal_slot *s, u32 op, u64 addr, u64 size)
{
	win_st64(s->r + PORTAL_REG_ADDR, addr);
	win_st64(s->r + PORTAL_REG_SIZE, size);
	win_st64(s->r + PORTAL_REG_OP, op);
}

/* ------------------------------------------------------------------------ */
/* Statistics                                                               */

static atomic64_t stats[PORTAL_STAT_COUNT];

static inline void stat_inc(enum portal_stat i)
{
	atomic64_inc(&stats[i]);
}

/* ------------------------------------------------------------------------ */
/* Hook table                                                               */

struct portal_filter {
	u32 arg;
	u32 kind;
	u64 a;
	u64 b;
};

struct portal_hook {
	u32 id;			/* 0 = free entry */
	u32 nr;
	u32 phase;
	u32 flags;
	u32 nfilters;
	u64 pid;
	char comm[TASK_COMM_LEN];
	struct portal_filter retval;
	struct portal_filter args[PORTAL_HD_MAX_FILTERS];
};

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
static unsigned long hooked_enter[BITS_TO_LONGS(PORTAL_NR_BITS)] __read_mostly;
static unsigned long hooked_exit[BITS_TO_LONGS(PORTAL_NR_BITS)] __read_mostly;

/* Called with hooks_lock held. */
static void hooks_rebuild_maps(void)
{
	unsigned long en[BITS_TO_LONGS(PORTAL_NR_BITS)] = { 0 };
	unsigned long ex[BITS_TO_LONGS(PORTAL_NR_BITS)] = { 0 };
	unsigned int i;

	for (i = 0; i < PORTAL_MAX_HOOKS; i++) {
		const struct portal_hook *h = &hooks[i];
		long idx;

		if (!h->id)
			continue;
		idx = portal_arch_nr_index(h->nr);
		if (idx < 0)
			continue;
		__set_bit(idx, h->phase == PORTAL_PHASE_ENTER ? en : ex);
	}
	for (i = 0; i < ARRAY_SIZE(en); i++) {
		WRITE_ONCE(hooked_enter[i], en[i]);
		WRITE_ONCE(hooked_exit[i], ex[i]);
	}
}

static bool filter_kind_valid(const struct portal_filter *f)
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
		return (s64)f->a <= (s64)f->b;
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

/* Parses and validates a hook descriptor (§4.3); d holds min(size, PORTAL_DESC_MAX) bytes. */
static int hook_parse(const u8 *d, u64 size, struct portal_hook *h)
{
	unsigned int i;

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
	if (h->phase != PORTAL_PHASE_ENTER && h->phase != PORTAL_PHASE_RETURN)
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
	if (h->flags & PORTAL_HD_RETVAL_FILTER_FLAG) {
		if (h->phase != PORTAL_PHASE_RETURN)
			return -EINVAL;
		filter_parse(d + PORTAL_HD_RETVAL_FILTER, &h->retval);
		h->retval.arg = 0;
		if (!filter_kind_valid(&h->retval))
			return -EINVAL;
	}
	for (i = 0; i < h->nfilters; i++) {
		struct portal_filter *f = &h->args[i];

		filter_parse(d + PORTAL_HD_ARG_FILTERS + i * PORTAL_FLT_SIZE, f);
		if (f->arg > 5 || !filter_kind_valid(f))
			return -EINVAL;
	}
	return 0;
}

/* Adds a parsed hook; returns its id or -ENOSPC.  Atomic-safe. */
static long hook_add(const struct portal_hook *h)
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

/* Removes hook id (0 = all); returns the number removed.  Atomic-safe. */
static unsigned int hook_remove(u64 id)
{
	unsigned int i, n = 0;
	unsigned long flags;

	raw_spin_lock_irqsave(&hooks_lock, flags);
	write_seqcount_begin(&hooks_seq);
	for (i = 0; i < PORTAL_MAX_HOOKS; i++) {
		if (!hooks[i].id || (id && hooks[i].id != id))
			continue;
		hooks[i].id = 0;
		n++;
	}
	write_seqcount_end(&hooks_seq);
	hooks_rebuild_maps();
	raw_spin_unlock_irqrestore(&hooks_lock, flags);
	return n;
}

/*
 * Copies the hook with the lowest id in (after, upto] for nr and phase.
 * Lock-free; see the concurrency scheme above.
 */
static bool hook_next(u32 nr, u32 phase, u32 after, u32 upto,
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

static bool filter_match(const struct portal_filter *f, u64 x, s64 s)
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
	}
	return false;
}

static inline s64 sext_reg(u64 x)
{
	return PORTAL_REG_BITS == 64 ? (s64)x : (s64)(s32)x;
}

/* current->comm, NUL-padded to 16 bytes (it may change under us). */
static void task_comm16(char out[TASK_COMM_LEN])
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

static bool hook_match(const struct portal_hook *h, const u64 args[6],
		       s64 retval)
{
	unsigned int i;

	if ((h->flags & PORTAL_HD_PID_FILTER) && h->pid != (u64)current->tgid)
		return false;
	if (h->flags & PORTAL_HD_COMM_FILTER) {
		char comm[TASK_COMM_LEN];

		task_comm16(comm);
		if (memcmp(comm, h->comm, TASK_COMM_LEN - 1))
			return false;
	}
	if ((h->flags & PORTAL_HD_RETVAL_FILTER_FLAG) &&
	    !filter_match(&h->retval, (u64)retval, retval))
		return false;
	for (i = 0; i < min_t(u32, h->nfilters, PORTAL_HD_MAX_FILTERS); i++) {
		const struct portal_filter *f = &h->args[i];
		u64 x = args[f->arg % 6];

		if (!filter_match(f, x, sext_reg(x)))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------------ */
/* User memory (current task, atomic context)                               */

/* Bytes copied from user memory before the first fault. */
static size_t user_read(void *dst, u64 uaddr, size_t n)
{
	unsigned long a = (unsigned long)uaddr;
	size_t done = 0;

	if ((u64)a != uaddr)
		return 0;
	if (!copy_from_user_nofault(dst, (const void __user *)a, n))
		return n;
	while (done < n) {
		size_t chunk = min_t(size_t, n - done,
				     PAGE_SIZE - offset_in_page(a + done));

		if (copy_from_user_nofault(dst + done,
					   (const void __user *)(a + done), chunk))
			break;
		done += chunk;
	}
	return done;
}

/* Bytes written to user memory before the first fault. */
static size_t user_write(u64 uaddr, const void *src, size_t n)
{
	unsigned long a = (unsigned long)uaddr;
	size_t done = 0;

	if ((u64)a != uaddr)
		return 0;
	if (!copy_to_user_nofault((void __user *)a, src, n))
		return n;
	while (done < n) {
		size_t chunk = min_t(size_t, n - done,
				     PAGE_SIZE - offset_in_page(a + done));

		if (copy_to_user_nofault((void __user *)(a + done), src + done,
					 chunk))
			break;
		done += chunk;
	}
	return done;
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                 */

/* The syscall a vCPU slot holds; NULL on the control slot. */
struct portal_held {
	struct pt_regs *regs;
	u64 event_id;
	u64 deadline;		/* the stop's budget ends; 0 until its first event */
	u32 phase;
};

/*
 * The outcome of one process-bound operation.  The single ops (§3.1) and
 * the BATCH entries (§3.3) run the same code and differ only in how they
 * report this, so a batched READ_STR, say, behaves exactly like READ_STR.
 */
struct portal_result {
	u32 status;	/* PORTAL_BS_OK, _PARTIAL or _FAILED */
	u32 err;	/* errno for PARTIAL and FAILED */
	u64 count;	/* see the BATCH result's count (§3.3) */
	u64 extra;	/* READ_PROCARGS/ENV: block total; READ_PROCPID: tid */
};

static inline void result_set(struct portal_result *r, u32 status, u32 err,
			      u64 count, u64 extra)
{
	r->status = status;
	r->err = err;
	r->count = count;
	r->extra = extra;
}

/* dst has room for size bytes once size is checked (as for all reads below). */
static void do_read(struct portal_result *r, void *dst, u64 addr, u64 size)
{
	size_t n;

	if (size > PORTAL_CHUNK_SIZE)
		return result_set(r, PORTAL_BS_FAILED, EINVAL, 0, 0);
	n = user_read(dst, addr, size);
	if (n == size)
		result_set(r, PORTAL_BS_OK, 0, n, 0);
	else if (n)
		result_set(r, PORTAL_BS_PARTIAL, EFAULT, n, 0);
	else
		result_set(r, PORTAL_BS_FAILED, EFAULT, 0, 0);
}

/* A write is OK or FAILED; count is the bytes written before the fault. */
static void do_write(struct portal_result *r, u64 addr, const void *src,
		     u64 size)
{
	size_t n;

	if (size > PORTAL_CHUNK_SIZE)
		return result_set(r, PORTAL_BS_FAILED, EINVAL, 0, 0);
	n = user_write(addr, src, size);
	if (n == size)
		result_set(r, PORTAL_BS_OK, 0, n, 0);
	else
		result_set(r, PORTAL_BS_FAILED, EFAULT, n, 0);
}

static void do_read_str(struct portal_result *r, u8 *dst, u64 addr, u64 size)
{
	unsigned long a = (unsigned long)addr;
	size_t done = 0;

	if (size < 1 || size > PORTAL_CHUNK_SIZE)
		return result_set(r, PORTAL_BS_FAILED, EINVAL, 0, 0);
	if ((u64)a != addr)
		return result_set(r, PORTAL_BS_FAILED, EFAULT, 0, 0);
	while (done < size) {
		size_t chunk = min_t(size_t, size - done,
				     PAGE_SIZE - offset_in_page(a + done));
		const u8 *nul;

		if (copy_from_user_nofault(dst + done,
					   (const void __user *)(a + done), chunk))
			break;
		nul = memchr(dst + done, 0, chunk);
		if (nul)
			return result_set(r, PORTAL_BS_OK, 0, nul - dst, 0);
		done += chunk;
	}
	if (done == size)
		result_set(r, PORTAL_BS_OK, 0, size, 0);
	else if (done)
		result_set(r, PORTAL_BS_PARTIAL, EFAULT, done, 0);
	else
		result_set(r, PORTAL_BS_FAILED, EFAULT, 0, 0);
}

/* d_path() needs a page: the slot's scratch page. */
static void do_read_fd_name(struct portal_result *r, struct portal_slot *s,
			    void *dst, u64 addr, u64 size)
{
	s64 fd = (s64)addr;
	struct file *file;
	char *p;
	size_t len;

	if (size < 1 || size > PORTAL_CHUNK_SIZE)
		return result_set(r, PORTAL_BS_FAILED, EINVAL, 0, 0);
	if (fd < 0 || fd > INT_MAX)
		return result_set(r, PORTAL_BS_FAILED, EBADF, 0, 0);
	/* fget_raw() is RCU + refcount: safe in atomic context */
	file = fget_raw(fd);
	if (!file)
		return result_set(r, PORTAL_BS_FAILED, EBADF, 0, 0);
	p = d_path(&file->f_path, s->scratch, PAGE_SIZE);
	fput(file);	/* a final fput is deferred to task work */
	if (IS_ERR(p))
		return result_set(r, PORTAL_BS_FAILED, -PTR_ERR(p), 0, 0);
	len = strnlen(p, PAGE_SIZE);
	if (len > size) {
		memcpy(dst, p, size);
		return result_set(r, PORTAL_BS_PARTIAL, ENAMETOOLONG, size, 0);
	}
	memcpy(dst, p, len);
	result_set(r, PORTAL_BS_OK, 0, len, 0);
}

/* READ_PROCARGS / READ_PROCENV: off = offset into the block. */
static void do_read_block(struct portal_result *r, void *dst, bool env,
			  u64 off, u64 size)
{
	struct mm_struct *mm = current->mm;
	unsigned long start, end;
	u64 total, n;
	size_t got;

	if (size < 1 || size > PORTAL_CHUNK_SIZE)
		return result_set(r, PORTAL_BS_FAILED, EINVAL, 0, 0);
	if (!mm)
		return result_set(r, PORTAL_BS_FAILED, ESRCH, 0, 0);
	spin_lock(&mm->arg_lock);
	start = env ? mm->env_start : mm->arg_start;
	end = env ? mm->env_end : mm->arg_end;
	spin_unlock(&mm->arg_lock);
	total = end > start ? end - start : 0;
	if (off > total)
		return result_set(r, PORTAL_BS_FAILED, EINVAL, 0, 0);
	n = min(size, total - off);
	got = user_read(dst, start + off, n);
	if (n && !got)
		return result_set(r, PORTAL_BS_FAILED, EFAULT, 0, 0);
	/* a fault part-way: the bytes before it, and the block ends there */
	if (got < n)
		return result_set(r, PORTAL_BS_PARTIAL, EFAULT, got, total);
	result_set(r, PORTAL_BS_OK, 0, got, total);
}

/*
 * Runs process-bound op (READ .. READ_PROCPID) in the current task.  Reads
 * land in dst, which must have room for min(size, PORTAL_CHUNK_SIZE) bytes;
 * a WRITE takes its bytes from src.  Every op checks its own size.
 */
static void do_mem_op(struct portal_result *r, struct portal_slot *s, u32 op,
		      u64 addr, u64 size, void *dst, const void *src)
{
	switch (op) {
	case PORTAL_OP_READ:
		return do_read(r, dst, addr, size);
	case PORTAL_OP_WRITE:
		return do_write(r, addr, src, size);
	case PORTAL_OP_READ_FD_NAME:
		return do_read_fd_name(r, s, dst, addr, size);
	case PORTAL_OP_READ_PROCARGS:
		return do_read_block(r, dst, false, addr, size);
	case PORTAL_OP_READ_STR:
		return do_read_str(r, dst, addr, size);
	case PORTAL_OP_READ_PROCENV:
		return do_read_block(r, dst, true, addr, size);
	case PORTAL_OP_READ_PROCPID:
		return result_set(r, PORTAL_BS_OK, 0, current->tgid,
				  current->pid);
	}
	/* not reached: callers only pass the seven ops above */
	result_set(r, PORTAL_BS_FAILED, EINVAL, 0, 0);
}

/* True for the ops whose result carries bytes (all reads but READ_PROCPID). */
static inline bool op_returns_data(u32 op)
{
	return op != PORTAL_OP_WRITE && op != PORTAL_OP_READ_PROCPID;
}

/* A single process-bound op (§3.1): the same work, the seed's responses. */
static void op_single(struct portal_slot *s, u32 op, u64 addr, u64 size)
{
	struct portal_result r;

	do_mem_op(&r, s, op, addr, size, slot_data(s), slot_data(s));
	if (op == PORTAL_OP_WRITE) {
		if (r.status == PORTAL_BS_OK)
			return region_respond(s, PORTAL_WRITE_OK, addr, r.count);
		return region_respond(s, PORTAL_WRITE_FAIL, r.err, r.count);
	}
	if (op == PORTAL_OP_READ_PROCPID)
		return region_respond(s, PORTAL_READ_NUM, r.count, r.extra);
	switch (r.status) {
	case PORTAL_BS_OK:
		/* the block reads answer with the block's total, the others echo */
		if (op == PORTAL_OP_READ_PROCARGS || op == PORTAL_OP_READ_PROCENV)
			addr = r.extra;
		return region_respond(s, PORTAL_READ_OK, addr, r.count);
	case PORTAL_BS_PARTIAL:
		return region_respond(s, PORTAL_READ_PARTIAL, r.err, r.count);
	}
	region_respond(s, PORTAL_READ_FAIL, r.err, 0);
}

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
static int batch_check(struct portal_batch *b, u32 count, u64 size)
{
	u64 off = 0, need = 0;
	u32 i;

	for (i = 0; i < count; i++) {
		const u8 *e = b->req + off;
		u16 op, flags;
		u32 n;

		/* off <= size <= PORTAL_CHUNK_SIZE throughout: no wrap */
		if (size - off < PORTAL_BE_HDR)
			return -EINVAL;
		op = get_unaligned_le16(e + PORTAL_BE_OP);
		flags = get_unaligned_le16(e + PORTAL_BE_FLAGS);
		n = get_unaligned_le32(e + PORTAL_BE_SIZE);
		if (n > PORTAL_CHUNK_SIZE || (flags & ~PORTAL_BE_KNOWN_FLAGS) ||
		    get_unaligned_le16(e + PORTAL_BE_RESERVED))
			return -EINVAL;
		switch (op) {
		case PORTAL_OP_READ:
		case PORTAL_OP_WRITE:
		case PORTAL_OP_READ_STR:
			break;
		case PORTAL_OP_READ_FD_NAME:
		case PORTAL_OP_READ_PROCARGS:
		case PORTAL_OP_READ_PROCENV:
		case PORTAL_OP_READ_PROCPID:
			/* CHASE applies to READ, WRITE and READ_STR only */
			if (flags & PORTAL_BE_CHASE)
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
		if (flags & PORTAL_BE_CHASE) {
			if (get_unaligned_le16(e + PORTAL_BE_BASE) >= i)
				return -EINVAL;
		} else if (get_unaligned_le16(e + PORTAL_BE_BASE) ||
			   get_unaligned_le32(e + PORTAL_BE_PTR_OFFSET)) {
			/* chase fields without CHASE: a confused host */
			return -EINVAL;
		}
		b->ent[i] = off;
		off += PORTAL_BE_HDR;
		if (op == PORTAL_OP_WRITE) {
			/* the bytes and their padding must be there */
			if (ALIGN(n, 8) > size - off)
				return -EINVAL;
			off += ALIGN(n, 8);
		}
		need += PORTAL_BR_HDR + (op_returns_data(op) ? ALIGN(n, 8) : 0);
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

static void op_batch(struct portal_slot *s, u64 count, u64 size)
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

	for (i = 0; i < count; i++) {
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
			do_mem_op(&r, s, op, addr, n, h + PORTAL_BR_HDR,
				  e + PORTAL_BE_HDR);
			if (op_returns_data(op))
				bytes = min_t(u64, r.count, n);	/* <= n anyway */
			if (r.status == PORTAL_BS_OK)
				b->avail[i] = bytes;
		}
		put_unaligned_le32(r.status, h + PORTAL_BR_STATUS);
		put_unaligned_le32(r.err, h + PORTAL_BR_ERRNO);
		put_unaligned_le32(r.count, h + PORTAL_BR_COUNT);
		put_unaligned_le32(r.extra, h + PORTAL_BR_EXTRA);
		/* zero the padding: no stale bytes of an earlier batch leak out */
		memset(h + PORTAL_BR_HDR + bytes, 0, ALIGN(bytes, 8) - bytes);
		off += PORTAL_BR_HDR + ALIGN(bytes, 8);
	}
	memcpy(slot_data(s), b->res, off);
	region_respond(s, PORTAL_BATCH_OK, count, off);
}

static void op_guest_info(struct portal_slot *s)
{
	u8 *d = slot_data(s);

	memset(d, 0, PORTAL_GI_SIZE);
	put_unaligned_le32(PORTAL_PROTOCOL_VERSION, d + PORTAL_GI_VERSION);
	put_unaligned_le32(PORTAL_ABI, d + PORTAL_GI_ABI);
	put_unaligned_le32(sizeof(void *), d + PORTAL_GI_PTR_SIZE);
	put_unaligned_le32(IS_ENABLED(CONFIG_CPU_BIG_ENDIAN),
			   d + PORTAL_GI_BIG_ENDIAN);
	put_unaligned_le32(PAGE_SIZE, d + PORTAL_GI_PAGE_SIZE);
	put_unaligned_le32(slot_count - 1, d + PORTAL_GI_CPU_SLOTS);
	put_unaligned_le32(PORTAL_MAX_HOOKS, d + PORTAL_GI_MAX_HOOKS);
	put_unaligned_le32(PORTAL_FEAT_VERDICT_WRITES | PORTAL_FEAT_BATCH |
			   PORTAL_FEAT_VERDICT_REPORT, d + PORTAL_GI_FEATURES);
	memcpy(d + PORTAL_GI_RELEASE, init_utsname()->release,
	       strnlen(init_utsname()->release, 64));
	region_respond(s, PORTAL_EXT_OK, 0, PORTAL_GI_SIZE);
}

static void op_hook_register(struct portal_slot *s, u64 size)
{
	u8 desc[PORTAL_DESC_MAX];
	struct portal_hook h;
	long id;

	/* validate a private copy: the host may change the region meanwhile */
	memcpy(desc, slot_data(s), min_t(u64, size, sizeof(desc)));
	if (hook_parse(desc, size, &h))
		return region_respond(s, PORTAL_EXT_FAIL, EINVAL, 0);
	id = hook_add(&h);
	if (id < 0)
		return region_respond(s, PORTAL_EXT_FAIL, -id, 0);
	region_respond(s, PORTAL_EXT_OK, id, 0);
}

static void op_stats(struct portal_slot *s)
{
	u8 *d = slot_data(s);
	unsigned int i;

	for (i = 0; i < PORTAL_STAT_COUNT; i++)
		put_unaligned_le64(atomic64_read(&stats[i]), d + 8 * i);
	region_respond(s, PORTAL_EXT_OK, 0, 8 * PORTAL_STAT_COUNT);
}

/*
 * Executes the request in the slot's region and writes the response; the
 * caller posts it.  held is the syscall the slot holds, NULL if none.
 * Runs in atomic context for a held slot: nothing here may sleep.
 */
static void portal_serve(struct portal_slot *s, struct portal_held *held)
{
	u64 op = win_ld64(s->r + PORTAL_REG_OP);
	u64 addr = win_ld64(s->r + PORTAL_REG_ADDR);
	u64 size = win_ld64(s->r + PORTAL_REG_SIZE);

	stat_inc(PORTAL_STAT_OPS_SERVED);
	switch (op) {
	case PORTAL_OP_READ:
	case PORTAL_OP_READ_FD_NAME:
	case PORTAL_OP_READ_PROCARGS:
	case PORTAL_OP_READ_STR:
	case PORTAL_OP_READ_PROCENV:
	case PORTAL_OP_READ_PROCPID:
		if (!held)
			return region_respond(s, PORTAL_READ_FAIL, ESRCH, 0);
		return op_single(s, op, addr, size);
	case PORTAL_OP_WRITE:
		if (!held)
			return region_respond(s, PORTAL_WRITE_FAIL, ESRCH, 0);
		return op_single(s, op, addr, size);
	case PORTAL_OP_BATCH:
		/* process-bound like the ops it carries: ESRCH first (README) */
		if (!held || !s->batch)
			return region_respond(s, PORTAL_EXT_FAIL, ESRCH, 0);
		return op_batch(s, addr, size);
	case PORTAL_OP_GUEST_INFO:
		return op_guest_info(s);
	case PORTAL_OP_HOOK_REGISTER:
		return op_hook_register(s, size);
	case PORTAL_OP_HOOK_UNREGISTER:
		if (!addr || !hook_remove(addr))
			return region_respond(s, PORTAL_EXT_FAIL, ENOENT, 0);
		return region_respond(s, PORTAL_EXT_OK, addr, 0);
	case PORTAL_OP_HOOK_RESET:
		return region_respond(s, PORTAL_EXT_OK, hook_remove(0), 0);
	case PORTAL_OP_PING:
		return region_respond(s, PORTAL_EXT_OK, addr, 0);
	case PORTAL_OP_STATS:
		return op_stats(s);
	}
	/* protocol.md §3.2: an unknown op gets EXT_FAIL with ENOSYS */
	region_respond(s, PORTAL_EXT_FAIL, ENOSYS, 0);
}

/* ------------------------------------------------------------------------ */
/* Events and verdicts                                                      */

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
	smp_store_release((__le64 *)(s->w + PORTAL_SLOT_REPORT_EVENT),
			  cpu_to_le64(event_id));
}

/*
 * Applies a VERDICT (§4.2) and reports how it went.  The verdict is copied
 * to the slot's scratch page first, so that a host changing the region
 * meanwhile cannot make us use a write list other than the one validated.
 * Returns true if the syscall was skipped (no further hooks).
 */
static bool portal_verdict(struct portal_slot *s, struct portal_held *held)
{
	u64 size = win_ld64(s->r + PORTAL_REG_SIZE);
	struct portal_report rep = { .status = PORTAL_REPORT_APPLIED };
	u8 *v = s->scratch;
	u32 flags, mask, count, i;
	bool skipped = false;
	u64 off;
	s64 retval;

	if (size < PORTAL_VD_WRITES || size > PORTAL_CHUNK_SIZE)
		goto bad;
	memcpy(v, slot_data(s), size);
	flags = get_unaligned_le32(v + PORTAL_VD_FLAGS);
	mask = get_unaligned_le32(v + PORTAL_VD_ARG_MASK);
	retval = (s64)get_unaligned_le64(v + PORTAL_VD_RETVAL);
	count = get_unaligned_le32(v + PORTAL_VD_WRITE_COUNT);
	if (flags & ~PORTAL_VD_KNOWN_FLAGS)
		goto bad;
	/* every entry (header + data) must lie within size */
	off = PORTAL_VD_WRITES;
	for (i = 0; i < count; i++) {
		u32 n;

		if (off > size || size - off < PORTAL_VD_WR_HDR)
			goto bad;
		n = get_unaligned_le32(v + off + PORTAL_VD_WR_SIZE);
		if (n > size - off - PORTAL_VD_WR_HDR)
			goto bad;
		off += PORTAL_VD_WR_HDR + ALIGN((u64)n, 8);
	}

	/* writes first, each independent of the others */
	off = PORTAL_VD_WRITES;
	for (i = 0; i < count; i++) {
		u64 addr = get_unaligned_le64(v + off + PORTAL_VD_WR_ADDR);
		u32 n = get_unaligned_le32(v + off + PORTAL_VD_WR_SIZE);
		size_t written = user_write(addr, v + off + PORTAL_VD_WR_HDR, n);

		if (written != n) {
			stat_inc(PORTAL_STAT_VERDICT_WRITE_FAULTS);
			if (!rep.failures++)
				rep.first_written = written;
			if (i < PORTAL_REPORT_MASK_BITS)
				rep.mask |= BIT_ULL(i);
		}
		off += PORTAL_VD_WR_HDR + ALIGN((u64)n, 8);
	}

	stat_inc(PORTAL_STAT_VERDICTS_APPLIED);
	if (held->phase == PORTAL_PHASE_ENTER) {
		/* SET_RETVAL without SKIP is invalid on enter: ignored */
		for (i = 0; i < 6 && (flags & PORTAL_VD_SET_ARGS); i++) {
			u64 arg = get_unaligned_le64(v + PORTAL_VD_ARGS + 8 * i);

			if (mask & BIT(i))
				portal_arch_set_arg(held->regs, i, arg);
		}
		if (flags & PORTAL_VD_SKIP) {
			portal_arch_skip(held->regs, retval);
			skipped = true;
		}
	} else if (flags & PORTAL_VD_SET_RETVAL) {
		/* SKIP and SET_ARGS are invalid on return: ignored */
		portal_arch_set_retval(held->regs, retval);
	}
	verdict_report(s, held->event_id, &rep);
	return skipped;

bad:
	stat_inc(PORTAL_STAT_BAD_VERDICTS);
	rep.status = PORTAL_REPORT_REJECTED;
	verdict_report(s, held->event_id, &rep);
	return false;
}

/* True while the slot waits for the host to acknowledge an abandonment. */
static bool slot_abandoned(struct portal_slot *s)
{
	if (!s->abandoned)
		return false;
	/* acquire: the host stops touching the region before it acks */
	if (le64_to_cpu(smp_load_acquire((__le64 *)(s->w + PORTAL_SLOT_HOST_ACK))) !=
	    s->abandoned)
		return true;
	s->abandoned = 0;	/* acknowledged: the slot is ours again */
	return false;
}

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
	unsigned int ms = clamp(READ_ONCE(hold_budget_ms), 1U,
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

/*
 * Sends one event and holds the syscall until the verdict, serving requests
 * inline, for at most host_timeout_ms and never past the stop's deadline.
 */
static enum portal_outcome portal_event(struct portal_slot *s,
					struct portal_held *held, long nr,
					const struct portal_hook *h,
					const u64 args[6], s64 retval)
{
	u8 *d = slot_data(s);
	u64 timeout_ns, deadline;
	unsigned long spins = 0;
	unsigned int i;
	u32 seen;

	held->event_id = s->next_event++;
	put_unaligned_le32(h->id, d + PORTAL_EV_HOOK_ID);
	put_unaligned_le32(held->phase, d + PORTAL_EV_PHASE);
	put_unaligned_le64((u64)nr, d + PORTAL_EV_NR);
	for (i = 0; i < 6; i++)
		put_unaligned_le64(args[i], d + PORTAL_EV_ARGS + 8 * i);
	put_unaligned_le64(held->phase == PORTAL_PHASE_RETURN ? retval : 0,
			   d + PORTAL_EV_RETVAL);
	put_unaligned_le32(current->tgid, d + PORTAL_EV_PID);
	put_unaligned_le32(current->pid, d + PORTAL_EV_TID);
	task_comm16(d + PORTAL_EV_COMM);
	region_respond(s, PORTAL_EVENT, held->event_id, PORTAL_EV_SIZE);

	seen = slot_host_seq(s);	/* before posting: a fast answer is not missed */
	slot_post(s);
	stat_inc(PORTAL_STAT_EVENTS_SENT);

	timeout_ns = (u64)min(READ_ONCE(host_timeout_ms), PORTAL_MAX_TIMEOUT_MS) *
		     NSEC_PER_MSEC;
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
	s->abandoned = held->event_id;
	/* release: the region is the host's last view of the event */
	smp_store_release((__le64 *)(s->w + PORTAL_SLOT_ABANDONED),
			  cpu_to_le64(held->event_id));
	stat_inc(PORTAL_STAT_HOST_TIMEOUTS);
	return PORTAL_ABANDONED;
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
	u32 upto = READ_ONCE(hooks_last_id), after = 0;
	struct portal_held held = { .regs = regs, .phase = phase };
	enum portal_outcome outcome = PORTAL_ANSWERED;
	int cpu = smp_processor_id();	/* preemption is disabled in probes */
	struct portal_slot *s = NULL;
	struct portal_hook h;
	bool matched = false;

	if (cpu + 1 < slot_count)
		s = &slots[cpu + 1];
	while (hook_next(nr, phase, after, upto, &h)) {
		s64 retval = 0;
		u64 args[6], now;

		after = h.id;
		portal_arch_get_args(regs, args);
		if (phase == PORTAL_PHASE_RETURN)
			retval = portal_arch_get_retval(regs);
		if (!hook_match(&h, args, retval))
			continue;
		matched = true;
		if (!s || READ_ONCE(portal_unloading)) {
			stat_inc(PORTAL_STAT_EVENTS_DROPPED);
			continue;
		}
		now = ktime_get_ns();
		if (outcome == PORTAL_ABANDONED || slot_abandoned(s)) {
			stat_inc(held.deadline && now >= held.deadline ?
				 PORTAL_STAT_EVENTS_OVER_BUDGET :
				 PORTAL_STAT_EVENTS_DROPPED);
			continue;
		}
		if (!held.deadline)
			held.deadline = stop_deadline(s, now);
		if (now >= held.deadline) {
			stat_inc(PORTAL_STAT_EVENTS_OVER_BUDGET);
			continue;
		}
		outcome = portal_event(s, &held, nr, &h, args, retval);
		if (outcome == PORTAL_SKIPPED)
			break;
	}
	if (!matched)
		stat_inc(PORTAL_STAT_FILTERED_OUT);
}

/*
 * The probes.  Fast path for a syscall that is not hooked: one bit test.
 * Compat (32-bit and x32) syscalls use other numbers and are ignored.
 */
static void probe_sys_enter(void *data, struct pt_regs *regs, long id)
{
	long idx = portal_arch_nr_index(id);

	if (likely(idx < 0 || !test_bit(idx, hooked_enter)))
		return;
	if (!portal_arch_native(regs))
		return;
	portal_dispatch(regs, id, PORTAL_PHASE_ENTER);
}

static void probe_sys_exit(void *data, struct pt_regs *regs, long ret)
{
	long nr, idx;

	portal_arch_sys_exit(regs);
	nr = syscall_get_nr(current, regs);
	idx = portal_arch_nr_index(nr);
	if (likely(idx < 0 || !test_bit(idx, hooked_exit)))
		return;
	if (!portal_arch_native(regs))
		return;
	portal_dispatch(regs, nr, PORTAL_PHASE_RETURN);
}

/* ------------------------------------------------------------------------ */
/* Control slot thread                                                      */

static struct task_struct *control_task;

/*
 * Hybrid polling: spin (yielding with cond_resched()) for poll_spin_ms after
 * the last request, so that a burst of requests is served in well under a
 * microsecond; then sleep-poll every poll_sleep_us; after poll_idle_ms without
 * a request, every poll_idle_us.  Each wake-up costs the host CPU time under
 * TCG, so an idle guest should wake rarely (see guest/README.md).
 */
static int portal_control(void *unused)
{
	struct portal_slot *s = &slots[0];
	u32 seen = slot_host_seq(s);
	u64 last_active = ktime_get_ns();
	unsigned long spins = 0;
	bool spinning = true;

	while (!kthread_should_stop()) {
		u32 cur = slot_host_seq(s);
		unsigned int us;
		u64 idle_ns;

		if (cur != seen) {
			seen = cur;
			if (win_ld64(s->r + PORTAL_REG_OP) == PORTAL_OP_VERDICT) {
				/* the control slot never holds an event */
				stat_inc(PORTAL_STAT_STALE_VERDICTS);
			} else {
				portal_serve(s, NULL);
				slot_post(s);
			}
			last_active = ktime_get_ns();
			spinning = true;
			continue;
		}
		if (spinning) {
			cpu_relax();
			cond_resched();
			if (++spins % PORTAL_CLOCK_EVERY == 0 &&
			    ktime_get_ns() - last_active >
			    (u64)READ_ONCE(poll_spin_ms) * NSEC_PER_MSEC)
				spinning = false;
			continue;
		}
		idle_ns = ktime_get_ns() - last_active;
		if (idle_ns > (u64)READ_ONCE(poll_idle_ms) * NSEC_PER_MSEC)
			us = READ_ONCE(poll_idle_us);
		else
			us = READ_ONCE(poll_sleep_us);
		us = clamp(us, 10U, 1000000U);
		usleep_range(us, us + us / 4);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Load and unload                                                          */

static struct tracepoint *tp_sys_enter, *tp_sys_exit;

static void find_tracepoint(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sys_enter"))
		tp_sys_enter = tp;
	else if (!strcmp(tp->name, "sys_exit"))
		tp_sys_exit = tp;
}

static void portal_free(void)
{
	unsigned int i;

	if (slots) {
		for (i = 0; i < slot_count; i++) {
			kfree(slots[i].scratch);
			kfree(slots[i].batch);
		}
		kfree(slots);
		slots = NULL;
	}
	if (win) {
		memunmap(win);
		win = NULL;
	}
	if (win_claimed) {
		release_mem_region(window_phys, window_size);
		win_claimed = false;
	}
}

static int __init portal_init(void)
{
	unsigned long max_slots;
	unsigned int i;
	int err;

	if (window_size < PORTAL_WIN_HDR_SIZE + 2 * PORTAL_SLOT_STRIDE ||
	    !PAGE_ALIGNED(window_phys)) {
		pr_err("bad window %#lx+%#lx\n", window_phys, window_size);
		return -EINVAL;
	}
	/* memremap() would happily map live RAM: insist on a reserved range */
	if (region_intersects(window_phys, window_size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("window %#lx+%#lx is System RAM: boot with memmap=%luK$%#lx\n",
		       window_phys, window_size, window_size >> 10, window_phys);
		return -EINVAL;
	}
	win_claimed = request_mem_region(window_phys, window_size, "portal");
	if (!win_claimed)
		pr_warn("could not claim %#lx+%#lx, using it anyway\n",
			window_phys, window_size);
	win = memremap(window_phys, window_size, MEMREMAP_WB);
	if (!win) {
		pr_err("memremap %#lx+%#lx failed\n", window_phys, window_size);
		err = -ENOMEM;
		goto fail;
	}

	max_slots = (window_size - PORTAL_WIN_HDR_SIZE) / PORTAL_SLOT_STRIDE;
	slot_count = min_t(unsigned long, nr_cpu_ids + 1, max_slots);
	if (slot_count < nr_cpu_ids + 1)
		pr_warn("window holds %u slots: CPUs %u.. get no events\n",
			slot_count, slot_count - 1);
	slots = kcalloc(slot_count, sizeof(*slots), GFP_KERNEL);
	if (!slots) {
		err = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < slot_count; i++) {
		slots[i].w = win + PORTAL_WIN_HDR_SIZE + i * PORTAL_SLOT_STRIDE;
		slots[i].r = slots[i].w + PORTAL_SLOT_REGION;
		slots[i].next_event = 1;
		if (i == 0)
			continue;
		slots[i].scratch = kmalloc(PAGE_SIZE, GFP_KERNEL);
		slots[i].batch = kmalloc(sizeof(*slots[i].batch), GFP_KERNEL);
		if (!slots[i].scratch || !slots[i].batch) {
			err = -ENOMEM;
			goto fail;
		}
	}

	/* not ready; everything but the host's session word starts at zero */
	win_st32(win + PORTAL_WIN_OFF_STATE, PORTAL_STATE_NOT_READY);
	smp_wmb();	/* state 0 is visible before the header changes */
	memset(win, 0, PORTAL_WIN_OFF_SESSION);
	memset(win + PORTAL_WIN_OFF_SESSION + 8, 0,
	       PORTAL_WIN_HDR_SIZE - PORTAL_WIN_OFF_SESSION - 8);
	memset(win + PORTAL_WIN_HDR_SIZE, 0,
	       (size_t)slot_count * PORTAL_SLOT_STRIDE);
	memcpy(win + PORTAL_WIN_OFF_MAGIC, PORTAL_WIN_MAGIC, 8);
	win_st32(win + PORTAL_WIN_OFF_VERSION, PORTAL_PROTOCOL_VERSION);
	win_st32(win + PORTAL_WIN_OFF_SLOTS, slot_count);
	win_st32(win + PORTAL_WIN_OFF_STRIDE, PORTAL_SLOT_STRIDE);

	for_each_kernel_tracepoint(find_tracepoint, NULL);
	if (!tp_sys_enter || !tp_sys_exit) {
		pr_err("sys_enter/sys_exit tracepoints not found\n");
		err = -ENOENT;
		goto fail;
	}

	control_task = kthread_run(portal_control, NULL, "portal-control");
	if (IS_ERR(control_task)) {
		err = PTR_ERR(control_task);
		control_task = NULL;
		goto fail;
	}
	err = tracepoint_probe_register(tp_sys_enter, probe_sys_enter, NULL);
	if (err)
		goto fail_thread;
	err = tracepoint_probe_register(tp_sys_exit, probe_sys_exit, NULL);
	if (err) {
		tracepoint_probe_unregister(tp_sys_enter, probe_sys_enter, NULL);
		tracepoint_synchronize_unregister();
		goto fail_thread;
	}

	/* ready last (release): the host reads the header once it sees state 1 */
	smp_store_release((__le32 *)(win + PORTAL_WIN_OFF_STATE),
			  cpu_to_le32(PORTAL_STATE_READY));
	pr_info("ready: window %#lx+%#lx, %u slots, timeout %u ms, budget %u ms, %s\n",
		window_phys, window_size, slot_count, host_timeout_ms,
		hold_budget_ms, init_utsname()->release);
	return 0;

fail_thread:
	kthread_stop(control_task);
	control_task = NULL;
fail:
	if (win)
		win_st32(win + PORTAL_WIN_OFF_STATE, PORTAL_STATE_NOT_READY);
	portal_free();
	return err;
}

static void __exit portal_exit(void)
{
	/* release: a host seeing state 2 sees everything written before */
	smp_store_release((__le32 *)(win + PORTAL_WIN_OFF_STATE),
			  cpu_to_le32(PORTAL_STATE_UNLOADING));
	WRITE_ONCE(portal_unloading, true);	/* held syscalls stop waiting */
	tracepoint_probe_unregister(tp_sys_enter, probe_sys_enter, NULL);
	tracepoint_probe_unregister(tp_sys_exit, probe_sys_exit, NULL);
	tracepoint_synchronize_unregister();
	kthread_stop(control_task);
	portal_free();
	pr_info("unloaded\n");
}

module_init(portal_init);
module_exit(portal_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Portal guest side: syscall interception and memory introspection");
