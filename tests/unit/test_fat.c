/* The FAT writer, judged by tools nobody here wrote: fsck.fat -n
 * (dosfstools), mdir/mtype/mcopy (mtools) and blkid -p (util-linux). */
#include "../../images/fat.h"
#include "../../images/fat_impl.h"
#include "check_main.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1024ull * 1024)
#define T0 1700000000ll /* 2023-11-14 22:13:20 UTC */

struct img {
	char path[64];
	int fd;
	struct mv_io io;
	struct mv_fs *fs;
	char err[512];
};

static void tools_env(void)
{
	/* mtools refuses odd geometry without it; UTF-8 names need a UTF-8 locale. */
	setenv("MTOOLS_SKIP_CHECK", "1", 1);
	setenv("LC_ALL", "C.UTF-8", 1);
}

static void fill(int fd, uint64_t off, uint64_t len, int byte)
{
	static uint8_t buf[65536];
	memset(buf, byte, sizeof(buf));
	while (len) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		ck_assert_int_eq(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
		off += n;
		len -= n;
	}
}

/* A temporary image file of total bytes with a window at offset. */
static void img_new(struct img *im, uint64_t total, uint64_t offset, uint64_t length, unsigned ss)
{
	memset(im, 0, sizeof(*im));
	snprintf(im->path, sizeof(im->path), "/tmp/test_fat.XXXXXX");
	im->fd = mkstemp(im->path);
	ck_assert_int_ge(im->fd, 0);
	ck_assert_int_eq(ftruncate(im->fd, (off_t)total), 0);
	im->io = (struct mv_io){ .fd = im->fd, .offset = offset, .length = length,
				 .sector_size = ss, .fresh = 1 };
}

static int img_fs(struct img *im, const char *label, int bits)
{
	struct mv_fat_options o = { .volume_id = 0x1234abcd, .label = label,
				    .timestamp = T0, .fat_bits = bits };
	im->fs = mv_fat_create(&im->io, &o, im->err, sizeof(im->err));
	return im->fs ? 0 : -1;
}

static void img_finish(struct img *im)
{
	int r = im->fs->ops->finish(im->fs);
	ck_assert_msg(r == 0, "finish: %d %s", r, im->fs->err);
	im->fs->ops->destroy(im->fs);
	im->fs = NULL;
}

static void img_free(struct img *im)
{
	if (im->fs)
		im->fs->ops->destroy(im->fs);
	close(im->fd);
	unlink(im->path);
}

/* Runs a shell command; returns its output (caller frees) and exit status. */
static char *run(int *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *run(int *status, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t cap = 4096, len = 0;
	char *out = malloc(cap);
	size_t n;
	while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2)
			out = realloc(out, cap *= 2);
	}
	out[len] = '\0';
	int st = pclose(p);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return out;
}

/* fsck.fat -n on a whole file: exit 0 and nothing but its summary. */
static void fsck_clean(const char *path)
{
	int st;
	char *out = run(&st, "fsck.fat -n %s 2>&1", path);
	ck_assert_msg(st == 0, "fsck.fat exit %d:\n%s", st, out);
	/* Clean output is the version line and "path: N files, N/N clusters". */
	int lines = 0;
	for (char *p = out; *p; p++)
		lines += *p == '\n';
	ck_assert_msg(lines == 2 && strstr(out, " files, "), "fsck.fat says:\n%s", out);
	free(out);
}

/* A copy of the window as its own file, for tools without an offset option. */
static void window_copy(struct img *im, char *path, size_t len)
{
	snprintf(path, len, "/tmp/test_fat_win.XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	static uint8_t buf[1 << 20];
	for (uint64_t at = 0; at < im->io.length; at += sizeof(buf)) {
		size_t n = im->io.length - at < sizeof(buf) ? (size_t)(im->io.length - at) : sizeof(buf);
		ck_assert_int_eq(pread(im->fd, buf, n, (off_t)(im->io.offset + at)), (ssize_t)n);
		ck_assert_int_eq(pwrite(fd, buf, n, (off_t)at), (ssize_t)n);
	}
	close(fd);
}

static struct mv_meta file_meta(int64_t t)
{
	return (struct mv_meta){ .mode = S_IFREG | 0644, .mtime = t, .atime = t, .ctime = t };
}

static struct mv_meta dir_meta(int64_t t)
{
	return (struct mv_meta){ .mode = S_IFDIR | 0755, .mtime = t, .atime = t, .ctime = t };
}

/* A whole file written in pieces of up to 7,000 bytes (not cluster sized). */
static mv_node put_file(struct mv_fs *fs, mv_node dir, const char *name, const void *data, size_t len)
{
	struct mv_meta m = file_meta(T0);
	struct mv_file *f;
	int r = fs->ops->create(fs, dir, name, &m, &f);
	ck_assert_msg(r == 0, "create %s: %d %s", name, r, fs->err);
	for (size_t at = 0; at < len; at += 7000) {
		size_t n = len - at < 7000 ? len - at : 7000;
		r = fs->ops->write(f, at, (const char *)data + at, n);
		ck_assert_msg(r == 0, "write %s: %d %s", name, r, fs->err);
	}
	ck_assert_int_eq(fs->ops->close(f, len), 0);
	mv_node n;
	ck_assert_int_eq(fs->ops->lookup(fs, dir, name, &n), 0);
	return n;
}

static mv_node put_dir(struct mv_fs *fs, mv_node dir, const char *name)
{
	struct mv_meta m = dir_meta(T0);
	mv_node n;
	int r = fs->ops->mkdir(fs, dir, name, &m, &n);
	ck_assert_msg(r == 0, "mkdir %s: %d %s", name, r, fs->err);
	return n;
}

static uint8_t *pattern(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len ? len : 1);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
	return p;
}

/* mcopy's view of a file equals data. */
static void mcopy_equals(const char *img, uint64_t offset, const char *path, const void *data, size_t len)
{
	char out[64];
	snprintf(out, sizeof(out), "/tmp/test_fat_out.XXXXXX");
	int fd = mkstemp(out);
	ck_assert_int_ge(fd, 0);
	close(fd);
	int st;
	char *msg = run(&st, "mcopy -n -o -i '%s@@%llu' '::%s' %s 2>&1", img,
			(unsigned long long)offset, path, out);
	ck_assert_msg(st == 0, "mcopy %s: %s", path, msg);
	free(msg);
	struct stat sb;
	ck_assert_int_eq(stat(out, &sb), 0);
	ck_assert_uint_eq((uint64_t)sb.st_size, len);
	uint8_t *got = malloc(len ? len : 1);
	fd = open(out, O_RDONLY);
	ck_assert_int_eq(read(fd, got, len), (ssize_t)len);
	close(fd);
	ck_assert_msg(memcmp(got, data, len) == 0, "%s: content differs", path);
	free(got);
	unlink(out);
}

static uint8_t boot_byte(struct img *im, unsigned off)
{
	uint8_t b;
	ck_assert_int_eq(pread(im->fd, &b, 1, (off_t)(im->io.offset + off)), 1);
	return b;
}

/* ---- Sizing ---- */

static const struct {
	uint64_t bytes;
	unsigned ss;
	int want;      /* options->fat_bits */
	unsigned bits, spc;
	const char *version;
} sizes[] = {
	{ 2 * MIB, 512, 0, 12, 4, "FAT12" },
	{ 16 * MIB, 512, 0, 16, 4, "FAT16" },
	{ 64 * MIB, 512, 0, 32, 1, "FAT32" }, /* mkfs.fat would make FAT16 */
	{ 300 * MIB, 512, 0, 32, 8, "FAT32" },
	{ 64 * MIB, 4096, 0, 16, 1, "FAT16" },
	{ 300 * MIB, 4096, 0, 32, 1, "FAT32" },
	{ 64 * MIB, 512, 16, 16, 4, "FAT16" },
	{ 64 * MIB, 512, 12, 12, 64, "FAT12" },
	{ 4 * MIB, 512, 16, 16, 1, "FAT16" },  /* clusters shrink to fit FAT16 */
};

/* FAT32 whenever 65,525 clusters fit; FAT12/16 below; each checks clean
 * and blkid names the type. */
START_TEST(t_type_by_size)
{
	struct img im;
	tools_env();
	img_new(&im, sizes[_i].bytes, 0, sizes[_i].bytes, sizes[_i].ss);
	ck_assert_msg(img_fs(&im, "SIZES", sizes[_i].want) == 0, "%s", im.err);
	put_file(im.fs, 0, "hello.txt", "hello\n", 6);
	img_finish(&im);
	ck_assert_uint_eq(boot_byte(&im, 11) | boot_byte(&im, 12) << 8, sizes[_i].ss);
	ck_assert_uint_eq(boot_byte(&im, 13), sizes[_i].spc);
	ck_assert_uint_eq(boot_byte(&im, 1), sizes[_i].bits == 32 ? 0x58 : 0x3c);
	fsck_clean(im.path);
	int st;
	char *out = run(&st, "blkid -p -o export %s", im.path);
	ck_assert_msg(strstr(out, "TYPE=vfat\n") && strstr(out, sizes[_i].version), "%s", out);
	free(out);
	/* mtools reads the 4 KiB-sector volumes too. */
	out = run(&st, "mtype -i %s ::/HELLO.TXT", im.path);
	ck_assert_int_eq(st, 0);
	ck_assert_str_eq(out, "hello\n");
	free(out);
	img_free(&im);
}
END_TEST

START_TEST(t_fat32_too_small)
{
	struct img im;
	img_new(&im, 32 * MIB, 0, 32 * MIB, 512);
	ck_assert_int_eq(img_fs(&im, NULL, 32), -1);
	ck_assert_msg(strstr(im.err, "FAT32 needs at least 65,525 clusters") &&
		      strstr(im.err, "34089472 bytes"), "%s", im.err);
	/* The minimum is exact: that size works with one-sector clusters. */
	ck_assert_uint_eq(fat_geom_min_fat32(512), 34089472);
	img_free(&im);
	img_new(&im, 34089472, 0, 34089472, 512);
	ck_assert_int_eq(img_fs(&im, NULL, 32), 0);
	img_finish(&im);
	ck_assert_uint_eq(boot_byte(&im, 13), 1);
	fsck_clean(im.path);
	img_free(&im);
	/* One byte less is FAT16 when the type is not forced. */
	img_new(&im, 34089472 - 512, 0, 34089472 - 512, 512);
	ck_assert_int_eq(img_fs(&im, NULL, 0), 0);
	img_finish(&im);
	ck_assert_uint_eq(boot_byte(&im, 54 + 3), '1');
	ck_assert_uint_eq(boot_byte(&im, 54 + 4), '6');
	img_free(&im);
}
END_TEST

/* ---- Names and contents ---- */

static const char *long_names[] = {
	"Long File Name 1.txt",
	"Long File Name 2.txt",
	"LONGFI~1.TXT",       /* an 8.3 name that a generated alias would have taken */
	"Mixed Case.Config",
	"readme.txt",         /* NT case bits, no long name */
	"README2.TXT",
	"Makefile",
	".hidden",
	"été à Zürich.txt",
	"日本語ファイル名.txt",
	"\xe5\xa4\xa7.txt",   /* "大": first byte 0xE5 in UTF-8 */
	"a+b,c;d=e.f.g",       /* characters an 8.3 name cannot hold, two dots */
};

/* mtools 4.0.32 shows a surrogate pair as "__": checked in the raw entries. */
static const char emoji[] = "emoji \xf0\x9f\x98\x80.bin";
/* Characters 6 to 11 of the name: bytes 14 to 25 of its long-name entry. */
static const char emoji16[] = " \0\x3d\xd8\x00\xde.\0b\0i\0";

static void check_names(const char *img, uint64_t off, const char *dir, const char **names, size_t n)
{
	int st;
	char *out = run(&st, "mdir -/ -b -i '%s@@%llu' '::%s' 2>&1", img, (unsigned long long)off, dir);
	ck_assert_msg(st == 0, "mdir: %s", out);
	for (size_t i = 0; i < n; i++) {
		char want[600];
		snprintf(want, sizeof(want), "::%s/%s\n", strcmp(dir, "/") ? dir : "", names[i]);
		ck_assert_msg(strstr(out, want), "mdir lacks %s in:\n%s", want, out);
	}
	free(out);
}

START_TEST(t_names)
{
	struct img im;
	tools_env();
	img_new(&im, 64 * MIB, 0, 64 * MIB, 512);
	ck_assert_int_eq(img_fs(&im, "EFI", 0), 0);
	size_t n = sizeof(long_names) / sizeof(*long_names);
	for (size_t i = 0; i < n; i++)
		put_file(im.fs, 0, long_names[i], long_names[i], strlen(long_names[i]));
	char n255[256];
	memset(n255, 'x', 255);
	memcpy(n255 + 251, ".txt", 5);
	put_file(im.fs, 0, n255, "255", 3);
	put_file(im.fs, 0, emoji, "", 0);
	mv_node sub = put_dir(im.fs, 0, "Sub Directory");
	for (int i = 0; i < 30; i++) {
		char name[64];
		snprintf(name, sizeof(name), "Long File Name %d.txt", i);
		put_file(im.fs, sub, name, name, strlen(name));
	}
	img_finish(&im);
	fsck_clean(im.path);

	check_names(im.path, 0, "/", long_names, n);
	const char *more[] = { n255 };
	check_names(im.path, 0, "/", more, 1);
	uint8_t root[65536];
	uint32_t data = (boot_byte(&im, 14) | boot_byte(&im, 15) << 8) +
			2 * (boot_byte(&im, 36) | boot_byte(&im, 37) << 8 | boot_byte(&im, 38) << 16);
	ck_assert_int_eq(pread(im.fd, root, sizeof(root), (off_t)data * 512), (ssize_t)sizeof(root));
	ck_assert_ptr_nonnull(memmem(root, sizeof(root), emoji16, sizeof(emoji16) - 1));
	for (size_t i = 0; i < n; i++) {
		char p[300];
		snprintf(p, sizeof(p), "/%s", long_names[i]);
		mcopy_equals(im.path, 0, p, long_names[i], strlen(long_names[i]));
	}
	/* The aliases: creation order gives ~1 and ~2, the literal
	 * LONGFI~1.TXT keeps its name, so the first long name moves to ~2. */
	int st;
	char *out = run(&st, "mdir -i %s ::/", im.path);
	ck_assert_msg(strstr(out, "LONGFI~2 TXT        20 2023-11-14  22:13  Long File Name 1.txt") &&
		      strstr(out, "LONGFI~3 TXT        20 2023-11-14  22:13  Long File Name 2.txt") &&
		      strstr(out, "LONGFI~1 TXT        12 2023-11-14  22:13 \n") &&
		      strstr(out, "readme   txt        10 2023-11-14  22:13 \n") &&
		      strstr(out, "MAKEFILE             8 2023-11-14  22:13  Makefile"),
		      "%s", out);
	free(out);
	out = run(&st, "mdir -i %s '::/Sub Directory'", im.path);
	ck_assert_msg(strstr(out, "LONGFI~1 TXT        20 2023-11-14  22:13  Long File Name 0.txt") &&
		      strstr(out, "LONGF~10 TXT        20 2023-11-14  22:13  Long File Name 9.txt") &&
		      strstr(out, "LONGF~11 TXT        21 2023-11-14  22:13  Long File Name 10.txt") &&
		      strstr(out, "       32 files") /* with . and .. */, "%s", out);
	free(out);
	img_free(&im);
}
END_TEST

static const size_t big_len = 3 * MIB + 4321;

/* Big, empty and gapped files, written and read back both through the
 * writer and through mtools. */
static void build_contents(struct img *im)
{
	struct mv_fs *fs = im->fs;
	uint8_t *big = pattern(big_len, 1);
	mv_node efi = put_dir(fs, 0, "EFI");
	mv_node boot = put_dir(fs, efi, "BOOT");
	put_file(fs, boot, "BOOTX64.EFI", big, big_len);
	put_file(fs, 0, "empty", "", 0);
	free(big);

	struct mv_meta m = file_meta(T0);
	struct mv_file *f;
	ck_assert_int_eq(fs->ops->create(fs, 0, "gap.bin", &m, &f), 0);
	ck_assert_int_eq(fs->ops->write(f, 0, "head", 4), 0);
	ck_assert_int_eq(fs->ops->write(f, 300000, "tail", 4), 0);
	ck_assert_int_eq(fs->ops->close(f, 400000), 0); /* ends in a gap too */
}

static void check_contents(const char *img, uint64_t off)
{
	uint8_t *big = pattern(big_len, 1);
	mcopy_equals(img, off, "/EFI/BOOT/BOOTX64.EFI", big, big_len);
	mcopy_equals(img, off, "/empty", "", 0);
	uint8_t *gap = calloc(1, 400000);
	memcpy(gap, "head", 4);
	memcpy(gap + 300000, "tail", 4);
	mcopy_equals(img, off, "/gap.bin", gap, 400000);
	free(gap);
	free(big);
}

START_TEST(t_contents)
{
	struct img im;
	tools_env();
	img_new(&im, 64 * MIB, 0, 64 * MIB, 512);
	ck_assert_int_eq(img_fs(&im, "ESP", 0), 0);
	build_contents(&im);

	/* Read back before finish, through the writer. */
	struct mv_fs *fs = im.fs;
	mv_node efi, boot, file;
	ck_assert_int_eq(fs->ops->lookup(fs, 0, "efi", &efi), 0); /* no case */
	ck_assert_int_eq(fs->ops->lookup(fs, efi, "boot", &boot), 0);
	ck_assert_int_eq(fs->ops->lookup(fs, boot, "bootx64.efi", &file), 0);
	struct mv_stat st;
	ck_assert_int_eq(fs->ops->getattr(fs, file, &st), 0);
	ck_assert_uint_eq(st.size, big_len);
	ck_assert_uint_eq(st.mode, S_IFREG | 0644);
	ck_assert_int_eq(st.mtime, T0); /* an even second survives FAT's 2 s steps */
	ck_assert_int_eq(fs->ops->getattr(fs, efi, &st), 0);
	ck_assert_uint_eq(st.mode, S_IFDIR | 0755);
	struct mv_file *f;
	ck_assert_int_eq(fs->ops->open(fs, file, &f), 0);
	uint8_t *want = pattern(big_len, 1), *got = malloc(big_len);
	size_t at = 0;
	for (ssize_t n; (n = fs->ops->read(f, at, got + at, 100000)) > 0;)
		at += (size_t)n;
	ck_assert_uint_eq(at, big_len);
	ck_assert(memcmp(want, got, big_len) == 0);
	ck_assert_int_eq(fs->ops->read(f, 12345, got, 10), 10); /* backwards */
	ck_assert(memcmp(want + 12345, got, 10) == 0);
	ck_assert_int_eq(fs->ops->close(f, 0), 0);
	free(want);
	free(got);

	img_finish(&im);
	fsck_clean(im.path);
	check_contents(im.path, 0);
	img_free(&im);
}
END_TEST

/* A window inside a bigger file: nothing outside it changes, and the tools
 * read the filesystem at that offset. */
START_TEST(t_window)
{
	struct img im;
	tools_env();
	uint64_t off = 3 * MIB, len = 40 * MIB, total = 48 * MIB;
	img_new(&im, total, off, len, 512);
	fill(im.fd, 0, off, 0xa5);
	fill(im.fd, off + len, total - off - len, 0xa5);
	ck_assert_int_eq(img_fs(&im, "WINDOW", 0), 0);
	build_contents(&im);
	img_finish(&im);

	static uint8_t buf[1 << 20], a5[1 << 20];
	memset(a5, 0xa5, sizeof(a5));
	for (uint64_t at = 0; at < total; at += sizeof(buf)) {
		if (at >= off && at < off + len)
			continue;
		ck_assert_int_eq(pread(im.fd, buf, sizeof(buf), (off_t)at), (ssize_t)sizeof(buf));
		ck_assert_msg(memcmp(buf, a5, sizeof(buf)) == 0,
			      "bytes outside the window changed near %llu", (unsigned long long)at);
	}
	ck_assert_uint_eq(boot_byte(&im, 28) | boot_byte(&im, 29) << 8, off / 512); /* hidden */
	check_contents(im.path, off);
	char win[64];
	window_copy(&im, win, sizeof(win));
	fsck_clean(win);
	unlink(win);
	int st;
	char *out = run(&st, "blkid -p -o export -O %llu %s", (unsigned long long)off, im.path);
	ck_assert_msg(strstr(out, "LABEL=WINDOW\n") && strstr(out, "UUID=1234-ABCD\n"), "%s", out);
	free(out);
	img_free(&im);
}
END_TEST

/* A reused target full of 0xA5: every byte the filesystem relies on is
 * written, so it checks clean and gaps read as zeros. */
static void reused(uint64_t size, unsigned ss)
{
	struct img im;
	tools_env();
	img_new(&im, size, 0, size, ss);
	fill(im.fd, 0, size, 0xa5);
	im.io.fresh = 0;
	ck_assert_int_eq(img_fs(&im, "REUSED", 0), 0);
	/* A removed file leaves written clusters that a later file reuses. */
	uint8_t *junk = pattern(200000, 9);
	put_file(im.fs, 0, "junk", junk, 200000);
	free(junk);
	ck_assert_int_eq(im.fs->ops->unlink(im.fs, 0, "JUNK"), 0);
	build_contents(&im);
	img_finish(&im);
	fsck_clean(im.path);
	check_contents(im.path, 0);
	img_free(&im);
}

START_TEST(t_reused_fat32)
{
	reused(40 * MIB, 512);
}
END_TEST

START_TEST(t_reused_fat16)
{
	reused(16 * MIB, 512);
}
END_TEST

/* The same calls give the same bytes. */
START_TEST(t_deterministic)
{
	struct img a, b;
	tools_env();
	img_new(&a, 40 * MIB, 0, 40 * MIB, 512);
	img_new(&b, 40 * MIB, 0, 40 * MIB, 512);
	ck_assert_int_eq(img_fs(&a, "SAME", 0), 0);
	ck_assert_int_eq(img_fs(&b, "SAME", 0), 0);
	build_contents(&a);
	build_contents(&b);
	size_t n = sizeof(long_names) / sizeof(*long_names);
	for (size_t i = 0; i < n; i++) {
		put_file(a.fs, 0, long_names[i], "x", 1);
		put_file(b.fs, 0, long_names[i], "x", 1);
	}
	img_finish(&a);
	img_finish(&b);
	int st;
	char *sa = run(&st, "sha256sum < %s", a.path), *sb = run(&st, "sha256sum < %s", b.path);
	ck_assert_str_eq(sa, sb);
	free(sa);
	free(sb);
	img_free(&a);
	img_free(&b);
}
END_TEST

/* blkid's view: type, volume id as XXXX-XXXX, label from both places. */
START_TEST(t_blkid)
{
	struct img im;
	img_new(&im, 64 * MIB, 0, 64 * MIB, 512);
	ck_assert_int_eq(img_fs(&im, "ESP", 0), 0);
	img_finish(&im);
	int st;
	char *out = run(&st, "blkid -p -o export %s", im.path);
	ck_assert_msg(strstr(out, "TYPE=vfat\n") && strstr(out, "UUID=1234-ABCD\n") &&
		      strstr(out, "LABEL=ESP\n") && strstr(out, "LABEL_FATBOOT=ESP\n") &&
		      strstr(out, "VERSION=FAT32\n") && !strstr(out, "SEC_TYPE"), "%s", out);
	free(out);
	img_free(&im);

	img_new(&im, 16 * MIB, 0, 16 * MIB, 512);
	ck_assert_int_eq(img_fs(&im, "bootfs", 0), 0);
	img_finish(&im);
	out = run(&st, "blkid -p -o export %s", im.path);
	ck_assert_msg(strstr(out, "TYPE=vfat\n") && strstr(out, "SEC_TYPE=msdos\n") &&
		      strstr(out, "LABEL=bootfs\n") && strstr(out, "VERSION=FAT16\n"), "%s", out);
	free(out);
	fsck_clean(im.path);
	img_free(&im);
}
END_TEST

/* The boot-sector fields UEFI and fsck.fat judge, read back raw. */
START_TEST(t_boot_sector)
{
	struct img im;
	img_new(&im, 64 * MIB, 0, 64 * MIB, 512);
	ck_assert_int_eq(img_fs(&im, "ESP", 0), 0);
	put_file(im.fs, 0, "a", "a", 1);
	img_finish(&im);
	uint8_t bs[512], backup[512], info[512];
	ck_assert_int_eq(pread(im.fd, bs, 512, 0), 512);
	ck_assert_int_eq(pread(im.fd, info, 512, 512), 512);
	ck_assert_int_eq(pread(im.fd, backup, 512, 6 * 512), 512);
	ck_assert(memcmp(bs, backup, 512) == 0);
	ck_assert(bs[0] == 0xeb && bs[1] == 0x58 && bs[2] == 0x90);
	ck_assert(bs[510] == 0x55 && bs[511] == 0xaa);
	ck_assert_uint_eq(bs[16], 2);              /* two FATs */
	ck_assert_uint_eq(bs[21], 0xf8);           /* media */
	ck_assert_uint_eq(bs[40] | bs[41] << 8, 0); /* mirrored */
	ck_assert_uint_eq(bs[42] | bs[43] << 8, 0); /* FsVersion */
	ck_assert(memcmp(bs + 71, "ESP        ", 11) == 0);
	uint32_t sig = info[0] | info[1] << 8 | info[2] << 16 | (uint32_t)info[3] << 24;
	ck_assert_uint_eq(sig, 0x41615252);
	uint32_t free_ = info[488] | info[489] << 8 | info[490] << 16 | (uint32_t)info[491] << 24;
	uint32_t next = info[492] | info[493] << 8 | info[494] << 16 | (uint32_t)info[495] << 24;
	int st;
	char *out = run(&st, "fsck.fat -n %s", im.path);
	unsigned used, total;
	char *summary = strstr(out, "files, ");
	ck_assert_ptr_nonnull(summary);
	ck_assert_int_eq(sscanf(summary, "files, %u/%u clusters", &used, &total), 2);
	ck_assert_uint_eq(free_, total - used);
	ck_assert_uint_eq(next, 4); /* root at 2, "a" at 3 */
	free(out);
	img_free(&im);

	img_new(&im, 2 * MIB, 0, 2 * MIB, 512);
	ck_assert_int_eq(img_fs(&im, NULL, 0), 0);
	img_finish(&im);
	ck_assert(boot_byte(&im, 0) == 0xeb && boot_byte(&im, 1) == 0x3c);
	ck_assert_uint_eq(boot_byte(&im, 17) | boot_byte(&im, 18) << 8, 512);
	fsck_clean(im.path);
	img_free(&im);
}
END_TEST

/* The judges can fail: damage one byte our writer got right and fsck.fat
 * and mtools notice. */
START_TEST(t_judges_notice)
{
	struct img im;
	tools_env();
	img_new(&im, 64 * MIB, 0, 64 * MIB, 512);
	ck_assert_int_eq(img_fs(&im, "ESP", 0), 0);
	put_file(im.fs, 0, "Long File Name.txt", "x", 1);
	img_finish(&im);
	fsck_clean(im.path);

	uint8_t b = 0x10; /* FSInfo's free count */
	ck_assert_int_eq(pwrite(im.fd, &b, 1, 512 + 488), 1);
	int st;
	char *out = run(&st, "fsck.fat -n %s 2>&1", im.path);
	ck_assert_msg(st != 0 && strstr(out, "Free cluster summary wrong"), "%s", out);
	free(out);

	/* A wrong long-name checksum: mtools falls back to the alias. */
	uint32_t data = (boot_byte(&im, 14) | boot_byte(&im, 15) << 8) +
			2 * (boot_byte(&im, 36) | boot_byte(&im, 37) << 8 | boot_byte(&im, 38) << 16);
	off_t lfn = (off_t)data * 512 + 32; /* after the label */
	ck_assert_int_eq(pread(im.fd, &b, 1, lfn + 11), 1);
	ck_assert_uint_eq(b, 0x0f);
	ck_assert_int_eq(pread(im.fd, &b, 1, lfn + 13), 1);
	b ^= 1;
	ck_assert_int_eq(pwrite(im.fd, &b, 1, lfn + 13), 1);
	out = run(&st, "mdir -b -i %s ::/", im.path);
	ck_assert_msg(!strstr(out, "Long File Name.txt"), "%s", out);
	free(out);
	img_free(&im);
}
END_TEST

/* What FAT cannot store is refused with a message naming it. */
START_TEST(t_refusals)
{
	struct img im;
	img_new(&im, 40 * MIB, 0, 40 * MIB, 512);
	ck_assert_int_eq(img_fs(&im, NULL, 0), 0);
	struct mv_fs *fs = im.fs;
	mv_node d = put_dir(fs, 0, "dir");
	struct mv_meta m = file_meta(T0);

	ck_assert_int_eq(fs->ops->symlink(fs, d, "link", "target", &m), -EPERM);
	ck_assert_str_eq(fs->err, "FAT cannot store symlinks: /dir/link");
	m.mode = S_IFCHR | 0600;
	ck_assert_int_eq(fs->ops->mknod(fs, d, "null", &m), -EPERM);
	ck_assert_str_eq(fs->err, "FAT cannot store device nodes: /dir/null");
	mv_node a = put_file(fs, d, "a", "a", 1);
	ck_assert_int_eq(fs->ops->link(fs, 0, "b", a), -ENOTSUP);
	char buf[16];
	ck_assert_int_eq(fs->ops->readlink(fs, a, buf, sizeof(buf)), -EINVAL);

	struct mv_file *f;
	m = file_meta(T0);
	ck_assert_int_eq(fs->ops->create(fs, d, "A", &m, &f), -EEXIST);
	ck_assert_int_eq(fs->ops->create(fs, d, "bad?", &m, &f), -EINVAL);
	ck_assert_msg(strstr(fs->err, "FAT cannot store /dir/bad?: the name contains"), "%s", fs->err);
	ck_assert_int_eq(fs->ops->create(fs, d, "dot.", &m, &f), -EINVAL);
	ck_assert_int_eq(fs->ops->create(fs, d, "\xff", &m, &f), -EILSEQ);
	char n256[257];
	memset(n256, 'y', 256);
	n256[256] = '\0';
	ck_assert_int_eq(fs->ops->create(fs, d, n256, &m, &f), -ENAMETOOLONG);

	ck_assert_int_eq(fs->ops->create(fs, d, "huge", &m, &f), 0);
	ck_assert_int_eq(fs->ops->write(f, 0xffffffffull, "xy", 2), -EFBIG);
	ck_assert_msg(strstr(fs->err, "/dir/huge") && strstr(fs->err, "4 GiB"), "%s", fs->err);
	struct mv_file *g;
	ck_assert_int_eq(fs->ops->create(fs, d, "second", &m, &g), -EBUSY);
	ck_assert_int_eq(fs->ops->close(f, 1ull << 32), -EFBIG);
	ck_assert_int_eq(fs->ops->unlink(fs, 0, "dir"), -ENOTEMPTY);
	ck_assert_int_eq(fs->ops->unlink(fs, d, "huge"), 0);
	ck_assert_int_eq(fs->ops->unlink(fs, d, "a"), 0);
	ck_assert_int_eq(fs->ops->unlink(fs, 0, "dir"), 0);
	ck_assert_int_eq(fs->ops->lookup(fs, 0, "dir", &a), -ENOENT);
	img_finish(&im);
	fsck_clean(im.path);
	img_free(&im);

	/* FAT12/16's fixed root holds 512 entries, the label takes one. */
	img_new(&im, 2 * MIB, 0, 2 * MIB, 512);
	ck_assert_int_eq(img_fs(&im, "FULL", 0), 0);
	for (int i = 0; i < 511; i++) {
		char name[16];
		snprintf(name, sizeof(name), "F%d", i);
		put_file(im.fs, 0, name, "", 0);
	}
	ck_assert_int_eq(im.fs->ops->create(im.fs, 0, "ONEMORE", &m, &f), -ENOSPC);
	img_finish(&im);
	fsck_clean(im.path);
	img_free(&im);
}
END_TEST

/* Removing frees clusters and entries; a new file of the same name reuses
 * them; a full filesystem says so and still finishes clean. */
START_TEST(t_unlink_recreate)
{
	struct img im;
	tools_env();
	img_new(&im, 2 * MIB, 0, 2 * MIB, 512);
	ck_assert_int_eq(img_fs(&im, "RECREATE", 0), 0);
	struct mv_fs *fs = im.fs;
	mv_node d = put_dir(fs, 0, "Some Directory");
	uint8_t *one = pattern(500000, 2), *two = pattern(300000, 3);
	put_file(fs, d, "Kernel Image", one, 500000);
	ck_assert_int_eq(fs->ops->unlink(fs, d, "kernel image"), 0);
	put_file(fs, d, "Kernel Image", two, 300000);
	put_file(fs, 0, "other", one, 500000);

	/* Fill it up: the error names the file and the filesystem stays whole. */
	struct mv_meta m = file_meta(T0);
	struct mv_file *f;
	ck_assert_int_eq(fs->ops->create(fs, 0, "filler", &m, &f), 0);
	int r = 0;
	for (uint64_t at = 0; r == 0 && at < 4 * MIB; at += 65536)
		r = fs->ops->write(f, at, one, 65536);
	ck_assert_int_eq(r, -ENOSPC);
	ck_assert_msg(strstr(fs->err, "/filler: the FAT filesystem is full"), "%s", fs->err);
	ck_assert_int_eq(fs->ops->close(f, 0), -EINVAL);
	mv_node filler;
	struct mv_stat st;
	ck_assert_int_eq(fs->ops->lookup(fs, 0, "filler", &filler), 0);
	ck_assert_int_eq(fs->ops->getattr(fs, filler, &st), 0);
	ck_assert_uint_gt(st.size, 0); /* what reached the disk, whole clusters */
	ck_assert_uint_eq(st.size % 2048, 0);
	img_finish(&im);
	fsck_clean(im.path);
	mcopy_equals(im.path, 0, "/Some Directory/Kernel Image", two, 300000);
	mcopy_equals(im.path, 0, "/other", one, 500000);
	free(one);
	free(two);
	img_free(&im);
}
END_TEST

static int collect(void *ctx, const char *name, mv_node n)
{
	(void)n;
	strcat(ctx, name);
	strcat(ctx, ",");
	return 0;
}

/* readdir lists creation order; setattr changes times. */
START_TEST(t_readdir_setattr)
{
	struct img im;
	img_new(&im, 2 * MIB, 0, 2 * MIB, 512);
	ck_assert_int_eq(img_fs(&im, NULL, 0), 0);
	struct mv_fs *fs = im.fs;
	mv_node a = put_file(fs, 0, "zeta", "", 0);
	put_dir(fs, 0, "Alpha");
	put_file(fs, 0, "mid", "", 0);
	char seen[64] = "";
	ck_assert_int_eq(fs->ops->readdir(fs, 0, collect, seen), 0);
	ck_assert_str_eq(seen, "zeta,Alpha,mid,");
	struct mv_meta m = file_meta(1);  /* before 1980: clamped */
	ck_assert_int_eq(fs->ops->setattr(fs, a, &m), 0);
	struct mv_stat st;
	ck_assert_int_eq(fs->ops->getattr(fs, a, &st), 0);
	ck_assert_int_eq(st.mtime, 315532800);
	m = file_meta(T0 + 3); /* odd seconds round down */
	ck_assert_int_eq(fs->ops->setattr(fs, a, &m), 0);
	ck_assert_int_eq(fs->ops->getattr(fs, a, &st), 0);
	ck_assert_int_eq(st.mtime, T0 + 2);
	img_finish(&im);
	fsck_clean(im.path);
	img_free(&im);
}
END_TEST

/* Through the shared path layer (images/fs.c): parents, replacement,
 * hard links as copies, symlinks refused, names found without case. */
START_TEST(t_path_layer)
{
	struct img im;
	tools_env();
	img_new(&im, 64 * MIB, 0, 64 * MIB, 512);
	ck_assert_int_eq(img_fs(&im, "ESP", 0), 0);
	struct mv_fs *fs = im.fs;
	struct mv_meta m = file_meta(T0);
	ck_assert_int_eq(mv_fs_mkparents(fs, "/EFI/BOOT/BOOTX64.EFI", T0), 0);
	ck_assert_int_eq(mv_fs_write_file(fs, "/EFI/BOOT/BOOTX64.EFI", &m, "old", 3), 0);
	ck_assert_int_eq(mv_fs_write_file(fs, "/efi/boot/bootx64.efi", &m, "new!", 4), 0);
	ck_assert_int_eq(mv_fs_link(fs, "/EFI/BOOT/copy.efi", "/EFI/BOOT/BOOTX64.EFI"), 0);
	ck_assert_int_eq(mv_fs_symlink(fs, "/vmlinuz", "boot/vmlinuz", &m), -EPERM);
	ck_assert_str_eq(fs->err, "FAT cannot store symlinks: /vmlinuz");
	struct mv_meta dm = dir_meta(T0 + 100);
	ck_assert_int_eq(mv_fs_mkdir(fs, "/efi", &dm), 0); /* the existing EFI */
	struct mv_stat st;
	ck_assert_int_eq(mv_fs_stat(fs, "/EFI", MV_FS_FOLLOW, &st), 0);
	ck_assert_int_eq(st.mtime, T0 + 100);
	ck_assert_int_eq(mv_fs_stat(fs, "/EFI/BOOT/COPY.EFI", MV_FS_FOLLOW, &st), 0);
	ck_assert_uint_eq(st.size, 4);
	struct mv_file *f;
	char buf[8] = "";
	ck_assert_int_eq(mv_fs_open(fs, "EFI/BOOT/copy.efi", &f), 0);
	ck_assert_int_eq(fs->ops->read(f, 0, buf, sizeof(buf)), 4);
	ck_assert_int_eq(fs->ops->close(f, 0), 0);
	ck_assert_str_eq(buf, "new!");
	ck_assert_int_eq(mv_fs_finish(fs), 0);
	mv_fs_destroy(fs);
	im.fs = NULL;
	fsck_clean(im.path);
	mcopy_equals(im.path, 0, "/EFI/BOOT/BOOTX64.EFI", "new!", 4);
	mcopy_equals(im.path, 0, "/EFI/BOOT/copy.efi", "new!", 4);
	img_free(&im);
}
END_TEST

/* One case per test, so that CK_RUN_CASE=t_names runs one. */
#define ADD(s, fn)                                                       \
	do {                                                             \
		TCase *tc = tcase_create(#fn);                           \
		tcase_set_timeout(tc, 30);                               \
		tcase_add_test(tc, fn);                                  \
		suite_add_tcase(s, tc);                                  \
	} while (0)

static Suite *fat_suite(void)
{
	Suite *s = suite_create("fat");
	TCase *tc = tcase_create("t_type_by_size");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, t_type_by_size, 0, (int)(sizeof(sizes) / sizeof(*sizes)));
	suite_add_tcase(s, tc);
	ADD(s, t_fat32_too_small);
	ADD(s, t_names);
	ADD(s, t_contents);
	ADD(s, t_window);
	ADD(s, t_reused_fat32);
	ADD(s, t_reused_fat16);
	ADD(s, t_deterministic);
	ADD(s, t_blkid);
	ADD(s, t_boot_sector);
	ADD(s, t_judges_notice);
	ADD(s, t_refusals);
	ADD(s, t_unlink_recreate);
	ADD(s, t_readdir_setattr);
	ADD(s, t_path_layer);
	return s;
}

MV_CHECK_MAIN(fat_suite)
