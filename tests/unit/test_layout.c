/* Layout arithmetic: alignment, Grow, table limits, disks too small. */
#include <check.h>
#include <string.h>

#include "../../partition/layout.h"
#include "check_main.h"

#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

static struct mv_layout_part parts[8];

static struct mv_layout make(enum mv_table t, uint64_t disk, size_t n)
{
	struct mv_layout l = {.table = t, .sector_size = 512, .align = MiB, .disk_size = disk, .n = n, .parts = parts};
	return l;
}

static void part(size_t i, enum mv_lsize kind, uint64_t size)
{
	memset(&parts[i], 0, sizeof(parts[i]));
	parts[i].name = i == 0 ? "esp" : i == 1 ? "root" : "extra";
	parts[i].kind = kind;
	parts[i].size = size;
}

START_TEST(gpt_aligns_and_grows_to_the_backup_table)
{
	char err[256] = "";
	part(0, MV_LSIZE_FIXED, 512 * MiB);
	part(1, MV_LSIZE_GROW, 0);
	struct mv_layout l = make(MV_TABLE_GPT, 4 * GiB, 2);
	ck_assert_msg(mv_layout_compute(&l, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(l.first_usable, 34 * 512);
	ck_assert_uint_eq(l.last_usable_end, 4 * GiB - 33 * 512);
	ck_assert_uint_eq(parts[0].start, MiB);
	ck_assert_uint_eq(parts[0].length, 512 * MiB);
	ck_assert_uint_eq(parts[1].start, 513 * MiB);
	/* The rest, whole MiBs only: the backup GPT costs the last MiB. */
	ck_assert_uint_eq(parts[1].length, 4 * GiB - 513 * MiB - MiB);
	ck_assert_uint_le(parts[1].start + parts[1].length, l.last_usable_end);
}
END_TEST

START_TEST(mbr_grows_to_the_end)
{
	char err[256] = "";
	part(0, MV_LSIZE_FIXED, 512 * MiB);
	part(1, MV_LSIZE_GROW, 0);
	struct mv_layout l = make(MV_TABLE_MBR, 4 * GiB, 2);
	ck_assert_msg(mv_layout_compute(&l, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(parts[1].start + parts[1].length, 4 * GiB);
}
END_TEST

START_TEST(unaligned_sizes_push_the_next_start_to_alignment)
{
	char err[256] = "";
	part(0, MV_LSIZE_FIXED, 512 * 1024); /* 512 KiB, like freebsd-boot */
	part(1, MV_LSIZE_FIXED, 3 * MiB + 4096);
	part(2, MV_LSIZE_FIXED, MiB);
	struct mv_layout l = make(MV_TABLE_GPT, 0, 3);
	ck_assert_msg(mv_layout_compute(&l, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(parts[1].start, 2 * MiB);
	ck_assert_uint_eq(parts[2].start, 6 * MiB);
	/* No size given: the partitions plus the backup GPT, in whole MiBs. */
	ck_assert_uint_eq(l.disk_size, 8 * MiB);
}
END_TEST

START_TEST(grow_in_the_middle_leaves_room_for_what_follows)
{
	char err[256] = "";
	part(0, MV_LSIZE_FIXED, 100 * MiB);
	part(1, MV_LSIZE_GROW, 0);
	part(2, MV_LSIZE_FIXED, GiB);
	struct mv_layout l = make(MV_TABLE_GPT, 8 * GiB, 3);
	ck_assert_msg(mv_layout_compute(&l, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(parts[2].start, parts[1].start + parts[1].length);
	ck_assert_uint_eq(parts[2].start % MiB, 0);
	ck_assert_uint_le(parts[2].start + parts[2].length, l.last_usable_end);
	ck_assert_uint_gt(parts[1].length, 6 * GiB);
}
END_TEST

START_TEST(mbr_refuses_a_fifth_partition)
{
	char err[256] = "";
	for (size_t i = 0; i < 5; i++)
		part(i, MV_LSIZE_FIXED, MiB);
	struct mv_layout l = make(MV_TABLE_MBR, 0, 5);
	ck_assert_int_eq(mv_layout_compute(&l, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "at most 4") && strstr(err, "Table=gpt"), "%s", err);
	/* GPT takes the same five. */
	l = make(MV_TABLE_GPT, 0, 5);
	ck_assert_msg(mv_layout_compute(&l, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

START_TEST(too_small_names_what_is_missing)
{
	char err[256] = "";
	part(0, MV_LSIZE_FIXED, GiB);
	part(1, MV_LSIZE_FIXED, GiB);
	struct mv_layout l = make(MV_TABLE_GPT, GiB, 2);
	ck_assert_int_eq(mv_layout_compute(&l, err, sizeof(err)), -1);
	/* 1 MiB + 2 GiB + backup, on a 1 GiB disk: 1 GiB and 1 MiB and a bit short. */
	ck_assert_msg(strstr(err, "missing") && strstr(err, "1 GiB"), "%s", err);
}
END_TEST

START_TEST(grow_needs_a_disk_size_and_room)
{
	char err[256] = "";
	part(0, MV_LSIZE_FIXED, 100 * MiB);
	part(1, MV_LSIZE_GROW, 0);
	struct mv_layout l = make(MV_TABLE_GPT, 0, 2);
	ck_assert_int_eq(mv_layout_compute(&l, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "Size=Grow") && strstr(err, "--size"), "%s", err);
	/* Exactly full: nothing left for the Grow partition. */
	l = make(MV_TABLE_GPT, 101 * MiB + MiB, 2);
	l.disk_size = 101 * MiB;
	ck_assert_int_eq(mv_layout_compute(&l, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "missing"), "%s", err);
}
END_TEST

START_TEST(two_grows_are_refused)
{
	char err[256] = "";
	part(0, MV_LSIZE_GROW, 0);
	part(1, MV_LSIZE_GROW, 0);
	struct mv_layout l = make(MV_TABLE_GPT, GiB, 2);
	ck_assert_int_eq(mv_layout_compute(&l, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "only one"), "%s", err);
}
END_TEST

START_TEST(sector_sizes)
{
	char err[256] = "";
	part(0, MV_LSIZE_FIXED, 260 * MiB);
	part(1, MV_LSIZE_GROW, 0);
	struct mv_layout l = make(MV_TABLE_GPT, GiB, 2);
	l.sector_size = 4096;
	ck_assert_msg(mv_layout_compute(&l, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(l.first_usable, 6 * 4096); /* LBA 6 with 4Kn (boot-spec §0.2) */
	ck_assert_uint_eq(l.last_usable_end, GiB - 5 * 4096);
	part(0, MV_LSIZE_FIXED, 1000); /* not a multiple of 512 */
	l = make(MV_TABLE_GPT, GiB, 2);
	ck_assert_int_eq(mv_layout_compute(&l, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "sector"), "%s", err);
	l = make(MV_TABLE_GPT, GiB, 2);
	l.sector_size = 1024;
	ck_assert_int_eq(mv_layout_compute(&l, err, sizeof(err)), -1);
}
END_TEST

START_TEST(auto_sizes_are_deferred)
{
	char err[256] = "";
	part(0, MV_LSIZE_FIXED, 64 * MiB);
	part(1, MV_LSIZE_AUTO, 0);
	part(2, MV_LSIZE_FIXED, MiB);
	struct mv_layout l = make(MV_TABLE_GPT, 0, 3);
	ck_assert_msg(mv_layout_compute(&l, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(parts[0].start_deferred, 0);
	ck_assert_int_eq(parts[1].start_deferred, 0);
	ck_assert_int_eq(parts[1].length_deferred, 1);
	ck_assert_int_eq(parts[2].start_deferred, 1);
	ck_assert_int_eq(l.disk_size_deferred, 1);
}
END_TEST

START_TEST(mbr_cannot_address_past_2TiB)
{
	char err[256] = "";
	part(0, MV_LSIZE_GROW, 0);
	struct mv_layout l = make(MV_TABLE_MBR, UINT64_C(3) << 40, 1);
	ck_assert_int_eq(mv_layout_compute(&l, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "2 TiB"), "%s", err);
}
END_TEST

static Suite *layout_suite(void)
{
	Suite *s = suite_create("layout");
	TCase *tc = tcase_create("arithmetic");
	tcase_add_test(tc, gpt_aligns_and_grows_to_the_backup_table);
	tcase_add_test(tc, mbr_grows_to_the_end);
	tcase_add_test(tc, unaligned_sizes_push_the_next_start_to_alignment);
	tcase_add_test(tc, grow_in_the_middle_leaves_room_for_what_follows);
	tcase_add_test(tc, mbr_refuses_a_fifth_partition);
	tcase_add_test(tc, too_small_names_what_is_missing);
	tcase_add_test(tc, grow_needs_a_disk_size_and_room);
	tcase_add_test(tc, two_grows_are_refused);
	tcase_add_test(tc, sector_sizes);
	tcase_add_test(tc, auto_sizes_are_deferred);
	tcase_add_test(tc, mbr_cannot_address_past_2TiB);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(layout_suite)
