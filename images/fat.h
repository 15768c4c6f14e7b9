/* fat: our own FAT12/16/32 writer (DESIGN.md: streamed, deterministic,
 * rootless, no mtools). See fat.c for the on-disk decisions. */
#ifndef MV_FAT_H
#define MV_FAT_H
#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "io.h"

struct mv_fat_options {
	uint32_t volume_id;   /* from the seed */
	const char *label;    /* up to 11 characters; NULL: "NO NAME" */
	int64_t timestamp;    /* SOURCE_DATE_EPOCH: times of entries without their own */
	int fat_bits;         /* 0: choose (FAT32 whenever >= 65,525 clusters fit); or 12, 16, 32 */
};

struct mv_fs *mv_fat_create(const struct mv_io *io, const struct mv_fat_options *o, char *err, size_t errlen);

#endif
