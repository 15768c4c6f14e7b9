#include "gpt_move.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}
static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int io(int write, int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = write ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0)
		errno = EIO;
	return -1;
}

static void header_crc(uint8_t *h)
{
	uint32_t hs = le32(h + 12);
	put32(h + 16, 0);
	put32(h + 16, (uint32_t)crc32(0, h, hs));
}

int mv_gpt_move_backup(int fd, uint64_t size, unsigned ss, char *err, size_t errlen)
{
	uint8_t *h = calloc(1, ss), *mbr = calloc(1, ss), *ents = NULL;
	int rc = -1;
	if (!h || !mbr) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (io(0, fd, h, ss, ss) < 0 || io(0, fd, mbr, ss, 0) < 0)
		goto ioerr;
	uint32_t hs = le32(h + 12), crc = le32(h + 16);
	if (memcmp(h, "EFI PART", 8) != 0 || hs < 92 || hs > ss) {
		rc = 0;
		goto out;
	}
	put32(h + 16, 0);
	if ((uint32_t)crc32(0, h, hs) != crc) {
		rc = 0; /* not a GPT we can trust: leave it alone */
		goto out;
	}
	put32(h + 16, crc);
	uint64_t last = size / ss - 1, old = le64(h + 32), entries_lba = le64(h + 72);
	uint32_t n = le32(h + 80), esz = le32(h + 84);
	uint64_t ebytes = (uint64_t)n * esz, esectors = (ebytes + ss - 1) / ss;
	if (old == last) {
		rc = 0;
		goto out;
	}
	if (old > last || ebytes == 0 || ebytes > (16u << 20) || le64(h + 48) >= last - esectors) {
		snprintf(err, errlen, "the image's GPT does not fit this device (backup header at sector %llu, device ends at %llu)",
			 (unsigned long long)old, (unsigned long long)last);
		goto out;
	}
	if (!(ents = calloc(1, esectors * ss))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (io(0, fd, ents, esectors * ss, entries_lba * ss) < 0)
		goto ioerr;
	uint8_t *b = calloc(1, ss);
	if (!b) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* The backup: entries just before the last sector, the header in it. */
	memcpy(b, h, hs);
	put64(b + 24, last);
	put64(b + 32, 1);
	put64(b + 72, last - esectors);
	put64(b + 48, last - esectors - 1);
	header_crc(b);
	put64(h + 32, last);
	put64(h + 48, last - esectors - 1);
	header_crc(h);
	uint8_t *zero = calloc(1, ss);
	int bad = !zero || io(1, fd, ents, esectors * ss, (last - esectors) * ss) < 0 || io(1, fd, b, ss, last * ss) < 0 ||
		  (old < last - esectors && io(1, fd, zero, ss, old * ss) < 0) || io(1, fd, h, ss, ss) < 0;
	free(b);
	free(zero);
	if (bad)
		goto ioerr;
	/* The protective MBR covers the whole disk, or as much as 32 bits say. */
	if (mbr[510] == 0x55 && mbr[511] == 0xaa && mbr[446 + 4] == 0xee) {
		put32(mbr + 446 + 12, last > 0xffffffffu ? 0xffffffffu : (uint32_t)last);
		if (io(1, fd, mbr, ss, 0) < 0)
			goto ioerr;
	}
	rc = 1;
	goto out;
ioerr:
	snprintf(err, errlen, "moving the backup GPT to the end: %s", strerror(errno));
	rc = -1;
out:
	free(h);
	free(mbr);
	free(ents);
	return rc;
}
