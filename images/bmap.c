#include "bmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "../bootstrap/hash.h"
#include "../bootstrap/seed.h"

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

/* SHA-256 of the bytes [from, to) of fd. */
static int hash_range(int fd, uint64_t from, uint64_t to, char hex[65])
{
	static const size_t chunk = 1 << 20;
	unsigned char *buf = malloc(chunk), digest[32];
	if (!buf)
		return -ENOMEM;
	struct mv_hash c;
	mv_hash_init(&c);
	int rc = 0;
	while (from < to) {
		size_t want = to - from < chunk ? (size_t)(to - from) : chunk;
		ssize_t n = pread(fd, buf, want, (off_t)from);
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		mv_hash_update(&c, buf, (size_t)n);
		from += (uint64_t)n;
	}
	mv_hash_final(&c, digest);
	free(buf);
	mv_hex(digest, sizeof(digest), hex);
	return rc;
}

struct ranges {
	uint64_t (*v)[2]; /* first and last block, inclusive */
	size_t n, cap;
	uint64_t mapped;
};

static int add_range(struct ranges *r, uint64_t first, uint64_t last)
{
	if (r->n && r->v[r->n - 1][1] + 1 >= first) { /* touching: one range */
		if (last > r->v[r->n - 1][1]) {
			r->mapped += last - r->v[r->n - 1][1];
			r->v[r->n - 1][1] = last;
		}
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		void *v = realloc(r->v, cap * sizeof(*r->v));
		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n][0] = first;
	r->v[r->n][1] = last;
	r->n++;
	r->mapped += last - first + 1;
	return 0;
}

static int find_ranges(int fd, uint64_t size, struct ranges *r)
{
	off_t pos = 0;
	while ((uint64_t)pos < size) {
		off_t data = lseek(fd, pos, SEEK_DATA);
		if (data < 0)
			return errno == ENXIO ? 0 : -errno; /* ENXIO: no more data */
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if ((uint64_t)hole > size)
			hole = (off_t)size;
		int rc = add_range(r, (uint64_t)data / MV_BMAP_BLOCK, ((uint64_t)hole - 1) / MV_BMAP_BLOCK);
		if (rc < 0)
			return rc;
		pos = hole;
	}
	return 0;
}

int mv_bmap_write(int fd, uint64_t size, FILE *out, char *err, size_t errlen)
{
	struct ranges r = {0};
	char *text = NULL;
	size_t len = 0;
	int rc = find_ranges(fd, size, &r);
	if (rc < 0) {
		snprintf(err, errlen, "finding the image's data ranges: %s", strerror(-rc));
		goto out;
	}
	FILE *m = open_memstream(&text, &len);
	if (!m) {
		rc = -ENOMEM;
		goto out;
	}
	uint64_t blocks = (size + MV_BMAP_BLOCK - 1) / MV_BMAP_BLOCK;
	fprintf(m, "<?xml version=\"1.0\" ?>\n"
		   "<!-- The block map of an image made by microvisor: the ranges of blocks\n"
		   "     holding data. bmaptool copy and microvisor flash write only these. -->\n"
		   "<bmap version=\"2.0\">\n"
		   "    <ImageSize> %llu </ImageSize>\n"
		   "    <BlockSize> %d </BlockSize>\n"
		   "    <BlocksCount> %llu </BlocksCount>\n"
		   "    <MappedBlocksCount> %llu </MappedBlocksCount>\n"
		   "    <ChecksumType> sha256 </ChecksumType>\n"
		   "    <BmapFileChecksum> " ZEROS " </BmapFileChecksum>\n"
		   "    <BlockMap>\n",
		(unsigned long long)size, MV_BMAP_BLOCK, (unsigned long long)blocks, (unsigned long long)r.mapped);
	for (size_t i = 0; i < r.n && rc == 0; i++) {
		char hex[65];
		uint64_t end = (r.v[i][1] + 1) * MV_BMAP_BLOCK;
		rc = hash_range(fd, r.v[i][0] * MV_BMAP_BLOCK, end < size ? end : size, hex);
		if (r.v[i][0] == r.v[i][1])
			fprintf(m, "        <Range chksum=\"%s\"> %llu </Range>\n", hex, (unsigned long long)r.v[i][0]);
		else
			fprintf(m, "        <Range chksum=\"%s\"> %llu-%llu </Range>\n", hex,
				(unsigned long long)r.v[i][0], (unsigned long long)r.v[i][1]);
	}
	fprintf(m, "    </BlockMap>\n</bmap>\n");
	fclose(m);
	if (rc < 0) {
		snprintf(err, errlen, "reading the image: %s", strerror(-rc));
		goto out;
	}
	/* The file's own checksum is taken with its field all zeros. */
	uint8_t digest[32];
	char hex[65];
	mv_sha256(text, len, digest);
	mv_hex(digest, sizeof(digest), hex);
	memcpy(strstr(text, ZEROS), hex, 64);
	if (fwrite(text, 1, len, out) != len || fflush(out) != 0) {
		snprintf(err, errlen, "writing the block map: %s", strerror(errno));
		rc = -EIO;
	}
out:
	free(r.v);
	free(text);
	return rc < 0 ? -1 : 0;
}
