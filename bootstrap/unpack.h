/* unpack: an archive (tar in all its dialects, cpio; gzip, xz or zstd
 * compressed) streamed entry by entry into a filesystem writer. No staging
 * directory; memory is libarchive's block buffer whatever the archive's
 * size. Members never escape the target: ".." components are refused, a
 * leading "/" is taken relative to the target, symlinks are followed only
 * inside it (images/fs.h), and hard links must name an earlier member. */
#ifndef MV_UNPACK_H
#define MV_UNPACK_H
#include <stddef.h>
#include <stdint.h>

#include "../images/fs.h"

struct mv_unpack_options {
	int strip;            /* leading path components to drop */
	uint64_t capacity;    /* bytes the target can hold; 0: unknown */
	int64_t parent_mtime; /* time of directories the archive does not list */
};

struct mv_unpack_stats {
	uint64_t entries;
	uint64_t data_bytes;  /* bytes of file data written (holes excluded) */
};

/* Returns 0, or -1 with a message in err naming the archive, the member
 * and the reason. */
int mv_unpack_file(struct mv_fs *fs, const char *archive, const struct mv_unpack_options *o,
		   struct mv_unpack_stats *stats, char *err, size_t errlen);

/* The survey: a header-only pass counting entries and data bytes (what an
 * automatic size or an inode count is computed from). */
int mv_unpack_survey(const char *archive, int strip, struct mv_unpack_stats *stats, char *err, size_t errlen);

#endif
