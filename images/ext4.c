/* ext4 on libext2fs: making the filesystem, and the writer's lifecycle.
 * The node operations are in ext4_node.c, directories in ext4_dir.c, the
 * io manager in ext4_io.c.
 *
 * Decisions:
 *  - Features are Debian 12's mke2fs ext4 list exactly (no orphan_file,
 *    no metadata_csum_seed: GRUB before 2.12 cannot read the latter).
 *  - Block size is always 4096 and inodes 256 bytes, one inode per 16 KiB
 *    unless the caller counts them. mke2fs would use 1 KiB blocks for a
 *    "small" filesystem (< 512 MiB); we do not, so one geometry rule
 *    holds everywhere. The journal needs 2048 blocks: smaller windows
 *    (< 8 MiB) are refused.
 *  - Everything that varies between runs or hosts is pinned: UUID and
 *    hash seed from the options, the unsigned directory hash flag (else
 *    the host's char signedness decides), creator OS, every timestamp
 *    from options->timestamp (fs->now), no s_kbytes_written.
 *  - On a reused target every metadata block is written: block 0 (old
 *    boot sectors and signatures), inode tables, journal. On a fresh one
 *    those stay holes (the io manager trusts holes only while making the
 *    filesystem). */
#include "ext4.h"
#include "ext4_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE 4096
#define LOG_BLOCK_SIZE 2          /* 1024 << 2 */
#define INODE_RATIO 16384         /* mke2fs.conf's default */
#define LOG_GROUPS_PER_FLEX 4     /* mke2fs's default flex_bg size, 16 */
#define RESERVED_PERCENT 5
#define MIN_BLOCKS 2048           /* ext2fs_default_journal_size's floor */
#define LOST_FOUND_BYTES 16384    /* mke2fs expands lost+found to this */

int ext4_errno(errcode_t err)
{
	switch (err) {
	case 0:
		return 0;
	case EXT2_ET_NO_MEMORY:
		return -ENOMEM;
	case EXT2_ET_BLOCK_ALLOC_FAIL:
	case EXT2_ET_INODE_ALLOC_FAIL:
	case EXT2_ET_DIR_NO_SPACE:
	case EXT2_ET_SHORT_WRITE:
	case EXT2_ET_TOOSMALL:
		return -ENOSPC;
	case EXT2_ET_FILE_NOT_FOUND:
		return -ENOENT;
	case EXT2_ET_NO_DIRECTORY:
		return -ENOTDIR;
	case EXT2_ET_DIR_EXISTS:
		return -EEXIST;
	case EXT2_ET_FILE_TOO_BIG:
	case EXT2_ET_EA_NO_SPACE:
		return -EFBIG;
	}
	/* The io manager passes errno values through. */
	return err > 0 && err < 4096 ? -(int)err : -EIO;
}

/* libext2fs's own messages live in com_err, which the build does not
 * link: name the common codes, number the rest. */
static const char *describe(errcode_t err, char *buf, size_t len)
{
	switch (err) {
	case EXT2_ET_BLOCK_ALLOC_FAIL:
		return "no free blocks left";
	case EXT2_ET_INODE_ALLOC_FAIL:
		return "no free inodes left (ask for more inodes)";
	case EXT2_ET_NO_MEMORY:
		return "out of memory";
	case EXT2_ET_SHORT_READ:
	case EXT2_ET_SHORT_WRITE:
		return "outside the partition";
	case EXT2_ET_DIR_CORRUPTED:
		return "corrupted directory block";
	case EXT2_ET_FILE_TOO_BIG:
		return "file too big";
	case EXT2_ET_EA_NO_SPACE:
		return "no room for the xattrs";
	case EXT2_ET_TOOSMALL:
		return "too small";
	}
	if (err > 0 && err < 4096)
		return strerror((int)err);
	snprintf(buf, len, "libext2fs error %ld", (long)err);
	return buf;
}

int ext4_fail(struct ext4fs *x, errcode_t err, const char *fmt, ...)
{
	char why[64];
	char what[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(x->fs.err, sizeof(x->fs.err), "ext4: %s: %s", what, describe(err, why, sizeof(why)));
	return ext4_errno(err);
}

/* ---- making the filesystem ---- */

static void set_features(struct ext2_super_block *p)
{
	/* has_journal comes with the journal, ext2fs_add_journal_inode3. */
	ext2fs_set_feature_xattr(p);
	ext2fs_set_feature_resize_inode(p);
	ext2fs_set_feature_dir_index(p);
	ext2fs_set_feature_filetype(p);
	ext2fs_set_feature_extents(p);
	ext2fs_set_feature_64bit(p);
	ext2fs_set_feature_flex_bg(p);
	ext2fs_set_feature_sparse_super(p);
	ext2fs_set_feature_large_file(p);
	ext2fs_set_feature_huge_file(p);
	ext2fs_set_feature_dir_nlink(p);
	ext2fs_set_feature_extra_isize(p);
	ext2fs_set_feature_metadata_csum(p);
}

static int params(const struct mv_io *io, const struct mv_ext4_options *o,
		  struct ext2_super_block *p, char *err, size_t errlen)
{
	uint64_t blocks = io->length / BLOCK_SIZE;
	uint64_t inodes = o->inode_count ? o->inode_count : io->length / INODE_RATIO;
	if (blocks < MIN_BLOCKS) {
		snprintf(err, errlen, "ext4: a %llu-byte partition is too small: ext4 with a journal needs at least %d KiB",
			 (unsigned long long)io->length, MIN_BLOCKS * BLOCK_SIZE / 1024);
		return -ENOSPC;
	}
	if (inodes > UINT32_MAX) {
		snprintf(err, errlen, "ext4: %llu inodes asked, at most %u are possible",
			 (unsigned long long)inodes, UINT32_MAX);
		return -EINVAL;
	}
	memset(p, 0, sizeof(*p));
	ext2fs_blocks_count_set(p, blocks);
	ext2fs_r_blocks_count_set(p, blocks * RESERVED_PERCENT / 100);
	p->s_log_block_size = LOG_BLOCK_SIZE;
	p->s_rev_level = EXT2_DYNAMIC_REV;
	p->s_inode_size = EXT4_INODE_BYTES;
	p->s_inodes_count = (uint32_t)inodes;
	p->s_log_groups_per_flex = LOG_GROUPS_PER_FLEX;
	p->s_default_mount_opts = EXT2_DEFM_XATTR_USER | EXT2_DEFM_ACL;
	set_features(p);
	return 0;
}

static void pin_super(ext2_filsys e, const struct mv_ext4_options *o)
{
	struct ext2_super_block *s = e->super;
	s->s_mkfs_time = s->s_lastcheck = (uint32_t)o->timestamp;
	s->s_flags = (s->s_flags & ~EXT2_FLAGS_SIGNED_HASH) | EXT2_FLAGS_UNSIGNED_HASH;
	s->s_creator_os = EXT2_OS_LINUX;
	s->s_max_mnt_count = -1;   /* enable_periodic_fsck = 0 */
	s->s_checkinterval = 0;
	s->s_def_hash_version = EXT2_HASH_HALF_MD4;
	memcpy(s->s_uuid, o->uuid, sizeof(s->s_uuid));
	memcpy(s->s_hash_seed, o->hash_seed, sizeof(s->s_hash_seed));
	memset(s->s_volume_name, 0, sizeof(s->s_volume_name));
	if (o->label)
		memcpy(s->s_volume_name, o->label, strnlen(o->label, sizeof(s->s_volume_name)));
	s->s_checksum_type = EXT2_CRC32C_CHKSUM;
	ext2fs_init_csum_seed(e);
	ext2fs_mark_super_dirty(e);
}

/* Inode tables: zeros on a reused target (ext2fs_zero_blocks2 reaches our
 * zeroout), nothing on a fresh one; either way zeroed, as far as the
 * kernel's lazy init is concerned. */
static errcode_t zero_inode_tables(ext2_filsys e)
{
	for (dgrp_t g = 0; g < e->group_desc_count; g++) {
		errcode_t err = ext2fs_zero_blocks2(e, ext2fs_inode_table_loc(e, g),
						    (int)e->inode_blocks_per_group, NULL, NULL);
		if (err)
			return err;
		ext2fs_bg_flags_set(e, g, EXT2_BG_INODE_ZEROED);
		ext2fs_group_desc_csum_set(e, g);
	}
	return 0;
}

/* libext2fs stamps the inodes it writes itself with fs->now, or time()
 * when that is 0: pin them. */
static int stamp(struct ext4fs *x, ext2_ino_t ino)
{
	struct ext4_inode in;
	int rc = ext4_read(x, ino, &in);
	if (rc < 0)
		return rc;
	uint32_t t = (uint32_t)x->now;
	in.in.i_atime = in.in.i_ctime = in.in.i_mtime = in.in.i_crtime = t;
	in.in.i_atime_extra = in.in.i_ctime_extra = in.in.i_mtime_extra = in.in.i_crtime_extra = 0;
	return ext4_write(x, ino, &in);
}

static int make_root(struct ext4fs *x)
{
	struct mv_meta m = {.mode = LINUX_S_IFDIR | 0755, .mtime = x->now, .atime = x->now, .ctime = x->now};
	errcode_t err = ext2fs_mkdir(x->e, EXT2_ROOT_INO, EXT2_ROOT_INO, NULL);
	if (err)
		return ext4_fail(x, err, "creating the root directory");
	if ((err = ext4_dir_add(x->e, x->dirs, EXT2_ROOT_INO, EXT2_ROOT_INO)))
		return ext4_fail(x, err, "indexing the root directory");
	return ext4_apply_meta(x, EXT2_ROOT_INO, &m);
}

static int make_lost_found(struct ext4fs *x)
{
	struct mv_meta m = {.mode = LINUX_S_IFDIR | 0700, .mtime = x->now, .atime = x->now, .ctime = x->now};
	mv_node node;
	int rc = x->fs.ops->mkdir(&x->fs, EXT2_ROOT_INO, "lost+found", &m, &node);
	if (rc < 0)
		return rc;
	ext2_ino_t ino = (ext2_ino_t)node;
	/* e2fsck wants room to reconnect files without allocating. */
	for (unsigned size = BLOCK_SIZE; size < LOST_FOUND_BYTES; size += BLOCK_SIZE) {
		errcode_t err = ext2fs_expand_dir(x->e, ino);
		if (err)
			return ext4_fail(x, err, "expanding lost+found");
	}
	errcode_t err = ext4_dir_add(x->e, x->dirs, ino, EXT2_ROOT_INO);
	if (err)
		return ext4_fail(x, err, "indexing lost+found");
	return ext4_apply_meta(x, ino, &m);
}

/* Inodes 1 (bad blocks) and 3..10 are in use from the start. */
static int reserve_inodes(struct ext4fs *x)
{
	ext2_filsys e = x->e;
	for (ext2_ino_t i = EXT2_ROOT_INO + 1; i < EXT2_FIRST_INODE(e->super); i++)
		ext2fs_inode_alloc_stats2(e, i, +1, 0);
	ext2fs_inode_alloc_stats2(e, EXT2_BAD_INO, +1, 0);
	errcode_t err = ext2fs_update_bb_inode(e, NULL);
	if (err)
		return ext4_fail(x, err, "writing the bad-blocks inode");
	return stamp(x, EXT2_BAD_INO);
}

static int make_journal(struct ext4fs *x)
{
	struct ext2fs_journal_params jp;
	errcode_t err = ext2fs_get_journal_params(&jp, x->e);
	if (!err)
		err = ext2fs_add_journal_inode3(x->e, &jp, ~0ULL, EXT2_MKJOURNAL_NO_MNT_CHECK);
	if (err)
		return ext4_fail(x, err, "creating the journal");
	return stamp(x, EXT2_JOURNAL_INO);
}

static int mkfs(struct ext4fs *x, const struct mv_ext4_options *o)
{
	struct ext2_super_block p;
	char name[64];
	int rc = params(&x->io, o, &p, x->fs.err, sizeof(x->fs.err));
	if (rc < 0)
		return rc;
	if ((rc = mv_ext4_io_name(&x->io, name, sizeof(name))) < 0)
		return rc;
	errcode_t err = ext2fs_initialize(name, EXT2_FLAG_64BITS, &p,
					  (io_manager)&mv_ext4_io_manager, &x->e);
	if (err)
		return ext4_fail(x, err, "laying out %llu bytes", (unsigned long long)x->io.length);
	ext2_filsys e = x->e;
	mv_ext4_io_trust_holes(e->io, 1);
	e->now = (time_t)x->now;
	pin_super(e, o);
	if ((err = ext2fs_allocate_tables(e)) ||
	    (err = ext2fs_convert_subcluster_bitmap(e, &e->block_map)))
		return ext4_fail(x, err, "allocating group tables");
	if ((err = zero_inode_tables(e)))
		return ext4_fail(x, err, "zeroing the inode tables");
	/* Block 0: boot sectors and other filesystems' signatures (vfat's
	 * backup boot sector too) go; the superblock is written at 1024 by
	 * ext2fs_close. */
	if (mv_io_zero(&x->io, 0, BLOCK_SIZE) < 0)
		return ext4_fail(x, (errcode_t)errno, "zeroing block 0");
	if ((rc = make_root(x)) < 0 || (rc = make_lost_found(x)) < 0 || (rc = reserve_inodes(x)) < 0)
		return rc;
	if ((err = ext2fs_create_resize_inode(e)))
		return ext4_fail(x, err, "creating the resize inode");
	if ((rc = stamp(x, EXT2_RESIZE_INO)) < 0 || (rc = make_journal(x)) < 0)
		return rc;
	mv_ext4_io_trust_holes(e->io, 0);
	return 0;
}

struct mv_fs *mv_ext4_create(const struct mv_io *io, const struct mv_ext4_options *o, char *err, size_t errlen)
{
	struct ext4fs *x = calloc(1, sizeof(*x));
	if (!x || !(x->dirs = ext4_dirs_new())) {
		snprintf(err, errlen, "ext4: out of memory");
		free(x);
		return NULL;
	}
	x->fs.ops = &mv_ext4_ops;
	x->io = *io;
	x->now = o->timestamp;
	if (mkfs(x, o) < 0) {
		snprintf(err, errlen, "%s", x->fs.err[0] ? x->fs.err : "ext4: making the filesystem failed");
		x->fs.ops->destroy(&x->fs);
		return NULL;
	}
	return &x->fs;
}
