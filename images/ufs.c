/* ufs: making a UFS2 filesystem, allocating its fragments and inodes, and
 * writing the cylinder groups and superblocks at finish(). The node
 * operations are in ufs_node.c.
 *
 * Decisions:
 *  - Geometry is newfs's with its defaults: 32 KiB blocks, 4 KiB fragments,
 *    one inode per two fragments (NFPI 2), the superblock at 64 KiB
 *    (SBLOCK_UFS2), sblkno 24, cblkno 32, iblkno 40 fragments into each
 *    group; cylinder groups grown until their maps fill one block (or fewer
 *    than 4 groups would remain), then shrunk until the last group holds
 *    its own metadata. maxcontig 32 (1 MiB MAXPHYS / 32 KiB), cluster
 *    summaries of 16, minfree 8%, optimisation for time, no metaspace.
 *  - Flags: none. No soft updates, no journal, no check hashes, no ACLs:
 *    tunefs turns each on later. The filesystem is marked clean.
 *  - Allocation is in order: whole blocks from a cursor, tails (a file's
 *    last block when it is a direct block) packed into one block of
 *    fragments at a time, indirect blocks placed before the data they map.
 *    Inodes are numbered in order from 2 (the root), freed ones reused
 *    first. No /.snap and no lost+found (newfs without -n makes .snap;
 *    fsck_ffs makes lost+found when it needs one).
 *  - Memory: one bit per fragment, a few bytes per inode, directories'
 *    names until finish(), and one block per indirection level of the file
 *    being written: never the files' bytes.
 *  - Determinism: fs_id from the options (the seed), every time from
 *    options->timestamp or the archive, inode generation numbers derived
 *    from fs_id and the inode number.
 *  - The superblock passes the checks of FreeBSD's validate_sblock
 *    (ffs_subr.c) as far as they were read: backups record 0 as their
 *    own location; newfs's recovery block (struct fsrecovery) sits just
 *    before the superblock.
 *  - cg_initediblk (UFS2's lazily initialised inode blocks) covers the
 *    inodes handed out, at least 2 blocks as newfs; those blocks are
 *    written (zeros) on a reused target, the rest are never read. */
#include "ufs.h"
#include "ufs_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NFPI 2
#define MINCYLGRPS 4
#define MINFREE 8
#define MAXCONTIG 32
#define CONTIGSUMSIZE 16
#define CG_MAGIC 0x090255
#define FS_UFS2_MAGIC 0x19540119
#define CG_HEADER 168   /* sizeof(struct cg) */
#define SB_STRUCT 1376  /* sizeof(struct fs) */

int ufs_fail(struct ufs *u, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->fs.err, sizeof(u->fs.err), fmt, ap);
	va_end(ap);
	return err;
}

int ufs_grow(struct ufs *u, void *v, uint32_t *cap, uint32_t n, size_t size, uint32_t first)
{
	if (n < *cap)
		return 0;
	uint32_t c = *cap ? *cap : first;
	while (c <= n)
		c *= 2;
	char *p = realloc(*(void **)v, c * size);
	if (!p)
		return ufs_fail(u, -ENOMEM, "ufs: out of memory");
	memset(p + *cap * size, 0, (c - *cap) * size);
	*(void **)v = p;
	*cap = c;
	return 0;
}

/* ---- geometry ---- */

static uint64_t roundup(uint64_t x, uint64_t m) { return (x + m - 1) / m * m; }
static uint64_t howmany(uint64_t x, uint64_t m) { return (x + m - 1) / m; }

static uint32_t ipg_for(uint32_t fpg)
{
	return (uint32_t)roundup(howmany(fpg, NFPI), UFS_INOPB);
}

/* The bytes of a group's block: header, inode map, fragment map, cluster
 * summary and cluster map (CGSIZE in fs.h). */
static uint64_t cg_bytes(uint32_t fpg, uint32_t ipg)
{
	return CG_HEADER + howmany(ipg, 8) + howmany(fpg, 8) + 4 + CONTIGSUMSIZE * 4 + howmany(fpg / UFS_FRAG, 8);
}

static int geometry(struct ufs_geom *g, uint64_t bytes, char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	g->size = bytes / UFS_FSIZE;
	g->sblkno = (uint32_t)roundup(howmany(UFS_SBLOCK + UFS_SBSIZE, UFS_FSIZE), UFS_FRAG);
	g->cblkno = g->sblkno + (uint32_t)roundup(howmany(UFS_SBSIZE, UFS_FSIZE), UFS_FRAG);
	g->iblkno = g->cblkno + UFS_FRAG;
	if (g->size < 256) {
		snprintf(err, errlen, "ufs: %llu bytes is too small: UFS2 needs at least 1 MiB",
			 (unsigned long long)bytes);
		return -1;
	}
	uint32_t minfpg = NFPI * UFS_INOPB;
	uint32_t fpg = (uint32_t)roundup(g->iblkno + UFS_INOPB / UFS_INOPF, UFS_FRAG);
	if (fpg < minfpg)
		fpg = minfpg;
	uint32_t ipg = ipg_for(fpg);
	/* Grow the groups a block at a time while their maps fit one block. */
	for (; fpg < g->size - 1; fpg += UFS_FRAG) {
		ipg = ipg_for(fpg);
		if (g->size / fpg < MINCYLGRPS)
			break;
		uint64_t b = cg_bytes(fpg, ipg);
		if (b < UFS_BSIZE)
			continue;
		if (b == UFS_BSIZE)
			break;
		fpg -= UFS_FRAG;
		ipg = ipg_for(fpg);
		break;
	}
	/* The last group must hold its own superblock, group block and inodes. */
	for (;;) {
		uint64_t lastmin = roundup(g->iblkno + ipg / UFS_INOPF, UFS_FRAG);
		if (g->size < lastmin) {
			snprintf(err, errlen, "ufs: %llu bytes is too small for one cylinder group",
				 (unsigned long long)bytes);
			return -1;
		}
		if (g->size % fpg == 0 || g->size % fpg >= lastmin)
			break;
		fpg -= UFS_FRAG;
		ipg = ipg_for(fpg);
	}
	g->fpg = fpg;
	g->ipg = ipg;
	g->ncg = (uint32_t)howmany(g->size, fpg);
	g->dblkno = g->iblkno + ipg / UFS_INOPF;
	g->cssize = (uint32_t)roundup((uint64_t)g->ncg * 16, UFS_FSIZE);
	g->cgsize = (uint32_t)roundup(cg_bytes(fpg, ipg), UFS_FSIZE);
	g->maxcontig = MAXCONTIG;
	g->contigsumsize = CONTIGSUMSIZE;
	g->iusedoff = CG_HEADER;
	g->freeoff = g->iusedoff + (uint32_t)howmany(ipg, 8);
	g->nextfreeoff = g->freeoff + (uint32_t)howmany(fpg, 8);
	g->clustersumoff = (uint32_t)roundup(g->nextfreeoff, 4) - 4;
	g->clusteroff = g->clustersumoff + (CONTIGSUMSIZE + 1) * 4;
	g->nextfreeoff = g->clusteroff + (uint32_t)howmany(fpg / UFS_FRAG, 8);
	if ((uint64_t)g->dblkno + g->cssize / UFS_FSIZE > (g->ncg == 1 ? g->size : fpg)) {
		snprintf(err, errlen, "ufs: %llu bytes is too small for the cylinder summaries",
			 (unsigned long long)bytes);
		return -1;
	}
	return 0;
}

static uint64_t cgbase(const struct ufs *u, uint32_t c) { return (uint64_t)u->g.fpg * c; }

/* ---- fragments ---- */

static int bit(const uint8_t *map, uint64_t i) { return map[i / 8] >> (i % 8) & 1; }
static void set_bit(uint8_t *map, uint64_t i) { map[i / 8] |= (uint8_t)(1u << (i % 8)); }
static void clr_bit(uint8_t *map, uint64_t i) { map[i / 8] &= (uint8_t)~(1u << (i % 8)); }

static void mark_used(struct ufs *u, uint64_t from, uint64_t to)
{
	for (uint64_t f = from; f < to; f++)
		if (!bit(u->used, f)) {
			set_bit(u->used, f);
			if (f < u->g.size)
				u->free_frags--;
		}
}

static int take_block(struct ufs *u, uint64_t *blk)
{
	uint64_t nblk = howmany(u->g.size, UFS_FRAG);
	for (int pass = 0; pass < 2; pass++) {
		uint64_t from = pass ? 0 : u->bcursor, to = pass ? u->bcursor : nblk;
		for (uint64_t b = from; b < to; b++)
			if (u->used[b] == 0) {
				u->used[b] = 0xff;
				u->free_frags -= UFS_FRAG;
				u->bcursor = b + 1;
				*blk = b;
				return 0;
			}
	}
	return ufs_fail(u, -ENOSPC, "ufs: no free blocks left (the partition is full)");
}

int ufs_alloc(struct ufs *u, uint32_t n, uint64_t *addr)
{
	uint64_t b;
	if (n >= UFS_FRAG) {
		int rc = take_block(u, &b);
		*addr = b * UFS_FRAG;
		return rc;
	}
	if (u->tail_blk != UINT64_MAX && u->tail_used + n <= UFS_FRAG) {
		uint64_t a = u->tail_blk * UFS_FRAG + u->tail_used;
		int ok = 1;
		for (uint32_t i = 0; i < n; i++)
			ok &= !bit(u->used, a + i);
		if (ok) {
			mark_used(u, a, a + n);
			u->tail_used += n;
			*addr = a;
			return 0;
		}
	}
	int rc = take_block(u, &b);
	if (rc < 0)
		return rc;
	u->used[b] = 0;
	u->free_frags += UFS_FRAG;
	u->tail_blk = b;
	u->tail_used = n;
	mark_used(u, b * UFS_FRAG, b * UFS_FRAG + n);
	*addr = b * UFS_FRAG;
	return 0;
}

void ufs_free(struct ufs *u, uint64_t addr, uint32_t n)
{
	for (uint64_t f = addr; f < addr + n; f++)
		if (bit(u->used, f)) {
			clr_bit(u->used, f);
			u->free_frags++;
		}
}

/* ---- inodes ---- */

uint64_t ufs_ino_off(const struct ufs *u, uint32_t ino)
{
	uint32_t c = ino / u->g.ipg;
	return (cgbase(u, c) + u->g.iblkno) * UFS_FSIZE + (uint64_t)(ino % u->g.ipg) * UFS_INODE;
}

/* Writes zeros over a group's inode blocks up to inode `upto` (a reused
 * target's old bytes must not read as inodes). */
static int zero_inodes(struct ufs *u, uint32_t c, uint32_t upto)
{
	if (upto > u->g.ipg)
		upto = u->g.ipg;
	if (upto <= u->zeroed[c])
		return 0;
	uint64_t off = ufs_ino_off(u, c * u->g.ipg + u->zeroed[c]);
	if (mv_io_zero(&u->io, off, (uint64_t)(upto - u->zeroed[c]) * UFS_INODE) < 0)
		return ufs_fail(u, -errno, "ufs: writing inode blocks: %s", strerror(errno));
	u->zeroed[c] = upto;
	return 0;
}

int ufs_ialloc(struct ufs *u, uint32_t mode, uint32_t *ino)
{
	uint32_t i;
	if (u->nfreed)
		i = u->freed[--u->nfreed];
	else if ((uint64_t)u->next_ino < (uint64_t)u->g.ncg * u->g.ipg)
		i = u->next_ino++;
	else
		return ufs_fail(u, -ENOSPC, "ufs: no free inodes left (%llu in all)",
				(unsigned long long)u->g.ncg * u->g.ipg);
	int rc = ufs_grow(u, &u->inos, &u->capinos, i, sizeof(*u->inos), 1024);
	if (rc < 0)
		return rc;
	if (i >= u->ninos)
		u->ninos = i + 1;
	rc = zero_inodes(u, i / u->g.ipg, (uint32_t)roundup(i % u->g.ipg + 1, UFS_INOPB));
	if (rc < 0)
		return rc;
	u->inos[i] = (struct ufs_ino){.mode = (uint16_t)mode};
	*ino = i;
	return 0;
}

int ufs_iread(struct ufs *u, uint32_t ino, uint8_t di[UFS_INODE])
{
	if (mv_io_pread(&u->io, ufs_ino_off(u, ino), di, UFS_INODE) < 0)
		return ufs_fail(u, -errno, "ufs: reading inode %u: %s", ino, strerror(errno));
	return 0;
}

int ufs_iwrite(struct ufs *u, uint32_t ino, const uint8_t di[UFS_INODE])
{
	if (mv_io_pwrite(&u->io, ufs_ino_off(u, ino), di, UFS_INODE) < 0)
		return ufs_fail(u, -errno, "ufs: writing inode %u: %s", ino, strerror(errno));
	return 0;
}

struct ufs_dir *ufs_dir_of(struct ufs *u, uint32_t ino)
{
	if (ino >= u->ninos || !u->inos[ino].dir)
		return NULL;
	return &u->dirs[u->inos[ino].dir - 1];
}

/* ---- making the filesystem ---- */

static int make_root(struct ufs *u)
{
	uint32_t ino;
	u->next_ino = UFS_ROOTINO;
	int rc = ufs_ialloc(u, S_IFDIR | 0755, &ino);
	if (rc < 0)
		return rc;
	uint8_t di[UFS_INODE] = {0};
	put16(di + DI_MODE, S_IFDIR | 0755);
	put16(di + DI_NLINK, 2);
	for (int t = DI_ATIME; t <= DI_BIRTH; t += 8)
		put64(di + t, (uint64_t)u->now);
	put32(di + DI_GEN, get32(u->id) ^ ino * 2654435761u);
	if ((rc = ufs_iwrite(u, ino, di)) < 0)
		return rc;
	return ufs_dir_new(u, ino, ino);
}

struct mv_fs *mv_ufs_create(const struct mv_io *io, const struct mv_ufs_options *o, char *err, size_t errlen)
{
	struct ufs *u = calloc(1, sizeof(*u));
	if (!u) {
		snprintf(err, errlen, "ufs: out of memory");
		return NULL;
	}
	u->fs.ops = &mv_ufs_ops;
	u->io = *io;
	u->now = o->timestamp;
	memcpy(u->id, o->id, 8);
	if (o->label)
		snprintf(u->label, sizeof(u->label), "%s", o->label);
	u->tail_blk = UINT64_MAX;
	if (geometry(&u->g, io->length, err, errlen) < 0)
		goto fail;
	uint64_t nblk = howmany(u->g.size, UFS_FRAG);
	u->used = calloc(nblk, 1);
	u->zeroed = calloc(u->g.ncg, sizeof(*u->zeroed));
	if (!u->used || !u->zeroed) {
		snprintf(err, errlen, "ufs: out of memory");
		goto fail;
	}
	u->free_frags = u->g.size;
	mark_used(u, u->g.size, nblk * UFS_FRAG);
	for (uint32_t c = 0; c < u->g.ncg; c++) {
		uint64_t b = cgbase(u, c);
		/* Group 0 keeps the boot area, the superblock and the summaries. */
		uint64_t from = c ? b + u->g.sblkno : 0;
		uint64_t to = b + u->g.dblkno + (c ? 0 : u->g.cssize / UFS_FSIZE);
		mark_used(u, from, to);
		/* A reused target: old signatures and old maps go. */
		if (mv_io_zero(&u->io, from * UFS_FSIZE, (b + u->g.iblkno - from) * UFS_FSIZE) < 0) {
			snprintf(err, errlen, "ufs: writing cylinder group %u: %s", c, strerror(errno));
			goto fail;
		}
	}
	if (make_root(u) < 0) {
		snprintf(err, errlen, "%s", u->fs.err);
		goto fail;
	}
	return &u->fs;
fail:
	u->fs.ops->destroy(&u->fs);
	return NULL;
}

/* ---- finish: cylinder groups, summaries, superblocks ---- */

struct totals {
	int64_t ndir, nbfree, nifree, nffree;
};

static void put_csum(uint8_t *p, const struct totals *t)
{
	put32(p, (uint32_t)t->ndir), put32(p + 4, (uint32_t)t->nbfree);
	put32(p + 8, (uint32_t)t->nifree), put32(p + 12, (uint32_t)t->nffree);
}

static int inode_used(const struct ufs *u, uint32_t ino)
{
	return ino < UFS_ROOTINO || (ino < u->ninos && u->inos[ino].mode);
}

/* One group's block (struct cg and its maps) and its counts. */
static void build_cg(struct ufs *u, uint32_t c, uint8_t *cg, struct totals *t)
{
	const struct ufs_geom *g = &u->g;
	uint64_t base = cgbase(u, c);
	uint32_t ndblk = (uint32_t)(g->size - base < g->fpg ? g->size - base : g->fpg);
	uint32_t inited = u->zeroed[c] > 2 * UFS_INOPB ? u->zeroed[c] : 2 * UFS_INOPB;
	if (inited > g->ipg)
		inited = g->ipg;
	memset(cg, 0, UFS_BSIZE);
	memset(t, 0, sizeof(*t));
	put32(cg + 4, CG_MAGIC);
	put32(cg + 12, c);
	put32(cg + 20, ndblk);
	put32(cg + 92, g->iusedoff);
	put32(cg + 96, g->freeoff);
	put32(cg + 100, g->nextfreeoff);
	put32(cg + 104, g->clustersumoff);
	put32(cg + 108, g->clusteroff);
	put32(cg + 112, ndblk / UFS_FRAG);
	put32(cg + 116, g->ipg);
	put32(cg + 120, inited);
	put64(cg + 136, (uint64_t)u->now);
	uint8_t *iused = cg + g->iusedoff, *bfree = cg + g->freeoff, *clfree = cg + g->clusteroff;
	for (uint32_t i = 0; i < g->ipg; i++) {
		uint32_t ino = c * g->ipg + i;
		if (inode_used(u, ino)) {
			set_bit(iused, i);
			if (ino < u->ninos && S_ISDIR(u->inos[ino].mode))
				t->ndir++;
		} else {
			t->nifree++;
		}
	}
	uint32_t frsum[UFS_FRAG] = {0}, clsum[CONTIGSUMSIZE + 1] = {0}, run = 0;
	for (uint32_t b = 0; b * UFS_FRAG < ndblk; b++) {
		uint32_t nfree = 0, len = 0;
		for (uint32_t f = b * UFS_FRAG; f < (b + 1) * UFS_FRAG; f++) {
			int is_free = f < ndblk && !bit(u->used, base + f);
			if (is_free) {
				set_bit(bfree, f);
				nfree++;
				len++;
			}
			if (!is_free || f + 1 == (b + 1) * UFS_FRAG) {
				if (len && len < UFS_FRAG)
					frsum[len]++;
				len = 0;
			}
		}
		if (nfree == UFS_FRAG) {
			t->nbfree++;
			set_bit(clfree, b);
			run++;
		} else {
			t->nffree += nfree;
			if (run)
				clsum[run < CONTIGSUMSIZE ? run : CONTIGSUMSIZE]++;
			run = 0;
		}
	}
	if (run)
		clsum[run < CONTIGSUMSIZE ? run : CONTIGSUMSIZE]++;
	for (int i = 1; i < UFS_FRAG; i++)
		put32(cg + 52 + 4 * i, frsum[i]);
	for (int i = 1; i <= CONTIGSUMSIZE; i++)
		put32(cg + g->clustersumoff + 4 * i, clsum[i]);
	put_csum(cg + 24, t);
}

static uint64_t maxfilesize(void)
{
	uint64_t m = (uint64_t)UFS_BSIZE * UFS_NDADDR - 1, per = UFS_BSIZE;
	for (int i = 0; i < UFS_NIADDR; i++) {
		per *= UFS_NINDIR;
		m += per;
	}
	return m;
}

static void build_sb(const struct ufs *u, uint8_t *sb, const struct totals *t, uint64_t at)
{
	const struct ufs_geom *g = &u->g;
	memset(sb, 0, UFS_FSIZE);
	put32(sb + 8, g->sblkno);
	put32(sb + 12, g->cblkno);
	put32(sb + 16, g->iblkno);
	put32(sb + 20, g->dblkno);
	put32(sb + 32, (uint32_t)u->now);                   /* fs_old_time */
	put32(sb + 44, g->ncg);
	put32(sb + 48, UFS_BSIZE);
	put32(sb + 52, UFS_FSIZE);
	put32(sb + 56, UFS_FRAG);
	put32(sb + 60, MINFREE);
	put32(sb + 72, (uint32_t)~(UFS_BSIZE - 1));          /* fs_bmask */
	put32(sb + 76, (uint32_t)~(UFS_FSIZE - 1));          /* fs_fmask */
	put32(sb + 80, 15);                                  /* fs_bshift */
	put32(sb + 84, 12);                                  /* fs_fshift */
	put32(sb + 88, g->maxcontig);
	put32(sb + 92, UFS_BSIZE / 8);                       /* fs_maxbpg */
	put32(sb + 96, 3);                                   /* fs_fragshift */
	put32(sb + 100, 3);                                  /* fs_fsbtodb */
	put32(sb + 104, (uint32_t)roundup(SB_STRUCT, UFS_FSIZE)); /* fs_sbsize */
	put32(sb + 116, UFS_NINDIR);
	put32(sb + 120, UFS_INOPB);
	put32(sb + 128, 0);                                  /* FS_OPTTIME */
	/* fs_id as two words that blkid prints in hex: the id's bytes in order. */
	put32(sb + 144, (uint32_t)u->id[0] << 24 | (uint32_t)u->id[1] << 16 | (uint32_t)u->id[2] << 8 | u->id[3]);
	put32(sb + 148, (uint32_t)u->id[4] << 24 | (uint32_t)u->id[5] << 16 | (uint32_t)u->id[6] << 8 | u->id[7]);
	put32(sb + 156, g->cssize);
	put32(sb + 160, g->cgsize);
	put32(sb + 184, g->ipg);
	put32(sb + 188, g->fpg);
	put_csum(sb + 192, t);                               /* fs_old_cstotal */
	sb[209] = 1;                                         /* fs_clean */
	memcpy(sb + 680, u->label, strlen(u->label));        /* fs_volname */
	put32(sb + 860, UFS_BSIZE);                          /* fs_maxbsize */
	put64(sb + 872, g->size);                            /* fs_providersize */
	put64(sb + 992, at);                                 /* fs_sblockactualloc */
	put64(sb + 1000, UFS_SBLOCK);                        /* fs_sblockloc */
	put64(sb + 1008, (uint64_t)t->ndir);                 /* fs_cstotal */
	put64(sb + 1016, (uint64_t)t->nbfree);
	put64(sb + 1024, (uint64_t)t->nifree);
	put64(sb + 1032, (uint64_t)t->nffree);
	put64(sb + 1072, (uint64_t)u->now);                  /* fs_time */
	put64(sb + 1080, g->size);
	put64(sb + 1088, g->size - g->sblkno - (uint64_t)g->ncg * (g->dblkno - g->sblkno) - g->cssize / UFS_FSIZE);
	put64(sb + 1096, g->dblkno);                         /* fs_csaddr */
	put32(sb + 1196, 16384);                             /* fs_avgfilesize */
	put32(sb + 1200, 64);                                /* fs_avgfpdir */
	put64(sb + 1208, (uint64_t)u->now);                  /* fs_mtime */
	put32(sb + 1316, g->contigsumsize);
	put32(sb + 1320, UFS_MAXSYMLINK);
	put32(sb + 1324, 2);                                 /* FS_44INODEFMT */
	put64(sb + 1328, maxfilesize());
	put64(sb + 1336, UFS_BSIZE - 1);                     /* fs_qbmask */
	put64(sb + 1344, UFS_FSIZE - 1);                     /* fs_qfmask */
	put32(sb + 1356, 1);                                 /* FS_DYNAMICPOSTBLFMT */
	put32(sb + 1360, 1);                                 /* fs_old_nrpos */
	put32(sb + 1372, FS_UFS2_MAGIC);
}

int ufs_finish(struct mv_fs *fs)
{
	struct ufs *u = (struct ufs *)fs;
	if (u->finished)
		return ufs_fail(u, -EINVAL, "ufs: already finished");
	if (u->writing)
		return ufs_fail(u, -EBUSY, "ufs: a file is still open for writing");
	u->finished = 1;
	int rc = ufs_dirs_write(u);
	if (rc < 0)
		return rc;
	uint8_t *cg = malloc(UFS_BSIZE), *cs = calloc(1, u->g.cssize), sb[UFS_FSIZE];
	struct totals all = {0};
	if (!cg || !cs) {
		rc = ufs_fail(u, -ENOMEM, "ufs: out of memory");
		goto out;
	}
	for (uint32_t c = 0; c < u->g.ncg && rc == 0; c++) {
		struct totals t;
		build_cg(u, c, cg, &t);
		uint32_t inited = get32(cg + 120);
		if ((rc = zero_inodes(u, c, inited)) < 0)
			break;
		put_csum(cs + 16 * c, &t);
		all.ndir += t.ndir, all.nbfree += t.nbfree, all.nifree += t.nifree, all.nffree += t.nffree;
		if (mv_io_pwrite(&u->io, (cgbase(u, c) + u->g.cblkno) * UFS_FSIZE, cg, u->g.cgsize) < 0)
			rc = ufs_fail(u, -errno, "ufs: writing cylinder group %u: %s", c, strerror(errno));
	}
	if (rc == 0 && mv_io_pwrite(&u->io, (uint64_t)u->g.dblkno * UFS_FSIZE, cs, u->g.cssize) < 0)
		rc = ufs_fail(u, -errno, "ufs: writing the cylinder summaries: %s", strerror(errno));
	/* The backups first, the primary last: a half-written image has none.
	 * A backup says 0 for its own location (fs_sblockactualloc): FreeBSD's
	 * validate_sblock takes only 0 or SBLOCK_UFS2 there. */
	for (uint32_t c = 0; c < u->g.ncg && rc == 0; c++) {
		uint64_t at = (cgbase(u, c) + u->g.sblkno) * UFS_FSIZE;
		build_sb(u, sb, &all, 0);
		if (mv_io_pwrite(&u->io, at, sb, sizeof(sb)) < 0)
			rc = ufs_fail(u, -errno, "ufs: writing a superblock copy: %s", strerror(errno));
	}
	if (rc == 0) {
		/* newfs's struct fsrecovery, the last 20 bytes before the
		 * superblock: what fsck_ffs needs to find the backups. */
		uint8_t fsr[20];
		put32(fsr, FS_UFS2_MAGIC), put32(fsr + 4, 3), put32(fsr + 8, u->g.sblkno);
		put32(fsr + 12, u->g.fpg), put32(fsr + 16, u->g.ncg);
		if (mv_io_pwrite(&u->io, UFS_SBLOCK - sizeof(fsr), fsr, sizeof(fsr)) < 0)
			rc = ufs_fail(u, -errno, "ufs: writing the recovery block: %s", strerror(errno));
	}
	if (rc == 0) {
		build_sb(u, sb, &all, UFS_SBLOCK);
		if (mv_io_pwrite(&u->io, UFS_SBLOCK, sb, sizeof(sb)) < 0)
			rc = ufs_fail(u, -errno, "ufs: writing the superblock: %s", strerror(errno));
	}
out:
	free(cg);
	free(cs);
	return rc;
}

void ufs_destroy(struct mv_fs *fs)
{
	struct ufs *u = (struct ufs *)fs;
	ufs_files_free(u);
	ufs_dirs_free(u);
	free(u->used);
	free(u->zeroed);
	free(u->inos);
	free(u->freed);
	free(u);
}

