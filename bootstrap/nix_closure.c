/* [Nix] Closure=: a Nix store built elsewhere, seeded beside the tarball's
 * (nix.h explains the layout). The registration is judged by the same
 * checks as the tarball's .reginfo before anything is written. */
#include "nix.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../images/copy.h"
#include "../images/dir.h"
#include "report.h"
#include "unpack.h"

#define REGISTRATION "/nix-path-registration"
#define MAX_TEXT (256u << 20) /* a system closure's registration is a few MiB */

static const char *const reg_names[] = {"registration", ".reginfo"};

struct closure {
	const struct mv_nix_env *env;
	const char *path;          /* the verified local bytes or directory */
	const char *location;      /* as the profile names it */
	int is_dir, strip;
	char top[4096];            /* a directory: where store/ and the registration are */
	char *reginfo;
	char *err;
	size_t errlen;
};

/* The whole of a registration file, NUL-terminated: 0 with *out NULL when
 * it is missing, -1 with *why set (an errno's text or what is wrong). A
 * NUL byte or more than MAX_TEXT would leave records unread, so both are
 * refused rather than cut short. */
static int host_read(const char *path, char **out, const char **why)
{
	FILE *f = fopen(path, "rb");
	*out = NULL;
	*why = NULL;
	if (!f) {
		int e = errno;
		*why = strerror(e);
		return e == ENOENT ? 0 : -1;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[65536];
	size_t n;
	int big = 0;
	while (m && !big && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		big = len + n > MAX_TEXT;
		if (!big)
			fwrite(chunk, 1, n, m);
	}
	int bad = ferror(f) || !m;
	*why = bad ? strerror(errno) : NULL;
	fclose(f);
	if (m)
		fclose(m);
	if (!bad && big)
		*why = "more than 256 MiB: not a registration", bad = 1;
	else if (!bad && strlen(buf) != len)
		*why = "a NUL byte in the file: not a registration", bad = 1;
	if (bad) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

/* d_type, or a stat where the filesystem leaves it DT_UNKNOWN. */
static int is_dir(DIR *d, const struct dirent *e)
{
	struct stat st;
	if (e->d_type != DT_UNKNOWN)
		return e->d_type == DT_DIR;
	return fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* A directory: store/ and the registration at its top, or in its one
 * subdirectory. */
static int find_dir_top(struct closure *c)
{
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			DIR *d = opendir(c->path);
			struct dirent *e;
			int subdirs = 0;
			while (d && (e = readdir(d)))
				if (e->d_name[0] != '.' && is_dir(d, e) && ++subdirs == 1)
					snprintf(c->top, sizeof(c->top), "%s/%.255s", c->path, e->d_name);
			if (d)
				closedir(d);
			if (subdirs != 1)
				break;
		} else {
			snprintf(c->top, sizeof(c->top), "%s", c->path);
		}
		for (size_t i = 0; i < 2; i++) {
			char p[4400];
			snprintf(p, sizeof(p), "%s/%s", c->top, reg_names[i]);
			const char *why;
			if (host_read(p, &c->reginfo, &why) < 0)
				return mv_errf(c->err, c->errlen, "Closure=%s: %s: %s", c->location, p, why);
			if (c->reginfo)
				return 0;
		}
	}
	return mv_errf(c->err, c->errlen, "Closure=%s: no registration (a file named registration or .reginfo beside store/) at its top or in its one subdirectory",
		    c->location);
}

/* An archive: the same, at strip 0 or 1. */
static int find_archive_top(struct closure *c)
{
	const char *wanted[] = {"/registration", "/.reginfo"};
	for (c->strip = 0; c->strip < 2; c->strip++) {
		char *got[2];
		if (mv_unpack_read(c->path, c->strip, wanted, 2, MAX_TEXT, got, c->err, c->errlen) < 0)
			return -1;
		c->reginfo = got[0] ? got[0] : got[1];
		if (got[0] && got[1])
			free(got[1]);
		if (c->reginfo)
			return 0;
	}
	return mv_errf(c->err, c->errlen, "Closure=%s: no registration (a member named registration or .reginfo beside store/) at its top or in its one top directory",
		    c->location);
}

/* Canonical form for a tree copied from a directory. */
struct walk {
	struct mv_fs *fs;
	char *err;
	size_t errlen;
	int depth;
};

static int canon_node(struct walk *w, mv_node node, const char *name);

static int canon_child(void *ctx, const char *name, mv_node node)
{
	return canon_node(ctx, node, name);
}

static int canon_node(struct walk *w, mv_node node, const char *name)
{
	struct mv_stat st;
	if (w->fs->ops->getattr(w->fs, node, &st) < 0)
		return mv_errf(w->err, w->errlen, "%s: %s", name, w->fs->err);
	struct mv_meta m = {.mode = st.mode};
	if (mv_nix_canonical(&m, name, w->err, w->errlen) < 0)
		return -1;
	if (S_ISDIR(st.mode)) {
		if (++w->depth > 256)
			return mv_errf(w->err, w->errlen, "%s: nested too deep", name);
		int rc = w->fs->ops->readdir(w->fs, node, canon_child, w);
		w->depth--;
		if (rc)
			return -1;
	}
	if (w->fs->ops->setattr(w->fs, node, &m) < 0)
		return mv_errf(w->err, w->errlen, "%s: %s", name, w->fs->err);
	return 0;
}

static int copy_dir_store(struct closure *c)
{
	struct mv_fs *dst = c->env->root;
	char store[4400];
	snprintf(store, sizeof(store), "%s/store", c->top);
	char why[512];
	struct mv_dir_options dopt = {0};
	struct mv_fs *src = mv_dir_open(store, &dopt, why, sizeof(why));
	if (!src)
		return mv_errf(c->err, c->errlen, "Closure=%s: %s", c->location, why);
	DIR *d = opendir(store);
	struct dirent *e;
	int rc = d ? 0 : mv_errf(c->err, c->errlen, "Closure=%s: %s: %s", c->location, store, strerror(errno));
	struct mv_copy_options o = {.mode = -1, .uid = 0, .gid = 0, .mtime = 1};
	while (rc == 0 && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char to[512];
		snprintf(to, sizeof(to), "/nix/store/%.255s", e->d_name);
		mv_node node;
		struct walk w = {.fs = dst, .err = c->err, .errlen = c->errlen};
		if (mv_copy(src, e->d_name, dst, to, &o) < 0)
			rc = mv_errf(c->err, c->errlen, "Closure=%s: %s", c->location, dst->err[0] ? dst->err : src->err);
		else if (mv_fs_lookup(dst, to, MV_FS_NOFOLLOW, &node) < 0)
			rc = mv_errf(c->err, c->errlen, "Closure=%s: %s", c->location, dst->err);
		else
			rc = canon_node(&w, node, to);
	}
	if (d)
		closedir(d);
	mv_fs_destroy(src);
	return rc;
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Each registered path that no other registered path refers to: the
 * closure's roots, linked from the GC roots (a checked registration). */
static int gcroots(struct closure *c)
{
	size_t n = 0, cap = 64;
	char **refs = malloc(cap * sizeof(*refs));
	char *text = strdup(c->reginfo);
	int rc = -1;
	if (!refs || !text)
		goto oom;
	for (char *line = strtok(text, "\n"), *path; line; line = strtok(NULL, "\n")) {
		/* path, hash, size, deriver (maybe empty: strtok skips it), count, refs */
		path = line;
		for (int i = 0; i < 2; i++)
			line = strtok(NULL, "\n");
		line = strtok(NULL, "\n");
		if (line && line[0] == '/')
			line = strtok(NULL, "\n");
		for (long k = line ? strtol(line, NULL, 10) : 0; k > 0 && (line = strtok(NULL, "\n")); k--) {
			if (strcmp(line, path) == 0)
				continue; /* a self-reference keeps no path alive */
			if (n == cap) {
				char **more = realloc(refs, (cap *= 2) * sizeof(*refs));
				if (!more)
					goto oom;
				refs = more;
			}
			refs[n++] = line;
		}
	}
	qsort(refs, n, sizeof(*refs), by_string);
	struct mv_fs *fs = c->env->root;
	int64_t t = c->env->plan->opt.timestamp;
	struct mv_meta dir = {.mode = S_IFDIR | 0755, .mtime = t, .atime = t, .ctime = t};
	struct mv_meta lnk = {.mode = S_IFLNK | 0777, .mtime = t, .atime = t, .ctime = t};
	if (mv_fs_mkparents(fs, MV_NIX_GCROOTS, t) < 0 || mv_fs_mkdir(fs, MV_NIX_GCROOTS, &dir) < 0) {
		rc = mv_errf(c->err, c->errlen, "%s", fs->err);
		goto out;
	}
	/* The record starts again from the top: the first line of each. */
	rc = 0;
	long skip = 0;
	int field = 0;
	for (const char *p = c->reginfo; rc == 0 && *p;) {
		size_t len = strcspn(p, "\n");
		char line[4096];
		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), p);
		p += len + (p[len] == '\n');
		if (skip) {
			skip--;
			continue;
		}
		if (field == 4) {
			skip = strtol(line, NULL, 10);
			field = 0;
			continue;
		}
		if (field++ != 0)
			continue;
		const char *key = line;
		if (bsearch(&key, refs, n, sizeof(*refs), by_string))
			continue;
		char at[4400];
		snprintf(at, sizeof(at), MV_NIX_GCROOTS "/%s", line + strlen("/nix/store/"));
		if (mv_fs_symlink(fs, at, line, &lnk) < 0)
			rc = mv_errf(c->err, c->errlen, "%s", fs->err);
	}
	goto out;
oom:
	mv_errf(c->err, c->errlen, "out of memory");
out:
	free(refs);
	free(text);
	return rc;
}

int mv_nix_seed_closure(const struct mv_nix_env *env, const char *closure, const char *location, char *err,
			size_t errlen)
{
	struct closure c = {.env = env, .path = closure, .location = location, .err = err, .errlen = errlen};
	struct stat st;
	if (stat(closure, &st) < 0)
		return mv_errf(err, errlen, "Closure=%s: %s: %s", location, closure, strerror(errno));
	c.is_dir = S_ISDIR(st.st_mode);
	char why[600];
	int rc = -1;
	if ((c.is_dir ? find_dir_top(&c) : find_archive_top(&c)) < 0)
		goto out;
	if (mv_nix_check_reginfo(c.reginfo, why, sizeof(why)) < 0) {
		mv_errf(err, errlen, "Closure=%s: %s", location, why);
		goto out;
	}
	struct mv_unpack_options o = {.strip = c.strip, .parent_mtime = 1, .rewrite = mv_nix_store_member};
	if (c.is_dir ? copy_dir_store(&c) < 0 : mv_unpack_file(env->root, closure, &o, NULL, err, errlen) < 0)
		goto out;
	snprintf(why, sizeof(why), "Closure=%s", location);
	if (mv_nix_check_present(env->root, c.reginfo, why, err, errlen) < 0)
		goto out;
	int64_t t = env->plan->opt.timestamp;
	struct mv_meta m = {.mode = S_IFREG | 0644, .mtime = t, .atime = t, .ctime = t};
	if (mv_fs_append_file(env->root, REGISTRATION, &m, c.reginfo) < 0) {
		mv_errf(err, errlen, "%s", env->root->err);
		goto out;
	}
	rc = gcroots(&c);
out:
	free(c.reginfo);
	return rc;
}
