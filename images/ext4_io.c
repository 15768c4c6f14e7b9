/* An io_manager for libext2fs over struct mv_io: unix_io opens by path and
 * knows no length bound, while this one uses the target's descriptor, the
 * partition's window, and mv_io_pwrite (bounds-checked and recorded) for
 * every byte it writes. Per-channel state lives in private_data; the
 * manager itself is a const table. */
#include "ext4_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chan {
	const struct mv_io *io;
	int trust_holes;
};

int mv_ext4_io_name(const struct mv_io *io, char *buf, size_t len)
{
	int n = snprintf(buf, len, "mv_io:%p", (const void *)io);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

void mv_ext4_io_trust_holes(io_channel ch, int on)
{
	struct chan *c = ch->private_data;
	c->trust_holes = on;
}

static errcode_t chan_open(const char *name, int flags, io_channel *out)
{
	void *p = NULL;
	(void)flags;
	if (!name || sscanf(name, "mv_io:%p", &p) != 1 || !p)
		return EXT2_ET_BAD_DEVICE_NAME;
	io_channel ch = calloc(1, sizeof(*ch));
	struct chan *c = calloc(1, sizeof(*c));
	char *copy = strdup(name);
	if (!ch || !c || !copy) {
		free(ch);
		free(c);
		free(copy);
		return EXT2_ET_NO_MEMORY;
	}
	c->io = p;
	ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	/* libext2fs never writes through its manager pointer; the field is
	 * not const only because the struct predates const. */
	ch->manager = (io_manager)&mv_ext4_io_manager;
	ch->name = copy;
	ch->block_size = 1024;
	ch->refcount = 1;
	ch->private_data = c;
	*out = ch;
	return 0;
}

static errcode_t chan_close(io_channel ch)
{
	if (--ch->refcount > 0)
		return 0;
	free(ch->private_data);
	free(ch->name);
	free(ch);
	return 0;
}

static errcode_t chan_set_blksize(io_channel ch, int blksize)
{
	if (blksize <= 0)
		return EXT2_ET_INVALID_ARGUMENT;
	ch->block_size = blksize;
	return 0;
}

/* libext2fs's convention: a negative count is a byte count. */
static int span(io_channel ch, unsigned long long block, int count, uint64_t *off, size_t *len)
{
	uint64_t bs = (uint64_t)ch->block_size;
	*len = count < 0 ? (size_t)-(int64_t)count : (size_t)count * bs;
	if (block > UINT64_MAX / bs)
		return -1;
	*off = block * bs;
	return 0;
}

static errcode_t chan_read64(io_channel ch, unsigned long long block, int count, void *data)
{
	struct chan *c = ch->private_data;
	uint64_t off;
	size_t len;
	if (span(ch, block, count, &off, &len) < 0)
		return EXT2_ET_LLSEEK_FAILED;
	if (mv_io_pread(c->io, off, data, len) < 0)
		return errno == ENOSPC ? EXT2_ET_SHORT_READ : (errcode_t)errno;
	return 0;
}

static errcode_t chan_write64(io_channel ch, unsigned long long block, int count, const void *data)
{
	struct chan *c = ch->private_data;
	uint64_t off;
	size_t len;
	if (span(ch, block, count, &off, &len) < 0)
		return EXT2_ET_LLSEEK_FAILED;
	if (mv_io_pwrite(c->io, off, data, len) < 0)
		return errno == ENOSPC ? EXT2_ET_SHORT_WRITE : (errcode_t)errno;
	return 0;
}

static errcode_t chan_read(io_channel ch, unsigned long block, int count, void *data)
{
	return chan_read64(ch, block, count, data);
}

static errcode_t chan_write(io_channel ch, unsigned long block, int count, const void *data)
{
	return chan_write64(ch, block, count, data);
}

/* The target's owner flushes it once, at the end (DESIGN.md: finalize). */
static errcode_t chan_flush(io_channel ch)
{
	(void)ch;
	return 0;
}

static errcode_t chan_set_option(io_channel ch, const char *option, const char *arg)
{
	(void)ch;
	(void)option;
	(void)arg;
	return EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t chan_zeroout(io_channel ch, unsigned long long block, unsigned long long count)
{
	struct chan *c = ch->private_data;
	uint64_t bs = (uint64_t)ch->block_size;
	if (block > UINT64_MAX / bs || count > UINT64_MAX / bs)
		return EXT2_ET_LLSEEK_FAILED;
	struct mv_io io = *c->io;
	/* mv_io_zero skips a fresh target; after mkfs a block may have held
	 * our own data, so pretend the target is reused. */
	if (!c->trust_holes)
		io.fresh = 0;
	if (mv_io_zero(&io, block * bs, count * bs) < 0)
		return errno == ENOSPC ? EXT2_ET_SHORT_WRITE : (errcode_t)errno;
	return 0;
}

/* No write_byte: without it ext2fs_flush writes the whole primary
 * superblock, never only the bytes that differ from what it believes is
 * on disk (which, on a reused target, it is not). No get_stats:
 * s_kbytes_written stays 0, one less thing that varies between builds. */
const struct struct_io_manager mv_ext4_io_manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "microvisor mv_io",
	.open = chan_open,
	.close = chan_close,
	.set_blksize = chan_set_blksize,
	.read_blk = chan_read,
	.write_blk = chan_write,
	.flush = chan_flush,
	.set_option = chan_set_option,
	.read_blk64 = chan_read64,
	.write_blk64 = chan_write64,
	.zeroout = chan_zeroout,
};
