// SPDX-License-Identifier: GPL-2.0
/*
 * Requests (protocol.md §3): the process-bound ops, run in the current task
 * in atomic context, the extension ops, and portal_serve(), which executes
 * whatever request a slot's region holds.
 */
#include <linux/dcache.h>
#include <linux/errno.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mm_types.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <asm/unaligned.h>

#include "portal.h"

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
size_t portal_user_write(u64 uaddr, const void *src, size_t n)
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
/* Process-bound ops                                                        */

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
	n = portal_user_write(addr, src, size);
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
void portal_mem_op(struct portal_result *r, struct portal_slot *s, u32 op,
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


/* A single process-bound op (§3.1): the same work, the seed's responses. */
static void op_single(struct portal_slot *s, u32 op, u64 addr, u64 size)
{
	struct portal_result r;

	portal_mem_op(&r, s, op, addr, size, slot_data(s), slot_data(s));
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

/* ------------------------------------------------------------------------ */
/* Extension ops and the request switch                                     */

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
	put_unaligned_le32(portal_slot_count - 1, d + PORTAL_GI_CPU_SLOTS);
	put_unaligned_le32(PORTAL_MAX_HOOKS, d + PORTAL_GI_MAX_HOOKS);
	put_unaligned_le32(PORTAL_FEAT_VERDICT_WRITES | PORTAL_FEAT_BATCH |
			   PORTAL_FEAT_VERDICT_REPORT | PORTAL_FEAT_FILTERS_V2 |
			   PORTAL_FEAT_UPROBES_IF |
			   PORTAL_FEAT_QUERY | PORTAL_FEAT_SCOPE,
			   d + PORTAL_GI_FEATURES);
	memcpy(d + PORTAL_GI_RELEASE, init_utsname()->release,
	       strnlen(init_utsname()->release, 64));
	region_respond(s, PORTAL_EXT_OK, 0, PORTAL_GI_SIZE);
}

static void op_stats(struct portal_slot *s)
{
	u8 *d = slot_data(s);
	unsigned int i;

	for (i = 0; i < PORTAL_STAT_COUNT; i++)
		put_unaligned_le64(atomic64_read(&portal_stats[i]), d + 8 * i);
	region_respond(s, PORTAL_EXT_OK, 0, 8 * PORTAL_STAT_COUNT);
}

/*
 * Executes the request in the slot's region and writes the response; the
 * caller posts it.  held is the syscall the slot holds, NULL if none.
 * Runs in atomic context for a held slot: nothing here may sleep, except a
 * QUERY, which only the control thread (held == NULL) may run.
 */
void portal_serve(struct portal_slot *s, struct portal_held *held)
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
		return portal_op_batch(s, addr, size);
	case PORTAL_OP_GUEST_INFO:
		return op_guest_info(s);
	case PORTAL_OP_HOOK_REGISTER:
		return portal_op_hook_register(s, size);
	case PORTAL_OP_HOOK_UNREGISTER:
		if (!addr || !portal_hook_remove(addr))
			return region_respond(s, PORTAL_EXT_FAIL, ENOENT, 0);
		return region_respond(s, PORTAL_EXT_OK, addr, 0);
	case PORTAL_OP_HOOK_RESET:
		return region_respond(s, PORTAL_EXT_OK, portal_hook_remove(0), 0);
	case PORTAL_OP_PING:
		return region_respond(s, PORTAL_EXT_OK, addr, 0);
	case PORTAL_OP_STATS:
		return op_stats(s);
	case PORTAL_OP_QUERY:
	case PORTAL_OP_QUERY_PAGE:
		/*
		 * §3.4: a query sleeps, so only the control thread (no held
		 * syscall, process context) may run one.
		 */
		if (held)
			return region_respond(s, PORTAL_EXT_FAIL, EPERM, 0);
		return portal_op_query(s, op, addr, size);
	}
	/* protocol.md §3.2: an unknown op gets EXT_FAIL with ENOSYS */
	region_respond(s, PORTAL_EXT_FAIL, ENOSYS, 0);
}
