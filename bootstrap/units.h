/* units: sizes as people write them in profiles and on the command line. */
#ifndef MV_UNITS_H
#define MV_UNITS_H
#include <stddef.h>
#include <stdint.h>

/* Parse "512M", "4G", "1GiB", "300MB", "1048576" or "1.5G" into bytes.
 * Suffixes K, M, G, T (optionally followed by "iB" or "B") are powers of
 * 1024, as in sfdisk, systemd-repart and mkosi: an image size is about
 * sectors, never about marketing gigabytes. Returns 0 on success, -1 when
 * the text is not a size or overflows 64 bits. */
int mv_parse_size(const char *text, uint64_t *bytes);

/* "512 MiB", "1.5 GiB", "34 KiB" or "999 B": exact to one decimal. */
const char *mv_human_size(uint64_t bytes, char *buf, size_t len);

/* SOURCE_DATE_EPOCH, else 0: the same inputs give the same bytes. */
int64_t mv_source_date_epoch(void);

static inline uint64_t mv_align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}
static inline uint64_t mv_align_down(uint64_t v, uint64_t a)
{
	return v / a * a;
}

#endif
