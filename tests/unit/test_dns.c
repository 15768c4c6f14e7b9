/* dns: which --dns values are accepted, and the order the servers are
 * taken in where the system has none (Android): --dns, the system's
 * resolv.conf (left alone), Termux's $PREFIX/etc/resolv.conf, public. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../bootstrap/dns.h"
#include "check_main.h"
#include "shell.h"

static char work[64];

static void setup(void)
{
	snprintf(work, sizeof(work), "/tmp/mv-dns-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(work));
}

static void teardown(void)
{
	mv_sh("rm -rf %s", work);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(dns_values)
{
	char err[512];
	static const char *const good[] = {
		"192.0.2.53", "127.0.0.1:5353", "2001:db8::53", "[2001:db8::53]:53", "[::1]",
		"8.8.8.8,1.1.1.1", "127.0.0.1:1,[::1]:65535,::1",
	};
	static const char *const bad[] = {
		"", "1.2.3", "dns.google", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:53x",
		"[::1", "[::1]53", "[1.2.3.4]:53", "8.8.8.8,", ",8.8.8.8", "8.8.8.8 1.1.1.1", "::1:53:zz",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(mv_dns_check(good[i], err, sizeof(err)) == 0, "refused %s: %s", good[i], err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(mv_dns_check(bad[i], err, sizeof(err)) < 0, "accepted \"%s\"", bad[i]);
	/* The message names the bad entry, not the whole list. */
	ck_assert_int_eq(mv_dns_check("8.8.8.8,dns.google,1.1.1.1", err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "--dns dns.google:") != NULL, "%s", err);
}
END_TEST

START_TEST(dns_fallback_order)
{
	char sys[128], prefix[128], etc[160], termux[192], buf[256];
	snprintf(sys, sizeof(sys), "%s/resolv.conf", work);
	snprintf(prefix, sizeof(prefix), "%s/usr", work);
	snprintf(etc, sizeof(etc), "%s/etc", prefix);
	snprintf(termux, sizeof(termux), "%s/resolv.conf", etc);
	mv_sh("mkdir -p %s", etc);

	/* Nothing anywhere (Android without Termux's file): public resolvers. */
	ck_assert_str_eq(mv_dns_servers(NULL, sys, prefix, buf, sizeof(buf)), MV_DNS_PUBLIC);
	ck_assert_str_eq(mv_dns_servers(NULL, sys, NULL, buf, sizeof(buf)), MV_DNS_PUBLIC);
	/* Termux's resolv.conf. */
	write_file(termux, "nameserver 192.0.2.1\nnameserver 192.0.2.2\n");
	ck_assert_str_eq(mv_dns_servers(NULL, sys, prefix, buf, sizeof(buf)), "192.0.2.1,192.0.2.2");
	/* A system file without a nameserver line (as an empty one) is no system resolver. */
	write_file(sys, "search example\n");
	ck_assert_str_eq(mv_dns_servers(NULL, sys, prefix, buf, sizeof(buf)), "192.0.2.1,192.0.2.2");
	/* The system's resolver, when it has one, is left alone. */
	write_file(sys, "nameserver 203.0.113.1\n");
	ck_assert_ptr_null(mv_dns_servers(NULL, sys, prefix, buf, sizeof(buf)));
	/* --dns wins over everything. */
	ck_assert_str_eq(mv_dns_servers("127.0.0.1:5353", sys, prefix, buf, sizeof(buf)), "127.0.0.1:5353");
}
END_TEST

static Suite *dns_suite(void)
{
	Suite *s = suite_create("dns");
	TCase *tc = tcase_create("servers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dns_values);
	tcase_add_test(tc, dns_fallback_order);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(dns_suite)
