// SPDX-License-Identifier: GPL-2.0
/*
 * portal-load: a sequence-checked stream of hooked syscalls, for Portal's reliability tests and its
 * soak command.
 *
 *   portal-load CMD N [RATE [NOISE]]
 *
 * makes N calls ioctl(/dev/null, CMD, base + i) for i = 0..N-1, where base is (pid << 24): the
 * argument names the process and the call. A host handler that answers "skip, return (arg & 0xffffff)
 * + 1" proves that each call got ITS verdict: nothing lost, nothing routed to another caller. Unhandled
 * calls return -1 (ENOTTY from /dev/null). RATE > 0 paces the calls at RATE per second (absolute
 * deadlines, so a slow call does not lower the rate); 0 = as fast as possible. NOISE getppid() calls
 * (a syscall no hook matches) follow each ioctl. It prints one line:
 *
 *   portal-load: calls=N handled=H unhandled=U wrong=W noise=K elapsed_ms=T
 *
 * and exits 0 when every call was handled, 1 otherwise (2 on bad arguments).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(long long deadline)
{
	struct timespec ts = {
		.tv_sec = deadline / 1000000000LL,
		.tv_nsec = deadline % 1000000000LL,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int main(int argc, char **argv)
{
	long n, rate = 0, noise = 0, i, j, handled = 0, unhandled = 0, wrong = 0, rc;
	unsigned long cmd, base;
	long long start, elapsed;
	int fd;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: portal-load CMD N [RATE [NOISE]]\n");
		return 2;
	}
	cmd = strtoul(argv[1], NULL, 0);
	n = strtol(argv[2], NULL, 0);
	if (argc > 3)
		rate = strtol(argv[3], NULL, 0);
	if (argc > 4)
		noise = strtol(argv[4], NULL, 0);
	if (n < 1 || n > 0xffffff || rate < 0 || rate > 1000000000 || noise < 0 || noise > 1000000) {
		fprintf(stderr, "portal-load: N must be 1..%d, RATE 0..1e9, NOISE 0..1e6\n", 0xffffff);
		return 2;
	}
	fd = open("/dev/null", O_RDWR);
	if (fd < 0) {
		perror("open /dev/null");
		return 1;
	}
	base = ((unsigned long)getpid() & 0x7f) << 24;
	start = now_ns();
	for (i = 0; i < n; i++) {
		if (rate)
			sleep_until(start + i * (1000000000LL / rate));
		rc = ioctl(fd, cmd, base + i);
		if (rc == i + 1)
			handled++;
		else if (rc == -1)
			unhandled++;
		else
			wrong++;
		for (j = 0; j < noise; j++)
			getppid();
	}
	elapsed = now_ns() - start;
	printf("portal-load: calls=%ld handled=%ld unhandled=%ld wrong=%ld noise=%ld elapsed_ms=%lld\n",
	       n, handled, unhandled, wrong, n * noise, elapsed / 1000000);
	return handled == n ? 0 : 1;
}
