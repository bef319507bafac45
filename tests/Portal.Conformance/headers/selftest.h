/* SPDX-License-Identifier: GPL-2.0 */
/*
 * selftest.h: the self-test area of `portal-selftest desc` (docs/guest-programs.md), as C, so the
 * conformance suite reads it through generated proxies like a user's header.
 */
#ifndef PORTAL_SELFTEST_H
#define PORTAL_SELFTEST_H

#include <stdint.h>
#include <linux/ioctl.h>

/* The first five fields of the descriptor: a record with five members. */
struct selftest_head {
	uint64_t magic;
	uint64_t buf;
	uint64_t buf_size;
	uint64_t ro;
	uint64_t unmapped;
};

/* The whole descriptor; every field is a u64 in the guest's byte order. */
struct selftest_desc {
	struct selftest_head head;
	uint64_t str;		/* char[64] holding "portal-selftest" */
	uint64_t long_str;
	uint64_t int32_at;	/* -> int32_t 0x11223344 */
	uint64_t int64_at;	/* -> int64_t 0x1122334455667788 */
	uint64_t ptr_at;	/* -> a native pointer holding buf */
	uint64_t fd;
	uint64_t pid;
};

/*
 * The argument of `portal-selftest named CMD NAME`: the name at offset 4, then a pointer to a second
 * copy of it, at offset 24 on 64-bit ABIs and 20 on 32-bit ones (memory filters by member name).
 */
struct selftest_named {
	uint32_t tag;		/* 0x454d414e */
	char name[16];
	const char *alias;
};

/* An _IOW number: its direction bits and size differ between ABIs (0x40207071 on x86_64, 0x80187071 on mipsel). */
#define SELFTEST_NAMED_IOCTL _IOW('p', 0x71, struct selftest_named)

#endif /* PORTAL_SELFTEST_H */
