/* ext4: a writer on libext2fs through our own io manager bounded to the
 * partition's window (images/io.h). See ext4.c for the decisions. */
#ifndef MV_EXT4_H
#define MV_EXT4_H
#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "io.h"

struct mv_ext4_options {
	uint8_t uuid[16];       /* from the seed */
	uint8_t hash_seed[16];  /* from the seed */
	const char *label;      /* up to 16 bytes, or NULL */
	uint64_t inode_count;   /* 0: mke2fs's default ratio for the size */
	int64_t timestamp;      /* SOURCE_DATE_EPOCH: mkfs time, lost+found, root */
};

struct mv_fs *mv_ext4_create(const struct mv_io *io, const struct mv_ext4_options *o, char *err, size_t errlen);

#endif
