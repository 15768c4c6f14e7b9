#include "dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* A node is a path identity: (parent node, name). Node 0 is the root. */
struct node {
	uint64_t parent;
	char *name;
};

/* A directory's times, and its mode when that lacks the owner's rwx:
 * both are set at finish (children arriving would move the times, and a
 * read-only directory such as a Nix store path's 0555 would refuse its
 * children to a caller without CAP_DAC_OVERRIDE), as tar does. */
struct dir_time {
	uint64_t node;
	struct timespec times[2];
	uint32_t mode;        /* 0: already set */
};

struct dirfs {
	struct mv_fs fs;
	int rootfd;
	struct mv_dir_options opt;
	struct node *nodes;
	size_t n_nodes, cap_nodes;
	uint64_t *index;      /* open addressing: node ids + 1, 0 = empty */
	size_t index_cap;
	struct dir_time *dir_times;
	size_t n_dir_times, cap_dir_times;
	struct mv_dir_skipped skipped;
	uint64_t skipped_nodes[MV_DIR_SKIPPED_NAMES]; /* the first device nodes skipped */
};

struct dirfile {
	struct dirfs *d;
	int fd;
	int writing;
	struct mv_meta meta;
};

static struct dirfs *D(struct mv_fs *fs)
{
	return (struct dirfs *)fs;
}

static uint64_t hash(uint64_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ parent;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		h = (h ^ *c) * 1099511628211ull;
	return h;
}

static int index_grow(struct dirfs *d)
{
	size_t cap = d->index_cap ? d->index_cap * 2 : 1024;
	uint64_t *idx = calloc(cap, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (size_t i = 1; i < d->n_nodes; i++) {
		size_t s = hash(d->nodes[i].parent, d->nodes[i].name) & (cap - 1);
		while (idx[s])
			s = (s + 1) & (cap - 1);
		idx[s] = i + 1;
	}
	free(d->index);
	d->index = idx;
	d->index_cap = cap;
	return 0;
}

/* The node for (parent, name), made on first use. */
static int intern(struct dirfs *d, uint64_t parent, const char *name, uint64_t *out)
{
	if (d->index_cap == 0 || d->n_nodes * 2 >= d->index_cap) {
		int rc = index_grow(d);
		if (rc < 0)
			return rc;
	}
	size_t s = hash(parent, name) & (d->index_cap - 1);
	while (d->index[s]) {
		struct node *n = &d->nodes[d->index[s] - 1];
		if (n->parent == parent && strcmp(n->name, name) == 0) {
			*out = d->index[s] - 1;
			return 0;
		}
		s = (s + 1) & (d->index_cap - 1);
	}
	if (d->n_nodes == d->cap_nodes) {
		size_t cap = d->cap_nodes * 2;
		struct node *nodes = realloc(d->nodes, cap * sizeof(*nodes));
		if (!nodes)
			return -ENOMEM;
		d->nodes = nodes;
		d->cap_nodes = cap;
	}
	char *copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	d->nodes[d->n_nodes] = (struct node){parent, copy};
	d->index[s] = ++d->n_nodes;
	*out = d->n_nodes - 1;
	return 0;
}

/* Opens the directory node by walking from the root with O_NOFOLLOW: a
 * symlink anywhere on the way fails (ELOOP/ENOTDIR) instead of leading
 * outside. */
static int open_dir(struct dirfs *d, uint64_t node)
{
	int fd = fcntl(d->rootfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	size_t depth = 0;
	for (uint64_t n = node; n != 0; n = d->nodes[n].parent)
		depth++;
	uint64_t *chain = malloc((depth ? depth : 1) * sizeof(*chain));
	if (!chain) {
		close(fd);
		return -ENOMEM;
	}
	size_t i = 0;
	for (uint64_t n = node; n != 0; n = d->nodes[n].parent)
		chain[i++] = n;
	while (depth--) {
		int next = openat(fd, d->nodes[chain[depth]].name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(fd);
		if (next < 0) {
			free(chain);
			return -e;
		}
		fd = next;
	}
	free(chain);
	return fd;
}

static mv_node dir_root(struct mv_fs *fs)
{
	(void)fs;
	return 0;
}

static int dir_lstat(struct dirfs *d, uint64_t node, struct stat *st)
{
	if (node == 0)
		return fstat(d->rootfd, st) < 0 ? -errno : 0;
	int fd = open_dir(d, d->nodes[node].parent);
	if (fd < 0)
		return fd;
	int rc = fstatat(fd, d->nodes[node].name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int dir_lookup(struct mv_fs *fs, mv_node dir, const char *name, mv_node *out)
{
	struct dirfs *d = D(fs);
	uint64_t node;
	int rc = intern(d, dir, name, &node);
	if (rc < 0)
		return rc;
	struct stat st;
	if ((rc = dir_lstat(d, node, &st)) < 0)
		return rc;
	*out = node;
	return 0;
}

static int dir_getattr(struct mv_fs *fs, mv_node node, struct mv_stat *out)
{
	struct stat st;
	int rc = dir_lstat(D(fs), node, &st);
	if (rc < 0)
		return rc;
	*out = (struct mv_stat){
		.mode = st.st_mode, .uid = st.st_uid, .gid = st.st_gid, .size = (uint64_t)st.st_size,
		.nlink = st.st_nlink, .mtime = st.st_mtim.tv_sec, .mtime_nsec = (uint32_t)st.st_mtim.tv_nsec,
		.rdev = st.st_rdev,
	};
	return 0;
}

static void to_times(const struct mv_meta *m, struct timespec t[2])
{
	t[0] = (struct timespec){.tv_sec = m->atime, .tv_nsec = m->atime_nsec};
	t[1] = (struct timespec){.tv_sec = m->mtime, .tv_nsec = m->mtime_nsec};
}

/* An xattr the kernel refuses for lack of privilege (security.* for a
 * rootless prefix) is counted for the summary line; other errors stand. */
static int xattr_refused(struct dirfs *d, int rc)
{
	if (rc == 0)
		return 0;
	if (errno == EPERM || errno == ENOTSUP || errno == EACCES) {
		d->skipped.xattrs++;
		return 0;
	}
	return -errno;
}

/* Owner, then mode (chown clears setuid), then xattrs; times separately
 * because a directory's change as its children arrive. */
static int apply_meta(struct dirfs *d, int dirfd, const char *name, const struct mv_meta *m, int is_link)
{
	if (d->opt.keep_owners && fchownat(dirfd, name, m->uid, m->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!is_link && fchmodat(dirfd, name, m->mode & 07777, 0) < 0)
		return -errno;
	for (size_t i = 0; i < m->n_xattrs; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
		/* lsetxattr needs a path: the directory's own descriptor path
		 * plus the name, still beneath the root we opened. */
		char *full = NULL;
		if (asprintf(&full, "%s/%s", path, name) < 0)
			return -ENOMEM;
		int rc = xattr_refused(d, lsetxattr(full, m->xattrs[i].name, m->xattrs[i].value, m->xattrs[i].size, 0));
		free(full);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A finished non-directory entry: owner, mode and xattrs, then its times
 * (last, since changing the rest would not move them, but order keeps it
 * obvious). */
static int apply_meta_and_times(struct dirfs *d, int dirfd, const char *name, const struct mv_meta *m, int is_link)
{
	int rc = apply_meta(d, dirfd, name, m, is_link);
	if (rc == 0) {
		struct timespec t[2];
		to_times(m, t);
		if (utimensat(dirfd, name, t, AT_SYMLINK_NOFOLLOW) < 0)
			rc = -errno;
	}
	return rc;
}

/* mode: the directory's final permission bits when they must wait for
 * finish, else 0. */
static int remember_dir_time(struct dirfs *d, uint64_t node, const struct mv_meta *m, uint32_t mode)
{
	for (size_t i = 0; i < d->n_dir_times; i++)
		if (d->dir_times[i].node == node) {
			to_times(m, d->dir_times[i].times);
			d->dir_times[i].mode = mode;
			return 0;
		}
	if (d->n_dir_times == d->cap_dir_times) {
		size_t cap = d->cap_dir_times ? d->cap_dir_times * 2 : 64;
		struct dir_time *v = realloc(d->dir_times, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		d->dir_times = v;
		d->cap_dir_times = cap;
	}
	d->dir_times[d->n_dir_times].node = node;
	d->dir_times[d->n_dir_times].mode = mode;
	to_times(m, d->dir_times[d->n_dir_times].times);
	d->n_dir_times++;
	return 0;
}

/* A directory's metadata now, with the owner's rwx kept until finish when
 * the final mode lacks them; remembered with its times. */
static int dir_meta(struct dirfs *d, int dirfd, const char *name, uint64_t node, const struct mv_meta *m)
{
	struct mv_meta now = *m;
	uint32_t later = (m->mode & 0700) == 0700 ? 0 : (m->mode & 07777) | S_IFDIR;
	now.mode |= 0700;
	int rc = apply_meta(d, dirfd, name, &now, 0);
	return rc < 0 ? rc : remember_dir_time(d, node, m, later);
}

static int dir_setattr(struct mv_fs *fs, mv_node node, const struct mv_meta *m)
{
	struct dirfs *d = D(fs);
	struct stat st;
	int rc = dir_lstat(d, node, &st);
	if (rc < 0)
		return rc;
	if (node == 0) {
		/* The prefix itself: the caller's directory keeps its owner. */
		return S_ISDIR(st.st_mode) ? remember_dir_time(d, 0, m, 0) : 0;
	}
	int fd = open_dir(d, d->nodes[node].parent);
	if (fd < 0)
		return fd;
	if (S_ISDIR(st.st_mode)) {
		rc = dir_meta(d, fd, d->nodes[node].name, node, m);
	} else {
		rc = apply_meta_and_times(d, fd, d->nodes[node].name, m, S_ISLNK(st.st_mode));
	}
	close(fd);
	return rc;
}

static int dir_readlink(struct mv_fs *fs, mv_node node, char *buf, size_t len)
{
	struct dirfs *d = D(fs);
	if (node == 0)
		return -EINVAL;
	int fd = open_dir(d, d->nodes[node].parent);
	if (fd < 0)
		return fd;
	ssize_t n = readlinkat(fd, d->nodes[node].name, buf, len);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

static int dir_readdir(struct mv_fs *fs, mv_node dir, int (*fn)(void *, const char *, mv_node), void *ctx)
{
	struct dirfs *d = D(fs);
	int fd = open_dir(d, dir);
	if (fd < 0)
		return fd;
	DIR *dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return -errno;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(dp))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		uint64_t node;
		rc = intern(d, dir, e->d_name, &node);
		if (rc == 0)
			rc = fn(ctx, e->d_name, node);
	}
	closedir(dp);
	return rc;
}

static int dir_mkdir(struct mv_fs *fs, mv_node dir, const char *name, const struct mv_meta *m, mv_node *out)
{
	struct dirfs *d = D(fs);
	int fd = open_dir(d, dir);
	if (fd < 0)
		return fd;
	int rc = mkdirat(fd, name, 0700) < 0 ? -errno : 0;
	if (rc == 0)
		rc = intern(d, dir, name, out);
	if (rc == 0)
		rc = dir_meta(d, fd, name, *out, m);
	close(fd);
	return rc;
}

/* Opens name in the directory node dir, for reading or (O_CREAT|O_EXCL)
 * a new file; the descriptor comes wrapped for the writer's calls. */
static int open_file(struct dirfs *d, mv_node dir, const char *name, int flags, struct dirfile **out)
{
	int dfd = open_dir(d, dir);
	if (dfd < 0)
		return dfd;
	int fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
	int e = errno;
	close(dfd);
	if (fd < 0)
		return -e;
	struct dirfile *f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->d = d;
	f->fd = fd;
	f->writing = (flags & O_ACCMODE) != O_RDONLY;
	*out = f;
	return 0;
}

static int dir_create(struct mv_fs *fs, mv_node dir, const char *name, const struct mv_meta *m, struct mv_file **out)
{
	struct dirfs *d = D(fs);
	struct dirfile *f;
	int rc = open_file(d, dir, name, O_WRONLY | O_CREAT | O_EXCL, &f);
	if (rc < 0)
		return rc;
	f->meta = *m;
	f->meta.n_xattrs = 0; /* applied now, while the caller's array lives */
	f->meta.xattrs = NULL;
	for (size_t i = 0; i < m->n_xattrs && rc == 0; i++)
		rc = xattr_refused(d, fsetxattr(f->fd, m->xattrs[i].name, m->xattrs[i].value, m->xattrs[i].size, 0));
	if (rc < 0) {
		close(f->fd);
		free(f);
		return rc;
	}
	*out = (struct mv_file *)f;
	return 0;
}

static int dir_write(struct mv_file *file, uint64_t offset, const void *buf, size_t len)
{
	struct dirfile *f = (struct dirfile *)file;
	const char *p = buf;
	while (len) {
		ssize_t n = pwrite(f->fd, p, len, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

static int dir_close(struct mv_file *file, uint64_t size)
{
	struct dirfile *f = (struct dirfile *)file;
	int rc = 0;
	if (f->writing) {
		struct timespec t[2];
		to_times(&f->meta, t);
		/* ftruncate keeps a trailing hole a hole. */
		if (ftruncate(f->fd, (off_t)size) < 0 ||
		    (f->d->opt.keep_owners && fchown(f->fd, f->meta.uid, f->meta.gid) < 0) ||
		    fchmod(f->fd, f->meta.mode & 07777) < 0 || futimens(f->fd, t) < 0)
			rc = -errno;
	}
	if (close(f->fd) < 0 && rc == 0)
		rc = -errno;
	free(f);
	return rc;
}

static int dir_symlink(struct mv_fs *fs, mv_node dir, const char *name, const char *target, const struct mv_meta *m)
{
	struct dirfs *d = D(fs);
	int fd = open_dir(d, dir);
	if (fd < 0)
		return fd;
	int rc = symlinkat(target, fd, name) < 0 ? -errno : 0;
	if (rc == 0)
		rc = apply_meta_and_times(d, fd, name, m, 1);
	close(fd);
	return rc;
}

static int dir_link(struct mv_fs *fs, mv_node dir, const char *name, mv_node target)
{
	struct dirfs *d = D(fs);
	if (target == 0)
		return -EPERM;
	int from = open_dir(d, d->nodes[target].parent);
	if (from < 0)
		return from;
	int to = open_dir(d, dir);
	if (to < 0) {
		close(from);
		return to;
	}
	int rc = linkat(from, d->nodes[target].name, to, name, 0) < 0 ? -errno : 0;
	close(from);
	close(to);
	/* Android's app storage (and some filesystems) refuse hard links: the
	 * path layer then copies. */
	if (rc == -EPERM || rc == -EXDEV || rc == -EACCES || rc == -EMLINK)
		rc = -ENOTSUP;
	return rc;
}

static int dir_mknod(struct mv_fs *fs, mv_node dir, const char *name, const struct mv_meta *m)
{
	struct dirfs *d = D(fs);
	int fd = open_dir(d, dir);
	if (fd < 0)
		return fd;
	int rc = mknodat(fd, name, m->mode & (S_IFMT | 07777), (dev_t)m->rdev) < 0 ? -errno : 0;
	if (rc == -EPERM && (S_ISCHR(m->mode) || S_ISBLK(m->mode))) {
		/* Without the privilege a device node cannot exist here: count
		 * it (and name the first few) for the summary line and go on. */
		uint64_t node;
		if (d->skipped.device_nodes < MV_DIR_SKIPPED_NAMES && intern(d, dir, name, &node) == 0)
			d->skipped_nodes[d->skipped.device_nodes] = node;
		d->skipped.device_nodes++;
		close(fd);
		return 0;
	}
	if (rc == 0)
		rc = apply_meta_and_times(d, fd, name, m, 0);
	close(fd);
	return rc;
}

static int dir_unlink(struct mv_fs *fs, mv_node dir, const char *name)
{
	struct dirfs *d = D(fs);
	int fd = open_dir(d, dir);
	if (fd < 0)
		return fd;
	struct stat st;
	int rc = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (rc == 0 && unlinkat(fd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
		rc = errno == EEXIST ? -ENOTEMPTY : -errno;
	close(fd);
	return rc;
}

static int dir_open(struct mv_fs *fs, mv_node node, struct mv_file **out)
{
	struct dirfs *d = D(fs);
	if (node == 0)
		return -EISDIR;
	return open_file(d, d->nodes[node].parent, d->nodes[node].name, O_RDONLY, (struct dirfile **)out);
}

static ssize_t dir_read(struct mv_file *file, uint64_t offset, void *buf, size_t len)
{
	struct dirfile *f = (struct dirfile *)file;
	ssize_t n;
	do
		n = pread(f->fd, buf, len, (off_t)offset);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static int dir_finish(struct mv_fs *fs)
{
	struct dirfs *d = D(fs);
	/* Deepest first is not needed: setting a directory's times does not
	 * touch its parent's. Later entries (created after) are what moved
	 * them, so all are set now, at the end. */
	for (size_t i = d->n_dir_times; i-- > 0;) {
		uint64_t node = d->dir_times[i].node;
		int rc;
		if (node == 0) {
			rc = futimens(d->rootfd, d->dir_times[i].times) < 0 ? -errno : 0;
		} else {
			int fd = open_dir(d, d->nodes[node].parent);
			if (fd < 0)
				continue; /* removed since */
			const char *name = d->nodes[node].name;
			/* Children come later in the list: they are done first,
			 * while this directory still lets the caller in. */
			rc = d->dir_times[i].mode && fchmodat(fd, name, d->dir_times[i].mode & 07777, 0) < 0 ? -errno : 0;
			if (rc == 0)
				rc = utimensat(fd, name, d->dir_times[i].times, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
			close(fd);
		}
		if (rc < 0 && rc != -ENOENT)
			return rc;
	}
	return fsync(d->rootfd) < 0 && errno != EINVAL ? -errno : 0;
}

static void dir_destroy(struct mv_fs *fs)
{
	struct dirfs *d = D(fs);
	for (size_t i = 0; i < d->n_nodes; i++)
		free(d->nodes[i].name);
	free(d->nodes);
	free(d->index);
	free(d->dir_times);
	close(d->rootfd);
	free(d);
}

static const struct mv_fs_ops dir_ops = {
	.name = "dir",
	.root = dir_root,
	.lookup = dir_lookup,
	.getattr = dir_getattr,
	.setattr = dir_setattr,
	.readlink = dir_readlink,
	.readdir = dir_readdir,
	.mkdir = dir_mkdir,
	.create = dir_create,
	.write = dir_write,
	.close = dir_close,
	.symlink = dir_symlink,
	.link = dir_link,
	.mknod = dir_mknod,
	.unlink = dir_unlink,
	.open = dir_open,
	.read = dir_read,
	.finish = dir_finish,
	.destroy = dir_destroy,
};

struct mv_fs *mv_dir_open(const char *path, const struct mv_dir_options *o, char *err, size_t errlen)
{
	struct dirfs *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->fs.ops = &dir_ops;
	d->opt = *o;
	d->rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d->cap_nodes = 64;
	d->nodes = calloc(d->cap_nodes, sizeof(*d->nodes));
	if (d->rootfd < 0 || !d->nodes) {
		snprintf(err, errlen, "%s: %s", path, d->rootfd < 0 ? strerror(errno) : "out of memory");
		if (d->rootfd >= 0)
			close(d->rootfd);
		free(d->nodes);
		free(d);
		return NULL;
	}
	d->nodes[0] = (struct node){0, NULL};
	d->n_nodes = 1;
	return &d->fs;
}

void mv_dir_skipped(struct mv_fs *fs, struct mv_dir_skipped *out)
{
	*out = D(fs)->skipped;
}

/* The path of a node, from the root: its names joined with '/'. */
static void node_path(const struct dirfs *d, uint64_t node, char *buf, size_t len)
{
	if (node == 0) {
		snprintf(buf, len, "/");
		return;
	}
	char tail[4096];
	node_path(d, d->nodes[node].parent, tail, sizeof(tail));
	int n = snprintf(buf, len, "%s%s%s", tail, strcmp(tail, "/") == 0 ? "" : "/", d->nodes[node].name);
	if (n < 0 || (size_t)n >= len)
		snprintf(buf, len, "(a long path)");
}

void mv_dir_skipped_line(struct mv_fs *fs, char *buf, size_t len)
{
	const struct dirfs *d = D(fs);
	size_t n = d->skipped.device_nodes, shown = n < MV_DIR_SKIPPED_NAMES ? n : MV_DIR_SKIPPED_NAMES;
	size_t at = 0;
	buf[0] = '\0';
	if (n)
		at += (size_t)snprintf(buf, len, "%zu device node%s skipped (only root can make them; proot binds the host's /dev): ",
				       n, n == 1 ? "" : "s");
	for (size_t i = 0; i < shown && at < len; i++) {
		char path[4096];
		node_path(d, d->skipped_nodes[i], path, sizeof(path));
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? " " : "", path);
	}
	if (n > shown && at < len)
		at += (size_t)snprintf(buf + at, len - at, " and %zu more", n - shown);
	if (d->skipped.xattrs && at < len)
		snprintf(buf + at, len - at, "%s%zu extended attribute%s refused by the kernel (security.* needs root)",
			 n ? "; " : "", d->skipped.xattrs, d->skipped.xattrs == 1 ? "" : "s");
}
