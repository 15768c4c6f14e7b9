/* Block maps judged by bmaptool itself: it accepts ours, verifies every
 * range's checksum while copying, and rejects a tampered one. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../images/bmap.h"
#include "check_main.h"

static char dir[64];

static int sh(const char *fmt)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), fmt, dir, dir, dir, dir, dir, dir);
	return system(cmd);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mv-bmap-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* Data at 5000 (block 1), 3 blocks from 1 MiB, and the last byte. */
	ck_assert_int_eq(sh("cd %s && truncate -s 10M s.img && printf abc | dd of=s.img bs=1 seek=5000 conv=notrunc status=none"
			    " && head -c 12288 /dev/urandom | dd of=s.img bs=4096 seek=256 conv=notrunc status=none"
			    " && printf z | dd of=s.img bs=1 seek=10485759 conv=notrunc status=none"), 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/s.img", dir);
	int fd = open(path, O_RDONLY);
	snprintf(path, sizeof(path), "%s/s.bmap", dir);
	FILE *out = fopen(path, "w");
	char err[256] = "";
	ck_assert_msg(mv_bmap_write(fd, 10 << 20, out, err, sizeof(err)) == 0, "%s", err);
	fclose(out);
	close(fd);
}

static void teardown(void)
{
	sh("rm -rf %s");
}

START_TEST(bmaptool_copies_with_our_bmap)
{
	ck_assert_int_eq(sh("cd %s && bmaptool -q copy --bmap s.bmap s.img out.img && cmp s.img out.img"), 0);
}
END_TEST

START_TEST(same_ranges_as_bmaptool_create)
{
	ck_assert_int_eq(sh("cd %s && bmaptool -q create s.img -o theirs.bmap"
			    " && grep -o '> [0-9-]* </Range>' s.bmap > a && grep -o '> [0-9-]* </Range>' theirs.bmap > b && cmp a b"
			    " && grep -q '<MappedBlocksCount> 5 ' s.bmap"), 0);
}
END_TEST

START_TEST(a_tampered_bmap_is_rejected)
{
	ck_assert_int_ne(sh("cd %s && sed -i 's/<BlocksCount> 2560/<BlocksCount> 2561/' s.bmap && bmaptool -q copy --bmap s.bmap s.img out.img 2>/dev/null"), 0);
}
END_TEST

START_TEST(corrupt_data_fails_verification)
{
	ck_assert_int_ne(sh("cd %s && printf Q | dd of=s.img bs=1 seek=1048580 conv=notrunc status=none && bmaptool -q copy --bmap s.bmap s.img out.img 2>/dev/null"), 0);
}
END_TEST

static Suite *bmap_suite(void)
{
	Suite *s = suite_create("bmap");
	TCase *tc = tcase_create("bmaptool");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bmaptool_copies_with_our_bmap);
	tcase_add_test(tc, same_ranges_as_bmaptool_create);
	tcase_add_test(tc, a_tampered_bmap_is_rejected);
	tcase_add_test(tc, corrupt_data_fails_verification);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(bmap_suite)
