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

#endif
