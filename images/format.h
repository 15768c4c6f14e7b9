/* format: the one table from a filesystem kind to the code that creates it
 * on a partition's window. A new filesystem is one more row (format.c). */
#ifndef MV_FORMAT_H
#define MV_FORMAT_H
#include <stddef.h>
#include <stdint.h>

#include "../partition/types.h"
#include "fs.h"
#include "io.h"

struct mv_format_args {
	const char *label;
	uint8_t uuid[16];       /* ext4, swap, ufs */
	uint32_t volume_id;     /* vfat */
	uint8_t hash_seed[16];  /* ext4's directory hash seed */
	uint64_t inode_count;   /* ext4: 0 = mke2fs's default ratio */
	int64_t timestamp;      /* SOURCE_DATE_EPOCH */
};

/* Creates the filesystem on io. *out is its writer, or NULL for a
 * filesystem that holds no files (swap). Returns 0, or -1 with err set. */
int mv_format(enum mv_fs_kind fs, const struct mv_io *io, const struct mv_format_args *a, struct mv_fs **out,
	      char *err, size_t errlen);

#endif
