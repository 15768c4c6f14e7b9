/* Unpacking archives through the dir writer, judged against GNU tar
 * extracting the same archive; hostile archives are refused or contained
 * and nothing appears outside the target. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../bootstrap/unpack.h"
#include "../../images/dir.h"
#include "check_main.h"
#include "shell.h"

static char work[64];

static void setup(void)
{
	snprintf(work, sizeof(work), "/tmp/mv-unpack-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(work));
	mv_sh("mkdir -p %s/target %s/outside %s/src && echo keep > %s/outside/marker", work, work, work, work);
}

static void teardown(void)
{
	mv_sh("rm -rf %s", work);
}

static int unpack(const char *kind, char *err, size_t errlen, uint64_t capacity)
{
	mv_sh("python3 tests/fixtures/mktar.py %s %s/src/%s.tar", kind, work, kind);
	char target[128], archive[128];
	snprintf(target, sizeof(target), "%s/target", work);
	snprintf(archive, sizeof(archive), "%s/src/%s.tar", work, kind);
	struct mv_dir_options o = {.keep_owners = geteuid() == 0};
	struct mv_fs *fs = mv_dir_open(target, &o, err, errlen);
	ck_assert_msg(fs != NULL, "%s", err);
	struct mv_unpack_options uo = {.capacity = capacity, .parent_mtime = 1};
	int rc = mv_unpack_file(fs, archive, &uo, NULL, err, errlen);
	int frc = mv_fs_finish(fs);
	mv_fs_destroy(fs);
	return rc < 0 ? rc : frc;
}

/* Nothing but the target changed around it. */
static void assert_contained(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "cd %s && find . -path ./target -prune -o -path ./src -prune -o -print | sort | tr '\\n' ' '", work);
	FILE *p = popen(cmd, "r");
	char got[512] = "";
	ck_assert_ptr_nonnull(fgets(got, sizeof(got), p));
	pclose(p);
	ck_assert_str_eq(got, ". ./outside ./outside/marker ");
	mv_sh("grep -qx keep %s/outside/marker", work);
	mv_sh("test ! -e /tmp/escaped && test ! -e /OUTSIDE");
}

START_TEST(tree_matches_gnu_tar)
{
	char err[1024];
	ck_assert_msg(unpack("tree", err, sizeof(err), 0) == 0, "%s", err);
	mv_sh("mkdir %s/bytar && tar --xattrs --xattrs-include='*' %s -xpf %s/src/tree.tar -C %s/bytar",
	    work, geteuid() == 0 ? "--same-owner" : "--no-same-owner", work, work);
	mv_sh("test -d %s/bytar/usr", work);
	/* Type, mode, owner, size, mtime, link target: every path alike. */
	const char *list = "find . -mindepth 1 -printf '%%p %%y %%m %%U %%G %%s %%T@ %%l %%n\\n' | grep -v '^./dev/null' | sort";
	mv_sh("cd %s/target && %s > ../mine.txt && cd ../bytar && %s > ../tar.txt", work, list, list);
	mv_sh("diff -u %s/tar.txt %s/mine.txt >&2", work, work);
	mv_sh("diff -r --no-dereference --exclude=dev %s/bytar %s/target >&2", work, work);
	/* Through the usr-merge link, the last duplicate wins, xattrs kept. */
	mv_sh("test -f %s/target/usr/lib/libc.so.6 && test -L %s/target/lib", work, work);
	mv_sh("grep -qx second %s/target/etc/replaced", work);
	mv_sh("test \"$(getfattr --only-values -n user.comment %s/target/caps 2>/dev/null || python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], \"user.comment\").decode())' %s/target/caps)\" = hello",
	    work, work);
	mv_sh("test $(stat -c %%h %s/target/etc/epoch0) = 2", work);
}
END_TEST

START_TEST(dotdot_is_refused)
{
	char err[1024];
	ck_assert_int_lt(unpack("hostile-dotdot", err, sizeof(err), 0), 0);
	ck_assert_msg(strstr(err, "member ../escaped: contains a \"..\" component, refused"), "%s", err);
	assert_contained();
}
END_TEST

START_TEST(absolute_paths_land_inside)
{
	char err[1024];
	ck_assert_msg(unpack("hostile-abs", err, sizeof(err), 0) == 0, "%s", err);
	mv_sh("grep -qx contained %s/target/abs/file", work);
	assert_contained();
}
END_TEST

START_TEST(a_symlink_cannot_lead_out)
{
	char err[1024];
	ck_assert_int_lt(unpack("hostile-symlink-escape", err, sizeof(err), 0), 0);
	ck_assert_msg(strstr(err, "climbs above the root of the target"), "%s", err);
	assert_contained();
}
END_TEST

START_TEST(an_absolute_symlink_resolves_inside)
{
	char err[1024];
	ck_assert_msg(unpack("hostile-symlink-abs", err, sizeof(err), 0) == 0, "%s", err);
	mv_sh("grep -qx contained %s/target/OUTSIDE/passwd && test -L %s/target/etc", work, work);
	assert_contained();
}
END_TEST

START_TEST(hard_links_stay_inside)
{
	char err[1024];
	ck_assert_int_lt(unpack("hostile-hardlink-out", err, sizeof(err), 0), 0);
	ck_assert_msg(strstr(err, "contains a \"..\" component"), "%s", err);
	assert_contained();
	ck_assert_int_lt(unpack("hostile-hardlink-abs", err, sizeof(err), 0), 0);
	ck_assert_msg(strstr(err, "hard link to /etc/passwd, which is not in the target"), "%s", err);
	assert_contained();
}
END_TEST

START_TEST(a_5000_byte_name_is_refused)
{
	char err[1024];
	ck_assert_int_lt(unpack("hostile-longname", err, sizeof(err), 0), 0);
	ck_assert_msg(strstr(err, "name longer than") || strstr(err, "longer than 255"), "%s", err);
	assert_contained();
}
END_TEST

START_TEST(a_truncated_archive_names_where_it_stopped)
{
	char err[1024];
	ck_assert_int_lt(unpack("truncated", err, sizeof(err), 0), 0);
	ck_assert_msg(strstr(err, "truncated") || strstr(err, "member second"), "%s", err);
	assert_contained();
}
END_TEST

START_TEST(a_sparse_terabyte_is_refused_or_written_sparse)
{
	char err[1024];
	/* GNU tar writes the sparse map: 1 TiB apparent, 8 KiB of data. */
	mv_sh("cd %s && truncate -s 1T huge && printf data | dd of=huge bs=1 seek=4096 conv=notrunc status=none"
	    " && printf tail | dd of=huge bs=1 seek=$((1024*1024*1024*1024-4)) conv=notrunc status=none"
	    " && tar --sparse -cf src/sparse.tar huge && rm huge", work);
	char target[128], archive[128];
	snprintf(target, sizeof(target), "%s/target", work);
	snprintf(archive, sizeof(archive), "%s/src/sparse.tar", work);
	struct mv_dir_options o = {0};
	struct mv_fs *fs = mv_dir_open(target, &o, err, sizeof(err));
	struct mv_unpack_options small = {.capacity = 1024};
	ck_assert_int_lt(mv_unpack_file(fs, archive, &small, NULL, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "more than the 1024 bytes the target holds"), "%s", err);
	mv_sh("test ! -e %s/target/huge", work);
	struct mv_unpack_options roomy = {.capacity = 1 << 30};
	struct mv_unpack_stats st = {0};
	ck_assert_msg(mv_unpack_file(fs, archive, &roomy, &st, err, sizeof(err)) == 0, "%s", err);
	mv_fs_finish(fs);
	mv_fs_destroy(fs);
	mv_sh("test $(stat -c %%s %s/target/huge) = 1099511627776", work);
	mv_sh("test $(stat -c %%b %s/target/huge) -lt 1024", work); /* blocks: sparse */
	mv_sh("test \"$(dd if=%s/target/huge bs=1 skip=4096 count=4 status=none)\" = data", work);
	ck_assert_uint_lt(st.data_bytes, 65536);
}
END_TEST

static Suite *unpack_suite(void)
{
	Suite *s = suite_create("unpack");
	TCase *tc = tcase_create("dir");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, tree_matches_gnu_tar);
	tcase_add_test(tc, dotdot_is_refused);
	tcase_add_test(tc, absolute_paths_land_inside);
	tcase_add_test(tc, a_symlink_cannot_lead_out);
	tcase_add_test(tc, an_absolute_symlink_resolves_inside);
	tcase_add_test(tc, hard_links_stay_inside);
	tcase_add_test(tc, a_5000_byte_name_is_refused);
	tcase_add_test(tc, a_truncated_archive_names_where_it_stopped);
	tcase_add_test(tc, a_sparse_terabyte_is_refused_or_written_sparse);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(unpack_suite)
