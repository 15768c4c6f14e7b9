/* The UFS2 writer. No UFS tool runs on this machine (no fsck_ffs, no
 * dumpfs): blkid -p identifies what we make, Linux's ufs driver judges
 * whole images in tests/integration/ufs.sh, and here the writer's own
 * read-back checks contents, holes, links and devices, the reused-target
 * rule (every byte of metadata written, checked against a fresh build),
 * determinism and the refusals. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../../bootstrap/bsdflags.h"
#include "../../bootstrap/nix_freebsd.h"
#include "../../images/fs.h"
#include "../../images/ufs.h"
#include "../../images/ufs_int.h"
#include "check_main.h"

#define MiB (1024ull * 1024)
#define T0 1700000000

struct img {
	char path[64];
	int fd;
	struct mv_fs *fs;
};

static struct mv_fs *make(struct img *im, uint64_t size, int fresh, int fill)
{
	snprintf(im->path, sizeof(im->path), "/tmp/test_ufs.XXXXXX");
	im->fd = mkstemp(im->path);
	ck_assert_int_ge(im->fd, 0);
	ck_assert_int_eq(ftruncate(im->fd, (off_t)size), 0);
	if (fill >= 0) {
		static uint8_t buf[1 << 20];
		memset(buf, fill, sizeof(buf));
		for (uint64_t off = 0; off < size; off += sizeof(buf))
			ck_assert_int_eq(pwrite(im->fd, buf, sizeof(buf), (off_t)off), (ssize_t)sizeof(buf));
	}
	struct mv_io io = {.fd = im->fd, .length = size, .sector_size = 512, .fresh = fresh};
	struct mv_ufs_options o = {.id = {1, 2, 3, 4, 5, 6, 7, 8}, .label = "rootfs", .timestamp = T0};
	char err[512];
	im->fs = mv_ufs_create(&io, &o, err, sizeof(err));
	ck_assert_msg(im->fs != NULL, "%s", err);
	return im->fs;
}

static void done(struct img *im)
{
	if (im->fs) {
		ck_assert_msg(mv_fs_finish(im->fs) == 0, "%s", im->fs->err);
		mv_fs_destroy(im->fs);
		im->fs = NULL;
	}
}

static void drop(struct img *im)
{
	close(im->fd);
	unlink(im->path);
}

static struct mv_meta meta(uint32_t mode)
{
	return (struct mv_meta){.mode = mode, .uid = 1001, .gid = 1002, .mtime = T0 + 5, .atime = T0 + 6, .ctime = T0 + 7};
}

static void put(struct mv_fs *fs, const char *path, const void *data, size_t len)
{
	struct mv_meta m = meta(S_IFREG | 0644);
	ck_assert_msg(mv_fs_write_file(fs, path, &m, data, len) == 0, "%s: %s", path, fs->err);
}

static void read_is(struct mv_fs *fs, const char *path, const void *want, size_t len)
{
	char *got;
	size_t n;
	ck_assert_msg(mv_fs_read_file(fs, path, &got, &n) == 0 && got, "%s: %s", path, fs->err);
	ck_assert_uint_eq(n, len);
	ck_assert_msg(memcmp(got, want, len) == 0, "%s: content differs", path);
	free(got);
}

static void fsck_image(int fd);

/* Everything the integration test has too, in a form read back here. */
static uint8_t big[3 * 1024 * 1024 + 1234];

static void populate(struct mv_fs *fs)
{
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + i / 4096);
	struct mv_meta d = meta(S_IFDIR | 0755);
	ck_assert_int_eq(mv_fs_mkdir(fs, "/etc", &d), 0);
	ck_assert_int_eq(mv_fs_mkdir(fs, "/etc/sub", &d), 0);
	put(fs, "/etc/small", "hello\n", 6);
	put(fs, "/big", big, sizeof(big));
	put(fs, "/etc/tail", big, 5 * 32768 + 5000);
	ck_assert_int_eq(mv_fs_symlink(fs, "/etc/fast", "small", &(struct mv_meta){.mode = S_IFLNK | 0777}), 0);
	char longt[300];
	memset(longt, 'x', sizeof(longt) - 1);
	longt[sizeof(longt) - 1] = '\0';
	ck_assert_int_eq(mv_fs_symlink(fs, "/etc/long", longt, &(struct mv_meta){.mode = S_IFLNK | 0777}), 0);
	ck_assert_int_eq(mv_fs_link(fs, "/etc/sub/hard", "/etc/small"), 0);
	struct mv_meta dev = meta(S_IFCHR | 0600);
	dev.rdev = makedev(254, 70000);
	ck_assert_int_eq(mv_fs_mknod(fs, "/etc/dev", &dev), 0);
	/* Sparse: data at 0, at 1 MiB and at 200 MiB (a double-indirect
	 * block), 300 MiB long on a 64 MiB filesystem: only holes fit. */
	struct mv_meta m = meta(S_IFREG | 0600);
	m.fflags = mv_bsd_fflags("schg,nodump");
	struct mv_file *f;
	ck_assert_int_eq(mv_fs_create(fs, "/sparse", &m, &f), 0);
	ck_assert_int_eq(fs->ops->write(f, 0, "A", 1), 0);
	ck_assert_int_eq(fs->ops->write(f, MiB, "B", 1), 0);
	ck_assert_int_eq(fs->ops->write(f, 200 * MiB, "C", 1), 0);
	ck_assert_msg(fs->ops->close(f, 300 * MiB) == 0, "%s", fs->err);
	char name[32];
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "/etc/sub/f%03d", i);
		put(fs, name, name, strlen(name));
	}
}

static void check_tree(struct mv_fs *fs)
{
	struct mv_stat st;
	read_is(fs, "/etc/small", "hello\n", 6);
	read_is(fs, "/big", big, sizeof(big));
	read_is(fs, "/etc/tail", big, 5 * 32768 + 5000);
	read_is(fs, "/etc/sub/f123", "/etc/sub/f123", 13);
	char buf[400];
	ck_assert_int_eq(mv_fs_readlink(fs, "/etc/fast", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "small");
	ck_assert_int_eq(mv_fs_readlink(fs, "/etc/long", buf, sizeof(buf)), 0);
	ck_assert_uint_eq(strlen(buf), 299);
	ck_assert_int_eq(mv_fs_stat(fs, "/etc/sub/hard", 0, &st), 0);
	ck_assert_uint_eq(st.nlink, 2);
	ck_assert_uint_eq(st.uid, 1001);
	ck_assert_int_eq(st.mtime, T0 + 5);
	ck_assert_int_eq(mv_fs_stat(fs, "/etc", 0, &st), 0);
	ck_assert_uint_eq(st.nlink, 3);
	ck_assert_int_eq(mv_fs_stat(fs, "/etc/dev", 0, &st), 0);
	ck_assert_uint_eq(st.rdev, makedev(254, 70000));
	ck_assert_int_eq(mv_fs_stat(fs, "/sparse", 0, &st), 0);
	ck_assert_uint_eq(st.size, 300 * MiB);
	struct mv_file *f;
	ck_assert_int_eq(mv_fs_open(fs, "/sparse", &f), 0);
	char c[3] = {0};
	ck_assert_int_eq(fs->ops->read(f, 0, c, 1), 1);
	ck_assert_int_eq(fs->ops->read(f, MiB - 1, c + 1, 2), 2);
	ck_assert_mem_eq(c, "A\0B", 3);
	ck_assert_int_eq(fs->ops->read(f, 200 * MiB, c, 1), 1);
	ck_assert_int_eq(c[0], 'C');
	ck_assert_int_eq(fs->ops->read(f, 250 * MiB, c, 1), 1);
	ck_assert_int_eq(c[0], 0);
	fs->ops->close(f, 0);
}

START_TEST(test_blkid_and_read_back)
{
	struct img im;
	struct mv_fs *fs = make(&im, 64 * MiB, 1, -1);
	populate(fs);
	check_tree(fs);
	done(&im);
	char cmd[512];
	fsck_image(im.fd);
	snprintf(cmd, sizeof(cmd), "blkid -p -o export %s > %s.blkid", im.path, im.path);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "grep -qx TYPE=ufs %s.blkid && grep -qx LABEL=rootfs %s.blkid && "
		 "grep -qx UUID=0102030405060708 %s.blkid && grep -qx VERSION=2 %s.blkid",
		 im.path, im.path, im.path, im.path);
	ck_assert_msg(system(cmd) == 0, "blkid -p does not see UFS2 rootfs 0102030405060708");
	snprintf(cmd, sizeof(cmd), "%s.blkid", im.path);
	unlink(cmd);
	/* The file flags, in the inode where FreeBSD reads them. */
	uint8_t sb[UFS_FSIZE], di[UFS_INODE];
	ck_assert_int_eq(pread(im.fd, sb, sizeof(sb), UFS_SBLOCK), (ssize_t)sizeof(sb));
	ck_assert_uint_eq(get32(sb + 1372), 0x19540119);
	/* /sparse is inode 11: the root is 2, then one per node made. */
	uint64_t iblk = get32(sb + 16);
	ck_assert_int_eq(pread(im.fd, di, sizeof(di), (off_t)(iblk * UFS_FSIZE + 11 * UFS_INODE)), (ssize_t)sizeof(di));
	ck_assert_uint_eq(get64(di + DI_SIZE), 300 * MiB);
	ck_assert_uint_eq(get32(di + DI_FLAGS), 0x20000 | 0x1); /* SF_IMMUTABLE | UF_NODUMP */
	ck_assert_msg(get64(di + DI_BLOCKS) * 512 < MiB, "sparse file holds %llu blocks",
		      (unsigned long long)get64(di + DI_BLOCKS));
	drop(&im);
}
END_TEST

START_TEST(test_deterministic)
{
	struct img a, b;
	populate(make(&a, 64 * MiB, 1, -1));
	done(&a);
	populate(make(&b, 64 * MiB, 1, -1));
	done(&b);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", a.path, b.path);
	ck_assert_msg(system(cmd) == 0, "two builds differ");
	drop(&a);
	drop(&b);
}
END_TEST

/* A reused target full of 0xA5: the same bytes as a fresh build in every
 * fragment in use and every inode block the groups say are initialised. */
START_TEST(test_reused)
{
	struct img fresh, old;
	populate(make(&fresh, 64 * MiB, 1, -1));
	done(&fresh);
	populate(make(&old, 64 * MiB, 0, 0xA5));
	check_tree(old.fs);
	done(&old);
	fsck_image(old.fd);
	uint8_t sb[UFS_FSIZE];
	ck_assert_int_eq(pread(fresh.fd, sb, sizeof(sb), UFS_SBLOCK), (ssize_t)sizeof(sb));
	uint32_t ncg = get32(sb + 44), fpg = get32(sb + 188), ipg = get32(sb + 184);
	uint32_t cblkno = get32(sb + 12), iblkno = get32(sb + 16);
	uint64_t size = get64(sb + 1080);
	uint8_t *cg = malloc(UFS_BSIZE), *x = malloc(UFS_FSIZE), *y = malloc(UFS_FSIZE);
	uint64_t checked = 0;
	for (uint32_t c = 0; c < ncg; c++) {
		uint64_t base = (uint64_t)c * fpg;
		ck_assert_int_eq(pread(fresh.fd, cg, UFS_BSIZE, (off_t)((base + cblkno) * UFS_FSIZE)), UFS_BSIZE);
		ck_assert_uint_eq(get32(cg + 4), 0x090255);
		uint8_t *bfree = cg + get32(cg + 96);
		uint32_t inited = get32(cg + 120);
		for (uint64_t f = 0; f < fpg && base + f < size; f++) {
			int is_free = bfree[f / 8] >> (f % 8) & 1;
			/* Inode blocks past cg_initediblk are never read. */
			int lazy = f >= iblkno + inited / UFS_INOPF && f < iblkno + ipg / UFS_INOPF;
			if (is_free || lazy)
				continue;
			ck_assert_int_eq(pread(fresh.fd, x, UFS_FSIZE, (off_t)((base + f) * UFS_FSIZE)), UFS_FSIZE);
			ck_assert_int_eq(pread(old.fd, y, UFS_FSIZE, (off_t)((base + f) * UFS_FSIZE)), UFS_FSIZE);
			ck_assert_msg(memcmp(x, y, UFS_FSIZE) == 0, "group %u fragment %llu differs on a reused target", c,
				      (unsigned long long)f);
			checked++;
		}
	}
	ck_assert_uint_gt(checked, 1000);
	free(cg), free(x), free(y);
	drop(&fresh);
	drop(&old);
}
END_TEST

START_TEST(test_replace_unlink_and_space)
{
	struct img im;
	struct mv_fs *fs = make(&im, 16 * MiB, 1, -1);
	static uint8_t chunk[4 * 1024 * 1024];
	memset(chunk, 'z', sizeof(chunk));
	/* Writing and removing 4 MiB twenty times needs the space back. */
	for (int i = 0; i < 20; i++) {
		put(fs, "/churn", chunk, sizeof(chunk));
		ck_assert_int_eq(mv_fs_unlink(fs, "/churn"), 0);
	}
	struct mv_meta d = meta(S_IFDIR | 0755);
	ck_assert_int_eq(mv_fs_mkdir(fs, "/d", &d), 0);
	put(fs, "/d/x", "x", 1);
	ck_assert_int_eq(mv_fs_unlink(fs, "/d"), -ENOTEMPTY);
	ck_assert_int_eq(mv_fs_unlink(fs, "/d/x"), 0);
	ck_assert_int_eq(mv_fs_unlink(fs, "/d"), 0);
	put(fs, "/keep", "second", 6);
	put(fs, "/keep", "third!", 6);
	read_is(fs, "/keep", "third!", 6);
	/* Full: a clear error naming the reason. */
	int rc = 0;
	for (int i = 0; i < 10 && rc == 0; i++) {
		char name[24];
		snprintf(name, sizeof(name), "/fill%d", i);
		rc = mv_fs_write_file(fs, name, &(struct mv_meta){.mode = S_IFREG | 0644}, chunk, sizeof(chunk));
	}
	ck_assert_int_eq(rc, -ENOSPC);
	ck_assert_msg(strstr(fs->err, "no free blocks"), "%s", fs->err);
	mv_fs_destroy(fs);
	drop(&im);
}
END_TEST

START_TEST(test_refusals)
{
	int fd = open("/dev/null", O_RDWR);
	struct mv_io io = {.fd = fd, .length = 512 * 1024, .sector_size = 512, .fresh = 1};
	struct mv_ufs_options o = {.timestamp = T0};
	char err[512];
	ck_assert_ptr_null(mv_ufs_create(&io, &o, err, sizeof(err)));
	ck_assert_msg(strstr(err, "too small"), "%s", err);
	close(fd);
	ck_assert_uint_eq(mv_bsd_fflags("uchg, sappnd nodump bogus,nouchg"), 0x2 | 0x40000 | 0x1);
	ck_assert_uint_eq(mv_bsd_fflags(NULL), 0);
}
END_TEST

/* Nix on FreeBSD: the first-boot rc.d script, written into a UFS root,
 * read back and checked by sh -n (it must at least parse). */
START_TEST(test_nix_rc_script)
{
	struct img im;
	struct mv_fs *fs = make(&im, 16 * MiB, 1, -1);
	struct mv_meta d = meta(S_IFDIR | 0755);
	ck_assert_int_eq(mv_fs_mkdir(fs, "/etc", &d), 0);
	put(fs, "/etc/rc.conf", "sshd_enable=\"YES\"\n", 18);
	char err[512];
	ck_assert_msg(mv_nix_freebsd_seed(fs, "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nix-2.35.2", T0, err,
					  sizeof(err)) == 0, "%s", err);
	char *text;
	size_t len;
	ck_assert_int_eq(mv_fs_read_file(fs, "/etc/rc.conf", &text, &len), 0);
	ck_assert_str_eq(text, "sshd_enable=\"YES\"\nmicrovisor_nix_enable=\"YES\"\n");
	free(text);
	struct mv_stat st;
	ck_assert_int_eq(mv_fs_stat(fs, MV_NIX_FREEBSD_SCRIPT, 0, &st), 0);
	ck_assert_uint_eq(st.mode, S_IFREG | 0555);
	ck_assert_int_eq(mv_fs_read_file(fs, MV_NIX_FREEBSD_SCRIPT, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "pw groupadd nixbld -g 30000"));
	ck_assert_ptr_nonnull(strstr(text, "-nix-2.35.2/bin/nix-store --load-db </nix-path-registration"));
	ck_assert_ptr_nonnull(strstr(text, "rcvar=\"microvisor_nix_enable\""));
	char path[80];
	snprintf(path, sizeof(path), "%s.rc", im.path);
	FILE *f = fopen(path, "w");
	fwrite(text, 1, len, f);
	fclose(f);
	free(text);
	char cmd[100];
	snprintf(cmd, sizeof(cmd), "sh -n %s", path);
	ck_assert_msg(system(cmd) == 0, "sh -n rejects the rc.d script");
	unlink(path);
	done(&im);
	drop(&im);
}
END_TEST

/* ---- an on-disk reader of our own, independent of the writer's ---- */

struct disk {
	int fd;
	uint32_t fpg, ipg, iblkno, cblkno;
};

static struct disk disk_of(int fd)
{
	uint8_t sb[UFS_FSIZE];
	ck_assert_int_eq(pread(fd, sb, sizeof(sb), UFS_SBLOCK), (ssize_t)sizeof(sb));
	ck_assert_uint_eq(get32(sb + 1372), 0x19540119);
	return (struct disk){.fd = fd, .fpg = get32(sb + 188), .ipg = get32(sb + 184), .iblkno = get32(sb + 16),
			     .cblkno = get32(sb + 12)};
}

static void disk_inode(const struct disk *d, uint32_t ino, uint8_t di[UFS_INODE])
{
	uint64_t off = ((uint64_t)(ino / d->ipg) * d->fpg + d->iblkno) * UFS_FSIZE + (uint64_t)(ino % d->ipg) * UFS_INODE;
	ck_assert_int_eq(pread(d->fd, di, UFS_INODE, (off_t)off), UFS_INODE);
}

/* Whether fragment f is marked free in its group's map. */
static int disk_frag_free(const struct disk *d, uint64_t f)
{
	uint8_t cg[UFS_BSIZE];
	uint64_t c = f / d->fpg, i = f % d->fpg;
	ck_assert_int_eq(pread(d->fd, cg, sizeof(cg), (off_t)((c * d->fpg + d->cblkno) * UFS_FSIZE)), UFS_BSIZE);
	ck_assert_uint_eq(get32(cg + 4), 0x090255);
	return cg[get32(cg + 96) + i / 8] >> (i % 8) & 1;
}

/* Logical block lbn of an inode (direct or single indirect), 0 for a hole;
 * *frags counts the indirect block the first time it is met. */
static uint64_t disk_bmap(const struct disk *d, const uint8_t *di, uint64_t lbn, uint64_t *frags)
{
	if (lbn < UFS_NDADDR)
		return get64(di + DI_DB + 8 * lbn);
	ck_assert_uint_lt(lbn, UFS_NDADDR + UFS_NINDIR);
	uint64_t ib = get64(di + DI_IB);
	ck_assert_uint_ne(ib, 0);
	if (lbn == UFS_NDADDR) {
		*frags += UFS_FRAG;
		ck_assert_msg(!disk_frag_free(d, ib), "the indirect block is marked free");
	}
	uint8_t a[8];
	ck_assert_int_eq(pread(d->fd, a, 8, (off_t)(ib * UFS_FSIZE + 8 * (lbn - UFS_NDADDR))), 8);
	return get64(a);
}

/* Reads directory ino from the disk by dir.h's rules: DIRBLKSIZ chunks
 * whose records are 4-aligned, at least DIRSIZ long, never cross a chunk
 * and fill it; the size a whole number of chunks; di_blocks all the
 * fragments held. Calls fn for each name. */
static void disk_dir(const struct disk *d, uint32_t ino, void (*fn)(void *, const char *, uint32_t), void *ctx)
{
	uint8_t di[UFS_INODE], chunk[UFS_DIRBLK];
	disk_inode(d, ino, di);
	ck_assert_uint_eq(get16(di + DI_MODE) & S_IFMT, S_IFDIR);
	uint64_t size = get64(di + DI_SIZE), frags = 0;
	ck_assert_uint_eq(size % UFS_DIRBLK, 0);
	uint64_t nblk = (size + UFS_BSIZE - 1) / UFS_BSIZE;
	for (uint64_t lbn = 0; lbn < nblk; lbn++) {
		uint64_t a = disk_bmap(d, di, lbn, &frags), rest = size - lbn * UFS_BSIZE;
		ck_assert_msg(a != 0, "directory block %llu is a hole", (unsigned long long)lbn);
		/* Only a last direct block may be fragments. */
		uint64_t n = lbn + 1 < nblk || lbn >= UFS_NDADDR ? UFS_FRAG : (rest + UFS_FSIZE - 1) / UFS_FSIZE;
		for (uint64_t f = 0; f < n; f++)
			ck_assert_msg(!disk_frag_free(d, a + f), "directory block %llu is marked free", (unsigned long long)lbn);
		frags += n;
		for (uint64_t o = 0; o < UFS_BSIZE && o < rest; o += UFS_DIRBLK) {
			ck_assert_int_eq(pread(d->fd, chunk, sizeof(chunk), (off_t)(a * UFS_FSIZE + o)), UFS_DIRBLK);
			for (uint32_t at = 0; at < UFS_DIRBLK;) {
				uint32_t reclen = get16(chunk + at + 4), namlen = chunk[at + 7];
				ck_assert_msg(reclen % 4 == 0 && reclen >= ((8 + namlen + 1 + 3) & ~3u) && at + reclen <= UFS_DIRBLK,
					      "bad record at %u of a chunk of block %llu", at, (unsigned long long)lbn);
				char name[256];
				memcpy(name, chunk + at + 8, namlen);
				name[namlen] = '\0';
				ck_assert_int_eq(chunk[at + 8 + namlen], 0);
				if (get32(chunk + at))
					fn(ctx, name, get32(chunk + at));
				at += reclen;
			}
		}
	}
	ck_assert_uint_eq(get64(di + DI_BLOCKS), frags * (UFS_FSIZE / UFS_DEV_BSIZE));
}

#define NBIG 2400

struct seen {
	uint8_t got[NBIG];
	int dots;
	uint32_t ino;
};

static void long_name(char *out, int i)
{
	/* 200 bytes: two records to a DIRBLKSIZ chunk. */
	snprintf(out, 256, "%04d-%0195d", i, 0);
}

static void saw(void *ctx, const char *name, uint32_t ino)
{
	struct seen *s = ctx;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		s->dots++;
		return;
	}
	if (strcmp(name, "target") == 0)
		return;
	if (strcmp(name, "big") == 0) {
		s->ino = ino;
		return;
	}
	int i = atoi(name);
	char want[256];
	long_name(want, i);
	ck_assert_msg(i >= 0 && i < NBIG && strcmp(name, want) == 0 && !s->got[i], "unexpected or repeated entry %.20s", name);
	s->got[i] = 1;
}

/* A directory of more than NDADDR (12) blocks: its 13th block and on
 * come through the single indirect block. Read back from the disk after
 * finish() by the reader above, not through the writer. */
START_TEST(test_directory_past_direct_blocks)
{
	struct img im;
	struct mv_fs *fs = make(&im, 64 * MiB, 1, -1);
	struct mv_meta d = meta(S_IFDIR | 0755);
	ck_assert_int_eq(mv_fs_mkdir(fs, "/big", &d), 0);
	put(fs, "/target", "t", 1);
	char path[300];
	for (int i = 0; i < NBIG; i++) {
		memcpy(path, "/big/", 5);
		long_name(path + 5, i);
		ck_assert_msg(mv_fs_link(fs, path, "/target") == 0, "%s", fs->err);
	}
	done(&im);
	fsck_image(im.fd);
	struct disk dk = disk_of(im.fd);
	struct seen root = {0};
	disk_dir(&dk, UFS_ROOTINO, saw, &root);
	ck_assert_int_eq(root.dots, 2);
	ck_assert_uint_ne(root.ino, 0);
	static struct seen s;
	memset(&s, 0, sizeof(s));
	disk_dir(&dk, root.ino, saw, &s);
	ck_assert_int_eq(s.dots, 2);
	for (int i = 0; i < NBIG; i++)
		ck_assert_msg(s.got[i], "entry %d is missing", i);
	uint8_t di[UFS_INODE];
	disk_inode(&dk, root.ino, di);
	ck_assert_uint_gt(get64(di + DI_SIZE), (uint64_t)UFS_NDADDR * UFS_BSIZE);
	drop(&im);
}
END_TEST

/* Node numbers come from lookups, but a writer's contract is its own:
 * one that names no inode is refused, not written past the table. */
START_TEST(test_bad_node)
{
	struct img im;
	struct mv_fs *fs = make(&im, 16 * MiB, 1, -1);
	struct mv_meta m = meta(S_IFREG | 0644);
	char buf[16];
	ck_assert_int_eq(fs->ops->setattr(fs, 1u << 20, &m), -ENOENT);
	ck_assert_int_eq(fs->ops->setattr(fs, 77, &m), -ENOENT);
	ck_assert_int_eq(fs->ops->readlink(fs, 1u << 20, buf, sizeof(buf)), -ENOENT);
	done(&im);
	drop(&im);
}
END_TEST

/* Logical block lbn of a file at any depth (direct, single, double or
 * triple indirect), 0 for a hole: FreeBSD's ufs_bmaparray's layout. */
static uint64_t disk_bmap_any(const struct disk *d, const uint8_t *di, uint64_t lbn)
{
	if (lbn < UFS_NDADDR)
		return get64(di + DI_DB + 8 * lbn);
	uint64_t rel = lbn - UFS_NDADDR, span = UFS_NINDIR;
	for (int level = 0; level < UFS_NIADDR; level++, rel -= span, span *= UFS_NINDIR) {
		if (rel >= span)
			continue;
		uint64_t a = get64(di + DI_IB + 8 * level);
		for (uint64_t per = span / UFS_NINDIR;; per /= UFS_NINDIR) {
			if (!a)
				return 0;
			uint8_t p[8];
			ck_assert_int_eq(pread(d->fd, p, 8, (off_t)(a * UFS_FSIZE + 8 * (rel / per % UFS_NINDIR))), 8);
			a = get64(p);
			if (per == 1)
				return a;
		}
	}
	ck_abort_msg("block %llu is past the triple indirect", (unsigned long long)lbn);
	return 0;
}

/* A sparse file reaching the triple indirect block (past 12 + 4096 +
 * 4096^2 blocks of 32 KiB: 512 GiB), read back from the disk. */
START_TEST(test_triple_indirect)
{
	struct img im;
	struct mv_fs *fs = make(&im, 16 * MiB, 1, -1);
	const uint64_t GiB = 1024 * MiB, at[] = {0, 200 * MiB, 550 * GiB};
	struct mv_meta m = meta(S_IFREG | 0644);
	struct mv_file *f;
	ck_assert_int_eq(mv_fs_create(fs, "/huge", &m, &f), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(fs->ops->write(f, at[i], "XYZ" + i, 1) == 0, "%s", fs->err);
	ck_assert_msg(fs->ops->close(f, 600 * GiB) == 0, "%s", fs->err);
	done(&im);
	fsck_image(im.fd);
	struct disk dk = disk_of(im.fd);
	uint8_t di[UFS_INODE];
	disk_inode(&dk, 3, di); /* the root is 2: the first node made is 3 */
	ck_assert_uint_eq(get64(di + DI_SIZE), 600 * GiB);
	ck_assert_uint_ne(get64(di + DI_IB + 16), 0);
	for (int i = 0; i < 3; i++) {
		uint64_t a = disk_bmap_any(&dk, di, at[i] / UFS_BSIZE);
		ck_assert_msg(a != 0, "the block at %llu is a hole", (unsigned long long)at[i]);
		char c;
		ck_assert_int_eq(pread(im.fd, &c, 1, (off_t)(a * UFS_FSIZE + at[i] % UFS_BSIZE)), 1);
		ck_assert_int_eq(c, "XYZ"[i]);
	}
	/* The last block is held (as FreeBSD does for a file ending in a hole),
	 * and a block between is a hole. */
	ck_assert_uint_ne(disk_bmap_any(&dk, di, (600 * GiB - 1) / UFS_BSIZE), 0);
	ck_assert_uint_eq(disk_bmap_any(&dk, di, 300 * GiB / UFS_BSIZE), 0);
	drop(&im);
}
END_TEST

/* ---- fsck_ffs's pass 1 and pass 5, as far as this writer's images go ----
 * No fsck_ffs runs here (Debian ships none), so the bookkeeping is
 * recomputed from the inodes alone and compared with every map and count
 * the groups, the summary area and the superblock hold. */

struct pass {
	int fd;
	uint8_t sb[UFS_FSIZE];
	uint32_t ncg, fpg, ipg, sblkno, cblkno, iblkno, dblkno;
	uint64_t size;
	uint8_t *used;          /* one byte per fragment: 1 when something holds it */
	uint64_t held;          /* fragments the inode being walked holds */
};

static void hold(struct pass *p, uint64_t from, uint64_t n, const char *what)
{
	for (uint64_t f = from; f < from + n; f++) {
		ck_assert_msg(f < p->size, "%s: fragment %llu is past the end", what, (unsigned long long)f);
		ck_assert_msg(!p->used[f], "%s: fragment %llu is held twice", what, (unsigned long long)f);
		p->used[f] = 1;
	}
	p->held += n;
}

static void hold_tree(struct pass *p, uint64_t a, int level)
{
	hold(p, a, UFS_FRAG, "an indirect block");
	uint8_t *b = malloc(UFS_BSIZE);
	ck_assert_int_eq(pread(p->fd, b, UFS_BSIZE, (off_t)(a * UFS_FSIZE)), UFS_BSIZE);
	for (uint32_t i = 0; i < UFS_NINDIR; i++) {
		uint64_t c = get64(b + 8 * i);
		if (c && level > 1)
			hold_tree(p, c, level - 1);
		else if (c)
			hold(p, c, UFS_FRAG, "a data block past the direct ones");
	}
	free(b);
}

static void fsck_image(int fd)
{
	struct pass p = {.fd = fd};
	ck_assert_int_eq(pread(fd, p.sb, UFS_FSIZE, UFS_SBLOCK), UFS_FSIZE);
	uint8_t *sb = p.sb;
	p.sblkno = get32(sb + 8), p.cblkno = get32(sb + 12), p.iblkno = get32(sb + 16), p.dblkno = get32(sb + 20);
	p.ncg = get32(sb + 44), p.ipg = get32(sb + 184), p.fpg = get32(sb + 188), p.size = get64(sb + 1080);
	uint32_t cssize = get32(sb + 156), csaddr = (uint32_t)get64(sb + 1096), contig = get32(sb + 1316);
	ck_assert_uint_eq((uint64_t)p.ncg * p.fpg >= p.size && (uint64_t)(p.ncg - 1) * p.fpg < p.size, 1);
	p.used = calloc(p.size, 1);
	/* Pass 1: what the metadata and every inode hold. */
	for (uint32_t c = 0; c < p.ncg; c++) {
		uint64_t base = (uint64_t)c * p.fpg;
		hold(&p, base + (c ? p.sblkno : 0), p.dblkno - (c ? p.sblkno : 0) + (c ? 0 : cssize / UFS_FSIZE), "metadata");
	}
	uint8_t *cg = malloc(UFS_BSIZE), *cs = malloc(cssize);
	ck_assert_int_eq(pread(fd, cs, cssize, (off_t)csaddr * UFS_FSIZE), (ssize_t)cssize);
	int64_t tot[4] = {0};
	uint8_t *iused = calloc(p.ipg, 1);
	for (uint32_t c = 0; c < p.ncg; c++) {
		uint64_t base = (uint64_t)c * p.fpg;
		ck_assert_int_eq(pread(fd, cg, UFS_BSIZE, (off_t)((base + p.cblkno) * UFS_FSIZE)), UFS_BSIZE);
		ck_assert_uint_eq(get32(cg + 4), 0x090255);
		ck_assert_uint_eq(get32(cg + 12), c);
		uint32_t inited = get32(cg + 120), ndblk = get32(cg + 20);
		ck_assert_uint_eq(ndblk, p.size - base < p.fpg ? p.size - base : p.fpg);
		ck_assert_uint_eq(inited % UFS_INOPB, 0);
		ck_assert_uint_le(inited, p.ipg);
		int64_t ndir = 0, nifree = 0;
		memset(iused, 0, p.ipg);
		for (uint32_t i = 0; i < p.ipg; i++) {
			uint32_t ino = c * p.ipg + i;
			uint8_t di[UFS_INODE] = {0};
			if (i < inited)
				ck_assert_int_eq(pread(fd, di, UFS_INODE, (off_t)((base + p.iblkno) * UFS_FSIZE + (uint64_t)i * UFS_INODE)),
						 UFS_INODE);
			uint32_t mode = get16(di + DI_MODE), t = mode & S_IFMT;
			iused[i] = mode || ino < UFS_ROOTINO;
			nifree += !iused[i];
			if (!mode)
				continue;
			ndir += S_ISDIR(t);
			p.held = 0;
			uint64_t size = get64(di + DI_SIZE);
			if (S_ISREG(t) || S_ISDIR(t) || (S_ISLNK(t) && get64(di + DI_BLOCKS))) {
				uint64_t nblk = (size + UFS_BSIZE - 1) / UFS_BSIZE;
				for (uint64_t lbn = 0; lbn < UFS_NDADDR; lbn++) {
					uint64_t a = get64(di + DI_DB + 8 * lbn);
					ck_assert_msg(lbn < nblk || !a, "inode %u: a direct block past its size", ino);
					/* Only the last block of a file within the direct ones may be fragments. */
					uint64_t n = lbn + 1 == nblk ? (size - lbn * UFS_BSIZE + UFS_FSIZE - 1) / UFS_FSIZE : UFS_FRAG;
					if (a) {
						ck_assert_msg(n == UFS_FRAG || a / UFS_FRAG == (a + n - 1) / UFS_FRAG,
							      "inode %u: a tail crosses a block", ino);
						ck_assert_msg(n < UFS_FRAG || a % UFS_FRAG == 0, "inode %u: a block is not aligned", ino);
						hold(&p, a, n, "a direct block");
					}
				}
				for (int l = 0; l < UFS_NIADDR; l++)
					if (get64(di + DI_IB + 8 * l))
						hold_tree(&p, get64(di + DI_IB + 8 * l), l + 1);
			}
			ck_assert_msg(get64(di + DI_BLOCKS) == p.held * (UFS_FSIZE / UFS_DEV_BSIZE),
				      "inode %u: di_blocks %llu, holds %llu fragments", ino,
				      (unsigned long long)get64(di + DI_BLOCKS), (unsigned long long)p.held);
		}
		for (uint32_t i = 0; i < p.ipg; i++)
			ck_assert_msg(iused[i] == (cg[get32(cg + 92) + i / 8] >> (i % 8) & 1), "group %u: inode map bit %u", c, i);
		ck_assert_int_eq(get32(cg + 24), ndir);
		ck_assert_int_eq(get32(cg + 32), nifree);
		tot[0] += ndir, tot[2] += nifree;
	}
	/* Pass 5: the fragment maps, cluster maps and every count. */
	for (uint32_t c = 0; c < p.ncg; c++) {
		uint64_t base = (uint64_t)c * p.fpg;
		ck_assert_int_eq(pread(fd, cg, UFS_BSIZE, (off_t)((base + p.cblkno) * UFS_FSIZE)), UFS_BSIZE);
		uint32_t ndblk = get32(cg + 20), frsum[UFS_FRAG] = {0}, clsum[64] = {0}, run = 0;
		int64_t nbfree = 0, nffree = 0;
		const uint8_t *bfree = cg + get32(cg + 96), *clfree = cg + get32(cg + 108);
		for (uint32_t b = 0; b * UFS_FRAG < ndblk; b++) {
			uint32_t free_n = 0, len = 0;
			for (uint32_t f = b * UFS_FRAG; f < (b + 1) * UFS_FRAG; f++) {
				int is_free = f < ndblk && !p.used[base + f];
				if (f < ndblk)
					ck_assert_msg(is_free == (bfree[f / 8] >> (f % 8) & 1), "group %u: fragment %u's free bit", c, f);
				free_n += is_free;
				len = is_free ? len + 1 : 0;
				if (len && (f + 1 == (b + 1) * UFS_FRAG || !(f + 1 < ndblk && !p.used[base + f + 1])) && len < UFS_FRAG)
					frsum[len]++;
			}
			int whole = free_n == UFS_FRAG;
			ck_assert_msg(whole == (clfree[b / 8] >> (b % 8) & 1), "group %u: block %u's cluster bit", c, b);
			nbfree += whole;
			nffree += whole ? 0 : free_n;
			if (whole)
				run++;
			else if (run)
				clsum[run < contig ? run : contig]++, run = 0;
		}
		if (run)
			clsum[run < contig ? run : contig]++;
		ck_assert_int_eq(get32(cg + 28), nbfree);
		ck_assert_int_eq(get32(cg + 36), nffree);
		for (int i = 1; i < UFS_FRAG; i++)
			ck_assert_msg(get32(cg + 52 + 4 * i) == frsum[i], "group %u: cg_frsum[%d] %u, counted %u", c, i,
				      get32(cg + 52 + 4 * i), frsum[i]);
		for (uint32_t i = 1; i <= contig; i++)
			ck_assert_msg(get32(cg + get32(cg + 104) + 4 * i) == clsum[i], "group %u: cluster sum %u", c, i);
		ck_assert_mem_eq(cs + 16 * c, cg + 24, 16);
		tot[1] += nbfree, tot[3] += nffree;
	}
	for (int i = 0; i < 4; i++)
		ck_assert_msg((int64_t)get64(sb + 1008 + 8 * i) == tot[i], "fs_cstotal field %d", i);
	free(iused), free(cg), free(cs), free(p.used);
}

/* The bookkeeping after building, replacing and removing files in every
 * group, checked as fsck_ffs would. */
START_TEST(test_bookkeeping)
{
	struct img im;
	struct mv_fs *fs = make(&im, 64 * MiB, 1, -1);
	populate(fs);
	static uint8_t chunk[5 * 1024 * 1024];
	memset(chunk, 'q', sizeof(chunk));
	char name[32];
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "/fill%d", i);
		put(fs, name, chunk, sizeof(chunk) - (size_t)i * 4097);
	}
	for (int i = 0; i < 300; i += 3) {
		snprintf(name, sizeof(name), "/etc/sub/f%03d", i);
		ck_assert_int_eq(mv_fs_unlink(fs, name), 0);
	}
	ck_assert_int_eq(mv_fs_unlink(fs, "/fill3"), 0);
	ck_assert_int_eq(mv_fs_unlink(fs, "/etc/tail"), 0);
	put(fs, "/etc/small", "replaced, and longer than before\n", 33);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "/etc/t%02d", i);
		put(fs, name, chunk, (size_t)i * 1000 + 1);
	}
	done(&im);
	fsck_image(im.fd);
	drop(&im);
}
END_TEST

static Suite *ufs_suite(void)
{
	Suite *s = suite_create("ufs");
	TCase *tc = tcase_create("ufs");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_blkid_and_read_back);
	tcase_add_test(tc, test_deterministic);
	tcase_add_test(tc, test_reused);
	tcase_add_test(tc, test_replace_unlink_and_space);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_nix_rc_script);
	tcase_add_test(tc, test_directory_past_direct_blocks);
	tcase_add_test(tc, test_bad_node);
	tcase_add_test(tc, test_triple_indirect);
	tcase_add_test(tc, test_bookkeeping);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(ufs_suite)
