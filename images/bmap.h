/* bmap: the block map of an image in bmaptool's format (version 2.0), so
 * `bmaptool copy` and `microvisor flash` write only the mapped blocks and
 * verify each range's SHA-256. The ranges are the image file's data ranges
 * (SEEK_DATA/SEEK_HOLE), as `bmaptool create` finds them. */
#ifndef MV_BMAP_H
#define MV_BMAP_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MV_BMAP_BLOCK 4096

/* Writes the bmap of the image open at fd (size bytes) to out. Returns 0,
 * or -1 with err set. */
int mv_bmap_write(int fd, uint64_t size, FILE *out, char *err, size_t errlen);

/* A block map read back (images/bmap_read.c): bmaptool's format 2.x with
 * sha256 checksums (1.x and sha1 are refused). The file's own
 * BmapFileChecksum is checked. */
struct mv_bmap_range {
	uint64_t first, last;  /* blocks, inclusive */
	char sha256[65];       /* lower-case hex */
};
struct mv_bmap {
	uint64_t image_size, block_size, blocks, mapped;
	size_t n;
	struct mv_bmap_range *ranges;
};

/* Returns 0, or -1 with err naming the file and what is wrong. Free with
 * mv_bmap_free. */
int mv_bmap_read(const char *path, struct mv_bmap *out, char *err, size_t errlen);
void mv_bmap_free(struct mv_bmap *b);

#endif
