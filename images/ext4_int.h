/* ext4 writer internals shared by ext4.c (the writer), ext4_io.c (the io
 * manager) and ext4_dir.c (linear linking and the name index). Not a
 * contract for anyone else: images/ext4.h is. */
#ifndef MV_EXT4_INT_H
#define MV_EXT4_INT_H
#include <stddef.h>
#include <stdint.h>
/* ext2fs.h uses dev_t and mode_t without including this: glibc's headers
 * bring it in on the way, musl's (the static build) do not. */
#include <sys/types.h>

#include <ext2fs/ext2fs.h>

#include "fs.h"
#include "io.h"

/* ---- ext4_io.c: libext2fs's I/O through struct mv_io ---------------- */

/* The name handed to ext2fs_initialize: libext2fs opens channels by name
 * only, so the name carries the window's address (scanf's %p round-trips
 * a pointer printed earlier in the same run). io must outlive the
 * filesystem. */
int mv_ext4_io_name(const struct mv_io *io, char *buf, size_t len);
extern const struct struct_io_manager mv_ext4_io_manager;

/* While set, zeroout may trust a fresh target's holes (nothing of ours is
 * there yet: mkfs time). Afterwards freed blocks may hold our own old
 * data, so zeroout writes zeros whatever the target. */
void mv_ext4_io_trust_holes(io_channel ch, int on);

/* ---- ext4_dir.c: directories we made, linked in linear time ---------- */

struct ext4_dirs; /* every directory of the filesystem, by inode */

struct ext4_dirs *ext4_dirs_new(void);
void ext4_dirs_free(struct ext4_dirs *ds);

/* Registers a directory (made by ext2fs_mkdir, or root, or lost+found):
 * reads its block count and last block from the inode, starts an empty
 * name index. Replaces a removed directory that had the same inode. */
errcode_t ext4_dir_add(ext2_filsys fs, struct ext4_dirs *ds, ext2_ino_t ino, ext2_ino_t parent);
/* Forgets a removed directory. */
void ext4_dir_forget(struct ext4_dirs *ds, ext2_ino_t ino);
int ext4_dir_known(const struct ext4_dirs *ds, ext2_ino_t ino);
ext2_ino_t ext4_dir_parent(const struct ext4_dirs *ds, ext2_ino_t ino);
size_t ext4_dir_entries(const struct ext4_dirs *ds, ext2_ino_t ino);

/* Name lookup through the index: 0, or -ENOENT. */
int ext4_dir_lookup(const struct ext4_dirs *ds, ext2_ino_t dir, const char *name, ext2_ino_t *ino);

/* Appends name -> ino to the directory's last block (a new block when it
 * is full) and to the index. The name must not exist. */
errcode_t ext4_dir_link(ext2_filsys fs, struct ext4_dirs *ds, ext2_ino_t dir,
			const char *name, ext2_ino_t ino, int file_type);

/* Removes name from its block (the index knows which) and the index. */
errcode_t ext4_dir_unlink(ext2_filsys fs, struct ext4_dirs *ds, ext2_ino_t dir, const char *name);

/* Entries in creation order; fn may create or remove entries. */
int ext4_dir_walk(const struct ext4_dirs *ds, ext2_ino_t dir,
		  int (*fn)(void *ctx, const char *name, uint64_t node), void *ctx);

/* ---- ext4.c and ext4_node.c: the writer --------------------------- */

/* Every inode is 256 bytes (mke2fs's default): the large inode plus room
 * for in-inode xattrs, read and written whole so those survive. */
#define EXT4_INODE_BYTES 256
struct ext4_inode {
	struct ext2_inode_large in;
	char ea[EXT4_INODE_BYTES - sizeof(struct ext2_inode_large)];
};

struct ext4fs {
	struct mv_fs fs;       /* first: the writer is a struct mv_fs */
	struct mv_io io;       /* our copy: the channel points at it */
	ext2_filsys e;         /* NULL once finished */
	struct ext4_dirs *dirs;
	int64_t now;           /* options->timestamp */
	int writing;           /* a file is open for writing */
};

/* libext2fs's error code as a negative errno, with a message naming what
 * failed in fs->err. */
int ext4_fail(struct ext4fs *x, errcode_t err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int ext4_errno(errcode_t err);

int ext4_read(struct ext4fs *x, ext2_ino_t ino, struct ext4_inode *in);
int ext4_write(struct ext4fs *x, ext2_ino_t ino, struct ext4_inode *in);
/* Owner, permission bits (the type is kept), times; then the xattrs. */
int ext4_apply_meta(struct ext4fs *x, ext2_ino_t ino, const struct mv_meta *m);

extern const struct mv_fs_ops mv_ext4_ops;

#endif
