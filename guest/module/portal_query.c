// SPDX-License-Identifier: GPL-2.0
/*
 * QUERY and QUERY_PAGE (protocol.md §3.4): introspection that must sleep.
 *
 * Served only by the control thread (portal_control.c), in process context:
 * it takes memory map locks, opens files and allocates, none of which a
 * held syscall's probe may do, so portal_serve() refuses both ops on a vCPU
 * slot with EPERM before they get here.
 *
 * A QUERY runs whole, at once, into a private result (kvmalloc'd, at most
 * PORTAL_Q_RESULT_MAX bytes), so the host gets one consistent snapshot
 * however many pages it takes to fetch.  One result is held at a time, under
 * an increasing id: a new QUERY frees it, and so do serving the page that
 * reaches its end and unloading (portal_query_release()).  Nothing here is
 * shared with another context, so it needs no lock: the control thread is
 * the only caller, and unload stops it before freeing.
 *
 * Paths are resolved by the control thread, a kernel thread: its fs_struct
 * is init's (kthreadd's, shared with pid 1), so kern_path() and filp_open()
 * resolve in the init process's root and working directory, and its
 * credentials are the kernel's, as §3.4 says.
 *
 * Every parameter is checked before anything runs (a request copied out of
 * the region first: the host cannot change it under us), every size before
 * use, every allocation may fail, and every reference taken is dropped on
 * every path.
 */
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/err.h>
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/kdev_t.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/namei.h>
#include <linux/path.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/stat.h>
#include <linux/string.h>
#include <linux/uidgid.h>
#include <linux/uio.h>
#include <asm/unaligned.h>

#include "portal.h"

/* Longest string in a record (§3.4: paths are at most 4095 bytes). */
#define Q_STRING_MAX	4095
/* d_path() buffer: room for a path over Q_STRING_MAX, to report truncation */
#define Q_PATHBUF	(2 * PATH_MAX)
/* Longest directory entry name (§3.4: 1..255 bytes) */
#define Q_NAME_MAX	255
/* Processes may appear between the count and the walk: tries, and slack */
#define Q_PROC_TRIES	4
#define Q_PROC_SLACK	64

/* ------------------------------------------------------------------------ */
/* The held result                                                          */

static struct {
	u8 *buf;	/* kvmalloc'd; NULL for an empty result */
	size_t len;
	u64 id;		/* 0: none held */
} held;
static u64 last_id;

/* The request's parameters, copied out of the region (control thread only). */
static u8 q_req[PORTAL_CHUNK_SIZE];

/* Frees the held result, if any.  Also called at unload. */
void portal_query_release(void)
{
	kvfree(held.buf);
	held.buf = NULL;
	held.len = 0;
	held.id = 0;
}

/* ------------------------------------------------------------------------ */
/* Building a result                                                        */

/* A result being built: len bytes used of cap. */
struct qbuf {
	u8 *p;
	size_t len;
	size_t cap;
};

/*
 * Makes room for n more bytes, growing by doubling up to the result cap:
 * -E2BIG past PORTAL_Q_RESULT_MAX, -ENOMEM when the memory is not there.
 */
static int qbuf_reserve(struct qbuf *b, size_t n)
{
	size_t cap;
	u8 *p;

	if (n > PORTAL_Q_RESULT_MAX - b->len)
		return -E2BIG;
	if (n <= b->cap - b->len)
		return 0;
	cap = max3(b->cap * 2, b->len + n, (size_t)PAGE_SIZE);
	cap = min_t(size_t, cap, PORTAL_Q_RESULT_MAX);
	p = kvmalloc(cap, GFP_KERNEL | __GFP_NOWARN);
	if (!p)
		return -ENOMEM;
	if (b->len)
		memcpy(p, b->p, b->len);
	kvfree(b->p);
	b->p = p;
	b->cap = cap;
	return 0;
}

/*
 * Appends a record: its fixed part (whose first le16, the length, is set
 * here), then vlen variable bytes, zero-padded to 8.  Room must have been
 * reserved with qbuf_reserve(b, q_record_len(flen, vlen)).
 */
static size_t q_record_len(size_t flen, size_t vlen)
{
	return ALIGN(flen + vlen, 8);
}

static void qbuf_put_record(struct qbuf *b, u8 *fixed, size_t flen,
			    const void *var, size_t vlen)
{
	size_t len = q_record_len(flen, vlen);
	u8 *r = b->p + b->len;

	/* len <= 16 + 3 * Q_STRING_MAX or 64 + PORTAL_Q_ARGV_MAX: fits le16 */
	put_unaligned_le16(len, fixed);
	memcpy(r, fixed, flen);
	if (vlen)
		memcpy(r + flen, var, vlen);
	memset(r + flen + vlen, 0, len - flen - vlen);
	b->len += len;
}

/* Reserves and appends in one step. */
static int qbuf_record(struct qbuf *b, u8 *fixed, size_t flen,
		       const void *var, size_t vlen)
{
	int err = qbuf_reserve(b, q_record_len(flen, vlen));

	if (!err)
		qbuf_put_record(b, fixed, flen, var, vlen);
	return err;
}

/*
 * A path as /proc shows it (d_path: "socket:[N]" for sockets, " (deleted)"
 * for unlinked files), in buf (Q_PATHBUF bytes).  *len is cut at
 * Q_STRING_MAX with *truncated set; a path too long even for buf is empty
 * and truncated.
 */
static const char *q_path_string(const struct path *p, char *buf,
				 size_t *len, bool *truncated)
{
	char *s = d_path(p, buf, Q_PATHBUF);

	*truncated = false;
	if (IS_ERR(s)) {
		*len = 0;
		*truncated = true;
		return buf;
	}
	*len = strnlen(s, Q_PATHBUF);
	if (*len > Q_STRING_MAX) {
		*len = Q_STRING_MAX;
		*truncated = true;
	}
	return s;
}

/* ------------------------------------------------------------------------ */
/* Parameters                                                               */

/*
 * The path parameter of len bytes at p, checked (1..PORTAL_Q_PATH_MAX,
 * absolute, no NUL) and copied NUL-terminated into *out (kfree it).
 */
static int q_path_param(const u8 *p, u32 len, char **out)
{
	char *s;

	if (len < 1 || len > PORTAL_Q_PATH_MAX || p[0] != '/' ||
	    memchr(p, 0, len))
		return -EINVAL;
	s = kmalloc(len + 1, GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	memcpy(s, p, len);
	s[len] = 0;
	*out = s;
	return 0;
}

/*
 * The thread group whose leader has pid nr in the initial pid namespace,
 * with a reference (put_task_struct it), or NULL: ESRCH.
 */
static struct task_struct *q_task(u32 nr)
{
	struct task_struct *t = NULL;
	struct pid *pid;

	if (!nr || nr > PID_MAX_LIMIT)
		return NULL;
	rcu_read_lock();
	pid = find_pid_ns(nr, &init_pid_ns);
	if (pid)
		t = pid_task(pid, PIDTYPE_TGID);
	if (t)
		get_task_struct(t);
	rcu_read_unlock();
	return t;
}

/*
 * The parameters of FILES and PATHS: le32 pid, le32 flags (0).  The task
 * with a reference in *task, or -EINVAL / -ESRCH.
 */
static int q_pid_param(const u8 *req, u64 size, struct task_struct **task)
{
	if (size != 8 || get_unaligned_le32(req + 4))
		return -EINVAL;
	*task = q_task(get_unaligned_le32(req));
	return *task ? 0 : -ESRCH;
}

/* ------------------------------------------------------------------------ */
/* PROCESSES                                                                */

/* The fixed fields of one thread group, copied under RCU. */
struct qproc {
	struct task_struct *task;	/* a reference, put after argv */
	u32 pid, ppid, threads, state, flags;
	u32 uid, euid, gid, egid;
	u64 start;
	char comm[TASK_COMM_LEN];
};

static int qproc_cmp(const void *a, const void *b)
{
	u32 x = ((const struct qproc *)a)->pid, y = ((const struct qproc *)b)->pid;

	return x < y ? -1 : x > y;
}

static void qproc_fill(struct qproc *q, struct task_struct *p)
{
	const struct cred *cred = __task_cred(p);	/* RCU */

	q->task = p;
	get_task_struct(p);
	q->pid = p->tgid;
	/* init_task's tgid is 0: the kernel's first tasks get ppid 0 */
	q->ppid = rcu_dereference(p->real_parent)->tgid;
	q->threads = max(get_nr_threads(p), 1);
	q->state = task_state_to_char(p);
	q->flags = (p->flags & PF_KTHREAD) ? PORTAL_QP_KTHREAD : 0;
	q->uid = from_kuid_munged(&init_user_ns, cred->uid);
	q->euid = from_kuid_munged(&init_user_ns, cred->euid);
	q->gid = from_kgid_munged(&init_user_ns, cred->gid);
	q->egid = from_kgid_munged(&init_user_ns, cred->egid);
	q->start = p->start_boottime;
	memset(q->comm, 0, sizeof(q->comm));
	__get_task_comm(q->comm, sizeof(q->comm), p);
}

/*
 * One walk over the thread groups under RCU (no sleeping, no allocation):
 * at most cap of them into v.  False if there were more; *n is how many
 * were taken (with references) either way.
 */
static bool qproc_walk(struct qproc *v, size_t cap, size_t *n)
{
	struct task_struct *p;
	bool fit = true;

	*n = 0;
	rcu_read_lock();
	for_each_process(p) {
		if (*n == cap) {
			fit = false;
			break;
		}
		qproc_fill(&v[(*n)++], p);
	}
	rcu_read_unlock();
	return fit;
}

static size_t qproc_count(void)
{
	struct task_struct *p;
	size_t n = 0;

	rcu_read_lock();
	for_each_process(p)
		n++;
	rcu_read_unlock();
	return n;
}

static void qproc_put(struct qproc *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		put_task_struct(v[i].task);
}

/*
 * argv as /proc/<pid>/cmdline reads it (access_process_vm on the argument
 * block), its first argv_max bytes into dst.  Returns the bytes read and
 * adds PORTAL_QP_ARGV_* to q->flags.  May sleep (the process's mmap lock).
 */
static u32 qproc_argv(struct qproc *q, u8 *dst, u32 argv_max)
{
	unsigned long start, end, total;
	struct mm_struct *mm;
	int want, got;

	if (q->flags & PORTAL_QP_KTHREAD)
		return 0;
	mm = get_task_mm(q->task);	/* NULL once it has exited */
	if (!mm) {
		q->flags |= PORTAL_QP_ARGV_UNREADABLE;
		return 0;
	}
	spin_lock(&mm->arg_lock);
	start = mm->arg_start;
	end = mm->arg_end;
	spin_unlock(&mm->arg_lock);
	mmput(mm);
	total = end > start ? end - start : 0;
	if (total > argv_max)
		q->flags |= PORTAL_QP_ARGV_TRUNCATED;
	want = min_t(unsigned long, total, argv_max);
	if (!want)
		return 0;
	/* FOLL_ANON: as get_mm_cmdline(), no file-backed pages */
	got = access_process_vm(q->task, start, dst, want, FOLL_ANON);
	if (got != want) {
		q->flags |= PORTAL_QP_ARGV_UNREADABLE;
		q->flags &= ~PORTAL_QP_ARGV_TRUNCATED;
		return 0;
	}
	return want;
}

/* One process record; argv (PORTAL_Q_ARGV_MAX bytes) is scratch for its block. */
static int qproc_record(struct qbuf *b, struct qproc *q, u8 *argv,
			u32 argv_max)
{
	u8 r[PORTAL_QR_PROCESS];
	u32 n = qproc_argv(q, argv, argv_max);

	memset(r, 0, sizeof(r));
	put_unaligned_le16(n, r + 2);
	put_unaligned_le32(q->flags, r + 4);
	put_unaligned_le32(q->pid, r + 8);
	put_unaligned_le32(q->ppid, r + 12);
	put_unaligned_le32(q->threads, r + 16);
	put_unaligned_le32(q->state, r + 20);
	put_unaligned_le32(q->uid, r + 24);
	put_unaligned_le32(q->euid, r + 28);
	put_unaligned_le32(q->gid, r + 32);
	put_unaligned_le32(q->egid, r + 36);
	put_unaligned_le64(q->start, r + 40);
	memcpy(r + 48, q->comm, 16);
	return qbuf_record(b, r, sizeof(r), argv, n);
}

/*
 * PROCESSES: le32 argv_max, le32 flags (0).  The fixed fields in one RCU
 * walk (counted first, since nothing can be allocated under RCU; retried
 * a few times if processes appeared faster than the slack), by pid; then
 * each argv, sleeping as needed, with the task held by its reference.
 */
static int q_processes(struct qbuf *b, const u8 *req, u64 size)
{
	u32 argv_max, tries;
	struct qproc *v = NULL;
	u8 *argv;
	size_t cap, n = 0, i;
	int err = 0;

	if (size != 8)
		return -EINVAL;
	argv_max = get_unaligned_le32(req);
	if (argv_max > PORTAL_Q_ARGV_MAX || get_unaligned_le32(req + 4))
		return -EINVAL;

	for (tries = 0; ; tries++) {
		if (tries == Q_PROC_TRIES)
			return -EAGAIN;
		cap = qproc_count();
		cap += cap / 8 + Q_PROC_SLACK;
		v = kvmalloc_array(cap, sizeof(*v), GFP_KERNEL | __GFP_NOWARN);
		if (!v)
			return -ENOMEM;
		if (qproc_walk(v, cap, &n))
			break;
		qproc_put(v, n);
		kvfree(v);
	}

	/* §3.4: by pid (the task list is in creation order, and pids wrap) */
	sort(v, n, sizeof(*v), qproc_cmp, NULL);
	argv = kmalloc(PORTAL_Q_ARGV_MAX, GFP_KERNEL);
	if (!argv)
		err = -ENOMEM;
	for (i = 0; i < n && !err; i++) {
		err = qproc_record(b, &v[i], argv, argv_max);
		cond_resched();
	}
	kfree(argv);
	qproc_put(v, n);
	kvfree(v);
	return err;
}

/* ------------------------------------------------------------------------ */
/* MAPPINGS                                                                 */

/*
 * The name /proc/<pid>/maps gives a mapping without a file (show_map_vma):
 * the special mapping's own ("[vdso]"), "[heap]", "[stack]", or a name set
 * with PR_SET_VMA_ANON_NAME.  arch_vma_name() is not exported; on 6.1 the
 * architectures we run name their vdso and sigpage through vm_ops->name.
 * Needs the mmap lock.
 */
static const char *q_vma_name(struct vm_area_struct *vma, char *buf)
{
	struct mm_struct *mm = vma->vm_mm;
	const char *name;

	if (vma->vm_ops && vma->vm_ops->name) {
		name = vma->vm_ops->name(vma);
		if (name)
			return name;
	}
	if (vma->vm_start <= mm->brk && vma->vm_end >= mm->start_brk)
		return "[heap]";
	if (vma->vm_start <= mm->start_stack && vma->vm_end >= mm->start_stack)
		return "[stack]";
#ifdef CONFIG_ANON_VMA_NAME
	if (vma->anon_name) {
		snprintf(buf, Q_PATHBUF, "[anon:%s]", vma->anon_name->name);
		return buf;
	}
#endif
	return NULL;
}

static int q_mapping_record(struct qbuf *b, struct vm_area_struct *vma,
			    char *pathbuf)
{
	u8 r[PORTAL_QR_MAPPING];
	vm_flags_t f = vma->vm_flags;
	struct file *file = vma->vm_file;
	const char *path = NULL;
	bool truncated = false;
	size_t len = 0;
	u32 flags = 0;

	memset(r, 0, sizeof(r));
	if (f & VM_READ)
		flags |= PORTAL_QM_READ;
	if (f & VM_WRITE)
		flags |= PORTAL_QM_WRITE;
	if (f & VM_EXEC)
		flags |= PORTAL_QM_EXEC;
	if (f & VM_MAYSHARE)
		flags |= PORTAL_QM_SHARED;
	put_unaligned_le64(vma->vm_start, r + 8);
	put_unaligned_le64(vma->vm_end, r + 16);
	if (file) {
		struct inode *inode = file_inode(file);

		put_unaligned_le64((u64)vma->vm_pgoff << PAGE_SHIFT, r + 24);
		put_unaligned_le64(inode->i_ino, r + 32);
		put_unaligned_le32(MAJOR(inode->i_sb->s_dev), r + 40);
		put_unaligned_le32(MINOR(inode->i_sb->s_dev), r + 44);
		path = q_path_string(&file->f_path, pathbuf, &len, &truncated);
	} else {
		path = q_vma_name(vma, pathbuf);
		if (path) {
			len = strnlen(path, Q_PATHBUF);
			if (len > Q_STRING_MAX) {
				len = Q_STRING_MAX;
				truncated = true;
			}
		}
	}
	if (truncated)
		flags |= PORTAL_QM_PATH_TRUNCATED;
	put_unaligned_le16(len, r + 2);
	put_unaligned_le32(flags, r + 4);
	return qbuf_record(b, r, sizeof(r), path, len);
}

/*
 * MAPPINGS: le32 pid, le32 flags (bit 0: only the mapping containing
 * address), le64 address.  Under the mmap lock, by address; a process
 * without memory (a kernel thread, an exited one) has none.
 */
static int q_mappings(struct qbuf *b, const u8 *req, u64 size)
{
	struct task_struct *task;
	struct vm_area_struct *vma;
	struct mm_struct *mm;
	char *pathbuf;
	u32 flags;
	u64 addr;
	int err = 0;

	if (size != 16)
		return -EINVAL;
	flags = get_unaligned_le32(req + 4);
	addr = get_unaligned_le64(req + 8);
	if (flags & ~PORTAL_QM_ONLY_CONTAINING)
		return -EINVAL;
	task = q_task(get_unaligned_le32(req));
	if (!task)
		return -ESRCH;
	mm = get_task_mm(task);
	put_task_struct(task);
	if (!mm)
		return 0;
	pathbuf = kmalloc(Q_PATHBUF, GFP_KERNEL);
	if (!pathbuf) {
		err = -ENOMEM;
		goto out_mm;
	}
	/* killable: a kthread never is, but it documents that this may wait */
	err = mmap_read_lock_killable(mm);
	if (err)
		goto out_buf;
	if (flags & PORTAL_QM_ONLY_CONTAINING) {
		/* an address beyond unsigned long (32-bit) is in no mapping */
		vma = addr == (unsigned long)addr ? vma_lookup(mm, addr) : NULL;
		if (vma)
			err = q_mapping_record(b, vma, pathbuf);
	} else {
		VMA_ITERATOR(vmi, mm, 0);

		for_each_vma(vmi, vma) {
			err = q_mapping_record(b, vma, pathbuf);
			if (err)
				break;
		}
	}
	mmap_read_unlock(mm);
out_buf:
	kfree(pathbuf);
out_mm:
	mmput(mm);
	return err;
}

/* ------------------------------------------------------------------------ */
/* FILES                                                                    */

/*
 * The file at fd or the next open one above it, with a reference (fput
 * it), and its flags as /proc/<pid>/fdinfo shows them (O_CLOEXEC added from
 * the descriptor table).  task_lookup_next_fd_rcu() is /proc/<pid>/fd's own
 * walk: it takes task_lock and reads the table under RCU, where only a
 * reference that is not already dying (get_file_rcu) may be taken.
 */
static struct file *q_next_file(struct task_struct *task, unsigned int *fd,
				u32 *open_flags)
{
	struct files_struct *files;
	struct file *file;

	rcu_read_lock();
	for (;;) {
		file = task_lookup_next_fd_rcu(task, fd);
		if (!file || get_file_rcu(file))
			break;
		(*fd)++;	/* being closed: as good as closed */
	}
	if (file) {
		*open_flags = file->f_flags;
		task_lock(task);
		files = task->files;
		if (files) {
			struct fdtable *fdt = files_fdtable(files);

			if (*fd < fdt->max_fds && close_on_exec(*fd, fdt))
				*open_flags |= O_CLOEXEC;
		}
		task_unlock(task);
	}
	rcu_read_unlock();
	return file;
}

static int q_file_record(struct qbuf *b, struct file *file, unsigned int fd,
			 u32 open_flags, char *pathbuf)
{
	u8 r[PORTAL_QR_FILE];
	const char *path;
	bool truncated;
	size_t len;

	memset(r, 0, sizeof(r));
	path = q_path_string(&file->f_path, pathbuf, &len, &truncated);
	put_unaligned_le16(len, r + 2);
	put_unaligned_le32(truncated ? PORTAL_QF_PATH_TRUNCATED : 0, r + 4);
	put_unaligned_le32(fd, r + 8);
	put_unaligned_le32(open_flags, r + 12);
	put_unaligned_le32(file_inode(file)->i_mode, r + 16);
	/* f_pos without f_pos_lock, as fdinfo reads it */
	put_unaligned_le64(READ_ONCE(file->f_pos), r + 24);
	return qbuf_record(b, r, sizeof(r), path, len);
}

/* FILES: le32 pid, le32 flags (0).  One record per open fd, by fd. */
static int q_files(struct qbuf *b, const u8 *req, u64 size)
{
	struct task_struct *task;
	struct file *file;
	unsigned int fd = 0;
	u32 open_flags;
	char *pathbuf;
	int err = 0;

	err = q_pid_param(req, size, &task);
	if (err)
		return err;
	pathbuf = kmalloc(Q_PATHBUF, GFP_KERNEL);
	if (!pathbuf) {
		put_task_struct(task);
		return -ENOMEM;
	}
	while (!err && (file = q_next_file(task, &fd, &open_flags))) {
		/* no lock held: d_path and the buffer may take their time */
		err = q_file_record(b, file, fd, open_flags, pathbuf);
		fput(file);	/* a last fput is deferred to a worker */
		fd++;
		cond_resched();
	}
	kfree(pathbuf);
	put_task_struct(task);
	return err;
}

/* ------------------------------------------------------------------------ */
/* PATHS                                                                    */

/*
 * The executable, as /proc/<pid>/exe: mm->exe_file, which is RCU-protected
 * (get_task_exe_file() and get_mm_exe_file() are not exported; this is
 * their body).  NULL without one.
 */
static struct file *q_exe_file(struct task_struct *task)
{
	struct mm_struct *mm = get_task_mm(task);	/* NULL for kthreads */
	struct file *exe;

	if (!mm)
		return NULL;
	rcu_read_lock();
	exe = rcu_dereference(mm->exe_file);
	if (exe && !get_file_rcu(exe))
		exe = NULL;
	rcu_read_unlock();
	mmput(mm);
	return exe;
}

/*
 * Appends the path of p to the strings at buf + *used, its length into
 * *len.  A path the record cannot hold (over 4095 bytes: the record has no
 * truncation flag) fails as readlink would, with ENAMETOOLONG.
 */
static int q_paths_string(const struct path *p, char *pathbuf, u8 *strings,
			  size_t *used, u16 *len)
{
	const char *s;
	bool truncated;
	size_t n;

	s = q_path_string(p, pathbuf, &n, &truncated);
	if (truncated)
		return -ENAMETOOLONG;
	memcpy(strings + *used, s, n);
	*used += n;
	*len = n;
	return 0;
}

/* PATHS: le32 pid, le32 flags (0).  One record: exe, cwd, root. */
static int q_paths(struct qbuf *b, const u8 *req, u64 size)
{
	struct path pwd = {}, root = {};
	u16 exe_len = 0, cwd_len = 0, root_len = 0;
	u8 r[PORTAL_QR_PATHS];
	struct task_struct *task;
	struct file *exe;
	char *pathbuf;
	u8 *strings;
	size_t used = 0;
	int err = 0;

	err = q_pid_param(req, size, &task);
	if (err)
		return err;
	exe = q_exe_file(task);
	/* as /proc/<pid>/cwd and root: under task_lock, the fs may go away */
	task_lock(task);
	if (task->fs) {
		get_fs_pwd(task->fs, &pwd);
		get_fs_root(task->fs, &root);
	}
	task_unlock(task);
	put_task_struct(task);

	pathbuf = kmalloc(Q_PATHBUF, GFP_KERNEL);
	strings = kmalloc(3 * Q_STRING_MAX, GFP_KERNEL);
	if (!pathbuf || !strings) {
		err = -ENOMEM;
		goto out;
	}
	if (exe)
		err = q_paths_string(&exe->f_path, pathbuf, strings, &used,
				     &exe_len);
	if (!err && pwd.dentry)
		err = q_paths_string(&pwd, pathbuf, strings, &used, &cwd_len);
	if (!err && root.dentry)
		err = q_paths_string(&root, pathbuf, strings, &used, &root_len);
	if (err)
		goto out;
	memset(r, 0, sizeof(r));
	put_unaligned_le16(exe_len, r + 2);
	put_unaligned_le16(cwd_len, r + 4);
	put_unaligned_le16(root_len, r + 6);
	put_unaligned_le32(exe ? 0 : PORTAL_QX_NO_EXE, r + 8);
	err = qbuf_record(b, r, sizeof(r), strings, used);
out:
	kfree(strings);
	kfree(pathbuf);
	if (exe)
		fput(exe);
	if (pwd.dentry)
		path_put(&pwd);
	if (root.dentry)
		path_put(&root);
	return err;
}

/* ------------------------------------------------------------------------ */
/* FILE_READ, FILE_WRITE                                                    */

/*
 * Files are opened O_NONBLOCK so that a FIFO, a terminal or /proc/kmsg
 * cannot park the control thread forever (for regular, procfs and sysfs
 * files it changes nothing).  They are read and written through an
 * iov_iter on a kernel buffer: vfs_iter_read/write rather than
 * kernel_read/write, which refuse, with a line in the log, files that have
 * both ->read and ->read_iter, such as /dev/null and /dev/zero.  Many
 * procfs files of 6.1 (/proc/<pid>/status, maps...) have only ->read =
 * seq_read, a wrapper of seq_read_iter() for user buffers: those are read
 * through seq_read_iter() as seq_read() itself does.  A file with some
 * other ->read only (/proc/<pid>/cmdline, environ, mem) copies to user
 * memory, which a kernel thread has none of: EINVAL, what kernel_read()
 * says of it.
 */
#define Q_OPEN_FLAGS	(O_LARGEFILE | O_NONBLOCK | O_NOCTTY)

static bool q_readable(struct file *file)
{
	return file->f_op->read_iter || file->f_op->read == seq_read;
}

static ssize_t q_read(struct file *file, void *buf, size_t n, loff_t *pos)
{
	struct kvec kv = { .iov_base = buf, .iov_len = n };
	struct iov_iter iter;
	struct kiocb kiocb;
	ssize_t ret;

	iov_iter_kvec(&iter, ITER_DEST, &kv, 1, n);
	if (file->f_op->read_iter)
		return vfs_iter_read(file, &iter, pos, 0);
	/* seq_read() with our buffer in place of the user's */
	init_sync_kiocb(&kiocb, file);
	kiocb.ki_pos = *pos;
	ret = seq_read_iter(&kiocb, &iter);
	*pos = kiocb.ki_pos;
	return ret;
}

static ssize_t q_write(struct file *file, const void *buf, size_t n,
		       loff_t *pos)
{
	struct kvec kv = { .iov_base = (void *)buf, .iov_len = n };
	struct iov_iter iter;
	ssize_t ret;

	iov_iter_kvec(&iter, ITER_SOURCE, &kv, 1, n);
	/* vfs_iter_write() leaves freeze protection to its caller */
	file_start_write(file);
	ret = vfs_iter_write(file, &iter, pos, 0);
	file_end_write(file);
	return ret;
}

/*
 * FILE_READ: le64 offset, le32 max_length (1..1 MiB), le32 path_length,
 * path.  max_length bytes from offset, fewer only at end of file: read
 * until then or until a read returns 0 (procfs and sysfs files have no
 * size).  An error fails the query, except EAGAIN once bytes were read:
 * a non-blocking source (a FIFO) has nothing more for now.
 */
static int q_file_read(struct qbuf *b, const u8 *req, u64 size)
{
	u64 offset = get_unaligned_le64(req);
	u32 max, plen;
	struct file *file;
	loff_t pos;
	char *path;
	int err;

	if (size < 16)
		return -EINVAL;
	max = get_unaligned_le32(req + 8);
	plen = get_unaligned_le32(req + 12);
	if (size != 16 + (u64)plen || max < 1 || max > PORTAL_Q_READ_MAX ||
	    offset > LLONG_MAX)
		return -EINVAL;
	err = q_path_param(req + 16, plen, &path);
	if (err)
		return err;
	err = qbuf_reserve(b, max);
	if (err)
		goto out_path;
	file = filp_open(path, O_RDONLY | Q_OPEN_FLAGS, 0);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		goto out_path;
	}
	if (S_ISDIR(file_inode(file)->i_mode)) {
		err = -EISDIR;	/* as read(2) says; directories have no ->read_iter */
		goto out_file;
	}
	if (!q_readable(file)) {
		err = -EINVAL;
		goto out_file;
	}
	pos = offset;
	while (b->len < max) {
		ssize_t n = q_read(file, b->p + b->len, max - b->len, &pos);

		if (n == -EAGAIN && b->len)
			break;
		if (n < 0) {
			err = n;
			break;
		}
		if (!n)
			break;
		b->len += min_t(size_t, n, max - b->len);
		cond_resched();
	}
out_file:
	filp_close(file, NULL);
out_path:
	kfree(path);
	return err;
}

/*
 * FILE_WRITE: le64 offset, le32 flags (create, truncate, append), le32
 * mode (with create; the umask applies, as to open(2)), le32 path_length,
 * le32 data_length, path, data.  The result is le64 bytes written: all of
 * them unless a write failed part-way (an error before any byte fails the
 * query).
 */
static int q_file_write(struct qbuf *b, const u8 *req, u64 size)
{
	u64 offset = get_unaligned_le64(req);
	u32 flags, mode, plen, dlen;
	int oflags = O_WRONLY | Q_OPEN_FLAGS;
	size_t done = 0;
	struct file *file;
	const u8 *data;
	loff_t pos;
	char *path;
	int err, cerr;

	if (size < 24)
		return -EINVAL;
	flags = get_unaligned_le32(req + 8);
	mode = get_unaligned_le32(req + 12);
	plen = get_unaligned_le32(req + 16);
	dlen = get_unaligned_le32(req + 20);
	if (size != 24 + (u64)plen + dlen || offset > LLONG_MAX ||
	    (flags & ~(PORTAL_QW_CREATE | PORTAL_QW_TRUNCATE | PORTAL_QW_APPEND)) ||
	    mode > 07777)
		return -EINVAL;
	err = q_path_param(req + 24, plen, &path);
	if (err)
		return err;
	data = req + 24 + plen;
	err = qbuf_reserve(b, 8);
	if (err)
		goto out_path;
	if (flags & PORTAL_QW_CREATE)
		oflags |= O_CREAT;
	if (flags & PORTAL_QW_TRUNCATE)
		oflags |= O_TRUNC;
	if (flags & PORTAL_QW_APPEND)
		oflags |= O_APPEND;
	file = filp_open(path, oflags, mode);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		goto out_path;
	}
	if (!file->f_op->write_iter) {
		err = -EINVAL;
		goto out_file;
	}
	/* with O_APPEND the file system writes at the end whatever pos says */
	pos = offset;
	while (done < dlen) {
		ssize_t n = q_write(file, data + done, dlen - done, &pos);

		if (n <= 0) {
			/* a write that makes no progress ends it */
			if (!done)
				err = n < 0 ? n : -EIO;
			break;
		}
		done += min_t(size_t, n, dlen - done);
		cond_resched();
	}
out_file:
	/* filp_close() reports a failed flush (NFS, say): the data may be lost */
	cerr = filp_close(file, NULL);
	if (cerr && !err && dlen)
		err = cerr;
	if (!err) {
		put_unaligned_le64(done, b->p);
		b->len = 8;
	}
out_path:
	kfree(path);
	return err;
}

/* ------------------------------------------------------------------------ */
/* DIRECTORY                                                                */

/*
 * The iteration's actor may be called with the file system's locks held,
 * so it does not allocate: when the buffer is full it stops (returning
 * false leaves the entry unconsumed, as getdents does), and q_directory()
 * grows the buffer and carries on from the file's position.
 */
struct qdir {
	struct dir_context ctx;
	struct qbuf *b;
	int err;
	bool full;
};

static bool q_dir_actor(struct dir_context *ctx, const char *name, int len,
			loff_t pos, u64 ino, unsigned int type)
{
	struct qdir *d = container_of(ctx, struct qdir, ctx);
	u8 r[PORTAL_QR_ENTRY];

	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return true;
	if (len < 1 || len > Q_NAME_MAX) {
		d->err = -ENAMETOOLONG;	/* a name §3.4 cannot carry */
		return false;
	}
	if (q_record_len(PORTAL_QR_ENTRY, len) > d->b->cap - d->b->len) {
		d->full = true;
		return false;
	}
	memset(r, 0, sizeof(r));
	put_unaligned_le16(len, r + 2);
	put_unaligned_le32(type, r + 4);
	put_unaligned_le64(ino, r + 8);
	qbuf_put_record(d->b, r, sizeof(r), name, len);
	return true;
}

/* DIRECTORY: le32 path_length, le32 flags (0), path.  In the directory's order. */
static int q_directory(struct qbuf *b, const u8 *req, u64 size)
{
	struct qdir d = { .ctx.actor = q_dir_actor, .b = b };
	struct file *file;
	u32 plen;
	char *path;
	int err;

	if (size < 8)
		return -EINVAL;
	plen = get_unaligned_le32(req);
	if (size != 8 + (u64)plen || get_unaligned_le32(req + 4))
		return -EINVAL;
	err = q_path_param(req + 8, plen, &path);
	if (err)
		return err;
	file = filp_open(path, O_RDONLY | O_DIRECTORY | Q_OPEN_FLAGS, 0);
	kfree(path);
	if (IS_ERR(file))
		return PTR_ERR(file);
	/*
	 * A pass that stops on a full buffer is followed by a doubling, so
	 * the next one has room for the largest entry and moves on; the
	 * growth stops at the result cap (E2BIG), which bounds the passes.
	 */
	err = qbuf_reserve(b, PAGE_SIZE);
	while (!err) {
		d.full = false;
		err = iterate_dir(file, &d.ctx);
		if (!err)
			err = d.err;
		if (err || !d.full)
			break;
		/* room for the entry that stopped it: double the buffer */
		err = qbuf_reserve(b, b->cap - b->len + 1);
		cond_resched();
	}
	filp_close(file, NULL);
	return err;
}

/* ------------------------------------------------------------------------ */
/* STAT                                                                     */

/* STAT: le32 path_length, le32 flags (bit 0: no final symlink), path. */
static int q_stat(struct qbuf *b, const u8 *req, u64 size)
{
	u8 r[PORTAL_QR_STAT];
	struct kstat st;
	struct path p;
	u32 plen, flags;
	char *path;
	int err;

	if (size < 8)
		return -EINVAL;
	plen = get_unaligned_le32(req);
	flags = get_unaligned_le32(req + 4);
	if (size != 8 + (u64)plen || (flags & ~PORTAL_QS_NOFOLLOW))
		return -EINVAL;
	err = q_path_param(req + 8, plen, &path);
	if (err)
		return err;
	err = kern_path(path, (flags & PORTAL_QS_NOFOLLOW) ? 0 : LOOKUP_FOLLOW,
			&p);
	kfree(path);
	if (err)
		return err;
	err = vfs_getattr(&p, &st, STATX_BASIC_STATS, AT_STATX_SYNC_AS_STAT);
	path_put(&p);
	if (err)
		return err;
	memset(r, 0, sizeof(r));
	put_unaligned_le32(st.mode, r + 4);
	put_unaligned_le32(st.nlink, r + 8);
	put_unaligned_le32(from_kuid_munged(&init_user_ns, st.uid), r + 12);
	put_unaligned_le32(from_kgid_munged(&init_user_ns, st.gid), r + 16);
	put_unaligned_le64(st.size, r + 24);
	put_unaligned_le64(st.ino, r + 32);
	put_unaligned_le64(st.mtime.tv_sec * NSEC_PER_SEC + st.mtime.tv_nsec,
			   r + 40);
	put_unaligned_le32(MAJOR(st.rdev), r + 48);
	put_unaligned_le32(MINOR(st.rdev), r + 52);
	return qbuf_record(b, r, sizeof(r), NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* The two ops                                                              */

/* Writes the page of the held result at offset; frees it at its end. */
static void q_page(struct portal_slot *s, u64 offset)
{
	u8 *d = slot_data(s);
	size_t n = min_t(u64, PORTAL_Q_PAGE_MAX, held.len - offset);
	u64 id = held.id;

	put_unaligned_le64(held.len, d + PORTAL_Q_PAGE_TOTAL);
	put_unaligned_le64(offset, d + PORTAL_Q_PAGE_OFFSET);
	if (n)
		memcpy(d + PORTAL_Q_PAGE_HDR, held.buf + offset, n);
	if (offset + n == held.len)
		portal_query_release();
	region_respond(s, PORTAL_EXT_OK, id, PORTAL_Q_PAGE_HDR + n);
}

/* The kinds, by number (protocol.md §3.4); a gap or a larger number is EINVAL. */
static int (*const q_kinds[])(struct qbuf *b, const u8 *req, u64 size) = {
	[PORTAL_Q_PROCESSES]	= q_processes,
	[PORTAL_Q_MAPPINGS]	= q_mappings,
	[PORTAL_Q_FILES]	= q_files,
	[PORTAL_Q_PATHS]	= q_paths,
	[PORTAL_Q_FILE_READ]	= q_file_read,
	[PORTAL_Q_FILE_WRITE]	= q_file_write,
	[PORTAL_Q_DIRECTORY]	= q_directory,
	[PORTAL_Q_STAT]		= q_stat,
};

static int q_run(struct qbuf *b, u64 kind, const u8 *req, u64 size)
{
	if (kind >= ARRAY_SIZE(q_kinds) || !q_kinds[kind])
		return -EINVAL;
	return q_kinds[kind](b, req, size);
}

/* QUERY: addr = kind, size = parameter length, data = parameters. */
static void op_query(struct portal_slot *s, u64 kind, u64 size)
{
	struct qbuf b = {};
	int err;

	/* a new QUERY replaces the held result, whatever becomes of it */
	portal_query_release();
	if (size > PORTAL_CHUNK_SIZE)
		return region_respond(s, PORTAL_EXT_FAIL, EINVAL, 0);
	memcpy(q_req, slot_data(s), size);
	err = q_run(&b, kind, q_req, size);
	if (err) {
		kvfree(b.p);
		return region_respond(s, PORTAL_EXT_FAIL, -err, 0);
	}
	held.buf = b.p;
	held.len = b.len;
	held.id = ++last_id;
	q_page(s, 0);
}

/* QUERY_PAGE: addr = result id, size = 8, data = le64 offset. */
static void op_query_page(struct portal_slot *s, u64 id, u64 size)
{
	u64 offset;

	if (size != 8)
		return region_respond(s, PORTAL_EXT_FAIL, EINVAL, 0);
	offset = get_unaligned_le64(slot_data(s));
	if (!held.id || id != held.id)
		return region_respond(s, PORTAL_EXT_FAIL, ESTALE, 0);
	if (offset >= held.len)
		return region_respond(s, PORTAL_EXT_FAIL, EINVAL, 0);
	q_page(s, offset);
}

/* QUERY or QUERY_PAGE on the control slot (portal_serve() checked that). */
void portal_op_query(struct portal_slot *s, u64 op, u64 addr, u64 size)
{
	if (op == PORTAL_OP_QUERY)
		op_query(s, addr, size);
	else
		op_query_page(s, addr, size);
}
