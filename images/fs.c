/* The path layer every writer shares (see fs.h): chroot-style resolution
 * and tar's replace-on-duplicate rules, written once over the node ops. */
#include "fs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SYMLINKS 40  /* as Linux's path walk */
#define MAX_DEPTH 4096
#define NAME_MAX_BYTES 255
#define PATH_MAX_BYTES 4096

int mv_fs_fail(struct mv_fs *fs, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fs->err, sizeof(fs->err), fmt, ap);
	va_end(ap);
	return err;
}

/* Keeps the writer's own message when it left one. */
static int op_fail(struct mv_fs *fs, int err, const char *what, const char *path)
{
	if (!fs->err[0])
		snprintf(fs->err, sizeof(fs->err), "%s %s: %s", what, path, strerror(-err));
	return err;
}

struct resolved {
	mv_node parent;
	mv_node node;
	int exists;
	char name[NAME_MAX_BYTES + 1];
};

struct stack {
	mv_node *v;
	size_t n, cap;
};

static int push(struct stack *s, mv_node node)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		if (cap > MAX_DEPTH)
			return -ENAMETOOLONG;
		mv_node *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = node;
	return 0;
}

/* Walks path from the root. Symlinks met on the way are followed (and the
 * last component's too when follow is set): their targets are spliced in
 * front of what remains, an absolute target restarts at the writer's root,
 * and ".." never climbs above it. On success either r->exists is set and
 * r->node is the node, or the last component is missing and r->parent and
 * r->name say where it would be created. */
static int walk_create(struct mv_fs *fs, const char *path, int follow, const struct mv_meta *mkdirs,
		       struct resolved *r);

static int walk(struct mv_fs *fs, const char *path, int follow, struct resolved *r)
{
	return walk_create(fs, path, follow, NULL, r);
}

/* With mkdirs set, a missing directory anywhere on the way (the last
 * component included) is created with that metadata, where the resolved
 * path puts it: through a symlink to /x, /x is made inside the root. */
static int walk_create(struct mv_fs *fs, const char *path, int follow, const struct mv_meta *mkdirs,
		       struct resolved *r)
{
	const struct mv_fs_ops *ops = fs->ops;
	struct stack st = {0};
	char *rest = NULL;
	int links = 0, rc;
	mv_node root = ops->root(fs);

	memset(r, 0, sizeof(*r));
	if (strlen(path) >= PATH_MAX_BYTES)
		return mv_fs_fail(fs, -ENAMETOOLONG, "%.80s...: path longer than %d bytes", path, PATH_MAX_BYTES);
	rest = strdup(path);
	if (!rest)
		return -ENOMEM;
	if ((rc = push(&st, root)) < 0)
		goto out;
	r->parent = r->node = root;
	r->exists = 1;

	char *p = rest;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *after = p + len;
		while (*after == '/')
			after++;
		int last = *after == '\0';

		if (len > NAME_MAX_BYTES) {
			rc = mv_fs_fail(fs, -ENAMETOOLONG, "%s: a name is longer than %d bytes", path, NAME_MAX_BYTES);
			goto out;
		}
		if (len == 1 && p[0] == '.') {
			p = after;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (st.n == 1) {
				rc = mv_fs_fail(fs, -EXDEV, "%s: climbs above the root of the target", path);
				goto out;
			}
			st.n--;
			r->node = st.v[st.n - 1];
			r->parent = st.n > 1 ? st.v[st.n - 2] : root;
			r->name[0] = '\0';
			p = after;
			continue;
		}
		mv_node dir = st.v[st.n - 1], node = 0;
		memcpy(r->name, p, len);
		r->name[len] = '\0';
		rc = ops->lookup(fs, dir, r->name, &node);
		if (rc == -ENOENT && mkdirs) {
			rc = ops->mkdir(fs, dir, r->name, mkdirs, &node);
			if (rc < 0) {
				op_fail(fs, rc, "creating a directory of", path);
				goto out;
			}
		}
		if (rc == -ENOENT && last) {
			r->parent = dir;
			r->exists = 0;
			rc = 0;
			goto out;
		}
		if (rc < 0) {
			if (rc == -ENOENT || rc == -ENOTDIR)
				rc = mv_fs_fail(fs, rc, "%s: %s", path,
						rc == -ENOENT ? "a directory on the way does not exist" : "a component on the way is not a directory");
			else
				op_fail(fs, rc, "looking up", path);
			goto out;
		}
		struct mv_stat sb;
		if ((rc = ops->getattr(fs, node, &sb)) < 0) {
			op_fail(fs, rc, "reading", path);
			goto out;
		}
		if (S_ISLNK(sb.mode) && (!last || follow)) {
			if (++links > MAX_SYMLINKS) {
				rc = mv_fs_fail(fs, -ELOOP, "%s: more than %d symlinks on the way", path, MAX_SYMLINKS);
				goto out;
			}
			char target[PATH_MAX_BYTES];
			if ((rc = ops->readlink(fs, node, target, sizeof(target))) < 0) {
				op_fail(fs, rc, "reading the link", path);
				goto out;
			}
			size_t tl = strlen(target), al = strlen(after);
			char *next = malloc(tl + 1 + al + 1);
			if (!next) {
				rc = -ENOMEM;
				goto out;
			}
			memcpy(next, target, tl);
			next[tl] = '/';
			memcpy(next + tl + 1, after, al + 1);
			if (target[0] == '/') {
				st.n = 1; /* absolute: from the writer's root */
				r->node = r->parent = root;
			}
			free(rest);
			rest = p = next;
			continue;
		}
		r->parent = dir;
		r->node = node;
		r->exists = 1;
		if (!last && !S_ISDIR(sb.mode)) {
			rc = mv_fs_fail(fs, -ENOTDIR, "%s: %s is not a directory", path, r->name);
			goto out;
		}
		if (!last && (rc = push(&st, node)) < 0)
			goto out;
		p = after;
	}
	rc = 0;
out:
	free(st.v);
	free(rest);
	return rc;
}

int mv_fs_lookup(struct mv_fs *fs, const char *path, int follow, mv_node *out)
{
	struct resolved r;
	fs->err[0] = '\0';
	int rc = walk(fs, path, follow, &r);
	if (rc < 0)
		return rc;
	if (!r.exists)
		return mv_fs_fail(fs, -ENOENT, "%s: no such file or directory", path);
	*out = r.node;
	return 0;
}

int mv_fs_stat(struct mv_fs *fs, const char *path, int follow, struct mv_stat *st)
{
	mv_node node = 0;
	int rc = mv_fs_lookup(fs, path, follow, &node);
	if (rc == 0 && (rc = fs->ops->getattr(fs, node, st)) < 0)
		op_fail(fs, rc, "reading", path);
	return rc;
}

int mv_fs_readlink(struct mv_fs *fs, const char *path, char *buf, size_t len)
{
	mv_node node = 0;
	int rc = mv_fs_lookup(fs, path, MV_FS_NOFOLLOW, &node);
	if (rc == 0 && (rc = fs->ops->readlink(fs, node, buf, len)) < 0)
		op_fail(fs, rc, "reading the link", path);
	return rc;
}

int mv_fs_readdir(struct mv_fs *fs, const char *path,
		  int (*fn)(void *ctx, const char *name, mv_node node), void *ctx)
{
	mv_node node = 0;
	int rc = mv_fs_lookup(fs, path, MV_FS_FOLLOW, &node);
	if (rc == 0 && (rc = fs->ops->readdir(fs, node, fn, ctx)) < 0)
		op_fail(fs, rc, "listing", path);
	return rc;
}

/* Resolves where a new entry goes; an existing non-directory is removed
 * first (tar's "last entry wins"), an existing directory only if empty. */
static int make_room(struct mv_fs *fs, const char *path, struct resolved *r)
{
	fs->err[0] = '\0';
	int rc = walk(fs, path, MV_FS_NOFOLLOW, r);
	if (rc < 0)
		return rc;
	if (!r->exists)
		return 0;
	if (!r->name[0])
		return mv_fs_fail(fs, -EEXIST, "%s: is the root of the target", path);
	rc = fs->ops->unlink(fs, r->parent, r->name);
	if (rc == -ENOTEMPTY)
		return mv_fs_fail(fs, rc, "%s: a non-empty directory is in the way", path);
	if (rc < 0)
		return op_fail(fs, rc, "replacing", path);
	r->exists = 0;
	return 0;
}

int mv_fs_mkdir(struct mv_fs *fs, const char *path, const struct mv_meta *meta)
{
	struct resolved r;
	fs->err[0] = '\0';
	/* An existing directory, or a symlink to one (usr-merge: lib ->
	 * usr/lib), keeps its place and gets the entry's metadata when it is
	 * a real directory, as dpkg and tar --keep-directory-symlink do. */
	int rc = walk(fs, path, MV_FS_FOLLOW, &r);
	if (rc == 0 && r.exists) {
		struct mv_stat st;
		if ((rc = fs->ops->getattr(fs, r.node, &st)) < 0)
			return op_fail(fs, rc, "reading", path);
		if (S_ISDIR(st.mode)) {
			struct mv_stat self;
			if (mv_fs_stat(fs, path, MV_FS_NOFOLLOW, &self) == 0 && S_ISLNK(self.mode))
				return 0;
			if ((rc = fs->ops->setattr(fs, r.node, meta)) < 0)
				return op_fail(fs, rc, "setting the metadata of", path);
			return 0;
		}
	}
	if ((rc = make_room(fs, path, &r)) < 0)
		return rc;
	mv_node node = 0;
	if ((rc = fs->ops->mkdir(fs, r.parent, r.name, meta, &node)) < 0)
		return op_fail(fs, rc, "creating the directory", path);
	return 0;
}

int mv_fs_mkparents(struct mv_fs *fs, const char *path, int64_t mtime)
{
	size_t len = strlen(path);
	char *buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, path, len + 1);
	while (len && buf[len - 1] == '/')
		buf[--len] = '\0';
	char *slash = strrchr(buf, '/');
	int rc = 0;
	if (slash) {
		*slash = '\0';
		struct resolved r;
		struct mv_meta m = {.mode = S_IFDIR | 0755, .mtime = mtime, .atime = mtime, .ctime = mtime};
		fs->err[0] = '\0';
		rc = walk_create(fs, buf, MV_FS_FOLLOW, &m, &r);
	}
	free(buf);
	return rc;
}

int mv_fs_create(struct mv_fs *fs, const char *path, const struct mv_meta *meta, struct mv_file **out)
{
	struct resolved r;
	int rc = make_room(fs, path, &r);
	if (rc < 0)
		return rc;
	if ((rc = fs->ops->create(fs, r.parent, r.name, meta, out)) < 0)
		return op_fail(fs, rc, "creating", path);
	return 0;
}

int mv_fs_symlink(struct mv_fs *fs, const char *path, const char *target, const struct mv_meta *meta)
{
	struct resolved r;
	int rc = make_room(fs, path, &r);
	if (rc < 0)
		return rc;
	if ((rc = fs->ops->symlink(fs, r.parent, r.name, target, meta)) < 0)
		return op_fail(fs, rc, "creating the symlink", path);
	return 0;
}

int mv_fs_mknod(struct mv_fs *fs, const char *path, const struct mv_meta *meta)
{
	struct resolved r;
	int rc = make_room(fs, path, &r);
	if (rc < 0)
		return rc;
	if ((rc = fs->ops->mknod(fs, r.parent, r.name, meta)) < 0)
		return op_fail(fs, rc, "creating the device node", path);
	return 0;
}

int mv_fs_unlink(struct mv_fs *fs, const char *path)
{
	struct resolved r;
	fs->err[0] = '\0';
	int rc = walk(fs, path, MV_FS_NOFOLLOW, &r);
	if (rc < 0)
		return rc;
	if (!r.exists)
		return mv_fs_fail(fs, -ENOENT, "%s: no such file or directory", path);
	if ((rc = fs->ops->unlink(fs, r.parent, r.name)) < 0)
		return op_fail(fs, rc, "removing", path);
	return 0;
}

/* A writer without hard links gets a copy: same content and metadata. */
static int copy_node(struct mv_fs *fs, const char *path, const char *existing, mv_node src,
		     const struct mv_stat *st)
{
	struct mv_meta meta = {.mode = st->mode, .uid = st->uid, .gid = st->gid,
			       .mtime = st->mtime, .mtime_nsec = st->mtime_nsec,
			       .atime = st->mtime, .ctime = st->mtime, .rdev = st->rdev};
	int rc;
	if (S_ISLNK(st->mode)) {
		char target[PATH_MAX_BYTES];
		if ((rc = fs->ops->readlink(fs, src, target, sizeof(target))) < 0)
			return op_fail(fs, rc, "reading the link", existing);
		return mv_fs_symlink(fs, path, target, &meta);
	}
	if (!S_ISREG(st->mode))
		return mv_fs_mknod(fs, path, &meta);
	struct mv_file *in, *out;
	if ((rc = fs->ops->open(fs, src, &in)) < 0)
		return op_fail(fs, rc, "opening", existing);
	if ((rc = mv_fs_create(fs, path, &meta, &out)) < 0) {
		fs->ops->close(in, 0);
		return rc;
	}
	static const size_t chunk = 1 << 16;
	char *buf = malloc(chunk);
	uint64_t off = 0;
	ssize_t n = buf ? 0 : -ENOMEM;
	while (buf && (n = fs->ops->read(in, off, buf, chunk)) > 0) {
		if ((rc = fs->ops->write(out, off, buf, (size_t)n)) < 0)
			break;
		off += (uint64_t)n;
	}
	free(buf);
	if (n < 0)
		rc = op_fail(fs, (int)n, "reading", existing);
	fs->ops->close(in, 0);
	int crc = fs->ops->close(out, off);
	return rc < 0 ? rc : crc < 0 ? op_fail(fs, crc, "writing", path) : 0;
}

int mv_fs_link(struct mv_fs *fs, const char *path, const char *existing)
{
	mv_node src = 0;
	struct mv_stat st;
	int rc = mv_fs_lookup(fs, existing, MV_FS_NOFOLLOW, &src);
	if (rc < 0)
		return rc == -ENOENT ? mv_fs_fail(fs, rc, "%s: hard link to %s, which is not in the target (yet)", path, existing) : rc;
	if ((rc = fs->ops->getattr(fs, src, &st)) < 0)
		return op_fail(fs, rc, "reading", existing);
	if (S_ISDIR(st.mode))
		return mv_fs_fail(fs, -EPERM, "%s: hard link to the directory %s", path, existing);
	struct resolved r;
	if ((rc = make_room(fs, path, &r)) < 0)
		return rc;
	rc = fs->ops->link(fs, r.parent, r.name, src);
	if (rc == -ENOTSUP || rc == -EPERM) {
		fs->err[0] = '\0';
		return copy_node(fs, path, existing, src, &st);
	}
	return rc < 0 ? op_fail(fs, rc, "linking", path) : 0;
}

int mv_fs_write_file(struct mv_fs *fs, const char *path, const struct mv_meta *meta,
		     const void *data, size_t len)
{
	struct mv_file *f;
	int rc = mv_fs_create(fs, path, meta, &f);
	if (rc < 0)
		return rc;
	rc = len ? fs->ops->write(f, 0, data, len) : 0;
	int crc = fs->ops->close(f, len);
	if (rc < 0 || crc < 0)
		return op_fail(fs, rc < 0 ? rc : crc, "writing", path);
	return 0;
}

int mv_fs_open(struct mv_fs *fs, const char *path, struct mv_file **out)
{
	mv_node node = 0;
	struct mv_stat st;
	int rc = mv_fs_lookup(fs, path, MV_FS_FOLLOW, &node);
	if (rc < 0)
		return rc;
	if ((rc = fs->ops->getattr(fs, node, &st)) < 0)
		return op_fail(fs, rc, "reading", path);
	if (!S_ISREG(st.mode))
		return mv_fs_fail(fs, -EISDIR, "%s: not a regular file", path);
	if ((rc = fs->ops->open(fs, node, out)) < 0)
		return op_fail(fs, rc, "opening", path);
	return 0;
}

int mv_fs_read_file(struct mv_fs *fs, const char *path, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	struct mv_file *f;
	if (mv_fs_open(fs, path, &f) < 0)
		return 0;
	FILE *mem = open_memstream(out, len);
	if (!mem) {
		fs->ops->close(f, 0);
		return mv_fs_fail(fs, -ENOMEM, "%s: out of memory", path);
	}
	char buf[4096];
	ssize_t n;
	uint64_t off = 0;
	while ((n = fs->ops->read(f, off, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, (size_t)n, mem);
		off += (uint64_t)n;
	}
	fs->ops->close(f, 0);
	fclose(mem);
	return n < 0 ? op_fail(fs, (int)n, "reading", path) : 0;
}

int mv_fs_append_file(struct mv_fs *fs, const char *path, const struct mv_meta *meta, const char *text)
{
	char *old;
	size_t old_len;
	int rc = mv_fs_read_file(fs, path, &old, &old_len);
	if (rc < 0)
		return rc;
	struct mv_meta m = *meta;
	struct mv_stat st;
	if (old && mv_fs_stat(fs, path, MV_FS_FOLLOW, &st) == 0) {
		m.mode = S_IFREG | (st.mode & 07777);
		m.uid = st.uid;
		m.gid = st.gid;
	}
	size_t len = strlen(text);
	char *all = malloc(old_len + len + 2);
	if (!all) {
		free(old);
		return mv_fs_fail(fs, -ENOMEM, "%s: out of memory", path);
	}
	memcpy(all, old ? old : "", old_len);
	size_t at = old_len;
	if (at && all[at - 1] != '\n')
		all[at++] = '\n';
	memcpy(all + at, text, len);
	free(old);
	rc = mv_fs_mkparents(fs, path, meta->mtime);
	if (rc == 0)
		rc = mv_fs_write_file(fs, path, &m, all, at + len);
	free(all);
	return rc;
}

int mv_fs_finish(struct mv_fs *fs)
{
	fs->err[0] = '\0';
	int rc = fs->ops->finish(fs);
	if (rc < 0 && !fs->err[0])
		snprintf(fs->err, sizeof(fs->err), "finishing the %s filesystem: %s", fs->ops->name, strerror(-rc));
	return rc;
}

void mv_fs_destroy(struct mv_fs *fs)
{
	if (fs)
		fs->ops->destroy(fs);
}
