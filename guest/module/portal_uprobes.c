// SPDX-License-Identifier: GPL-2.0
/*
 * Function hooks (protocol.md §4.6): a hook on an instruction of a file,
 * placed with the kernel's uprobes.  Every function hook has a uprobe
 * consumer of its own (struct portal_uprobe); its handlers build the event
 * from the user registers, apply the hook's filters and deliver through the
 * syscall path (portal_func_event()).
 *
 * Lifetime.  The hook table (portal_hooks.c) says which hooks exist: a
 * handler looks its hook up by id on every hit and does nothing once the
 * hook is gone, so HOOK_UNREGISTER and HOOK_RESET, which may be served in
 * atomic context on a held vCPU slot, stop a function hook's events at once
 * without touching its uprobe.  Placing and removing a uprobe sleeps, so it
 * happens in process context only:
 *
 * - portal_uprobe_add() runs on the control thread (HOOK_REGISTER on the
 *   control slot; vCPU slots answer EPERM): it resolves the path, adds the
 *   hook to the table, then registers the consumer;
 * - the reaper (a work item, scheduled by portal_hook_remove()) unregisters
 *   the consumers whose hook has left the table, and frees them;
 * - unloading unregisters every consumer before the window goes away.
 *
 * Freeing.  In this kernel (6.1) the uprobe handlers run under the probe's
 * register_rwsem held for reading (handler_chain(), handle_uretprobe_chain()),
 * and uprobe_unregister() removes the consumer under it held for writing: once
 * it returns, no handler of that consumer runs or will run, so the
 * portal_uprobe can be freed.  It is never freed before.  (Kernels from
 * 6.12 on run handlers under SRCU instead, with another unregistering API:
 * this file is written against 6.1's.)  pu_mutex guards
 * the list only; a consumer being unregistered is off the list and owned by
 * whoever took it off.
 *
 * Arguments on return.  When a function returns, the registers that
 * carried its arguments hold something else (on ARM and AArch64 the first
 * one is the return value), yet a return event carries the arguments the
 * call was made with (§4.6), for filters and handlers alike.  So a return
 * hook's consumer has an entry handler too, which saves the arguments of
 * each call in pu_saved, keyed by hook, thread and stack pointer; the return
 * handler takes them back.  The stack pointer tells nested and recursive
 * calls apart (each has its own frame) and finds frames a longjmp() left
 * for good (below the returning one).  A return without saved arguments
 * (the table was full, or the hook joined the probe while the call ran)
 * has arguments 0, which no filter can use (filter_faults).
 *
 * References.  uprobes keep no reference to the inode ("the caller is
 * required to keep @inode (and the containing mount) referenced",
 * __uprobe_register()), so each portal_uprobe holds the path it was given
 * (dentry and mount) until its consumer is unregistered.  The inode probed
 * is the path's real inode (d_real_inode()), as the kernel's own uprobe
 * events do: the one a mapping of the file refers to.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dcache.h>
#include <linux/err.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/namei.h>
#include <linux/path.h>
#include <linux/preempt.h>
#include <linux/ptrace.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uprobes.h>
#include <linux/workqueue.h>

#include "portal.h"

struct portal_uprobe {
	struct uprobe_consumer uc;	/* entry: .handler; return: both */
	u32 hook_id;			/* its hook in the table */
	struct path path;		/* pins the inode and its mount */
	struct inode *inode;		/* d_real_inode(path.dentry) */
	loff_t offset;
	struct list_head node;		/* in pu_list while registered */
};

static LIST_HEAD(pu_list);
static DEFINE_MUTEX(pu_mutex);	/* guards pu_list */

/*
 * The arguments of calls in progress, for their return events.  Entries
 * are free (hook_id 0), or a call's; when none is free the oldest is
 * replaced.  Short critical sections under a raw spinlock: the handlers are
 * preemptible process context, many CPUs may enter at once.
 */
#define PU_SAVED_MAX	128

struct pu_saved {
	u32 hook_id;			/* 0 = free */
	pid_t tid;
	const struct task_struct *task;	/* compared, never dereferenced */
	unsigned long sp;		/* at the function's first instruction */
	u64 age;
	unsigned int unread;		/* arguments that could not be read */
	u64 args[PORTAL_SYSCALL_ARGS];
};

static struct pu_saved pu_saved[PU_SAVED_MAX];
static u64 pu_saved_age;
static DEFINE_RAW_SPINLOCK(pu_saved_lock);

/* ------------------------------------------------------------------------ */
/* Arguments saved at entry for the return                                  */

static bool pu_saved_is_current(const struct pu_saved *e, u32 id)
{
	return e->hook_id == id && e->task == current && e->tid == current->pid;
}

/* At the entry of a call a return hook will see: its arguments and frame. */
static void pu_save_args(u32 id, struct pt_regs *regs)
{
	unsigned long sp = user_stack_pointer(regs);
	struct pu_saved *e, *victim = NULL;
	u64 args[PORTAL_SYSCALL_ARGS];
	unsigned int unread, i;

	unread = portal_arch_func_get_args(regs, args);
	raw_spin_lock(&pu_saved_lock);
	for (i = 0; i < PU_SAVED_MAX; i++) {
		e = &pu_saved[i];
		/* a tail call re-enters in the same frame: one return for both */
		if (pu_saved_is_current(e, id) && e->sp == sp) {
			victim = e;
			break;
		}
		/* else the first free entry, or the oldest */
		if (!victim || (victim->hook_id &&
				(!e->hook_id || e->age < victim->age)))
			victim = e;
	}
	victim->hook_id = id;
	victim->tid = current->pid;
	victim->task = current;
	victim->sp = sp;
	victim->age = ++pu_saved_age;
	victim->unread = unread;
	memcpy(victim->args, args, sizeof(args));
	raw_spin_unlock(&pu_saved_lock);
}

/*
 * On return: the arguments saved when this call entered, found by its
 * frame; false if there are none.  This thread's entries of the hook for
 * frames below the returning one are calls that will never return here
 * (left by longjmp()): dropped.
 */
static bool pu_take_args(u32 id, struct pt_regs *regs, u64 *args,
			 unsigned int *unread)
{
	unsigned long sp = user_stack_pointer(regs) - PORTAL_ARCH_FUNC_RET_SP;
	bool found = false;
	unsigned int i;

	raw_spin_lock(&pu_saved_lock);
	for (i = 0; i < PU_SAVED_MAX; i++) {
		struct pu_saved *e = &pu_saved[i];

		if (!pu_saved_is_current(e, id) || e->sp > sp)
			continue;
		if (e->sp == sp && !found) {
			memcpy(args, e->args, sizeof(e->args));
			*unread = e->unread;
			found = true;
		}
		e->hook_id = 0;
	}
	raw_spin_unlock(&pu_saved_lock);
	return found;
}

/* The hook's consumer is gone: so are the calls it saved. */
static void pu_forget_args(u32 id)
{
	unsigned int i;

	raw_spin_lock(&pu_saved_lock);
	for (i = 0; i < PU_SAVED_MAX; i++)
		if (pu_saved[i].hook_id == id)
			pu_saved[i].hook_id = 0;
	raw_spin_unlock(&pu_saved_lock);
}

/* ------------------------------------------------------------------------ */
/* The handlers                                                             */

/*
 * Whether h's filters pass.  A filter on an argument the guest could not
 * read (on the stack, not resident) cannot be evaluated: like a memory
 * filter that cannot read its memory, it does not match and counts in
 * filter_faults (§4.6: only when a filter needed the argument).  Kinds
 * 1..10 look at their argument; later kinds (scope, §4.3) at the calling
 * process only.
 */
static bool func_hook_match(const struct portal_hook *h, const u64 *args,
			    unsigned int unread, s64 retval)
{
	u32 i, n = min_t(u32, h->nfilters, PORTAL_HD_MAX_FILTERS);

	for (i = 0; unread && i < n; i++) {
		const struct portal_filter *f = &h->args[i];

		if (f->kind <= PORTAL_FLT_MEM_CONTAINS &&
		    (unread & (1U << (f->arg % PORTAL_SYSCALL_ARGS)))) {
			stat_inc(PORTAL_STAT_FILTER_FAULTS);
			return false;
		}
	}
	return portal_hook_match(h, args, retval);
}

/*
 * A hit of hook id at addr (the event's nr).  Process context, preemptible:
 * the arguments and filters are read first (nofault, as everywhere on the
 * event path), then preemption is disabled for the delivery, which serves
 * the host on this vCPU's slot as a syscall stop does.
 */
static void func_hit(u32 id, u32 phase, struct pt_regs *regs, u64 addr)
{
	u64 args[PORTAL_SYSCALL_ARGS];
	struct portal_hook h;
	unsigned int unread;
	s64 retval = 0;

	if (READ_ONCE(portal_unloading) || !portal_hook_get(id, &h))
		return;		/* unregistered: its uprobe goes soon */
	if (!portal_arch_func_native(regs)) {
		stat_inc(PORTAL_STAT_FILTERED_OUT);
		return;
	}
	if (phase == PORTAL_PHASE_FUNC_ENTRY) {
		unread = portal_arch_func_get_args(regs, args);
	} else {
		if (!pu_take_args(id, regs, args, &unread)) {
			memset(args, 0, sizeof(args));
			unread = (1U << PORTAL_SYSCALL_ARGS) - 1;
		}
		retval = portal_arch_func_get_retval(regs);
	}
	if (!func_hook_match(&h, args, unread, retval)) {
		stat_inc(PORTAL_STAT_FILTERED_OUT);
		return;
	}
	preempt_disable();
	portal_func_event(regs, addr, phase, &h, args, retval);
	preempt_enable();
}

/* Returns 0: keep the breakpoint (UPROBE_HANDLER_REMOVE would drop it). */
static int pu_entry(struct uprobe_consumer *uc, struct pt_regs *regs)
{
	struct portal_uprobe *pu = container_of(uc, struct portal_uprobe, uc);

	/* handle_swbp() has set the instruction pointer to the breakpoint */
	func_hit(pu->hook_id, PORTAL_PHASE_FUNC_ENTRY, regs,
		 instruction_pointer(regs));
	return 0;
}

/* A return hook's entry: only the arguments, saved for the return. */
static int pu_return_entry(struct uprobe_consumer *uc, struct pt_regs *regs)
{
	struct portal_uprobe *pu = container_of(uc, struct portal_uprobe, uc);

	if (!READ_ONCE(portal_unloading) && portal_arch_func_native(regs) &&
	    portal_hook_get(pu->hook_id, NULL))
		pu_save_args(pu->hook_id, regs);
	return 0;
}

/* func is the probed address the function was entered at. */
static int pu_return(struct uprobe_consumer *uc, unsigned long func,
		     struct pt_regs *regs)
{
	struct portal_uprobe *pu = container_of(uc, struct portal_uprobe, uc);

	func_hit(pu->hook_id, PORTAL_PHASE_FUNC_RETURN, regs, func);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Registering and unregistering (process context)                          */

/*
 * An errno the host can be given: the kernel's internal ones (ENOTSUPP from
 * an instruction uprobes cannot single-step, the restart codes) are not in
 * the guest's errno table.
 */
static long pu_errno(int err)
{
	switch (err) {
	case -ENOTSUPP:
		return -EOPNOTSUPP;
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
	case -ERESTARTNOHAND:
	case -ERESTART_RESTARTBLOCK:
		return -EINTR;
	}
	return err;
}

/* Removes pu's breakpoints, waits for its handlers, frees it.  Sleeps. */
static void pu_destroy(struct portal_uprobe *pu)
{
	uprobe_unregister(pu->inode, pu->offset, &pu->uc);
	pu_forget_args(pu->hook_id);
	path_put(&pu->path);
	kfree(pu);
}

/*
 * The file to probe: path is absolute and NUL-free (§4.6), resolved in the
 * control thread's root, which is init's (a kernel thread shares kthreadd's
 * fs_struct), following symlinks.  A regular file, and the offset inside it
 * with room for a breakpoint instruction (uprobe_register() checks only
 * offset <= size, and its own alignment).
 */
static int pu_resolve(struct portal_uprobe *pu, const char *name,
		      u32 path_len, u64 offset)
{
	u64 size;
	int err;

	if (name[0] != '/' || strnlen(name, path_len) != path_len)
		return -EINVAL;
	err = kern_path(name, LOOKUP_FOLLOW, &pu->path);
	if (err)
		return err;
	err = -EISDIR;
	if (d_is_dir(pu->path.dentry))
		goto fail;
	err = -EINVAL;
	if (!d_is_reg(pu->path.dentry))
		goto fail;
	pu->inode = d_real_inode(pu->path.dentry);
	size = i_size_read(pu->inode);
	if (offset >= size || size - offset < UPROBE_SWBP_INSN_SIZE)
		goto fail;
	pu->offset = offset;
	return 0;
fail:
	path_put(&pu->path);
	return err;
}

/*
 * HOOK_REGISTER of a function hook h (parsed and validated, §4.6), on the
 * control thread.  path (path_len bytes) is still in the region: copied
 * once, checked on the copy.  Returns the hook id or -errno.
 */
long portal_uprobe_add(const struct portal_hook *h, u64 offset,
		       const u8 *path, u32 path_len)
{
	struct portal_uprobe *pu;
	char *name;
	long id;
	int err;

	might_sleep();
	name = kmalloc(path_len + 1, GFP_KERNEL);
	pu = kzalloc(sizeof(*pu), GFP_KERNEL);
	if (!name || !pu) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(name, path, path_len);
	name[path_len] = 0;
	err = pu_resolve(pu, name, path_len, offset);
	if (err)
		goto out;
	if (h->phase == PORTAL_PHASE_FUNC_ENTRY) {
		pu->uc.handler = pu_entry;
	} else {
		pu->uc.handler = pu_return_entry;
		pu->uc.ret_handler = pu_return;
	}

	/*
	 * The hook first, so the handlers find it from the first hit.  The
	 * mutex is held until pu is on the list: a reaper that a HOOK_RESET
	 * on a vCPU slot wakes meanwhile finds it there, hook gone, and
	 * unregisters it.
	 */
	id = portal_hook_add(h);
	if (id < 0) {
		err = id;
		goto out_path;
	}
	pu->hook_id = id;
	mutex_lock(&pu_mutex);
	err = uprobe_register(pu->inode, pu->offset, &pu->uc);
	if (!err)
		list_add_tail(&pu->node, &pu_list);
	mutex_unlock(&pu_mutex);
	if (!err) {
		kfree(name);
		return id;
	}
	/*
	 * uprobe_register() added and removed the consumer under the probe's
	 * register_rwsem held for writing: no handler of ours ran.
	 */
	portal_hook_remove(id);
	err = pu_errno(err);
out_path:
	path_put(&pu->path);
out:
	kfree(pu);
	kfree(name);
	return err;
}

/* Unregisters every consumer whose hook has left the table. */
static void pu_reap(struct work_struct *work)
{
	struct portal_uprobe *pu, *next;
	LIST_HEAD(dead);

	mutex_lock(&pu_mutex);
	list_for_each_entry_safe(pu, next, &pu_list, node)
		if (!portal_hook_get(pu->hook_id, NULL))
			list_move_tail(&pu->node, &dead);
	mutex_unlock(&pu_mutex);
	list_for_each_entry_safe(pu, next, &dead, node)
		pu_destroy(pu);
}

static DECLARE_WORK(pu_reap_work, pu_reap);

/*
 * A function hook left the table (portal_hook_remove()): remove its uprobe
 * soon.  Any context: schedule_work() does not sleep.
 */
void portal_uprobes_reap(void)
{
	schedule_work(&pu_reap_work);
}

/*
 * Unload (after the control thread has stopped, before the window goes):
 * unregisters every consumer, which also waits for their running handlers,
 * then for a reaper still at work.  Nothing can queue the reaper after that:
 * the tracepoint probes, the control thread and every handler are gone.
 */
void portal_uprobes_release(void)
{
	struct portal_uprobe *pu, *next;
	LIST_HEAD(all);

	mutex_lock(&pu_mutex);
	list_splice_init(&pu_list, &all);
	mutex_unlock(&pu_mutex);
	list_for_each_entry_safe(pu, next, &all, node)
		pu_destroy(pu);
	cancel_work_sync(&pu_reap_work);
}
