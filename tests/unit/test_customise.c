/* The customisation's checks and derivations: what is refused, and the two
 * secrets derived against published values (IEEE 802.11i's PSK test
 * vector; glibc's crypt(3) for SHA-512). */
#include <check.h>
#include <crypt.h>
#include <string.h>

#include "../../bootstrap/customise.h"
#include "../../bootstrap/sha512_crypt.h"
#include "check_main.h"
#include "profile_fixture.h"

static const char ed25519[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGyC+7FH3IYbix8PpZQLivYeddIQfF6GAThCqdu5og4z test@x";

START_TEST(hostnames)
{
	char why[256];
	ck_assert_int_eq(mv_hostname_check("node-7", why, sizeof(why)), 0);
	ck_assert_int_eq(mv_hostname_check("pi.lab.example", why, sizeof(why)), 0);
	const char *bad[] = {"", "-node", "node-", "a..b", "node_7", "bad host", ".x", "x.",
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(mv_hostname_check(bad[i], why, sizeof(why)) < 0, "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(user_names)
{
	char why[256];
	ck_assert_int_eq(mv_username_check("alice", why, sizeof(why)), 0);
	ck_assert_int_eq(mv_username_check("_svc-1", why, sizeof(why)), 0);
	const char *bad[] = {"", "Alice", "1abc", "a b", "a:b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(mv_username_check(bad[i], why, sizeof(why)) < 0, "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(ssh_keys)
{
	char why[256];
	ck_assert_int_eq(mv_ssh_key_check(ed25519, why, sizeof(why)), 0);
	char damaged[sizeof(ed25519)];
	memcpy(damaged, ed25519, sizeof(ed25519));
	damaged[30] = damaged[30] == 'A' ? 'B' : 'A'; /* inside the type's bytes */
	ck_assert_int_lt(mv_ssh_key_check(damaged, why, sizeof(why)), 0);
	ck_assert_int_lt(mv_ssh_key_check("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGyC+7FH3IYbix8PpZQLivYeddIQfF6GAThCqdu5og4z", why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "does not name its type"));
	ck_assert_int_lt(mv_ssh_key_check("-----BEGIN OPENSSH PRIVATE KEY-----", why, sizeof(why)), 0);
	ck_assert_int_lt(mv_ssh_key_check("ssh-ed25519 !!!notbase64", why, sizeof(why)), 0);
	ck_assert_int_lt(mv_ssh_key_check("ssh-ed25519", why, sizeof(why)), 0);
}
END_TEST

START_TEST(addresses)
{
	char why[256];
	ck_assert_int_eq(mv_ip_check("192.168.1.7/24", 1, why, sizeof(why)), 0);
	ck_assert_int_eq(mv_ip_check("2001:db8::7/64", 1, why, sizeof(why)), 0);
	ck_assert_int_eq(mv_ip_check("192.168.1.1", 0, why, sizeof(why)), 0);
	ck_assert_int_lt(mv_ip_check("192.168.1.7", 1, why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "ADDRESS/PREFIX"));
	ck_assert_int_lt(mv_ip_check("192.168.1.7/33", 1, why, sizeof(why)), 0);
	ck_assert_int_lt(mv_ip_check("192.168.1.300/24", 1, why, sizeof(why)), 0);
	ck_assert_int_lt(mv_ip_check("10.0.0.1/8", 0, why, sizeof(why)), 0);
}
END_TEST

START_TEST(password_hashes)
{
	char why[256], hash[160];
	struct mv_seed a, b;
	mv_seed_from_text(&a, "fleet\nnode-1");
	mv_seed_from_text(&b, "fleet\nnode-2");
	ck_assert_int_eq(mv_password_hash("hunter2", &a, "alice", hash, sizeof(hash)), 0);
	ck_assert_int_eq(mv_password_hash_check(hash, why, sizeof(why)), 0);
	/* crypt(3) with the stored hash as its setting gives the hash back */
	struct crypt_data cd = {0};
	ck_assert_str_eq(crypt_r("hunter2", hash, &cd), hash);
	char again[160], other[160];
	ck_assert_int_eq(mv_password_hash("hunter2", &a, "alice", again, sizeof(again)), 0);
	ck_assert_str_eq(hash, again); /* reproducible */
	ck_assert_int_eq(mv_password_hash("hunter2", &b, "alice", other, sizeof(other)), 0);
	ck_assert_str_ne(hash, other); /* another machine, another salt */
	ck_assert_int_lt(mv_password_hash_check("$1$abc$def", why, sizeof(why)), 0);
	ck_assert_int_lt(mv_password_hash_check("hunter2", why, sizeof(why)), 0);
}
END_TEST

START_TEST(wifi_key)
{
	/* IEEE 802.11i-2004, H.4.3: "password", SSID "IEEE". */
	char key[65];
	ck_assert_int_eq(mv_wifi_key("IEEE", "password", key), 0);
	ck_assert_str_eq(key, "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e");
}
END_TEST

/* PasswordFile=- reads one line from standard input: one longer than the
 * buffer must be refused, not cut to a password nobody typed. */
START_TEST(password_on_stdin)
{
	struct fixture f;
	fixture_open(&f);
	char line[3000];
	memset(line, 'p', sizeof(line) - 2);
	line[sizeof(line) - 2] = '\n', line[sizeof(line) - 1] = '\0';
	fixture_write(&f, "long", line);
	fixture_write(&f, "short", "secret-word\n");
	fixture_write(&f, "p.conf", "[Profile]\nName=t\nArchitecture=x86_64\n[Customise]\nPasswordFile=-\n");
	char path[128];
	snprintf(path, sizeof(path), "%s/short", f.dir);
	ck_assert_ptr_nonnull(freopen(path, "r", stdin));
	struct mv_profile *p = fixture_load(&f, "p.conf");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->custom.password, "secret-word");
	mv_profile_free(p);
	snprintf(path, sizeof(path), "%s/long", f.dir);
	ck_assert_ptr_nonnull(freopen(path, "r", stdin));
	ck_assert_ptr_null(fixture_load(&f, "p.conf"));
	ck_assert_message(&f, "p.conf:5: PasswordFile=-: the line is longer than 1022 bytes");
	ck_assert_ptr_nonnull(freopen("/dev/null", "r", stdin));
	fixture_close(&f);
}
END_TEST

/* libxcrypt's crypt(3), which PAM checks logins with, refuses a
 * passphrase of 512 bytes or more (CRYPT_MAX_PASSPHRASE_SIZE): a hash of
 * one could never be matched, so it is refused before anything is built. */
START_TEST(password_length)
{
	struct fixture f;
	fixture_open(&f);
	char line[514];
	memset(line, 'p', 512);
	line[512] = '\n', line[513] = '\0';
	fixture_write(&f, "pw512", line);
	line[511] = '\n', line[512] = '\0';
	fixture_write(&f, "pw511", line);
	fixture_write(&f, "ok.conf", "[Profile]\nName=t\nArchitecture=x86_64\n[Customise]\nPasswordFile=pw511\n");
	fixture_write(&f, "bad.conf", "[Profile]\nName=t\nArchitecture=x86_64\n[Customise]\nPasswordFile=pw512\n");
	struct mv_profile *p = fixture_load(&f, "ok.conf");
	ck_assert_ptr_nonnull(p);
	char hash[MV_SHA512_CRYPT_MAX];
	ck_assert_int_eq(mv_sha512_crypt(p->custom.password, "$6$saltsalt", hash, sizeof(hash)), 0);
	ck_assert_str_eq(hash, crypt(p->custom.password, "$6$saltsalt"));
	mv_profile_free(p);
	ck_assert_ptr_null(fixture_load(&f, "bad.conf"));
	ck_assert_message(&f, "bad.conf:5: PasswordFile=pw512: the password has 512 bytes; crypt(3) takes at most 511");
	fixture_close(&f);
}
END_TEST

START_TEST(profile_values)
{
	struct fixture f;
	fixture_open(&f);
	fixture_write(&f, "psk", "short\n");
	fixture_write(&f, "bad.conf",
		      "[Profile]\nName=t\nArchitecture=x86_64\n[Customise]\nHostname=bad_host\nAddress=10.0.0.7\n"
		      "WifiSSID=net\nWifiPSKFile=psk\nGateway=10.0.0.1/24\nSSHKeyFile=missing.pub\n");
	ck_assert_ptr_null(fixture_load(&f, "bad.conf"));
	ck_assert_message(&f, "bad.conf:5: Hostname=bad_host: character '_' is not allowed");
	ck_assert_message(&f, "bad.conf:6: Address=10.0.0.7: expected ADDRESS/PREFIX");
	ck_assert_message(&f, "bad.conf:8: WifiPSKFile=psk: the passphrase has 5 characters; WPA takes 8 to 63");
	ck_assert_message(&f, "bad.conf:9: Gateway=10.0.0.1/24: expected an address without /PREFIX");
	ck_assert_message(&f, "bad.conf:10: SSHKeyFile=missing.pub: cannot read");
	fixture_close(&f);
}
END_TEST

START_TEST(command_line_sets)
{
	struct fixture f;
	fixture_open(&f);
	fixture_write(&f, "ok.conf", "[Profile]\nName=t\nArchitecture=x86_64\n[Customise]\nHostname=from-profile\n");
	struct mv_sets sets = {0};
	ck_assert_int_eq(mv_customise_getopt(&sets, "image", "hostname", "from-option"), 0);
	ck_assert_int_eq(mv_customise_getopt(&sets, "image", "set", "Customise.Timezone=UTC"), 0);
	ck_assert_int_lt(mv_customise_getopt(&sets, "image", "set", "Timezone=UTC"), 0);
	char cwd[512];
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(f.dir), 0);
	struct mv_profile *p = mv_profile_load_with("ok.conf", sets.v, sets.n, &f.rep);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->custom.hostname.v, "from-option"); /* the command line wins */
	ck_assert_str_eq(p->custom.timezone.v, "UTC");
	mv_profile_free(p);
	struct mv_sets bad = {0};
	ck_assert_int_eq(mv_customise_getopt(&bad, "image", "set", "Customise.Hostnme=x"), 0);
	ck_assert_ptr_null(mv_profile_load_with("ok.conf", bad.v, bad.n, &f.rep));
	ck_assert_int_eq(chdir(cwd), 0);
	fflush(f.mem);
	ck_assert_message(&f, "--set: Hostnme=: unknown key in [Customise]; did you mean Hostname=?");
	fixture_close(&f);
}
END_TEST

START_TEST(getopt_long_mixes_options)
{
	static const struct option own[] = {{"output", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
	char *argv[] = {"image", "--hostname", "n1", "-o", "x.img", "--set", "Disk.Size=1G", "p.conf", NULL};
	struct mv_cli_options g = {.cmd = "image"};
	optind = 1;
	int opt, outs = 0;
	while ((opt = mv_customise_getopt_long(&g, 8, argv, "o:", own)) != -1) {
		ck_assert_int_eq(opt, 'o');
		ck_assert_str_eq(optarg, "x.img");
		outs++;
	}
	ck_assert_int_eq(outs, 1);
	ck_assert_int_eq(optind, 7);
	ck_assert_uint_eq(g.sets.n, 2);
	ck_assert_str_eq(g.sets.v[0].key, "Hostname");
	ck_assert_str_eq(g.sets.v[1].section, "Disk");
	ck_assert_str_eq(g.sets.v[1].key, "Size");
	ck_assert_str_eq(g.sets.v[1].value, "1G");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("customise");
	TCase *tc = tcase_create("customise");
	tcase_add_test(tc, hostnames);
	tcase_add_test(tc, user_names);
	tcase_add_test(tc, ssh_keys);
	tcase_add_test(tc, addresses);
	tcase_add_test(tc, password_hashes);
	tcase_add_test(tc, wifi_key);
	tcase_add_test(tc, profile_values);
	tcase_add_test(tc, password_on_stdin);
	tcase_add_test(tc, password_length);
	tcase_add_test(tc, command_line_sets);
	tcase_add_test(tc, getopt_long_mixes_options);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(suite)
