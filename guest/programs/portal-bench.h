/* SPDX-License-Identifier: GPL-2.0 */
/*
 * portal-bench.h: what `portal-bench handler SCENARIO` passes to its ioctl, for Portal's handler
 * benchmarks (benchmarks/Portal.Benchmarks). The host reads these records through proxies
 * generated from this very header.
 */
#ifndef PORTAL_BENCH_H
#define PORTAL_BENCH_H

#include <stdint.h>

/* The ioctl command of the record, chase, bulk and empty scenarios (SIOCDEVPRIVATE + 14). The
 * raeth scenario uses RAETH_ESW_REG_READ and ioctl_interaction SIOCDEVPRIVATE, like the real ones. */
#define BENCH_HANDLER_CMD	0x89FE

/* What the handler returns: 0 = handled, call again; BENCH_STOP = the benchmark is over. */
#define BENCH_STOP		1

/* Size of the bulk scenario's buffer. */
#define BENCH_BULK_SIZE		65536

/* A record with five members of mixed widths. */
struct bench_record {
	uint32_t id;
	uint16_t flags;
	uint16_t port;
	uint64_t counter;
	int32_t status;
};

/* A record that points to another one: the chase scenario follows `target`. */
struct bench_chase {
	uint32_t kind;
	struct bench_record *target;
};

#endif /* PORTAL_BENCH_H */
