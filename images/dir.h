/* dir: a writer onto a host directory (a --prefix, or a mounted target).
 * Every operation walks from the root's descriptor one component at a
 * time with O_NOFOLLOW, so nothing is ever written outside the directory,
 * whatever the tree holds. */
#ifndef MV_DIR_H
#define MV_DIR_H
#include <stddef.h>

#include "fs.h"

struct mv_dir_options {
	/* 1: chown to the archive's owners (running as root onto a mounted
	 * target). 0: everything belongs to the caller (a rootless prefix). */
	int keep_owners;
};

/* The directory must exist. */
struct mv_fs *mv_dir_open(const char *path, const struct mv_dir_options *o, char *err, size_t errlen);

/* What could not be created as asked: device nodes without the privilege
 * to make them, and xattrs the kernel refused. Reported in one summary
 * line by the caller. */
struct mv_dir_skipped {
	size_t device_nodes;
	size_t xattrs;
};
void mv_dir_skipped(struct mv_fs *fs, struct mv_dir_skipped *out);
/* That summary as one line naming the first MV_DIR_SKIPPED_NAMES device
 * nodes ("3 device nodes skipped (...): /dev/null /dev/zero /dev/tty");
 * empty when nothing was skipped. */
#define MV_DIR_SKIPPED_NAMES 8
void mv_dir_skipped_line(struct mv_fs *fs, char *buf, size_t len);

#endif
