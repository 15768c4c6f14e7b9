/* Reads bmaptool's block map (what images/bmap.c writes and `bmaptool
 * create` makes). The format is small and fixed, so a scan for its
 * elements does; anything unexpected is an error naming the element. */
#include "bmap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../bootstrap/seed.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n + 65536 + 1 > cap) {
			char *b = realloc(buf, cap = cap * 2 + 65536 + 1);
			if (!b) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = b;
		}
		size_t got = fread(buf + n, 1, 65536, f);
		n += got;
		if (got < 65536)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad || n > (64u << 20)) {
		free(buf);
		errno = bad ? EIO : EFBIG;
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The text between <tag> and </tag>, trimmed, or NULL. */
static int element(const char *text, const char *tag, char *out, size_t len)
{
	char open[64], close[64];
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	const char *a = strstr(text, open), *b = a ? strstr(a, close) : NULL;
	if (!b)
		return -1;
	a += strlen(open);
	while (a < b && (*a == ' ' || *a == '\t' || *a == '\n'))
		a++;
	while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\n'))
		b--;
	if ((size_t)(b - a) >= len)
		return -1;
	memcpy(out, a, (size_t)(b - a));
	out[b - a] = '\0';
	return 0;
}

static int number(const char *text, const char *tag, uint64_t *v)
{
	char s[64], *end;
	if (element(text, tag, s, sizeof(s)) < 0)
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end ? -1 : 0;
}

static int fail(char *err, size_t errlen, const char *path, const char *what)
{
	snprintf(err, errlen, "block map %s: %s", path, what);
	return -1;
}

static size_t n_hex(const char *s)
{
	size_t n = 0;
	while ((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') || (s[n] >= 'A' && s[n] <= 'F'))
		n++;
	return n;
}

static int parse_ranges(const char *text, struct mv_bmap *b, const char *path, char *err, size_t errlen)
{
	size_t cap = 0;
	for (const char *p = strstr(text, "<Range"); p; p = strstr(p + 1, "<Range")) {
		const char *gt = strchr(p, '>'), *q = strstr(p, "chksum=\"");
		if (!gt || !q || q > gt || gt[-1] == '/')
			return fail(err, errlen, path, "a <Range> without chksum=\"...\"");
		q += 8;
		if (n_hex(q) != 64)
			return fail(err, errlen, path, "a <Range> whose chksum is not a SHA-256");
		if (b->n == cap) {
			void *v = realloc(b->ranges, (cap = cap ? cap * 2 : 64) * sizeof(*b->ranges));
			if (!v)
				return fail(err, errlen, path, "out of memory");
			b->ranges = v;
		}
		struct mv_bmap_range *r = &b->ranges[b->n];
		for (int i = 0; i < 64; i++)
			r->sha256[i] = (char)(q[i] >= 'A' && q[i] <= 'F' ? q[i] - 'A' + 'a' : q[i]);
		r->sha256[64] = '\0';
		unsigned long long first, last;
		int used = 0;
		if (sscanf(gt + 1, " %llu-%llu %n", &first, &last, &used) == 2 && used)
			;
		else if (sscanf(gt + 1, " %llu %n", &first, &used) == 1 && used)
			last = first;
		else
			return fail(err, errlen, path, "a <Range> that is not FIRST or FIRST-LAST");
		if (strncmp(gt + 1 + used, "</Range>", 8) != 0 || last < first || last >= b->blocks ||
		    (b->n && first <= b->ranges[b->n - 1].last))
			return fail(err, errlen, path, "a <Range> out of order or past BlocksCount");
		r->first = first;
		r->last = last;
		b->n++;
	}
	return 0;
}

int mv_bmap_read(const char *path, struct mv_bmap *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	size_t len;
	char *text = slurp(path, &len);
	if (!text) {
		snprintf(err, errlen, "block map %s: %s", path, strerror(errno));
		return -1;
	}
	/* Elements are looked for outside comments (bmaptool's own comments
	 * name them): a copy with the comments blanked out. */
	char *plain = strdup(text);
	if (!plain) {
		free(text);
		return fail(err, errlen, path, "out of memory");
	}
	for (char *c = strstr(plain, "<!--"); c; c = strstr(c, "<!--")) {
		char *e = strstr(c, "-->");
		size_t n = e ? (size_t)(e + 3 - c) : strlen(c);
		memset(c, ' ', n);
		c += n;
	}
	int rc = -1;
	const char *v = strstr(plain, "<bmap version=\"");
	char sum[80], type[16];
	if (!v || v[15] != '2')
		fail(err, errlen, path, "not a bmaptool block map of version 2.x");
	else if (number(plain, "ImageSize", &out->image_size) < 0 || number(plain, "BlockSize", &out->block_size) < 0 ||
		 number(plain, "BlocksCount", &out->blocks) < 0 || number(plain, "MappedBlocksCount", &out->mapped) < 0)
		fail(err, errlen, path, "ImageSize, BlockSize, BlocksCount or MappedBlocksCount missing or not a number");
	else if (out->block_size == 0 || out->block_size % 512 ||
		 out->blocks != (out->image_size + out->block_size - 1) / out->block_size)
		fail(err, errlen, path, "BlocksCount does not match ImageSize and BlockSize");
	else if (element(plain, "ChecksumType", type, sizeof(type)) < 0 || strcmp(type, "sha256") != 0)
		fail(err, errlen, path, "ChecksumType is not sha256");
	else if (element(plain, "BmapFileChecksum", sum, sizeof(sum)) < 0 || n_hex(sum) != 64 || sum[64])
		fail(err, errlen, path, "no BmapFileChecksum");
	else
		rc = 0;
	if (rc == 0) {
		/* The file's checksum is taken with its own field as zeros. */
		char *at = strstr(text, sum), hex[65];
		uint8_t d[32];
		memset(at, '0', 64);
		mv_sha256(text, len, d);
		mv_hex(d, sizeof(d), hex);
		memcpy(at, sum, 64);
		if (strncasecmp(hex, sum, 64) != 0)
			rc = fail(err, errlen, path, "BmapFileChecksum does not match the file: it was changed or damaged");
	}
	if (rc == 0)
		rc = parse_ranges(plain, out, path, err, errlen);
	if (rc == 0) {
		uint64_t mapped = 0;
		for (size_t i = 0; i < out->n; i++)
			mapped += out->ranges[i].last - out->ranges[i].first + 1;
		if (mapped != out->mapped)
			rc = fail(err, errlen, path, "the ranges do not add up to MappedBlocksCount");
	}
	free(text);
	free(plain);
	if (rc < 0)
		mv_bmap_free(out);
	return rc;
}

void mv_bmap_free(struct mv_bmap *b)
{
	free(b->ranges);
	b->ranges = NULL;
	b->n = 0;
}
