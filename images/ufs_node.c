/* ufs: the node operations (images/fs.h) on the structures ufs.c makes.
 * Inodes live on disk from the moment they are made (read-modify-write);
 * directories live in memory as names until finish() writes them in
 * 512-byte chunks (DIRBLKSIZ) through the same block mapper as files. */
#include "ufs.h"
#include "ufs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define NONE UINT32_MAX

static struct ufs *ufs_of(struct mv_fs *fs) { return (struct ufs *)fs; }

/* ---- directories in memory ---- */

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static int rehash(struct ufs *u, struct ufs_dir *d, uint32_t n)
{
	uint32_t *h = malloc(n * sizeof(*h));
	if (!h)
		return ufs_fail(u, -ENOMEM, "ufs: out of memory");
	memset(h, 0xff, n * sizeof(*h));
	for (uint32_t i = 0; i < d->n; i++)
		if (d->v[i].name) {
			uint32_t b = name_hash(d->v[i].name) & (n - 1);
			d->v[i].hnext = h[b];
			h[b] = i;
		}
	free(d->heads);
	d->heads = h, d->nheads = n;
	return 0;
}

int ufs_dir_new(struct ufs *u, uint32_t ino, uint32_t parent)
{
	int rc = ufs_grow(u, &u->dirs, &u->capdirs, u->ndirs, sizeof(*u->dirs), 64);
	if (rc < 0)
		return rc;
	struct ufs_dir *d = &u->dirs[u->ndirs];
	*d = (struct ufs_dir){.ino = ino, .parent = parent};
	rc = rehash(u, d, 8);
	if (rc < 0)
		return rc;
	u->inos[ino].dir = ++u->ndirs;
	return 0;
}

static void dir_release(struct ufs_dir *d)
{
	for (uint32_t i = 0; i < d->n; i++)
		free(d->v[i].name);
	free(d->v);
	free(d->heads);
	d->v = NULL, d->heads = NULL, d->n = d->live = 0;
}

void ufs_dirs_free(struct ufs *u)
{
	for (uint32_t i = 0; i < u->ndirs; i++)
		dir_release(&u->dirs[i]);
	free(u->dirs);
	u->dirs = NULL;
}

static uint32_t dir_find(const struct ufs_dir *d, const char *name)
{
	for (uint32_t i = d->heads[name_hash(name) & (d->nheads - 1)]; i != NONE; i = d->v[i].hnext)
		if (strcmp(d->v[i].name, name) == 0)
			return i;
	return NONE;
}

static int dir_add(struct ufs *u, struct ufs_dir *d, const char *name, uint32_t ino, uint32_t mode)
{
	if (strlen(name) > 255)
		return ufs_fail(u, -ENAMETOOLONG, "ufs: %s: names are at most 255 bytes", name);
	int rc = ufs_grow(u, &d->v, &d->cap, d->n, sizeof(*d->v), 8);
	if (rc < 0)
		return rc;
	char *copy = strdup(name);
	if (!copy)
		return ufs_fail(u, -ENOMEM, "ufs: out of memory");
	uint32_t b = name_hash(name) & (d->nheads - 1);
	d->v[d->n] = (struct ufs_ent){.name = copy, .ino = ino, .type = (uint8_t)(mode >> 12 & 0xf), .hnext = d->heads[b]};
	d->heads[b] = d->n++;
	d->live++;
	return d->live > d->nheads ? rehash(u, d, d->nheads * 2) : 0;
}

static void dir_remove(struct ufs_dir *d, uint32_t i)
{
	uint32_t *p = &d->heads[name_hash(d->v[i].name) & (d->nheads - 1)];
	while (*p != i)
		p = &d->v[*p].hnext;
	*p = d->v[i].hnext;
	free(d->v[i].name);
	d->v[i].name = NULL;
	d->live--;
}

/* ---- inodes ---- */

/* FreeBSD's 64-bit dev_t (sys/types.h makedev) from Linux's. */
static uint64_t bsd_dev(uint64_t rdev)
{
	uint64_t x = major(rdev), y = minor(rdev);
	return (x & 0xffffff00ull) << 32 | (x & 0xffull) << 8 | (y & 0xff00ull) << 24 | (y & 0xffff00ffull);
}

static uint64_t linux_dev(uint64_t d)
{
	uint64_t x = (d >> 32 & 0xffffff00ull) | (d >> 8 & 0xff), y = (d >> 24 & 0xff00) | (d & 0xffff00ffull);
	return makedev((unsigned)x, (unsigned)y);
}

static void apply_meta(uint8_t *di, const struct mv_meta *m, uint32_t type)
{
	put16(di + DI_MODE, type | (m->mode & 07777));
	put32(di + DI_UID, m->uid);
	put32(di + DI_GID, m->gid);
	put64(di + DI_ATIME, (uint64_t)m->atime);
	put64(di + DI_MTIME, (uint64_t)m->mtime);
	put64(di + DI_CTIME, (uint64_t)m->ctime);
	put32(di + DI_ATIMENS, m->atime_nsec);
	put32(di + DI_MTIMENS, m->mtime_nsec);
	put32(di + DI_CTIMENS, m->ctime_nsec);
	put32(di + DI_FLAGS, m->fflags);
}

/* A new inode of the type in meta->mode, written; *ino its number. */
static int new_inode(struct ufs *u, const struct mv_meta *m, uint32_t nlink, uint8_t *di, uint32_t *ino)
{
	uint32_t type = m->mode & S_IFMT;
	int rc = ufs_ialloc(u, type | (m->mode & 07777), ino);
	if (rc < 0)
		return rc;
	memset(di, 0, UFS_INODE);
	apply_meta(di, m, type);
	put16(di + DI_NLINK, nlink);
	put64(di + DI_BIRTH, (uint64_t)u->now);
	put32(di + DI_GEN, get32(u->id) ^ *ino * 2654435761u);
	if (S_ISCHR(type) || S_ISBLK(type))
		put64(di + DI_DB, bsd_dev(m->rdev));
	return ufs_iwrite(u, *ino, di);
}

static int nlink_add(struct ufs *u, uint32_t ino, int delta, uint8_t *di)
{
	int rc = ufs_iread(u, ino, di);
	if (rc < 0)
		return rc;
	int n = (int16_t)get16(di + DI_NLINK) + delta;
	if (n > 32767)
		return ufs_fail(u, -EMLINK, "ufs: inode %u: too many links", ino);
	put16(di + DI_NLINK, (uint32_t)n);
	return ufs_iwrite(u, ino, di);
}

static int has_blocks(const uint8_t *di)
{
	uint32_t t = get16(di + DI_MODE) & S_IFMT;
	return S_ISREG(t) || S_ISDIR(t) || (S_ISLNK(t) && get64(di + DI_BLOCKS));
}

static int free_tree(struct ufs *u, uint64_t addr, int level)
{
	if (level > 0) {
		uint8_t *b = malloc(UFS_BSIZE);
		if (!b)
			return ufs_fail(u, -ENOMEM, "ufs: out of memory");
		int rc = mv_io_pread(&u->io, addr * UFS_FSIZE, b, UFS_BSIZE) < 0 ? -errno : 0;
		for (uint32_t i = 0; rc == 0 && i < UFS_NINDIR; i++)
			if (get64(b + 8 * i))
				rc = free_tree(u, get64(b + 8 * i), level - 1);
		free(b);
		if (rc < 0)
			return ufs_fail(u, rc, "ufs: reading an indirect block: %s", strerror(-rc));
	}
	ufs_free(u, addr, UFS_FRAG);
	return 0;
}

static int free_inode(struct ufs *u, uint32_t ino, const uint8_t *di)
{
	if (has_blocks(di)) {
		uint64_t size = get64(di + DI_SIZE);
		for (uint64_t lbn = 0; lbn < UFS_NDADDR; lbn++) {
			uint64_t a = get64(di + DI_DB + 8 * lbn);
			uint64_t rest = size > lbn * UFS_BSIZE ? size - lbn * UFS_BSIZE : 0;
			uint32_t n = rest >= UFS_BSIZE ? UFS_FRAG : (uint32_t)((rest + UFS_FSIZE - 1) / UFS_FSIZE);
			if (a)
				ufs_free(u, a, n ? n : UFS_FRAG);
		}
		for (int l = 0; l < UFS_NIADDR; l++) {
			uint64_t a = get64(di + DI_IB + 8 * l);
			int rc = a ? free_tree(u, a, l + 1) : 0;
			if (rc < 0)
				return rc;
		}
	}
	struct ufs_dir *d = ufs_dir_of(u, ino);
	if (d)
		dir_release(d);
	static const uint8_t zero[UFS_INODE];
	int rc = ufs_iwrite(u, ino, zero);
	if (rc < 0)
		return rc;
	u->inos[ino] = (struct ufs_ino){0};
	if ((rc = ufs_grow(u, &u->freed, &u->capfreed, u->nfreed, sizeof(*u->freed), 64)) < 0)
		return rc;
	u->freed[u->nfreed++] = ino;
	return 0;
}

/* ---- files: block mapping for writing and reading ---- */

struct ufs_file {
	struct ufs *u;
	struct ufs_file *next, **prevp;
	uint32_t ino;
	int writing;
	uint8_t di[UFS_INODE];
	uint64_t frags;          /* writing: fragments held (data and indirect) */
	int64_t cur;             /* writing: the logical block in buf, or -1 */
	int64_t mapped;          /* writing: the highest logical block given space */
	uint64_t end;            /* writing: bytes written so far */
	int level;               /* the indirection level ind[] serves */
	struct {
		int valid;
		uint64_t addr, key;
	} ind[UFS_NIADDR];
	uint8_t *ibuf[UFS_NIADDR];
	uint8_t buf[];           /* one block */
};

static void file_unlist(struct ufs_file *f)
{
	if (f->prevp) {
		*f->prevp = f->next;
		if (f->next)
			f->next->prevp = f->prevp;
	}
	for (int i = 0; i < UFS_NIADDR; i++)
		free(f->ibuf[i]);
	free(f);
}

void ufs_files_free(struct ufs *u)
{
	while (u->files)
		file_unlist(u->files);
}

static struct ufs_file *file_new(struct ufs *u, uint32_t ino, int writing)
{
	struct ufs_file *f = calloc(1, sizeof(*f) + UFS_BSIZE);
	if (!f)
		return NULL;
	for (int i = 0; i < UFS_NIADDR; i++)
		if (!(f->ibuf[i] = malloc(UFS_BSIZE))) {
			file_unlist(f);
			return NULL;
		}
	f->u = u, f->ino = ino, f->writing = writing, f->cur = -1, f->mapped = -1;
	f->next = u->files, f->prevp = &u->files;
	if (u->files)
		u->files->prevp = &f->next;
	u->files = f;
	return f;
}

/* The path to logical block lbn past the direct blocks: its level (1-3)
 * and the index at each level. */
static int ind_path(uint64_t lbn, uint32_t idx[UFS_NIADDR], uint64_t *rel)
{
	uint64_t l = lbn - UFS_NDADDR, span = UFS_NINDIR;
	for (int level = 1; level <= UFS_NIADDR; level++, span *= UFS_NINDIR) {
		if (l < span) {
			*rel = l;
			for (int i = level - 1; i >= 0; i--, l /= UFS_NINDIR)
				idx[i] = (uint32_t)(l % UFS_NINDIR);
			return level;
		}
		l -= span;
	}
	return -1;
}

static int ind_flush(struct ufs_file *f, int from)
{
	for (int i = from; i < UFS_NIADDR; i++)
		if (f->ind[i].valid) {
			f->ind[i].valid = 0;
			if (f->writing && mv_io_pwrite(&f->u->io, f->ind[i].addr * UFS_FSIZE, f->ibuf[i], UFS_BSIZE) < 0)
				return ufs_fail(f->u, -errno, "ufs: writing an indirect block: %s", strerror(errno));
		}
	return 0;
}

/* Writing: gives logical block lbn n fragments (indirect blocks first,
 * so that they precede their data) and records the address. */
static int map_block(struct ufs_file *f, uint64_t lbn, uint32_t n, uint64_t *addr)
{
	struct ufs *u = f->u;
	int rc;
	if (lbn < UFS_NDADDR) {
		if ((rc = ufs_alloc(u, n, addr)) < 0)
			return rc;
		put64(f->di + DI_DB + 8 * lbn, *addr);
	} else {
		uint32_t idx[UFS_NIADDR];
		uint64_t rel;
		int level = ind_path(lbn, idx, &rel);
		if (level < 0)
			return ufs_fail(u, -EFBIG, "ufs: file too big");
		if (level != f->level) {
			if ((rc = ind_flush(f, 0)) < 0)
				return rc;
			f->level = level;
		}
		uint64_t span = 1;
		for (int i = 0; i < level; i++)
			span *= UFS_NINDIR;
		for (int i = 0; i < level; i++, span /= UFS_NINDIR) {
			uint64_t key = rel / span;
			if (f->ind[i].valid && f->ind[i].key == key)
				continue;
			uint64_t a;
			if ((rc = ind_flush(f, i)) < 0 || (rc = ufs_alloc(u, UFS_FRAG, &a)) < 0)
				return rc;
			f->frags += UFS_FRAG;
			f->ind[i].valid = 1, f->ind[i].addr = a, f->ind[i].key = key;
			memset(f->ibuf[i], 0, UFS_BSIZE);
			if (i == 0)
				put64(f->di + DI_IB + 8 * (level - 1), a);
			else
				put64(f->ibuf[i - 1] + 8 * idx[i - 1], a);
		}
		if ((rc = ufs_alloc(u, n, addr)) < 0)
			return rc;
		put64(f->ibuf[level - 1] + 8 * idx[level - 1], *addr);
	}
	f->frags += n;
	f->mapped = (int64_t)lbn;
	return 0;
}

static int put_block(struct ufs_file *f, uint64_t lbn, uint32_t n)
{
	uint64_t a;
	int rc = map_block(f, lbn, n, &a);
	if (rc < 0)
		return rc;
	if (mv_io_pwrite(&f->u->io, a * UFS_FSIZE, f->buf, (size_t)n * UFS_FSIZE) < 0)
		return ufs_fail(f->u, -errno, "ufs: writing inode %u's data: %s", f->ino, strerror(errno));
	f->cur = -1;
	return 0;
}

static int file_write(struct mv_file *mf, uint64_t off, const void *buf, size_t len)
{
	struct ufs_file *f = (struct ufs_file *)mf;
	const uint8_t *p = buf;
	if (!f->writing || off < f->end)
		return ufs_fail(f->u, -EINVAL, "ufs: inode %u: writes must go forward", f->ino);
	while (len) {
		uint64_t lbn = off / UFS_BSIZE;
		size_t o = off % UFS_BSIZE, n = UFS_BSIZE - o < len ? UFS_BSIZE - o : len;
		if ((int64_t)lbn != f->cur) {
			int rc = f->cur >= 0 ? put_block(f, (uint64_t)f->cur, UFS_FRAG) : 0;
			if (rc < 0)
				return rc;
			f->cur = (int64_t)lbn;
			memset(f->buf, 0, UFS_BSIZE);
		}
		memcpy(f->buf + o, p, n);
		p += n, off += n, len -= n;
		f->end = off;
		if (o + n == UFS_BSIZE) {
			int rc = put_block(f, lbn, UFS_FRAG);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* Writing ends: the last block (a tail of fragments when it is a direct
 * block; allocated even when the file ends in a hole, as FreeBSD does),
 * the indirect blocks, the inode. */
static int file_end(struct ufs_file *f, uint64_t size)
{
	int rc = 0;
	if (size < f->end)
		return ufs_fail(f->u, -EINVAL, "ufs: inode %u: size %llu is below what was written", f->ino,
				(unsigned long long)size);
	int64_t last = size ? (int64_t)((size - 1) / UFS_BSIZE) : -1;
	if (f->cur >= 0 && f->cur != last && (rc = put_block(f, (uint64_t)f->cur, UFS_FRAG)) < 0)
		return rc;
	if (last >= 0 && f->mapped != last) {
		if (f->cur != last)
			memset(f->buf, 0, UFS_BSIZE);
		uint64_t rest = size - (uint64_t)last * UFS_BSIZE;
		uint32_t n = last < UFS_NDADDR ? (uint32_t)((rest + UFS_FSIZE - 1) / UFS_FSIZE) : UFS_FRAG;
		if ((rc = put_block(f, (uint64_t)last, n)) < 0)
			return rc;
	}
	if ((rc = ind_flush(f, 0)) < 0)
		return rc;
	put64(f->di + DI_SIZE, size);
	put64(f->di + DI_BLOCKS, f->frags * (UFS_FSIZE / UFS_DEV_BSIZE));
	return ufs_iwrite(f->u, f->ino, f->di);
}

static int file_close(struct mv_file *mf, uint64_t size)
{
	struct ufs_file *f = (struct ufs_file *)mf;
	int rc = 0;
	if (f->writing) {
		rc = file_end(f, size);
		f->u->writing = 0;
	}
	file_unlist(f);
	return rc;
}

/* Reading: the address of logical block lbn, 0 for a hole. */
static int bmap(struct ufs_file *f, uint64_t lbn, uint64_t *addr)
{
	if (lbn < UFS_NDADDR) {
		*addr = get64(f->di + DI_DB + 8 * lbn);
		return 0;
	}
	uint32_t idx[UFS_NIADDR];
	uint64_t rel;
	int level = ind_path(lbn, idx, &rel);
	if (level < 0) {
		*addr = 0;
		return 0;
	}
	uint64_t a = get64(f->di + DI_IB + 8 * (level - 1));
	for (int i = 0; i < level && a; i++) {
		if (!f->ind[i].valid || f->ind[i].addr != a || f->level != level) {
			if (mv_io_pread(&f->u->io, a * UFS_FSIZE, f->ibuf[i], UFS_BSIZE) < 0)
				return ufs_fail(f->u, -errno, "ufs: reading an indirect block: %s", strerror(errno));
			f->ind[i].valid = 1, f->ind[i].addr = a;
			for (int j = i + 1; j < UFS_NIADDR; j++)
				f->ind[j].valid = 0;
		}
		a = get64(f->ibuf[i] + 8 * idx[i]);
	}
	f->level = level;
	*addr = a;
	return 0;
}

static ssize_t file_read(struct mv_file *mf, uint64_t off, void *buf, size_t len)
{
	struct ufs_file *f = (struct ufs_file *)mf;
	uint64_t size = get64(f->di + DI_SIZE);
	uint8_t *p = buf;
	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	size_t done = 0;
	while (done < len) {
		uint64_t lbn = off / UFS_BSIZE, a = 0;
		size_t o = off % UFS_BSIZE, n = UFS_BSIZE - o < len - done ? UFS_BSIZE - o : len - done;
		int rc = bmap(f, lbn, &a);
		if (rc < 0)
			return rc;
		if (!a)
			memset(p + done, 0, n);
		else if (mv_io_pread(&f->u->io, a * UFS_FSIZE + o, p + done, n) < 0)
			return ufs_fail(f->u, -errno, "ufs: reading inode %u: %s", f->ino, strerror(errno));
		done += n, off += n;
	}
	return (ssize_t)done;
}

static int open_writer(struct ufs *u, uint32_t ino, struct ufs_file **out)
{
	struct ufs_file *f = file_new(u, ino, 1);
	if (!f)
		return ufs_fail(u, -ENOMEM, "ufs: out of memory");
	int rc = ufs_iread(u, ino, f->di);
	if (rc < 0) {
		file_unlist(f);
		return rc;
	}
	u->writing = 1;
	*out = f;
	return 0;
}

/* ---- finish: the directories' blocks ---- */

struct dirbuf {
	struct ufs_file *f;
	uint8_t chunk[UFS_DIRBLK];
	uint32_t used, last;
	uint64_t off;
};

static int dirbuf_flush(struct dirbuf *b)
{
	put16(b->chunk + b->last + 4, UFS_DIRBLK - b->last);
	int rc = file_write((struct mv_file *)b->f, b->off, b->chunk, UFS_DIRBLK);
	memset(b->chunk, 0, UFS_DIRBLK);
	b->off += UFS_DIRBLK;
	b->used = b->last = 0;
	return rc;
}

static int dirbuf_add(struct dirbuf *b, const char *name, uint32_t ino, uint8_t type)
{
	size_t len = strlen(name);
	uint32_t need = (uint32_t)(8 + len + 1 + 3) & ~3u;
	int rc;
	if (b->used + need > UFS_DIRBLK && (rc = dirbuf_flush(b)) < 0)
		return rc;
	uint8_t *e = b->chunk + b->used;
	put32(e, ino);
	put16(e + 4, need);
	e[6] = type;
	e[7] = (uint8_t)len;
	memcpy(e + 8, name, len);
	b->last = b->used;
	b->used += need;
	return 0;
}

int ufs_dirs_write(struct ufs *u)
{
	struct dirbuf *b = calloc(1, sizeof(*b));
	if (!b)
		return ufs_fail(u, -ENOMEM, "ufs: out of memory");
	int rc = 0;
	for (uint32_t i = 0; i < u->ndirs && rc == 0; i++) {
		struct ufs_dir *d = &u->dirs[i];
		if (!d->heads || u->inos[d->ino].dir != i + 1)
			continue;
		memset(b, 0, sizeof(*b));
		if ((rc = open_writer(u, d->ino, &b->f)) < 0)
			break;
		rc = dirbuf_add(b, ".", d->ino, 4);
		if (rc == 0)
			rc = dirbuf_add(b, "..", d->parent, 4);
		for (uint32_t j = 0; j < d->n && rc == 0; j++)
			if (d->v[j].name)
				rc = dirbuf_add(b, d->v[j].name, d->v[j].ino, d->v[j].type);
		if (rc == 0)
			rc = dirbuf_flush(b);
		int rc2 = file_close((struct mv_file *)b->f, b->off);
		if (rc == 0)
			rc = rc2;
	}
	free(b);
	return rc;
}

/* ---- the operations ---- */

static mv_node op_root(struct mv_fs *fs)
{
	(void)fs;
	return UFS_ROOTINO;
}

/* 0 when node names an inode in use, else -ENOENT with a message: node
 * numbers come from the caller. */
static int known(struct ufs *u, mv_node node)
{
	if (node < u->ninos && u->inos[node].mode)
		return 0;
	return ufs_fail(u, -ENOENT, "ufs: no inode %llu", (unsigned long long)node);
}

/* The on-disk inode of a node the writer handed out. */
static int read_known(struct ufs *u, mv_node node, uint8_t di[UFS_INODE])
{
	return known(u, node) < 0 ? -ENOENT : ufs_iread(u, (uint32_t)node, di);
}

static int get_dir(struct ufs *u, mv_node node, struct ufs_dir **d)
{
	if (known(u, node) < 0)
		return -ENOENT;
	if (!(*d = ufs_dir_of(u, (uint32_t)node)))
		return -ENOTDIR;
	return 0;
}

/* name's entry in dir: *d the directory, *i the entry. */
static int find_entry(struct ufs *u, mv_node dir, const char *name, struct ufs_dir **d, uint32_t *i)
{
	int rc = get_dir(u, dir, d);
	if (rc < 0)
		return rc;
	*i = dir_find(*d, name);
	return *i == NONE ? -ENOENT : 0;
}

static int op_lookup(struct mv_fs *fs, mv_node dir, const char *name, mv_node *out)
{
	struct ufs_dir *d = NULL;
	uint32_t i;
	int rc = find_entry(ufs_of(fs), dir, name, &d, &i);
	if (rc == 0)
		*out = d->v[i].ino;
	return rc;
}

static int op_getattr(struct mv_fs *fs, mv_node node, struct mv_stat *st)
{
	struct ufs *u = ufs_of(fs);
	uint8_t di[UFS_INODE];
	int rc = read_known(u, node, di);
	if (rc < 0)
		return rc;
	*st = (struct mv_stat){.mode = get16(di + DI_MODE), .uid = get32(di + DI_UID), .gid = get32(di + DI_GID),
			       .size = get64(di + DI_SIZE), .nlink = get16(di + DI_NLINK),
			       .mtime = (int64_t)get64(di + DI_MTIME), .mtime_nsec = get32(di + DI_MTIMENS)};
	if (S_ISCHR(st->mode) || S_ISBLK(st->mode))
		st->rdev = linux_dev(get64(di + DI_DB));
	return 0;
}

static int op_setattr(struct mv_fs *fs, mv_node node, const struct mv_meta *meta)
{
	struct ufs *u = ufs_of(fs);
	uint8_t di[UFS_INODE];
	int rc = read_known(u, node, di);
	if (rc < 0)
		return rc;
	uint32_t type = get16(di + DI_MODE) & S_IFMT;
	apply_meta(di, meta, type);
	u->inos[node].mode = (uint16_t)(type | (meta->mode & 07777));
	return ufs_iwrite(u, (uint32_t)node, di);
}

static int op_open(struct mv_fs *fs, mv_node node, struct mv_file **out)
{
	struct ufs *u = ufs_of(fs);
	if (known(u, node) < 0)
		return -ENOENT;
	struct ufs_file *f = file_new(u, (uint32_t)node, 0);
	if (!f)
		return ufs_fail(u, -ENOMEM, "ufs: out of memory");
	int rc = ufs_iread(u, (uint32_t)node, f->di);
	if (rc < 0) {
		file_unlist(f);
		return rc;
	}
	*out = (struct mv_file *)f;
	return 0;
}

static int op_readlink(struct mv_fs *fs, mv_node node, char *buf, size_t len)
{
	struct ufs *u = ufs_of(fs);
	uint8_t di[UFS_INODE];
	int rc = read_known(u, node, di);
	if (rc < 0)
		return rc;
	if (!S_ISLNK(get16(di + DI_MODE)))
		return -EINVAL;
	uint64_t size = get64(di + DI_SIZE);
	if (size + 1 > len)
		return -ENAMETOOLONG;
	if (!get64(di + DI_BLOCKS)) {
		memcpy(buf, di + DI_DB, (size_t)size);
	} else {
		struct mv_file *f;
		if ((rc = op_open(fs, node, &f)) < 0)
			return rc;
		ssize_t n = file_read(f, 0, buf, (size_t)size);
		file_close(f, 0);
		if (n < 0)
			return (int)n;
	}
	buf[size] = '\0';
	return 0;
}

static int op_readdir(struct mv_fs *fs, mv_node dir, int (*fn)(void *, const char *, mv_node), void *ctx)
{
	struct ufs *u = ufs_of(fs);
	struct ufs_dir *d = NULL;
	int rc = get_dir(u, dir, &d);
	for (uint32_t i = 0; rc == 0; i++) {
		/* fn may add or remove entries: look the directory up again. */
		if (!(d = ufs_dir_of(u, (uint32_t)dir)) || i >= d->n)
			break;
		if (!d->v[i].name)
			continue;
		char *name = strdup(d->v[i].name);
		if (!name)
			return ufs_fail(u, -ENOMEM, "ufs: out of memory");
		rc = fn(ctx, name, d->v[i].ino);
		free(name);
	}
	return rc;
}

/* A new inode named name in dir; *di is its inode as written. */
static int make_node(struct ufs *u, mv_node dir, const char *name, const struct mv_meta *m, uint32_t nlink,
		     uint8_t *di, uint32_t *ino)
{
	struct ufs_dir *d = NULL;
	int rc = get_dir(u, dir, &d);
	if (rc < 0)
		return rc == -ENOTDIR ? ufs_fail(u, rc, "ufs: %s: the parent is no directory", name) : rc;
	if (strlen(name) > 255)
		return ufs_fail(u, -ENAMETOOLONG, "ufs: %s: names are at most 255 bytes", name);
	if ((rc = new_inode(u, m, nlink, di, ino)) < 0)
		return rc;
	d = ufs_dir_of(u, (uint32_t)dir);
	return dir_add(u, d, name, *ino, m->mode);
}

static int op_mkdir(struct mv_fs *fs, mv_node dir, const char *name, const struct mv_meta *meta, mv_node *out)
{
	struct ufs *u = ufs_of(fs);
	uint8_t di[UFS_INODE];
	uint32_t ino;
	struct mv_meta m = *meta;
	m.mode = S_IFDIR | (meta->mode & 07777);
	int rc = make_node(u, dir, name, &m, 2, di, &ino);
	if (rc < 0 || (rc = ufs_dir_new(u, ino, (uint32_t)dir)) < 0 || (rc = nlink_add(u, (uint32_t)dir, 1, di)) < 0)
		return rc;
	*out = ino;
	return 0;
}

static int op_create(struct mv_fs *fs, mv_node dir, const char *name, const struct mv_meta *meta, struct mv_file **out)
{
	struct ufs *u = ufs_of(fs);
	if (u->writing)
		return ufs_fail(u, -EBUSY, "ufs: %s: another file is open for writing", name);
	uint8_t di[UFS_INODE];
	uint32_t ino;
	struct mv_meta m = *meta;
	m.mode = S_IFREG | (meta->mode & 07777);
	int rc = make_node(u, dir, name, &m, 1, di, &ino);
	if (rc < 0)
		return rc;
	struct ufs_file *f;
	if ((rc = open_writer(u, ino, &f)) < 0)
		return rc;
	*out = (struct mv_file *)f;
	return 0;
}

static int op_symlink(struct mv_fs *fs, mv_node dir, const char *name, const char *target, const struct mv_meta *meta)
{
	struct ufs *u = ufs_of(fs);
	uint8_t di[UFS_INODE];
	uint32_t ino;
	struct mv_meta m = *meta;
	m.mode = S_IFLNK | (meta->mode & 07777);
	size_t len = strlen(target);
	if (len >= UFS_BSIZE)
		return ufs_fail(u, -ENAMETOOLONG, "ufs: %s: the link target is too long", name);
	if (u->writing && len >= UFS_MAXSYMLINK)
		return ufs_fail(u, -EBUSY, "ufs: %s: another file is open for writing", name);
	int rc = make_node(u, dir, name, &m, 1, di, &ino);
	if (rc < 0)
		return rc;
	if (len < UFS_MAXSYMLINK) {
		/* A fast symlink: the target in the block pointers' place. */
		memcpy(di + DI_DB, target, len);
		put64(di + DI_SIZE, len);
		return ufs_iwrite(u, ino, di);
	}
	struct ufs_file *f;
	if ((rc = open_writer(u, ino, &f)) < 0)
		return rc;
	rc = file_write((struct mv_file *)f, 0, target, len);
	int rc2 = file_close((struct mv_file *)f, len);
	return rc < 0 ? rc : rc2;
}

static int op_link(struct mv_fs *fs, mv_node dir, const char *name, mv_node target)
{
	struct ufs *u = ufs_of(fs);
	struct ufs_dir *d = NULL;
	uint8_t di[UFS_INODE];
	int rc = get_dir(u, dir, &d);
	if (rc < 0)
		return rc;
	if (target >= u->ninos || !u->inos[target].mode || S_ISDIR(u->inos[target].mode))
		return ufs_fail(u, -EPERM, "ufs: %s: hard links go to existing non-directories", name);
	if ((rc = nlink_add(u, (uint32_t)target, 1, di)) < 0)
		return rc;
	return dir_add(u, d, name, (uint32_t)target, u->inos[target].mode);
}

static int op_mknod(struct mv_fs *fs, mv_node dir, const char *name, const struct mv_meta *meta)
{
	struct ufs *u = ufs_of(fs);
	uint8_t di[UFS_INODE];
	uint32_t ino;
	uint32_t t = meta->mode & S_IFMT;
	if (!S_ISCHR(t) && !S_ISBLK(t) && !S_ISFIFO(t) && !S_ISSOCK(t))
		return ufs_fail(u, -EINVAL, "ufs: %s: mknod makes devices, FIFOs and sockets", name);
	return make_node(u, dir, name, meta, 1, di, &ino);
}

static int op_unlink(struct mv_fs *fs, mv_node dir, const char *name)
{
	struct ufs *u = ufs_of(fs);
	struct ufs_dir *d = NULL;
	uint8_t di[UFS_INODE];
	uint32_t i;
	int rc = find_entry(u, dir, name, &d, &i);
	if (rc < 0)
		return rc;
	uint32_t ino = d->v[i].ino;
	struct ufs_dir *sub = ufs_dir_of(u, ino);
	if (sub && sub->live)
		return ufs_fail(u, -ENOTEMPTY, "ufs: %s: the directory is not empty", name);
	dir_remove(d, i);
	if (sub && (rc = nlink_add(u, (uint32_t)dir, -1, di)) < 0)
		return rc;
	if ((rc = ufs_iread(u, ino, di)) < 0)
		return rc;
	int left = sub ? 0 : (int16_t)get16(di + DI_NLINK) - 1;
	if (left > 0) {
		put16(di + DI_NLINK, (uint32_t)left);
		return ufs_iwrite(u, ino, di);
	}
	return free_inode(u, ino, di);
}

const struct mv_fs_ops mv_ufs_ops = {
	.name = "ufs",
	.root = op_root,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.readdir = op_readdir,
	.mkdir = op_mkdir,
	.create = op_create,
	.write = file_write,
	.close = file_close,
	.symlink = op_symlink,
	.link = op_link,
	.mknod = op_mknod,
	.unlink = op_unlink,
	.open = op_open,
	.read = file_read,
	.finish = ufs_finish,
	.destroy = ufs_destroy,
};
