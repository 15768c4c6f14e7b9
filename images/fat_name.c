/* fat_name: FAT's names and times. A name is stored as up to 255 UTF-16
 * units in long-name (VFAT) entries plus an 8.3 alias; names compare
 * case-insensitively. The alias rule is in fat.c's header. */
#include "fat_impl.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* Decodes one UTF-8 sequence; returns its length, or 0 if it is not
 * well-formed (overlong, a surrogate, above U+10FFFF, truncated). */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len;
	uint32_t c = s[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		len = 2;
		c &= 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		c &= 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		c &= 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

int fat_utf8_to_utf16(const char *s, uint16_t *out, size_t max, size_t *n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k = 0;

	while (*p) {
		uint32_t c;
		size_t len = utf8_decode(p, &c);
		if (!len)
			return -EILSEQ;
		p += len;
		if (c >= 0x10000) {
			if (k + 2 > max)
				return -ENAMETOOLONG;
			c -= 0x10000;
			out[k++] = (uint16_t)(0xd800 | c >> 10);
			out[k++] = (uint16_t)(0xdc00 | (c & 0x3ff));
		} else {
			if (k + 1 > max)
				return -ENAMETOOLONG;
			out[k++] = (uint16_t)c;
		}
	}
	*n = k;
	return 0;
}

int fat_name_valid(const uint16_t *u, size_t n, const char **why)
{
	if (n == 0 || (n == 1 && u[0] == '.') || (n == 2 && u[0] == '.' && u[1] == '.')) {
		*why = "is not a name";
		return -EINVAL;
	}
	if (n > FAT_NAME_MAX) {
		*why = "is longer than 255 UTF-16 characters";
		return -ENAMETOOLONG;
	}
	for (size_t i = 0; i < n; i++) {
		if (u[i] < 0x20 || (u[i] < 0x80 && strchr("\"*/:<>?\\|", u[i]))) {
			*why = "contains a character FAT cannot store (control, \"*/:<>?\\|)";
			return -EINVAL;
		}
	}
	/* Windows and Linux drop trailing dots and spaces: the name would
	 * not read back as written. */
	if (u[n - 1] == '.' || u[n - 1] == ' ') {
		*why = "ends in a dot or a space, which FAT readers drop";
		return -EINVAL;
	}
	return 0;
}

/* Characters an 8.3 name may hold besides A-Z and 0-9. */
static int short_char(unsigned c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && c < 0x80 && strchr("!#$%&'()-@^_`{}~", (int)c));
}

/* One part of an 8.3 name as given: 1 if it fits (len <= max, every
 * character allowed, one case only); *lower says whether it was lower. */
static int short_part(const char *s, size_t len, size_t max, char *out, int *lower)
{
	int has_lower = 0, has_upper = 0;

	if (len > max)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned c = (unsigned char)s[i];
		if (c >= 'a' && c <= 'z') {
			has_lower = 1;
			c -= 'a' - 'A';
		} else if (c >= 'A' && c <= 'Z') {
			has_upper = 1;
		}
		if (!short_char(c))
			return 0;
		out[i] = (char)c;
	}
	*lower = has_lower;
	return !(has_lower && has_upper);
}

int fat_name_is_short(const char *name, uint8_t sn[11], uint8_t *ntcase)
{
	const char *dot = strchr(name, '.');
	size_t blen = dot ? (size_t)(dot - name) : strlen(name);
	const char *ext = dot ? dot + 1 : "";
	char out[11];
	int blower, elower = 0;

	if (blen == 0 || strchr(ext, '.'))
		return 0;
	memset(out, ' ', sizeof(out));
	if (!short_part(name, blen, 8, out, &blower) ||
	    !short_part(ext, strlen(ext), 3, out + 8, &elower))
		return 0;
	memcpy(sn, out, 11);
	*ntcase = (uint8_t)((blower ? 0x08 : 0) | (elower ? 0x10 : 0));
	return 1;
}

/* An alias character for c; clears *exact when it is not c up to case. */
static uint8_t alias_char(uint16_t c, int *exact)
{
	if (c >= 'a' && c <= 'z')
		return (uint8_t)(c - ('a' - 'A'));
	if (short_char(c))
		return (uint8_t)c;
	*exact = 0;
	return '_';
}

int fat_short_basis(const uint16_t *u, size_t n, uint8_t basis[11])
{
	size_t start = 0, bend = n, bi = 0, ei = 0;
	int exact = 1;

	memset(basis, ' ', 11);
	while (start < n && (u[start] == '.' || u[start] == ' ')) {
		start++;
		exact = 0;
	}
	for (size_t i = start; i < n; i++)
		if (u[i] == '.')
			bend = i;
	for (size_t i = start; i < bend; i++) {
		if (u[i] == ' ' || u[i] == '.' || (u[i] >= 0xdc00 && u[i] <= 0xdfff)) {
			exact = 0; /* dropped; a low surrogate's pair gave one '_' */
			continue;
		}
		uint8_t c = alias_char(u[i], &exact);
		if (bi < 8)
			basis[bi++] = c;
		else
			exact = 0;
	}
	if (bi == 0) {
		basis[0] = '_';
		exact = 0;
	}
	for (size_t i = bend + 1; i < n; i++) {
		if (u[i] == ' ' || (u[i] >= 0xdc00 && u[i] <= 0xdfff)) {
			exact = 0;
			continue;
		}
		uint8_t c = alias_char(u[i], &exact);
		if (ei < 3)
			basis[8 + ei++] = c;
		else
			exact = 0;
	}
	return exact;
}

void fat_short_tail(const uint8_t basis[11], unsigned n, uint8_t out[11])
{
	char tail[12];
	size_t keep = 0, tlen = 0;

	tail[tlen++] = '~';
	char digits[10];
	size_t nd = 0;
	do {
		digits[nd++] = (char)('0' + n % 10);
		n /= 10;
	} while (n && nd < sizeof(digits));
	while (nd)
		tail[tlen++] = digits[--nd];
	while (keep < 8 && basis[keep] != ' ')
		keep++;
	if (keep > 8 - tlen)
		keep = 8 - tlen;
	memcpy(out, basis, 11);
	memcpy(out + keep, tail, tlen);
	memset(out + keep + tlen, ' ', 8 - keep - tlen);
}

uint8_t fat_lfn_checksum(const uint8_t sn[11])
{
	uint8_t sum = 0;
	for (int i = 0; i < 11; i++)
		sum = (uint8_t)(((sum & 1) << 7) + (sum >> 1) + sn[i]);
	return sum;
}

unsigned fat_lfn_count(size_t n)
{
	return (unsigned)((n + FAT_LFN_CHARS - 1) / FAT_LFN_CHARS);
}

void fat_lfn_entries(const uint16_t *u, size_t n, const uint8_t sn[11], uint8_t *out)
{
	/* Byte offsets of the 13 characters inside one entry. */
	static const uint8_t at[FAT_LFN_CHARS] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
	unsigned count = fat_lfn_count(n);
	uint8_t sum = fat_lfn_checksum(sn);

	for (unsigned k = 0; k < count; k++) {
		unsigned seq = count - k; /* the last part comes first */
		uint8_t *e = out + (size_t)k * FAT_DIRENT;
		memset(e, 0, FAT_DIRENT);
		e[0] = (uint8_t)(seq | (k == 0 ? 0x40 : 0));
		e[11] = 0x0f;
		e[13] = sum;
		for (unsigned j = 0; j < FAT_LFN_CHARS; j++) {
			size_t pos = (size_t)(seq - 1) * FAT_LFN_CHARS + j;
			uint16_t c = pos < n ? u[pos] : pos == n ? 0x0000 : 0xffff;
			fat_put16(e + at[j], c);
		}
	}
}

/* Upper case for the scripts a boot partition's names plausibly use
 * (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic); other characters
 * compare as they are. */
uint16_t fat_upcase(uint16_t c)
{
	if (c >= 'a' && c <= 'z')
		return (uint16_t)(c - 0x20);
	if (c < 0xe0)
		return c;
	if (c <= 0xfe)
		return c == 0xf7 ? c : (uint16_t)(c - 0x20);
	if (c == 0xff)
		return 0x178;
	if ((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177))
		return (uint16_t)(c & ~1u);
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
		return (c & 1) ? c : (uint16_t)(c - 1);
	if (c >= 0x3b1 && c <= 0x3c9)
		return c == 0x3c2 ? 0x3a3 : (uint16_t)(c - 0x20);
	if (c >= 0x430 && c <= 0x44f)
		return (uint16_t)(c - 0x20);
	if (c >= 0x450 && c <= 0x45f)
		return (uint16_t)(c - 0x50);
	return c;
}

int fat_name_equal(const uint16_t *a, size_t na, const uint16_t *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (fat_upcase(a[i]) != fat_upcase(b[i]))
			return 0;
	return 1;
}

uint32_t fat_name_hash(const uint16_t *u, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		uint16_t c = fat_upcase(u[i]);
		h = (h ^ (c & 0xff)) * 16777619u;
		h = (h ^ (c >> 8)) * 16777619u;
	}
	return h;
}

#define FAT_EPOCH_MIN 315532800ll  /* 1980-01-01 00:00:00 UTC */
#define FAT_EPOCH_MAX 4354819198ll /* 2107-12-31 23:59:58 UTC */

void fat_time_encode(int64_t t, uint32_t nsec, struct fat_time *out)
{
	struct tm tm;
	time_t tt;

	if (t < FAT_EPOCH_MIN || t > FAT_EPOCH_MAX) {
		t = t < FAT_EPOCH_MIN ? FAT_EPOCH_MIN : FAT_EPOCH_MAX;
		nsec = 0;
	}
	tt = (time_t)t;
	gmtime_r(&tt, &tm);
	out->date = (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
	out->time = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
	out->tenth = (uint8_t)((tm.tm_sec & 1) * 100 + (nsec < 1000000000u ? nsec / 10000000u : 0));
}

int64_t fat_time_decode(uint16_t date, uint16_t time)
{
	struct tm tm = {
		.tm_year = (date >> 9) + 80,
		.tm_mon = ((date >> 5) & 15) - 1,
		.tm_mday = date & 31,
		.tm_hour = time >> 11,
		.tm_min = (time >> 5) & 63,
		.tm_sec = (time & 31) * 2,
	};
	return (int64_t)timegm(&tm);
}
