#include "flash.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "../bootstrap/hash.h"
#include "../bootstrap/seed.h"
#include "../bootstrap/units.h"
#include "bmap.h"
#include "gpt_move.h"
#include "readahead.h"

#define CHUNK (4u << 20)
#define ALIGN 4096u
/* A compressed image without a map is hashed in segments of this size, so
 * a failed verification names a region. */
#define SEGMENT (UINT64_C(64) << 20)

/* The image: a raw file read with pread, or a compressed stream read in
 * order (offsets only grow). */
struct source {
	const char *path;
	int fd;
	struct archive *a;
	uint64_t pos;
};

struct seg {
	uint64_t off, len;
	uint8_t digest[32];
	const char *want; /* the block map's sha256, or NULL */
};

struct flash {
	struct source src;
	struct mv_flash_dest *d;
	size_t n;
	const struct mv_flash_options *o;
	struct mv_flash_stats *st;
	struct seg *segs;
	size_t nsegs, cap;
	uint8_t *buf;
	uint64_t mbr_end;   /* an MBR-only image: its partitions' end, in sectors */
	uint64_t total;     /* bytes to write, 0 when unknown */
	uint64_t done;
	struct timespec t0, last;
	char *err;
	size_t errlen;
};

static int open_archive(struct source *s)
{
	s->a = archive_read_new();
	if (!s->a)
		return -1;
	archive_read_support_filter_all(s->a);
	archive_read_support_format_raw(s->a);
	struct archive_entry *e;
	if (archive_read_open_filename(s->a, s->path, CHUNK) != ARCHIVE_OK ||
	    archive_read_next_header(s->a, &e) != ARCHIVE_OK)
		return -1;
	s->pos = 0;
	return 0;
}

static void close_source(struct source *s)
{
	if (s->a)
		archive_read_free(s->a);
	if (s->fd >= 0)
		close(s->fd);
	s->a = NULL;
	s->fd = -1;
}

/* Opens the image; a stream libarchive reads through a filter is
 * compressed, anything else is read raw (holes and all). */
static int open_source(struct source *s, int *compressed, char *err, size_t errlen)
{
	s->fd = -1;
	if (open_archive(s) < 0) {
		snprintf(err, errlen, "%s: %s", s->path, s->a ? archive_error_string(s->a) : "out of memory");
		close_source(s);
		return -1;
	}
	*compressed = archive_filter_count(s->a) > 1;
	if (*compressed)
		return 0;
	archive_read_free(s->a);
	s->a = NULL;
	s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
		return -1;
	}
	posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return 0;
}

/* Up to len bytes at off; *got 0 at the end. */
static int src_read(struct source *s, uint64_t off, uint8_t *buf, size_t len, size_t *got)
{
	if (s->fd >= 0) {
		ssize_t n;
		size_t have = 0;
		while (have < len && (n = pread(s->fd, buf + have, len - have, (off_t)(off + have))) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -1;
			have += (size_t)n;
		}
		*got = have;
		return 0;
	}
	while (s->pos < off) { /* a block map's gap: read past it */
		size_t skip = off - s->pos < len ? (size_t)(off - s->pos) : len;
		la_ssize_t n = archive_read_data(s->a, buf, skip);
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		s->pos += (uint64_t)n;
	}
	size_t have = 0;
	while (have < len) {
		la_ssize_t n = archive_read_data(s->a, buf + have, len - have);
		if (n < 0) {
			errno = EIO;
			return -1;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	s->pos += have;
	*got = have;
	return 0;
}

static int add_seg(struct flash *f, uint64_t off, uint64_t len, const char *want)
{
	if (f->nsegs == f->cap) {
		void *v = realloc(f->segs, (f->cap = f->cap ? f->cap * 2 : 64) * sizeof(*f->segs));
		if (!v)
			return -1;
		f->segs = v;
	}
	f->segs[f->nsegs++] = (struct seg){.off = off, .len = len, .want = want};
	f->total += len;
	return 0;
}

/* The raw image's data ranges, rounded out to 4 KiB blocks. */
static int data_ranges(struct flash *f, uint64_t size)
{
	off_t pos = 0;
	while ((uint64_t)pos < size) {
		off_t data = lseek(f->src.fd, pos, SEEK_DATA);
		if (data < 0)
			return errno == ENXIO ? 0 : -1;
		off_t hole = lseek(f->src.fd, data, SEEK_HOLE);
		if (hole < 0)
			return -1;
		uint64_t a = mv_align_down((uint64_t)data, ALIGN), b = mv_align_up((uint64_t)hole, ALIGN);
		if (b > size)
			b = size;
		if (f->nsegs && f->segs[f->nsegs - 1].off + f->segs[f->nsegs - 1].len >= a) {
			struct seg *l = &f->segs[f->nsegs - 1];
			f->total += b - (l->off + l->len);
			l->len = b - l->off;
		} else if (add_seg(f, a, b - a, NULL) < 0) {
			return -1;
		}
		pos = hole;
	}
	return 0;
}

static void fail_dest(struct mv_flash_dest *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_dest(struct mv_flash_dest *d, const char *fmt, ...)
{
	if (d->failed)
		return;
	d->failed = 1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
}

static double since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void progress(struct flash *f, const char *phase, uint64_t done, uint64_t total, int last)
{
	FILE *p = f->o->progress;
	if (!p || (!f->o->progress_tty && !last))
		return;
	if (!last && since(&f->last) < 0.25)
		return;
	clock_gettime(CLOCK_MONOTONIC, &f->last);
	char a[32], b[32];
	double secs = since(&f->t0);
	double rate = secs > 0 ? (double)done / secs / (1 << 20) : 0;
	if (total)
		fprintf(p, "%smicrovisor: %s %s of %s (%d%%), %.0f MiB/s%s", f->o->progress_tty ? "\r\033[K" : "", phase,
			mv_human_size(done, a, sizeof(a)), mv_human_size(total, b, sizeof(b)),
			(int)(total ? done * 100 / total : 100), rate, last ? "\n" : "");
	else
		fprintf(p, "%smicrovisor: %s %s, %.0f MiB/s%s", f->o->progress_tty ? "\r\033[K" : "", phase,
			mv_human_size(done, a, sizeof(a)), rate, last ? "\n" : "");
	fflush(p);
}

static size_t live(const struct flash *f)
{
	size_t k = 0;
	for (size_t i = 0; i < f->n; i++)
		k += !f->d[i].failed;
	return k;
}

static void put(struct flash *f, uint64_t off, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < f->n; i++) {
		struct mv_flash_dest *d = &f->d[i];
		if (d->failed)
			continue;
		if (off + len > d->size) {
			fail_dest(d, "too small: the image goes on past its end (%llu bytes)", (unsigned long long)d->size);
			continue;
		}
		size_t w = 0;
		while (w < len) {
			ssize_t k = pwrite(d->fd, buf + w, len - w, (off_t)(off + w));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				fail_dest(d, "writing at byte %llu: %s", (unsigned long long)(off + w), strerror(k < 0 ? errno : EIO));
				break;
			}
			w += (size_t)k;
		}
		/* Start writing back now rather than all at the final fsync, so
		 * the device works while the next chunk is read. */
		if (!d->failed)
			sync_file_range(d->fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
	}
	f->done += len;
}

/* One segment: read, hash (when verifying), write to every device. */
static int copy_seg(struct flash *f, struct seg *s, int *eof)
{
	struct mv_hash h;
	/* With a map, verifying compares the device with the map's checksum:
	 * one hash instead of two (a device matching the map proves the image
	 * matched it too). Without one, what was written is the reference. */
	int hash = f->o->verify && !s->want;
	if (hash)
		mv_hash_init(&h);
	uint64_t at = s->off, end = s->off + s->len;
	while (at < end) {
		size_t want = end - at < CHUNK ? (size_t)(end - at) : CHUNK, got;
		if (src_read(&f->src, at, f->buf, want, &got) < 0) {
			snprintf(f->err, f->errlen, "%s: reading at byte %llu: %s", f->src.path, (unsigned long long)at,
				 f->src.a ? archive_error_string(f->src.a) : strerror(errno));
			return -1;
		}
		if (got == 0)
			break;
		/* Overlap: the kernel reads the next chunk ahead while this one
		 * is hashed and written. */
		if (f->src.fd >= 0 && at + got < end)
			posix_fadvise(f->src.fd, (off_t)(at + got), 2 * CHUNK, POSIX_FADV_WILLNEED);
		if (hash)
			mv_hash_update(&h, f->buf, got);
		put(f, at, f->buf, got);
		at += got;
		progress(f, "writing", f->done, f->total, 0);
		if (!live(f))
			return 0;
		if (got < want)
			break;
	}
	if (at < end) {
		if (!eof || s->want) {
			snprintf(f->err, f->errlen, "%s ends at byte %llu, before the %llu bytes its block map names",
				 f->src.path, (unsigned long long)at, (unsigned long long)end);
			return -1;
		}
		*eof = 1;
		s->len = at - s->off;
	}
	if (hash)
		mv_hash_final(&h, s->digest);
	if (hash && s->want) {
		char hex[65];
		mv_hex(s->digest, sizeof(s->digest), hex);
		if (strcmp(hex, s->want) != 0) {
			snprintf(f->err, f->errlen, "%s does not match its block map at bytes %llu-%llu (SHA-256 %s, the map says %s): the image or the map is damaged, or they do not belong together",
				 f->src.path, (unsigned long long)s->off, (unsigned long long)(s->off + s->len - 1), hex, s->want);
			return -1;
		}
	}
	return 0;
}

static int write_all(struct flash *f, int stream)
{
	if (!stream) {
		for (size_t i = 0; i < f->nsegs && live(f); i++)
			if (copy_seg(f, &f->segs[i], NULL) < 0)
				return -1;
		return 0;
	}
	/* A compressed image without a map: everything, in segments, until
	 * the stream ends. */
	int eof = 0;
	for (uint64_t off = 0; !eof && live(f); off += SEGMENT) {
		if (add_seg(f, off, SEGMENT, NULL) < 0) {
			snprintf(f->err, f->errlen, "out of memory");
			return -1;
		}
		f->total = 0;
		if (copy_seg(f, &f->segs[f->nsegs - 1], &eof) < 0)
			return -1;
		if (f->segs[f->nsegs - 1].len == 0)
			f->nsegs--;
	}
	return 0;
}

/* After a range read back differs from the map: is the image itself
 * different from the map there (raw images; a stream is gone by now)? */
static int image_differs(struct flash *f, const struct seg *s)
{
	if (f->src.fd < 0)
		return 0;
	struct mv_hash h;
	mv_hash_init(&h);
	for (uint64_t at = s->off; at < s->off + s->len;) {
		size_t want = s->off + s->len - at < CHUNK ? (size_t)(s->off + s->len - at) : CHUNK, got;
		if (src_read(&f->src, at, f->buf, want, &got) < 0 || got == 0)
			return 0;
		mv_hash_update(&h, f->buf, got);
		at += got;
	}
	uint8_t d[32];
	char hex[65];
	mv_hash_final(&h, d);
	mv_hex(d, sizeof(d), hex);
	return strcmp(hex, s->want) != 0;
}

/* Part of a device's verification: segments [first, last), read from fd
 * by a readahead thread while this one hashes. Two parts run at once,
 * one per core: the hash, not the read, is what takes the time. */
struct part {
	struct flash *f;
	int fd;
	size_t first, last;
	int show;        /* this part shows the progress */
	uint64_t done, total, all;
	int failed;      /* 1: see err; 2: segment bad read back differently */
	size_t bad;
	char err[300];
};

static void *verify_part(void *arg)
{
	struct part *p = arg;
	struct flash *f = p->f;
	struct mv_range *ranges = calloc(p->last - p->first + 1, sizeof(*ranges));
	for (size_t i = p->first; ranges && i < p->last; i++)
		ranges[i - p->first] = (struct mv_range){f->segs[i].off, f->segs[i].len};
	struct mv_readahead *ra = ranges ? mv_readahead_start(p->fd, ranges, p->last - p->first, CHUNK) : NULL;
	if (!ra) {
		p->failed = 1;
		snprintf(p->err, sizeof(p->err), "verifying: out of memory or threads");
		free(ranges);
		return NULL;
	}
	for (size_t i = p->first; i < p->last && !p->failed; i++) {
		const struct seg *s = &f->segs[i];
		struct mv_hash h;
		mv_hash_init(&h);
		for (uint64_t left = s->len; left;) {
			const uint8_t *buf;
			size_t k;
			uint64_t at;
			int rc = mv_readahead_next(ra, &buf, &k, &at);
			if (rc <= 0) {
				p->failed = 1;
				snprintf(p->err, sizeof(p->err), "reading back at byte %llu: %s",
					 (unsigned long long)(rc < 0 ? at : s->off + s->len - left), strerror(rc < 0 ? errno : EIO));
				break;
			}
			mv_hash_update(&h, buf, k);
			left -= k < left ? k : left;
			p->done += k;
			if (p->show) /* scaled: the other part goes as fast */
				progress(f, "verifying", p->total ? p->done * p->all / p->total : 0, p->all, 0);
		}
		if (p->failed)
			break;
		uint8_t got[32];
		char hex[65];
		mv_hash_final(&h, got);
		mv_hex(got, sizeof(got), hex);
		if (s->want ? strcmp(hex, s->want) != 0 : memcmp(got, s->digest, sizeof(got)) != 0) {
			p->failed = 2;
			p->bad = i;
		}
	}
	mv_readahead_stop(ra);
	free(ranges);
	return NULL;
}

static void verify(struct flash *f, struct mv_flash_dest *d)
{
	/* Read the device, not what the page cache kept of our writes: with
	 * O_DIRECT (which also spares copying every byte through the cache),
	 * else after dropping the cache. */
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", d->fd);
	int fd = open(self, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		posix_fadvise(d->fd, 0, 0, POSIX_FADV_DONTNEED);
		ioctl(d->fd, BLKFLSBUF, 0);
	}
	uint64_t all = 0, half = 0;
	for (size_t i = 0; i < f->nsegs; i++)
		all += f->segs[i].len;
	size_t m = 0; /* the second part starts at the segment past half the bytes */
	while (m < f->nsegs && half < all / 2)
		half += f->segs[m++].len;
	struct part p[2] = {
		{.f = f, .fd = fd >= 0 ? fd : d->fd, .first = 0, .last = m, .show = 1, .total = half, .all = all},
		{.f = f, .fd = fd >= 0 ? fd : d->fd, .first = m, .last = f->nsegs, .total = all - half, .all = all},
	};
	pthread_t t;
	int threaded = m < f->nsegs && pthread_create(&t, NULL, verify_part, &p[1]) == 0;
	clock_gettime(CLOCK_MONOTONIC, &f->t0);
	verify_part(&p[0]);
	if (threaded)
		pthread_join(t, NULL);
	else if (m < f->nsegs)
		verify_part(&p[1]);
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < 2 && !d->failed; i++) {
		const struct seg *s = &f->segs[p[i].bad];
		char a[32], b[32];
		if (p[i].failed == 1)
			fail_dest(d, "%s", p[i].err);
		else if (p[i].failed == 2 && s->want && image_differs(f, s))
			fail_dest(d, "%s does not match its block map at bytes %llu-%llu: the image or the map is damaged, or they do not belong together; the device holds what the image says",
				  f->src.path, (unsigned long long)s->off, (unsigned long long)(s->off + s->len - 1));
		else if (p[i].failed == 2)
			fail_dest(d, "verification failed: bytes %llu-%llu (%s at %s) read back differ from the image: the device does not keep what was written (a failing or fake-capacity card?)",
				  (unsigned long long)s->off, (unsigned long long)(s->off + s->len - 1),
				  mv_human_size(s->len, a, sizeof(a)), mv_human_size(s->off, b, sizeof(b)));
	}
	progress(f, "verified", p[0].done + p[1].done, all, 1);
}

static void corrupt_for_test(struct mv_flash_dest *d, int64_t at)
{
	uint8_t b;
	if (pread(d->fd, &b, 1, at) == 1) {
		b ^= 0xff;
		if (pwrite(d->fd, &b, 1, at) != 1 || fsync(d->fd) != 0)
			fail_dest(d, "test corruption at byte %lld: %s", (long long)at, strerror(errno));
	}
}

/* The image's logical sector size, from where its GPT header is. */
static unsigned image_sector_size(struct flash *f)
{
	size_t got;
	if (src_read(&f->src, 0, f->buf, 8192, &got) < 0 || got < 8192)
		return 0;
	if (memcmp(f->buf + 512, "EFI PART", 8) == 0)
		return 512;
	if (memcmp(f->buf + 4096, "EFI PART", 8) == 0)
		return 4096;
	/* An MBR says nothing of its sector size, but its entries count
	 * sectors: remember where its partitions end (prepare() judges). */
	if (f->buf[510] == 0x55 && f->buf[511] == 0xaa)
		for (int i = 0; i < 4; i++) {
			const uint8_t *e = f->buf + 446 + 16 * i;
			uint32_t lba[2];
			memcpy(lba, e + 8, sizeof(lba));
			uint64_t end = (uint64_t)le32toh(lba[0]) + le32toh(lba[1]);
			if (e[4] && end > f->mbr_end)
				f->mbr_end = end;
		}
	return 0;
}

/* An MBR-only image (a Raspberry Pi's) onto a device whose sectors are not
 * 512 bytes: its partitions land at sector-size/512 times the offsets. It
 * is refused when they only make sense with 512-byte sectors: they end
 * within the image (or, its size unknown, within the device) at 512 bytes
 * a sector, beyond it at the device's. An MBR that fits both ways is let
 * through: nothing says which one it was made for. */
static int mbr_misfits(const struct flash *f, const struct mv_flash_dest *d)
{
	uint64_t limit = f->st->image_size ? f->st->image_size : d->size;
	return f->mbr_end && d->sector_size > 512 && f->mbr_end * 512 <= limit && f->mbr_end * d->sector_size > limit;
}

static int prepare(struct flash *f, int compressed, struct mv_bmap *map)
{
	struct mv_flash_stats *st = f->st;
	st->sector_size = image_sector_size(f);
	if (compressed) { /* the peek consumed the stream's start: again */
		archive_read_free(f->src.a);
		f->src.a = NULL;
		if (open_archive(&f->src) < 0) {
			snprintf(f->err, f->errlen, "%s: cannot read it again", f->src.path);
			return -1;
		}
	}
	if (f->o->bmap) {
		if (mv_bmap_read(f->o->bmap, map, f->err, f->errlen) < 0)
			return -1;
		st->image_size = map->image_size;
		for (size_t i = 0; i < map->n; i++) {
			uint64_t a = map->ranges[i].first * map->block_size, b = (map->ranges[i].last + 1) * map->block_size;
			if (add_seg(f, a, (b < map->image_size ? b : map->image_size) - a, map->ranges[i].sha256) < 0)
				goto oom;
		}
		if (!compressed) {
			struct stat sb;
			if (fstat(f->src.fd, &sb) == 0 && (uint64_t)sb.st_size != map->image_size) {
				snprintf(f->err, f->errlen, "%s is %llu bytes, but its block map %s says %llu: they do not belong together",
					 f->src.path, (unsigned long long)sb.st_size, f->o->bmap, (unsigned long long)map->image_size);
				return -1;
			}
		}
	} else if (!compressed) {
		struct stat sb;
		if (fstat(f->src.fd, &sb) < 0 || data_ranges(f, (uint64_t)sb.st_size) < 0) {
			snprintf(f->err, f->errlen, "%s: finding its data ranges: %s", f->src.path, strerror(errno));
			return -1;
		}
		st->image_size = (uint64_t)sb.st_size;
	}
	for (size_t i = 0; i < f->n; i++) {
		struct mv_flash_dest *d = &f->d[i];
		char a[32], b[32];
		if (st->image_size && st->image_size > d->size) {
			d->failed = 1;
			snprintf(d->err, sizeof(d->err), "too small: the image is %s (%llu bytes), the device %s (%llu bytes); nothing was written",
				 mv_human_size(st->image_size, a, sizeof(a)), (unsigned long long)st->image_size,
				 mv_human_size(d->size, b, sizeof(b)), (unsigned long long)d->size);
		} else if (st->sector_size && d->sector_size && st->sector_size != d->sector_size) {
			d->failed = 1;
			snprintf(d->err, sizeof(d->err), "its logical sectors are %u bytes, but the image's GPT was made for %u-byte sectors: the partitions would be in the wrong places; build the image with SectorSize=%u; nothing was written",
				 d->sector_size, st->sector_size, d->sector_size);
		} else if (!st->sector_size && mbr_misfits(f, d)) {
			d->failed = 1;
			snprintf(d->err, sizeof(d->err), "its logical sectors are %u bytes, but the image's MBR partition table only makes sense with 512-byte sectors (its partitions end at byte %llu with 512-byte sectors, at byte %llu with %u-byte ones, past the %s's end): the partitions would be in the wrong places; use a device with 512-byte sectors; nothing was written",
				 d->sector_size, (unsigned long long)(f->mbr_end * 512), (unsigned long long)(f->mbr_end * d->sector_size),
				 d->sector_size, st->image_size ? "image" : "device");
		}
	}
	return 0;
oom:
	snprintf(f->err, f->errlen, "out of memory");
	return -1;
}

int mv_flash(const char *image, struct mv_flash_dest *d, size_t n, const struct mv_flash_options *o,
	     struct mv_flash_stats *st, char *err, size_t errlen)
{
	struct flash f = {.src = {.path = image, .fd = -1}, .d = d, .n = n, .o = o, .st = st, .err = err, .errlen = errlen};
	struct mv_bmap map = {0};
	memset(st, 0, sizeof(*st));
	int rc = -1;
	if (posix_memalign((void **)&f.buf, ALIGN, CHUNK) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (open_source(&f.src, &st->compressed, err, errlen) < 0 || prepare(&f, st->compressed, &map) < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &f.t0);
	if (live(&f) && write_all(&f, st->compressed && !o->bmap) < 0)
		goto out;
	progress(&f, "wrote", f.done, f.total, 1);
	st->written = f.done;
	if (!st->image_size)
		st->image_size = f.src.pos;
	for (size_t i = 0; i < n; i++)
		if (!d[i].failed && fsync(d[i].fd) != 0)
			fail_dest(&d[i], "flushing the writes: %s", strerror(errno));
	for (size_t i = 0; o->corrupt_at >= 0 && i < n; i++)
		if (!d[i].failed)
			corrupt_for_test(&d[i], o->corrupt_at);
	for (size_t i = 0; o->verify && i < n; i++)
		if (!d[i].failed)
			verify(&f, &d[i]);
	for (size_t i = 0; i < n; i++) {
		if (d[i].failed || !st->sector_size || d[i].size <= st->image_size)
			continue;
		char why[300];
		int m = mv_gpt_move_backup(d[i].fd, d[i].size, st->sector_size, why, sizeof(why));
		if (m < 0 || fsync(d[i].fd) != 0) {
			d[i].failed = 1;
			snprintf(d[i].err, sizeof(d[i].err), "%s", m < 0 ? why : strerror(errno));
		}
		d[i].gpt_moved = m > 0;
	}
	rc = 0;
	for (size_t i = 0; i < n; i++)
		if (d[i].failed)
			rc = 1;
out:
	close_source(&f.src);
	mv_bmap_free(&map);
	free(f.segs);
	free(f.buf);
	return rc;
}
