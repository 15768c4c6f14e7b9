/* UFS2 writer internals shared by ufs.c (geometry, allocation, finish)
 * and ufs_node.c (the node operations). Not a contract: images/ufs.h is.
 * On-disk structures are handled as byte offsets, little-endian, so the
 * image is the same on any host. */
#ifndef MV_UFS_INT_H
#define MV_UFS_INT_H
#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "io.h"

#define UFS_BSIZE 32768
#define UFS_FSIZE 4096
#define UFS_FRAG 8
#define UFS_DEV_BSIZE 512
#define UFS_INODE 256                   /* sizeof(struct ufs2_dinode) */
#define UFS_INOPB (UFS_BSIZE / UFS_INODE)
#define UFS_INOPF (UFS_FSIZE / UFS_INODE)
#define UFS_NINDIR (UFS_BSIZE / 8)
#define UFS_NDADDR 12
#define UFS_NIADDR 3
#define UFS_ROOTINO 2
#define UFS_MAXSYMLINK 120              /* (NDADDR + NIADDR) * 8 */
#define UFS_DIRBLK 512
#define UFS_SBLOCK 65536                /* SBLOCK_UFS2 */
#define UFS_SBSIZE 8192                 /* SBLOCKSIZE */

/* ufs2_dinode field offsets (dinode.h). */
enum {
	DI_MODE = 0, DI_NLINK = 2, DI_UID = 4, DI_GID = 8, DI_BLKSIZE = 12, DI_SIZE = 16,
	DI_BLOCKS = 24, DI_ATIME = 32, DI_MTIME = 40, DI_CTIME = 48, DI_BIRTH = 56,
	DI_MTIMENS = 64, DI_ATIMENS = 68, DI_CTIMENS = 72, DI_BIRTHNS = 76, DI_GEN = 80,
	DI_FLAGS = 88, DI_DB = 112, DI_IB = 208,
};

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16; }
static inline uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }
static inline void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static inline void put32(uint8_t *p, uint32_t v) { put16(p, v), put16(p + 2, v >> 16); }
static inline void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v), put32(p + 4, (uint32_t)(v >> 32)); }

struct ufs_geom {
	uint64_t size;          /* fragments in the filesystem */
	uint32_t ncg, fpg, ipg;
	uint32_t sblkno, cblkno, iblkno, dblkno; /* per group, in fragments */
	uint32_t cgsize, cssize;                 /* bytes */
	uint32_t contigsumsize, maxcontig;
	uint32_t iusedoff, freeoff, clustersumoff, clusteroff, nextfreeoff;
};

/* A name in a directory, kept in memory until finish() writes the blocks. */
struct ufs_ent {
	char *name;             /* NULL: removed */
	uint32_t ino;
	uint8_t type;           /* d_type: IFTODT(mode) */
	uint32_t hnext;         /* next entry in this hash chain, or UINT32_MAX */
};

struct ufs_dir {
	uint32_t ino, parent;
	struct ufs_ent *v;
	uint32_t n, cap, live;
	uint32_t *heads, nheads; /* name hash -> first entry */
};

/* What memory keeps of an inode; the rest is on disk. */
struct ufs_ino {
	uint16_t mode;          /* 0: free */
	uint32_t dir;           /* directories: index into dirs + 1 */
};

struct ufs_file;

struct ufs {
	struct mv_fs fs;        /* first: the writer is a struct mv_fs */
	struct mv_io io;
	struct ufs_geom g;
	uint8_t id[8];
	char label[32];
	int64_t now;
	uint8_t *used;          /* one bit per fragment: 1 in use (or absent) */
	uint64_t free_frags;
	uint64_t bcursor;       /* where the next whole block is looked for */
	uint64_t tail_blk;      /* a block whose first tail_used fragments hold tails */
	uint32_t tail_used;
	struct ufs_ino *inos;   /* by inode number, up to ninos */
	uint32_t ninos, capinos;
	uint32_t next_ino;      /* inodes are handed out in order ... */
	uint32_t *freed, nfreed, capfreed; /* ... and freed ones first */
	uint32_t *zeroed;       /* per group: inodes whose blocks are written */
	struct ufs_dir *dirs;
	uint32_t ndirs, capdirs;
	struct ufs_file *files; /* open files, freed by destroy() */
	int writing, finished;
};

/* ---- ufs.c ---- */
int ufs_fail(struct ufs *u, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Makes room for element n of the array *v (capacity *cap, elements of
 * size bytes), doubling from `first`; new room is zeroed. 0 or -ENOMEM. */
int ufs_grow(struct ufs *u, void *v, uint32_t *cap, uint32_t n, size_t size, uint32_t first);
/* n contiguous fragments inside one block (n == UFS_FRAG: a whole,
 * block-aligned block); 0 with *addr set, or -ENOSPC. */
int ufs_alloc(struct ufs *u, uint32_t n, uint64_t *addr);
void ufs_free(struct ufs *u, uint64_t addr, uint32_t n);
int ufs_ialloc(struct ufs *u, uint32_t mode, uint32_t *ino);
uint64_t ufs_ino_off(const struct ufs *u, uint32_t ino);
int ufs_iread(struct ufs *u, uint32_t ino, uint8_t di[UFS_INODE]);
int ufs_iwrite(struct ufs *u, uint32_t ino, const uint8_t di[UFS_INODE]);
/* The directory record of ino, or NULL. */
struct ufs_dir *ufs_dir_of(struct ufs *u, uint32_t ino);
int ufs_finish(struct mv_fs *fs);
void ufs_destroy(struct mv_fs *fs);

/* ---- ufs_node.c ---- */
extern const struct mv_fs_ops mv_ufs_ops;
/* A new directory record for ino (the root at mkfs, mkdir later). */
int ufs_dir_new(struct ufs *u, uint32_t ino, uint32_t parent);
/* Writes every directory's blocks (at finish). */
int ufs_dirs_write(struct ufs *u);
void ufs_dirs_free(struct ufs *u);
void ufs_files_free(struct ufs *u);

#endif
