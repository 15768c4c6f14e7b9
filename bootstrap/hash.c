#include "hash.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static int have_sha_ni(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	unsigned ebx7 = b;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	/* SHA (leaf 7 EBX bit 29), SSSE3 (leaf 1 ECX bit 9), SSE4.1 (bit 19) */
	return (ebx7 >> 29 & 1) && (c >> 9 & 1) && (c >> 19 & 1);
}

/* The SHA-256 compression function on the SHA extensions. The state is
 * kept as the instructions want it: ABEF and CDGH. Each group of four
 * rounds adds its four schedule words and constants, two rounds per
 * sha256rnds2; the schedule for groups 4-15 comes from sha256msg1/2. */
__attribute__((target("sha,ssse3,sse4.1")))
static void blocks_ni(uint32_t state[8], const uint8_t *data, size_t n)
{
	const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);
	__m128i s1 = _mm_loadu_si128((const __m128i *)&state[4]);
	tmp = _mm_shuffle_epi32(tmp, 0xB1);           /* CDAB */
	s1 = _mm_shuffle_epi32(s1, 0x1B);             /* EFGH */
	__m128i s0 = _mm_alignr_epi8(tmp, s1, 8);     /* ABEF */
	s1 = _mm_blend_epi16(s1, tmp, 0xF0);          /* CDGH */

	while (n--) {
		__m128i abef = s0, cdgh = s1, m[4];
		for (int g = 0; g < 16; g++) {
			if (g < 4) {
				m[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * g)), swap);
			} else {
				/* W[t-16] + s0(W[t-15]) + W[t-7], then s1 of the
				 * newest words, four at a time. */
				__m128i x = _mm_sha256msg1_epu32(m[g % 4], m[(g + 1) % 4]);
				x = _mm_add_epi32(x, _mm_alignr_epi8(m[(g + 3) % 4], m[(g + 2) % 4], 4));
				m[g % 4] = _mm_sha256msg2_epu32(x, m[(g + 3) % 4]);
			}
			__m128i w = _mm_add_epi32(m[g % 4], _mm_loadu_si128((const __m128i *)&K[4 * g]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, w);
			s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(w, 0x0E));
		}
		s0 = _mm_add_epi32(s0, abef);
		s1 = _mm_add_epi32(s1, cdgh);
		data += 64;
	}

	tmp = _mm_shuffle_epi32(s0, 0x1B);            /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xB1);             /* DCHG */
	s0 = _mm_blend_epi16(tmp, s1, 0xF0);          /* DCBA */
	s1 = _mm_alignr_epi8(s1, tmp, 8);             /* HGFE */
	_mm_storeu_si128((__m128i *)&state[0], s0);
	_mm_storeu_si128((__m128i *)&state[4], s1);
}
#else
static int have_sha_ni(void)
{
	return 0;
}

static void blocks_ni(uint32_t state[8], const uint8_t *data, size_t n)
{
	(void)state, (void)data, (void)n;
}
#endif

static const uint32_t H0[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

void mv_hash_init_plain(struct mv_hash *h)
{
	memset(h, 0, sizeof(*h));
	mbedtls_sha256_init(&h->m);
	mbedtls_sha256_starts_ret(&h->m, 0);
}

void mv_hash_init(struct mv_hash *h)
{
	if (!have_sha_ni()) {
		mv_hash_init_plain(h);
		return;
	}
	memset(h, 0, sizeof(*h));
	h->accel = 1;
	memcpy(h->state, H0, sizeof(H0));
}

void mv_hash_update(struct mv_hash *h, const void *data, size_t len)
{
	if (!h->accel) {
		mbedtls_sha256_update_ret(&h->m, data, len);
		return;
	}
	const uint8_t *p = data;
	h->length += len;
	if (h->used) {
		size_t take = 64 - h->used < len ? 64 - h->used : len;
		memcpy(h->block + h->used, p, take);
		h->used += take;
		p += take;
		len -= take;
		if (h->used < 64)
			return;
		blocks_ni(h->state, h->block, 1);
		h->used = 0;
	}
	if (len >= 64) {
		blocks_ni(h->state, p, len / 64);
		p += len / 64 * 64;
		len %= 64;
	}
	memcpy(h->block, p, len);
	h->used = len;
}

void mv_hash_final(struct mv_hash *h, uint8_t out[32])
{
	if (!h->accel) {
		mbedtls_sha256_finish_ret(&h->m, out);
		mbedtls_sha256_free(&h->m);
		return;
	}
	uint64_t bits = h->length * 8;
	uint8_t pad[72] = {0x80};
	size_t padlen = (h->used < 56 ? 56 : 120) - h->used;
	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	mv_hash_update(h, pad, padlen + 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(h->state[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h->state[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h->state[i] >> 8);
		out[4 * i + 3] = (uint8_t)h->state[i];
	}
}
