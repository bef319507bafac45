// SPDX-License-Identifier: GPL-2.0
/*
 * portal-bench: times syscalls from inside the guest, for Portal's benchmarks.
 *
 *   portal-bench getppid N          N getppid() calls (a syscall no hook matches)
 *   portal-bench ioctl N CMD        N ioctl(/dev/null, CMD, i) calls (hook CMD to time events)
 *   portal-bench named N CMD NAME   N ioctl(/dev/null, CMD, &named) calls, named = { char name[16]
 *                                   = NAME; const char *alias = name }: memory filters' cost
 *   portal-bench handler SCENARIO   calls ioctl(/dev/null, ...) with SCENARIO's data again and
 *                                   again, for as long as a handler answers 0; BENCH_STOP ends it
 *
 * Scenarios (portal-bench.h; the host benchmarks one handler per syscall):
 *   raeth              ioctl(RAETH_ESW_REG_READ, &ifr): ifr "eth0", ifr_data -> esw_reg
 *   ioctl_interaction  ioctl(SIOCDEVPRIVATE, &ifr): ifr "eth0", 0x1337 at offset 16
 *   record             ioctl(BENCH_HANDLER_CMD, &record): a five-member record
 *   chase              ioctl(BENCH_HANDLER_CMD, &chase): chase.record -> a record
 *   bulk               ioctl(BENCH_HANDLER_CMD, buffer): 64 KiB of i & 0xff
 *   empty              ioctl(BENCH_HANDLER_CMD, &record): for a handler that reads nothing
 * The data is reset before every call, so what a handler wrote is gone the next time. The calls go
 * to /dev/null, not to a socket: there the kernel answers at once (ENOTTY), where a socket's
 * SIOCDEVPRIVATE-range ioctl for a missing interface runs request_module("netdev-eth0"), about 3 ms
 * under TCG that would drown what is measured.
 *
 * Each call is timed on its own with CLOCK_MONOTONIC; the program prints
 *   calls=N median_ns=M p90_ns=P mean_ns=A
 * The median is what Portal's docs quote: under TCG a few calls are slowed by
 * the host scheduler, which the mean shows and the median ignores.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "portal-bench.h"

#define RAETH_ESW_REG_READ	0x89F1
#define SIOCDEVPRIVATE_CMD	0x89F0
#define REG_ESW_TABLE_STATUS0	0x90

/* ifreq.ifr_data of RAETH_ESW_REG_READ (samples/Raeth/headers/raeth.h) */
typedef struct {
	unsigned int off;
	unsigned int val;
} esw_reg;

static struct {
	struct ifreq ifr;
	esw_reg reg;
	struct bench_record record;
	struct bench_chase chase;
	unsigned char bulk[BENCH_BULK_SIZE];
} data;

/* Puts the scenario's data back as it was; returns the ioctl's command and argument. */
static int reset(const char *scenario, unsigned long *cmd, void **arg)
{
	size_t i;

	memset(&data.ifr, 0, sizeof(data.ifr));
	strcpy(data.ifr.ifr_name, "eth0");
	data.record.id = 7;
	data.record.flags = 0x8001;
	data.record.port = 8080;
	data.record.counter = 0x1122334455667788ULL;
	data.record.status = -2;
	if (!strcmp(scenario, "raeth")) {
		data.reg.off = REG_ESW_TABLE_STATUS0;
		data.reg.val = 0;
		data.ifr.ifr_data = (char *)&data.reg;
		*cmd = RAETH_ESW_REG_READ;
		*arg = &data.ifr;
	} else if (!strcmp(scenario, "ioctl_interaction")) {
		*(uint32_t *)((char *)&data.ifr + IFNAMSIZ) = 0x1337;
		*cmd = SIOCDEVPRIVATE_CMD;
		*arg = &data.ifr;
	} else if (!strcmp(scenario, "record") || !strcmp(scenario, "empty")) {
		*cmd = BENCH_HANDLER_CMD;
		*arg = &data.record;
	} else if (!strcmp(scenario, "chase")) {
		data.chase.kind = 1;
		data.chase.target = &data.record;
		*cmd = BENCH_HANDLER_CMD;
		*arg = &data.chase;
	} else if (!strcmp(scenario, "bulk")) {
		for (i = 0; i < sizeof(data.bulk); i++)
			data.bulk[i] = i & 0xff;
		*cmd = BENCH_HANDLER_CMD;
		*arg = data.bulk;
	} else {
		return -1;
	}
	return 0;
}

/* Calls the scenario's ioctl until the handler says stop; a call nobody answers ends it too. */
static int run_handler(const char *scenario)
{
	unsigned long cmd;
	long calls = 0, rc;
	void *arg;
	int fd;

	if (reset(scenario, &cmd, &arg)) {
		fprintf(stderr, "portal-bench: unknown scenario %s\n", scenario);
		return 2;
	}
	fd = open("/dev/null", O_RDWR);
	if (fd < 0) {
		perror("open /dev/null");
		return 1;
	}
	for (;;) {
		rc = ioctl(fd, cmd, arg);
		if (rc != 0)
			break;
		calls++;
		reset(scenario, &cmd, &arg);
	}
	if (rc == BENCH_STOP) {
		printf("calls=%ld stopped\n", calls);
		return 0;
	}
	printf("calls=%ld rc=%ld errno=%d: no handler answered\n", calls, rc, errno);
	return 1;
}

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
	fprintf(stderr, "usage: portal-bench getppid N | ioctl N CMD | named N CMD NAME | handler SCENARIO\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct { char name[16]; const char *alias; } named = { "", NULL };
	long long *samples, total = 0, start;
	unsigned long cmd = 0;
	int fd = -1, is_ioctl, is_named;
	long n, i;

	if (argc < 3)
		return usage();
	if (!strcmp(argv[1], "handler"))
		return run_handler(argv[2]);
	is_named = !strcmp(argv[1], "named");
	is_ioctl = is_named || !strcmp(argv[1], "ioctl");
	if (!is_ioctl && strcmp(argv[1], "getppid"))
		return usage();
	if (is_ioctl && argc < (is_named ? 5 : 4))
		return usage();
	if (is_named) {
		strncpy(named.name, argv[4], sizeof(named.name) - 1);
		named.alias = named.name;
	}
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
		if (is_named)
			ioctl(fd, cmd, &named);
		else if (is_ioctl)
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
