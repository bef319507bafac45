// SPDX-License-Identifier: GPL-2.0
/*
 * portal-bench: times syscalls from inside the guest, for Portal's benchmarks.
 *
 *   portal-bench getppid N          N getppid() calls (a syscall no hook matches)
 *   portal-bench ioctl N CMD        N ioctl(/dev/null, CMD, i) calls (hook CMD to time events)
 *
 * Each call is timed on its own with CLOCK_MONOTONIC; the program prints
 *   calls=N median_ns=M p90_ns=P mean_ns=A
 * The median is what Portal's docs quote: under TCG a few calls are slowed by
 * the host scheduler, which the mean shows and the median ignores.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int compare(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static int usage(void)
{
	fprintf(stderr, "usage: portal-bench getppid N | ioctl N CMD\n");
	return 2;
}

int main(int argc, char **argv)
{
	long long *samples, total = 0, start;
	unsigned long cmd = 0;
	long n, i;
	int fd = -1, is_ioctl;

	if (argc < 3)
		return usage();
	is_ioctl = !strcmp(argv[1], "ioctl");
	if (!is_ioctl && strcmp(argv[1], "getppid"))
		return usage();
	if (is_ioctl && argc < 4)
		return usage();
	n = strtol(argv[2], NULL, 0);
	if (n < 1 || n > 10000000)
		return usage();
	if (is_ioctl) {
		cmd = strtoul(argv[3], NULL, 0);
		fd = open("/dev/null", O_RDWR);
		if (fd < 0) {
			perror("open /dev/null");
			return 1;
		}
	}
	samples = malloc(n * sizeof(*samples));
	if (!samples) {
		perror("malloc");
		return 1;
	}
	for (i = 0; i < n; i++) {
		start = now_ns();
		if (is_ioctl)
			ioctl(fd, cmd, i);
		else
			getppid();
		samples[i] = now_ns() - start;
		total += samples[i];
	}
	qsort(samples, n, sizeof(*samples), compare);
	printf("calls=%ld median_ns=%lld p90_ns=%lld mean_ns=%lld\n", n,
	       samples[n / 2], samples[n * 9 / 10], total / n);
	free(samples);
	return 0;
}
