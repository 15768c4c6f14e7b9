/* The ext4 writer's node operations (struct mv_fs_ops). A node is an
 * inode number. Inodes are written whole by us, never through
 * ext2fs_write_new_inode, which replaces zero times with the clock: a
 * Nix store's mtime 1 and an archive's mtime 0 stay as given. */
#include "ext4_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <ext2fs/ext3_extents.h>

struct ext4_file {
	struct ext4fs *x;
	ext2_file_t f;
	ext2_ino_t ino;
	int writing;
	struct mv_meta meta; /* re-applied at close; no xattrs */
};

static struct ext4fs *X(struct mv_fs *fs)
{
	return (struct ext4fs *)fs;
}

static int usable(struct ext4fs *x)
{
	if (x->e)
		return 0;
	snprintf(x->fs.err, sizeof(x->fs.err), "ext4: the filesystem is already finished");
	return -EINVAL;
}

int ext4_read(struct ext4fs *x, ext2_ino_t ino, struct ext4_inode *in)
{
	errcode_t err = ext2fs_read_inode_full(x->e, ino, (struct ext2_inode *)in, sizeof(*in));
	return err ? ext4_fail(x, err, "reading inode %u", ino) : 0;
}

int ext4_write(struct ext4fs *x, ext2_ino_t ino, struct ext4_inode *in)
{
	errcode_t err = ext2fs_write_inode_full(x->e, ino, (struct ext2_inode *)in, sizeof(*in));
	return err ? ext4_fail(x, err, "writing inode %u", ino) : 0;
}

/* ext4's split times: the low 32 bits, and in *_extra the nanoseconds
 * above two epoch bits that extend the range to 2446 (as the kernel
 * encodes them: times before 1970 have epoch bits 0). */
static void put_time(uint32_t *lo, uint32_t *extra, int64_t sec, uint32_t nsec)
{
	*lo = (uint32_t)sec;
	uint32_t epoch = (uint32_t)(((sec - (int64_t)(int32_t)*lo) >> 32) & EXT4_EPOCH_MASK);
	*extra = (nsec % 1000000000u) << EXT4_EPOCH_BITS | epoch;
}

static int64_t get_time(uint32_t lo, uint32_t extra)
{
	return (int64_t)(int32_t)lo + ((int64_t)(extra & EXT4_EPOCH_MASK) << 32);
}

static void set_owner(struct ext2_inode_large *in, uint32_t uid, uint32_t gid)
{
	in->i_uid = (uint16_t)uid;
	in->i_gid = (uint16_t)gid;
	ext2fs_set_i_uid_high(*in, uid >> 16);
	ext2fs_set_i_gid_high(*in, gid >> 16);
}

static void set_meta(struct ext4fs *x, struct ext2_inode_large *in, const struct mv_meta *m)
{
	in->i_mode = (uint16_t)((in->i_mode & LINUX_S_IFMT) | (m->mode & 07777));
	set_owner(in, m->uid, m->gid);
	put_time(&in->i_atime, &in->i_atime_extra, m->atime, m->atime_nsec);
	put_time(&in->i_mtime, &in->i_mtime_extra, m->mtime, m->mtime_nsec);
	put_time(&in->i_ctime, &in->i_ctime_extra, m->ctime, m->ctime_nsec);
	put_time(&in->i_crtime, &in->i_crtime_extra, x->now, 0);
}

static int set_xattrs(struct ext4fs *x, ext2_ino_t ino, const struct mv_meta *m)
{
	if (!m->n_xattrs)
		return 0;
	struct ext2_xattr_handle *h = NULL;
	errcode_t err = ext2fs_xattrs_open(x->e, ino, &h);
	if (!err)
		err = ext2fs_xattrs_read(h);
	size_t i = 0;
	for (; !err && i < m->n_xattrs; i++)
		err = ext2fs_xattr_set(h, m->xattrs[i].name, m->xattrs[i].value, m->xattrs[i].size);
	if (h)
		ext2fs_xattrs_close(&h);
	if (err)
		return ext4_fail(x, err, "setting xattr %s of inode %u",
				 i ? m->xattrs[i - 1].name : "(any)", ino);
	return 0;
}

int ext4_apply_meta(struct ext4fs *x, ext2_ino_t ino, const struct mv_meta *m)
{
	struct ext4_inode in;
	int rc = ext4_read(x, ino, &in);
	if (rc < 0)
		return rc;
	set_meta(x, &in.in, m);
	if ((rc = ext4_write(x, ino, &in)) < 0)
		return rc;
	return set_xattrs(x, ino, m);
}

static int file_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return EXT2_FT_REG_FILE;
	case S_IFDIR: return EXT2_FT_DIR;
	case S_IFCHR: return EXT2_FT_CHRDEV;
	case S_IFBLK: return EXT2_FT_BLKDEV;
	case S_IFIFO: return EXT2_FT_FIFO;
	case S_IFSOCK: return EXT2_FT_SOCK;
	case S_IFLNK: return EXT2_FT_SYMLINK;
	}
	return EXT2_FT_UNKNOWN;
}

/* ---- reading ---- */

static mv_node op_root(struct mv_fs *fs)
{
	(void)fs;
	return EXT2_ROOT_INO;
}

static int op_lookup(struct mv_fs *fs, mv_node dir, const char *name, mv_node *out)
{
	struct ext4fs *x = X(fs);
	ext2_ino_t ino = 0;
	int rc = usable(x);
	if (rc == 0 && (rc = ext4_dir_lookup(x->dirs, (ext2_ino_t)dir, name, &ino)) == 0)
		*out = ino;
	return rc;
}

static uint64_t get_rdev(const struct ext2_inode_large *in)
{
	/* The kernel's old (8:8) and new (12:20) encodings, as mknod writes. */
	if (in->i_block[0])
		return makedev((in->i_block[0] >> 8) & 0xff, in->i_block[0] & 0xff);
	uint32_t b = in->i_block[1];
	return makedev((b & 0xfff00) >> 8, (b & 0xff) | ((b >> 12) & 0xfff00));
}

static void put_rdev(struct ext2_inode_large *in, uint64_t rdev)
{
	uint32_t ma = major(rdev), mi = minor(rdev);
	if (ma < 256 && mi < 256) {
		in->i_block[0] = ma << 8 | mi;
		in->i_block[1] = 0;
	} else {
		in->i_block[0] = 0;
		in->i_block[1] = (mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12);
	}
}

static int op_getattr(struct mv_fs *fs, mv_node node, struct mv_stat *st)
{
	struct ext4fs *x = X(fs);
	struct ext4_inode in;
	int rc = usable(x);
	if (rc < 0 || (rc = ext4_read(x, (ext2_ino_t)node, &in)) < 0)
		return rc;
	memset(st, 0, sizeof(*st));
	st->mode = in.in.i_mode;
	st->uid = inode_uid(in.in);
	st->gid = inode_gid(in.in);
	st->size = EXT2_I_SIZE(&in.in);
	st->nlink = in.in.i_links_count;
	st->mtime = get_time(in.in.i_mtime, in.in.i_mtime_extra);
	st->mtime_nsec = in.in.i_mtime_extra >> EXT4_EPOCH_BITS;
	if (LINUX_S_ISCHR(in.in.i_mode) || LINUX_S_ISBLK(in.in.i_mode))
		st->rdev = get_rdev(&in.in);
	return 0;
}

static int op_setattr(struct mv_fs *fs, mv_node node, const struct mv_meta *meta)
{
	struct ext4fs *x = X(fs);
	int rc = usable(x);
	return rc < 0 ? rc : ext4_apply_meta(x, (ext2_ino_t)node, meta);
}

static int op_readlink(struct mv_fs *fs, mv_node node, char *buf, size_t len)
{
	struct ext4fs *x = X(fs);
	ext2_ino_t ino = (ext2_ino_t)node;
	struct ext4_inode in;
	int rc = usable(x);
	if (rc < 0 || (rc = ext4_read(x, ino, &in)) < 0)
		return rc;
	if (!LINUX_S_ISLNK(in.in.i_mode))
		return -EINVAL;
	uint64_t size = EXT2_I_SIZE(&in.in);
	if (size >= len)
		return -ENAMETOOLONG;
	if (ext2fs_is_fast_symlink((struct ext2_inode *)&in.in)) {
		memcpy(buf, in.in.i_block, size);
		buf[size] = '\0';
		return 0;
	}
	ext2_file_t f;
	unsigned got = 0;
	errcode_t err = ext2fs_file_open(x->e, ino, 0, &f);
	if (err)
		return ext4_fail(x, err, "opening the symlink inode %u", ino);
	err = ext2fs_file_read(f, buf, (unsigned)size, &got);
	ext2fs_file_close(f);
	if (!err && got != size)
		err = EXT2_ET_SHORT_READ;
	if (err)
		return ext4_fail(x, err, "reading the symlink inode %u", ino);
	buf[size] = '\0';
	return 0;
}

static int op_readdir(struct mv_fs *fs, mv_node dir,
		      int (*fn)(void *ctx, const char *name, mv_node node), void *ctx)
{
	struct ext4fs *x = X(fs);
	int rc = usable(x);
	return rc < 0 ? rc : ext4_dir_walk(x->dirs, (ext2_ino_t)dir, fn, ctx);
}

/* ---- creating ---- */

/* The name may be added to dir: it is a directory of ours, the name is
 * valid and free. */
static int check_new(struct ext4fs *x, ext2_ino_t dir, const char *name)
{
	ext2_ino_t ino;
	int rc = usable(x);
	if (rc < 0)
		return rc;
	size_t len = strlen(name);
	if (!len || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (len > EXT2_NAME_LEN)
		return -ENAMETOOLONG;
	rc = ext4_dir_lookup(x->dirs, dir, name, &ino);
	return rc == -ENOENT ? 0 : rc == 0 ? -EEXIST : rc;
}

static int new_inode(struct ext4fs *x, ext2_ino_t dir, uint32_t mode, ext2_ino_t *ino)
{
	errcode_t err = ext2fs_new_inode(x->e, dir, (int)mode, NULL, ino);
	return err ? ext4_fail(x, err, "allocating an inode in directory inode %u", dir) : 0;
}

/* A fresh inode of ours (not a directory or a symlink: libext2fs makes
 * those), in use and written whole. */
static int write_fresh(struct ext4fs *x, ext2_ino_t ino, struct ext4_inode *in, const struct mv_meta *m)
{
	in->in.i_mode = (uint16_t)(m->mode & (LINUX_S_IFMT | 07777));
	in->in.i_links_count = 1;
	in->in.i_extra_isize = (uint16_t)(sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE);
	set_meta(x, &in->in, m);
	ext2fs_inode_alloc_stats2(x->e, ino, +1, 0);
	int rc = ext4_write(x, ino, in);
	if (rc < 0)
		ext2fs_inode_alloc_stats2(x->e, ino, -1, 0);
	return rc;
}

/* Frees an inode no name refers to any more: blocks, xattr block, the
 * inode itself. */
static int release(struct ext4fs *x, ext2_ino_t ino, struct ext4_inode *in)
{
	int isdir = LINUX_S_ISDIR(in->in.i_mode);
	errcode_t err = 0;
	if (ext2fs_inode_has_valid_blocks2(x->e, (struct ext2_inode *)&in->in)) {
		err = ext2fs_punch(x->e, ino, (struct ext2_inode *)&in->in, NULL, 0, ~0ULL);
		if (err)
			return ext4_fail(x, err, "freeing the blocks of inode %u", ino);
	}
	blk64_t ea = ext2fs_file_acl_block(x->e, (struct ext2_inode *)&in->in);
	if (ea) {
		__u32 count = 0;
		err = ext2fs_adjust_ea_refcount3(x->e, ea, NULL, -1, &count, ino);
		if (err)
			return ext4_fail(x, err, "releasing the xattr block of inode %u", ino);
		if (count == 0)
			ext2fs_block_alloc_stats2(x->e, ea, -1);
	}
	memset(in, 0, sizeof(*in));
	in->in.i_dtime = (uint32_t)x->now;
	int rc = ext4_write(x, ino, in);
	if (rc == 0)
		ext2fs_inode_alloc_stats2(x->e, ino, -1, isdir);
	return rc;
}

/* A directory's link count with dir_nlink: past EXT2_LINK_MAX it sticks
 * at 1, "many", as the kernel does. */
static uint16_t nlink_add(uint16_t n, int delta)
{
	if (n == 1)
		return 1;
	if (delta > 0)
		return n + 1 >= EXT2_LINK_MAX ? 1 : (uint16_t)(n + 1);
	return n > 2 ? (uint16_t)(n - 1) : n;
}

static int op_mkdir(struct mv_fs *fs, mv_node dirn, const char *name, const struct mv_meta *meta, mv_node *out)
{
	struct ext4fs *x = X(fs);
	ext2_ino_t dir = (ext2_ino_t)dirn, ino = 0;
	struct ext4_inode parent;
	int rc = check_new(x, dir, name);
	if (rc < 0 || (rc = new_inode(x, dir, LINUX_S_IFDIR | (meta->mode & 07777), &ino)) < 0 ||
	    (rc = ext4_read(x, dir, &parent)) < 0)
		return rc;
	uint16_t links = parent.in.i_links_count;
	/* Without a name, ext2fs_mkdir skips its quadratic lookup and link. */
	errcode_t err = ext2fs_mkdir(x->e, dir, ino, NULL);
	if (err)
		return ext4_fail(x, err, "making directory %s", name);
	/* ext2fs_mkdir counts the parent's link in 16 bits, unaware of
	 * dir_nlink: set it right. */
	if ((rc = ext4_read(x, dir, &parent)) < 0)
		return rc;
	parent.in.i_links_count = nlink_add(links, +1);
	if ((rc = ext4_write(x, dir, &parent)) < 0)
		return rc;
	if ((err = ext4_dir_add(x->e, x->dirs, ino, dir)) ||
	    (err = ext4_dir_link(x->e, x->dirs, dir, name, ino, EXT2_FT_DIR)))
		return ext4_fail(x, err, "linking directory %s into inode %u", name, dir);
	if ((rc = ext4_apply_meta(x, ino, meta)) < 0)
		return rc;
	*out = ino;
	return 0;
}

static int op_create(struct mv_fs *fs, mv_node dirn, const char *name, const struct mv_meta *meta,
		     struct mv_file **out)
{
	struct ext4fs *x = X(fs);
	ext2_ino_t dir = (ext2_ino_t)dirn, ino = 0;
	struct ext4_inode in = {0};
	int rc = check_new(x, dir, name);
	if (rc < 0)
		return rc;
	if (x->writing)
		return -EBUSY;
	if (!S_ISREG(meta->mode))
		return -EINVAL;
	if ((rc = new_inode(x, dir, LINUX_S_IFREG | (meta->mode & 07777), &ino)) < 0)
		return rc;
	/* An empty extent tree in i_block, as the kernel starts one. */
	struct ext3_extent_header *eh = (struct ext3_extent_header *)in.in.i_block;
	eh->eh_magic = ext2fs_cpu_to_le16(EXT3_EXT_MAGIC);
	eh->eh_max = ext2fs_cpu_to_le16((sizeof(in.in.i_block) - sizeof(*eh)) / sizeof(struct ext3_extent));
	in.in.i_flags = EXT4_EXTENTS_FL;
	if ((rc = write_fresh(x, ino, &in, meta)) < 0)
		return rc;
	errcode_t err = ext4_dir_link(x->e, x->dirs, dir, name, ino, EXT2_FT_REG_FILE);
	if (err) {
		rc = ext4_fail(x, err, "linking %s into directory inode %u", name, dir);
		release(x, ino, &in);
		return rc;
	}
	if ((rc = set_xattrs(x, ino, meta)) < 0)
		return rc;
	struct ext4_file *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	if ((err = ext2fs_file_open(x->e, ino, EXT2_FILE_WRITE, &f->f))) {
		free(f);
		return ext4_fail(x, err, "opening %s", name);
	}
	f->x = x;
	f->ino = ino;
	f->writing = 1;
	f->meta = *meta;
	f->meta.n_xattrs = 0;
	f->meta.xattrs = NULL;
	x->writing = 1;
	*out = (struct mv_file *)f;
	return 0;
}

static int op_write(struct mv_file *file, uint64_t offset, const void *buf, size_t len)
{
	struct ext4_file *f = (struct ext4_file *)file;
	if (!f->writing)
		return -EBADF;
	errcode_t err = ext2fs_file_llseek(f->f, offset, EXT2_SEEK_SET, NULL);
	const char *p = buf;
	/* Through libext2fs's one-block buffer: memory stays bounded, and
	 * blocks between two writes stay unallocated: holes. */
	while (!err && len) {
		unsigned n = len > (1u << 30) ? 1u << 30 : (unsigned)len, got = 0;
		err = ext2fs_file_write(f->f, p, n, &got);
		if (!err && !got)
			err = EXT2_ET_SHORT_WRITE;
		p += got;
		len -= got;
	}
	return err ? ext4_fail(f->x, err, "writing inode %u at %llu", f->ino, (unsigned long long)offset) : 0;
}

static int op_close(struct mv_file *file, uint64_t size)
{
	struct ext4_file *f = (struct ext4_file *)file;
	struct ext4fs *x = f->x;
	errcode_t err = 0;
	int rc = 0;
	if (f->writing)
		err = ext2fs_file_set_size2(f->f, size);
	errcode_t cerr = ext2fs_file_close(f->f);
	if (!err)
		err = cerr;
	if (err)
		rc = ext4_fail(x, err, "closing inode %u", f->ino);
	/* Writing may have touched the inode: the archive's times win. */
	if (f->writing && rc == 0)
		rc = ext4_apply_meta(x, f->ino, &f->meta);
	if (f->writing)
		x->writing = 0;
	free(f);
	return rc;
}

static int op_symlink(struct mv_fs *fs, mv_node dirn, const char *name, const char *target,
		      const struct mv_meta *meta)
{
	struct ext4fs *x = X(fs);
	ext2_ino_t dir = (ext2_ino_t)dirn, ino = 0;
	int rc = check_new(x, dir, name);
	if (rc < 0)
		return rc;
	/* The kernel reads a symlink's target from one block. */
	if (!*target || strlen(target) >= x->e->blocksize)
		return -ENAMETOOLONG;
	if ((rc = new_inode(x, dir, LINUX_S_IFLNK | 0777, &ino)) < 0)
		return rc;
	errcode_t err = ext2fs_symlink(x->e, dir, ino, NULL, target);
	if (!err)
		err = ext4_dir_link(x->e, x->dirs, dir, name, ino, EXT2_FT_SYMLINK);
	if (err)
		return ext4_fail(x, err, "making symlink %s in directory inode %u", name, dir);
	return ext4_apply_meta(x, ino, meta);
}

static int op_link(struct mv_fs *fs, mv_node dirn, const char *name, mv_node target)
{
	struct ext4fs *x = X(fs);
	ext2_ino_t dir = (ext2_ino_t)dirn, ino = (ext2_ino_t)target;
	struct ext4_inode in;
	int rc = check_new(x, dir, name);
	if (rc < 0 || (rc = ext4_read(x, ino, &in)) < 0)
		return rc;
	if (LINUX_S_ISDIR(in.in.i_mode))
		return -EPERM;
	if (in.in.i_links_count >= EXT2_LINK_MAX)
		return -EMLINK;
	in.in.i_links_count++;
	if ((rc = ext4_write(x, ino, &in)) < 0)
		return rc;
	errcode_t err = ext4_dir_link(x->e, x->dirs, dir, name, ino, file_type(in.in.i_mode));
	if (err) {
		in.in.i_links_count--;
		ext4_write(x, ino, &in);
		return ext4_fail(x, err, "linking %s into directory inode %u", name, dir);
	}
	return 0;
}

static int op_mknod(struct mv_fs *fs, mv_node dirn, const char *name, const struct mv_meta *meta)
{
	struct ext4fs *x = X(fs);
	ext2_ino_t dir = (ext2_ino_t)dirn, ino = 0;
	struct ext4_inode in = {0};
	int rc = check_new(x, dir, name);
	if (rc < 0)
		return rc;
	if (!S_ISCHR(meta->mode) && !S_ISBLK(meta->mode) && !S_ISFIFO(meta->mode) && !S_ISSOCK(meta->mode))
		return -EINVAL;
	if ((rc = new_inode(x, dir, meta->mode, &ino)) < 0)
		return rc;
	if (S_ISCHR(meta->mode) || S_ISBLK(meta->mode))
		put_rdev(&in.in, meta->rdev);
	if ((rc = write_fresh(x, ino, &in, meta)) < 0)
		return rc;
	errcode_t err = ext4_dir_link(x->e, x->dirs, dir, name, ino, file_type(meta->mode));
	if (err) {
		rc = ext4_fail(x, err, "linking %s into directory inode %u", name, dir);
		release(x, ino, &in);
		return rc;
	}
	return set_xattrs(x, ino, meta);
}

static int op_unlink(struct mv_fs *fs, mv_node dirn, const char *name)
{
	struct ext4fs *x = X(fs);
	ext2_ino_t dir = (ext2_ino_t)dirn, ino = 0;
	struct ext4_inode in;
	int rc = usable(x);
	if (rc < 0 || (rc = ext4_dir_lookup(x->dirs, dir, name, &ino)) < 0)
		return rc;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if ((rc = ext4_read(x, ino, &in)) < 0)
		return rc;
	int isdir = LINUX_S_ISDIR(in.in.i_mode);
	if (isdir && ext4_dir_entries(x->dirs, ino))
		return -ENOTEMPTY;
	errcode_t err = ext4_dir_unlink(x->e, x->dirs, dir, name);
	if (err)
		return ext4_fail(x, err, "removing %s from directory inode %u", name, dir);
	if (isdir) {
		struct ext4_inode parent;
		ext4_dir_forget(x->dirs, ino);
		if ((rc = ext4_read(x, dir, &parent)) < 0)
			return rc;
		parent.in.i_links_count = nlink_add(parent.in.i_links_count, -1);
		if ((rc = ext4_write(x, dir, &parent)) < 0)
			return rc;
		return release(x, ino, &in);
	}
	if (--in.in.i_links_count)
		return ext4_write(x, ino, &in);
	return release(x, ino, &in);
}

static int op_open(struct mv_fs *fs, mv_node node, struct mv_file **out)
{
	struct ext4fs *x = X(fs);
	struct ext4_file *f;
	int rc = usable(x);
	if (rc < 0)
		return rc;
	if (!(f = calloc(1, sizeof(*f))))
		return -ENOMEM;
	errcode_t err = ext2fs_file_open(x->e, (ext2_ino_t)node, 0, &f->f);
	if (err) {
		free(f);
		return ext4_fail(x, err, "opening inode %u", (ext2_ino_t)node);
	}
	f->x = x;
	f->ino = (ext2_ino_t)node;
	*out = (struct mv_file *)f;
	return 0;
}

static ssize_t op_read(struct mv_file *file, uint64_t offset, void *buf, size_t len)
{
	struct ext4_file *f = (struct ext4_file *)file;
	unsigned n = len > (1u << 30) ? 1u << 30 : (unsigned)len, got = 0;
	errcode_t err = ext2fs_file_llseek(f->f, offset, EXT2_SEEK_SET, NULL);
	if (!err)
		err = ext2fs_file_read(f->f, buf, n, &got);
	return err ? ext4_fail(f->x, err, "reading inode %u at %llu", f->ino, (unsigned long long)offset) : (ssize_t)got;
}

/* ---- the end ---- */

static int op_finish(struct mv_fs *fs)
{
	struct ext4fs *x = X(fs);
	int rc = usable(x);
	if (rc < 0)
		return rc;
	if (x->writing) {
		snprintf(x->fs.err, sizeof(x->fs.err), "ext4: a file is still open for writing");
		return -EBUSY;
	}
	/* Writes the superblocks, group descriptors and bitmaps, and frees
	 * the filesystem whatever happens. */
	errcode_t err = ext2fs_close_free(&x->e);
	x->e = NULL;
	return err ? ext4_fail(x, err, "writing the superblocks and bitmaps") : 0;
}

static void op_destroy(struct mv_fs *fs)
{
	struct ext4fs *x = X(fs);
	if (x->e)
		ext2fs_free(x->e);
	ext4_dirs_free(x->dirs);
	free(x);
}

const struct mv_fs_ops mv_ext4_ops = {
	.name = "ext4",
	.root = op_root,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.readdir = op_readdir,
	.mkdir = op_mkdir,
	.create = op_create,
	.write = op_write,
	.close = op_close,
	.symlink = op_symlink,
	.link = op_link,
	.mknod = op_mknod,
	.unlink = op_unlink,
	.open = op_open,
	.read = op_read,
	.finish = op_finish,
	.destroy = op_destroy,
};
