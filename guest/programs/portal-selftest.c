// SPDX-License-Identifier: GPL-2.0
/*
 * portal-selftest: the guest side of the Portal conformance tests.
 * Contract: docs/guest-programs.md (output formats must not change).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096
#define BUF_SIZE	16384
#define LONG_STR_LEN	9000
#define DEFAULT_CMD	0x7470

/* the self-test area descriptor: every field a native u64 */
struct selftest_desc {
	uint64_t magic;
	uint64_t buf;
	uint64_t buf_size;
	uint64_t ro;
	uint64_t unmapped;
	uint64_t str;
	uint64_t long_str;
	uint64_t int32_at;
	uint64_t int64_at;
	uint64_t ptr_at;
	uint64_t fd;
	uint64_t pid;
};

static uint32_t crc_table[256];

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	if (!crc_table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;

			for (int k = 0; k < 8; k++)
				v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
			crc_table[i] = v;
		}
	}
	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static void fill_pattern(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(((uint32_t)i * 2654435761u) >> 24);
}

static void *map_pages(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

static int cmd_desc(int fd, int argc, char **argv)
{
	static struct selftest_desc desc;
	unsigned long cmd = argc > 0 ? strtoul(argv[0], NULL, 0) : DEFAULT_CMD;
	static int32_t int32_val;
	static int64_t int64_val;
	static void *ptr_val;
	uint8_t *buf, *ro;
	char *str, *long_str;
	long rc;
	int err;

	/* small objects first, the buffer with its unmapped page last */
	str = map_pages(PAGE);
	memset(str, 0, PAGE);
	strcpy(str, "portal-selftest");
	long_str = map_pages(3 * PAGE);
	for (int i = 0; i < LONG_STR_LEN; i++)
		long_str[i] = 'a' + i % 26;
	long_str[LONG_STR_LEN] = 0;
	ro = map_pages(PAGE);
	fill_pattern(ro, PAGE);
	if (mprotect(ro, PAGE, PROT_READ)) {
		perror("mprotect");
		return 1;
	}
	buf = map_pages(BUF_SIZE + PAGE);
	if (munmap(buf + BUF_SIZE, PAGE)) {
		perror("munmap");
		return 1;
	}
	fill_pattern(buf, BUF_SIZE);
	int32_val = 0x11223344;
	int64_val = 0x1122334455667788LL;
	ptr_val = buf;

	desc.magic = 0x504c5445535431ULL;
	desc.buf = (uintptr_t)buf;
	desc.buf_size = BUF_SIZE;
	desc.ro = (uintptr_t)ro;
	desc.unmapped = (uintptr_t)(buf + BUF_SIZE);
	desc.str = (uintptr_t)str;
	desc.long_str = (uintptr_t)long_str;
	desc.int32_at = (uintptr_t)&int32_val;
	desc.int64_at = (uintptr_t)&int64_val;
	desc.ptr_at = (uintptr_t)&ptr_val;
	desc.fd = fd;
	desc.pid = getpid();

	printf("desc=0x%lx\n", (unsigned long)(uintptr_t)&desc);
	fflush(stdout);
	errno = 0;
	rc = ioctl(fd, cmd, &desc);
	err = rc < 0 ? errno : 0;
	printf("rc=%ld errno=%d\n", rc, err);
	printf("str=%.64s\n", str);
	printf("int32=0x%08x\n", (uint32_t)int32_val);
	printf("int64=0x%016llx\n", (unsigned long long)int64_val);
	printf("ptr=0x%lx\n", (unsigned long)(uintptr_t)ptr_val);
	printf("buf_crc=0x%08x\n", crc32_ieee(buf, BUF_SIZE));
	printf("ro_crc=0x%08x\n", crc32_ieee(ro, PAGE));
	return 0;
}

static int cmd_ioctl(int fd, int argc, char **argv)
{
	if (argc < 2 || argc % 2) {
		fprintf(stderr, "portal-selftest ioctl: needs CMD ARG pairs\n");
		return 2;
	}
	for (int i = 0; i + 1 < argc; i += 2) {
		unsigned long cmd = strtoul(argv[i], NULL, 0);
		unsigned long arg = strtoul(argv[i + 1], NULL, 0);
		long rc;
		int err;

		errno = 0;
		rc = ioctl(fd, cmd, arg);
		err = rc < 0 ? errno : 0;
		printf("ioctl cmd=0x%lx arg=0x%lx rc=%ld errno=%d\n", cmd, arg,
		       rc, err);
	}
	return 0;
}

static int cmd_write(int fd, int argc, char **argv)
{
	static char buffer[4096];

	memset(buffer, 'w', sizeof(buffer));
	for (int i = 0; i < argc; i++) {
		unsigned long n = strtoul(argv[i], NULL, 0);
		long rc;
		int err;

		if (n > sizeof(buffer)) {
			fprintf(stderr, "portal-selftest write: N > 4096\n");
			return 2;
		}
		errno = 0;
		rc = write(fd, buffer, n);
		err = rc < 0 ? errno : 0;
		printf("write n=%lu rc=%ld errno=%d\n", n, rc, err);
	}
	return 0;
}

/*
 * process_vm_readv(self, local[5], N, remote[1], 1, 0): a syscall with six
 * arguments (on MIPS o32 the 5th and 6th travel on the user stack), each of
 * which changes the result when rewritten.  The remote iovec is 8 bytes, so
 * an untouched call returns 8 whatever N (1..5) is.
 */
static int cmd_pvr(int argc, char **argv)
{
	static char remote_buf[8] = "portal!", local_buf[5][8];
	struct iovec local[5], remote = { remote_buf, sizeof(remote_buf) };

	for (int i = 0; i < 5; i++)
		local[i] = (struct iovec){ local_buf[i], sizeof(local_buf[i]) };
	for (int i = 0; i < argc; i++) {
		unsigned long n = strtoul(argv[i], NULL, 0);
		long rc;
		int err;

		if (n < 1 || n > 5) {
			fprintf(stderr, "portal-selftest pvr: N is 1..5\n");
			return 2;
		}
		errno = 0;
		rc = syscall(SYS_process_vm_readv, (long)getpid(), local, n, &remote, 1UL, 0UL);
		err = rc < 0 ? errno : 0;
		printf("pvr pid=%d n=%lu local=0x%lx remote=0x%lx rc=%ld errno=%d\n", getpid(), n,
		       (unsigned long)(uintptr_t)local, (unsigned long)(uintptr_t)&remote, rc, err);
	}
	return 0;
}

/* The argument of `named` (tests/Portal.Conformance/headers/selftest.h). */
struct selftest_named {
	uint32_t tag;
	char name[16];
	const char *alias;
};

/* ioctl(devnull, CMD, &named) per NAME: memory filters on a member, and through a pointer. */
static int cmd_named(int fd, int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "portal-selftest named: needs CMD NAME...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		unsigned long cmd = strtoul(argv[0], NULL, 0);
		struct selftest_named named = { .tag = 0x454d414e };
		char alias[64];
		long rc;
		int err;

		strncpy(named.name, argv[i], sizeof(named.name) - 1);
		snprintf(alias, sizeof(alias), "%s", argv[i]);
		named.alias = alias;
		errno = 0;
		rc = ioctl(fd, cmd, &named);
		err = rc < 0 ? errno : 0;
		printf("named cmd=0x%lx name=%s rc=%ld errno=%d\n", cmd, named.name, rc, err);
	}
	return 0;
}

/* openat(AT_FDCWD, PATH, O_RDONLY) per PATH: memory filters on a path argument. */
static int cmd_open(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		int rc, err;

		errno = 0;
		rc = openat(AT_FDCWD, argv[i], O_RDONLY);
		err = rc < 0 ? errno : 0;
		printf("open path=%s rc=%d errno=%d\n", argv[i], rc, err);
		if (rc >= 0)
			close(rc);
	}
	return 0;
}

/*
 * --descend N: a chain of N processes below this one, each the child of the
 * one before, so the scope filters' subtree walk can be tested at a depth.
 * Each waits for its child and exits with its status; the last one returns
 * and runs the command.
 */
static void descend(unsigned long generations)
{
	for (; generations > 0; generations--) {
		pid_t child;
		int status;

		fflush(NULL);	/* nothing buffered is printed twice */
		child = fork();
		if (child < 0) {
			perror("fork");
			exit(1);
		}
		if (child == 0)
			continue;
		if (waitpid(child, &status, 0) < 0) {
			perror("waitpid");
			exit(1);
		}
		exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
}

/*
 * The target of the function-hook tests (protocol.md §4.6): six arguments,
 * so that on armel and mipsel two travel on the stack, and a result each of
 * them changes.  Not inlined, not cloned (a specialised copy would take its
 * calls), kept in the symbol table under this name; called through a
 * volatile pointer so that the call always reaches this very code, and the
 * result hidden from the optimiser so it cannot be folded.  The sum is
 * computed unsigned: it wraps at the register width instead of overflowing.
 */
__attribute__((noinline, noclone, used))
long portal_probe_target(long a, long b, long c, long d, long e, long f)
{
	unsigned long r = (unsigned long)a + 2UL * (unsigned long)b +
			  3UL * (unsigned long)c + 4UL * (unsigned long)d +
			  5UL * (unsigned long)e + 6UL * (unsigned long)f;

	__asm__ volatile("" : "+r"(r));
	return (long)r;
}

#if defined(__x86_64__)
/*
 * A first instruction x86's uprobes will not single-step (hlt: the
 * kernel's table of probeable opcodes leaves it out), so a function hook
 * here is refused with EOPNOTSUPP while a process has this file mapped
 * (protocol.md §4.6).  Naked: hlt is the first byte.  Never called.
 */
__attribute__((naked, used, noinline))
void portal_probe_refused(void)
{
	__asm__ volatile("hlt");
}
#endif

/* func A B C D E F: print portal_probe_target(A, ..., F). */
static int cmd_func(char **argv)
{
	long (*volatile target)(long, long, long, long, long, long) = portal_probe_target;
	long v[6], rc;

	for (int i = 0; i < 6; i++)
		v[i] = (long)strtoul(argv[i], NULL, 0);
	rc = target(v[0], v[1], v[2], v[3], v[4], v[5]);
	printf("func rc=%ld\n", rc);
	return 0;
}

static int usage(void);

/*
 * hold PATH: stay alive with PATH open and one page of it mapped, in /tmp,
 * until PATH.release exists (exit 0) or 60 s pass (exit 3), so the host can
 * look at a live process: its list entry, mappings, fds and paths.
 */
static int cmd_hold(const char *path)
{
	char release[4096];
	void *map;
	int fd;

	if (snprintf(release, sizeof(release), "%s.release", path) >= (int)sizeof(release))
		return usage();
	if (chdir("/tmp")) {
		printf("hold: chdir /tmp: errno=%d\n", errno);
		return 1;
	}
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("hold: open %s: errno=%d\n", path, errno);
		return 1;
	}
	map = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		printf("hold: mmap %s: errno=%d\n", path, errno);
		return 1;
	}
	printf("hold pid=%d fd=%d map=0x%lx\n", getpid(), fd, (unsigned long)map);
	fflush(stdout);
	for (int waited_ms = 0; waited_ms < 60000; waited_ms += 10) {
		struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };

		if (!access(release, F_OK))
			return 0;
		nanosleep(&tick, NULL);
	}
	printf("hold: timed out\n");
	return 3;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: portal-selftest [--comm NAME] [--descend N] COMMAND [ARGS...]\n"
		"  desc [CMD]               ioctl(devnull, CMD (0x7470), &area)\n"
		"  ioctl CMD ARG [CMD ARG]  ioctl(devnull, CMD, ARG)\n"
		"  write N...               write(devnull, buffer, N), N <= 4096\n"
		"  named CMD NAME...         ioctl(devnull, CMD, &selftest_named{NAME}) per NAME\n"
		"  open PATH...             openat(AT_FDCWD, PATH, O_RDONLY) per PATH\n"
		"  getpid                   print pid=<getpid()>\n"
		"  pvr N...                 process_vm_readv(self, local[5], N, remote[1], 1, 0), N 1..5\n"
		"  hold PATH                keep PATH open and mapped, in /tmp, until PATH.release exists\n"
		"  func A B C D E F         print func rc=<portal_probe_target(A..F) = A+2B+3C+4D+5E+6F>\n");
	return 2;
}

int main(int argc, char **argv)
{
	int i = 1, fd;

	if (argc > 2 && !strcmp(argv[1], "--comm")) {
		if (prctl(PR_SET_NAME, argv[2], 0, 0, 0)) {
			perror("prctl");
			return 1;
		}
		i = 3;
	}
	if (i + 1 < argc && !strcmp(argv[i], "--descend")) {
		descend(strtoul(argv[i + 1], NULL, 0));
		i += 2;
	}
	if (i >= argc)
		return usage();
	fd = open("/dev/null", O_RDWR);
	if (fd < 0) {
		perror("/dev/null");
		return 1;
	}
	if (!strcmp(argv[i], "desc"))
		return cmd_desc(fd, argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "ioctl"))
		return cmd_ioctl(fd, argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "write"))
		return cmd_write(fd, argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "named"))
		return cmd_named(fd, argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "open"))
		return cmd_open(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "pvr"))
		return cmd_pvr(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "hold") && argc - i == 2)
		return cmd_hold(argv[i + 1]);
	if (!strcmp(argv[i], "func") && argc - i == 7)
		return cmd_func(argv + i + 1);
	if (!strcmp(argv[i], "getpid")) {
		printf("pid=%d\n", getpid());
		return 0;
	}
	return usage();
}
