/* fs: the filesystem-writer interface (DESIGN.md, "The one idea").
 *
 * Everything that puts a file into a target goes through a writer: FAT and
 * ext4 on a partition's byte range (images/io.h), or a host directory. A
 * writer is a small VFS with two layers:
 *
 *  - struct mv_fs_ops, implemented by each writer, works on nodes: look up
 *    a name in a directory node, create in a directory node, read a node.
 *    A writer knows nothing of paths, symlink resolution or archives.
 *  - the mv_fs_* path functions below (images/fs.c), shared by all writers,
 *    resolve paths inside the writer's root as in a chroot: absolute paths
 *    and symlinks are taken relative to the root, symlinks inside the tree
 *    are followed (a usr-merged lib -> usr/lib works), and a path or link
 *    that would climb above the root is refused (-EXDEV). They also give
 *    tar's semantics: a new entry replaces an existing one (unlink, then
 *    create), a directory that exists gets the new metadata, and a hard
 *    link the writer cannot store becomes a copy.
 *
 * Errors are negative errno values; the writer leaves a message naming the
 * path and the reason in fs->err. */
#ifndef MV_FS_H
#define MV_FS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef uint64_t mv_node; /* a writer's own handle for a file or directory */

struct mv_xattr {
	const char *name;     /* "security.capability", "user.foo", ... */
	const void *value;
	size_t size;
};

/* What the archive says about an entry. mode includes the file type bits
 * (S_IFREG, S_IFDIR, ...). Times are seconds and nanoseconds; 0 and 1 are
 * real values (a Nix store's mtime is 1) and must be kept as given. */
struct mv_meta {
	uint32_t mode;
	uint32_t uid, gid;
	int64_t mtime, atime, ctime;
	uint32_t mtime_nsec, atime_nsec, ctime_nsec;
	uint64_t rdev;        /* device nodes: makedev(major, minor) */
	uint32_t fflags;      /* BSD file flags (UF_*, SF_*), UFS only */
	size_t n_xattrs;
	const struct mv_xattr *xattrs;
};

struct mv_stat {
	uint32_t mode;
	uint32_t uid, gid;
	uint64_t size;
	uint64_t nlink;
	int64_t mtime;
	uint32_t mtime_nsec;
	uint64_t rdev;
};

struct mv_fs;
struct mv_file; /* an open regular file, for writing or for reading */

struct mv_fs_ops {
	const char *name; /* "vfat", "ext4", "dir" */
	mv_node (*root)(struct mv_fs *fs);
	/* -ENOENT when dir has no such name; -ENOTDIR when dir is no directory */
	int (*lookup)(struct mv_fs *fs, mv_node dir, const char *name, mv_node *out);
	int (*getattr)(struct mv_fs *fs, mv_node node, struct mv_stat *st);
	/* Owner, permission bits, times and xattrs of an existing node (the
	 * type bits of meta->mode are ignored). */
	int (*setattr)(struct mv_fs *fs, mv_node node, const struct mv_meta *meta);
	/* The target, NUL-terminated; -ENAMETOOLONG if it does not fit. */
	int (*readlink)(struct mv_fs *fs, mv_node node, char *buf, size_t len);
	/* Calls fn for each entry but "." and ".."; a non-zero return from fn
	 * stops the walk and is returned. */
	int (*readdir)(struct mv_fs *fs, mv_node dir,
		       int (*fn)(void *ctx, const char *name, mv_node node), void *ctx);

	/* Creation: the name does not exist in dir (the path layer unlinks a
	 * previous entry first). */
	int (*mkdir)(struct mv_fs *fs, mv_node dir, const char *name,
		     const struct mv_meta *meta, mv_node *out);
	/* A regular file whose content follows through write() at increasing
	 * offsets; a gap between writes is a hole (sparse where the
	 * filesystem can, zeros where it cannot); close() gives the final
	 * size, which may end in a hole. Only one file is open for writing
	 * at a time. */
	int (*create)(struct mv_fs *fs, mv_node dir, const char *name,
		      const struct mv_meta *meta, struct mv_file **out);
	int (*write)(struct mv_file *f, uint64_t offset, const void *buf, size_t len);
	int (*close)(struct mv_file *f, uint64_t size);
	int (*symlink)(struct mv_fs *fs, mv_node dir, const char *name, const char *target,
		       const struct mv_meta *meta);
	/* A hard link to an existing non-directory node; -ENOTSUP when the
	 * filesystem has no hard links (the path layer then copies). */
	int (*link)(struct mv_fs *fs, mv_node dir, const char *name, mv_node target);
	/* Character and block devices, FIFOs and sockets (meta->mode says which). */
	int (*mknod)(struct mv_fs *fs, mv_node dir, const char *name, const struct mv_meta *meta);
	/* Removes a name: a non-directory, or an empty directory. A hard-linked
	 * node lives on under its other names. */
	int (*unlink)(struct mv_fs *fs, mv_node dir, const char *name);

	/* Reading back a regular file. */
	int (*open)(struct mv_fs *fs, mv_node node, struct mv_file **out);
	/* Returns bytes read (0 at the end) or a negative errno. */
	ssize_t (*read)(struct mv_file *f, uint64_t offset, void *buf, size_t len);
	/* close() above also closes a file opened for reading (size ignored). */

	/* Writes everything still in memory (allocation tables, directories,
	 * superblocks) and leaves a complete, checkable filesystem. After it
	 * only destroy() may be called. */
	int (*finish)(struct mv_fs *fs);
	void (*destroy)(struct mv_fs *fs);
};

struct mv_fs {
	const struct mv_fs_ops *ops;
	char err[512]; /* the last error, naming the path and the reason */
};

/* Path-level operations, shared by every writer (images/fs.c). Paths are
 * absolute or relative to the root; both mean the same inside a writer. */
enum { MV_FS_NOFOLLOW = 0, MV_FS_FOLLOW = 1 };

int mv_fs_lookup(struct mv_fs *fs, const char *path, int follow, mv_node *out);
int mv_fs_stat(struct mv_fs *fs, const char *path, int follow, struct mv_stat *st);
int mv_fs_readlink(struct mv_fs *fs, const char *path, char *buf, size_t len);
int mv_fs_readdir(struct mv_fs *fs, const char *path,
		  int (*fn)(void *ctx, const char *name, mv_node node), void *ctx);

/* Creates the directory, or updates the metadata of an existing one. */
int mv_fs_mkdir(struct mv_fs *fs, const char *path, const struct mv_meta *meta);
/* Creates missing parents of path as root-owned 0755 directories with the
 * given time (archives may list a file before its directory). */
int mv_fs_mkparents(struct mv_fs *fs, const char *path, int64_t mtime);
/* Opens a new regular file at path, replacing what was there. */
int mv_fs_create(struct mv_fs *fs, const char *path, const struct mv_meta *meta, struct mv_file **out);
int mv_fs_symlink(struct mv_fs *fs, const char *path, const char *target, const struct mv_meta *meta);
/* path becomes another name of existing (an earlier entry inside the tree,
 * never a directory), or a copy of it where the writer has no hard links. */
int mv_fs_link(struct mv_fs *fs, const char *path, const char *existing);
int mv_fs_mknod(struct mv_fs *fs, const char *path, const struct mv_meta *meta);
int mv_fs_unlink(struct mv_fs *fs, const char *path);
/* A whole file from memory (generated files: loader.conf, fstab, ...). */
int mv_fs_write_file(struct mv_fs *fs, const char *path, const struct mv_meta *meta,
		     const void *data, size_t len);
/* The whole of a regular file in a malloc'd, NUL-terminated buffer that
 * the caller frees; *out NULL (and 0) when there is no such file. */
int mv_fs_read_file(struct mv_fs *fs, const char *path, char **out, size_t *len);
/* Appends text to the file at path, with a newline first if the file does
 * not end in one. An existing file keeps its owner and mode (a shadow file
 * stays private); a missing one is created with meta (its parents as
 * mv_fs_mkparents does, with meta's mtime). */
int mv_fs_append_file(struct mv_fs *fs, const char *path, const struct mv_meta *meta, const char *text);
/* Opens a regular file for reading (following symlinks inside the tree). */
int mv_fs_open(struct mv_fs *fs, const char *path, struct mv_file **out);

/* Finish and destroy in one, for error paths: destroy always runs. */
int mv_fs_finish(struct mv_fs *fs);
void mv_fs_destroy(struct mv_fs *fs);

/* printf into fs->err; returns err (a negative errno) for `return mv_fs_fail(...)`. */
int mv_fs_fail(struct mv_fs *fs, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
