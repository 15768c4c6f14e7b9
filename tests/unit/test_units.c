/* Sizes as profiles and the command line write them. */
#include <check.h>
#include <stdint.h>

#include "../../bootstrap/units.h"
#include "check_main.h"

START_TEST(parses_binary_suffixes)
{
	uint64_t v;
	ck_assert_int_eq(mv_parse_size("512M", &v), 0);
	ck_assert_uint_eq(v, 512ull << 20);
	ck_assert_int_eq(mv_parse_size("4G", &v), 0);
	ck_assert_uint_eq(v, 4ull << 30);
	ck_assert_int_eq(mv_parse_size("1GiB", &v), 0);
	ck_assert_uint_eq(v, 1ull << 30);
	ck_assert_int_eq(mv_parse_size("300MB", &v), 0);
	ck_assert_uint_eq(v, 300ull << 20);
	ck_assert_int_eq(mv_parse_size("1048576", &v), 0);
	ck_assert_uint_eq(v, 1048576);
	ck_assert_int_eq(mv_parse_size("1.5G", &v), 0);
	ck_assert_uint_eq(v, 3ull << 29);
	ck_assert_int_eq(mv_parse_size("2 T", &v), 0);
	ck_assert_uint_eq(v, 2ull << 40);
	ck_assert_int_eq(mv_parse_size("7k", &v), 0);
	ck_assert_uint_eq(v, 7ull << 10);
}
END_TEST

START_TEST(rejects_what_is_not_a_size)
{
	uint64_t v = 42;
	const char *bad[] = {"", "12Q", "G", "1.5", "-1", "4GG", "1 GiBs", "99999999999999999999",
			     "16000000000000000000K", "0x10", "4 G B"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(mv_parse_size(bad[i], &v) < 0, "accepted \"%s\"", bad[i]);
	ck_assert_uint_eq(v, 42); /* untouched on failure */
}
END_TEST

START_TEST(prints_human_sizes)
{
	char buf[32];
	ck_assert_str_eq(mv_human_size(512ull << 20, buf, sizeof(buf)), "512 MiB");
	ck_assert_str_eq(mv_human_size(3ull << 29, buf, sizeof(buf)), "1.5 GiB");
	ck_assert_str_eq(mv_human_size(999, buf, sizeof(buf)), "999 B");
	ck_assert_str_eq(mv_human_size(17408, buf, sizeof(buf)), "17 KiB");
	ck_assert_str_eq(mv_human_size(0, buf, sizeof(buf)), "0 B");
}
END_TEST

static Suite *units_suite(void)
{
	Suite *s = suite_create("units");
	TCase *tc = tcase_create("sizes");
	tcase_add_test(tc, parses_binary_suffixes);
	tcase_add_test(tc, rejects_what_is_not_a_size);
	tcase_add_test(tc, prints_human_sizes);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(units_suite)
