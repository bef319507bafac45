// SPDX-License-Identifier: GPL-2.0
/*
 * portal-hostile: a malicious portal.ko, played from user space, for the host's hostile-guest test.
 *
 *   portal-hostile [--slots N] [--bound-ms MS] [--seed S] [--bad-header] SCENARIO...
 *
 * With portal.ko NOT loaded (kernel argument portal.noload), it maps the shared window through
 * /dev/mem at the address the host passes to portal.ko (portal.window_phys= on the kernel command
 * line; the host keeps the range out of System RAM, so /dev/mem lets root map it), lays out a window header the host accepts (docs/protocol.md §5.1) with N vCPU slots
 * (default 2, whatever the number of vCPUs: nothing in the window ties a slot to a CPU), and waits
 * until a host has attached and registered a hook. It serves the control slot plausibly throughout
 * (GUEST_INFO, HOOK_*, PING, STATS), then plays each SCENARIO in order:
 *
 *   sane:N             N well-formed events for the host's hook, its requests answered correctly; the
 *                      verdict must be the one the test handler computes from those answers
 *   garbage-events:N   N events with garbage records (unknown or zero hook ids, sizes out of range,
 *                      bad phases, the hook's id with the wrong syscall or phase, bad pids, random
 *                      bytes, event id 0); each needs an untouched verdict
 *   wrong-answers:N    N events for the hook whose every request gets an invalid answer (sizes beyond
 *                      the region or the request, wrong response codes, bad errnos, malformed
 *                      BATCH_OK...); each needs an untouched verdict
 *   silent-request:N   N events (on every slot at once) whose requests are never answered and never
 *                      given up on: the host must time the exchange out and answer untouched
 *   silent-control     ignores the next control-slot request (prints "muted=1" first), then answers
 *                      again: the host must time that exchange out and recover
 *   late-control[:MS]  ignores the next control-slot request and answers it MS ms later (default 3000),
 *                      after the host has given up on it; then prints "answered_late=1" and waits for
 *                      the next request: the host must not take the late answer for the next one's
 *   flood:N[:US]       N posts that are not events (every US microseconds; default as fast as possible)
 *   forged-abandon:N   N forged abandoned_event markers: random ids, the id of an event the host is
 *                      handling, the id of a future event (then posts that event), an abandonment
 *                      withdrawn at once, the id of an event already answered
 *   bogus-reports:N    N sane events whose verdict reports lie (garbage status and counts, reports for
 *                      events never posted or not yet posted)
 *   corrupt-header     changes slot count, stride, state, magic and version under the host, then
 *                      plays sane and garbage events on the corrupted window
 *   gate:NAME          prints "gate=NAME" and waits until /tmp/portal-hostile.NAME exists
 *
 * --bad-header first lays out a header with an impossible slot count and waits at gate "bad-header".
 * Each scenario prints one line:
 *
 *   scenario=NAME posted=P answered=A untouched=U touched=T acked=K unanswered=X bad=B requests=R
 *   max_wait_us=W [more fields]
 *
 * answered: verdicts for the event's id; acked: events the host acknowledged as given up (§5.3);
 * bad: verdicts for another id, touched verdicts where untouched was due, wrong values, stray posts.
 * "check=FAIL ..." lines say what went wrong. After the scenarios it prints "done failures=F", keeps
 * serving the control slot until the host detaches (at most 60 s), and exits 0 if F is 0, 1 if not,
 * 2 on bad arguments, 3 when the window cannot be mapped.
 */
#define _FILE_OFFSET_BITS 64	/* the window may lie above 2 GiB on a 32-bit guest */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define WINDOW_SIZE	(1UL << 20)
#define HDR_SIZE	4096
#define STRIDE		8192
#define MAX_SLOTS	((WINDOW_SIZE - HDR_SIZE) / STRIDE)	/* 127, the control slot included */

#define W_MAGIC		0
#define W_VERSION	8
#define W_SLOTS		12
#define W_STRIDE	16
#define W_STATE		20
#define W_SESSION	64

#define S_HOST_SEQ	0
#define S_GUEST_SEQ	64
#define S_ABANDONED	128
#define S_HOST_ACK	192
#define S_REPORT	256
#define S_REGION	4096

#define R_OP		0
#define R_ADDR		8
#define R_SIZE		16
#define R_DATA		24
#define CHUNK		4072

#define OP_READ		1
#define OP_WRITE	2
#define OP_READ_STR	6
#define OP_GUEST_INFO	0x100
#define OP_HOOK_REGISTER 0x101
#define OP_HOOK_UNREGISTER 0x102
#define OP_VERDICT	0x103
#define OP_BATCH	0x104
#define OP_PING		0x105
#define OP_STATS	0x106
#define OP_HOOK_RESET	0x107

#define READ_OK		0xf0000001ULL
#define READ_FAIL	0xf0000002ULL
#define READ_PARTIAL	0xf0000003ULL
#define WRITE_OK	0xf0000004ULL
#define WRITE_FAIL	0xf0000005ULL
#define READ_NUM	0xf0000006ULL
#define EVENT		0xf0000100ULL
#define EXT_OK		0xf0000101ULL
#define EXT_FAIL	0xf0000102ULL
#define BATCH_OK	0xf0000103ULL

#define E_NOENT		2
#define E_SRCH		3
#define E_FAULT		14
#define E_INVAL		22
#define E_NOSPC		28
#define E_NOSYS		38

#define SKIP_FLAG	0x2
#define STRING		"hostile"	/* every string the sane answers return */
#define STRING_LEN	7
#define MAX_HOOKS	64

struct hook {
	uint32_t id, nr, phase;
};

/* what the host did with one event */
struct outcome {
	int verdict;		/* a VERDICT for this event's id came */
	int wrong_id;		/* a VERDICT for another id came */
	int untouched;		/* ... and it changes nothing */
	uint32_t flags;
	int64_t retval;
	int acked;		/* host_ack reached the id we gave up on */
	int stray;		/* a post after the acknowledgement */
	int requests;
	long long wait_us;
};

struct tally {
	long posted, answered, untouched, touched, acked, unanswered, bad, requests;
	long long max_wait_us, min_wait_us;
};

/* how a held event's requests are answered */
enum answer_mode { ANSWER_SANE, ANSWER_GARBAGE, ANSWER_SILENT, ANSWER_ABANDON, ANSWER_ABANDON_FLIP, ANSWER_GIVEN_UP };

static uint8_t *win;
static unsigned int cpu_slots = 2;
static long long bound_ns = 5000000000LL;
static uint32_t seen_host[MAX_SLOTS];
static uint32_t guest_seq[MAX_SLOTS];
static uint64_t next_id[MAX_SLOTS];
static struct hook hooks[MAX_HOOKS];
static int nhooks;
static uint32_t next_hook_id = 1;
static int mute_next;			/* ignore the next control request */
static long muted;			/* control requests ignored */
static uint64_t muted_op;
static long long late_at;		/* > 0: when to answer the ignored request after all; < 0: minus the delay */
static long control_answered;
static unsigned int garbage_variant;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static long failures;
static long requests_by_op[4];		/* READ, READ_STR, BATCH, anything else: per scenario */

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* ---- window access: control words with acquire/release, records little-endian ---- */

static uint8_t *slot(unsigned int s)
{
	return win + HDR_SIZE + (size_t)s * STRIDE;
}

static uint8_t *region(unsigned int s)
{
	return slot(s) + S_REGION;
}

/*
 * The window's address, from the kernel argument the host passes to portal.ko (portal.window_phys=),
 * or 0 without one: only the host knows where it keeps the window.
 */
static unsigned long window_phys(void)
{
	static const char key[] = "portal.window_phys=";
	char line[4096];
	const char *at;
	size_t n;
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return 0;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = 0;
	at = strstr(line, key);
	return at ? strtoul(at + sizeof(key) - 1, NULL, 0) : 0;
}

static uint8_t *data(unsigned int s)
{
	return region(s) + R_DATA;
}

static uint32_t load32(const uint8_t *p)
{
	return le32toh(__atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE));
}

/*
 * 64-bit fields as two 32-bit halves, low first: a 32-bit guest (mipsel, armel) has no 64-bit
 * atomic load or store, and portal.ko's own 64-bit window accesses are two words there too.
 */
static uint64_t load64(const uint8_t *p)
{
	uint32_t lo = load32(p);

	return lo | (uint64_t)load32(p + 4) << 32;
}

static void store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELEASE);
}

static void store64(uint8_t *p, uint64_t v)
{
	store32(p, (uint32_t)v);
	store32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

/* Hands the region to the host: region first, then guest_seq (release). */
static void post(unsigned int s)
{
	store32(slot(s) + S_GUEST_SEQ, ++guest_seq[s]);
}

static void respond(unsigned int s, uint64_t op, uint64_t addr, uint64_t size)
{
	put64(region(s) + R_OP, op);
	put64(region(s) + R_ADDR, addr);
	put64(region(s) + R_SIZE, size);
	post(s);
}

/* Spin a little, then yield, then sleep: the host needs no guest CPU to answer, the agent does. */
static void backoff(long spins)
{
	struct timespec ts = { 0, 100000 };

	if (spins < 200)
		__asm__ __volatile__("" ::: "memory");
	else if (spins < 2000)
		sched_yield();
	else
		nanosleep(&ts, NULL);
}

/* ---- the control slot, and the extensions every slot serves ---- */

/* Answers an extension request plausibly; false for ops it leaves to the caller. */
static int serve_extension(unsigned int s, uint64_t op)
{
	uint8_t *d = data(s);
	uint64_t addr = get64(region(s) + R_ADDR), size = get64(region(s) + R_SIZE);
	int i;

	switch (op) {
	case OP_GUEST_INFO:
		memset(d, 0, 96);
		put32(d, 1);			/* protocol version */
		put32(d + 4, 1);		/* x86_64 */
		put32(d + 8, 8);
		put32(d + 12, 0);
		put32(d + 16, 4096);
		put32(d + 20, cpu_slots);
		put32(d + 24, MAX_HOOKS);
		put32(d + 28, 7);		/* verdict writes, BATCH, verdict reports */
		memcpy(d + 32, "portal-hostile", 14);
		respond(s, EXT_OK, 0, 96);
		return 1;
	case OP_HOOK_REGISTER:
		if (size < 64 || size > CHUNK)
			respond(s, EXT_FAIL, E_INVAL, 0);
		else if (nhooks == MAX_HOOKS)
			respond(s, EXT_FAIL, E_NOSPC, 0);
		else {
			hooks[nhooks].id = next_hook_id++;
			hooks[nhooks].nr = get32(d);
			hooks[nhooks].phase = get32(d + 4);
			respond(s, EXT_OK, hooks[nhooks++].id, 0);
		}
		return 1;
	case OP_HOOK_UNREGISTER:
		for (i = 0; i < nhooks && hooks[i].id != addr; i++)
			;
		if (i == nhooks) {
			respond(s, EXT_FAIL, E_NOENT, 0);
			return 1;
		}
		hooks[i] = hooks[--nhooks];
		respond(s, EXT_OK, addr, 0);
		return 1;
	case OP_HOOK_RESET:
		respond(s, EXT_OK, (uint64_t)nhooks, 0);
		nhooks = 0;
		return 1;
	case OP_PING:
		respond(s, EXT_OK, addr, 0);
		return 1;
	case OP_STATS:
		memset(d, 0, 72);
		respond(s, EXT_OK, 0, 72);
		return 1;
	default:
		return 0;
	}
}

static void answer_control(uint64_t op)
{
	control_answered++;
	if (op == OP_VERDICT)
		return;		/* a verdict on the control slot is stale: never answered */
	if (serve_extension(0, op))
		return;
	if (op < 0x100)
		respond(0, op == OP_WRITE ? WRITE_FAIL : READ_FAIL, E_SRCH, 0);
	else
		respond(0, EXT_FAIL, E_NOSYS, 0);
}

/* Serves the control slot if the host has posted there (called from every wait loop). */
static void pump(void)
{
	uint32_t seq = load32(slot(0) + S_HOST_SEQ);
	uint64_t op;

	if (late_at > 0 && now_ns() >= late_at) {
		/* the ignored request (still in the region: the host wrote nothing since), answered at last */
		late_at = 0;
		answer_control(get64(region(0) + R_OP));
	}
	if (seq == seen_host[0])
		return;
	seen_host[0] = seq;
	op = get64(region(0) + R_OP);
	if (mute_next) {
		mute_next = 0;
		muted++;
		muted_op = op;
		if (late_at < 0)
			late_at = now_ns() - late_at;
		return;
	}
	answer_control(op);
}

static void sleep_pumping(long long ns)
{
	long long end = now_ns() + ns;
	long spins = 0;

	while (now_ns() < end)
		backoff(spins++), pump();
}

/* ---- the sane guest memory: every address holds a pattern byte, every string is STRING ---- */

static uint8_t pattern(uint64_t address)
{
	return (uint8_t)(address * 131 + 7);
}

static uint64_t pattern64(uint64_t address)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | pattern(address + i);
	return v;
}

/* What the test's handler answers an event with mode/address, given sane memory (its contract). */
static int64_t expected_retval(uint64_t mode, uint64_t address)
{
	uint64_t v = 0;

	if (mode == 1)
		v = pattern64(address);
	else if (mode == 2)
		v = pattern64(address) + STRING_LEN;
	else if (mode == 3)
		v = STRING_LEN;
	return (int64_t)(v & 0xffff) + 1;
}

static void answer_batch_sane(unsigned int s)
{
	static uint8_t out[CHUNK];
	uint8_t *d = data(s);
	uint64_t count = get64(region(s) + R_ADDR), size = get64(region(s) + R_SIZE);
	size_t in = 0, o = 0;

	if (count < 1 || count > 255 || size > CHUNK) {
		respond(s, EXT_FAIL, E_INVAL, 0);
		return;
	}
	for (uint64_t i = 0; i < count; i++) {
		uint16_t op;
		uint32_t n;
		uint64_t addr;

		if (in + 24 > size || o + 16 > CHUNK) {
			respond(s, EXT_FAIL, E_INVAL, 0);
			return;
		}
		op = (uint16_t)(d[in] | d[in + 1] << 8);
		n = get32(d + in + 4);
		addr = get64(d + in + 8);
		in += 24 + (op == OP_WRITE ? (n + 7) & ~7u : 0);
		memset(out + o, 0, 16);
		if (op == OP_READ && n <= CHUNK && o + 16 + ((n + 7) & ~7u) <= CHUNK) {
			put32(out + o + 8, n);
			for (uint32_t k = 0; k < ((n + 7) & ~7u); k++)
				out[o + 16 + k] = k < n ? pattern(addr + k) : 0;
			o += 16 + ((n + 7) & ~7u);
		} else if (op == OP_READ_STR && n > 0 && o + 24 <= CHUNK) {
			uint32_t len = n < STRING_LEN ? n : STRING_LEN;

			put32(out + o + 8, len);
			memset(out + o + 16, 0, 8);
			memcpy(out + o + 16, STRING, len);
			o += 24;
		} else {
			put32(out + o, 2);		/* FAILED */
			put32(out + o + 4, E_INVAL);
			o += 16;
		}
	}
	memcpy(d, out, o);
	respond(s, BATCH_OK, count, o);
}

static void answer_sane(unsigned int s, uint64_t op)
{
	uint64_t addr = get64(region(s) + R_ADDR), size = get64(region(s) + R_SIZE);
	uint8_t *d = data(s);

	if (op == OP_READ && size <= CHUNK) {
		for (uint64_t k = 0; k < size; k++)
			d[k] = pattern(addr + k);
		respond(s, READ_OK, addr, size);
	} else if (op == OP_READ_STR && size > 0 && size <= CHUNK) {
		uint64_t len = size < STRING_LEN ? size : STRING_LEN;

		memcpy(d, STRING, len);
		respond(s, READ_OK, addr, len);
	} else if (op == OP_BATCH) {
		answer_batch_sane(s);
	} else if (op < 0x100) {
		respond(s, op == OP_WRITE ? WRITE_FAIL : READ_FAIL, E_INVAL, 0);
	} else {
		respond(s, EXT_FAIL, E_NOSYS, 0);
	}
}

/* ---- answers no honest guest gives: each one invalid for the request it answers ---- */

static void answer_garbage(unsigned int s, uint64_t op)
{
	uint64_t addr = get64(region(s) + R_ADDR), size = get64(region(s) + R_SIZE);
	uint8_t *d = data(s);
	unsigned int v = garbage_variant++;

	for (int k = 0; k < CHUNK; k += 8)
		put64(d + k, rnd());
	if (op == OP_BATCH) {
		uint64_t count = addr;

		switch (v % 12) {
		case 0: respond(s, BATCH_OK, count + 1, 16 * (count + 1)); return;	/* one result too many */
		case 1: respond(s, BATCH_OK, 0, 0); return;
		case 2: respond(s, BATCH_OK, count, 5000); return;			/* beyond the region */
		case 3: respond(s, BATCH_OK, count, 8); return;				/* ends inside a result */
		case 4:									/* status 7 */
			for (uint64_t i = 0; i < count && 16 * i + 16 <= CHUNK; i++)
				put32(d + 16 * i, 7);
			respond(s, BATCH_OK, count, 16 * count);
			return;
		case 5:									/* more bytes than asked */
			for (uint64_t i = 0; i < count && 16 * i + 16 <= CHUNK; i++) {
				put32(d + 16 * i, 0);
				put32(d + 16 * i + 4, 0);
				put32(d + 16 * i + 8, 0xfffffff0u);
				put32(d + 16 * i + 12, 0);
			}
			respond(s, BATCH_OK, count, 16 * count);
			return;
		case 6: respond(s, BATCH_OK, count, rnd() % (CHUNK + 1)); return;	/* random results */
		case 7: respond(s, EXT_FAIL, 0, 0); return;				/* errno 0 */
		case 8: respond(s, READ_OK, addr, size); return;
		case 9: respond(s, EVENT, 1 + rnd() % 1000, 96); return;
		case 10: respond(s, OP_BATCH, addr, size); return;			/* the request, "answered" */
		default: respond(s, rnd() | 1ULL << 40, rnd(), rnd()); return;
		}
	}
	if (op == OP_READ_STR) {
		switch (v % 11) {
		case 0: respond(s, READ_OK, addr, size + 1); return;
		case 1: respond(s, READ_OK, addr, 5000); return;
		case 2:									/* a NUL among the bytes */
			memcpy(d, "ab\0cdefgh", 9);
			respond(s, READ_OK, addr, size < 9 ? size : 9);
			return;
		case 3: respond(s, READ_PARTIAL, E_FAULT, 0); return;
		case 4: respond(s, READ_PARTIAL, E_FAULT, size); return;
		case 5: respond(s, READ_FAIL, 0, 0); return;
		case 6: respond(s, READ_FAIL, E_FAULT, 3); return;
		case 7: respond(s, EXT_OK, 0, 0); return;
		case 8: respond(s, OP_VERDICT, addr, 72); return;
		case 9: respond(s, READ_OK, addr, UINT64_MAX); return;
		default: respond(s, rnd() | 1ULL << 40, rnd(), rnd()); return;
		}
	}
	switch (v % 16) {		/* READ, or anything else */
	case 0: respond(s, READ_OK, addr, 5000); return;
	case 1: respond(s, READ_OK, addr, size + 1); return;
	case 2: respond(s, READ_OK, addr, size > 1 ? size - 1 : size + 2); return;
	case 3: respond(s, READ_PARTIAL, E_FAULT, 0); return;
	case 4: respond(s, READ_PARTIAL, E_FAULT, size); return;
	case 5: respond(s, READ_FAIL, 0, 0); return;
	case 6: respond(s, READ_FAIL, 1ULL << 40, 0); return;
	case 7: respond(s, READ_FAIL, E_FAULT, 5); return;
	case 8: respond(s, EXT_OK, 0, 5000); return;
	case 9: respond(s, EVENT, 1 + rnd() % 1000, 96); return;
	case 10: respond(s, OP_VERDICT, addr, 72); return;
	case 11: respond(s, op, addr, size); return;				/* the request, "answered" */
	case 12: respond(s, BATCH_OK, 1, 16); return;
	case 13: respond(s, WRITE_OK, addr, size); return;
	case 14: respond(s, READ_OK, addr, UINT64_MAX); return;
	default: respond(s, rnd() | 1ULL << 40, rnd(), rnd()); return;
	}
}

/* ---- events ---- */

static const struct hook *first_hook(void)
{
	return nhooks ? &hooks[0] : NULL;
}

/* Writes a well-formed event record (the caller may spoil it) and returns its id; posts it if asked. */
static uint64_t write_event(unsigned int s, uint32_t hook_id, uint32_t phase, uint64_t nr, uint64_t mode, uint64_t address)
{
	uint8_t *d = data(s);
	uint64_t id = next_id[s]++;

	memset(d, 0, 96);
	put32(d, hook_id);
	put32(d + 4, phase);
	put64(d + 8, nr);
	put64(d + 16, 3);			/* fd */
	put64(d + 24, 0x7001);			/* cmd */
	put64(d + 32, address);
	put64(d + 40, mode);
	put32(d + 72, (uint32_t)getpid());
	put32(d + 76, (uint32_t)getpid());
	memcpy(d + 80, "portal-hostile", 14);
	put64(region(s) + R_OP, EVENT);
	put64(region(s) + R_ADDR, id);
	put64(region(s) + R_SIZE, 96);
	return id;
}

/* A sane event for the host's hook: mode 1 reads a long, 2 a long and a string, 3 a string, 0 nothing. */
static uint64_t post_hook_event(unsigned int s, uint64_t mode, uint64_t *address)
{
	const struct hook *h = first_hook();
	uint64_t id;

	*address = 0x10000 + (rnd() % 0x100000) * 8;
	id = write_event(s, h->id, h->phase, h->nr, mode, *address);
	post(s);
	return id;
}

static int verdict_untouched(unsigned int s)
{
	const uint8_t *d = data(s);

	if (get64(region(s) + R_SIZE) != 72)
		return 0;
	for (int k = 0; k < 72; k++)
		if (d[k])
			return 0;
	return 1;
}

static void write_report(unsigned int s, uint64_t id, uint32_t status, uint32_t failures, uint64_t mask, uint32_t written)
{
	uint8_t *r = slot(s) + S_REPORT;

	put32(r + 8, status);
	put32(r + 12, failures);
	put64(r + 16, mask);
	put32(r + 24, written);
	store64(r, id);				/* last, with release (§4.2) */
}

/*
 * Waits (at most the bound from started) for the host's verdict on event id, answering the
 * requests that come meanwhile as mode says. A clean report follows each verdict unless the caller
 * writes its own (report = 0).
 */
static struct outcome await_verdict(unsigned int s, uint64_t id, enum answer_mode mode, long long started, int report)
{
	struct outcome o = { 0 };
	long long acked_at = 0;
	int gave_up = mode == ANSWER_GIVEN_UP;	/* the event's id was marked given up before it was posted */
	long spins = 0;

	for (;;) {
		uint32_t seq;
		uint64_t op;

		pump();
		seq = load32(slot(s) + S_HOST_SEQ);
		if (seq != seen_host[s]) {
			seen_host[s] = seq;
			op = get64(region(s) + R_OP);
			if (acked_at) {
				o.stray = 1;	/* the host posted after it acknowledged: the region is the guest's */
				break;
			}
			if (op == OP_VERDICT) {
				o.verdict = get64(region(s) + R_ADDR) == id;
				o.wrong_id = !o.verdict;
				o.untouched = verdict_untouched(s);
				o.flags = get32(data(s));
				o.retval = (int64_t)get64(data(s) + 8);
				if (o.verdict && report && !gave_up)
					write_report(s, id, 0, 0, 0, 0);
				break;
			}
			o.requests++;
			requests_by_op[op == OP_READ ? 0 : op == OP_READ_STR ? 1 : op == OP_BATCH ? 2 : 3]++;
			if (gave_up) {
				/* a request after we gave up: the host should have stopped */
			} else if (op >= 0x100 && op != OP_BATCH && mode != ANSWER_SILENT && serve_extension(s, op)) {
				/* HOOK_*, PING... on a held slot */
			} else if (mode == ANSWER_SANE) {
				answer_sane(s, op);
			} else if (mode == ANSWER_GARBAGE) {
				answer_garbage(s, op);
			} else if (mode == ANSWER_ABANDON || mode == ANSWER_ABANDON_FLIP) {
				store64(slot(s) + S_ABANDONED, id);	/* "gave up", without answering */
				gave_up = 1;
				if (mode == ANSWER_ABANDON_FLIP) {
					/* ...and took it back up to 0.5 ms later: early, or while the host ends the event */
					long long until = now_ns() + (long long)(rnd() % 500000);

					while (now_ns() < until)
						;
					store64(slot(s) + S_ABANDONED, rnd() | 1ULL << 62);
				}
			}
		}
		if (gave_up && !acked_at && load64(slot(s) + S_HOST_ACK) == id) {
			o.acked = 1;
			acked_at = now_ns();
		}
		if (acked_at && now_ns() - acked_at > 100000000LL)
			break;		/* 100 ms without a stray post after the acknowledgement */
		if (now_ns() - started > bound_ns)
			break;
		backoff(spins++);
	}
	o.wait_us = ((acked_at ? acked_at : now_ns()) - started) / 1000;
	return o;
}

static void count(struct tally *t, const struct outcome *o, int want_untouched)
{
	t->posted++;
	t->requests += o->requests;
	if (o->verdict) {
		t->answered++;
		if (o->untouched)
			t->untouched++;
		else
			t->touched++;
		if (want_untouched && !o->untouched)
			t->bad++;
	} else if (o->acked) {
		t->acked++;
	} else if (o->wrong_id) {
		t->bad++;
	} else {
		t->unanswered++;
	}
	if (o->stray)
		t->bad++;
	if (o->wait_us > t->max_wait_us)
		t->max_wait_us = o->wait_us;
	if (!t->min_wait_us || o->wait_us < t->min_wait_us)
		t->min_wait_us = o->wait_us;
}

static void report_tally(const char *name, const struct tally *t, const char *extra)
{
	printf("scenario=%s posted=%ld answered=%ld untouched=%ld touched=%ld acked=%ld unanswered=%ld bad=%ld requests=%ld"
	       " reads=%ld strings=%ld batches=%ld others=%ld max_wait_us=%lld min_wait_us=%lld%s%s\n",
	       name, t->posted, t->answered, t->untouched, t->touched, t->acked, t->unanswered, t->bad, t->requests,
	       requests_by_op[0], requests_by_op[1], requests_by_op[2], requests_by_op[3],
	       t->max_wait_us, t->min_wait_us, extra[0] ? " " : "", extra);
	memset(requests_by_op, 0, sizeof(requests_by_op));
}

static void check(int ok, const char *scenario, const char *what)
{
	if (ok)
		return;
	failures++;
	printf("check=FAIL scenario=%s %s\n", scenario, what);
}

/* The usual verdict on a hostile scenario: every event answered (or acknowledged) untouched, in time. */
static void check_untouched(const char *name, const struct tally *t)
{
	check(t->answered + t->acked == t->posted, name, "reason=not-every-event-answered");
	check(t->untouched == t->answered, name, "reason=touched-verdict");
	check(t->bad == 0, name, "reason=bad-answers");
	check(t->max_wait_us <= bound_ns / 1000, name, "reason=over-bound");
}

static unsigned int pick_slot(long i)
{
	return 1 + (unsigned int)(i % cpu_slots);
}

static void scenario_sane(long n, const char *name)
{
	struct tally t = { 0 };
	long wrong = 0;

	for (long i = 0; i < n; i++) {
		unsigned int s = pick_slot(i);
		uint64_t address, mode = (uint64_t)(i % 4);
		long long started = now_ns();
		uint64_t id = post_hook_event(s, mode, &address);
		struct outcome o = await_verdict(s, id, ANSWER_SANE, started, 1);

		count(&t, &o, 0);
		if (o.verdict && (o.flags != SKIP_FLAG || o.retval != expected_retval(mode, address)))
			wrong++, t.bad++;
	}
	char extra[64];

	snprintf(extra, sizeof(extra), "wrong_values=%ld", wrong);
	report_tally(name, &t, extra);
	check(t.answered == t.posted && t.touched == t.posted && t.bad == 0, name, "reason=sane-events-not-handled");
}

/* The garbage flavours; the first ones the host decodes but cannot attribute to a hook. */
enum { G_UNKNOWN_HOOK, G_HOOK_ZERO, G_ID_ZERO, G_SIZE_HUGE, G_SIZE_SHORT, G_SIZE_OVER, G_PHASE,
	G_WRONG_NR, G_WRONG_PHASE, G_PID_ZERO, G_TID_HUGE, G_RANDOM, G_FLAVOURS };

static void scenario_garbage_events(long n)
{
	struct tally t = { 0 };
	long malformed = 0, unknown = 0;
	const struct hook *h = first_hook();

	for (long i = 0; i < n; i++) {
		unsigned int s = pick_slot(i), flavour = (unsigned int)(i % G_FLAVOURS);
		long long started = now_ns();
		uint64_t id = write_event(s, h->id + 1000 + (uint32_t)(rnd() % 100000), 1, h->nr, 1, 0x10000);
		uint8_t *d = data(s);

		switch (flavour) {
		case G_UNKNOWN_HOOK: break;
		case G_HOOK_ZERO: put32(d, 0); break;
		case G_ID_ZERO: id = 0, put64(region(s) + R_ADDR, 0), next_id[s]--; break;
		case G_SIZE_HUGE: put64(region(s) + R_SIZE, 1ULL << 40); break;
		case G_SIZE_SHORT: put64(region(s) + R_SIZE, 95); break;
		case G_SIZE_OVER: put64(region(s) + R_SIZE, CHUNK + 1); break;
		case G_PHASE: put32(d + 4, 5 + (uint32_t)(rnd() % 1000)); break;	/* 1-4 are valid (§4.1, §4.6) */
		case G_WRONG_NR: put32(d, h->id), put64(d + 8, h->nr + 1); break;
		case G_WRONG_PHASE: put32(d, h->id), put32(d + 4, h->phase == 1 ? 2 : 1); break;
		case G_PID_ZERO: put32(d + 72, 0); break;
		case G_TID_HUGE: put32(d + 76, 0x80000000u); break;
		default:
			for (int k = 0; k < CHUNK; k += 8)
				put64(d + k, rnd());
			put32(d + 4, 5 + (uint32_t)(rnd() % 1000));	/* never a valid phase: 1-4 are */
			put64(region(s) + R_SIZE, 96 + rnd() % (CHUNK - 96 + 1));
			break;
		}
		if (flavour <= G_ID_ZERO)
			unknown++;
		else
			malformed++;
		post(s);
		struct outcome o = await_verdict(s, id, ANSWER_SANE, started, 1);

		count(&t, &o, 1);
		if (!o.verdict)
			printf("check=FAIL scenario=garbage-events flavour=%u id=%llu verdict=%d acked=%d wrong_id=%d\n",
			       flavour, (unsigned long long)id, o.verdict, o.acked, o.wrong_id);
	}
	char extra[64];

	snprintf(extra, sizeof(extra), "malformed=%ld unknown_hook=%ld", malformed, unknown);
	report_tally("garbage-events", &t, extra);
	check_untouched("garbage-events", &t);
}

static void scenario_wrong_answers(long n)
{
	struct tally t = { 0 };

	for (long i = 0; i < n; i++) {
		unsigned int s = pick_slot(i);
		uint64_t address, mode = 1 + (uint64_t)(i % 3);
		long long started = now_ns();
		uint64_t id = post_hook_event(s, mode, &address);
		struct outcome o = await_verdict(s, id, ANSWER_GARBAGE, started, 1);

		count(&t, &o, 1);
	}
	report_tally("wrong-answers", &t, "");
	check_untouched("wrong-answers", &t);
	check(t.requests >= t.posted, "wrong-answers", "reason=no-requests");
}

/* Events on every slot at once; their requests are never answered and never given up on. */
static void scenario_silent_request(long n)
{
	struct tally t = { 0 };
	uint64_t ids[MAX_SLOTS], address;
	long long started[MAX_SLOTS];

	for (long round = 0; round < n; round++) {
		for (unsigned int s = 1; s <= cpu_slots; s++) {
			started[s] = now_ns();
			ids[s] = post_hook_event(s, 1, &address);
		}
		for (unsigned int s = 1; s <= cpu_slots; s++) {
			struct outcome o = await_verdict(s, ids[s], ANSWER_SILENT, started[s], 1);

			count(&t, &o, 1);
		}
	}
	report_tally("silent-request", &t, "");
	check_untouched("silent-request", &t);
}

static void scenario_silent_control(void)
{
	long long start = now_ns();
	long before = control_answered, ignored = muted;
	char extra[80];

	mute_next = 1;
	printf("scenario=silent-control muted=1\n");
	fflush(stdout);
	/* until a request was ignored and a later one answered (the host recovered), at most 60 s */
	while ((muted == ignored || control_answered == before) && now_ns() - start < 60000000000LL)
		sleep_pumping(1000000);
	snprintf(extra, sizeof(extra), "ignored=%ld ignored_op=0x%llx answered_after=%ld", muted - ignored,
		 (unsigned long long)muted_op, control_answered - before);
	struct tally t = { 0 };

	report_tally("silent-control", &t, extra);
	check(muted == ignored + 1 && control_answered > before, "silent-control", "reason=host-did-not-recover");
}

/* Ignores the next control request and answers it delay_ms later, when the host has long given up on it. */
static void scenario_late_control(long delay_ms)
{
	long long start = now_ns();
	long before = control_answered, ignored = muted;
	long answered_late;
	char extra[96];

	late_at = -delay_ms * 1000000LL;	/* made absolute when the request comes */
	mute_next = 1;
	printf("scenario=late-control muted=1\n");
	fflush(stdout);
	while ((muted == ignored || late_at) && now_ns() - start < 60000000000LL)
		sleep_pumping(1000000);
	answered_late = control_answered - before;
	printf("scenario=late-control answered_late=%ld\n", answered_late);
	fflush(stdout);
	before = control_answered;
	/* the host's next request (after the test has seen the line above) shows whether it recovered */
	while (control_answered == before && now_ns() - start < 60000000000LL)
		sleep_pumping(1000000);
	snprintf(extra, sizeof(extra), "ignored=%ld answered_late=%ld answered_after=%ld", muted - ignored, answered_late,
		 control_answered - before);
	struct tally t = { 0 };

	report_tally("late-control", &t, extra);
}

static void scenario_flood(long n, long interval_us)
{
	long long start = now_ns();

	for (long i = 0; i < n; i++) {
		unsigned int s = pick_slot(i);
		uint64_t op;

		do
			op = (i % 4 == 0) ? rnd() : (uint64_t[]){ 0, OP_VERDICT, READ_OK, EXT_OK, BATCH_OK, EVENT + 1 }[i % 6];
		while (op == EVENT);
		put64(region(s) + R_OP, op);
		put64(region(s) + R_ADDR, rnd());
		put64(region(s) + R_SIZE, rnd());
		post(s);
		if (interval_us) {
			long long until = now_ns() + interval_us * 1000;

			while (now_ns() < until)
				;
		}
		if ((i & 1023) == 0)
			pump();
	}
	long long elapsed = now_ns() - start;

	sleep_pumping(50000000);	/* let the host read the last post before the region is reused */
	printf("scenario=flood posted=%ld elapsed_ms=%lld\n", n, elapsed / 1000000);
}

static void scenario_forged_abandon(long n)
{
	struct tally t = { 0 };
	long forged = 0, forged_acked = 0;
	uint64_t address;

	for (long i = 0; i < n; i++) {
		unsigned int s = pick_slot(i);
		long long started = now_ns();
		struct outcome o;
		uint64_t id, marker;
		long spins = 0;

		switch (i % 5) {
		case 0:	/* a random id, on an idle slot: acknowledged, nothing else */
		case 4:	/* the id of the event answered last on this slot */
			marker = i % 5 == 0 ? (rnd() | 1ULL << 63) : next_id[s] - 1;
			if (!marker)
				marker = rnd() | 1ULL << 63;
			store64(slot(s) + S_ABANDONED, marker);
			forged++;
			while (load64(slot(s) + S_HOST_ACK) != marker && now_ns() - started < bound_ns)
				backoff(spins++), pump();
			forged_acked += load64(slot(s) + S_HOST_ACK) == marker;
			break;
		case 1:	/* the event the host is handling: gave up while a request is out */
			id = post_hook_event(s, 1, &address);
			o = await_verdict(s, id, ANSWER_ABANDON, started, 1);
			count(&t, &o, 1);
			break;
		case 2:	/* a future event: given up before it is posted, then posted */
			store64(slot(s) + S_ABANDONED, next_id[s]);
			forged++;
			while (load64(slot(s) + S_HOST_ACK) != next_id[s] && now_ns() - started < bound_ns)
				backoff(spins++), pump();
			forged_acked += load64(slot(s) + S_HOST_ACK) == next_id[s];
			id = post_hook_event(s, 1, &address);
			o = await_verdict(s, id, ANSWER_GIVEN_UP, now_ns(), 1);
			count(&t, &o, 1);
			break;
		case 3:	/* given up and taken back at once */
			id = post_hook_event(s, 1, &address);
			o = await_verdict(s, id, ANSWER_ABANDON_FLIP, started, 1);
			count(&t, &o, 1);
			break;
		}
	}
	char extra[64];

	snprintf(extra, sizeof(extra), "forged=%ld forged_acked=%ld", forged, forged_acked);
	report_tally("forged-abandon", &t, extra);
	check(forged_acked == forged, "forged-abandon", "reason=forged-marker-not-acknowledged");
	check(t.answered + t.acked == t.posted && t.bad == 0 && t.max_wait_us <= bound_ns / 1000, "forged-abandon",
	      "reason=events-not-ended");
}

static void scenario_bogus_reports(long n)
{
	struct tally t = { 0 };
	long wrong = 0;

	for (long i = 0; i < n; i++) {
		unsigned int s = pick_slot(i);
		uint64_t address, id;
		long long started = now_ns();
		struct outcome o;

		if (i % 4 == 3)		/* a report for an event not posted yet */
			write_report(s, next_id[s], 1, 3, 7, 0);
		else if (i % 4 == 2)	/* a report for an event never posted */
			write_report(s, rnd() | 1ULL << 62, (uint32_t)rnd(), (uint32_t)rnd(), rnd(), (uint32_t)rnd());
		id = post_hook_event(s, 1, &address);
		o = await_verdict(s, id, ANSWER_SANE, started, 0);
		if (o.verdict) {
			if (i % 4 == 0)		/* garbage status and counts */
				write_report(s, id, 0xdead0000u | (uint32_t)i, 0xffffffffu, ~0ULL, 0xffffffffu);
			else if (i % 4 == 1)	/* "applied, with failed writes" for a verdict that carried none */
				write_report(s, id, 0, 5, 0x1f, 12);
		}
		count(&t, &o, 0);
		if (o.verdict && (o.flags != SKIP_FLAG || o.retval != expected_retval(1, address)))
			wrong++, t.bad++;
	}
	char extra[64];

	snprintf(extra, sizeof(extra), "wrong_values=%ld", wrong);
	report_tally("bogus-reports", &t, extra);
	check(t.answered == t.posted && t.bad == 0, "bogus-reports", "reason=events-not-handled");
}

static void scenario_corrupt_header(void)
{
	static const struct { int offset; uint32_t value; } spoils[] = {
		{ W_SLOTS, 0xffffffffu }, { W_SLOTS, 0 }, { W_SLOTS, 127 }, { W_STRIDE, 1 }, { W_STRIDE, 0x7fffffffu },
		{ W_STATE, 0 }, { W_STATE, 2 }, { W_STATE, 0xdeadbeefu }, { W_VERSION, 99 }, { W_MAGIC, 0x42424242u },
	};
	struct tally t = { 0 };
	const struct hook *h = first_hook();
	long malformed = 0;
	char extra[32];

	for (unsigned int k = 0; k < sizeof(spoils) / sizeof(spoils[0]); k++) {
		store32(win + spoils[k].offset, spoils[k].value);
		for (unsigned int s = 1; s <= cpu_slots; s++) {
			uint64_t address, id;
			long long started = now_ns();
			struct outcome o;

			id = post_hook_event(s, 1, &address);
			o = await_verdict(s, id, ANSWER_SANE, started, 1);
			count(&t, &o, 0);
			if (o.verdict && o.retval != expected_retval(1, address))
				t.bad++;
			started = now_ns();
			id = write_event(s, h->id, h->phase, h->nr, 1, 0x10000);
			put64(region(s) + R_SIZE, 1ULL << 40);
			post(s);
			malformed++;
			o = await_verdict(s, id, ANSWER_SANE, started, 1);
			count(&t, &o, 1);
		}
	}
	snprintf(extra, sizeof(extra), "malformed=%ld", malformed);
	report_tally("corrupt-header", &t, extra);
	check(t.answered == t.posted && t.bad == 0 && t.max_wait_us <= bound_ns / 1000, "corrupt-header",
	      "reason=events-not-handled");
}

static void gate(const char *name)
{
	char path[128];
	long long start = now_ns();

	snprintf(path, sizeof(path), "/tmp/portal-hostile.%s", name);
	printf("gate=%s\n", name);
	fflush(stdout);
	while (access(path, F_OK) != 0 && now_ns() - start < 120000000000LL)
		sleep_pumping(5000000);
	unlink(path);
	printf("gate=%s passed\n", name);
}

/* Lays the window out as portal_init does: not ready, zeroed (but host_session), header, ready last. */
static void layout(uint32_t slots)
{
	store32(win + W_STATE, 0);
	memset(win, 0, W_SESSION);
	memset(win + W_SESSION + 8, 0, HDR_SIZE - W_SESSION - 8);
	memset(win + HDR_SIZE, 0, WINDOW_SIZE - HDR_SIZE);
	memcpy(win + W_MAGIC, "PORTAL01", 8);
	store32(win + W_VERSION, 1);
	store32(win + W_SLOTS, slots);
	store32(win + W_STRIDE, STRIDE);
	for (unsigned int s = 0; s < MAX_SLOTS; s++) {
		seen_host[s] = 0;
		guest_seq[s] = 0;
		next_id[s] = 1;
	}
	store32(win + W_STATE, 1);
}

static long arg_count(const char *spec, long fallback)
{
	const char *colon = strchr(spec, ':');

	return colon ? strtol(colon + 1, NULL, 0) : fallback;
}

int main(int argc, char **argv)
{
	int fd, i, bad_header = 0;
	unsigned long phys;
	long long start;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--slots") && i + 1 < argc)
			cpu_slots = (unsigned int)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--bound-ms") && i + 1 < argc)
			bound_ns = strtoll(argv[++i], NULL, 0) * 1000000LL;
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			rng = strtoull(argv[++i], NULL, 0) | 1;
		else if (!strcmp(argv[i], "--bad-header"))
			bad_header = 1;
		else
			break;
	}
	if (i == argc || cpu_slots < 1 || cpu_slots > MAX_SLOTS - 1 || bound_ns <= 0) {
		fprintf(stderr, "usage: portal-hostile [--slots 1..%lu] [--bound-ms MS] [--seed S] [--bad-header] SCENARIO...\n",
			MAX_SLOTS - 1);
		return 2;
	}

	phys = window_phys();
	if (!phys) {
		printf("error=no-window-phys (no portal.window_phys= on the kernel command line)\n");
		return 3;
	}
	fd = open("/dev/mem", O_RDWR);
	if (fd < 0) {
		printf("error=open-dev-mem errno=%d\n", errno);
		return 3;
	}
	win = mmap(NULL, WINDOW_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)phys);
	if (win == MAP_FAILED) {
		printf("error=mmap-dev-mem errno=%d\n", errno);
		return 3;
	}
	if (bad_header) {
		layout(100000);		/* far more slots than 1 MiB holds */
		gate("bad-header");
	}
	layout(cpu_slots + 1);
	printf("window slots=%u stride=%d ready\n", cpu_slots + 1, STRIDE);

	/* a host attaches and registers a hook: from then on there is something to attack */
	start = now_ns();
	while ((!load64(win + W_SESSION) || !nhooks) && now_ns() - start < 120000000000LL)
		sleep_pumping(1000000);
	if (!nhooks) {
		printf("error=no-host-attached\n");
		return 1;
	}
	printf("attached hook=%u nr=%u phase=%u\n", hooks[0].id, hooks[0].nr, hooks[0].phase);

	for (; i < argc; i++) {
		const char *spec = argv[i];
		long n = arg_count(spec, 1);

		if (!strncmp(spec, "sane", 4))
			scenario_sane(n, "sane");
		else if (!strncmp(spec, "garbage-events", 14))
			scenario_garbage_events(n);
		else if (!strncmp(spec, "wrong-answers", 13))
			scenario_wrong_answers(n);
		else if (!strncmp(spec, "silent-request", 14))
			scenario_silent_request(n);
		else if (!strcmp(spec, "silent-control"))
			scenario_silent_control();
		else if (!strncmp(spec, "late-control", 12))
			scenario_late_control(arg_count(spec, 3000));
		else if (!strncmp(spec, "flood", 5)) {
			const char *second = strchr(strchr(spec, ':') ? strchr(spec, ':') + 1 : spec, ':');

			scenario_flood(n, second ? strtol(second + 1, NULL, 0) : 0);
		} else if (!strncmp(spec, "forged-abandon", 14))
			scenario_forged_abandon(n);
		else if (!strncmp(spec, "bogus-reports", 13))
			scenario_bogus_reports(n);
		else if (!strcmp(spec, "corrupt-header"))
			scenario_corrupt_header();
		else if (!strncmp(spec, "gate:", 5))
			gate(spec + 5);
		else {
			printf("error=unknown-scenario %s\n", spec);
			failures++;
		}
	}
	printf("done failures=%ld\n", failures);
	fflush(stdout);

	/* keep serving the control slot (the host removes its hooks on the way out) until it detaches */
	start = now_ns();
	while (load64(win + W_SESSION) && now_ns() - start < 60000000000LL)
		sleep_pumping(1000000);
	return failures ? 1 : 0;
}
