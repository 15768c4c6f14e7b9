#include "nix.h"
#include "nix_freebsd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../images/copy.h"
#include "../images/dir.h"
#include "unpack.h"

#define STORE "/nix/store/"
#define REGISTRATION "/nix-path-registration"
#define PREFIX_REGISTRATION "/nix/.reginfo"
#define PROFILES "/nix/var/nix/profiles"
#define UNITS "/lib/systemd/system/"
#define MAX_TEXT (64u << 20) /* .reginfo and install: a real one is a few KiB */

static const char nix32[] = "0123456789abcdfghijklmnpqrsvwxyz";
static const char base64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int all_in(const char *s, size_t n, const char *alphabet)
{
	return strlen(s) == n && strspn(s, alphabet) == n;
}

/* /nix/store/<32 nix32 characters>-<name>, as Nix's StorePath parses it. */
static int is_store_path(const char *s)
{
	if (strncmp(s, STORE, strlen(STORE)) != 0)
		return 0;
	s += strlen(STORE);
	if (strlen(s) < 34 || strspn(s, nix32) < 32 || s[32] != '-' || s[33] == '.')
		return 0;
	const char *name = s + 33;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-._?=") == strlen(name);
}

/* The forms Hash::parseAny accepts for SHA-256: base16, nix32 or base64,
 * bare or after "sha256:", or SRI "sha256-<base64>". */
static int is_nar_hash(const char *s)
{
	if (strncmp(s, "sha256-", 7) == 0)
		return all_in(s + 7, 44, base64);
	if (strncmp(s, "sha256:", 7) == 0)
		s += 7;
	return all_in(s, 64, "0123456789abcdef") || all_in(s, 52, nix32) || all_in(s, 44, base64);
}

static int is_decimal(const char *s)
{
	return *s && strlen(s) <= 19 && strspn(s, "0123456789") == strlen(s);
}

/* Lines of the text, one at a time, counted from 1. */
struct lines {
	const char *p;
	int no;
	char line[4096];
};

static const char *next_line(struct lines *l)
{
	if (!*l->p)
		return NULL;
	size_t n = strcspn(l->p, "\n");
	snprintf(l->line, sizeof(l->line), "%.*s", (int)(n < sizeof(l->line) ? n : sizeof(l->line) - 1), l->p);
	l->p += n + (l->p[n] == '\n');
	l->no++;
	return l->line;
}

static int bad_line(const struct lines *l, const char *want, char *err, size_t errlen)
{
	return fail(err, errlen, ".reginfo line %d: \"%.200s\": expected %s", l->no, l->line, want);
}

/* One record; fn, if given, judges each reference (the closure check). */
static int read_record(struct lines *l, int (*fn)(void *ctx, const struct lines *l), void *ctx, char *err,
		       size_t errlen)
{
	static const char *const want[] = {"a store path (/nix/store/HASH-NAME)", "a SHA-256 NAR hash",
					   "the NAR size, in decimal", "the deriver's store path or an empty line",
					   "the number of references, in decimal"};
	long refs = 0;
	for (int field = 0; field < 5; field++) {
		const char *s = next_line(l);
		if (!s)
			return fail(err, errlen, ".reginfo ends at line %d inside a record: expected %s", l->no, want[field]);
		int good = field == 0 ? is_store_path(s) : field == 1 ? is_nar_hash(s)
			 : field == 3 ? (!*s || is_store_path(s)) : is_decimal(s);
		if (!good)
			return bad_line(l, want[field], err, errlen);
		if (field == 4)
			refs = strtol(s, NULL, 10);
	}
	for (long i = 0; i < refs; i++) {
		const char *s = next_line(l);
		if (!s)
			return fail(err, errlen, ".reginfo ends at line %d: %ld more references expected", l->no, refs - i);
		if (!is_store_path(s))
			return bad_line(l, "a reference (a store path)", err, errlen);
		if (fn && fn(ctx, l) < 0)
			return bad_line(l, "a reference to a path the .reginfo registers (the closure is incomplete)", err,
					errlen);
	}
	return 0;
}

/* Walks every record, calling fn for each reference. */
static long walk(const char *text, int (*fn)(void *ctx, const struct lines *l), void *ctx, char *err, size_t errlen)
{
	struct lines l = {.p = text};
	long records = 0;
	while (*l.p) {
		if (read_record(&l, fn, ctx, err, errlen) < 0)
			return -1;
		records++;
	}
	if (!records)
		return fail(err, errlen, ".reginfo is empty: it registers no store path");
	return records;
}

int mv_nix_registers(const char *text, const char *path)
{
	struct lines l = {.p = text};
	while (next_line(&l)) {
		if (strcmp(l.line, path) == 0)
			return 1;
		/* skip hash, size, deriver, then the count's references */
		for (int i = 0; i < 3; i++)
			next_line(&l);
		if (!next_line(&l))
			return 0;
		for (long n = strtol(l.line, NULL, 10); n > 0 && next_line(&l); n--)
			;
	}
	return 0;
}

static int registered_ref(void *ctx, const struct lines *l)
{
	return mv_nix_registers(ctx, l->line) ? 0 : -1;
}

long mv_nix_check_reginfo(const char *text, char *err, size_t errlen)
{
	/* Format first, so the closure check reads well-formed records. */
	if (walk(text, NULL, NULL, err, errlen) < 0)
		return -1;
	return walk(text, registered_ref, (void *)text, err, errlen);
}

int mv_nix_installer_path(const char *install, char *out, size_t len, char *err, size_t errlen)
{
	static const char key[] = "nix=\"";
	for (const char *p = install; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, strlen(key)) != 0)
			continue;
		p += strlen(key);
		size_t n = strcspn(p, "\"\n");
		if (p[n] != '"' || n >= len)
			break;
		snprintf(out, len, "%.*s", (int)n, p);
		if (!is_store_path(out))
			return fail(err, errlen, "the install script's nix=\"%s\" is no store path", out);
		return 0;
	}
	return fail(err, errlen, "the install script has no nix=\"/nix/store/...\" line (is this the official tarball?)");
}

/* What the stage works with. */
struct seed {
	const struct mv_nix_env *env;
	struct mv_fs *fs;
	int64_t t;                 /* the plan's timestamp, for what is not in the store */
	char *reginfo, *install;   /* from the tarball */
	char nix[4096];            /* the Nix store path */
	char *err;
	size_t errlen;
};

static int fs_fail(struct seed *s)
{
	return fail(s->err, s->errlen, "%s", s->fs->err);
}

static struct mv_meta meta(const struct seed *s, uint32_t mode, uint32_t uid, uint32_t gid)
{
	return (struct mv_meta){.mode = mode, .uid = uid, .gid = gid, .mtime = s->t, .atime = s->t, .ctime = s->t};
}

static const struct mv_step *plan_step(const struct mv_plan *plan, const char *path)
{
	for (size_t i = 0; i < plan->steps.n; i++)
		if (plan->steps.v[i].stage == MV_STAGE_NIX && plan->steps.v[i].path &&
		    strcmp(plan->steps.v[i].path, path) == 0)
			return &plan->steps.v[i];
	return NULL;
}

/* .reginfo and install, read and checked before anything is written. */
static int read_tarball(struct seed *s)
{
	static const char *const wanted[] = {"/.reginfo", "/install"};
	char *got[2];
	const char *tar = s->env->tarball;
	if (mv_unpack_read(tar, 1, wanted, 2, MAX_TEXT, got, s->err, s->errlen) < 0)
		return -1;
	s->reginfo = got[0];
	s->install = got[1];
	char why[600];
	if (!s->reginfo)
		return fail(s->err, s->errlen, "%s: no .reginfo in the tarball's top directory: nothing to register the store with", tar);
	if (mv_nix_check_reginfo(s->reginfo, why, sizeof(why)) < 0)
		return fail(s->err, s->errlen, "%s: %s", tar, why);
	if (!s->install)
		return fail(s->err, s->errlen, "%s: no install script in the tarball's top directory: the Nix store path is unknown", tar);
	if (mv_nix_installer_path(s->install, s->nix, sizeof(s->nix), why, sizeof(why)) < 0)
		return fail(s->err, s->errlen, "%s: %s", tar, why);
	if (!mv_nix_registers(s->reginfo, s->nix))
		return fail(s->err, s->errlen, "%s: the install script's nix=\"%s\" is not in the .reginfo", tar, s->nix);
	return 0;
}

int mv_nix_canonical(struct mv_meta *m, const char *member, char *err, size_t errlen)
{
	uint32_t type = m->mode & S_IFMT;
	if (type == S_IFDIR)
		m->mode = S_IFDIR | 0555;
	else if (type == S_IFREG)
		m->mode = S_IFREG | ((m->mode & 0111) ? 0555 : 0444);
	else if (type == S_IFLNK)
		m->mode = S_IFLNK | 0777;
	else
		return fail(err, errlen, "member %.200s: a Nix store holds only files, directories and symlinks", member);
	m->uid = m->gid = 0;
	m->mtime = m->atime = m->ctime = 1;
	m->mtime_nsec = m->atime_nsec = m->ctime_nsec = 0;
	m->fflags = 0;
	m->n_xattrs = 0;
	m->xattrs = NULL;
	return 0;
}

int mv_nix_store_member(void *ctx, struct mv_unpack_entry *e, char *err, size_t errlen)
{
	(void)ctx;
	if (strncmp(e->path, "/store/", 7) != 0)
		return MV_UNPACK_SKIP;
	size_t len = strlen(e->path);
	if (len + 5 > e->path_size)
		return fail(err, errlen, "member %.200s: name too long", e->member);
	memmove(e->path + 4, e->path, len + 1);
	memcpy(e->path, "/nix", 4);
	if (e->meta && mv_nix_canonical(e->meta, e->member, err, errlen) < 0)
		return -1;
	return MV_UNPACK_WRITE;
}

static int mkdir_at(struct seed *s, const char *path, uint32_t mode, uint32_t gid)
{
	struct mv_meta m = meta(s, S_IFDIR | mode, 0, gid);
	return mv_fs_mkparents(s->fs, path, s->t) < 0 || mv_fs_mkdir(s->fs, path, &m) < 0 ? fs_fail(s) : 0;
}

static int link_at(struct seed *s, const char *path, const char *target)
{
	struct mv_meta m = meta(s, S_IFLNK | 0777, 0, 0);
	return mv_fs_mkparents(s->fs, path, s->t) < 0 || mv_fs_symlink(s->fs, path, target, &m) < 0 ? fs_fail(s) : 0;
}

int mv_nix_check_present(struct mv_fs *fs, const char *reginfo, const char *what, char *err, size_t errlen)
{
	struct lines l = {.p = reginfo};
	struct mv_stat st;
	while (next_line(&l)) {
		if (mv_fs_stat(fs, l.line, MV_FS_NOFOLLOW, &st) < 0)
			return fail(err, errlen, "%s: .reginfo line %d registers %s, which its store/ lacks", what, l.no, l.line);
		for (int i = 0; i < 3; i++)
			next_line(&l);
		next_line(&l);
		for (long n = strtol(l.line, NULL, 10); n > 0 && next_line(&l); n--)
			;
	}
	return 0;
}

static int store(struct seed *s)
{
	/* Single-user: the store is the caller's, as the installer's mkdir
	 * under umask 022 leaves it (the dir writer maps owners to the caller). */
	int multi = s->env->plan->multi_user;
	if (mkdir_at(s, "/nix", 0755, 0) < 0 || mkdir_at(s, "/nix/store", multi ? 01775 : 0755, multi ? MV_NIX_GID : 0) < 0)
		return -1;
	struct mv_unpack_options o = {.strip = 1, .parent_mtime = 1, .rewrite = mv_nix_store_member};
	if (mv_unpack_file(s->fs, s->env->tarball, &o, NULL, s->err, s->errlen) < 0)
		return -1;
	if (mv_nix_check_present(s->fs, s->reginfo, s->env->tarball, s->err, s->errlen) < 0)
		return -1;
	struct mv_meta m = meta(s, S_IFREG | 0644, 0, 0);
	const char *reg = s->env->plan->opt.target == MV_TARGET_PREFIX ? PREFIX_REGISTRATION : REGISTRATION;
	return mv_fs_write_file(s->fs, reg, &m, s->reginfo, strlen(s->reginfo)) < 0 ? fs_fail(s) : 0;
}

/* Multi-user: root's profile; single-user (a prefix): the caller's, under
 * per-user/USER, with USER's home in the prefix (the launcher's HOME). */
static int profiles(struct seed *s)
{
	const struct mv_plan *plan = s->env->plan;
	const char *user = plan->multi_user ? "root" : plan->opt.user;
	char dir[256], home[256], gen[300], profile[300], nix_profile[300];
	if (!user)
		return fail(s->err, s->errlen, "single-user Nix needs the caller's name");
	snprintf(dir, sizeof(dir), PROFILES "/per-user/%s", user);
	snprintf(home, sizeof(home), plan->multi_user ? "/root" : "/home/%s", user);
	snprintf(gen, sizeof(gen), "%s/profile-1-link", dir);
	snprintf(profile, sizeof(profile), "%s/profile", dir);
	snprintf(nix_profile, sizeof(nix_profile), "%s/.nix-profile", home);
	if (mkdir_at(s, dir, 0755, 0) < 0)
		return -1;
	/* the home, private as the installer's systems have root's, if the
	 * userland has none */
	struct mv_stat st;
	if (mv_fs_stat(s->fs, home, MV_FS_FOLLOW, &st) < 0 && mkdir_at(s, home, plan->multi_user ? 0700 : 0755, 0) < 0)
		return -1;
	return link_at(s, gen, s->nix) < 0 || link_at(s, profile, "profile-1-link") < 0 ||
	       link_at(s, PROFILES "/default", profile) < 0 || link_at(s, nix_profile, profile) < 0 ? -1 : 0;
}

static int nix_conf(struct seed *s)
{
	const struct mv_step *st = plan_step(s->env->plan, "/etc/nix/nix.conf");
	if (!st || !st->content)
		return fail(s->err, s->errlen, "the plan has no nix.conf step");
	struct mv_meta m = meta(s, S_IFREG | 0644, 0, 0);
	return mv_fs_mkparents(s->fs, "/etc/nix/nix.conf", s->t) < 0 ||
	       mv_fs_write_file(s->fs, "/etc/nix/nix.conf", &m, st->content, strlen(st->content)) < 0 ? fs_fail(s) : 0;
}

/* As groupadd -g 30000 nixbld and useradd --system ... --password '!'
 * nixbldN would, for N = 1..32 (install-multi-user.sh). */
/* Whether an account file of the userland already has a line for name. */
static int has_entry(struct seed *s, const char *path, const char *name)
{
	char *text;
	size_t len;
	if (mv_fs_read_file(s->fs, path, &text, &len) < 0 || !text)
		return 0;
	size_t n = strlen(name);
	int found = 0;
	for (const char *p = text; p && *p && !found; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		found = strncmp(p, name, n) == 0 && p[n] == ':';
	free(text);
	return found;
}

static int build_users(struct seed *s)
{
	/* Two nixbld entries would leave which one counts to the reader. */
	if (has_entry(s, "/etc/group", "nixbld") || has_entry(s, "/etc/passwd", "nixbld1"))
		return fail(s->err, s->errlen, "the userland already has a nixbld group or build users: not adding them twice");
	char *group = NULL, *passwd = NULL, *shadow = NULL;
	size_t lg, lp, ls;
	FILE *g = open_memstream(&group, &lg), *p = open_memstream(&passwd, &lp), *sh = open_memstream(&shadow, &ls);
	int rc = -1;
	if (!g || !p || !sh) {
		fail(s->err, s->errlen, "out of memory");
		goto out;
	}
	fprintf(g, "nixbld:x:%d:", MV_NIX_GID);
	for (int i = 1; i <= MV_NIX_BUILD_USERS; i++) {
		fprintf(g, "%snixbld%d", i > 1 ? "," : "", i);
		fprintf(p, "nixbld%d:x:%d:%d:Nix build user %d:/var/empty:/sbin/nologin\n", i, MV_NIX_GID + i, MV_NIX_GID, i);
		fprintf(sh, "nixbld%d:!:::::::\n", i);
	}
	fputc('\n', g);
	fclose(g), fclose(p), fclose(sh);
	g = p = sh = NULL;
	struct mv_meta pub = meta(s, S_IFREG | 0644, 0, 0), priv = meta(s, S_IFREG | 0600, 0, 0);
	if (mv_fs_append_file(s->fs, "/etc/group", &pub, group) < 0 ||
	    mv_fs_append_file(s->fs, "/etc/passwd", &pub, passwd) < 0 ||
	    mv_fs_append_file(s->fs, "/etc/shadow", &priv, shadow) < 0)
		fs_fail(s);
	else
		rc = 0;
out:
	if (g)
		fclose(g);
	if (p)
		fclose(p);
	if (sh)
		fclose(sh);
	free(group), free(passwd), free(shadow);
	return rc;
}

/* systemctl enable: the units linked into /etc/systemd/system and wanted
 * by their [Install] targets; the daemon's socket directory made, since
 * both units are conditioned on it being writable. */
static int enable_daemon(struct seed *s)
{
	static const char *const units[][2] = {{"nix-daemon.socket", "sockets.target.wants"},
					       {"nix-daemon.service", "multi-user.target.wants"}};
	char unit[4200], link[256];
	struct mv_stat st;
	for (size_t i = 0; i < 2; i++) {
		snprintf(unit, sizeof(unit), "%s" UNITS "%s", s->nix, units[i][0]);
		if (mv_fs_stat(s->fs, unit, MV_FS_FOLLOW, &st) < 0)
			return 0; /* a Nix without systemd units: nothing to enable */
	}
	for (size_t i = 0; i < 2; i++) {
		snprintf(unit, sizeof(unit), "%s" UNITS "%s", s->nix, units[i][0]);
		snprintf(link, sizeof(link), "/etc/systemd/system/%s", units[i][0]);
		if (link_at(s, link, unit) < 0)
			return -1;
		snprintf(link, sizeof(link), "/etc/systemd/system/%s/%s", units[i][1], units[i][0]);
		if (link_at(s, link, unit) < 0)
			return -1;
	}
	return mkdir_at(s, "/nix/var/nix/daemon-socket", 0755, 0);
}

static int flake(struct seed *s)
{
	const char *ref = s->env->plan->profile->flake.v;
	const struct mv_step *st = plan_step(s->env->plan, "/etc/microvisor/flake");
	if (!ref || strchr(ref, ':') || !st)
		return 0; /* a flake reference is the handoff's */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", st->from);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : dir;
	if (slash)
		*slash = '\0';
	char why[512];
	struct mv_dir_options dopt = {0};
	struct mv_fs *src = mv_dir_open(slash ? (*dir ? dir : "/") : ".", &dopt, why, sizeof(why));
	if (!src)
		return fail(s->err, s->errlen, "Flake=%s: %s", ref, why);
	struct mv_copy_options o = {.mode = -1, .uid = 0, .gid = 0, .mtime = -1};
	int rc = mv_fs_mkparents(s->fs, "/etc/microvisor/flake", s->t);
	if (rc == 0)
		rc = mv_copy(src, base, s->fs, "/etc/microvisor/flake", &o);
	mv_fs_destroy(src);
	return rc < 0 ? fail(s->err, s->errlen, "Flake=%s: %s", ref, s->fs->err) : 0;
}

int mv_nix_seed(const struct mv_nix_env *env, char *err, size_t errlen)
{
	struct seed s = {.env = env, .fs = env->root, .t = env->plan->opt.timestamp, .err = err, .errlen = errlen};
	int multi = env->plan->multi_user;
	if (!multi && env->plan->opt.target != MV_TARGET_PREFIX)
		return fail(err, errlen, "single-user Nix (MultiUser=no) on a disk or image is not available yet: its owner is not known (a prefix's is the caller)");
	int rc = read_tarball(&s) < 0 || store(&s) < 0 || profiles(&s) < 0 || nix_conf(&s) < 0 ||
		 (multi && (mv_nix_freebsd(env->plan) ? mv_nix_freebsd_seed(s.fs, s.nix, s.t, err, errlen) < 0
					       : build_users(&s) < 0 || enable_daemon(&s) < 0)) ||
		 flake(&s) < 0 ? -1 : 0;
	free(s.reginfo);
	free(s.install);
	return rc;
}
