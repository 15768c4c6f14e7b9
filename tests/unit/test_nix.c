/* The .reginfo check (boot-spec §5.2) and the install script's nix="..."
 * line. The integration test (tests/integration/nix.sh) feeds real
 * registrations that Nix wrote and Nix reads back; these cover the
 * forms and mistakes one by one. */
#include <check.h>
#include <string.h>

#include "../../bootstrap/nix.h"
#include "check_main.h"

#define NIX "/nix/store/zsf5ammb3n8kfh3q4i6h8y98lkb3045f-nix-2.8.0"
#define CFG "/nix/store/ghcv3i8v0qgl0bhvfcfsqj0lvk9wwf4s-nix-test.conf"
#define HEX "ac42d59daf994760c1f9ac0068d1108f731e9f89876a9cb1aa69bd37d649eb03"
#define N32 "sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s"
/* Two records, as nix-store --dump-db writes them: NIX, then CFG -> NIX. */
#define GOOD NIX "\n" HEX "\n2368\n\n0\n" CFG "\n" N32 "\n184\n\n1\n" NIX "\n"

static void refused(const char *text, const char *want)
{
	char err[512] = "";
	ck_assert_int_eq(mv_nix_check_reginfo(text, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, want) != NULL, "wanted \"%s\" in: %s", want, err);
}

START_TEST(well_formed_records_are_counted)
{
	char err[512];
	ck_assert_int_eq(mv_nix_check_reginfo(GOOD, err, sizeof(err)), 2);
	/* SRI hashes, a deriver, a self-reference, no final newline */
	ck_assert_int_eq(mv_nix_check_reginfo(NIX "\nsha256-rEJdna+ZR2DB+fmsAGjREI9x6fiYdqnLGqa9N9ZJ6wM=\n1\n"
					      "/nix/store/zsf5ammb3n8kfh3q4i6h8y98lkb3045f-nix-2.8.0.drv\n1\n" NIX,
					      err, sizeof(err)), 1);
	ck_assert(mv_nix_registers(GOOD, CFG));
	ck_assert(mv_nix_registers(GOOD, NIX));
	ck_assert(!mv_nix_registers(GOOD, "/nix/store/00000000000000000000000000000000-x"));
}
END_TEST

START_TEST(each_wrong_line_is_named)
{
	refused("", ".reginfo is empty");
	refused("/usr/bin/nix\n" HEX "\n1\n\n0\n", "line 1: \"/usr/bin/nix\": expected a store path");
	refused("/nix/store/tooshort-nix\n" HEX "\n1\n\n0\n", "line 1: ");
	refused(NIX "\nsha256:xyz\n1\n\n0\n", "line 2: \"sha256:xyz\": expected a SHA-256 NAR hash");
	refused(NIX "\n" HEX "\n12x\n\n0\n", "line 3: \"12x\": expected the NAR size");
	refused(NIX "\n" HEX "\n1\nfoo.drv\n0\n", "line 4: \"foo.drv\": expected the deriver");
	refused(NIX "\n" HEX "\n1\n\none\n", "line 5: \"one\": expected the number of references");
	refused(NIX "\n" HEX "\n1\n\n1\nnot-a-path\n", "line 6: \"not-a-path\": expected a reference");
}
END_TEST

START_TEST(truncation_and_open_closures_are_refused)
{
	refused(NIX "\n" HEX "\n1\n", ".reginfo ends at line 3 inside a record");
	refused(NIX "\n" HEX "\n1\n\n2\n" NIX "\n", "1 more references expected");
	/* CFG alone: its reference to NIX is not registered */
	refused(CFG "\n" N32 "\n184\n\n1\n" NIX "\n", "line 6: \"" NIX "\": expected a reference to a path the .reginfo registers");
}
END_TEST

START_TEST(the_installer_names_the_nix_path)
{
	char out[256], err[256];
	ck_assert_int_eq(mv_nix_installer_path("#!/bin/sh\ndest=\"/nix\"\nnix=\"" NIX "\"\ncacert=\"x\"\n", out,
					       sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, NIX);
	ck_assert_int_eq(mv_nix_installer_path("#!/bin/sh\nnix=\"@nix@\"\n", out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no store path"));
	ck_assert_int_eq(mv_nix_installer_path("#!/bin/sh\n", out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no nix=\""));
}
END_TEST

static Suite *nix_suite(void)
{
	Suite *s = suite_create("nix");
	TCase *tc = tcase_create("reginfo");
	tcase_add_test(tc, well_formed_records_are_counted);
	tcase_add_test(tc, each_wrong_line_is_named);
	tcase_add_test(tc, truncation_and_open_closures_are_refused);
	tcase_add_test(tc, the_installer_names_the_nix_path);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(nix_suite)
