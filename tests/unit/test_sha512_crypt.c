/* crypt(3)'s "$6$" hash, ours: the scheme's own published vectors, then
 * mkpasswd (whois's, on glibc's libcrypt) as the judge for keys around
 * the 64-byte block size, long keys, short and long salts and rounds. */
#include <check.h>
#include <crypt.h>
#include <stdio.h>
#include <string.h>

#include "../../bootstrap/sha512_crypt.h"
#include "check_main.h"

START_TEST(the_specifications_vectors)
{
	/* From "Unix crypt using SHA-256 and SHA-512" (Drepper), its tests. */
	char out[MV_SHA512_CRYPT_MAX];
	ck_assert_int_eq(mv_sha512_crypt("Hello world!", "$6$saltstring", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1");
	ck_assert_int_eq(mv_sha512_crypt("Hello world!", "$6$rounds=10000$saltstringsaltstring", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.");
	/* A full hash as the setting: crypt(3)'s way of checking a password. */
	char again[MV_SHA512_CRYPT_MAX];
	ck_assert_int_eq(mv_sha512_crypt("Hello world!", out, again, sizeof(again)), 0);
	ck_assert_str_eq(again, out);
}
END_TEST

START_TEST(mkpasswd_agrees)
{
	static const struct { size_t klen; const char *salt; int rounds; } cases[] = {
		{0, "abcdefgh", 0},   {1, "abcdefgh", 0},        {63, "0123456789abcdef", 0},
		{64, "ZZ./zz..", 0},  {65, "saltsalt", 1000},    {200, "longersaltthan16", 7777},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char key[256], setting[64], cmd[1024], want[256] = "", got[MV_SHA512_CRYPT_MAX];
		for (size_t k = 0; k < cases[i].klen; k++)
			key[k] = (char)('a' + (k * 7 + i) % 26);
		key[cases[i].klen] = '\0';
		if (cases[i].rounds)
			snprintf(setting, sizeof(setting), "$6$rounds=%d$%s", cases[i].rounds, cases[i].salt);
		else
			snprintf(setting, sizeof(setting), "$6$%s", cases[i].salt);
		snprintf(cmd, sizeof(cmd), "mkpasswd -m sha-512 -S %s %s%d -s <<'EOF'\n%s\nEOF", cases[i].salt,
			 cases[i].rounds ? "-R " : "", cases[i].rounds, key);
		if (!cases[i].rounds) /* "-R 0" is not mkpasswd's default: leave it out */
			snprintf(cmd, sizeof(cmd), "mkpasswd -m sha-512 -S %s -s <<'EOF'\n%s\nEOF", cases[i].salt, key);
		FILE *p = popen(cmd, "r");
		ck_assert_ptr_nonnull(p);
		ck_assert_ptr_nonnull(fgets(want, sizeof(want), p));
		pclose(p);
		want[strcspn(want, "\n")] = '\0';
		ck_assert_int_eq(mv_sha512_crypt(key, setting, got, sizeof(got)), 0);
		ck_assert_msg(strcmp(got, want) == 0, "key of %zu bytes, %s: ours %s, mkpasswd %s", cases[i].klen,
			      setting, got, want);
	}
}
END_TEST

START_TEST(other_schemes_and_small_buffers_are_refused)
{
	char out[MV_SHA512_CRYPT_MAX];
	ck_assert_int_eq(mv_sha512_crypt("pw", "$5$saltstring", out, sizeof(out)), -1);
	ck_assert_int_eq(mv_sha512_crypt("pw", "$6$rounds=x$salt", out, sizeof(out)), -1);
	ck_assert_int_eq(mv_sha512_crypt("pw", "$6$saltstring", out, 50), -1);
	/* A salt outside crypt's alphabet, refused as libxcrypt's crypt(3)
	 * does: a ':' or newline would break the shadow line it goes into. */
	ck_assert_int_eq(mv_sha512_crypt("pw", "$6$sa:lt", out, sizeof(out)), -1);
	ck_assert_int_eq(mv_sha512_crypt("pw", "$6$sa\nlt", out, sizeof(out)), -1);
	ck_assert_ptr_null(strchr(crypt("pw", "$6$sa:lt"), '$'));
}
END_TEST

static Suite *sha512_crypt_suite(void)
{
	Suite *s = suite_create("sha512_crypt");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, the_specifications_vectors);
	tcase_add_test(tc, mkpasswd_agrees);
	tcase_add_test(tc, other_schemes_and_small_buffers_are_refused);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(sha512_crypt_suite)
