/* The accelerated SHA-256 gives the digests mbedTLS and sha256sum give. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bootstrap/hash.h"
#include "../../bootstrap/seed.h"
#include "check_main.h"

static void digest(int plain, const uint8_t *data, size_t len, size_t chunk, char hex[65])
{
	struct mv_hash h;
	uint8_t out[32];
	if (plain)
		mv_hash_init_plain(&h);
	else
		mv_hash_init(&h);
	for (size_t off = 0; off < len; off += chunk)
		mv_hash_update(&h, data + off, len - off < chunk ? len - off : chunk);
	mv_hash_final(&h, out);
	mv_hex(out, 32, hex);
}

START_TEST(known_answers)
{
	char hex[65];
	digest(0, (const uint8_t *)"", 0, 1, hex);
	ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	digest(0, (const uint8_t *)"abc", 3, 3, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	digest(0, (const uint8_t *)two, strlen(two), 7, hex);
	ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(agrees_with_mbedtls_at_every_length)
{
	size_t max = 1 << 16;
	uint8_t *data = malloc(max);
	srand(42);
	for (size_t i = 0; i < max; i++)
		data[i] = (uint8_t)rand();
	static const size_t lengths[] = {1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096, 65535, 65536};
	static const size_t chunks[] = {1, 3, 64, 100, 4096, 1 << 16};
	for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++)
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			char a[65], b[65];
			digest(0, data, lengths[l], chunks[c], a);
			digest(1, data, lengths[l], lengths[l], b);
			ck_assert_msg(strcmp(a, b) == 0, "length %zu in chunks of %zu: %s != %s", lengths[l], chunks[c], a, b);
		}
	free(data);
}
END_TEST

START_TEST(agrees_with_sha256sum)
{
	FILE *f = fopen("/tmp/mv-hash-test", "w");
	uint8_t buf[10000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	fwrite(buf, 1, sizeof(buf), f);
	fclose(f);
	FILE *p = popen("sha256sum /tmp/mv-hash-test", "r");
	char want[80] = "";
	ck_assert_ptr_nonnull(fgets(want, sizeof(want), p));
	pclose(p);
	remove("/tmp/mv-hash-test");
	char got[65];
	digest(0, buf, sizeof(buf), 333, got);
	ck_assert_msg(strncmp(want, got, 64) == 0, "%s vs %s", want, got);
}
END_TEST

START_TEST(the_sha_extensions_are_used_where_the_cpu_has_them)
{
	/* Otherwise the comparisons above would compare mbedTLS with itself. */
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	int sha_ni = 0;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "flags", 5) == 0 && strstr(line, " sha_ni"))
			sha_ni = 1;
	if (f)
		fclose(f);
	struct mv_hash h;
	uint8_t out[32];
	mv_hash_init(&h);
	ck_assert_int_eq(h.accel, sha_ni);
	mv_hash_final(&h, out);
}
END_TEST

static Suite *hash_suite(void)
{
	Suite *s = suite_create("hash");
	TCase *tc = tcase_create("sha256");
	tcase_add_test(tc, known_answers);
	tcase_add_test(tc, agrees_with_mbedtls_at_every_length);
	tcase_add_test(tc, agrees_with_sha256sum);
	tcase_add_test(tc, the_sha_extensions_are_used_where_the_cpu_has_them);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(hash_suite)
