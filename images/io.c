#include "io.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static int in_window(const struct mv_io *io, uint64_t off, uint64_t len)
{
	if (off > io->length || len > io->length - off) {
		errno = ENOSPC;
		return 0;
	}
	return 1;
}

int mv_io_pwrite(const struct mv_io *io, uint64_t off, const void *buf, size_t len)
{
	if (!in_window(io, off, len))
		return -1;
	const char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(io->fd, p + done, len - done, (off_t)(io->offset + off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		done += (size_t)n;
	}
	if (io->written && len)
		io->written(io->written_ctx, off, len);
	return 0;
}

int mv_io_pread(const struct mv_io *io, uint64_t off, void *buf, size_t len)
{
	if (!in_window(io, off, len))
		return -1;
	char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(io->fd, p + done, len - done, (off_t)(io->offset + off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			/* Past the end of a sparse image file that is not yet
			 * extended: reads as zeros, like a hole. */
			memset(p + done, 0, len - done);
			break;
		}
		done += (size_t)n;
	}
	return 0;
}

int mv_io_zero(const struct mv_io *io, uint64_t off, uint64_t len)
{
	if (!in_window(io, off, len))
		return -1;
	if (io->fresh)
		return 0;
	static const char zeros[65536];
	while (len) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		if (mv_io_pwrite(io, off, zeros, n) < 0)
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}
