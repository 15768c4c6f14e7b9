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

/* A member as the rewrite hook sees it, before anything is written. */
struct mv_unpack_entry {
	const char *member;   /* the archive's name, for messages */
	char *path;           /* the target path after stripping: may be rewritten in place */
	size_t path_size;     /* bytes path can hold */
	struct mv_meta *meta; /* may be changed; NULL when path is a hard link's target */
};

enum { MV_UNPACK_SKIP = 0, MV_UNPACK_WRITE = 1 };

struct mv_unpack_options {
	int strip;            /* leading path components to drop */
	uint64_t capacity;    /* bytes the target can hold; 0: unknown */
	int64_t parent_mtime; /* time of directories the archive does not list */
	/* Optional: maps members elsewhere (a Nix tarball's store/ to
	 * /nix/store) and forces metadata (canonical store form). Returns
	 * MV_UNPACK_WRITE, MV_UNPACK_SKIP, or -1 with a message in err. A
	 * hard link whose target the hook skips is refused. */
	int (*rewrite)(void *ctx, struct mv_unpack_entry *e, char *err, size_t errlen);
	void *rewrite_ctx;
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

/* Reads the members whose stripped paths are wanted[0..n) (such as
 * "/.reginfo") into memory, stopping once all are found. out[i] is a
 * NUL-terminated malloc'd copy (the caller frees it), or NULL when the
 * archive has no such member. A member larger than max bytes is refused. */
int mv_unpack_read(const char *archive, int strip, const char *const *wanted, size_t n, size_t max,
		   char **out, char *err, size_t errlen);

#endif
