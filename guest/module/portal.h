/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private header of portal.ko: what its files share.
 *
 *   portal_main.c     parameters, statistics, load and unload
 *   portal_window.c   the window and its slots: mapping, layout, abandonment
 *   portal_ops.c      requests: the single ops, user memory, portal_serve()
 *   portal_batch.c    BATCH
 *   portal_hooks.c    the hook table and its filters
 *   portal_events.c   the probes, events and the hold budget
 *   portal_verdict.c  verdicts and their reports
 *   portal_control.c  the control slot's thread
 *   portal_uprobes.c  function hooks: uprobe consumers and their lifetime
 *   portal_query.c    QUERY and QUERY_PAGE: introspection that sleeps
 *   portal_arch.h     the architecture rules, one block per architecture
 *   portal_proto.h    the wire format (docs/protocol.md)
 *
 * One lock: hooks_lock serialises the writers of the hook table (the scheme
 * is stated at the top of portal_hooks.c).  Everything else belongs to one
 * slot, and a slot to one context (struct portal_slot), so it needs none.
 */
#ifndef PORTAL_H
#define PORTAL_H

#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/sched.h>
#include <linux/types.h>
#include <asm/barrier.h>
#include <asm/byteorder.h>

#include "portal_proto.h"
#include "portal_arch.h"

/* ------------------------------------------------------------------------ */
/* Parameters (portal_main.c)                                               */

extern unsigned long portal_window_phys;
extern unsigned long portal_window_size;
extern unsigned int portal_host_timeout_ms;
extern unsigned int portal_hold_budget_ms;
extern unsigned int portal_poll_spin_ms;
extern unsigned int portal_poll_sleep_us;
extern unsigned int portal_poll_idle_ms;
extern unsigned int portal_poll_idle_us;

#define PORTAL_MAX_HOOKS	64
#define PORTAL_MAX_TIMEOUT_MS	10000	/* well under the soft-lockup limit */
#define PORTAL_CLOCK_EVERY	64	/* spins between clock reads while held */

/* Set once unloading has begun: held syscalls stop waiting. */
extern bool portal_unloading;

/* ------------------------------------------------------------------------ */
/* Statistics (portal_main.c)                                               */

extern atomic64_t portal_stats[PORTAL_STAT_COUNT];

static inline void stat_inc(enum portal_stat i)
{
	atomic64_inc(&portal_stats[i]);
}

/* ------------------------------------------------------------------------ */
/* Window and slots (portal_window.c)                                       */

struct portal_batch;

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

extern struct portal_slot *portal_slots;
extern u32 portal_slot_count;	/* including the control slot */

int portal_window_create(void);
void portal_window_abort(void);
void portal_window_destroy(void);
void portal_window_publish(u32 state);
void portal_slot_abandon(struct portal_slot *s, u64 event_id);
bool portal_slot_abandoned(struct portal_slot *s);

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

/*
 * 64-bit fields another side polls, with release/acquire.  A 32-bit guest
 * (mipsel, armel) has no 64-bit atomic access: it stores the high word, then
 * the low word with release, and loads the low word with acquire, then the
 * high word.  The fields so accessed are event ids that the reader only
 * compares with an id it expects (protocol.md §5.2), and ids count from 1
 * per slot, so their high word changes once in 2^32 events; a torn value
 * reads as "not yet", never as another valid id.
 */
static inline void win_st64_release(void *p, u64 v)
{
#if BITS_PER_LONG == 64
	smp_store_release((__le64 *)p, cpu_to_le64(v));
#else
	WRITE_ONCE(*(__le32 *)(p + 4), cpu_to_le32(upper_32_bits(v)));
	smp_store_release((__le32 *)p, cpu_to_le32(lower_32_bits(v)));
#endif
}

static inline u64 win_ld64_acquire(const void *p)
{
#if BITS_PER_LONG == 64
	return le64_to_cpu(smp_load_acquire((const __le64 *)p));
#else
	u32 lo = le32_to_cpu(smp_load_acquire((const __le32 *)p));

	return (u64)le32_to_cpu(READ_ONCE(*(const __le32 *)(p + 4))) << 32 | lo;
#endif
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

static inline void region_respond(struct portal_slot *s, u32 op, u64 addr,
				  u64 size)
{
	win_st64(s->r + PORTAL_REG_ADDR, addr);
	win_st64(s->r + PORTAL_REG_SIZE, size);
	win_st64(s->r + PORTAL_REG_OP, op);
}

/* ------------------------------------------------------------------------ */
/* Requests (portal_ops.c, portal_batch.c)                                  */

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

/* True for the ops whose result carries bytes (all reads but READ_PROCPID). */
static inline bool op_returns_data(u32 op)
{
	return op != PORTAL_OP_WRITE && op != PORTAL_OP_READ_PROCPID;
}

void portal_serve(struct portal_slot *s, struct portal_held *held);
void portal_mem_op(struct portal_result *r, struct portal_slot *s, u32 op,
		   u64 addr, u64 size, void *dst, const void *src);
size_t portal_user_write(u64 uaddr, const void *src, size_t n);
struct portal_batch *portal_batch_alloc(void);
void portal_op_batch(struct portal_slot *s, u64 count, u64 size);

/* ------------------------------------------------------------------------ */
/* Hooks (portal_hooks.c)                                                   */

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
	u32 data_size;		/* bytes of data used by sets and patterns */
	u8 data[PORTAL_HD_MAX_DATA];
};

/* Hooked syscall numbers per phase: the probes' lock-free fast path. */
extern unsigned long portal_hooked_enter[BITS_TO_LONGS(PORTAL_NR_BITS)];
extern unsigned long portal_hooked_exit[BITS_TO_LONGS(PORTAL_NR_BITS)];

/* Function hooks (§4.6) share the table but never match a syscall. */
static inline bool portal_phase_is_func(u32 phase)
{
	return phase == PORTAL_PHASE_FUNC_ENTRY ||
	       phase == PORTAL_PHASE_FUNC_RETURN;
}

/* The phases whose events carry a return value (and may filter on it). */
static inline bool portal_phase_has_retval(u32 phase)
{
	return phase == PORTAL_PHASE_RETURN ||
	       phase == PORTAL_PHASE_FUNC_RETURN;
}

void portal_op_hook_register(struct portal_slot *s, u64 size);
long portal_hook_add(const struct portal_hook *h);
unsigned int portal_hook_remove(u64 id);
u32 portal_hook_last_id(void);
bool portal_hook_next(u32 nr, u32 phase, u32 after, u32 upto,
		      struct portal_hook *out);
bool portal_hook_get(u32 id, struct portal_hook *out);
bool portal_hook_match(const struct portal_hook *h,
		       const u64 args[PORTAL_SYSCALL_ARGS], s64 retval);
void portal_task_comm16(char out[TASK_COMM_LEN]);

/* ------------------------------------------------------------------------ */
/* Events, verdicts, control (portal_events.c, portal_verdict.c,            */
/* portal_control.c)                                                        */

int portal_probes_find(void);
int portal_probes_register(void);
void portal_probes_unregister(void);
bool portal_verdict(struct portal_slot *s, struct portal_held *held);
void portal_func_event(struct pt_regs *regs, u64 addr, u32 phase,
		       const struct portal_hook *h,
		       const u64 args[PORTAL_SYSCALL_ARGS], s64 retval);
int portal_control_start(void);
void portal_control_stop(void);

/* ------------------------------------------------------------------------ */
/* Function hooks (portal_uprobes.c)                                        */

#ifdef CONFIG_UPROBES
long portal_uprobe_add(const struct portal_hook *h, u64 offset,
		       const u8 *path, u32 path_len);
void portal_uprobes_reap(void);
void portal_uprobes_release(void);
#define PORTAL_FEAT_UPROBES_IF	PORTAL_FEAT_UPROBES
#else
static inline long portal_uprobe_add(const struct portal_hook *h, u64 offset,
				     const u8 *path, u32 path_len)
{
	return -EOPNOTSUPP;
}
static inline void portal_uprobes_reap(void) { }
static inline void portal_uprobes_release(void) { }
#define PORTAL_FEAT_UPROBES_IF	0
#endif

/* ------------------------------------------------------------------------ */
/* QUERY (portal_query.c): the control thread only, which may sleep         */

void portal_op_query(struct portal_slot *s, u64 op, u64 addr, u64 size);
void portal_query_release(void);

#endif /* PORTAL_H */
