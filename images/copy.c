#include "copy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CHUNK (1 << 16)

struct ctx {
	struct mv_fs *src, *dst;
	const struct mv_copy_options *o;
	char *buf;
};

static int copy_one(struct ctx *c, const char *from, const char *to);

static struct mv_meta meta_of(const struct ctx *c, const struct mv_stat *st)
{
	struct mv_meta m = {.mode = st->mode, .uid = st->uid, .gid = st->gid, .mtime = st->mtime,
			    .mtime_nsec = st->mtime_nsec, .rdev = st->rdev};
	if (c->o->mode >= 0 && !S_ISLNK(st->mode))
		m.mode = (st->mode & S_IFMT) | (uint32_t)c->o->mode;
	if (c->o->uid >= 0)
		m.uid = (uint32_t)c->o->uid, m.gid = (uint32_t)c->o->gid;
	if (c->o->mtime >= 0)
		m.mtime = c->o->mtime, m.mtime_nsec = 0;
	m.atime = m.ctime = m.mtime;
	m.atime_nsec = m.ctime_nsec = m.mtime_nsec;
	return m;
}

static int copy_data(struct ctx *c, const char *from, const char *to, const struct mv_meta *m)
{
	struct mv_file *in, *out;
	int rc = mv_fs_open(c->src, from, &in);
	if (rc < 0)
		return mv_fs_fail(c->dst, rc, "%s", c->src->err);
	if ((rc = mv_fs_create(c->dst, to, m, &out)) < 0) {
		c->src->ops->close(in, 0);
		return rc;
	}
	uint64_t off = 0;
	ssize_t n;
	while ((n = c->src->ops->read(in, off, c->buf, CHUNK)) > 0) {
		if ((rc = c->dst->ops->write(out, off, c->buf, (size_t)n)) < 0)
			break;
		off += (uint64_t)n;
	}
	if (n < 0 && rc == 0)
		rc = mv_fs_fail(c->dst, (int)n, "reading %s: %s", from, strerror((int)-n));
	c->src->ops->close(in, 0);
	int crc = c->dst->ops->close(out, off);
	if (rc == 0 && crc < 0)
		rc = mv_fs_fail(c->dst, crc, "writing %s: %s", to, strerror(-crc));
	return rc;
}

struct dir_walk {
	struct ctx *c;
	const char *from, *to;
	int rc;
};

static int each_entry(void *arg, const char *name, mv_node node)
{
	(void)node;
	struct dir_walk *w = arg;
	size_t lf = strlen(w->from), lt = strlen(w->to), ln = strlen(name);
	char *from = malloc(lf + ln + 2), *to = malloc(lt + ln + 2);
	if (!from || !to) {
		free(from), free(to);
		return -ENOMEM;
	}
	sprintf(from, "%s%s%s", w->from, lf && w->from[lf - 1] == '/' ? "" : "/", name);
	sprintf(to, "%s%s%s", w->to, lt && w->to[lt - 1] == '/' ? "" : "/", name);
	int rc = copy_one(w->c, from, to);
	free(from), free(to);
	return rc;
}

static int copy_one(struct ctx *c, const char *from, const char *to)
{
	struct mv_stat st;
	int rc = mv_fs_stat(c->src, from, MV_FS_NOFOLLOW, &st);
	if (rc < 0)
		return mv_fs_fail(c->dst, rc, "%s", c->src->err);
	struct mv_meta m = meta_of(c, &st);
	switch (st.mode & S_IFMT) {
	case S_IFDIR: {
		if ((rc = mv_fs_mkdir(c->dst, to, &m)) < 0)
			return rc;
		struct dir_walk w = {c, from, to, 0};
		rc = mv_fs_readdir(c->src, from, each_entry, &w);
		if (rc < 0 && !c->dst->err[0])
			mv_fs_fail(c->dst, rc, "%s", c->src->err);
		/* The directory's own metadata again: its entries changed it. */
		return rc < 0 ? rc : mv_fs_mkdir(c->dst, to, &m);
	}
	case S_IFLNK: {
		char target[4096];
		if ((rc = mv_fs_readlink(c->src, from, target, sizeof(target))) < 0)
			return mv_fs_fail(c->dst, rc, "%s", c->src->err);
		return mv_fs_symlink(c->dst, to, target, &m);
	}
	case S_IFREG:
		return copy_data(c, from, to, &m);
	default:
		return mv_fs_mknod(c->dst, to, &m);
	}
}

int mv_copy(struct mv_fs *src, const char *src_path, struct mv_fs *dst, const char *dst_path,
	    const struct mv_copy_options *o)
{
	struct ctx c = {src, dst, o, malloc(CHUNK)};
	if (!c.buf)
		return -ENOMEM;
	dst->err[0] = '\0';
	int rc = copy_one(&c, src_path, dst_path);
	free(c.buf);
	return rc;
}
