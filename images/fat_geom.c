/* fat_geom: how big the pieces of a FAT filesystem are, and the reserved
 * sectors that describe them. The sizing rule is in fat.c's header. */
#include "fat_impl.h"

#include <stdio.h>
#include <string.h>

#define MIB (1024ull * 1024)

/* The cluster size mkfs.fat (after Microsoft's table) gives FAT32. */
static unsigned fat32_cluster_bytes(uint64_t bytes)
{
	if (bytes <= 260 * MIB)
		return 512;
	if (bytes <= 8192 * MIB)
		return 4096;
	if (bytes <= 16384 * MIB)
		return 8192;
	if (bytes <= 32768 * MIB)
		return 16384;
	return 32768;
}

static unsigned spc_for(unsigned cluster_bytes, unsigned ss)
{
	return cluster_bytes > ss ? cluster_bytes / ss : 1;
}

/* Fills in the sizes for one FAT type and cluster size: the smallest FAT
 * that has an entry for every cluster it leaves room for, with the reserved
 * area padded so that clusters start cluster-aligned (as mkfs.fat does).
 * Returns -1 when not even one cluster fits. */
static int layout(struct fat_geom *g, unsigned bits, unsigned spc)
{
	uint32_t base = bits == 32 ? 32 : 1;

	g->bits = bits;
	g->spc = spc;
	g->root_entries = bits == 32 ? 0 : 512;
	g->root_sectors = g->root_entries * FAT_DIRENT / g->ss;
	for (uint32_t f = 1; f < g->total / 2; f++) {
		uint32_t meta = base + 2 * f + g->root_sectors;
		uint32_t pad = (spc - meta % spc) % spc;
		if ((uint64_t)meta + pad + spc > g->total)
			return -1;
		uint64_t clusters = (g->total - meta - pad) / spc;
		if (bits == 32 && clusters > FAT_MAX_CLUST_32)
			clusters = FAT_MAX_CLUST_32 + 1; /* flags "too many" to the caller */
		uint64_t entries = (uint64_t)f * g->ss * 8 / bits;
		if (entries < clusters + 2)
			continue;
		g->fat_sectors = f;
		g->reserved = base + pad;
		g->clusters = (uint32_t)clusters;
		g->data_start = meta + pad;
		g->cluster_bytes = spc * g->ss;
		return 0;
	}
	return -1;
}

uint64_t fat_geom_min_fat32(unsigned ss)
{
	uint64_t fat = ((uint64_t)FAT_MIN_CLUST_32 + 2) * 4;
	fat = (fat + ss - 1) / ss;
	return (32 + 2 * fat + FAT_MIN_CLUST_32) * ss;
}

/* FAT32 with the largest cluster size up to mkfs.fat's that still gives
 * 65,525 clusters. */
static int choose32(uint64_t bytes, struct fat_geom *g)
{
	unsigned spc = spc_for(fat32_cluster_bytes(bytes), g->ss);

	for (;;) {
		if (layout(g, 32, spc) == 0 && g->clusters >= FAT_MIN_CLUST_32) {
			if (g->clusters <= FAT_MAX_CLUST_32)
				return 0;
			if (spc >= 128)
				return -1;
			spc *= 2;
			continue;
		}
		if (spc == 1)
			return -1;
		spc /= 2;
	}
}

/* FAT12 while 2 KiB clusters number fewer than 4,085 (mkfs.fat's choice),
 * else FAT16 with clusters doubled until at most 65,524 remain. */
static int choose16(struct fat_geom *g, unsigned bits)
{
	unsigned spc = spc_for(2048, g->ss);

	if (bits != 16 && layout(g, 12, spc) == 0 && g->clusters < FAT_MIN_CLUST_16)
		return 0;
	if (bits == 12) {
		while (spc < 128) {
			spc *= 2;
			if (layout(g, 12, spc) == 0 && g->clusters < FAT_MIN_CLUST_16)
				return 0;
		}
		return -1;
	}
	while (layout(g, 16, spc) == 0 && g->clusters >= FAT_MIN_CLUST_32) {
		if (spc >= 128)
			return -1;
		spc *= 2;
	}
	while (bits == 16 && spc > 1 &&
	       (layout(g, 16, spc) < 0 || g->clusters < FAT_MIN_CLUST_16))
		spc /= 2;
	if (layout(g, 16, spc) == 0 && g->clusters >= FAT_MIN_CLUST_16)
		return 0;
	if (bits == 16)
		return -1;
	/* Between the two: FAT16's larger table left too few clusters. */
	return layout(g, 12, spc * 2) == 0 && g->clusters < FAT_MIN_CLUST_16 ? 0 : -1;
}

int fat_geom_choose(uint64_t bytes, unsigned ss, unsigned bits, struct fat_geom *g,
		    char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	if (ss != 512 && ss != 1024 && ss != 2048 && ss != 4096) {
		snprintf(err, errlen, "FAT needs a sector size of 512 to 4096 bytes, not %u", ss);
		return -1;
	}
	if (bits != 0 && bits != 12 && bits != 16 && bits != 32) {
		snprintf(err, errlen, "FAT%u does not exist: choose 12, 16 or 32", bits);
		return -1;
	}
	g->ss = ss;
	if (bytes / ss > UINT32_MAX) {
		snprintf(err, errlen, "%llu bytes is too large for FAT with %u-byte sectors",
			 (unsigned long long)bytes, ss);
		return -1;
	}
	g->total = (uint32_t)(bytes / ss);
	if ((bits == 0 || bits == 32) && choose32(bytes, g) == 0)
		return 0;
	if (bits == 32) {
		uint64_t min = fat_geom_min_fat32(ss);
		snprintf(err, errlen,
			 "FAT32 needs at least 65,525 clusters: %llu bytes is too small; "
			 "with %u-byte sectors the minimum is %llu bytes (%.1f MiB)",
			 (unsigned long long)bytes, ss, (unsigned long long)min,
			 (double)min / MIB);
		return -1;
	}
	if (choose16(g, bits) == 0)
		return 0;
	snprintf(err, errlen, "%llu bytes with %u-byte sectors cannot hold FAT%u",
		 (unsigned long long)bytes, ss, bits ? bits : 12);
	return -1;
}

/* Boot code for a machine that tries to boot this volume: ask the BIOS for
 * the next boot device (int 0x18), else halt. */
static const uint8_t not_bootable[] = { 0xcd, 0x18, 0xfa, 0xf4, 0xeb, 0xfd };

static void boot_sector(const struct fat_geom *g, const struct fat_volume *v, uint8_t *b)
{
	int fat32 = g->bits == 32;
	/* The extended BPB sits at 36 (FAT12/16) or 64 (FAT32); the jump
	 * skips it to the boot code. */
	unsigned ebpb = fat32 ? 64 : 36, code = ebpb + 26;

	b[0] = 0xeb;
	b[1] = (uint8_t)(code - 2);
	b[2] = 0x90;
	memcpy(b + 3, "MSWIN4.1", 8);
	fat_put16(b + 11, g->ss);
	b[13] = (uint8_t)g->spc;
	fat_put16(b + 14, g->reserved);
	b[16] = 2;
	fat_put16(b + 17, g->root_entries);
	if (!fat32 && g->total <= 0xffff)
		fat_put16(b + 19, g->total);
	else
		fat_put32(b + 32, g->total);
	b[21] = 0xf8;
	if (!fat32)
		fat_put16(b + 22, g->fat_sectors);
	fat_put16(b + 24, 63);  /* sectors per track, heads: the LBA convention */
	fat_put16(b + 26, 255);
	fat_put32(b + 28, v->hidden);
	if (fat32) {
		fat_put32(b + 36, g->fat_sectors);
		fat_put16(b + 40, 0); /* ExtFlags: both FATs mirrored */
		fat_put16(b + 42, 0); /* FsVersion 0.0 */
		fat_put32(b + 44, v->root_cluster);
		fat_put16(b + 48, 1); /* FSInfo */
		fat_put16(b + 50, 6); /* backup boot sector */
	}
	b[ebpb] = 0x80;
	b[ebpb + 2] = 0x29;
	fat_put32(b + ebpb + 3, v->volume_id);
	memcpy(b + ebpb + 7, v->label, 11);
	memcpy(b + ebpb + 18, fat32 ? "FAT32   " : g->bits == 16 ? "FAT16   " : "FAT12   ", 8);
	memcpy(b + code, not_bootable, sizeof(not_bootable));
	b[510] = 0x55;
	b[511] = 0xaa;
}

static void fsinfo_sector(const struct fat_volume *v, uint8_t *s)
{
	fat_put32(s, 0x41615252);
	fat_put32(s + 484, 0x61417272);
	fat_put32(s + 488, v->free_clusters);
	fat_put32(s + 492, v->next_free);
	fat_put32(s + 508, 0xaa550000);
}

void fat_reserved_area(const struct fat_geom *g, const struct fat_volume *v, uint8_t *buf)
{
	memset(buf, 0, (size_t)g->reserved * g->ss);
	boot_sector(g, v, buf);
	if (g->bits != 32)
		return;
	fsinfo_sector(v, buf + g->ss);
	memcpy(buf + 6 * g->ss, buf, g->ss);
	memcpy(buf + 7 * g->ss, buf + g->ss, g->ss);
}
