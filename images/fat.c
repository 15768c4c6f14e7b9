/* fat: our own FAT12/16/32 writer behind struct mv_fs_ops (images/fs.h).
 *
 * Decisions, so that readers of an image know what to expect:
 *
 *  - Type and cluster size. FAT32 whenever 65,525 clusters fit: the cluster
 *    size starts at mkfs.fat's (Microsoft's table: 512 B up to 260 MiB, 4 KiB
 *    to 8 GiB, 8 KiB to 16 GiB, 16 KiB to 32 GiB, 32 KiB above, never below
 *    one sector) and halves, down to one sector, until 65,525 clusters fit.
 *    Below that FAT12 when 2 KiB clusters number fewer than 4,085 (as
 *    mkfs.fat), else FAT16 with 2 KiB clusters doubled until at most
 *    65,524 remain. Asking for FAT32 where it cannot fit fails and names the
 *    minimum size. Sectors are the target's (512 or 4096 bytes: UEFI
 *    refuses a FAT whose sector size differs from the device's). 32
 *    reserved sectors on FAT32 and 1 on FAT12/16, padded so that clusters
 *    start cluster-aligned; two mirrored FATs; 512 root entries on FAT12/16.
 *  - Owners and permission bits are not stored (FAT has none) and no
 *    read-only attribute is set: files stay replaceable by boot-loader
 *    updates. getattr reports files 0644 and directories 0755, owner 0:0.
 *    Files carry the archive attribute, as new files on Windows and Linux do.
 *  - No symlinks, device nodes, FIFOs or sockets (-EPERM with a message);
 *    link() is -ENOTSUP, so the path layer copies.
 *  - Names are UTF-8 in, UTF-16 in long-name entries out, compared without
 *    case (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic). A name that
 *    is a valid 8.3 name with one case per part is stored as that 8.3 name
 *    alone, a lower-case part flagged by the NT case bits (0x08 base, 0x10
 *    extension), as Linux and Windows NT do. Any other name gets long-name
 *    entries and an ASCII 8.3 alias, assigned at finish(): first the names
 *    that are their own 8.3 name, then in order of creation each long name
 *    takes its basis (upper case, invalid characters as '_') if that is
 *    exact but for case and free, else the first free BASIS~N, N = 1, 2, ...
 *    The same calls give the same aliases. Names ending in a dot or space
 *    are refused (readers would drop those characters). Aliases are ASCII,
 *    so the 0xE5 lead byte (stored as 0x05) cannot arise; put_entry still
 *    maps it. The FSInfo next-free hint is the first free cluster.
 *  - Times are UTC (no time zone in a reproducible image), clamped to
 *    1980-01-01 .. 2107-12-31; modification, creation (from ctime, with
 *    10 ms precision) and access date come from the meta; entries without
 *    their own (root, label) take options->timestamp.
 *  - Streaming: create() allocates nothing; write() appends whole clusters
 *    as they fill, in allocation order; close() writes the last partial
 *    cluster (zero padded) and completes the entry. Directories live in
 *    memory and take clusters at finish(), which is guaranteed room: file
 *    allocation stops short of the clusters directories will need.
 *  - Every byte of the reserved area, both FATs, the root area, every
 *    directory cluster and every byte of each file's clusters (gaps and
 *    slack included) is written, on a fresh target too: an image is
 *    flashed by its data ranges (bmap) onto media holding anything, so
 *    only free clusters may stay holes.
 *  - hidden sectors (BPB) = the window's offset on the target in sectors. */
#include "fat.h"
#include "fat_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NONE UINT32_MAX
#define EOC 0x0fffffffu
#define FAT_FILE_MAX 0xffffffffull

struct fat_node {
	char *name;           /* as given (UTF-8); NULL for the root */
	uint16_t *u16;        /* the name as stored */
	uint16_t n16;
	uint8_t is_dir, live, writing;
	uint8_t lfn;          /* long-name entries; 0: the name is its own 8.3 name */
	uint8_t ntcase;
	uint8_t sname[11];    /* 8.3 name or alias (aliases: set at finish) */
	uint32_t parent;
	uint32_t hash, hnext; /* name index: (parent, name without case) */
	uint32_t first;       /* first cluster; 0: none */
	uint32_t size;
	uint32_t readers;
	struct fat_time crt, wrt, acc;
	uint32_t *kids, nkids, capkids; /* directories: entries in creation order */
	uint32_t slots;       /* directories: 32-byte entries needed */
};

struct fat {
	struct mv_fs base;
	struct mv_io io;
	struct fat_geom g;
	struct fat_volume vol;
	int has_label;
	int64_t timestamp;
	uint32_t *table;      /* FAT entries 0 .. clusters + 1; EOC ends a chain */
	uint32_t free_clusters;
	uint32_t cursor;      /* where the next allocation looks first */
	uint32_t dirty_max;   /* highest cluster ever written: above, a fresh target reads zeros */
	uint32_t dir_need;    /* clusters directories will take at finish() */
	struct fat_node *nodes;
	uint32_t nnodes, capnodes;
	uint32_t *buckets, nbuckets, nlive;
	struct fat_file *files; /* open files, freed by destroy() */
	int writer_open, finished;
	uint8_t *zero;        /* one cluster of zeros */
};

struct fat_file {
	struct fat *fs;
	struct fat_file *next, **prevp;
	uint32_t node;
	int writing;
	uint64_t pos;         /* writing: bytes taken so far */
	uint32_t fill;        /* writing: bytes waiting in buf */
	uint32_t last;        /* writing: last cluster of the chain */
	uint32_t nclusters;   /* writing: clusters in the chain */
	uint32_t at_index, at_cluster; /* reading: a known point of the chain */
	uint8_t buf[];        /* writing: one cluster */
};

static struct fat *fat_of(struct mv_fs *fs)
{
	return (struct fat *)fs;
}

static struct fat_file *file_of(struct mv_file *f)
{
	return (struct fat_file *)f;
}

static int fail(struct fat *fs, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct fat *fs, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fs->base.err, sizeof(fs->base.err), fmt, ap);
	va_end(ap);
	return err;
}

/* "/dir/sub/name" for messages: the path of dir plus name (NULL: dir's own). */
static const char *path_of(struct fat *fs, uint32_t dir, const char *name, char *buf, size_t len)
{
	size_t at = len - 1;
	buf[at] = '\0';
	const char *part = name;
	uint32_t n = dir;

	for (;;) {
		if (part) {
			size_t pl = strlen(part);
			if (pl + 1 > at)
				break;
			at -= pl;
			memcpy(buf + at, part, pl);
			buf[--at] = '/';
		}
		if (n == 0)
			break;
		part = fs->nodes[n].name;
		n = fs->nodes[n].parent;
	}
	if (buf[at] == '\0')
		buf[--at] = '/';
	return buf + at;
}

#define PATH(fs, dir, name) path_of(fs, dir, name, (char[256]){ 0 }, 256)

static struct fat_node *node_at(struct fat *fs, mv_node n)
{
	if (n >= fs->nnodes || !fs->nodes[n].live)
		return NULL;
	return &fs->nodes[n];
}

static int dir_at(struct fat *fs, mv_node n, struct fat_node **out)
{
	struct fat_node *d = node_at(fs, n);
	if (!d)
		return fail(fs, -ENOENT, "FAT: node %llu does not exist", (unsigned long long)n);
	if (!d->is_dir)
		return fail(fs, -ENOTDIR, "%s is not a directory", PATH(fs, (uint32_t)n, NULL));
	*out = d;
	return 0;
}

/* ---- Clusters ---- */

static uint64_t cluster_off(const struct fat *fs, uint32_t c)
{
	return ((uint64_t)fs->g.data_start + (uint64_t)(c - 2) * fs->g.spc) * fs->g.ss;
}

static int valid_cluster(const struct fat *fs, uint32_t c)
{
	return c >= 2 && c < fs->g.clusters + 2;
}

/* Clusters a directory occupies: none for the fixed FAT12/16 root. */
static uint32_t dir_clusters(const struct fat *fs, const struct fat_node *d, uint32_t slots)
{
	if (d == fs->nodes && fs->g.bits != 32)
		return 0;
	uint64_t bytes = (uint64_t)slots * FAT_DIRENT;
	uint32_t n = (uint32_t)((bytes + fs->g.cluster_bytes - 1) / fs->g.cluster_bytes);
	return n ? n : 1;
}

/* The cluster the next allocation would return, or NONE. reserve: clusters
 * that must stay free (for directories). */
static uint32_t next_free(const struct fat *fs, uint32_t reserve)
{
	if (fs->free_clusters <= reserve)
		return NONE;
	uint32_t end = fs->g.clusters + 2;
	for (uint32_t c = fs->cursor; c < end; c++)
		if (!fs->table[c])
			return c;
	for (uint32_t c = 2; c < fs->cursor; c++)
		if (!fs->table[c])
			return c;
	return NONE;
}

static uint32_t take_cluster(struct fat *fs, uint32_t reserve)
{
	uint32_t c = next_free(fs, reserve);
	if (c == NONE)
		return NONE;
	fs->table[c] = EOC;
	fs->free_clusters--;
	fs->cursor = c + 1;
	return c;
}

static void free_chain(struct fat *fs, uint32_t c)
{
	while (valid_cluster(fs, c)) {
		uint32_t next = fs->table[c];
		fs->table[c] = 0;
		fs->free_clusters++;
		c = next;
	}
}

static int io_fail(struct fat *fs, const char *what, uint64_t off)
{
	int e = errno ? errno : EIO;
	return fail(fs, -e, "FAT: writing %s at byte %llu of the partition: %s", what,
		    (unsigned long long)off, strerror(e));
}

static int put(struct fat *fs, const char *what, uint64_t off, const void *buf, size_t len)
{
	if (mv_io_pwrite(&fs->io, off, buf, len) < 0)
		return io_fail(fs, what, off);
	return 0;
}

/* Metadata: written in full even on a fresh target, because a flashed
 * image keeps only its data ranges (images/flash.h): a FAT sector left as
 * a hole would read as whatever the card held before. */
static int put_meta(struct fat *fs, const char *what, uint64_t off, const uint8_t *buf, size_t len)
{
	return put(fs, what, off, buf, len);
}

/* ---- Names ---- */

static uint32_t key_hash(uint32_t parent, const uint16_t *u, size_t n)
{
	return fat_name_hash(u, n) ^ (parent * 0x9e3779b1u);
}

static int index_grow(struct fat *fs)
{
	uint32_t nb = fs->nbuckets ? fs->nbuckets * 2 : 64;
	uint32_t *b = malloc((size_t)nb * sizeof(*b));
	if (!b)
		return -ENOMEM;
	memset(b, 0xff, (size_t)nb * sizeof(*b));
	for (uint32_t i = 1; i < fs->nnodes; i++) {
		struct fat_node *n = &fs->nodes[i];
		if (!n->live)
			continue;
		n->hnext = b[n->hash & (nb - 1)];
		b[n->hash & (nb - 1)] = i;
	}
	free(fs->buckets);
	fs->buckets = b;
	fs->nbuckets = nb;
	return 0;
}

static uint32_t find_child(struct fat *fs, uint32_t dir, const uint16_t *u, size_t n)
{
	if (!fs->nbuckets)
		return NONE;
	uint32_t h = key_hash(dir, u, n);
	for (uint32_t i = fs->buckets[h & (fs->nbuckets - 1)]; i != NONE; i = fs->nodes[i].hnext) {
		struct fat_node *c = &fs->nodes[i];
		if (c->hash == h && c->parent == dir && fat_name_equal(c->u16, c->n16, u, n))
			return i;
	}
	return NONE;
}

static void index_remove(struct fat *fs, uint32_t i)
{
	uint32_t *p = &fs->buckets[fs->nodes[i].hash & (fs->nbuckets - 1)];
	while (*p != i)
		p = &fs->nodes[*p].hnext;
	*p = fs->nodes[i].hnext;
}

static void set_times(struct fat *fs, struct fat_node *n, const struct mv_meta *m)
{
	if (!m) {
		fat_time_encode(fs->timestamp, 0, &n->wrt);
		n->crt = n->acc = n->wrt;
		return;
	}
	fat_time_encode(m->mtime, m->mtime_nsec, &n->wrt);
	fat_time_encode(m->ctime, m->ctime_nsec, &n->crt);
	fat_time_encode(m->atime, m->atime_nsec, &n->acc);
}

static int push_kid(struct fat_node *d, uint32_t i)
{
	if (d->nkids == d->capkids) {
		uint32_t cap = d->capkids ? d->capkids * 2 : 8;
		uint32_t *k = realloc(d->kids, (size_t)cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		d->kids = k;
		d->capkids = cap;
	}
	d->kids[d->nkids++] = i;
	return 0;
}

static int grow_nodes(struct fat *fs)
{
	if (fs->nnodes < fs->capnodes)
		return 0;
	if (fs->capnodes >= NONE / 2)
		return -ENOSPC;
	uint32_t cap = fs->capnodes ? fs->capnodes * 2 : 64;
	struct fat_node *n = realloc(fs->nodes, (size_t)cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	fs->nodes = n;
	fs->capnodes = cap;
	return 0;
}

/* Room for k more entries in directory d (and, for a new directory, its
 * own first cluster): returns the clusters that reserves, or a negative
 * errno. */
static int64_t make_room(struct fat *fs, uint32_t dir, uint32_t k, int new_dir, const char *name)
{
	struct fat_node *d = &fs->nodes[dir];
	uint32_t slots = d->slots + k;

	if (dir == 0 && fs->g.bits != 32 && slots > fs->g.root_entries)
		return fail(fs, -ENOSPC, "cannot add %s: the FAT%u root directory holds %u entries",
			    PATH(fs, dir, name), fs->g.bits, fs->g.root_entries);
	if (slots > FAT_DIR_MAX_ENTRIES)
		return fail(fs, -ENOSPC, "cannot add %s: a FAT directory holds %u entries",
			    PATH(fs, dir, name), FAT_DIR_MAX_ENTRIES);
	uint32_t more = dir_clusters(fs, d, slots) - dir_clusters(fs, d, d->slots) + (new_dir ? 1 : 0);
	if (more > fs->free_clusters - fs->dir_need)
		return fail(fs, -ENOSPC, "cannot add %s: the FAT filesystem is full",
			    PATH(fs, dir, name));
	return more;
}

/* A new entry in dir: checks the name, reserves directory space, indexes it. */
static int new_entry(struct fat *fs, mv_node dir, const char *name, const struct mv_meta *meta,
		     int is_dir, uint32_t *out)
{
	struct fat_node *d;
	uint16_t u[FAT_NAME_MAX + 1];
	size_t n;
	const char *why;
	int r;

	if (fs->finished)
		return fail(fs, -EINVAL, "FAT: the filesystem is already finished");
	if ((r = dir_at(fs, dir, &d)))
		return r;
	uint32_t di = (uint32_t)dir;
	r = fat_utf8_to_utf16(name, u, FAT_NAME_MAX + 1, &n);
	if (r == -EILSEQ)
		return fail(fs, r, "%s: the name is not valid UTF-8", PATH(fs, di, name));
	if (r == 0)
		r = fat_name_valid(u, n, &why);
	else
		why = "is longer than 255 UTF-16 characters";
	if (r)
		return fail(fs, r, "FAT cannot store %s: the name %s", PATH(fs, di, name), why);
	if (find_child(fs, di, u, n) != NONE)
		return fail(fs, -EEXIST, "%s exists (FAT names ignore case)", PATH(fs, di, name));

	struct fat_node nn = { .is_dir = (uint8_t)is_dir, .live = 1, .parent = di, .n16 = (uint16_t)n };
	if (fat_name_is_short(name, nn.sname, &nn.ntcase))
		nn.lfn = 0;
	else
		nn.lfn = (uint8_t)fat_lfn_count(n);
	int64_t more = make_room(fs, di, nn.lfn + 1u, is_dir, name);
	if (more < 0)
		return (int)more;
	if ((r = grow_nodes(fs)) || (fs->nlive + 1 > fs->nbuckets && (r = index_grow(fs))))
		return fail(fs, r, "FAT: out of memory adding %s", PATH(fs, di, name));
	nn.name = strdup(name);
	nn.u16 = malloc(n * sizeof(*u));
	if (!nn.name || !nn.u16 || push_kid(&fs->nodes[di], fs->nnodes) < 0) {
		free(nn.name);
		free(nn.u16);
		return fail(fs, -ENOMEM, "FAT: out of memory adding %s", PATH(fs, di, name));
	}
	memcpy(nn.u16, u, n * sizeof(*u));
	nn.hash = key_hash(di, u, n);
	nn.slots = is_dir ? 2 : 0; /* "." and ".." */
	set_times(fs, &nn, meta);

	uint32_t i = fs->nnodes++;
	fs->nodes[i] = nn;
	fs->nodes[i].hnext = fs->buckets[nn.hash & (fs->nbuckets - 1)];
	fs->buckets[nn.hash & (fs->nbuckets - 1)] = i;
	fs->nlive++;
	fs->nodes[di].slots += nn.lfn + 1u;
	fs->dir_need += (uint32_t)more;
	*out = i;
	return 0;
}

/* ---- Lookup and attributes ---- */

static mv_node fat_root(struct mv_fs *fs)
{
	(void)fs;
	return 0;
}

static int fat_lookup(struct mv_fs *base, mv_node dir, const char *name, mv_node *out)
{
	struct fat *fs = fat_of(base);
	struct fat_node *d;
	uint16_t u[FAT_NAME_MAX + 1];
	size_t n;
	int r;

	if ((r = dir_at(fs, dir, &d)))
		return r;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		*out = name[1] ? d->parent : dir;
		return 0;
	}
	uint32_t i = NONE;
	if (fat_utf8_to_utf16(name, u, FAT_NAME_MAX + 1, &n) == 0)
		i = find_child(fs, (uint32_t)dir, u, n);
	if (i == NONE)
		return fail(fs, -ENOENT, "%s does not exist", PATH(fs, (uint32_t)dir, name));
	*out = i;
	return 0;
}

static int fat_getattr(struct mv_fs *base, mv_node node, struct mv_stat *st)
{
	struct fat *fs = fat_of(base);
	struct fat_node *n = node_at(fs, node);

	if (!n)
		return fail(fs, -ENOENT, "FAT: node %llu does not exist", (unsigned long long)node);
	memset(st, 0, sizeof(*st));
	st->mode = n->is_dir ? S_IFDIR | 0755 : S_IFREG | 0644;
	st->size = n->is_dir ? 0 : n->size;
	st->nlink = n->is_dir ? 2 : 1;
	st->mtime = fat_time_decode(n->wrt.date, n->wrt.time);
	return 0;
}

static int fat_setattr(struct mv_fs *base, mv_node node, const struct mv_meta *meta)
{
	struct fat *fs = fat_of(base);
	struct fat_node *n = node_at(fs, node);

	if (!n)
		return fail(fs, -ENOENT, "FAT: node %llu does not exist", (unsigned long long)node);
	if (node != 0) /* the root has no entry to keep times in */
		set_times(fs, n, meta);
	return 0;
}

static int fat_readlink(struct mv_fs *base, mv_node node, char *buf, size_t len)
{
	struct fat *fs = fat_of(base);
	(void)buf;
	(void)len;
	if (!node_at(fs, node))
		return fail(fs, -ENOENT, "FAT: node %llu does not exist", (unsigned long long)node);
	return fail(fs, -EINVAL, "%s is not a symlink (FAT has none)",
		    PATH(fs, (uint32_t)node, NULL));
}

static int fat_readdir(struct mv_fs *base, mv_node dir,
		       int (*fn)(void *ctx, const char *name, mv_node node), void *ctx)
{
	struct fat *fs = fat_of(base);
	struct fat_node *d;
	int r;

	if ((r = dir_at(fs, dir, &d)))
		return r;
	if (!d->nkids)
		return 0;
	/* A copy: fn may add or remove entries of this directory. */
	uint32_t nk = d->nkids, *kids = malloc((size_t)nk * sizeof(*kids));
	if (!kids)
		return fail(fs, -ENOMEM, "FAT: out of memory");
	memcpy(kids, d->kids, (size_t)nk * sizeof(*kids));
	for (uint32_t k = 0; k < nk && r == 0; k++)
		if (fs->nodes[kids[k]].live)
			r = fn(ctx, fs->nodes[kids[k]].name, kids[k]);
	free(kids);
	return r;
}

/* ---- Creating ---- */

static int fat_mkdir(struct mv_fs *base, mv_node dir, const char *name,
		     const struct mv_meta *meta, mv_node *out)
{
	uint32_t i;
	int r = new_entry(fat_of(base), dir, name, meta, 1, &i);
	if (r == 0 && out)
		*out = i;
	return r;
}

static struct fat_file *file_new(struct fat *fs, uint32_t node, size_t bufsize)
{
	struct fat_file *f = calloc(1, sizeof(*f) + bufsize);
	if (!f)
		return NULL;
	f->fs = fs;
	f->node = node;
	f->next = fs->files;
	if (fs->files)
		fs->files->prevp = &f->next;
	f->prevp = &fs->files;
	fs->files = f;
	return f;
}

static void file_free(struct fat_file *f)
{
	*f->prevp = f->next;
	if (f->next)
		f->next->prevp = f->prevp;
	free(f);
}

static int fat_create(struct mv_fs *base, mv_node dir, const char *name,
		      const struct mv_meta *meta, struct mv_file **out)
{
	struct fat *fs = fat_of(base);
	uint32_t i;
	int r;

	if (fs->writer_open)
		return fail(fs, -EBUSY, "cannot create %s: another FAT file is open for writing",
			    PATH(fs, (uint32_t)dir, name));
	if ((r = new_entry(fs, dir, name, meta, 0, &i)))
		return r;
	struct fat_file *f = file_new(fs, i, fs->g.cluster_bytes);
	if (!f)
		return fail(fs, -ENOMEM, "FAT: out of memory");
	f->writing = 1;
	fs->nodes[i].writing = 1;
	fs->writer_open = 1;
	*out = (struct mv_file *)f;
	return 0;
}

/* Appends a fresh cluster to f's chain. */
static int add_cluster(struct fat_file *f, uint32_t *out)
{
	struct fat *fs = f->fs;
	uint32_t c = take_cluster(fs, fs->dir_need);

	if (c == NONE)
		return fail(fs, -ENOSPC, "%s: the FAT filesystem is full",
			    PATH(fs, f->node, NULL));
	if (f->last)
		fs->table[f->last] = c;
	else
		fs->nodes[f->node].first = c;
	f->last = c;
	f->nclusters++;
	*out = c;
	return 0;
}

static void mark_written(struct fat *fs, uint32_t last)
{
	if (last > fs->dirty_max)
		fs->dirty_max = last;
}

/* n whole clusters of data (or zeros when data is NULL), written in runs
 * of consecutive clusters. */
static int put_clusters(struct fat_file *f, const uint8_t *data, uint64_t n)
{
	struct fat *fs = f->fs;
	size_t cb = fs->g.cluster_bytes;

	while (n) {
		uint32_t c0, c, m = 1;
		int r = add_cluster(f, &c0);
		if (r)
			return r;
		while (m < n && m < 1024 && next_free(fs, fs->dir_need) == c0 + m) {
			if ((r = add_cluster(f, &c)))
				return r;
			m++;
		}
		if (data) {
			r = put(fs, "file data", cluster_off(fs, c0), data, (size_t)m * cb);
			data += (size_t)m * cb;
			mark_written(fs, c0 + m - 1);
		} else {
			/* A file's zeros are its data: written even on a fresh
			 * target (see put_meta). */
			struct mv_io io = fs->io;
			io.fresh = 0;
			if (mv_io_zero(&io, cluster_off(fs, c0), (uint64_t)m * cb) < 0)
				r = io_fail(fs, "zeros", cluster_off(fs, c0));
			mark_written(fs, c0 + m - 1);
		}
		if (r)
			return r;
		n -= m;
	}
	return 0;
}

/* The cluster in f->buf, zero padded. */
static int flush_buf(struct fat_file *f)
{
	struct fat *fs = f->fs;
	size_t cb = fs->g.cluster_bytes;
	uint32_t c;
	int r;

	memset(f->buf + f->fill, 0, cb - f->fill);
	if ((r = add_cluster(f, &c)))
		return r;
	f->fill = 0;
	mark_written(fs, c);
	return put(fs, "file data", cluster_off(fs, c), f->buf, cb);
}

/* Takes len bytes of data (NULL: zeros) at the end of the file. */
static int append(struct fat_file *f, const uint8_t *data, uint64_t len)
{
	size_t cb = f->fs->g.cluster_bytes;
	int r;

	while (len) {
		if (f->fill || len < cb) {
			size_t n = cb - f->fill < len ? cb - f->fill : (size_t)len;
			if (data) {
				memcpy(f->buf + f->fill, data, n);
				data += n;
			} else {
				memset(f->buf + f->fill, 0, n);
			}
			f->fill += (uint32_t)n;
			f->pos += n;
			len -= n;
			if (f->fill == cb && (r = flush_buf(f)))
				return r;
			continue;
		}
		uint64_t whole = len / cb;
		if ((r = put_clusters(f, data, whole)))
			return r;
		if (data)
			data += whole * cb;
		f->pos += whole * cb;
		len -= whole * cb;
	}
	return 0;
}

static int too_big(struct fat *fs, uint32_t node, uint64_t size)
{
	return fail(fs, -EFBIG, "FAT cannot store %s: %llu bytes (files stop at 4 GiB - 1)",
		    PATH(fs, node, NULL), (unsigned long long)size);
}

static int fat_write(struct mv_file *mf, uint64_t offset, const void *buf, size_t len)
{
	struct fat_file *f = file_of(mf);
	struct fat *fs = f->fs;
	int r;

	if (!f->writing)
		return fail(fs, -EBADF, "%s is open for reading", PATH(fs, f->node, NULL));
	if (offset < f->pos)
		return fail(fs, -EINVAL, "%s: FAT writes must come at increasing offsets "
			    "(%llu after %llu)", PATH(fs, f->node, NULL),
			    (unsigned long long)offset, (unsigned long long)f->pos);
	if (offset > FAT_FILE_MAX || len > FAT_FILE_MAX - offset)
		return too_big(fs, f->node, offset + len);
	if ((r = append(f, NULL, offset - f->pos)))
		return r;
	return append(f, buf, len);
}

/* After a failed write or close the entry keeps what reached the disk:
 * whole clusters taken in order, the chain cut to match, so that the
 * filesystem stays consistent. */
static void keep_written(struct fat_file *f)
{
	struct fat *fs = f->fs;
	struct fat_node *n = &fs->nodes[f->node];
	uint32_t cb = fs->g.cluster_bytes, keep = 0;
	uint64_t flushed = f->pos - f->fill;

	while (keep < f->nclusters && (uint64_t)(keep + 1) * cb <= flushed)
		keep++;
	n->size = (uint32_t)((uint64_t)keep * cb);
	if (keep == 0) {
		free_chain(fs, n->first);
		n->first = 0;
		return;
	}
	uint32_t c = n->first;
	for (uint32_t k = 1; k < keep; k++)
		c = fs->table[c];
	free_chain(fs, fs->table[c]);
	fs->table[c] = EOC;
}

static int close_writer(struct fat_file *f, uint64_t size)
{
	struct fat *fs = f->fs;
	struct fat_node *n = &fs->nodes[f->node];
	int r = 0;

	if (size < f->pos)
		r = fail(fs, -EINVAL, "%s: closed at %llu bytes after %llu were written",
			 PATH(fs, f->node, NULL), (unsigned long long)size,
			 (unsigned long long)f->pos);
	else if (size > FAT_FILE_MAX)
		r = too_big(fs, f->node, size);
	if (r == 0)
		r = append(f, NULL, size - f->pos);
	if (r == 0 && f->fill)
		r = flush_buf(f);
	if (r)
		keep_written(f);
	else
		n->size = (uint32_t)size;
	n->writing = 0;
	fs->writer_open = 0;
	return r;
}

static int fat_close(struct mv_file *mf, uint64_t size)
{
	struct fat_file *f = file_of(mf);
	int r = 0;

	if (f->writing)
		r = close_writer(f, size);
	else
		f->fs->nodes[f->node].readers--;
	file_free(f);
	return r;
}

static int fat_symlink(struct mv_fs *base, mv_node dir, const char *name, const char *target,
		       const struct mv_meta *meta)
{
	struct fat *fs = fat_of(base);
	(void)target;
	(void)meta;
	return fail(fs, -EPERM, "FAT cannot store symlinks: %s", PATH(fs, (uint32_t)dir, name));
}

static int fat_link(struct mv_fs *base, mv_node dir, const char *name, mv_node target)
{
	struct fat *fs = fat_of(base);
	(void)target;
	return fail(fs, -ENOTSUP, "FAT has no hard links: %s", PATH(fs, (uint32_t)dir, name));
}

static int fat_mknod(struct mv_fs *base, mv_node dir, const char *name, const struct mv_meta *meta)
{
	struct fat *fs = fat_of(base);
	uint32_t mode = meta ? meta->mode : 0;
	const char *what = S_ISFIFO(mode) ? "FIFOs" : S_ISSOCK(mode) ? "sockets" : "device nodes";
	return fail(fs, -EPERM, "FAT cannot store %s: %s", what, PATH(fs, (uint32_t)dir, name));
}

static int fat_unlink(struct mv_fs *base, mv_node dir, const char *name)
{
	struct fat *fs = fat_of(base);
	struct fat_node *d;
	mv_node i;
	int r;

	if (fs->finished)
		return fail(fs, -EINVAL, "FAT: the filesystem is already finished");
	if ((r = dir_at(fs, dir, &d)) || (r = fat_lookup(base, dir, name, &i)))
		return r;
	struct fat_node *n = &fs->nodes[i];
	if (i == 0 || i == dir || i == d->parent)
		return fail(fs, -EINVAL, "cannot remove %s", PATH(fs, (uint32_t)dir, name));
	if (n->is_dir && n->nkids)
		return fail(fs, -ENOTEMPTY, "%s is not empty", PATH(fs, (uint32_t)i, NULL));
	if (n->writing || n->readers)
		return fail(fs, -EBUSY, "%s is open", PATH(fs, (uint32_t)i, NULL));

	uint32_t before = dir_clusters(fs, d, d->slots);
	d->slots -= n->lfn + 1u;
	fs->dir_need -= before - dir_clusters(fs, d, d->slots);
	if (n->is_dir)
		fs->dir_need -= dir_clusters(fs, n, n->slots);
	free_chain(fs, n->first);
	for (uint32_t k = 0; k < d->nkids; k++) {
		if (d->kids[k] == i) {
			memmove(d->kids + k, d->kids + k + 1, (d->nkids - k - 1) * sizeof(*d->kids));
			d->nkids--;
			break;
		}
	}
	index_remove(fs, (uint32_t)i);
	fs->nlive--;
	free(n->name);
	free(n->u16);
	free(n->kids);
	memset(n, 0, sizeof(*n)); /* live = 0: the handle is gone */
	return 0;
}

/* ---- Reading ---- */

static int fat_open(struct mv_fs *base, mv_node node, struct mv_file **out)
{
	struct fat *fs = fat_of(base);
	struct fat_node *n = node_at(fs, node);

	if (!n)
		return fail(fs, -ENOENT, "FAT: node %llu does not exist", (unsigned long long)node);
	if (n->is_dir)
		return fail(fs, -EISDIR, "%s is a directory", PATH(fs, (uint32_t)node, NULL));
	if (n->writing)
		return fail(fs, -EBUSY, "%s is still being written", PATH(fs, (uint32_t)node, NULL));
	struct fat_file *f = file_new(fs, (uint32_t)node, 0);
	if (!f)
		return fail(fs, -ENOMEM, "FAT: out of memory");
	f->at_cluster = n->first;
	n->readers++;
	*out = (struct mv_file *)f;
	return 0;
}

/* The cluster holding cluster index idx of f's file (walks the chain from
 * the last point found: sequential reads walk it once). */
static uint32_t seek_cluster(struct fat_file *f, uint32_t idx)
{
	struct fat *fs = f->fs;
	if (idx < f->at_index) {
		f->at_index = 0;
		f->at_cluster = fs->nodes[f->node].first;
	}
	while (f->at_index < idx && valid_cluster(fs, f->at_cluster)) {
		f->at_cluster = fs->table[f->at_cluster];
		f->at_index++;
	}
	return valid_cluster(fs, f->at_cluster) ? f->at_cluster : NONE;
}

static ssize_t fat_read(struct mv_file *mf, uint64_t offset, void *buf, size_t len)
{
	struct fat_file *f = file_of(mf);
	struct fat *fs = f->fs;
	struct fat_node *n = &fs->nodes[f->node];
	uint32_t cb = fs->g.cluster_bytes;
	uint8_t *p = buf;
	size_t done = 0;

	if (f->writing)
		return fail(fs, -EBADF, "%s is open for writing", PATH(fs, f->node, NULL));
	if (offset >= n->size)
		return 0;
	if (len > n->size - offset)
		len = (size_t)(n->size - offset);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	while (done < len) {
		uint64_t at = offset + done;
		uint32_t c = seek_cluster(f, (uint32_t)(at / cb));
		if (c == NONE)
			return fail(fs, -EIO, "%s: cluster chain ends early", PATH(fs, f->node, NULL));
		size_t in = (size_t)(at % cb), k = cb - in < len - done ? cb - in : len - done;
		if (mv_io_pread(&fs->io, cluster_off(fs, c) + in, p + done, k) < 0)
			return fail(fs, -errno, "%s: reading: %s", PATH(fs, f->node, NULL),
				    strerror(errno));
		done += k;
	}
	return (ssize_t)done;
}

/* ---- finish() ---- */

struct alias_set {
	uint8_t (*keys)[11];
	uint8_t *used;
	size_t mask;
};

static int alias_taken(struct alias_set *s, const uint8_t sn[11], int insert)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 11; i++)
		h = (h ^ sn[i]) * 16777619u;
	for (size_t at = h & s->mask;; at = (at + 1) & s->mask) {
		if (!s->used[at]) {
			if (insert) {
				s->used[at] = 1;
				memcpy(s->keys[at], sn, 11);
			}
			return 0;
		}
		if (memcmp(s->keys[at], sn, 11) == 0)
			return 1;
	}
}

/* The 8.3 aliases of directory d's long names (rule in the header). */
static int assign_aliases(struct fat *fs, struct fat_node *d)
{
	struct alias_set s;
	size_t size = 16;
	while (size < (size_t)d->nkids * 2)
		size *= 2;
	s.mask = size - 1;
	s.keys = malloc(size * 11);
	s.used = calloc(size, 1);
	if (!s.keys || !s.used) {
		free(s.keys);
		free(s.used);
		return fail(fs, -ENOMEM, "FAT: out of memory");
	}
	for (uint32_t k = 0; k < d->nkids; k++)
		if (!fs->nodes[d->kids[k]].lfn)
			alias_taken(&s, fs->nodes[d->kids[k]].sname, 1);
	for (uint32_t k = 0; k < d->nkids; k++) {
		struct fat_node *n = &fs->nodes[d->kids[k]];
		uint8_t basis[11];
		if (!n->lfn)
			continue;
		int exact = fat_short_basis(n->u16, n->n16, basis);
		memcpy(n->sname, basis, 11);
		if (!exact || alias_taken(&s, basis, 0)) {
			for (unsigned t = 1;; t++) {
				fat_short_tail(basis, t, n->sname);
				if (!alias_taken(&s, n->sname, 0))
					break;
			}
		}
		alias_taken(&s, n->sname, 1);
	}
	free(s.keys);
	free(s.used);
	return 0;
}

static void put_entry(uint8_t *e, const uint8_t sn[11], uint8_t attr, uint8_t ntcase,
		      const struct fat_node *t, uint32_t cluster, uint32_t size)
{
	memset(e, 0, FAT_DIRENT);
	memcpy(e, sn, 11);
	if (e[0] == 0xe5) /* 0xe5 marks a deleted entry */
		e[0] = 0x05;
	e[11] = attr;
	e[12] = ntcase;
	e[13] = t->crt.tenth;
	fat_put16(e + 14, t->crt.time);
	fat_put16(e + 16, t->crt.date);
	fat_put16(e + 18, t->acc.date);
	fat_put16(e + 20, cluster >> 16);
	fat_put16(e + 22, t->wrt.time);
	fat_put16(e + 24, t->wrt.date);
	fat_put16(e + 26, cluster & 0xffff);
	fat_put32(e + 28, size);
}

/* Directory d's entries into buf (zeroed, large enough). */
static void dir_bytes(struct fat *fs, uint32_t di, uint8_t *buf)
{
	struct fat_node *d = &fs->nodes[di];
	uint8_t *e = buf;

	if (di == 0 && fs->has_label) {
		struct fat_node t = { 0 };
		fat_time_encode(fs->timestamp, 0, &t.wrt);
		put_entry(e, fs->vol.label, 0x08, 0, &t, 0, 0);
		memset(e + 13, 0, 6); /* a label has a modification time only */
		e += FAT_DIRENT;
	}
	if (di != 0) {
		uint32_t up = d->parent == 0 ? 0 : fs->nodes[d->parent].first;
		put_entry(e, (const uint8_t *)".          ", 0x10, 0, d, d->first, 0);
		put_entry(e + FAT_DIRENT, (const uint8_t *)"..         ", 0x10, 0, d, up, 0);
		e += 2 * FAT_DIRENT;
	}
	for (uint32_t k = 0; k < d->nkids; k++) {
		struct fat_node *n = &fs->nodes[d->kids[k]];
		if (n->lfn) {
			fat_lfn_entries(n->u16, n->n16, n->sname, e);
			e += (size_t)n->lfn * FAT_DIRENT;
		}
		put_entry(e, n->sname, n->is_dir ? 0x10 : 0x20, n->ntcase, n, n->first,
			  n->is_dir ? 0 : n->size);
		e += FAT_DIRENT;
	}
}

/* Gives every directory its clusters (the root's first is cluster 2 on
 * FAT32, taken at creation). */
static int place_dirs(struct fat *fs)
{
	fs->dir_need = 0; /* what was held back is now handed out */
	for (uint32_t i = 0; i < fs->nnodes; i++) {
		struct fat_node *d = &fs->nodes[i];
		if (!d->live || !d->is_dir)
			continue;
		uint32_t want = dir_clusters(fs, d, d->slots), have = d->first ? 1 : 0;
		uint32_t last = d->first;
		for (; have < want; have++) {
			uint32_t c = take_cluster(fs, 0);
			if (c == NONE)
				return fail(fs, -ENOSPC, "FAT: no room for the directories");
			if (last)
				fs->table[last] = c;
			else
				d->first = c;
			last = c;
		}
	}
	return 0;
}

static int write_dirs(struct fat *fs)
{
	const struct fat_geom *g = &fs->g;
	int r = 0;

	for (uint32_t i = 0; i < fs->nnodes && r == 0; i++) {
		struct fat_node *d = &fs->nodes[i];
		if (!d->live || !d->is_dir)
			continue;
		if ((r = assign_aliases(fs, d)))
			return r;
		uint32_t nc = dir_clusters(fs, d, d->slots);
		size_t len = nc ? (size_t)nc * g->cluster_bytes : (size_t)g->root_sectors * g->ss;
		uint8_t *buf = calloc(1, len);
		if (!buf)
			return fail(fs, -ENOMEM, "FAT: out of memory");
		dir_bytes(fs, i, buf);
		if (!nc) {
			uint64_t off = ((uint64_t)g->reserved + 2ull * g->fat_sectors) * g->ss;
			r = put_meta(fs, "the root directory", off, buf, len);
		}
		uint32_t c = d->first;
		/* Directory clusters are always written whole: one may have
		 * held a removed file's data. */
		for (uint32_t k = 0; k < nc && r == 0; k++, c = fs->table[c])
			r = put(fs, "a directory", cluster_off(fs, c), buf + (size_t)k * g->cluster_bytes,
				g->cluster_bytes);
		free(buf);
	}
	return r;
}

static void fat_entry(const struct fat *fs, uint8_t *buf, uint32_t i, uint32_t v)
{
	switch (fs->g.bits) {
	case 32:
		fat_put32(buf + 4 * (size_t)i, v & 0x0fffffff);
		break;
	case 16:
		fat_put16(buf + 2 * (size_t)i, v & 0xffff);
		break;
	default: {
		uint8_t *p = buf + (size_t)i * 3 / 2;
		v &= 0xfff;
		if (i & 1) {
			p[0] = (uint8_t)((p[0] & 0x0f) | (v << 4));
			p[1] = (uint8_t)(v >> 4);
		} else {
			p[0] = (uint8_t)v;
			p[1] = (uint8_t)((p[1] & 0xf0) | (v >> 8));
		}
	}
	}
}

static int write_fats(struct fat *fs)
{
	const struct fat_geom *g = &fs->g;
	size_t len = (size_t)g->fat_sectors * g->ss;
	uint8_t *buf = calloc(1, len);
	int r = 0;

	if (!buf)
		return fail(fs, -ENOMEM, "FAT: out of memory for the allocation table");
	for (uint32_t i = 0; i < g->clusters + 2; i++)
		fat_entry(fs, buf, i, fs->table[i]);
	for (int k = 0; k < 2 && r == 0; k++)
		r = put_meta(fs, "the FAT", ((uint64_t)g->reserved + (uint64_t)k * g->fat_sectors) * g->ss,
			     buf, len);
	free(buf);
	return r;
}

static int write_reserved(struct fat *fs)
{
	const struct fat_geom *g = &fs->g;
	size_t len = (size_t)g->reserved * g->ss;
	uint8_t *buf = malloc(len);

	if (!buf)
		return fail(fs, -ENOMEM, "FAT: out of memory");
	fs->vol.free_clusters = fs->free_clusters;
	fs->cursor = 2;
	fs->vol.next_free = next_free(fs, 0) == NONE ? 0xffffffffu : next_free(fs, 0);
	fat_reserved_area(g, &fs->vol, buf);
	int r = put_meta(fs, "the boot sector", 0, buf, len);
	free(buf);
	return r;
}

static int fat_finish(struct mv_fs *base)
{
	struct fat *fs = fat_of(base);
	int r;

	if (fs->finished)
		return fail(fs, -EINVAL, "FAT: the filesystem is already finished");
	if (fs->writer_open)
		return fail(fs, -EBUSY, "FAT: a file is still open for writing");
	fs->finished = 1;
	if ((r = place_dirs(fs)) || (r = write_dirs(fs)) || (r = write_fats(fs)))
		return r;
	return write_reserved(fs);
}

static void fat_destroy(struct mv_fs *base)
{
	struct fat *fs = fat_of(base);

	if (!fs)
		return;
	while (fs->files)
		file_free(fs->files);
	for (uint32_t i = 0; i < fs->nnodes; i++) {
		free(fs->nodes[i].name);
		free(fs->nodes[i].u16);
		free(fs->nodes[i].kids);
	}
	free(fs->nodes);
	free(fs->buckets);
	free(fs->table);
	free(fs->zero);
	free(fs);
}

static const struct mv_fs_ops fat_ops = {
	.name = "vfat",
	.root = fat_root,
	.lookup = fat_lookup,
	.getattr = fat_getattr,
	.setattr = fat_setattr,
	.readlink = fat_readlink,
	.readdir = fat_readdir,
	.mkdir = fat_mkdir,
	.create = fat_create,
	.write = fat_write,
	.close = fat_close,
	.symlink = fat_symlink,
	.link = fat_link,
	.mknod = fat_mknod,
	.unlink = fat_unlink,
	.open = fat_open,
	.read = fat_read,
	.finish = fat_finish,
	.destroy = fat_destroy,
};

/* The label as 11 bytes, space padded: printable ASCII that an 8.3 name
 * could hold, plus spaces; case is kept (as mkfs.fat 4.2 does). */
static int make_label(const char *label, uint8_t out[11], char *err, size_t errlen)
{
	size_t n = strlen(label);

	memset(out, ' ', 11);
	if (n == 0 || n > 11 || label[0] == ' ') {
		snprintf(err, errlen, "FAT label \"%s\": 1 to 11 characters, not starting with a space",
			 label);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)label[i];
		if (c < 0x20 || c >= 0x7f || strchr("\"*+,./:;<=>?[\\]|", c)) {
			snprintf(err, errlen, "FAT label \"%s\": character '%c' is not allowed",
				 label, c >= 0x20 && c < 0x7f ? c : '?');
			return -1;
		}
		out[i] = c;
	}
	return 0;
}

struct mv_fs *mv_fat_create(const struct mv_io *io, const struct mv_fat_options *o, char *err,
			    size_t errlen)
{
	struct fat_geom g;
	uint8_t label[11];

	if (fat_geom_choose(io->length, io->sector_size, (unsigned)o->fat_bits, &g, err, errlen) < 0)
		return NULL;
	if (o->label ? make_label(o->label, label, err, errlen) < 0 : (memcpy(label, "NO NAME    ", 11), 0))
		return NULL;
	struct fat *fs = calloc(1, sizeof(*fs));
	if (!fs || !(fs->table = calloc((size_t)g.clusters + 2, sizeof(*fs->table))) ||
	    !(fs->zero = calloc(1, g.cluster_bytes)) || grow_nodes(fs) < 0) {
		snprintf(err, errlen, "FAT: out of memory for %u clusters", g.clusters);
		fat_destroy(fs ? &fs->base : NULL);
		return NULL;
	}
	fs->base.ops = &fat_ops;
	fs->io = *io;
	fs->g = g;
	fs->has_label = o->label != NULL;
	memcpy(fs->vol.label, label, 11);
	fs->vol.volume_id = o->volume_id;
	uint64_t hidden = io->offset / g.ss;
	fs->vol.hidden = hidden > UINT32_MAX ? UINT32_MAX : (uint32_t)hidden;
	fs->timestamp = o->timestamp;
	fs->table[0] = 0x0fffff00u | 0xf8; /* the media byte */
	fs->table[1] = EOC;
	fs->free_clusters = g.clusters;
	fs->cursor = 2;
	if (g.bits == 32) {
		fs->vol.root_cluster = take_cluster(fs, 0);
		fs->dirty_max = fs->vol.root_cluster;
	}

	struct fat_node *root = &fs->nodes[0];
	memset(root, 0, sizeof(*root));
	root->live = root->is_dir = 1;
	root->first = fs->vol.root_cluster;
	root->slots = fs->has_label ? 1 : 0;
	set_times(fs, root, NULL);
	fs->nnodes = 1;
	return &fs->base;
}
