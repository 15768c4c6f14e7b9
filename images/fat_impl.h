/* fat_impl: what the FAT writer's files share (fat.c: the node operations;
 * fat_geom.c: sizing and the reserved sectors; fat_name.c: names and
 * directory entries). Not a public interface: images/fat.h is. */
#ifndef MV_FAT_IMPL_H
#define MV_FAT_IMPL_H
#include <stddef.h>
#include <stdint.h>

#define FAT_MIN_CLUST_16 4085u     /* fewer clusters: FAT12 to every reader */
#define FAT_MIN_CLUST_32 65525u    /* fewer clusters: not FAT32 (UEFI refuses it) */
#define FAT_MAX_CLUST_32 0x0ffffff5u
#define FAT_DIRENT 32u
#define FAT_LFN_CHARS 13u
#define FAT_NAME_MAX 255u          /* UTF-16 code units in a long name */
#define FAT_DIR_MAX_ENTRIES 65536u /* ~N aliases and 16-bit entry offsets */

/* The on-disk shape, fixed when the writer is created. Sectors are counted
 * from the start of the window; clusters are numbered from 2. */
struct fat_geom {
	unsigned ss;           /* bytes per sector: the target's */
	unsigned spc;          /* sectors per cluster, a power of two <= 128 */
	unsigned bits;         /* 12, 16 or 32 */
	uint32_t reserved;     /* reserved sectors (boot sector, FSInfo, backups) */
	uint32_t fat_sectors;  /* sectors of one FAT; there are two */
	uint32_t root_entries; /* FAT12/16: the fixed root directory; FAT32: 0 */
	uint32_t root_sectors;
	uint32_t total;        /* sectors in the filesystem */
	uint32_t clusters;     /* data clusters, numbered 2 .. clusters + 1 */
	uint32_t data_start;   /* first sector of cluster 2 */
	uint32_t cluster_bytes;
};

/* Picks the FAT type and cluster size for a window of `bytes` (fat.c's
 * header comment has the rule). bits: 0 to choose, or 12, 16, 32.
 * Returns 0, or -1 with a message in err. */
int fat_geom_choose(uint64_t bytes, unsigned ss, unsigned bits, struct fat_geom *g,
		    char *err, size_t errlen);
/* The smallest window, in bytes, that holds FAT32 with sector size ss. */
uint64_t fat_geom_min_fat32(unsigned ss);

struct fat_volume {
	uint32_t volume_id;
	uint8_t label[11];     /* space padded; "NO NAME    " without a label */
	uint32_t hidden;       /* sectors before the window on the target */
	uint32_t root_cluster; /* FAT32 */
	uint32_t free_clusters;
	uint32_t next_free;
};

/* The reserved area, g->reserved sectors: boot sector, and on FAT32 the
 * FSInfo sector and the backups at sectors 6 and 7. buf is zeroed first. */
void fat_reserved_area(const struct fat_geom *g, const struct fat_volume *v, uint8_t *buf);

/* Names. A name is kept as UTF-16 (what the long-name entries hold). */
int fat_utf8_to_utf16(const char *s, uint16_t *out, size_t max, size_t *n);
/* 0 when FAT can store the name; else a negative errno and *why says why. */
int fat_name_valid(const uint16_t *u, size_t n, const char **why);
/* 1 when the name is its own 8.3 name (upper case, or one case per part
 * carried by the NT case bits): sn and *ntcase set, no long-name entries
 * needed. 0 otherwise. */
int fat_name_is_short(const char *name, uint8_t sn[11], uint8_t *ntcase);
/* The 8.3 basis of a long name; returns 1 when it is exact but for case (the
 * alias may then go without a ~N tail). */
int fat_short_basis(const uint16_t *u, size_t n, uint8_t basis[11]);
/* basis with the tail ~n (n >= 1) cut into its base part. */
void fat_short_tail(const uint8_t basis[11], unsigned n, uint8_t out[11]);
uint8_t fat_lfn_checksum(const uint8_t sn[11]);
/* Long-name entries needed for n UTF-16 units. */
unsigned fat_lfn_count(size_t n);
/* Writes fat_lfn_count(n) entries, in on-disk order, to out. */
void fat_lfn_entries(const uint16_t *u, size_t n, const uint8_t sn[11], uint8_t *out);
/* Case-insensitive comparison and hash, as FAT compares names. */
uint16_t fat_upcase(uint16_t c);
int fat_name_equal(const uint16_t *a, size_t na, const uint16_t *b, size_t nb);
uint32_t fat_name_hash(const uint16_t *u, size_t n);

/* Times: FAT keeps local date and time in 2-second steps from 1980 to
 * 2107; we store UTC (no time zone makes a build reproducible). */
struct fat_time {
	uint16_t date, time;
	uint8_t tenth; /* 10 ms units, 0..199, creation time only */
};
void fat_time_encode(int64_t t, uint32_t nsec, struct fat_time *out);
int64_t fat_time_decode(uint16_t date, uint16_t time);

static inline void fat_put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void fat_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

#endif
