/* hash: streaming SHA-256 for everything microvisor verifies or maps
 * (downloads, cache entries, block maps). mbedTLS's mbedcrypto does the
 * work, except where the CPU has SHA extensions (x86 SHA-NI): there the
 * compression function runs on them, about eight times faster, because a
 * block map hashes every mapped byte of an image and mbedTLS 2.28 has no
 * such path. Both give the same digests (tests/unit/test_hash.c). */
#ifndef MV_HASH_H
#define MV_HASH_H
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/sha256.h>

struct mv_hash {
	int accel;                  /* the SHA extensions are used */
	mbedtls_sha256_context m;   /* otherwise */
	uint32_t state[8];
	uint8_t block[64];
	size_t used;
	uint64_t length;
};

void mv_hash_init(struct mv_hash *h);
void mv_hash_update(struct mv_hash *h, const void *data, size_t len);
void mv_hash_final(struct mv_hash *h, uint8_t out[32]);
/* For tests: 0 forces mbedTLS even where the CPU could do better. */
void mv_hash_init_plain(struct mv_hash *h);

#endif
