/* The ext4 writer, judged by tools nobody here wrote: e2fsck -fn must call
 * every filesystem clean, debugfs reads back owners, modes, times, links,
 * holes, device numbers, xattrs and contents, dumpe2fs compares the
 * superblock with what Debian 12's mke2fs makes, blkid identifies it. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "../../images/ext4.h"
#include "../../images/fs.h"
#include "check_main.h"

#define MiB (1024ull * 1024)
#define T0 1700000000

static char work[64];

/* ---- running the judges ---- */

/* Runs a shell command; returns its exit status, its stdout in *out
 * (malloc'd) when out is not NULL. */
static int sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sh(char **out, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	FILE *p = popen(cmd, "r");
	ck_assert_msg(p != NULL, "popen %s", cmd);
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2048)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	int st = pclose(p);
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void fsck_clean(const char *img)
{
	char *out;
	int rc = sh(&out, "e2fsck -fn %s 2>&1", img);
	ck_assert_msg(rc == 0, "e2fsck -fn %s: exit %d\n%s", img, rc, out);
	free(out);
}

/* debugfs's answer to one request. */
static char *debugfs(const char *img, const char *req)
{
	char *out;
	int rc = sh(&out, "debugfs -R '%s' %s 2>&1", req, img);
	ck_assert_msg(rc == 0, "debugfs %s: exit %d", req, rc);
	return out;
}

static void has(const char *text, const char *want, const char *what)
{
	ck_assert_msg(strstr(text, want) != NULL, "%s: no \"%s\" in:\n%s", what, want, text);
}

static void stat_has(const char *img, const char *path, const char *want)
{
	char req[512];
	snprintf(req, sizeof(req), "stat %s", path);
	char *out = debugfs(img, req);
	has(out, want, path);
	free(out);
}

/* The file debugfs dumps from the image has exactly these bytes. */
static void dump_is(const char *img, const char *path, const void *data, size_t len)
{
	char req[512], out[256];
	snprintf(out, sizeof(out), "%s/dumped", work);
	unlink(out);
	snprintf(req, sizeof(req), "dump %s %s", path, out);
	free(debugfs(img, req));
	FILE *f = fopen(out, "rb");
	ck_assert_msg(f != NULL, "debugfs dumped nothing for %s", path);
	char *got = malloc(len + 1);
	size_t n = fread(got, 1, len + 1, f);
	fclose(f);
	ck_assert_msg(n == len && memcmp(got, data, len) == 0, "%s: %zu bytes dumped, %zu expected, or they differ", path, n, len);
	free(got);
}

/* ---- building images ---- */

struct img {
	char path[128];
	int fd;
	struct mv_io io;
	struct mv_fs *fs;
	uint64_t written_end; /* the highest byte the writer wrote, +1 */
};

static void note_written(void *ctx, uint64_t off, uint64_t len)
{
	struct img *im = ctx;
	if (off + len > im->written_end)
		im->written_end = off + len;
}

static struct mv_ext4_options options(void)
{
	struct mv_ext4_options o = {.label = "mvroot", .timestamp = T0};
	memset(o.uuid, 0x11, sizeof(o.uuid));
	o.uuid[6] = 0x41; /* version 4, variant 1: blkid prints it as given */
	o.uuid[8] = 0x91;
	memset(o.hash_seed, 0x22, sizeof(o.hash_seed));
	return o;
}

static void fill(int fd, uint64_t off, uint64_t len, int byte)
{
	static char buf[1 << 20];
	memset(buf, byte, sizeof(buf));
	while (len) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		ck_assert_int_eq(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
		off += n;
		len -= n;
	}
}

/* A file of file_size bytes (sparse, or filled with byte when byte >= 0)
 * and an ext4 writer on [offset, offset + length) of it. */
static void img_open(struct img *im, const char *name, uint64_t file_size, uint64_t offset, uint64_t length,
		     int fresh, int byte, const struct mv_ext4_options *o)
{
	memset(im, 0, sizeof(*im));
	snprintf(im->path, sizeof(im->path), "%s/%s", work, name);
	im->fd = open(im->path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(im->fd, 0);
	ck_assert_int_eq(ftruncate(im->fd, (off_t)file_size), 0);
	if (byte >= 0)
		fill(im->fd, 0, file_size, byte);
	im->io = (struct mv_io){.fd = im->fd, .offset = offset, .length = length, .sector_size = 512,
				.fresh = fresh, .written = note_written, .written_ctx = im};
	char err[512] = "";
	struct mv_ext4_options def = options();
	im->fs = mv_ext4_create(&im->io, o ? o : &def, err, sizeof(err));
	ck_assert_msg(im->fs != NULL, "mv_ext4_create: %s", err);
}

/* An image in its own file: fresh, sparse, at offset 0. */
static void img_new(struct img *im, const char *name, uint64_t size)
{
	img_open(im, name, size, 0, size, 1, -1, NULL);
}

static void img_finish(struct img *im)
{
	int rc = mv_fs_finish(im->fs);
	ck_assert_msg(rc == 0, "finish: %s", im->fs->err);
	mv_fs_destroy(im->fs);
	im->fs = NULL;
	close(im->fd);
}

static struct mv_meta meta(uint32_t mode, uint32_t uid, uint32_t gid, int64_t t)
{
	return (struct mv_meta){.mode = mode, .uid = uid, .gid = gid, .mtime = t, .atime = t, .ctime = t};
}

/* Node level: a directory under dir. */
static mv_node mkdir_at(struct mv_fs *fs, mv_node dir, const char *name, uint32_t mode, int64_t t)
{
	struct mv_meta m = meta(S_IFDIR | mode, 0, 0, t);
	mv_node out = 0;
	int rc = fs->ops->mkdir(fs, dir, name, &m, &out);
	ck_assert_msg(rc == 0, "mkdir %s: %d %s", name, rc, fs->err);
	return out;
}

/* Node level: a regular file written in one piece. */
static void file_at(struct mv_fs *fs, mv_node dir, const char *name, const struct mv_meta *m,
		    const void *data, size_t len)
{
	struct mv_file *f;
	int rc = fs->ops->create(fs, dir, name, m, &f);
	ck_assert_msg(rc == 0, "create %s: %d %s", name, rc, fs->err);
	if (len)
		ck_assert_int_eq(fs->ops->write(f, 0, data, len), 0);
	rc = fs->ops->close(f, len);
	ck_assert_msg(rc == 0, "close %s: %s", name, fs->err);
}

static void lookup_ok(struct mv_fs *fs, mv_node dir, const char *name, mv_node *out)
{
	int rc = fs->ops->lookup(fs, dir, name, out);
	ck_assert_msg(rc == 0, "lookup %s: %d", name, rc);
}

static void pseudo_random(char *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (char)(seed >> 16);
	}
}

static void setup(void)
{
	snprintf(work, sizeof(work), "/tmp/mv-ext4-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(work));
}

static void teardown(void)
{
	sh(NULL, "rm -rf %s", work);
}

/* ---- the tests ---- */

/* The superblock says what Debian 12's mke2fs would say for the same size
 * (with its "default" size type: 4 KiB blocks, 16 KiB per inode). */
static const char *const same_as_mke2fs[] = {
	"Filesystem features:", "Default mount options:", "Inode count:",
	"Block count:", "Reserved block count:", "Block size:", "Inode size:",
	"Required extra isize:", "Desired extra isize:", "Flex block group size:",
	"Blocks per group:", "Inodes per group:", "Reserved GDT blocks:", "Maximum mount count:",
	"Check interval:", "Checksum type:", "Total journal size:", "Total journal blocks:",
	"Default directory hash:",
	"Filesystem OS type:", "Filesystem state:", "Errors behavior:",
};

static void line_of(const char *text, const char *key, char *out, size_t len)
{
	const char *p = strstr(text, key);
	ck_assert_msg(p != NULL, "no %s in:\n%s", key, text);
	size_t n = strcspn(p, "\n");
	snprintf(out, len, "%.*s", (int)n, p);
}

START_TEST(test_mke2fs_equivalent)
{
	struct img im;
	img_new(&im, "ours.img", 600 * MiB);
	img_finish(&im);
	fsck_clean(im.path);
	char *ref_out, *ours, *ref;
	int rc = sh(&ref_out, "mke2fs -q -F -t ext4 -T default -E root_owner=0:0 %s/ref.img 600M 2>&1", work);
	ck_assert_msg(rc == 0, "mke2fs: %s", ref_out);
	free(ref_out);
	ck_assert_int_eq(sh(&ours, "dumpe2fs -h %s 2>/dev/null", im.path), 0);
	ck_assert_int_eq(sh(&ref, "dumpe2fs -h %s/ref.img 2>/dev/null", work), 0);
	for (size_t i = 0; i < sizeof(same_as_mke2fs) / sizeof(*same_as_mke2fs); i++) {
		char a[512], b[512];
		line_of(ours, same_as_mke2fs[i], a, sizeof(a));
		line_of(ref, same_as_mke2fs[i], b, sizeof(b));
		ck_assert_msg(strcmp(a, b) == 0, "ours: %s\nmke2fs: %s", a, b);
	}
	/* Pinned, never the host's: the hash flag (mke2fs on x86_64 says
	 * signed, on aarch64 unsigned) and every time. */
	has(ours, "unsigned_directory_hash", "flags");
	has(ours, "Filesystem created:       Tue Nov 14 22:13:20 2023", "mkfs time");
	has(ours, "Last write time:          Tue Nov 14 22:13:20 2023", "write time");
	has(ours, "Directory Hash Seed:      22222222-2222-2222-2222-222222222222", "hash seed");
	free(ours);
	free(ref);

	char *blk;
	ck_assert_int_eq(sh(&blk, "blkid -p -o export %s", im.path), 0);
	has(blk, "TYPE=ext4\n", "blkid");
	has(blk, "UUID=11111111-1111-4111-9111-111111111111\n", "blkid");
	has(blk, "LABEL=mvroot\n", "blkid");
	free(blk);
	/* Root and lost+found as mke2fs makes them, with our time. */
	stat_has(im.path, "/", "Mode:  0755");
	stat_has(im.path, "/", "User:     0   Group:     0");
	stat_has(im.path, "/lost+found", "Mode:  0700");
	stat_has(im.path, "/lost+found", "Size: 16384");
	stat_has(im.path, "/lost+found", "mtime: 0x6553f100:00000000");
}
END_TEST

/* Every kind of node, with metadata at its edges, through the node ops. */
static char big[3 * 1024 * 1024 + 123];
static const char long_target[] =
	"../../a/very/long/target/that/does/not/fit/in/the/sixty/bytes/of/i_block/"
	"so/it/needs/a/block/of/its/own/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const unsigned char cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00};

static void populate(struct mv_fs *fs)
{
	mv_node root = fs->ops->root(fs), etc, bin, dev, node;
	etc = mkdir_at(fs, root, "etc", 0755, 1);
	bin = mkdir_at(fs, root, "bin", 0755, 1);
	dev = mkdir_at(fs, root, "dev", 0755, 1);
	mkdir_at(fs, root, "tmp", 01777, 1);

	static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n";
	struct mv_meta m = meta(S_IFREG | 0644, 0, 0, 1);
	file_at(fs, etc, "passwd", &m, passwd, strlen(passwd));
	lookup_ok(fs, etc, "passwd", &node);
	ck_assert_int_eq(fs->ops->link(fs, etc, "passwd-", node), 0);

	m = meta(S_IFREG | 04755, 0, 0, 1);
	file_at(fs, bin, "su", &m, "#!su\n", 5);
	m = meta(S_IFREG | 02711, 0, 42, 1);
	file_at(fs, bin, "sg", &m, "#!sg\n", 5);

	m = meta(S_IFREG | 0600, 0, 0, 0);
	file_at(fs, root, "zero", &m, "", 0);
	m = meta(S_IFREG | 0640, 100000, 100001, 1234567890);
	m.mtime_nsec = 123456789;
	m.atime = 5;
	m.ctime = 3000000000ll; /* after 2038: an epoch bit */
	file_at(fs, root, "owned", &m, "x", 1);

	/* A hole between two writes, and one at the end. */
	struct mv_file *f;
	char a[4096], b[4096];
	memset(a, 'A', sizeof(a));
	memset(b, 'B', sizeof(b));
	m = meta(S_IFREG | 0644, 0, 0, 1);
	ck_assert_int_eq(fs->ops->create(fs, root, "sparse", &m, &f), 0);
	ck_assert_int_eq(fs->ops->write(f, 0, a, sizeof(a)), 0);
	ck_assert_int_eq(fs->ops->write(f, 10 * MiB, b, sizeof(b)), 0);
	ck_assert_int_eq(fs->ops->close(f, 20 * MiB), 0);

	/* Streamed in odd-sized pieces. */
	pseudo_random(big, sizeof(big), 7);
	ck_assert_int_eq(fs->ops->create(fs, root, "big", &m, &f), 0);
	for (size_t off = 0; off < sizeof(big); off += 65537) {
		size_t n = sizeof(big) - off < 65537 ? sizeof(big) - off : 65537;
		ck_assert_int_eq(fs->ops->write(f, off, big + off, n), 0);
	}
	ck_assert_int_eq(fs->ops->close(f, sizeof(big)), 0);

	m = meta(S_IFLNK | 0777, 0, 0, 1);
	ck_assert_int_eq(fs->ops->symlink(fs, root, "lib", "usr/lib", &m), 0);
	m = meta(S_IFLNK | 0777, 7, 8, 2);
	ck_assert_int_eq(fs->ops->symlink(fs, root, "long", long_target, &m), 0);

	m = meta(S_IFCHR | 0666, 0, 0, 1);
	m.rdev = makedev(1, 3);
	ck_assert_int_eq(fs->ops->mknod(fs, dev, "null", &m), 0);
	m = meta(S_IFBLK | 0660, 0, 6, 1);
	m.rdev = makedev(8, 0);
	ck_assert_int_eq(fs->ops->mknod(fs, dev, "sda", &m), 0);
	m = meta(S_IFCHR | 0600, 0, 0, 1);
	m.rdev = makedev(300, 70000);
	ck_assert_int_eq(fs->ops->mknod(fs, dev, "wide", &m), 0);
	m = meta(S_IFIFO | 0644, 0, 0, 1);
	ck_assert_int_eq(fs->ops->mknod(fs, dev, "fifo", &m), 0);
	m = meta(S_IFSOCK | 0755, 0, 0, 1);
	ck_assert_int_eq(fs->ops->mknod(fs, dev, "sock", &m), 0);

	struct mv_xattr xa[] = {
		{"security.capability", cap, sizeof(cap)},
		{"user.comment", "hello", 5},
	};
	m = meta(S_IFREG | 0755, 0, 0, 1);
	m.xattrs = xa;
	m.n_xattrs = 2;
	file_at(fs, bin, "ping", &m, "ping", 4);
	struct mv_meta dm = meta(S_IFDIR | 0750, 0, 0, 1);
	dm.xattrs = xa + 1;
	dm.n_xattrs = 1;
	mv_node node2;
	ck_assert_int_eq(fs->ops->mkdir(fs, root, "xdir", &dm, &node2), 0);
}

START_TEST(test_nodes)
{
	struct img im;
	img_new(&im, "nodes.img", 64 * MiB);
	populate(im.fs);
	img_finish(&im);
	const char *p = im.path;
	fsck_clean(p);

	stat_has(p, "/etc/passwd", "Links: 2");
	stat_has(p, "/etc/passwd", "mtime: 0x00000001:00000000");
	dump_is(p, "/etc/passwd-", "root:x:0:0:root:/root:/bin/sh\n", 30);
	stat_has(p, "/bin/su", "Mode:  04755");
	stat_has(p, "/bin/sg", "Mode:  02711");
	stat_has(p, "/bin/sg", "Group:    42");
	stat_has(p, "/tmp", "Mode:  01777");
	stat_has(p, "/zero", "mtime: 0x00000000:00000000");
	stat_has(p, "/zero", "atime: 0x00000000:00000000");
	stat_has(p, "/zero", "ctime: 0x00000000:00000000");
	stat_has(p, "/owned", "User: 100000   Group: 100001");
	/* 123456789 ns << 2 = 0x1d6f3454; 3e9 s is past 2038: 0xb2d05e00
	 * and epoch bit 1, as the kernel encodes it. */
	stat_has(p, "/owned", "mtime: 0x499602d2:1d6f3454");
	stat_has(p, "/owned", "atime: 0x00000005:00000000");
	stat_has(p, "/owned", "ctime: 0xb2d05e00:00000001");

	/* Two data blocks, 16 sectors; the rest is holes. */
	stat_has(p, "/sparse", "Size: 20971520");
	stat_has(p, "/sparse", "Blockcount: 16");
	char *ext = debugfs(p, "ex /sparse");
	has(ext, " 0 -     0 ", "extent at 0");
	has(ext, " 2560 -  2560 ", "extent at 10 MiB");
	free(ext);
	char *hole = calloc(1, 20 * MiB);
	memset(hole, 'A', 4096);
	memset(hole + 10 * MiB, 'B', 4096);
	dump_is(p, "/sparse", hole, 20 * MiB);
	free(hole);
	dump_is(p, "/big", big, sizeof(big));

	stat_has(p, "/lib", "Fast link dest: \"usr/lib\"");
	char *sl = debugfs(p, "stat /long");
	has(sl, "User:     7   Group:     8", "/long");
	has(sl, "EXTENTS:", "slow symlink's block");
	free(sl);
	dump_is(p, "/long", long_target, strlen(long_target));

	stat_has(p, "/dev/null", "Type: character special");
	stat_has(p, "/dev/null", "Device major/minor number: 01:03");
	stat_has(p, "/dev/sda", "Type: block special");
	stat_has(p, "/dev/sda", "Device major/minor number: 08:00");
	stat_has(p, "/dev/wide", "Device major/minor number: 300:70000");
	stat_has(p, "/dev/fifo", "Type: FIFO");
	stat_has(p, "/dev/sock", "Type: socket");
	stat_has(p, "/dev/sock", "Mode:  0755");

	char *ea = debugfs(p, "ea_list /bin/ping");
	has(ea, "security.capability (20)", "capability");
	has(ea, "user.comment (5) = \"hello\"", "user xattr");
	free(ea);
	ea = debugfs(p, "ea_list /xdir");
	has(ea, "user.comment (5) = \"hello\"", "directory xattr");
	free(ea);
}
END_TEST

struct names {
	size_t n;
	char first[64];
};

static int count_names(void *ctx, const char *name, mv_node node)
{
	struct names *c = ctx;
	(void)node;
	if (!c->n++)
		snprintf(c->first, sizeof(c->first), "%s", name);
	return 0;
}

/* What the writer wrote it can read back, before finish. */
START_TEST(test_read_back)
{
	struct img im;
	img_new(&im, "read.img", 64 * MiB);
	struct mv_fs *fs = im.fs;
	populate(fs);
	mv_node root = fs->ops->root(fs), node, dev;
	struct mv_stat st;

	lookup_ok(fs, root, "owned", &node);
	ck_assert_int_eq(fs->ops->getattr(fs, node, &st), 0);
	ck_assert_uint_eq(st.mode, S_IFREG | 0640);
	ck_assert_uint_eq(st.uid, 100000);
	ck_assert_uint_eq(st.gid, 100001);
	ck_assert_int_eq(st.mtime, 1234567890);
	ck_assert_uint_eq(st.mtime_nsec, 123456789);
	ck_assert_int_eq(fs->ops->lookup(fs, root, "nothing", &node), -ENOENT);
	lookup_ok(fs, root, "zero", &node);
	ck_assert_int_eq(fs->ops->lookup(fs, node, "x", &node), -ENOTDIR);

	char buf[4096];
	lookup_ok(fs, root, "long", &node);
	ck_assert_int_eq(fs->ops->readlink(fs, node, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, long_target);
	lookup_ok(fs, root, "lib", &node);
	ck_assert_int_eq(fs->ops->readlink(fs, node, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "usr/lib");
	ck_assert_int_eq(fs->ops->readlink(fs, node, buf, 4), -ENAMETOOLONG);

	lookup_ok(fs, root, "dev", &dev);
	lookup_ok(fs, dev, "wide", &node);
	ck_assert_int_eq(fs->ops->getattr(fs, node, &st), 0);
	ck_assert_uint_eq(st.rdev, makedev(300, 70000));

	struct names c = {0};
	ck_assert_int_eq(fs->ops->readdir(fs, root, count_names, &c), 0);
	ck_assert_uint_eq(c.n, 12); /* lost+found and populate()'s 11, in creation order */
	ck_assert_str_eq(c.first, "lost+found");

	struct mv_file *f;
	lookup_ok(fs, root, "big", &node);
	ck_assert_int_eq(fs->ops->open(fs, node, &f), 0);
	char *back = malloc(sizeof(big));
	size_t off = 0;
	ssize_t n;
	while ((n = fs->ops->read(f, off, back + off, sizeof(big) - off < 10000 ? sizeof(big) - off : 10000)) > 0)
		off += (size_t)n;
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(off, sizeof(big));
	ck_assert(memcmp(back, big, sizeof(big)) == 0);
	free(back);
	ck_assert_int_eq(fs->ops->close(f, 0), 0);

	/* setattr changes owner, permissions and times, never the type. */
	struct mv_meta m = meta(S_IFREG | 0444, 3, 4, 1);
	lookup_ok(fs, root, "big", &node);
	ck_assert_int_eq(fs->ops->setattr(fs, node, &m), 0);
	ck_assert_int_eq(fs->ops->getattr(fs, node, &st), 0);
	ck_assert_uint_eq(st.mode, S_IFREG | 0444);
	ck_assert_uint_eq(st.uid, 3);
	ck_assert_int_eq(st.mtime, 1);
	img_finish(&im);
	fsck_clean(im.path);
	stat_has(im.path, "/big", "Mode:  0444");
}
END_TEST

/* Inside a window of a larger file: bytes outside stay as they were, the
 * window alone is a clean filesystem. */
START_TEST(test_window)
{
	struct img im;
	const uint64_t off = 1 * MiB, len = 64 * MiB, size = 66 * MiB;
	img_open(&im, "window.img", size, off, len, 1, -1, NULL);
	fill(im.fd, 0, off, 0xA5);
	fill(im.fd, off + len, size - off - len, 0xA5);
	populate(im.fs);
	img_finish(&im);
	ck_assert_uint_le(im.written_end, len);

	FILE *f = fopen(im.path, "rb");
	static unsigned char buf[1 << 20];
	for (uint64_t pos = 0; pos < size; pos += sizeof(buf)) {
		ck_assert_uint_eq(fread(buf, 1, sizeof(buf), f), sizeof(buf));
		if (pos >= off && pos < off + len)
			continue;
		for (size_t i = 0; i < sizeof(buf); i++)
			ck_assert_msg(buf[i] == 0xA5, "byte %llu outside the window changed",
				      (unsigned long long)(pos + i));
	}
	fclose(f);
	char copy[160];
	snprintf(copy, sizeof(copy), "%s/extracted.img", work);
	ck_assert_int_eq(sh(NULL, "dd if=%s of=%s bs=1M skip=1 count=64 status=none", im.path, copy), 0);
	fsck_clean(copy);
	dump_is(copy, "/big", big, sizeof(big));
	/* And e2fsck reading the window in place. */
	char *out;
	int rc = sh(&out, "e2fsck -fn '%s?offset=%llu' 2>&1", im.path, (unsigned long long)off);
	ck_assert_msg(rc == 0, "e2fsck in place: %s", out);
	free(out);
}
END_TEST

static void build_small(struct img *im, const char *name, int fresh, int byte)
{
	img_open(im, name, 64 * MiB, 0, 64 * MiB, fresh, byte, NULL);
	populate(im->fs);
	img_finish(im);
}

/* Same calls, same options: the same bytes. */
START_TEST(test_deterministic)
{
	struct img a, b;
	build_small(&a, "a.img", 1, -1);
	build_small(&b, "b.img", 1, -1);
	ck_assert_int_eq(sh(NULL, "cmp -s %s %s", a.path, b.path), 0);
	build_small(&a, "c.img", 0, 0xA5);
	build_small(&b, "d.img", 0, 0xA5);
	ck_assert_int_eq(sh(NULL, "cmp -s %s %s", a.path, b.path), 0);
	/* A different UUID is a different image: the comparison can fail. */
	struct mv_ext4_options o = options();
	o.uuid[0] = 0x12;
	img_open(&b, "e.img", 64 * MiB, 0, 64 * MiB, 1, -1, &o);
	populate(b.fs);
	img_finish(&b);
	ck_assert_int_ne(sh(NULL, "cmp -s %s/a.img %s", work, b.path), 0);
}
END_TEST

/* A reused target: stale bytes everywhere (0xA5), or an old vfat. */
START_TEST(test_reused)
{
	struct img im;
	build_small(&im, "stale.img", 0, 0xA5);
	fsck_clean(im.path);
	dump_is(im.path, "/big", big, sizeof(big));
	char *hole = calloc(1, 20 * MiB);
	memset(hole, 'A', 4096);
	memset(hole + 10 * MiB, 'B', 4096);
	dump_is(im.path, "/sparse", hole, 20 * MiB);
	free(hole);
	char *out;
	ck_assert_int_eq(sh(&out, "blkid -p -o export %s", im.path), 0);
	has(out, "TYPE=ext4\n", "blkid on 0xA5");
	free(out);

	char old[160];
	snprintf(old, sizeof(old), "%s/vfat.img", work);
	for (int fresh = 0; fresh <= 1; fresh++) {
		ck_assert_int_eq(sh(NULL, "rm -f %s && mkfs.vfat -F 32 -s 1 -C %s 65536 >/dev/null 2>&1", old, old), 0);
		int fd = open(old, O_RDWR);
		struct mv_io io = {.fd = fd, .length = 64 * MiB, .sector_size = 512, .fresh = fresh};
		struct mv_ext4_options o = options();
		char err[512];
		struct mv_fs *fs = mv_ext4_create(&io, &o, err, sizeof(err));
		ck_assert_msg(fs != NULL, "%s", err);
		populate(fs);
		ck_assert_int_eq(mv_fs_finish(fs), 0);
		mv_fs_destroy(fs);
		close(fd);
		fsck_clean(old);
		int rc = sh(&out, "blkid -p -o export %s 2>&1", old);
		if (fresh) {
			/* The control: pretending the old vfat is a fresh
			 * target leaves its signature, and blkid is torn. */
			ck_assert_msg(rc != 0, "blkid -p accepted a leftover vfat: %s", out);
		} else {
			ck_assert_msg(rc == 0, "blkid -p: exit %d: %s", rc, out);
			has(out, "TYPE=ext4\n", "blkid over old vfat");
		}
		free(out);
	}
}
END_TEST

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 100,000 files in one directory: linear linking (timed, not asserted). */
START_TEST(test_big_directory)
{
	enum { N = 100000 };
	struct img im;
	struct mv_ext4_options o = options();
	o.inode_count = 200000;
	img_open(&im, "many.img", 1024 * MiB, 0, 1024 * MiB, 1, -1, &o);
	struct mv_fs *fs = im.fs;
	mv_node dir = mkdir_at(fs, fs->ops->root(fs), "many", 0755, 1);
	struct mv_meta m = meta(S_IFREG | 0644, 0, 0, 1);
	double t0 = now_s();
	for (int i = 0; i < N; i++) {
		char name[64], body[32];
		snprintf(name, sizeof(name), "file-with-a-longish-name-%06d", i);
		int len = snprintf(body, sizeof(body), "%d\n", i);
		file_at(fs, dir, name, &m, body, (size_t)len);
	}
	double t1 = now_s();
	mv_node node;
	struct mv_stat st;
	lookup_ok(fs, dir, "file-with-a-longish-name-054321", &node);
	ck_assert_int_eq(fs->ops->getattr(fs, node, &st), 0);
	ck_assert_uint_eq(st.size, 6);
	ck_assert_int_eq(fs->ops->create(fs, dir, "file-with-a-longish-name-000007", &m, &(struct mv_file *){0}), -EEXIST);
	struct names c = {0};
	ck_assert_int_eq(fs->ops->readdir(fs, dir, count_names, &c), 0);
	ck_assert_uint_eq(c.n, N);
	img_finish(&im);
	double t2 = now_s();
	fprintf(stderr, "ext4: %d files in one directory: %.2f s to create, %.2f s to finish\n", N, t1 - t0, t2 - t1);
	fsck_clean(im.path);
	dump_is(im.path, "/many/file-with-a-longish-name-099999", "99999\n", 6);
	stat_has(im.path, "/many/file-with-a-longish-name-000000", "Links: 1");
}
END_TEST

/* More subdirectories than a 16-bit link count holds: dir_nlink. */
START_TEST(test_many_subdirectories)
{
	enum { N = 66000 };
	struct img im;
	struct mv_ext4_options o = options();
	o.inode_count = 100000;
	img_open(&im, "subdirs.img", 512 * MiB, 0, 512 * MiB, 1, -1, &o);
	struct mv_fs *fs = im.fs;
	mv_node store = mkdir_at(fs, fs->ops->root(fs), "store", 0755, 1);
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "d%05d", i);
		mkdir_at(fs, store, name, 0555, 1);
	}
	img_finish(&im);
	fsck_clean(im.path);
	stat_has(im.path, "/store", "Links: 1");
}
END_TEST

/* tar's rules through the path layer: a duplicate replaces the earlier
 * entry, a hard-linked sibling keeps the old content. */
START_TEST(test_replace_and_unlink)
{
	struct img im;
	img_new(&im, "replace.img", 64 * MiB);
	struct mv_fs *fs = im.fs;
	struct mv_meta m = meta(S_IFREG | 0644, 0, 0, 1);
	ck_assert_int_eq(mv_fs_mkparents(fs, "/etc/x/passwd", 1), 0);
	ck_assert_int_eq(mv_fs_write_file(fs, "/etc/x/passwd", &m, "old\n", 4), 0);
	ck_assert_int_eq(mv_fs_link(fs, "/etc/x/passwd-", "/etc/x/passwd"), 0);
	ck_assert_int_eq(mv_fs_write_file(fs, "/etc/x/passwd", &m, "new!\n", 5), 0);
	struct mv_stat st;
	ck_assert_int_eq(mv_fs_stat(fs, "/etc/x/passwd-", MV_FS_NOFOLLOW, &st), 0);
	ck_assert_uint_eq(st.nlink, 1);

	/* A big file replaced by a small one: its blocks are freed (e2fsck
	 * counts them). A symlink replaced by a directory. */
	char *blob = malloc(2 * MiB);
	pseudo_random(blob, 2 * MiB, 3);
	ck_assert_int_eq(mv_fs_write_file(fs, "/blob", &m, blob, 2 * MiB), 0);
	ck_assert_int_eq(mv_fs_write_file(fs, "/blob", &m, "b", 1), 0);
	free(blob);
	struct mv_meta lm = meta(S_IFLNK | 0777, 0, 0, 1);
	ck_assert_int_eq(mv_fs_symlink(fs, "/thing", "nowhere", &lm), 0);
	struct mv_meta dm = meta(S_IFDIR | 0700, 0, 0, 1);
	ck_assert_int_eq(mv_fs_mkdir(fs, "/thing", &dm), 0);
	ck_assert_int_eq(mv_fs_write_file(fs, "/thing/inside", &m, "i", 1), 0);
	ck_assert_int_eq(mv_fs_unlink(fs, "/thing"), -ENOTEMPTY);
	ck_assert_int_eq(mv_fs_mkdir(fs, "/gone", &dm), 0);
	ck_assert_int_eq(mv_fs_mkdir(fs, "/gone/sub", &dm), 0);
	ck_assert_int_eq(mv_fs_unlink(fs, "/gone/sub"), 0);
	ck_assert_int_eq(mv_fs_unlink(fs, "/gone"), 0);
	ck_assert_int_eq(mv_fs_lookup(fs, "/gone", MV_FS_NOFOLLOW, &(mv_node){0}), -ENOENT);
	/* Names come back after removal, in the same directory. */
	ck_assert_int_eq(mv_fs_mkdir(fs, "/gone", &dm), 0);
	ck_assert_int_eq(mv_fs_write_file(fs, "/gone/again", &m, "a", 1), 0);
	img_finish(&im);

	const char *p = im.path;
	fsck_clean(p);
	dump_is(p, "/etc/x/passwd-", "old\n", 4);
	dump_is(p, "/etc/x/passwd", "new!\n", 5);
	stat_has(p, "/etc/x/passwd", "Links: 1");
	dump_is(p, "/blob", "b", 1);
	stat_has(p, "/thing", "Type: directory");
	dump_is(p, "/gone/again", "a", 1);
	stat_has(p, "/", "Links: 6"); /* 2, and lost+found, etc, thing, gone */
}
END_TEST

/* The path layer's chroot rules on ext4: a usr-merged /lib. */
START_TEST(test_paths)
{
	struct img im;
	img_new(&im, "paths.img", 64 * MiB);
	struct mv_fs *fs = im.fs;
	struct mv_meta dm = meta(S_IFDIR | 0755, 0, 0, 1), lm = meta(S_IFLNK | 0777, 0, 0, 1),
		       m = meta(S_IFREG | 0644, 0, 0, 1);
	ck_assert_int_eq(mv_fs_mkparents(fs, "/usr/lib/x", 1), 0);
	ck_assert_int_eq(mv_fs_symlink(fs, "/lib", "usr/lib", &lm), 0);
	ck_assert_int_eq(mv_fs_write_file(fs, "/lib/libc.so", &m, "elf", 3), 0);
	ck_assert_int_eq(mv_fs_symlink(fs, "/usr/lib/escape", "../../../..", &lm), 0);
	ck_assert_int_eq(mv_fs_write_file(fs, "/usr/lib/escape/etc/passwd", &m, "x", 1), -EXDEV);
	ck_assert_int_eq(mv_fs_mkdir(fs, "/lib", &dm), 0); /* keeps the symlink */
	struct mv_file *f;
	char buf[8] = {0};
	ck_assert_int_eq(mv_fs_open(fs, "/lib/libc.so", &f), 0);
	ck_assert_int_eq(fs->ops->read(f, 0, buf, sizeof(buf)), 3);
	ck_assert_int_eq(fs->ops->close(f, 0), 0);
	ck_assert_str_eq(buf, "elf");
	img_finish(&im);
	fsck_clean(im.path);
	dump_is(im.path, "/usr/lib/libc.so", "elf", 3);
	stat_has(im.path, "/lib", "Fast link dest: \"usr/lib\"");
}
END_TEST

/* Refusals name the reason. */
START_TEST(test_refusals)
{
	char err[512] = "";
	int fd = open("/dev/null", O_RDWR);
	struct mv_io io = {.fd = fd, .length = 4 * MiB, .sector_size = 512, .fresh = 1};
	struct mv_ext4_options o = options();
	ck_assert_ptr_null(mv_ext4_create(&io, &o, err, sizeof(err)));
	has(err, "too small", "a 4 MiB window");
	close(fd);

	struct img im;
	img_new(&im, "refuse.img", 16 * MiB);
	struct mv_fs *fs = im.fs;
	mv_node root = fs->ops->root(fs), out;
	struct mv_meta m = meta(S_IFREG | 0644, 0, 0, 1);
	struct mv_file *f, *g;
	char name[300];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_int_eq(fs->ops->create(fs, root, name, &m, &f), -ENAMETOOLONG);
	ck_assert_int_eq(fs->ops->create(fs, root, "one", &m, &f), 0);
	ck_assert_int_eq(fs->ops->create(fs, root, "two", &m, &g), -EBUSY);
	ck_assert_int_eq(mv_fs_finish(fs), -EBUSY);
	ck_assert_int_eq(fs->ops->close(f, 0), 0);
	ck_assert_int_eq(fs->ops->mkdir(fs, root, "one", &(struct mv_meta){.mode = S_IFDIR | 0755}, &out), -EEXIST);
	/* Filling the filesystem ends in -ENOSPC with a message, not a crash. */
	ck_assert_int_eq(fs->ops->create(fs, root, "huge", &m, &f), 0);
	static char chunk[1 << 20];
	int rc = 0;
	for (int i = 0; i < 64 && rc == 0; i++)
		rc = fs->ops->write(f, (uint64_t)i << 20, chunk, sizeof(chunk));
	ck_assert_int_eq(rc, -ENOSPC);
	has(fs->err, "no free blocks", "full");
	fs->ops->close(f, 0);
	mv_fs_destroy(fs);
	close(im.fd);
}
END_TEST

static Suite *ext4_suite(void)
{
	Suite *s = suite_create("ext4");
	TCase *tc = tcase_create("ext4");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_mke2fs_equivalent);
	tcase_add_test(tc, test_nodes);
	tcase_add_test(tc, test_read_back);
	tcase_add_test(tc, test_window);
	tcase_add_test(tc, test_deterministic);
	tcase_add_test(tc, test_reused);
	tcase_add_test(tc, test_big_directory);
	tcase_add_test(tc, test_many_subdirectories);
	tcase_add_test(tc, test_replace_and_unlink);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_refusals);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(ext4_suite)
