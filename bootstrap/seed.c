#include "seed.h"

#include "hash.h"

#include <stdio.h>
#include <string.h>

#include <mbedtls/md.h>

void mv_sha256(const void *data, size_t len, uint8_t out[32])
{
	struct mv_hash h;
	mv_hash_init(&h);
	mv_hash_update(&h, data, len);
	mv_hash_final(&h, out);
}

void mv_hex(const uint8_t *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

void mv_seed_from_text(struct mv_seed *seed, const char *text)
{
	mv_sha256(text, strlen(text), seed->key);
}

void mv_seed_id(const struct mv_seed *seed, const char *purpose, uint8_t out[32])
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	mbedtls_md_hmac(md, seed->key, sizeof(seed->key),
			(const unsigned char *)purpose, strlen(purpose), out);
}

void mv_seed_uuid(const struct mv_seed *seed, const char *purpose, char out[37])
{
	uint8_t id[32];
	mv_seed_id(seed, purpose, id);
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9],
		 id[10], id[11], id[12], id[13], id[14], id[15]);
}

uint32_t mv_seed_u32(const struct mv_seed *seed, const char *purpose)
{
	uint8_t id[32];
	mv_seed_id(seed, purpose, id);
	for (unsigned i = 0; i + 4 <= sizeof(id); i += 4) {
		uint32_t v = (uint32_t)id[i] | (uint32_t)id[i + 1] << 8 |
			     (uint32_t)id[i + 2] << 16 | (uint32_t)id[i + 3] << 24;
		if (v)
			return v;
	}
	return 1;
}

void mv_seed_hex(const struct mv_seed *seed, char out[65])
{
	mv_hex(seed->key, sizeof(seed->key), out);
}

int mv_uuid_parse(const char *text, uint8_t out[16])
{
	int n = 0;
	for (const char *c = text; *c; c++) {
		if (*c == '-')
			continue;
		int v = *c >= '0' && *c <= '9' ? *c - '0' : *c >= 'a' && *c <= 'f' ? *c - 'a' + 10
		      : *c >= 'A' && *c <= 'F' ? *c - 'A' + 10 : -1;
		if (v < 0 || n == 32)
			return -1;
		if (n % 2 == 0)
			out[n / 2] = (uint8_t)(v << 4);
		else
			out[n / 2] |= (uint8_t)v;
		n++;
	}
	return n == 32 ? 0 : -1;
}
