/* The flash engine onto plain files standing in for devices (the loop
 * device tests are tests/integration/flash.sh): only mapped ranges are
 * written, compressed streams are read whole, a byte changed between
 * writing and verifying is caught, a small device is refused, a block map
 * that does not belong to the image is refused. Block maps made by
 * `bmaptool create` are read too; a moved backup GPT is judged by sfdisk. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../images/bmap.h"
#include "../../images/flash.h"
#include "../../images/gpt_move.h"
#include "check_main.h"
#include "shell.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mv-flash-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* 8 MiB with data at 5000, 3 random blocks from 1 MiB and the last byte;
	 * the "device" is 8 MiB of 0xA5. */
	mv_sh("cd %s && truncate -s 8M s.img && printf abc | dd of=s.img bs=1 seek=5000 conv=notrunc status=none"
	      " && head -c 12288 /dev/urandom | dd of=s.img bs=4096 seek=256 conv=notrunc status=none"
	      " && printf z | dd of=s.img bs=1 seek=8388607 conv=notrunc status=none"
	      " && head -c 8M /dev/zero | tr '\\0' '\\245' > dev && bmaptool -q create s.img -o s.img.bmap", dir);
}

static void teardown(void)
{
	mv_sh("rm -rf %s", dir);
}

static int run(const char *image, const char *bmap, uint64_t dev_size, int64_t corrupt, struct mv_flash_dest *d,
	       char *err, size_t errlen)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/dev", dir);
	memset(d, 0, sizeof(*d));
	d->fd = open(path, O_RDWR);
	ck_assert_int_ge(d->fd, 0);
	d->name = "dev";
	d->size = dev_size;
	d->sector_size = 512;
	char img[128], map[128];
	snprintf(img, sizeof(img), "%s/%s", dir, image);
	snprintf(map, sizeof(map), "%s/%s", dir, bmap ? bmap : "");
	struct mv_flash_options o = {.verify = 1, .bmap = bmap ? map : NULL, .corrupt_at = corrupt};
	struct mv_flash_stats st;
	int rc = mv_flash(img, d, 1, &o, &st, err, errlen);
	close(d->fd);
	return rc;
}

/* Mapped blocks equal the image's, the rest still 0xA5. */
static void check_written(void)
{
	mv_sh("cd %s && cmp -i 4096 -n 4096 s.img dev && cmp -i 1048576 -n 12288 s.img dev && cmp -i 8384512 s.img dev"
	      " && head -c 4096 dev | tr -d '\\245' | wc -c | grep -qx 0"
	      " && dd if=dev bs=4096 skip=2 count=254 status=none | tr -d '\\245' | wc -c | grep -qx 0", dir);
}

START_TEST(raw_data_ranges)
{
	struct mv_flash_dest d;
	char err[512] = "";
	ck_assert_msg(run("s.img", NULL, 8 << 20, -1, &d, err, sizeof(err)) == 0, "%s %s", err, d.err);
	check_written();
}
END_TEST

START_TEST(raw_with_bmaptools_bmap)
{
	struct mv_flash_dest d;
	char err[512] = "";
	ck_assert_msg(run("s.img", "s.img.bmap", 8 << 20, -1, &d, err, sizeof(err)) == 0, "%s %s", err, d.err);
	check_written();
}
END_TEST

START_TEST(xz_stream_with_bmap)
{
	mv_sh("cd %s && xz -k s.img", dir);
	struct mv_flash_dest d;
	char err[512] = "";
	ck_assert_msg(run("s.img.xz", "s.img.bmap", 8 << 20, -1, &d, err, sizeof(err)) == 0, "%s %s", err, d.err);
	check_written();
}
END_TEST

START_TEST(gz_stream_without_bmap_writes_everything)
{
	mv_sh("cd %s && gzip -k s.img", dir);
	struct mv_flash_dest d;
	char err[512] = "";
	ck_assert_msg(run("s.img.gz", NULL, 8 << 20, -1, &d, err, sizeof(err)) == 0, "%s %s", err, d.err);
	mv_sh("cd %s && cmp s.img dev", dir);
}
END_TEST

START_TEST(a_changed_byte_fails_verification)
{
	struct mv_flash_dest d;
	char err[512] = "";
	ck_assert_int_eq(run("s.img", NULL, 8 << 20, 1048576 + 7, &d, err, sizeof(err)), 1);
	ck_assert_msg(strstr(d.err, "verification failed: bytes 1048576-1060863"), "%s", d.err);
}
END_TEST

START_TEST(a_small_device_is_refused_untouched)
{
	struct mv_flash_dest d;
	char err[512] = "";
	ck_assert_int_eq(run("s.img", NULL, 4 << 20, -1, &d, err, sizeof(err)), 1);
	ck_assert_msg(strstr(d.err, "too small"), "%s", d.err);
	mv_sh("cd %s && test \"$(tr -d '\\245' < dev | wc -c)\" = 0", dir);
}
END_TEST

START_TEST(an_image_that_is_not_the_maps_is_refused)
{
	mv_sh("cd %s && printf Q | dd of=s.img bs=1 seek=1048580 conv=notrunc status=none", dir);
	struct mv_flash_dest d;
	char err[512] = "";
	ck_assert_int_eq(run("s.img", "s.img.bmap", 8 << 20, -1, &d, err, sizeof(err)), 1);
	ck_assert_msg(strstr(d.err, "does not match its block map at bytes 1048576-1060863"), "%s", d.err);
}
END_TEST

START_TEST(a_damaged_bmap_is_refused)
{
	mv_sh("cd %s && sed -i 's/<MappedBlocksCount> 5/<MappedBlocksCount> 6/' s.img.bmap", dir);
	struct mv_bmap b;
	char err[512] = "", path[128];
	snprintf(path, sizeof(path), "%s/s.img.bmap", dir);
	ck_assert_int_eq(mv_bmap_read(path, &b, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "BmapFileChecksum does not match"), "%s", err);
}
END_TEST

START_TEST(our_bmap_reads_back)
{
	char path[128], err[256] = "";
	snprintf(path, sizeof(path), "%s/s.img", dir);
	int fd = open(path, O_RDONLY);
	snprintf(path, sizeof(path), "%s/ours.bmap", dir);
	FILE *out = fopen(path, "w");
	ck_assert_int_eq(mv_bmap_write(fd, 8 << 20, out, err, sizeof(err)), 0);
	fclose(out);
	close(fd);
	struct mv_bmap b;
	ck_assert_msg(mv_bmap_read(path, &b, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(b.n, 3);
	ck_assert_int_eq(b.mapped, 5);
	ck_assert_int_eq(b.ranges[1].first, 256);
	ck_assert_int_eq(b.ranges[1].last, 258);
	mv_bmap_free(&b);
}
END_TEST

START_TEST(backup_gpt_moves_to_the_end)
{
	mv_sh("cd %s && truncate -s 16M g.img && printf 'label: gpt\\nstart=2048, size=8192\\n' | sfdisk -q g.img >/dev/null"
	      " && truncate -s 32M g.img", dir);
	char path[128], err[256] = "";
	snprintf(path, sizeof(path), "%s/g.img", dir);
	int fd = open(path, O_RDWR);
	ck_assert_int_eq(mv_gpt_move_backup(fd, 32 << 20, 512, err, sizeof(err)), 1);
	ck_assert_int_eq(mv_gpt_move_backup(fd, 32 << 20, 512, err, sizeof(err)), 0);
	close(fd);
	mv_sh("cd %s && sfdisk --verify g.img 2>&1 | grep -q 'No errors detected' && ! sfdisk --verify g.img 2>&1 | grep -qi 'not on the end'"
	      " && sfdisk -d g.img | grep -q '^last-lba: 65502$' && sfdisk -d g.img | grep -q 'start= *2048, size= *8192'", dir);
}
END_TEST

static Suite *flash_suite(void)
{
	Suite *s = suite_create("flash");
	TCase *tc = tcase_create("flash");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, raw_data_ranges);
	tcase_add_test(tc, raw_with_bmaptools_bmap);
	tcase_add_test(tc, xz_stream_with_bmap);
	tcase_add_test(tc, gz_stream_without_bmap_writes_everything);
	tcase_add_test(tc, a_changed_byte_fails_verification);
	tcase_add_test(tc, a_small_device_is_refused_untouched);
	tcase_add_test(tc, an_image_that_is_not_the_maps_is_refused);
	tcase_add_test(tc, a_damaged_bmap_is_refused);
	tcase_add_test(tc, our_bmap_reads_back);
	tcase_add_test(tc, backup_gpt_moves_to_the_end);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(flash_suite)
