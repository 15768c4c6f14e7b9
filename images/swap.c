#include "swap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Linux's union swap_header (include/linux/swap.h): boot bits, then at
 * byte 1024 version, last_page, nr_badpages, uuid[16], volume_name[16],
 * and "SWAPSPACE2" in the last 10 bytes of the first page. */
#define PAGE 4096
#define INFO 1024

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

int mv_swap_format(const struct mv_io *io, const uint8_t uuid[16], const char *label, char *err, size_t errlen)
{
	uint64_t pages = io->length / PAGE;
	if (pages < 10 || pages - 1 > UINT32_MAX) {
		snprintf(err, errlen, "a swap partition needs 10 to 2^32 pages of 4 KiB; this one has %llu",
			 (unsigned long long)pages);
		return -1;
	}
	uint8_t page[PAGE];
	memset(page, 0, sizeof(page));
	le32(page + INFO, 1);
	le32(page + INFO + 4, (uint32_t)(pages - 1));
	memcpy(page + INFO + 12, uuid, 16);
	if (label)
		strncpy((char *)page + INFO + 28, label, 16);
	memcpy(page + PAGE - 10, "SWAPSPACE2", 10);
	/* The whole first page, always: old signatures in the boot bits
	 * (a FAT or an MBR) must not survive on a reused target. */
	if (mv_io_pwrite(io, 0, page, sizeof(page)) < 0) {
		snprintf(err, errlen, "writing the swap signature: %s", strerror(errno));
		return -1;
	}
	return 0;
}
