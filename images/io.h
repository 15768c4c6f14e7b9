/* io: a writer's window onto its target. A partition is an offset and a
 * length inside one open file or block device (DESIGN.md); every byte a
 * writer reads or writes goes through these calls, which refuse anything
 * outside the window and record what was written (the block map, and the
 * proof that nothing outside the partition was touched). */
#ifndef MV_IO_H
#define MV_IO_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mv_io {
	int fd;               /* the target, opened once by its owner */
	uint64_t offset;      /* the window's first byte in fd */
	uint64_t length;      /* the window's size */
	unsigned sector_size; /* the target's logical sector size */
	/* 1: a fresh sparse file, every unwritten byte reads as zero, so a
	 * writer may leave zero blocks unwritten. 0: a reused target (device,
	 * old file): a writer must write every metadata block it relies on. */
	int fresh;
	/* Called after each successful write with the window-relative range;
	 * may be NULL. */
	void (*written)(void *ctx, uint64_t off, uint64_t len);
	void *written_ctx;
};

/* Window-relative pread/pwrite: whole transfers or -1 with errno (EIO on a
 * short transfer, ENOSPC when the range leaves the window). */
int mv_io_pwrite(const struct mv_io *io, uint64_t off, const void *buf, size_t len);
int mv_io_pread(const struct mv_io *io, uint64_t off, void *buf, size_t len);
/* Zeroes a range: on a fresh target only what is needed (nothing), on a
 * reused one by writing zeros. */
int mv_io_zero(const struct mv_io *io, uint64_t off, uint64_t len);

#endif
