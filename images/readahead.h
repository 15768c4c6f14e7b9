/* readahead: reads byte ranges of a descriptor in order on a second thread,
 * into two buffers, while the caller works on the previous chunk (flash's
 * verification hashes one chunk while the device reads the next). */
#ifndef MV_READAHEAD_H
#define MV_READAHEAD_H
#include <stddef.h>
#include <stdint.h>

struct mv_range {
	uint64_t off, len;
};

struct mv_readahead;

/* Reads ranges[0..n) of fd in chunks of at most chunk bytes, each read
 * rounded up to whole 4 KiB blocks (fd may be O_DIRECT; ranges start on
 * 4 KiB). NULL when out
 * of memory or no thread could start. */
struct mv_readahead *mv_readahead_start(int fd, const struct mv_range *ranges, size_t n, size_t chunk);
/* The next chunk, in order: 1 with *buf, *len, *off set (valid until the
 * next call), 0 at the end, -1 on a read error (errno; *off where). */
int mv_readahead_next(struct mv_readahead *r, const uint8_t **buf, size_t *len, uint64_t *off);
/* Stops the thread (also early) and frees everything. */
void mv_readahead_stop(struct mv_readahead *r);

#endif
