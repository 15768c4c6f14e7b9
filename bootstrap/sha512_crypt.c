#include "sha512_crypt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha512.h>

enum { ROUNDS_DEFAULT = 5000, ROUNDS_MIN = 1000, ROUNDS_MAX = 999999999, SALT_MAX = 16 };

const char mv_crypt64[65] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* The order in which the scheme spreads the digest's bytes over groups of
 * four characters (its reference implementation's table). */
static const unsigned char order[21][3] = {
	{0, 21, 42},  {22, 43, 1},  {44, 2, 23},  {3, 24, 45},  {25, 46, 4},  {47, 5, 26},  {6, 27, 48},
	{28, 49, 7},  {50, 8, 29},  {9, 30, 51},  {31, 52, 10}, {53, 11, 32}, {12, 33, 54}, {34, 55, 13},
	{56, 14, 35}, {15, 36, 57}, {37, 58, 16}, {59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41},
};

static char *put64(char *o, unsigned w, int n)
{
	while (n-- > 0) {
		*o++ = mv_crypt64[w & 63];
		w >>= 6;
	}
	return o;
}

/* n bytes of the 64-byte digest d, repeated (the scheme's "for each
 * block of 64, the digest; then its first n % 64 bytes"). */
static void add_repeated(mbedtls_sha512_context *c, const unsigned char d[64], size_t n)
{
	for (; n > 64; n -= 64)
		mbedtls_sha512_update_ret(c, d, 64);
	mbedtls_sha512_update_ret(c, d, n);
}

/* SHA-512 of s repeated times times, then stretched to n bytes. */
static void sequence(const char *s, size_t slen, size_t times, unsigned char *out, size_t n)
{
	mbedtls_sha512_context c;
	unsigned char d[64];
	mbedtls_sha512_init(&c);
	mbedtls_sha512_starts_ret(&c, 0);
	for (size_t i = 0; i < times; i++)
		mbedtls_sha512_update_ret(&c, (const unsigned char *)s, slen);
	mbedtls_sha512_finish_ret(&c, d);
	mbedtls_sha512_free(&c);
	for (size_t i = 0; i < n; i += 64)
		memcpy(out + i, d, n - i < 64 ? n - i : 64);
}

int mv_sha512_crypt(const char *key, const char *setting, char *out, size_t len)
{
	if (strncmp(setting, "$6$", 3) != 0)
		return -1;
	const char *salt = setting + 3;
	unsigned long rounds = ROUNDS_DEFAULT;
	int custom_rounds = 0;
	if (strncmp(salt, "rounds=", 7) == 0) {
		char *end;
		unsigned long r = strtoul(salt + 7, &end, 10);
		if (*end != '$' || end == salt + 7)
			return -1;
		rounds = r < ROUNDS_MIN ? ROUNDS_MIN : r > ROUNDS_MAX ? ROUNDS_MAX : r;
		custom_rounds = 1;
		salt = end + 1;
	}
	size_t slen = strcspn(salt, "$"), klen = strlen(key);
	if (slen > SALT_MAX)
		slen = SALT_MAX;
	/* Only crypt's alphabet, as libxcrypt insists: a ':' or a newline
	 * would break the shadow line the hash goes into. */
	for (size_t i = 0; i < slen; i++)
		if (!memchr(mv_crypt64, salt[i], 64))
			return -1;

	unsigned char a[64], b[64];
	mbedtls_sha512_context c;
	mbedtls_sha512_init(&c);
	/* B = H(key salt key) */
	mbedtls_sha512_starts_ret(&c, 0);
	mbedtls_sha512_update_ret(&c, (const unsigned char *)key, klen);
	mbedtls_sha512_update_ret(&c, (const unsigned char *)salt, slen);
	mbedtls_sha512_update_ret(&c, (const unsigned char *)key, klen);
	mbedtls_sha512_finish_ret(&c, b);
	/* A = H(key salt B-stretched-to-klen, then B or key per bit of klen) */
	mbedtls_sha512_starts_ret(&c, 0);
	mbedtls_sha512_update_ret(&c, (const unsigned char *)key, klen);
	mbedtls_sha512_update_ret(&c, (const unsigned char *)salt, slen);
	add_repeated(&c, b, klen);
	for (size_t n = klen; n > 0; n >>= 1) {
		if (n & 1)
			mbedtls_sha512_update_ret(&c, b, 64);
		else
			mbedtls_sha512_update_ret(&c, (const unsigned char *)key, klen);
	}
	mbedtls_sha512_finish_ret(&c, a);

	unsigned char *p = malloc(klen + 1), s[SALT_MAX];
	if (!p) {
		mbedtls_sha512_free(&c);
		return -1;
	}
	sequence(key, klen, klen, p, klen);
	sequence(salt, slen, 16u + a[0], s, slen);
	for (unsigned long i = 0; i < rounds; i++) {
		mbedtls_sha512_starts_ret(&c, 0);
		if (i & 1)
			mbedtls_sha512_update_ret(&c, p, klen);
		else
			mbedtls_sha512_update_ret(&c, a, 64);
		if (i % 3)
			mbedtls_sha512_update_ret(&c, s, slen);
		if (i % 7)
			mbedtls_sha512_update_ret(&c, p, klen);
		if (i & 1)
			mbedtls_sha512_update_ret(&c, a, 64);
		else
			mbedtls_sha512_update_ret(&c, p, klen);
		mbedtls_sha512_finish_ret(&c, a);
	}
	mbedtls_sha512_free(&c);
	memset(p, 0, klen);
	free(p);

	char text[MV_SHA512_CRYPT_MAX], *o = text;
	o += custom_rounds ? sprintf(o, "$6$rounds=%lu$", rounds) : sprintf(o, "$6$");
	memcpy(o, salt, slen);
	o += slen;
	*o++ = '$';
	for (int g = 0; g < 21; g++)
		o = put64(o, (unsigned)a[order[g][0]] << 16 | (unsigned)a[order[g][1]] << 8 | a[order[g][2]], 4);
	o = put64(o, a[63], 2);
	*o = '\0';
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	if ((size_t)(o - text) >= len)
		return -1;
	memcpy(out, text, (size_t)(o - text) + 1);
	return 0;
}
