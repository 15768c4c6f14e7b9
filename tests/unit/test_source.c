/* The sources module: the cache's layout, the retry decisions, local
 * sources, and downloads against tests/fixtures/httpd.py (so the libcurl
 * callbacks, resume and verification also run under ASan and UBSan). */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../bootstrap/cache.h"
#include "../../bootstrap/source.h"
#include "check_main.h"
#include "shell.h"

extern char **environ;

static char work[64];

static void setup(void)
{
	snprintf(work, sizeof(work), "/tmp/mv-source-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(work));
}

static void teardown(void)
{
	mv_sh("rm -rf %s", work);
}

/* ---- the cache's layout ---- */

START_TEST(cache_dir_follows_xdg_then_home)
{
	char out[256], err[256];
	ck_assert_int_eq(mv_cache_dir("/x/c", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/x/c");
	setenv("XDG_CACHE_HOME", "/xdg", 1);
	setenv("HOME", "/home/u", 1);
	ck_assert_int_eq(mv_cache_dir(NULL, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/xdg/microvisor");
	setenv("XDG_CACHE_HOME", "relative", 1); /* the XDG spec: ignore a relative path */
	ck_assert_int_eq(mv_cache_dir(NULL, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/home/u/.cache/microvisor");
	unsetenv("XDG_CACHE_HOME");
	unsetenv("HOME");
	ck_assert_int_eq(mv_cache_dir(NULL, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "--cache-dir"), "%s", err);
}
END_TEST

START_TEST(cache_paths_are_made_from_hashes_only)
{
	const char *pin = "8d7076d218153b2596b898280edd1f41a36c83e38f050cc82f1cac6b9b7ee987";
	char out[256], key[69];
	ck_assert_int_eq(mv_cache_entry("/c", pin, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/c/sha256/8d7076d218153b2596b898280edd1f41a36c83e38f050cc82f1cac6b9b7ee987");
	ck_assert_int_eq(mv_cache_partial("/c", pin, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/c/partial/8d7076d218153b2596b898280edd1f41a36c83e38f050cc82f1cac6b9b7ee987.part");
	mv_cache_url_key("http://example.org/a", key);
	ck_assert_int_eq(strncmp(key, "url-", 4), 0);
	ck_assert(mv_sha256_hex_valid(key + 4));
	ck_assert_int_eq(mv_cache_partial("/c", key, out, sizeof(out)), 0);

	const char *bad[] = {"../../../../etc/passwd", "8D7076D218153B2596B898280EDD1F41A36C83E38F050CC82F1CAC6B9B7EE987",
			     "8d7076", "", "8d7076d218153b2596b898280edd1f41a36c83e38f050cc82f1cac6b9b7ee98g"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(mv_cache_entry("/c", bad[i], out, sizeof(out)) < 0, "accepted %s", bad[i]);
		ck_assert_msg(mv_cache_partial("/c", bad[i], out, sizeof(out)) < 0, "accepted %s", bad[i]);
	}
	ck_assert_int_eq(mv_cache_entry("/c", pin, out, 20), -1); /* too short a buffer */
}
END_TEST

START_TEST(cache_prepare_makes_the_tree)
{
	char cache[128], err[256], p[160];
	snprintf(cache, sizeof(cache), "%s/a/b/cache", work);
	ck_assert_msg(mv_cache_prepare(cache, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(mv_cache_prepare(cache, err, sizeof(err)) == 0, "again: %s", err);
	struct stat st;
	snprintf(p, sizeof(p), "%s/sha256", cache);
	ck_assert(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	snprintf(p, sizeof(p), "%s/partial", cache);
	ck_assert(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	mv_sh("touch %s/file", work);
	snprintf(cache, sizeof(cache), "%s/file/cache", work);
	ck_assert_int_eq(mv_cache_prepare(cache, err, sizeof(err)), -1);
}
END_TEST

/* ---- decisions ---- */

START_TEST(retry_decisions)
{
	ck_assert_int_eq(mv_attempt_classify(CURLE_OK, 200), MV_ATTEMPT_DONE);
	ck_assert_int_eq(mv_attempt_classify(CURLE_OK, 206), MV_ATTEMPT_DONE);
	long transient[] = {500, 502, 503, 504, 408, 429};
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		ck_assert_msg(mv_attempt_classify(CURLE_HTTP_RETURNED_ERROR, transient[i]) == MV_ATTEMPT_RETRY,
			      "HTTP %ld", transient[i]);
	long permanent[] = {400, 401, 403, 404, 410, 416};
	for (size_t i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++)
		ck_assert_msg(mv_attempt_classify(CURLE_HTTP_RETURNED_ERROR, permanent[i]) == MV_ATTEMPT_NEXT_URL,
			      "HTTP %ld", permanent[i]);
	int network[] = {CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_PARTIAL_FILE, CURLE_RECV_ERROR,
			 CURLE_GOT_NOTHING, CURLE_COULDNT_RESOLVE_HOST};
	for (size_t i = 0; i < sizeof(network) / sizeof(network[0]); i++)
		ck_assert_msg(mv_attempt_classify(network[i], 0) == MV_ATTEMPT_RETRY, "curl %d", network[i]);
	int fatal[] = {CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_TOO_MANY_REDIRECTS,
		       CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT};
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		ck_assert_msg(mv_attempt_classify(fatal[i], 0) == MV_ATTEMPT_NEXT_URL, "curl %d", fatal[i]);
	ck_assert_int_eq(mv_attempt_classify(CURLE_OK, 302), MV_ATTEMPT_NEXT_URL);
}
END_TEST

START_TEST(backoff_doubles_and_is_capped)
{
	ck_assert_uint_eq(mv_retry_delay_ms(1000, 1), 1000);
	ck_assert_uint_eq(mv_retry_delay_ms(1000, 2), 2000);
	ck_assert_uint_eq(mv_retry_delay_ms(1000, 4), 8000);
	ck_assert_uint_eq(mv_retry_delay_ms(1000, 40), 30000);
	ck_assert_uint_eq(mv_retry_delay_ms(10, 3), 40);
	ck_assert_uint_eq(mv_retry_delay_ms(0, 5), 0);
}
END_TEST

START_TEST(ca_bundle_override_and_environment)
{
	char buf[256], ca[128];
	snprintf(ca, sizeof(ca), "%s/ca.pem", work);
	ck_assert_ptr_null(mv_ca_bundle(ca, buf, sizeof(buf))); /* --ca-file that is not there */
	mv_sh("echo cert > %s", ca);
	ck_assert_str_eq(mv_ca_bundle(ca, buf, sizeof(buf)), ca);
	setenv("SSL_CERT_FILE", ca, 1);
	ck_assert_str_eq(mv_ca_bundle(NULL, buf, sizeof(buf)), ca);
	unsetenv("SSL_CERT_FILE");
}
END_TEST

START_TEST(resolv_conf_nameservers)
{
	char text[] = "# Termux\nnameserver 8.8.8.8\nsearch lan\n  nameserver 2001:4860:4860::8888\noptions x\n";
	char out[128];
	FILE *f = fmemopen(text, strlen(text), "r");
	ck_assert_int_eq(mv_resolv_nameservers(f, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "8.8.8.8,2001:4860:4860::8888");
	fclose(f);
	char none[] = "search lan\n";
	f = fmemopen(none, strlen(none), "r");
	ck_assert_int_eq(mv_resolv_nameservers(f, out, sizeof(out)), -1);
	fclose(f);
	f = fmemopen(text, strlen(text), "r");
	ck_assert_int_eq(mv_resolv_nameservers(f, out, 12), 0); /* what fits */
	ck_assert_str_eq(out, "8.8.8.8");
	fclose(f);
}
END_TEST

/* ---- local sources ---- */

static struct mv_plan_source local(const char *path, const char *pin)
{
	return (struct mv_plan_source){.role = "userland", .location = path, .path = path, .sha256 = pin,
				       .kind = MV_SRC_LOCAL};
}

START_TEST(local_sources_are_verified_in_place)
{
	/* sha256("hello\n") */
	const char *good = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
	const char *other = "0000000000000000000000000000000000000000000000000000000000000000";
	char file[128], path[256], err[1024];
	struct mv_fetch_options o = {.quiet = 1};
	struct mv_fetch_result res;
	snprintf(file, sizeof(file), "%s/f", work);
	mv_sh("echo hello > %s", file);

	struct mv_plan_source s = local(file, good);
	ck_assert_msg(mv_source_fetch(&o, &s, &res, path, sizeof(path), err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(path, file);
	ck_assert_int_eq(res.how, MV_FETCHED_VERIFIED);
	ck_assert_str_eq(res.sha256, good);

	s = local(file, other);
	ck_assert_int_eq(mv_source_get(&o, &s, path, sizeof(path), err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, good) && strstr(err, other) && strstr(err, "userland"), "%s", err);

	s = local(work, NULL); /* a directory, unpinned */
	ck_assert_msg(mv_source_fetch(&o, &s, &res, path, sizeof(path), err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res.how, MV_FETCHED_LOCAL);
	s = local(work, good); /* a directory cannot be pinned */
	ck_assert_int_eq(mv_source_get(&o, &s, path, sizeof(path), err, sizeof(err)), -1);

	snprintf(file, sizeof(file), "%s/missing", work);
	s = local(file, NULL);
	ck_assert_int_eq(mv_source_get(&o, &s, path, sizeof(path), err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "missing"), "%s", err);
}
END_TEST

START_TEST(remote_sources_need_a_pin_and_a_cache_offline)
{
	const char *pin = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
	char path[256], err[1024], cache[128];
	snprintf(cache, sizeof(cache), "%s/cache", work);
	struct mv_fetch_options o = {.quiet = 1, .offline = 1, .cache_dir = cache};
	struct mv_plan_source s = {.role = "nix", .location = "http://127.0.0.1:9/x", .kind = MV_SRC_HTTP};
	ck_assert_int_eq(mv_source_get(&o, &s, path, sizeof(path), err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "SHA256="), "%s", err);
	s.sha256 = "../../etc";
	ck_assert_int_eq(mv_source_get(&o, &s, path, sizeof(path), err, sizeof(err)), -1);
	s.sha256 = pin;
	ck_assert_int_eq(mv_source_get(&o, &s, path, sizeof(path), err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "nix source http://127.0.0.1:9/x") && strstr(err, pin) && strstr(err, "--offline"),
		      "%s", err);
	/* An entry in the cache is found without any network. */
	mv_sh("mkdir -p %s/sha256 && echo hello > %s/sha256/%s", cache, cache, pin);
	ck_assert_msg(mv_source_get(&o, &s, path, sizeof(path), err, sizeof(err)) == 0, "%s", err);
	ck_assert(strstr(path, pin));
}
END_TEST

/* ---- downloads, against the test server ---- */

static pid_t httpd_pid;
static int httpd_port;
static char www[64];

static void httpd_start(void)
{
	snprintf(www, sizeof(www), "/tmp/mv-www-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(www));
	char log[96];
	snprintf(log, sizeof(log), "%s.log", www);
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	char *argv[] = {"python3", "tests/fixtures/httpd.py", "--root", www, "--log", log,
			"--max-seconds", "60", NULL};
	ck_assert_int_eq(posix_spawnp(&httpd_pid, "python3", &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	ck_assert_int_eq(fscanf(f, "%d", &httpd_port), 1);
	fclose(f);
}

static void httpd_stop(void)
{
	kill(httpd_pid, SIGTERM);
	waitpid(httpd_pid, NULL, 0);
	mv_sh("rm -rf %s %s.log", www, www);
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p, (void)u;
	return s * n;
}

/* The next requests to /path misbehave as json says. */
static void script(const char *path, const char *json)
{
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/_script/%s", httpd_port, path);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
}

static void serve(const char *name, size_t size, char hex[65])
{
	char err[256];
	char file[128];
	snprintf(file, sizeof(file), "%s/%s", www, name);
	mv_sh("head -c %zu /dev/urandom > %s", size, file);
	ck_assert_msg(mv_sha256_file(file, hex, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(download_resumes_and_verifies)
{
	char pin[65], url[128], cache[128], path[256], err[2048], got[65];
	serve("a.bin", 300000, pin);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/a.bin", httpd_port);
	snprintf(cache, sizeof(cache), "%s/cache", work);
	setenv("MICROVISOR_RETRY_DELAY_MS", "1", 1);
	struct mv_fetch_options o = {.quiet = 1, .cache_dir = cache};
	struct mv_plan_source s = {.role = "userland", .location = url, .sha256 = pin, .kind = MV_SRC_HTTP};
	struct mv_fetch_result res;

	script("a.bin", "[{\"drop_after\": 100000}, {\"status\": 503}]");
	ck_assert_msg(mv_source_fetch(&o, &s, &res, path, sizeof(path), err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res.how, MV_FETCHED_DOWNLOADED);
	ck_assert_uint_eq(res.bytes, 300000);
	ck_assert_msg(mv_sha256_file(path, got, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(got, pin);

	o.reverify = 1;
	ck_assert_msg(mv_source_fetch(&o, &s, &res, path, sizeof(path), err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res.how, MV_FETCHED_CACHED);
}
END_TEST

START_TEST(download_refuses_wrong_bytes)
{
	char pin[65], url[128], cache[128], path[256], err[2048], entry[256], partial[256];
	serve("b.bin", 50000, pin);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/b.bin", httpd_port);
	snprintf(cache, sizeof(cache), "%s/cache", work);
	struct mv_fetch_options o = {.quiet = 1, .cache_dir = cache};
	struct mv_plan_source s = {.role = "kernel", .location = url, .sha256 = pin, .kind = MV_SRC_HTTP};

	script("b.bin", "[{\"corrupt\": true}]");
	ck_assert_int_eq(mv_source_get(&o, &s, path, sizeof(path), err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "kernel source") && strstr(err, "wrong bytes") && strstr(err, pin), "%s", err);
	mv_cache_entry(cache, pin, entry, sizeof(entry));
	mv_cache_partial(cache, pin, partial, sizeof(partial));
	ck_assert(access(entry, F_OK) < 0);
	ck_assert(access(partial, F_OK) < 0);

	/* Unpinned, the same URL is accepted and cached under its own hash. */
	s.sha256 = NULL;
	o.allow_unpinned = 1;
	struct mv_fetch_result res;
	ck_assert_msg(mv_source_fetch(&o, &s, &res, path, sizeof(path), err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(res.sha256, pin);
	ck_assert_str_eq(path, entry);
}
END_TEST

static Suite *source_suite(void)
{
	Suite *s = suite_create("source");
	TCase *tc = tcase_create("cache and decisions");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cache_dir_follows_xdg_then_home);
	tcase_add_test(tc, cache_paths_are_made_from_hashes_only);
	tcase_add_test(tc, cache_prepare_makes_the_tree);
	tcase_add_test(tc, retry_decisions);
	tcase_add_test(tc, backoff_doubles_and_is_capped);
	tcase_add_test(tc, ca_bundle_override_and_environment);
	tcase_add_test(tc, resolv_conf_nameservers);
	tcase_add_test(tc, local_sources_are_verified_in_place);
	tcase_add_test(tc, remote_sources_need_a_pin_and_a_cache_offline);
	suite_add_tcase(s, tc);

	tc = tcase_create("downloads");
	tcase_add_unchecked_fixture(tc, httpd_start, httpd_stop);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, download_resumes_and_verifies);
	tcase_add_test(tc, download_refuses_wrong_bytes);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(source_suite)
