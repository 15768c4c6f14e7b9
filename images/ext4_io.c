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

/* A small write-back cache of single blocks: libext2fs rewrites the same
 * inode-table and directory blocks many times per file and writes zeros
 * into every block it allocates just before the data lands there, so
 * without one a file costs a dozen pwrites (unix_io has a cache for the
 * same reason). Bounded: CACHE_BLOCKS blocks, least recently used out. */
#define CACHE_BLOCKS 64

struct cblk {
	unsigned long long blk;
	uint64_t used;        /* LRU tick */
	int valid, dirty;
	char *buf;
};

struct chan {
	const struct mv_io *io;
	int trust_holes;
	char *mem;            /* CACHE_BLOCKS * block size */
	uint64_t tick;
	struct cblk c[CACHE_BLOCKS];
};

static errcode_t cache_flush(io_channel ch);

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
	struct chan *c = ch->private_data;
	errcode_t err = cache_flush(ch);
	free(c->mem);
	free(c);
	free(ch->name);
	free(ch);
	return err;
}

/* The cache holds blocks of one size: a new size empties it. */
static errcode_t chan_set_blksize(io_channel ch, int blksize)
{
	struct chan *c = ch->private_data;
	if (blksize <= 0)
		return EXT2_ET_INVALID_ARGUMENT;
	if (blksize == ch->block_size)
		return 0;
	errcode_t err = cache_flush(ch);
	if (err)
		return err;
	for (int i = 0; i < CACHE_BLOCKS; i++)
		c->c[i].valid = 0;
	free(c->mem);
	c->mem = NULL;
	ch->block_size = blksize;
	return 0;
}

/* libext2fs's convention: a negative count is a byte count. */
static int span(io_channel ch, unsigned long long block, int count, uint64_t *off, size_t *len)
{
	struct chan *c = ch->private_data;
	uint64_t bs = (uint64_t)ch->block_size;
	*len = count < 0 ? (size_t)-(int64_t)count : (size_t)count * bs;
	if (block > UINT64_MAX / bs)
		return -1;
	*off = block * bs;
	return *off > c->io->length || *len > c->io->length - *off ? -1 : 0;
}

static errcode_t io_err(void)
{
	return errno == ENOSPC ? EXT2_ET_SHORT_WRITE : (errcode_t)errno;
}

static errcode_t put(io_channel ch, struct cblk *e)
{
	struct chan *c = ch->private_data;
	if (!e->valid || !e->dirty)
		return 0;
	uint64_t bs = (uint64_t)ch->block_size;
	if (mv_io_pwrite(c->io, e->blk * bs, e->buf, bs) < 0)
		return io_err();
	e->dirty = 0;
	return 0;
}

static errcode_t cache_flush(io_channel ch)
{
	struct chan *c = ch->private_data;
	for (int i = 0; i < CACHE_BLOCKS; i++) {
		errcode_t err = put(ch, &c->c[i]);
		if (err)
			return err;
	}
	return 0;
}

/* Before a transfer that bypasses the cache: cached blocks it overlaps
 * reach the disk first, or, when it overwrites them whole, are dropped. */
static errcode_t cache_sync(io_channel ch, uint64_t off, uint64_t len, int overwrite)
{
	struct chan *c = ch->private_data;
	uint64_t bs = (uint64_t)ch->block_size;
	for (int i = 0; i < CACHE_BLOCKS; i++) {
		struct cblk *e = &c->c[i];
		uint64_t start = e->blk * bs;
		if (!e->valid || start >= off + len || start + bs <= off)
			continue;
		if (overwrite && start >= off && start + bs <= off + len) {
			e->valid = 0;
			continue;
		}
		errcode_t err = put(ch, e);
		if (err)
			return err;
		if (overwrite)
			e->valid = 0;
	}
	return 0;
}

static struct cblk *cache_find(struct chan *c, unsigned long long blk)
{
	for (int i = 0; i < CACHE_BLOCKS; i++)
		if (c->c[i].valid && c->c[i].blk == blk)
			return &c->c[i];
	return NULL;
}

/* A slot for blk: a free one, or the least recently used, written out. */
static errcode_t cache_slot(io_channel ch, unsigned long long blk, struct cblk **out)
{
	struct chan *c = ch->private_data;
	if (!c->mem) {
		c->mem = malloc((size_t)CACHE_BLOCKS * (size_t)ch->block_size);
		if (!c->mem)
			return EXT2_ET_NO_MEMORY;
		for (int i = 0; i < CACHE_BLOCKS; i++)
			c->c[i].buf = c->mem + (size_t)i * (size_t)ch->block_size;
	}
	struct cblk *e = &c->c[0];
	for (int i = 0; i < CACHE_BLOCKS && e->valid; i++)
		if (!c->c[i].valid || c->c[i].used < e->used)
			e = &c->c[i];
	errcode_t err = put(ch, e);
	if (err)
		return err;
	e->blk = blk;
	e->valid = 1;
	e->dirty = 0;
	*out = e;
	return 0;
}

static errcode_t chan_read64(io_channel ch, unsigned long long block, int count, void *data)
{
	struct chan *c = ch->private_data;
	uint64_t off;
	size_t len;
	if (span(ch, block, count, &off, &len) < 0)
		return EXT2_ET_SHORT_READ;
	if (len != (size_t)ch->block_size) {
		errcode_t err = cache_sync(ch, off, len, 0);
		if (err)
			return err;
		return mv_io_pread(c->io, off, data, len) < 0 ? (errcode_t)errno : 0;
	}
	struct cblk *e = cache_find(c, block);
	if (!e) {
		errcode_t err = cache_slot(ch, block, &e);
		if (err)
			return err;
		if (mv_io_pread(c->io, off, e->buf, len) < 0) {
			e->valid = 0;
			return (errcode_t)errno;
		}
	}
	e->used = ++c->tick;
	memcpy(data, e->buf, len);
	return 0;
}

static errcode_t chan_write64(io_channel ch, unsigned long long block, int count, const void *data)
{
	struct chan *c = ch->private_data;
	uint64_t off;
	size_t len;
	if (span(ch, block, count, &off, &len) < 0)
		return EXT2_ET_SHORT_WRITE;
	if (len != (size_t)ch->block_size) {
		errcode_t err = cache_sync(ch, off, len, 1);
		if (err)
			return err;
		return mv_io_pwrite(c->io, off, data, len) < 0 ? io_err() : 0;
	}
	struct cblk *e = cache_find(c, block);
	if (!e) {
		errcode_t err = cache_slot(ch, block, &e);
		if (err)
			return err;
	}
	memcpy(e->buf, data, len);
	e->dirty = 1;
	e->used = ++c->tick;
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

/* Out of our cache; the target's owner syncs it once, at the end
 * (DESIGN.md: finalize). */
static errcode_t chan_flush(io_channel ch)
{
	return cache_flush(ch);
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
	errcode_t err = cache_sync(ch, block * bs, count * bs, 1);
	if (err)
		return err;
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
