#include "units.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int suffix_shift(const char *s, unsigned *shift)
{
	static const char units[] = "KMGTPE";
	if (*s == '\0') {
		*shift = 0;
		return 0;
	}
	const char *u = strchr(units, toupper((unsigned char)*s));
	if (!u)
		return strcasecmp(s, "B") == 0 ? (*shift = 0, 0) : -1;
	*shift = 10u * (unsigned)(u - units + 1);
	s++;
	if (*s == '\0' || strcasecmp(s, "iB") == 0 || strcasecmp(s, "B") == 0)
		return 0;
	return -1;
}

int mv_parse_size(const char *text, uint64_t *bytes)
{
	const char *s = text;
	uint64_t whole = 0, frac = 0, frac_div = 1;
	int digits = 0;

	while (isdigit((unsigned char)*s)) {
		if (whole > (UINT64_MAX - 9) / 10)
			return -1;
		whole = whole * 10 + (uint64_t)(*s++ - '0');
		digits++;
	}
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			if (frac_div < 1000000000ull) {
				frac = frac * 10 + (uint64_t)(*s - '0');
				frac_div *= 10;
			}
			s++;
			digits++;
		}
	}
	if (!digits)
		return -1;
	while (*s == ' ')
		s++;
	unsigned shift;
	if (suffix_shift(s, &shift) < 0)
		return -1;
	if (shift && whole > (UINT64_MAX >> shift))
		return -1;
	uint64_t v = whole << shift;
	if (frac) {
		if (!shift)
			return -1; /* "1.5" bytes is not a size */
		uint64_t f = (frac << shift) / frac_div;
		if (v > UINT64_MAX - f)
			return -1;
		v += f;
	}
	*bytes = v;
	return 0;
}

const char *mv_human_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	unsigned u = 0;
	uint64_t unit = 1;
	while (u + 1 < sizeof(units) / sizeof(units[0]) && bytes / unit >= 1024) {
		unit <<= 10;
		u++;
	}
	uint64_t whole = bytes / unit;
	uint64_t tenth = (bytes % unit) * 10 / unit;
	if (tenth)
		snprintf(buf, len, "%llu.%llu %s", (unsigned long long)whole,
			 (unsigned long long)tenth, units[u]);
	else
		snprintf(buf, len, "%llu %s", (unsigned long long)whole, units[u]);
	return buf;
}

int64_t mv_source_date_epoch(void)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	if (!s || !*s)
		return 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	return *end ? 0 : (int64_t)v;
}
