/* Directories in linear time. libext2fs 1.47.0's ext2fs_link and
 * ext2fs_lookup scan the whole directory on every call, so one directory
 * of 100,000 files takes minutes (../shared/notes/libraries.md). Every
 * directory of our filesystem is made by us, so we keep, per directory,
 * an in-memory name index (names, inode, and the directory block holding
 * the entry) and its last block: a new name is appended to that block, or
 * to a new one when it is full. Nothing is ever compacted, so an entry
 * stays in the block the index says.
 *
 * Directories stay plain linear ones (no htree): with dir_index on, e2fsck
 * -fn accepts them and e2fsck -fD would index them. Blocks are read and
 * written with ext2fs_read/write_dir_block4, which keep the metadata_csum
 * tail right. */
#include "ext4_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_EMPTY 0u
#define SLOT_TOMB UINT32_MAX

struct ent {
	uint32_t name_off;  /* into dir->names */
	uint32_t ino;       /* 0: removed */
	uint32_t lblk;      /* the directory block holding the entry */
	uint8_t name_len;
};

struct dir {
	ext2_ino_t ino, parent;
	uint32_t nblocks;   /* the last block is nblocks - 1 */
	blk64_t last_pblk;
	struct ent *ents;   /* creation order */
	size_t n_ents, cap_ents, live;
	char *names;        /* every name ever added, back to back */
	size_t names_len, names_cap;
	uint32_t *slots;    /* open addressing: entry index + 1 */
	size_t n_slots, used_slots;
};

struct ext4_dirs {
	ext2_ino_t *keys;   /* open addressing on the inode number */
	struct dir **vals;  /* NULL: a removed directory */
	size_t cap, used;
};

static uint64_t name_hash(const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
	return h;
}

static uint64_t ino_hash(ext2_ino_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

struct ext4_dirs *ext4_dirs_new(void)
{
	return calloc(1, sizeof(struct ext4_dirs));
}

static void dir_free(struct dir *d)
{
	if (!d)
		return;
	free(d->ents);
	free(d->names);
	free(d->slots);
	free(d);
}

void ext4_dirs_free(struct ext4_dirs *ds)
{
	if (!ds)
		return;
	for (size_t i = 0; i < ds->cap; i++)
		dir_free(ds->vals[i]);
	free(ds->keys);
	free(ds->vals);
	free(ds);
}

static size_t map_slot(const struct ext4_dirs *ds, ext2_ino_t ino)
{
	size_t mask = ds->cap - 1, s = ino_hash(ino) & mask;
	while (ds->keys[s] && ds->keys[s] != ino)
		s = (s + 1) & mask;
	return s;
}

static struct dir *get(const struct ext4_dirs *ds, ext2_ino_t ino)
{
	if (!ds->cap)
		return NULL;
	size_t s = map_slot(ds, ino);
	return ds->keys[s] ? ds->vals[s] : NULL;
}

static int map_grow(struct ext4_dirs *ds)
{
	struct ext4_dirs n = {.cap = ds->cap ? ds->cap * 2 : 64};
	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.vals = calloc(n.cap, sizeof(*n.vals));
	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		return -1;
	}
	for (size_t i = 0; i < ds->cap; i++) {
		if (!ds->vals[i])
			continue; /* removed directories are dropped here */
		size_t s = map_slot(&n, ds->keys[i]);
		n.keys[s] = ds->keys[i];
		n.vals[s] = ds->vals[i];
		n.used++;
	}
	free(ds->keys);
	free(ds->vals);
	*ds = n;
	return 0;
}

static int map_put(struct ext4_dirs *ds, ext2_ino_t ino, struct dir *d)
{
	if ((ds->used + 1) * 2 > ds->cap && map_grow(ds) < 0)
		return -1;
	size_t s = map_slot(ds, ino);
	if (!ds->keys[s]) {
		ds->keys[s] = ino;
		ds->used++;
	}
	dir_free(ds->vals[s]);
	ds->vals[s] = d;
	return 0;
}

errcode_t ext4_dir_add(ext2_filsys fs, struct ext4_dirs *ds, ext2_ino_t ino, ext2_ino_t parent)
{
	struct ext2_inode inode;
	errcode_t err = ext2fs_read_inode(fs, ino, &inode);
	if (err)
		return err;
	uint64_t size = EXT2_I_SIZE(&inode);
	if (size < fs->blocksize || size % fs->blocksize || size / fs->blocksize > UINT32_MAX)
		return EXT2_ET_DIR_CORRUPTED;
	struct dir *d = calloc(1, sizeof(*d));
	if (!d)
		return EXT2_ET_NO_MEMORY;
	d->ino = ino;
	d->parent = parent;
	d->nblocks = (uint32_t)(size / fs->blocksize);
	err = ext2fs_bmap2(fs, ino, &inode, NULL, 0, d->nblocks - 1, NULL, &d->last_pblk);
	if (!err && !d->last_pblk)
		err = EXT2_ET_DIR_CORRUPTED;
	if (!err && map_put(ds, ino, d) < 0)
		err = EXT2_ET_NO_MEMORY;
	if (err)
		dir_free(d);
	return err;
}

void ext4_dir_forget(struct ext4_dirs *ds, ext2_ino_t ino)
{
	if (!ds->cap)
		return;
	size_t s = map_slot(ds, ino);
	if (ds->keys[s]) {
		dir_free(ds->vals[s]);
		ds->vals[s] = NULL;
	}
}

int ext4_dir_known(const struct ext4_dirs *ds, ext2_ino_t ino)
{
	return get(ds, ino) != NULL;
}

ext2_ino_t ext4_dir_parent(const struct ext4_dirs *ds, ext2_ino_t ino)
{
	struct dir *d = get(ds, ino);
	return d ? d->parent : 0;
}

size_t ext4_dir_entries(const struct ext4_dirs *ds, ext2_ino_t ino)
{
	struct dir *d = get(ds, ino);
	return d ? d->live : 0;
}

/* ---- the name index ---- */

static int ent_is(const struct dir *d, const struct ent *e, const char *name, size_t len)
{
	return e->ino && e->name_len == len && memcmp(d->names + e->name_off, name, len) == 0;
}

/* The slot holding name, or the empty slot where it would go. */
static size_t index_find(const struct dir *d, const char *name, size_t len, int *found)
{
	size_t mask = d->n_slots - 1, s = name_hash(name, len) & mask;
	for (;; s = (s + 1) & mask) {
		uint32_t v = d->slots[s];
		if (v == SLOT_EMPTY) {
			*found = 0;
			return s;
		}
		if (v != SLOT_TOMB && ent_is(d, &d->ents[v - 1], name, len)) {
			*found = 1;
			return s;
		}
	}
}

static int index_grow(struct dir *d)
{
	size_t n = d->n_slots ? d->n_slots : 16;
	while (d->live * 2 + 2 > n)
		n *= 2;
	uint32_t *slots = calloc(n, sizeof(*slots));
	if (!slots)
		return -1;
	free(d->slots);
	d->slots = slots;
	d->n_slots = n;
	d->used_slots = 0;
	for (size_t i = 0; i < d->n_ents; i++) {
		const struct ent *e = &d->ents[i];
		if (!e->ino)
			continue;
		int found;
		size_t s = index_find(d, d->names + e->name_off, e->name_len, &found);
		d->slots[s] = (uint32_t)(i + 1);
		d->used_slots++;
	}
	return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * size);
	if (!q)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

static int index_add(struct dir *d, const char *name, size_t len, ext2_ino_t ino, uint32_t lblk)
{
	if (d->n_ents >= UINT32_MAX - 1 || d->names_len + len > UINT32_MAX)
		return -1;
	if ((d->used_slots + 1) * 2 > d->n_slots && index_grow(d) < 0)
		return -1;
	if (grow((void **)&d->ents, &d->cap_ents, d->n_ents + 1, sizeof(*d->ents)) < 0 ||
	    grow((void **)&d->names, &d->names_cap, d->names_len + len, 1) < 0)
		return -1;
	int found;
	size_t s = index_find(d, name, len, &found);
	struct ent *e = &d->ents[d->n_ents];
	memcpy(d->names + d->names_len, name, len);
	e->name_off = (uint32_t)d->names_len;
	e->name_len = (uint8_t)len;
	e->ino = ino;
	e->lblk = lblk;
	d->names_len += len;
	d->slots[s] = (uint32_t)++d->n_ents;
	d->used_slots++;
	d->live++;
	return 0;
}

int ext4_dir_lookup(const struct ext4_dirs *ds, ext2_ino_t dir, const char *name, ext2_ino_t *ino)
{
	const struct dir *d = get(ds, dir);
	size_t len = strlen(name);
	int found = 0;
	if (!d)
		return -ENOTDIR;
	if (len == 1 && name[0] == '.') {
		*ino = dir;
		return 0;
	}
	if (len == 2 && name[0] == '.' && name[1] == '.') {
		*ino = d->parent;
		return 0;
	}
	if (!d->n_slots || len > EXT2_NAME_LEN)
		return -ENOENT;
	size_t s = index_find(d, name, len, &found);
	if (!found)
		return -ENOENT;
	*ino = d->ents[d->slots[s] - 1].ino;
	return 0;
}

int ext4_dir_walk(const struct ext4_dirs *ds, ext2_ino_t dir,
		  int (*fn)(void *ctx, const char *name, uint64_t node), void *ctx)
{
	char name[EXT2_NAME_LEN + 1];
	/* Indexes, not pointers, and a copy of the name: fn may add entries
	 * (moving the arrays) or remove some, even this directory. */
	for (size_t i = 0;; i++) {
		const struct dir *d = get(ds, dir);
		if (!d)
			return i ? 0 : -ENOTDIR;
		if (i >= d->n_ents)
			return 0;
		const struct ent *e = &d->ents[i];
		if (!e->ino)
			continue;
		memcpy(name, d->names + e->name_off, e->name_len);
		name[e->name_len] = '\0';
		int rc = fn(ctx, name, e->ino);
		if (rc)
			return rc;
	}
}

/* ---- directory blocks ---- */

static unsigned csum_size(ext2_filsys fs)
{
	return ext2fs_has_feature_metadata_csum(fs->super) ? sizeof(struct ext2_dir_entry_tail) : 0;
}

/* Makes room for an entry of name_len bytes after the block's last entry;
 * returns its offset and sets its rec_len, or -1 when the block is full. */
static long make_room(ext2_filsys fs, char *buf, size_t name_len, errcode_t *err)
{
	unsigned end = fs->blocksize - csum_size(fs), need = EXT2_DIR_REC_LEN(name_len), off = 0;
	*err = 0;
	while (off < end) {
		struct ext2_dir_entry *e = (struct ext2_dir_entry *)(buf + off);
		unsigned rec_len;
		if ((*err = ext2fs_get_rec_len(fs, e, &rec_len)))
			return -1;
		if (rec_len < 8 || rec_len % 4 || rec_len > end - off) {
			*err = EXT2_ET_DIR_CORRUPTED;
			return -1;
		}
		if (off + rec_len < end) {
			off += rec_len;
			continue;
		}
		unsigned used = e->inode ? EXT2_DIR_REC_LEN(ext2fs_dirent_name_len(e)) : 0;
		if (rec_len - used < need)
			return -1;
		if (!used)
			return off;
		if ((*err = ext2fs_set_rec_len(fs, used, e)))
			return -1;
		e = (struct ext2_dir_entry *)(buf + off + used);
		if ((*err = ext2fs_set_rec_len(fs, rec_len - used, e)))
			return -1;
		return off + used;
	}
	*err = EXT2_ET_DIR_CORRUPTED;
	return -1;
}

/* A new, empty last block for the directory, allocated next to the
 * previous one and mapped into the directory. */
static errcode_t add_block(ext2_filsys fs, struct dir *d, char *buf)
{
	char *fresh = NULL;
	blk64_t pblk = 0;
	struct ext2_inode inode;
	errcode_t err = ext2fs_new_dir_block(fs, 0, 0, &fresh);
	if (err)
		return err;
	memcpy(buf, fresh, fs->blocksize);
	ext2fs_free_mem(&fresh);
	if ((err = ext2fs_new_block2(fs, d->last_pblk + 1, NULL, &pblk)))
		return err;
	ext2fs_block_alloc_stats2(fs, pblk, +1);
	err = ext2fs_bmap2(fs, d->ino, NULL, NULL, BMAP_SET, d->nblocks, NULL, &pblk);
	if (!err)
		err = ext2fs_read_inode(fs, d->ino, &inode);
	if (!err)
		err = ext2fs_inode_size_set(fs, &inode, (uint64_t)(d->nblocks + 1) * fs->blocksize);
	if (!err)
		err = ext2fs_iblk_add_blocks(fs, &inode, 1);
	if (!err)
		err = ext2fs_write_inode(fs, d->ino, &inode);
	if (err) {
		ext2fs_block_alloc_stats2(fs, pblk, -1);
		return err;
	}
	d->nblocks++;
	d->last_pblk = pblk;
	return 0;
}

errcode_t ext4_dir_link(ext2_filsys fs, struct ext4_dirs *ds, ext2_ino_t dir,
			const char *name, ext2_ino_t ino, int file_type)
{
	struct dir *d = get(ds, dir);
	size_t len = strlen(name);
	if (!d)
		return EXT2_ET_NO_DIRECTORY;
	if (!len || len > EXT2_NAME_LEN)
		return EXT2_ET_INVALID_ARGUMENT;
	char *buf = NULL;
	errcode_t err = ext2fs_get_mem(fs->blocksize, &buf);
	if (err)
		return err;
	err = ext2fs_read_dir_block4(fs, d->last_pblk, buf, 0, dir);
	long off = err ? -1 : make_room(fs, buf, len, &err);
	if (off < 0 && !err && !(err = add_block(fs, d, buf)))
		off = 0;
	if (!err) {
		struct ext2_dir_entry *e = (struct ext2_dir_entry *)(buf + off);
		e->inode = ino;
		ext2fs_dirent_set_name_len(e, (int)len);
		ext2fs_dirent_set_file_type(e, file_type);
		memcpy(e->name, name, len);
		/* Bytes after the name up to the 4-byte boundary: zeros, never
		 * whatever an earlier, longer name left there. */
		memset(e->name + len, 0, EXT2_DIR_REC_LEN(len) - 8 - len);
		err = ext2fs_write_dir_block4(fs, d->last_pblk, buf, 0, dir);
	}
	if (!err && index_add(d, name, len, ino, d->nblocks - 1) < 0)
		err = EXT2_ET_NO_MEMORY;
	ext2fs_free_mem(&buf);
	return err;
}

/* Removes the entry from the block as the kernel does: merged into the
 * entry before it, or marked unused when it is the block's first. */
static errcode_t remove_from_block(ext2_filsys fs, ext2_ino_t dir, char *buf, const char *name,
				   size_t len, ext2_ino_t ino)
{
	unsigned end = fs->blocksize - csum_size(fs), off = 0;
	struct ext2_dir_entry *prev = NULL;
	while (off < end) {
		struct ext2_dir_entry *e = (struct ext2_dir_entry *)(buf + off);
		unsigned rec_len, prev_len;
		errcode_t err = ext2fs_get_rec_len(fs, e, &rec_len);
		if (err)
			return err;
		if (rec_len < 8 || rec_len > end - off)
			return EXT2_ET_DIR_CORRUPTED;
		if (e->inode == ino && (size_t)ext2fs_dirent_name_len(e) == len &&
		    memcmp(e->name, name, len) == 0) {
			if (!prev) {
				e->inode = 0;
				return 0;
			}
			if ((err = ext2fs_get_rec_len(fs, prev, &prev_len)))
				return err;
			return ext2fs_set_rec_len(fs, prev_len + rec_len, prev);
		}
		prev = e;
		off += rec_len;
	}
	(void)dir;
	return EXT2_ET_DIR_CORRUPTED;
}

errcode_t ext4_dir_unlink(ext2_filsys fs, struct ext4_dirs *ds, ext2_ino_t dir, const char *name)
{
	struct dir *d = get(ds, dir);
	size_t len = strlen(name);
	int found = 0;
	if (!d)
		return EXT2_ET_NO_DIRECTORY;
	size_t s = d->n_slots && len <= EXT2_NAME_LEN ? index_find(d, name, len, &found) : 0;
	if (!found)
		return EXT2_ET_FILE_NOT_FOUND;
	struct ent *e = &d->ents[d->slots[s] - 1];
	blk64_t pblk = 0;
	char *buf = NULL;
	errcode_t err = ext2fs_bmap2(fs, dir, NULL, NULL, 0, e->lblk, NULL, &pblk);
	if (!err && !pblk)
		err = EXT2_ET_DIR_CORRUPTED;
	if (!err)
		err = ext2fs_get_mem(fs->blocksize, &buf);
	if (!err)
		err = ext2fs_read_dir_block4(fs, pblk, buf, 0, dir);
	if (!err)
		err = remove_from_block(fs, dir, buf, name, len, e->ino);
	if (!err)
		err = ext2fs_write_dir_block4(fs, pblk, buf, 0, dir);
	ext2fs_free_mem(&buf);
	if (err)
		return err;
	e->ino = 0;
	d->slots[s] = SLOT_TOMB;
	d->live--;
	return 0;
}
