/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Portal wire protocol v1 (docs/protocol.md): constants and record offsets.
 *
 * Every field in the window, the region header and the records is
 * little-endian on every guest.  Offsets are given as constants rather than
 * packed structs so that the same header can be read by the kernel module and
 * by user-space tools, and so that no compiler padding can creep in.
 */
#ifndef PORTAL_PROTO_H
#define PORTAL_PROTO_H

#define PORTAL_PROTOCOL_VERSION	1

/* window (§5.1) */
#define PORTAL_WIN_MAGIC	"PORTAL01"
#define PORTAL_WIN_HDR_SIZE	4096
#define PORTAL_WIN_OFF_MAGIC	0
#define PORTAL_WIN_OFF_VERSION	8
#define PORTAL_WIN_OFF_SLOTS	12
#define PORTAL_WIN_OFF_STRIDE	16
#define PORTAL_WIN_OFF_STATE	20
#define PORTAL_WIN_OFF_SESSION	64
#define PORTAL_STATE_NOT_READY	0
#define PORTAL_STATE_READY	1
#define PORTAL_STATE_UNLOADING	2

/* slot (§5.1); slot i starts at PORTAL_WIN_HDR_SIZE + i * PORTAL_SLOT_STRIDE */
#define PORTAL_SLOT_STRIDE	8192
#define PORTAL_SLOT_HOST_SEQ	0	/* le32, host */
#define PORTAL_SLOT_GUEST_SEQ	64	/* le32, guest */
#define PORTAL_SLOT_ABANDONED	128	/* le64, guest */
#define PORTAL_SLOT_HOST_ACK	192	/* le64, host */
#define PORTAL_SLOT_REGION	4096

/* verdict report (§4.2): a guest-written cache line in the slot */
#define PORTAL_SLOT_REPORT_EVENT 256	/* le64, written last (release) */
#define PORTAL_SLOT_REPORT_STATUS 264	/* le32 */
#define PORTAL_SLOT_REPORT_FAILURES 268	/* le32, write entries that failed */
#define PORTAL_SLOT_REPORT_MASK	272	/* le64, bit i = entry i failed (i < 64) */
#define PORTAL_SLOT_REPORT_WRITTEN 280	/* le32, bytes the first failure wrote */
#define PORTAL_SLOT_REPORT_RESERVED 284	/* up to 320: 0 */
#define PORTAL_REPORT_APPLIED	0
#define PORTAL_REPORT_REJECTED	1	/* malformed: counted in bad_verdicts */
#define PORTAL_REPORT_MASK_BITS	64

/* region (§1) */
#define PORTAL_REG_OP		0	/* le64 */
#define PORTAL_REG_ADDR		8	/* le64 */
#define PORTAL_REG_SIZE		16	/* le64 */
#define PORTAL_REG_DATA		24
#define PORTAL_CHUNK_SIZE	4072

/* requests (§3.1, §3.2) */
#define PORTAL_OP_NONE		0
#define PORTAL_OP_READ		1
#define PORTAL_OP_WRITE		2
#define PORTAL_OP_READ_FD_NAME	3
#define PORTAL_OP_READ_PROCARGS	4
#define PORTAL_OP_READ_STR	6
#define PORTAL_OP_READ_PROCENV	8
#define PORTAL_OP_READ_PROCPID	9
#define PORTAL_OP_GUEST_INFO	0x100
#define PORTAL_OP_HOOK_REGISTER	0x101
#define PORTAL_OP_HOOK_UNREGISTER 0x102
#define PORTAL_OP_VERDICT	0x103
#define PORTAL_OP_BATCH		0x104
#define PORTAL_OP_PING		0x105
#define PORTAL_OP_STATS		0x106
#define PORTAL_OP_HOOK_RESET	0x107
#define PORTAL_OP_QUERY		0x108	/* §3.4: control slot only */
#define PORTAL_OP_QUERY_PAGE	0x109

/* responses */
#define PORTAL_RESPONSE_BIT	0xf0000000u
#define PORTAL_READ_OK		0xf0000001u
#define PORTAL_READ_FAIL	0xf0000002u
#define PORTAL_READ_PARTIAL	0xf0000003u
#define PORTAL_WRITE_OK		0xf0000004u
#define PORTAL_WRITE_FAIL	0xf0000005u
#define PORTAL_READ_NUM		0xf0000006u
#define PORTAL_EVENT		0xf0000100u
#define PORTAL_EXT_OK		0xf0000101u
#define PORTAL_EXT_FAIL		0xf0000102u
#define PORTAL_BATCH_OK		0xf0000103u

/* syscall arguments in an event, a verdict and a hook's filters (§4) */
#define PORTAL_SYSCALL_ARGS	6

/* event record (§4.1) */
#define PORTAL_EV_HOOK_ID	0	/* le32 */
#define PORTAL_EV_PHASE		4	/* le32 */
#define PORTAL_EV_NR		8	/* le64 */
#define PORTAL_EV_ARGS		16	/* le64 x PORTAL_SYSCALL_ARGS */
#define PORTAL_EV_RETVAL	64	/* le64 */
#define PORTAL_EV_PID		72	/* le32 */
#define PORTAL_EV_TID		76	/* le32 */
#define PORTAL_EV_COMM		80	/* 16 bytes */
#define PORTAL_EV_SCRATCH	96	/* le64: scratch area, enter events */
#define PORTAL_EV_SCRATCH_SIZE	104	/* le32 */
#define PORTAL_EV_SIZE		112
#define PORTAL_SCRATCH_MAX	2048

#define PORTAL_PHASE_ENTER	1
#define PORTAL_PHASE_RETURN	2
#define PORTAL_PHASE_FUNC_ENTRY	3	/* function hooks (§4.6) */
#define PORTAL_PHASE_FUNC_RETURN 4

/* verdict (§4.2) */
#define PORTAL_VD_FLAGS		0	/* le32 */
#define PORTAL_VD_ARG_MASK	4	/* le32 */
#define PORTAL_VD_RETVAL	8	/* le64 */
#define PORTAL_VD_ARGS		16	/* le64 x PORTAL_SYSCALL_ARGS */
#define PORTAL_VD_WRITE_COUNT	64	/* le32 */
#define PORTAL_VD_WRITES	72
#define PORTAL_VD_WR_ADDR	0	/* le64, within a write entry */
#define PORTAL_VD_WR_SIZE	8	/* le32 */
#define PORTAL_VD_WR_HDR	16	/* entry header; data follows, padded to 8 */
#define PORTAL_VD_SET_RETVAL	0x1
#define PORTAL_VD_SKIP		0x2
#define PORTAL_VD_SET_ARGS	0x4
#define PORTAL_VD_KNOWN_FLAGS	0x7

/* hook descriptor (§4.3) */
#define PORTAL_HD_NR		0	/* le32 */
#define PORTAL_HD_PHASE		4	/* le32 */
#define PORTAL_HD_FLAGS		8	/* le32 */
#define PORTAL_HD_ARG_COUNT	12	/* le32 */
#define PORTAL_HD_PID		16	/* le64 */
#define PORTAL_HD_COMM		24	/* 16 bytes */
#define PORTAL_HD_RETVAL_FILTER	40	/* one filter entry */
#define PORTAL_HD_ARG_FILTERS	64	/* filter entries */
#define PORTAL_HD_MAX_FILTERS	8
#define PORTAL_HD_COMM_FILTER	0x1
#define PORTAL_HD_PID_FILTER	0x2
#define PORTAL_HD_RETVAL_FILTER_FLAG 0x4
#define PORTAL_HD_TARGET_FLAG	0x10	/* a function target follows (§4.6) */
#define PORTAL_HT_OFFSET	0	/* le64, within the target */
#define PORTAL_HT_PATH_LEN	8	/* le32 */
#define PORTAL_HT_RESERVED	12	/* le32 */
#define PORTAL_HT_PATH		16
#define PORTAL_HT_PATH_MAX	4000
#define PORTAL_HD_DATA_FLAG	0x8	/* a data area follows the arg filters */
#define PORTAL_HD_KNOWN_FLAGS	0x1f
#define PORTAL_HD_DATA_HDR	8	/* le32 data_size, 4 reserved bytes */
#define PORTAL_HD_MAX_DATA	256

/* filter entry (24 bytes) */
#define PORTAL_FLT_ARG		0	/* le32 */
#define PORTAL_FLT_KIND		4	/* le32 */
#define PORTAL_FLT_A		8	/* le64 */
#define PORTAL_FLT_B		16	/* le64 */
#define PORTAL_FLT_SIZE		24
#define PORTAL_FLT_EQ		1
#define PORTAL_FLT_NE		2
#define PORTAL_FLT_RANGE	3
#define PORTAL_FLT_SRANGE	4
#define PORTAL_FLT_MASK_SET	5
#define PORTAL_FLT_MASK_CLEAR	6
/* filters v2 (PORTAL_FEAT_FILTERS_V2) */
#define PORTAL_FLT_IN_SET	7	/* a = data offset, b = count of le64 values */
#define PORTAL_FLT_OUT_SRANGE	8
#define PORTAL_FLT_MEM_EQ	9
#define PORTAL_FLT_MEM_CONTAINS	10
#define PORTAL_SET_MAX		32
/* scope filters (PORTAL_FEAT_SCOPE): the calling process, not an argument; arg = 0 */
#define PORTAL_FLT_TASK_SUBTREE	11	/* a = root tgid (1..2^31-1), b = 0 */
#define PORTAL_FLT_NOT_SUBTREE	12	/* the negation of 11, same fields */
#define PORTAL_FLT_TASK_IN_SET	13	/* a = data offset, b = count of le64 tgids */
#define PORTAL_SCOPE_MAX_DEPTH	64	/* generations below the root still in its subtree */
#define PORTAL_SCOPE_MAX_ROOT	0x7fffffffULL
/* memory filters: a = s32 offset | s32 ptr_offset << 32; b fields: */
#define PORTAL_MEM_DATA_OFF(b)	((u32)((b) & 0xffff))
#define PORTAL_MEM_LEN(b)	((u32)(((b) >> 16) & 0xffff))
#define PORTAL_MEM_WINDOW(b)	((u32)(((b) >> 32) & 0xffff))
#define PORTAL_MEM_DEREF	(1ULL << 48)
#define PORTAL_MEM_STOP_AT_NUL	(1ULL << 49)
#define PORTAL_MEM_KNOWN_BITS	(0xffffffffffffULL | PORTAL_MEM_DEREF | PORTAL_MEM_STOP_AT_NUL)
#define PORTAL_MEM_MAX_LEN	64
#define PORTAL_MEM_MAX_WINDOW	256

/* BATCH request entry (§3.3): 24-byte header, then WRITE data padded to 8 */
#define PORTAL_BATCH_MAX	255	/* entries per request */
#define PORTAL_BE_OP		0	/* le16 */
#define PORTAL_BE_FLAGS		2	/* le16 */
#define PORTAL_BE_SIZE		4	/* le32 */
#define PORTAL_BE_ADDR		8	/* le64; with CHASE a signed offset */
#define PORTAL_BE_BASE		16	/* le16 */
#define PORTAL_BE_RESERVED	18	/* le16 */
#define PORTAL_BE_PTR_OFFSET	20	/* le32 */
#define PORTAL_BE_HDR		24
#define PORTAL_BE_CHASE		0x1
#define PORTAL_BE_KNOWN_FLAGS	0x1

/* BATCH result (§3.3): 16-byte header, then read data padded to 8 */
#define PORTAL_BR_STATUS	0	/* le32 */
#define PORTAL_BR_ERRNO		4	/* le32 */
#define PORTAL_BR_COUNT		8	/* le32 */
#define PORTAL_BR_EXTRA		12	/* le32 */
#define PORTAL_BR_HDR		16
#define PORTAL_BS_OK		0
#define PORTAL_BS_PARTIAL	1
#define PORTAL_BS_FAILED	2
#define PORTAL_BS_SKIPPED	3

/* guest info (§4.4) */
#define PORTAL_GI_SIZE		96
#define PORTAL_GI_VERSION	0
#define PORTAL_GI_ABI		4
#define PORTAL_GI_PTR_SIZE	8
#define PORTAL_GI_BIG_ENDIAN	12
#define PORTAL_GI_PAGE_SIZE	16
#define PORTAL_GI_CPU_SLOTS	20
#define PORTAL_GI_MAX_HOOKS	24
#define PORTAL_GI_FEATURES	28
#define PORTAL_GI_RELEASE	32	/* 64 bytes */
#define PORTAL_FEAT_VERDICT_WRITES 0x1
#define PORTAL_FEAT_BATCH	0x2
#define PORTAL_FEAT_VERDICT_REPORT 0x4
#define PORTAL_FEAT_FILTERS_V2	0x8
#define PORTAL_FEAT_QUERY	0x10
#define PORTAL_FEAT_SCOPE	0x20
#define PORTAL_FEAT_UPROBES	0x40	/* function hooks (§4.6) */

/* QUERY (§3.4) */
#define PORTAL_Q_PAGE_TOTAL	0	/* le64, within a page */
#define PORTAL_Q_PAGE_OFFSET	8	/* le64 */
#define PORTAL_Q_PAGE_HDR	16
#define PORTAL_Q_PAGE_MAX	(PORTAL_CHUNK_SIZE - PORTAL_Q_PAGE_HDR)	/* 4056 */
#define PORTAL_Q_RESULT_MAX	(4u << 20)
#define PORTAL_Q_PATH_MAX	4000	/* a path parameter */
#define PORTAL_Q_ARGV_MAX	4096
#define PORTAL_Q_READ_MAX	(1u << 20)
#define PORTAL_Q_PROCESSES	1
#define PORTAL_Q_MAPPINGS	2
#define PORTAL_Q_FILES		3
#define PORTAL_Q_PATHS		4
#define PORTAL_Q_FILE_READ	5
#define PORTAL_Q_FILE_WRITE	6
#define PORTAL_Q_DIRECTORY	7
#define PORTAL_Q_STAT		8
/* fixed parts of the records; each record starts with its le16 length */
#define PORTAL_QR_PROCESS	64
#define PORTAL_QR_MAPPING	48
#define PORTAL_QR_FILE		32
#define PORTAL_QR_PATHS		16
#define PORTAL_QR_ENTRY		16
#define PORTAL_QR_STAT		56
#define PORTAL_QP_KTHREAD	0x1	/* process record flags */
#define PORTAL_QP_ARGV_TRUNCATED 0x2
#define PORTAL_QP_ARGV_UNREADABLE 0x4
#define PORTAL_QM_READ		0x1	/* mapping record flags */
#define PORTAL_QM_WRITE		0x2
#define PORTAL_QM_EXEC		0x4
#define PORTAL_QM_SHARED	0x8
#define PORTAL_QM_PATH_TRUNCATED 0x10
#define PORTAL_QM_ONLY_CONTAINING 0x1	/* MAPPINGS parameter flag */
#define PORTAL_QF_PATH_TRUNCATED 0x1	/* file descriptor record flag */
#define PORTAL_QX_NO_EXE	0x1	/* paths record flag */
#define PORTAL_QW_CREATE	0x1	/* FILE_WRITE flags */
#define PORTAL_QW_TRUNCATE	0x2
#define PORTAL_QW_APPEND	0x4
#define PORTAL_QS_NOFOLLOW	0x1	/* STAT flag */

/* GuestAbiId's values (src/Portal.Runtime/Abi/GuestAbi.cs); AbiListTests checks them */
#define PORTAL_ABI_X86_64	1
#define PORTAL_ABI_I386		2
#define PORTAL_ABI_MIPSEL	3
#define PORTAL_ABI_MIPS		4
#define PORTAL_ABI_ARMEL	5
#define PORTAL_ABI_AARCH64	6

/* statistics (§4.5): index of each le64 counter */
enum portal_stat {
	PORTAL_STAT_EVENTS_SENT,
	PORTAL_STAT_VERDICTS_APPLIED,
	PORTAL_STAT_HOST_TIMEOUTS,
	PORTAL_STAT_STALE_VERDICTS,
	PORTAL_STAT_BAD_VERDICTS,
	PORTAL_STAT_VERDICT_WRITE_FAULTS,
	PORTAL_STAT_FILTERED_OUT,
	PORTAL_STAT_OPS_SERVED,
	PORTAL_STAT_EVENTS_DROPPED,
	PORTAL_STAT_EVENTS_OVER_BUDGET,
	PORTAL_STAT_SKIPS_FAILED,
	PORTAL_STAT_FILTER_FAULTS,
	PORTAL_STAT_COUNT
};

#endif /* PORTAL_PROTO_H */
