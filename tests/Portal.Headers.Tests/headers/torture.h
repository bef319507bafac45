/* SPDX-License-Identifier: GPL-2.0 */
/*
 * torture.h: layouts that C compilers lay out differently per ABI, or that a
 * layout tool easily gets wrong. Every record here is checked on every ABI
 * against the compiler (static asserts, -fdump-record-layouts) and, for
 * bitfields, against bytes printed by programs built with the target's gcc.
 */
#ifndef TORTURE_H
#define TORTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Typedef chains, plain scalars ---------------------------------------------------------- */

typedef unsigned int tor_u32;
typedef tor_u32 tor_reg;
typedef tor_reg tor_reg_alias;
typedef signed char tor_s8;
typedef char tor_text[8];

struct tor_point {
	short x;
	short y;
};

struct tor_scalars {
	char c;			/* signed on x86 and MIPS, unsigned on ARM */
	signed char sc;
	unsigned char uc;
	bool flag;
	short s;
	long l;			/* 4 or 8 bytes */
	long long ll;		/* 4-byte aligned on i386 */
	double d;		/* 4-byte aligned on i386 */
	long double ld;		/* 16, 12 or 8 bytes */
	float f;
	tor_reg_alias reg;
	tor_s8 tiny;
	tor_text text;
	uint16_t u16;
	int64_t i64;
	size_t size;
	float _Complex z;
};

/* ---- Enums ----------------------------------------------------------------------------------- */

enum tor_color {
	TOR_RED,
	TOR_GREEN = 5,
	TOR_BLUE,
};

enum tor_negative {
	TOR_NEG_MIN = -2147483647 - 1,
	TOR_NEG_ONE = -1,
	TOR_NEG_ZERO = 0,
};

enum __attribute__((packed)) tor_small {
	TOR_SMALL_A = 1,
	TOR_SMALL_B = 200,
};

enum __attribute__((packed)) tor_small_signed {
	TOR_SMALL_NEG = -3,
	TOR_SMALL_POS = 100,
};

enum __attribute__((packed)) tor_short {
	TOR_SHORT_MAX = 0xFFFF,
};

enum tor_big {
	TOR_BIG_LOW = 1,
	TOR_BIG_HIGH = 0x100000000LL,
};

typedef enum {
	TOR_MODE_OFF,
	TOR_MODE_ON,
} tor_mode;

enum {
	TOR_ANON_FIRST = 7,
	TOR_ANON_SECOND,
};

struct tor_enums {
	enum tor_color color;
	enum tor_small small;
	char after_small;
	enum tor_short shrt;
	enum tor_big big;
	tor_mode mode;
	enum tor_negative neg;
};

/* ---- Nested, anonymous and inline records ------------------------------------------------- */

struct tor_nested {
	int head;
	union {				/* C11 anonymous union */
		uint32_t word;
		struct {		/* anonymous struct inside it */
			uint16_t lo;
			uint16_t hi;
		};
		unsigned char bytes[4];
	};
	struct tor_inner {		/* named record defined inline */
		char tag;
		long value;
	} inner;
	union {				/* anonymous type, named member */
		int as_int;
		void *as_ptr;
		struct {
			char a;
			double b;
		} pair;
	} u;
	struct {
		char k;
		int v;
	} kv[3];			/* array of an inline anonymous struct */
	struct tor_point corners[2][2];	/* multi-dimensional array of records */
	char tail;
};

/* Member paths through the anonymous and inline records. */
#define tor_lo		hi_lo.lo
#define tor_value	inner.value
#define tor_pair_b	u.pair.b
#define tor_not_a_path	nothing.here

struct tor_hi_lo_holder {
	struct {
		uint16_t lo;
	} hi_lo;
};

/* ---- Arrays --------------------------------------------------------------------------------- */

struct tor_arrays {
	char name[16];
	unsigned char mac[6];
	int grid[3][4];
	unsigned char cube[2][3][5];
	struct tor_point points[3];
	tor_text texts[2];
	char *words[4];
};

/* ---- Pointers ------------------------------------------------------------------------------ */

struct tor_node;
struct tor_opaque;				/* never defined */

typedef void (*tor_callback)(struct tor_node *node, void *context);
typedef int tor_handler_fn(int, char **);

struct tor_node {
	struct tor_node *next;
	struct tor_node **children;
	char **argv;
	const char *const *names;
	void *data;
	struct tor_opaque *opaque;
	tor_callback callback;
	int (*compare)(const void *, const void *);
	void (*ops[3])(void);
	tor_handler_fn *handler;
	int (*matrix)[4];
};

/* ---- Flexible array members ----------------------------------------------------------------- */

struct tor_flex {
	unsigned short count;
	int items[];
};

struct tor_flex_wide {
	char kind;
	long long values[];
};

/* ---- Bitfields ------------------------------------------------------------------------------- */

struct tor_bits {
	unsigned int a : 1;
	unsigned int b : 3;
	unsigned int c : 12;
	signed int d : 5;		/* signed */
	unsigned int e : 30;		/* does not fit: starts a new unit */
	unsigned int : 0;		/* zero width: next field starts a new unit */
	unsigned int f : 7;
	unsigned int : 4;		/* unnamed padding */
	unsigned int g : 9;
	unsigned char h : 2;
	unsigned short i : 10;
	bool j : 1;
	enum tor_color k : 4;
	int l : 17;
	char m;
};

struct tor_bits_wide {
	unsigned long long x : 40;	/* crosses 32-bit units */
	unsigned long long y : 30;
	unsigned long long z : 60;
	signed long long w : 33;
	unsigned long v : 20;		/* long: 32 or 64 bits */
	unsigned long u : 20;
};

struct tor_bits_chars {
	unsigned char a : 3;
	unsigned char b : 6;		/* does not fit in the first byte */
	char c : 1;
	signed char d : 4;
	unsigned char : 0;
	unsigned char e : 8;
};

struct tor_bits_mixed {
	char head;
	int x : 4;			/* shares the unit with head on some ABIs */
	short y : 9;
	int z : 20;
};

struct __attribute__((packed)) tor_bits_packed {
	unsigned char head;
	unsigned int a : 3;
	unsigned int b : 30;		/* crosses units: allowed when packed */
	unsigned short c : 9;
	unsigned long long d : 40;
};

struct tor_bits_nested {
	unsigned short prefix : 5;
	union {
		struct {
			unsigned int lo : 12;
			unsigned int hi : 20;
		};
		uint32_t raw;
	};
	struct {
		unsigned char flag : 1;
		unsigned char level : 3;
	} status;
};

/* ---- Packing and alignment ----------------------------------------------------------------- */

struct __attribute__((packed)) tor_packed {
	char c;
	int i;
	short s;
	long long ll;
	void *p;
};

struct tor_packed_field {
	char c;
	int i __attribute__((packed));
	char d;
	long long ll __attribute__((packed));
};

struct tor_aligned_field {
	char c;
	int i __attribute__((aligned(16)));
	char d;
	short s __attribute__((aligned(8)));
};

struct __attribute__((aligned(32))) tor_aligned {
	char c;
	int i;
};

struct __attribute__((packed, aligned(4))) tor_packed_aligned {
	char c;
	int i;
	char d;
};

#pragma pack(push, 2)
struct tor_pragma_pack {
	char c;
	int i;
	long long ll;
	double d;
};
#pragma pack(pop)

struct tor_holds_aligned {
	char c;
	struct tor_aligned inner;
	struct tor_packed packed;
	char d;
};

typedef struct {
	unsigned int off;
	unsigned int val;
} tor_reg_pair;

typedef struct tor_tagged {
	tor_reg_pair pairs[2];
	tor_mode mode;
} tor_tagged_t;

extern struct tor_declared_with_a_variable {
	int count;
	enum tor_inner_enum { TOR_INNER_A = 3 } kind;
} tor_variable;

union tor_union {
	char c;
	long long ll;
	double d;
	struct tor_point pt;
	char bytes[13];
};

/* ---- Integer macros --------------------------------------------------------------------- */

#define TOR_DEC		42
#define TOR_HEX		0x89F1
#define TOR_HEX_UL	0x7fUL
#define TOR_OCT		0755
#define TOR_NEG		(-17)
#define TOR_LL		123456789012LL
#define TOR_ULL_MAX	0xFFFFFFFFFFFFFFFFULL
#define TOR_U32_TOP	0x80000000		/* unsigned int: does not fit int */
#define TOR_LONG_TOP	0x80000000L		/* long on 64-bit, unsigned long on 32-bit */
#define TOR_CHAR	'A'
#define TOR_SHIFT	(1 << 12)
#define TOR_MASK	(TOR_SHIFT - 1)
#define TOR_ARITH	((TOR_DEC * 3 + 7) / 2 % 50)
#define TOR_BITS	(~0x0Fu & 0xFF | 0x100 ^ 0x3)
#define TOR_NOT		(!TOR_DEC)
#define TOR_CMP		(TOR_DEC > 40 && TOR_DEC <= 42)
#define TOR_TERNARY	(TOR_DEC == 42 ? 1 : 2)
#define TOR_ENUM_REF	(TOR_BLUE + 1)
#define TOR_CAST	((unsigned char)0x1FF)
#define TOR_CAST_NEG	((unsigned int)-1)
#define TOR_SIZEOF	(sizeof(struct tor_point) * 2)
#define TOR_SIZEOF_PTR	sizeof(void *)
#define TOR_MAKE(hi, lo) (((hi) << 8) | (lo))
#define TOR_MADE	TOR_MAKE(1, 2)
#define TOR_IOCTL	(0x89F0 + TOR_ENUM_REF)

/* Not integer constants: each one is a note. */
#define TOR_STRING	"hello"
#define TOR_FLOAT	1.5
#define TOR_NULL	((void *)0)
#define TOR_UNDEFINED	(TOR_NO_SUCH_THING + 1)
#define TOR_TYPE	unsigned long
#define TOR_STATEMENT	do { } while (0)
#define TOR_EMPTY
#define TOR_LIST	1, 2
#define TOR_OPEN	(
#define TOR_USES_OPEN	TOR_OPEN
#define TOR_LAST	99		/* still evaluated after the broken ones */

#endif /* TORTURE_H */
