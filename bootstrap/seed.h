/* seed: every identifier in an image derives from one seed (DESIGN.md,
 * "Reproducible output"), so the same inputs give the same image and
 * another seed gives other identifiers.
 *
 * The rule, documented in profiles/README.md:
 *   seed          = SHA-256(seed text)
 *   id(purpose)   = HMAC-SHA256(key = seed, message = purpose)
 *   UUID(purpose) = first 16 bytes of id(purpose), with the RFC 4122 version
 *                   set to 4 and the variant to 10xx (as systemd-repart does)
 * The seed text is --seed, else [Disk] Seed=, else "<Name>\n<hostname>" with
 * the customisation's hostname (empty when none): never the build host's. */
#ifndef MV_SEED_H
#define MV_SEED_H
#include <stddef.h>
#include <stdint.h>

struct mv_seed {
	uint8_t key[32];
};

void mv_seed_from_text(struct mv_seed *seed, const char *text);
void mv_seed_id(const struct mv_seed *seed, const char *purpose, uint8_t out[32]);
/* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", lower case */
void mv_seed_uuid(const struct mv_seed *seed, const char *purpose, char out[37]);
/* 32-bit identifiers (MBR disk signature, FAT volume id); never zero,
 * because zero means "none" to Linux and to the Raspberry Pi firmware. */
uint32_t mv_seed_u32(const struct mv_seed *seed, const char *purpose);
/* The seed as 64 hex digits, for plan output. */
void mv_seed_hex(const struct mv_seed *seed, char out[65]);

/* "xxxxxxxx-xxxx-..." into 16 bytes; -1 if it is not a UUID. */
int mv_uuid_parse(const char *text, uint8_t out[16]);

void mv_sha256(const void *data, size_t len, uint8_t out[32]);
void mv_hex(const uint8_t *bytes, size_t n, char *out);

#endif
