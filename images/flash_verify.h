/* flash_verify: flash's read-back (images/flash.h), on a second thread
 * while the writes go on. flash hands over each extent it has written
 * (after sync_file_range has started its writeback); the verifier waits
 * for that writeback to finish, reads the extent from the device with
 * O_DIRECT (the bytes come from the device, never the page cache; where
 * O_DIRECT is refused, the range's cached pages are dropped first) and
 * hashes it into its segment's digest, which is compared with the block
 * map's SHA-256 or the digest of what was written. Verifying extent N
 * while extent N+1 is written hides the read-back and the hash behind the
 * writes, instead of a second pass after them.
 *
 * Reading an extent soon after writing it would miss a later write that
 * lands on it (a fake-capacity card wrapping its addresses): so the
 * verifier keeps the SHA-256 of the first 4 KiB of every chunk it
 * verified, and after the last write and fsync mv_flash_verify_finish
 * reads those blocks again and compares. */
#ifndef MV_FLASH_VERIFY_H
#define MV_FLASH_VERIFY_H
#include <stddef.h>
#include <stdint.h>

#include "flash.h"

/* One item: an extent written to every device (len > 0), or the end of a
 * segment (len 0) with what its bytes must hash to. */
struct mv_flash_check {
	uint64_t off, len;
	uint64_t seg_off, seg_len;
	const char *want;    /* the block map's SHA-256 (hex), or NULL: digest */
	uint8_t digest[32];
};

/* Why a device failed verification. */
struct mv_flash_vfail {
	int failed;
	int mismatch;            /* a segment's digest differed (else: err) */
	uint64_t seg_off, seg_len;
	const char *want;
	char err[300];
};

struct mv_flash_verifier;

/* Verifies d[0..n) in the background; chunk: the largest read. For tests,
 * corrupt_at >= 0 flips that byte on each device between its writeback
 * and its read-back, or with corrupt_late after the last write. NULL when out of memory or threads. */
struct mv_flash_verifier *mv_flash_verify_start(struct mv_flash_dest *d, size_t n, size_t chunk, int64_t corrupt_at,
					       int corrupt_late);
/* Hands over one item (blocks while the verifier is far behind). */
void mv_flash_verify_push(struct mv_flash_verifier *v, const struct mv_flash_check *c);
/* After the last write and fsync: waits for the verifier, re-checks the
 * samples, fills fail[0..n) and *verified (bytes read back per device),
 * and frees v. abort: the writes stopped early; just stop. */
void mv_flash_verify_finish(struct mv_flash_verifier *v, int abort, struct mv_flash_vfail *fail, uint64_t *verified);

#endif
