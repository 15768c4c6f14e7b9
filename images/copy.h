/* copy: files and trees from one writer into another (a host directory
 * into an image for [Files], a kernel from the root filesystem into the
 * ESP, a flake into /etc/microvisor/flake), streamed through a fixed
 * buffer. */
#ifndef MV_COPY_H
#define MV_COPY_H
#include <stdint.h>

#include "fs.h"

struct mv_copy_options {
	int mode;          /* -1: keep each source's permission bits */
	long uid, gid;     /* -1: keep each source's owner */
	int64_t mtime;     /* -1: keep each source's mtime */
};

/* Copies src_path (a file, symlink or directory tree) of src to dst_path
 * of dst, replacing what is there. Errors leave a message in dst->err (or
 * src->err for reading) and return a negative errno. */
int mv_copy(struct mv_fs *src, const char *src_path, struct mv_fs *dst, const char *dst_path,
	    const struct mv_copy_options *o);

#endif
