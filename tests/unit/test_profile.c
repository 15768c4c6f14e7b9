/* The profile parser: every mistake is reported with file:line, the key
 * and what is expected; includes, overrides and lists behave as
 * profiles/README.md says. */
#include <check.h>

#include "check_main.h"
#include "profile_fixture.h"

#define BASE "[Profile]\nName=t\nArchitecture=x86_64\n"

START_TEST(typo_in_a_key_names_file_line_and_suggests)
{
	struct fixture f;
	fixture_open(&f);
	fixture_write(&f, "x.conf", BASE "[Disk]\nTable=gpt\n[Partition root]\nType=root\nSzie=4G\n");
	ck_assert_ptr_null(fixture_load(&f, "x.conf"));
	ck_assert_message(&f, "x.conf:8: Szie=: unknown key in [Partition root]; did you mean Size=?");
	ck_assert_uint_eq(f.rep.errors, 1);
	fixture_close(&f);
}
END_TEST

START_TEST(bad_size_says_what_is_expected)
{
	struct fixture f;
	fixture_open(&f);
	fixture_write(&f, "x.conf", BASE "\n\n\n\n\n[Partition root]\nType=root\nSize=12Q\n");
	ck_assert_ptr_null(fixture_load(&f, "x.conf"));
	ck_assert_message(&f, "x.conf:11: Size=12Q: expected a size such as 512M, 4G, Grow or auto");
	fixture_close(&f);
}
END_TEST

START_TEST(missing_include_names_the_include_line)
{
	struct fixture f;
	fixture_open(&f);
	fixture_write(&f, "x.conf", "[Profile]\nName=t\nInclude=nope.conf\nArchitecture=x86_64\n");
	ck_assert_ptr_null(fixture_load(&f, "x.conf"));
	ck_assert_message(&f, "x.conf:3: Include=: cannot open ./nope.conf: No such file or directory");
	fixture_close(&f);
}
END_TEST

START_TEST(every_problem_is_reported_at_once)
{
	struct fixture f;
	fixture_open(&f);
	fixture_write(&f, "x.conf", BASE "[Disk]\nTable=gtp\nSize=lots\n[Nix]\nSHA256=abc\n[Bogus]\nKey=1\n[Handoff]\nMode=later\n");
	ck_assert_ptr_null(fixture_load(&f, "x.conf"));
	ck_assert_message(&f, "x.conf:5: Table=gtp: expected one of gpt|mbr");
	ck_assert_message(&f, "x.conf:6: Size=lots: expected a size such as 512M, 4G or 1GiB");
	ck_assert_message(&f, "x.conf:8: SHA256=: must follow the source it applies to");
	ck_assert_message(&f, "x.conf:10: [Bogus]: unknown section");
	ck_assert_message(&f, "x.conf:12: Mode=later: expected one of firstboot|chroot|exec|none");
	ck_assert_uint_eq(f.rep.errors, 5);
	fixture_close(&f);
}
END_TEST

START_TEST(include_applies_in_place_and_later_lines_override)
{
	struct fixture f;
	fixture_open(&f);
	ck_assert_int_eq(system("true"), 0);
	fixture_write(&f, "base.conf",
		      "[Profile]\nDescription=from base\n[Disk]\nSize=2G\n[Partition root]\nType=root\nSize=1G\nLabel=base\n"
		      "[Nix]\nConfig=a = 1\n");
	fixture_write(&f, "x.conf",
		      "[Profile]\nName=t\nArchitecture=x86_64\nInclude=base.conf\nDescription=mine\n"
		      "[Partition root]\nLabel=mine\n[Nix]\nConfig=b = 2\n");
	struct mv_profile *p = fixture_load(&f, "x.conf");
	ck_assert_msg(p != NULL, "%s", f.messages);
	ck_assert_str_eq(p->description.v, "mine");
	ck_assert_uint_eq(p->disk_size.bytes, 2ull << 30);
	ck_assert_uint_eq(p->partitions.n, 1);
	ck_assert_str_eq(p->partitions.v[0].label.v, "mine");
	ck_assert_uint_eq(p->partitions.v[0].size.bytes, 1ull << 30);
	ck_assert_str_eq(p->partitions.v[0].type.at.file, "./base.conf");
	ck_assert_int_eq(p->partitions.v[0].type.at.line, 6);
	ck_assert_uint_eq(p->nix_config.n, 2);
	ck_assert_str_eq(p->nix_config.v[1].v, "b = 2");
	mv_profile_free(p);
	fixture_close(&f);
}
END_TEST

START_TEST(include_cycles_are_refused)
{
	struct fixture f;
	fixture_open(&f);
	fixture_write(&f, "a.conf", "[Profile]\nInclude=b.conf\n");
	fixture_write(&f, "b.conf", "[Profile]\nName=t\nInclude=a.conf\n");
	ck_assert_ptr_null(fixture_load(&f, "a.conf"));
	ck_assert_message(&f, "b.conf:3: Include=: ./a.conf includes itself");
	fixture_close(&f);
}
END_TEST

START_TEST(sources_take_pins_mirrors_and_strip_in_order)
{
	struct fixture f;
	fixture_open(&f);
	fixture_write(&f, "x.conf", BASE
		      "[Userland]\nSource=https://a.example/base.txz\nSHA256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
		      "Mirror=https://b.example/base.txz\nSource=local.tar\nStripComponents=1\n");
	struct mv_profile *p = fixture_load(&f, "x.conf");
	ck_assert_msg(p != NULL, "%s", f.messages);
	ck_assert_uint_eq(p->userland.n, 2);
	ck_assert_str_eq(p->userland.v[0].sha256.v, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	ck_assert_uint_eq(p->userland.v[0].mirrors.n, 1);
	ck_assert_int_eq(p->userland.v[0].strip, 0);
	ck_assert_ptr_null(p->userland.v[1].sha256.v);
	ck_assert_int_eq(p->userland.v[1].strip, 1);
	ck_assert_str_eq(p->userland.v[1].base_dir, ".");
	mv_profile_free(p);
	fixture_close(&f);
}
END_TEST

START_TEST(root_paths_only_where_a_userland_file_makes_sense)
{
	struct fixture f;
	fixture_open(&f);
	fixture_write(&f, "x.conf", BASE "[Userland]\nSource=root:/x.tar\n[Bootloader]\nKernel=root:boot/vmlinuz\n"
					 "Loader=host:/usr/lib/x.efi\nSHA256=0000000000000000000000000000000000000000000000000000000000000000\n");
	ck_assert_ptr_null(fixture_load(&f, "x.conf"));
	ck_assert_message(&f, "x.conf:5: Source=root:/x.tar: root: paths cannot be used for Source=");
	ck_assert_message(&f, "x.conf:7: Kernel=root:boot/vmlinuz: expected root:/absolute/path");
	ck_assert_message(&f, "x.conf:9: SHA256=: Loader=host:/usr/lib/x.efi is not downloaded; remove the pin");
	fixture_close(&f);
}
END_TEST

START_TEST(continuation_lines_extend_the_value)
{
	struct fixture f;
	fixture_open(&f);
	fixture_write(&f, "x.conf", BASE "[Bootloader]\nOptions=console=ttyS0\n  quiet\n\tpanic=-1\n# comment\nTitle=T\n");
	struct mv_profile *p = fixture_load(&f, "x.conf");
	ck_assert_msg(p != NULL, "%s", f.messages);
	ck_assert_str_eq(p->options.v, "console=ttyS0 quiet panic=-1");
	ck_assert_str_eq(p->title.v, "T");
	mv_profile_free(p);
	fixture_close(&f);
}
END_TEST

START_TEST(only_free_text_continues)
{
	struct fixture f;
	fixture_open(&f);
	fixture_write(&f, "x.conf", "[Profile]\nName=t\nArchitecture=x86_64\n  junk\n[Disk]\nSize=1\n  G\n");
	ck_assert_ptr_null(fixture_load(&f, "x.conf"));
	ck_assert_message(&f, "x.conf:4: Architecture=: this key takes a single line; the indented line \"junk\" continues nothing");
	ck_assert_message(&f, "x.conf:7: Size=: this key takes a single line");
	fixture_close(&f);
}
END_TEST

START_TEST(a_line_over_the_limit_is_an_error_not_two_lines)
{
	struct fixture f;
	fixture_open(&f);
	char text[600];
	char longval[300];
	memset(longval, 'x', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	snprintf(text, sizeof(text), BASE "[Bootloader]\nOptions=%s\nTitle=T\n", longval);
	fixture_write(&f, "x.conf", text);
	ck_assert_ptr_null(fixture_load(&f, "x.conf"));
	ck_assert_message(&f, "x.conf:5: line is longer than 198 characters");
	ck_assert_uint_eq(f.rep.errors, 1);
	fixture_close(&f);
}
END_TEST

START_TEST(required_keys_and_copy_syntax)
{
	struct fixture f;
	fixture_open(&f);
	fixture_write(&f, "x.conf", "[Profile]\nDescription=d\n[Partition p]\nSize=1G\n"
					 "[Files]\nCopy=motd\nCopy=motd root:/etc/motd 0999\nCopy=motd nowhere:/x\n");
	ck_assert_ptr_null(fixture_load(&f, "x.conf"));
	ck_assert_message(&f, "x.conf:6: Copy=motd: expected SOURCE PARTITION:/PATH");
	ck_assert_message(&f, "x.conf:7: Copy=motd root:/etc/motd 0999: mode 0999: expected an octal mode");
	fixture_close(&f);
	/* With the syntax right, the whole-profile checks speak. */
	fixture_open(&f);
	fixture_write(&f, "x.conf", "[Profile]\nDescription=d\n[Partition p]\nSize=1G\n[Files]\nCopy=motd nowhere:/x\n");
	ck_assert_ptr_null(fixture_load(&f, "x.conf"));
	ck_assert_message(&f, "x.conf: [Profile] Name= is required");
	ck_assert_message(&f, "x.conf: [Profile] Architecture= is required");
	ck_assert_message(&f, "x.conf:4: [Partition p]: Type= is required");
	ck_assert_message(&f, "x.conf:6: Copy=: destination nowhere:/x names no partition");
	fixture_close(&f);
}
END_TEST

START_TEST(missing_profile_file)
{
	struct fixture f;
	fixture_open(&f);
	ck_assert_ptr_null(fixture_load(&f, "absent.conf"));
	ck_assert_message(&f, "absent.conf: cannot open the profile: No such file or directory");
	fixture_close(&f);
}
END_TEST

static Suite *profile_suite(void)
{
	Suite *s = suite_create("profile");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, typo_in_a_key_names_file_line_and_suggests);
	tcase_add_test(tc, bad_size_says_what_is_expected);
	tcase_add_test(tc, missing_include_names_the_include_line);
	tcase_add_test(tc, every_problem_is_reported_at_once);
	tcase_add_test(tc, include_applies_in_place_and_later_lines_override);
	tcase_add_test(tc, include_cycles_are_refused);
	tcase_add_test(tc, sources_take_pins_mirrors_and_strip_in_order);
	tcase_add_test(tc, root_paths_only_where_a_userland_file_makes_sense);
	tcase_add_test(tc, continuation_lines_extend_the_value);
	tcase_add_test(tc, only_free_text_continues);
	tcase_add_test(tc, a_line_over_the_limit_is_an_error_not_two_lines);
	tcase_add_test(tc, required_keys_and_copy_syntax);
	tcase_add_test(tc, missing_profile_file);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(profile_suite)
