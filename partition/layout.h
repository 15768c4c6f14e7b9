/* layout: where each partition goes. Pure arithmetic, no I/O, so the plan
 * can show every offset before anything is written and tests can check the
 * rules directly.
 *
 * Rules: the first partition starts at the first aligned offset after the
 * primary table; each later one at the next aligned offset; at most one
 * partition grows, taking what is left (a multiple of the alignment) before
 * the backup GPT; an image with no given size is as large as its partitions
 * plus the backup GPT, rounded up to the alignment. Auto-sized partitions
 * (Size=auto) are decided by the survey stage: their size, and the start of
 * everything after them, are marked deferred. */
#ifndef MV_LAYOUT_H
#define MV_LAYOUT_H
#include <stddef.h>
#include <stdint.h>

#include "types.h"

enum mv_lsize { MV_LSIZE_FIXED = 0, MV_LSIZE_GROW, MV_LSIZE_AUTO };

struct mv_layout_part {
	const char *name;        /* for messages */
	enum mv_lsize kind;
	uint64_t size;           /* in: bytes when FIXED */
	uint64_t start, length;  /* out: bytes */
	int start_deferred, length_deferred;
};

struct mv_layout {
	enum mv_table table;
	unsigned sector_size;    /* 512 or 4096 */
	uint64_t align;          /* bytes, a multiple of sector_size */
	uint64_t disk_size;      /* in: 0 = as large as the content; out: final */
	int disk_size_deferred;  /* out */
	uint64_t first_usable;   /* out: bytes */
	uint64_t last_usable_end;/* out: bytes (exclusive) */
	size_t n;
	struct mv_layout_part *parts;
};

#define MV_DEFAULT_ALIGN (UINT64_C(1) << 20)
#define MV_GPT_MAX_PARTITIONS 128
#define MV_MBR_MAX_PARTITIONS 4

/* Bytes the table itself occupies at the start and at the end of the disk. */
uint64_t mv_layout_head_bytes(enum mv_table t, unsigned sector_size);
uint64_t mv_layout_tail_bytes(enum mv_table t, unsigned sector_size);

/* Returns 0, or -1 with a message in err that names the partition and, when
 * they do not fit, how many bytes are missing. */
int mv_layout_compute(struct mv_layout *l, char *err, size_t errlen);

#endif
