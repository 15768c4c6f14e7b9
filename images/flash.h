/* flash: writes one image onto one or more devices from a single read of
 * the image (DESIGN.md: "whole-image work: sparse output, block map, flash
 * + verify").
 *
 * What is written: the ranges of a block map (bmaptool's format) when one
 * is given; else, for a raw image, its data ranges (SEEK_DATA/SEEK_HOLE,
 * as bmaptool create finds them); else (a compressed image, .gz .xz .zst
 * ... streamed through libarchive's raw format) every byte. Chunks of
 * 4 MiB at 4 KiB-aligned offsets; each chunk goes to every device before
 * the next is read. Then fsync; then, unless verify is off, every written
 * range is read back from the device (O_DIRECT: the device's bytes, never
 * the page cache's, and no copy through it; where O_DIRECT is refused,
 * after dropping the cache) and its SHA-256 compared with what was
 * written. A pass after the last write, not one behind each write: it
 * also sees a later write landing on earlier bytes (a fake-capacity card
 * wrapping its addresses). With a block map, the image's
 * own bytes are also checked against the map's checksums as they are
 * read (a damaged or mismatched image is reported, not flashed silently).
 * Finally a GPT's backup is moved to the end of a larger device
 * (images/gpt_move.h).
 *
 * Refused before writing: a device smaller than the image (when the
 * image's size is known; a compressed image without a block map is found
 * too large when the device ends), or with another logical sector size
 * than the image's GPT was made for, or, for an MBR-only image (which
 * records no sector size), whose sectors would put the MBR's partitions
 * past the image's end (its size unknown: the device's) where 512-byte
 * sectors keep them inside. A device that fails does not stop the
 * others. */
#ifndef MV_FLASH_H
#define MV_FLASH_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct mv_flash_dest {
	int fd;
	const char *name;
	uint64_t size;
	unsigned sector_size;
	int failed;          /* out */
	char err[600];       /* out: why, when failed */
	int gpt_moved;       /* out */
};

struct mv_flash_options {
	int verify;
	const char *bmap;     /* NULL: the image's own data ranges */
	FILE *progress;       /* NULL: quiet */
	int progress_tty;     /* redraw one status line */
	/* For tests only (MV_FLASH_TEST_CORRUPT): flip the byte at this device
	 * offset on every device between writing and verifying; -1: never. */
	int64_t corrupt_at;
};

struct mv_flash_stats {
	uint64_t image_size;  /* bytes of the (uncompressed) image */
	uint64_t written;     /* bytes written to each device */
	int compressed;
	unsigned sector_size; /* the image's, from its GPT; 0 when unknown */
};

/* Returns 0 when every device was written (and verified); 1 when some
 * failed (see each dest's err); -1 when the image itself could not be
 * read or does not match its block map (err). */
int mv_flash(const char *image, struct mv_flash_dest *d, size_t n, const struct mv_flash_options *o,
	     struct mv_flash_stats *st, char *err, size_t errlen);

#endif
