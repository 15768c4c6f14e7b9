#include "boot_install.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "../images/copy.h"
#include "../images/dir.h"

#define PATH_BYTES 4096

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Replaces every "VERSION" in text with version. */
static char *with_version(const char *text, const char *version)
{
	if (!text)
		return NULL;
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, "VERSION")); p += 7)
		n++;
	char *out = malloc(strlen(text) + n * strlen(version) + 1);
	if (!out)
		return NULL;
	char *o = out;
	for (const char *p = text;;) {
		const char *hit = strstr(p, "VERSION");
		size_t len = hit ? (size_t)(hit - p) : strlen(p);
		memcpy(o, p, len);
		o += len;
		if (!hit)
			break;
		o += sprintf(o, "%s", version);
		p = hit + 7;
	}
	*o = '\0';
	return out;
}

struct best {
	const char *pattern;
	const char *prefer;   /* a '*' part to prefer (the kernel's version) */
	char name[256];
	int preferred;
};

/* The part of name that the single '*' of pattern matched. */
static void star_part(const char *pattern, const char *name, char *out, size_t len)
{
	const char *star = strchr(pattern, '*');
	size_t pre = star ? (size_t)(star - pattern) : 0, post = star ? strlen(star + 1) : 0;
	size_t n = strlen(name);
	if (!star || n < pre + post) {
		snprintf(out, len, "%s", name);
		return;
	}
	snprintf(out, len, "%.*s", (int)(n - pre - post), name + pre);
}

static int pick(void *arg, const char *name, mv_node node)
{
	(void)node;
	struct best *b = arg;
	if (fnmatch(b->pattern, name, FNM_PERIOD) != 0)
		return 0;
	char part[256];
	star_part(b->pattern, name, part, sizeof(part));
	int preferred = b->prefer && *b->prefer && strcmp(part, b->prefer) == 0;
	/* Newest by version sort, as kernel-install and bootctl order them;
	 * a match for the preferred version wins over newer ones. */
	if (!b->name[0] || (preferred && !b->preferred) ||
	    (preferred == b->preferred && strverscmp(name, b->name) > 0)) {
		snprintf(b->name, sizeof(b->name), "%s", name);
		b->preferred = preferred;
	}
	return 0;
}

/* Resolves a path with glob components inside a writer. Returns 0 with the
 * concrete path, -ENOENT when nothing matches. */
static int resolve_glob(struct mv_fs *fs, const char *pattern, const char *prefer, char *out, size_t len)
{
	char work[PATH_BYTES];
	snprintf(work, sizeof(work), "%s", pattern);
	size_t used = 0;
	out[0] = '\0';
	char *save = NULL;
	for (char *c = strtok_r(work, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		const char *name = c;
		struct best b = {.pattern = c, .prefer = prefer};
		if (strpbrk(c, "*?[")) {
			int rc = mv_fs_readdir(fs, used ? out : "/", pick, &b);
			if (rc < 0)
				return rc;
			if (!b.name[0])
				return -ENOENT;
			name = b.name;
		}
		int n = snprintf(out + used, len - used, "/%s", name);
		if (n < 0 || (size_t)n >= len - used)
			return -ENAMETOOLONG;
		used += (size_t)n;
	}
	struct mv_stat st;
	return mv_fs_stat(fs, used ? out : "/", MV_FS_FOLLOW, &st);
}

static struct mv_meta file_meta(const struct mv_plan *plan, uint32_t mode)
{
	int64_t t = plan->opt.timestamp;
	return (struct mv_meta){.mode = mode, .mtime = t, .atime = t, .ctime = t};
}

/* A source as a tree to read from: the root writer, or a host directory
 * (opened here, closed by the caller through *opened). */
static struct mv_fs *open_source_tree(struct mv_boot_env *env, const char *from, const char *prefer,
				      char *path, size_t len, struct mv_fs **opened, char *err, size_t errlen)
{
	*opened = NULL;
	if (strncmp(from, "root:", 5) == 0) {
		struct mv_fs *root = env->writer(env->ctx, "root");
		if (!root) {
			fail(err, errlen, "%s: the target has no root filesystem to read from", from);
			return NULL;
		}
		int rc = resolve_glob(root, from + 5, prefer, path, len);
		if (rc < 0) {
			fail(err, errlen, "%s: %s", from, rc == -ENOENT ? "nothing in the userland matches" : root->err);
			return NULL;
		}
		return root;
	}
	/* A local file or directory (the plan resolved it), or host:/path. */
	const char *local = env->source_path(env->ctx, from);
	if (!local) {
		fail(err, errlen, "%s: not among the plan's sources", from);
		return NULL;
	}
	struct mv_dir_options o = {0};
	*opened = mv_dir_open("/", &o, err, errlen);
	if (!*opened)
		return NULL;
	/* The plan gives a profile-relative source relative to the working
	 * directory ("profiles/../obj/..."), but this tree's root is "/": make
	 * it absolute, or a directory source (Firmware=, DeviceTree=) is
	 * looked up under "/" and never found. */
	char *real = local[0] != '/' ? realpath(local, NULL) : NULL;
	snprintf(path, len, "%s", real ? real : local);
	free(real);
	return *opened;
}

static int is_archive(struct mv_fs *fs, const char *path)
{
	struct mv_stat st;
	return mv_fs_stat(fs, path, MV_FS_FOLLOW, &st) == 0 && S_ISREG(st.mode);
}

/* A member of an archive source: the entry whose path is member, or ends
 * in "/boot/member" or "/member" (the firmware's tarball has a top
 * directory and keeps its files under boot/). */
static int copy_from_archive(const char *archive, const char *member, struct mv_fs *dst, const char *to,
			     const struct mv_meta *m, char *err, size_t errlen)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_zstd(a);
	int rc = -1;
	if (archive_read_open_filename(a, archive, 1 << 20) != ARCHIVE_OK) {
		fail(err, errlen, "%s: %s", archive, archive_error_string(a));
		goto out;
	}
	char want_boot[PATH_BYTES], want_any[PATH_BYTES];
	snprintf(want_boot, sizeof(want_boot), "/boot/%s", member);
	snprintf(want_any, sizeof(want_any), "/%s", member);
	struct archive_entry *e;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		size_t n = strlen(name), lb = strlen(want_boot), la = strlen(want_any);
		int hit = strcmp(name, member) == 0 || (n > lb && strcmp(name + n - lb, want_boot) == 0) ||
			  (n > la && strcmp(name + n - la, want_any) == 0 && !strstr(name, "/boot/"));
		if (!hit || !S_ISREG(archive_entry_mode(e)))
			continue;
		struct mv_file *f;
		if (mv_fs_mkparents(dst, to, m->mtime) < 0 || mv_fs_create(dst, to, m, &f) < 0) {
			fail(err, errlen, "%s", dst->err);
			goto out;
		}
		const void *buf;
		size_t size;
		la_int64_t off;
		uint64_t end = 0;
		int r, wrc = 0;
		while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK && wrc == 0) {
			wrc = dst->ops->write(f, (uint64_t)off, buf, size);
			end = (uint64_t)off + size;
		}
		int crc = dst->ops->close(f, (uint64_t)archive_entry_size(e) > end ? (uint64_t)archive_entry_size(e) : end);
		if (r != ARCHIVE_EOF || wrc < 0 || crc < 0) {
			fail(err, errlen, "%s (%s): %s", archive, name, r != ARCHIVE_EOF ? archive_error_string(a) : dst->err);
			goto out;
		}
		rc = 0;
		goto out;
	}
	rc = -ENOENT;
out:
	archive_read_free(a);
	return rc;
}

static int append_file(struct mv_fs *fs, const struct mv_plan *plan, const char *path, const char *text,
		       char *err, size_t errlen)
{
	struct mv_meta m = file_meta(plan, S_IFREG | 0644);
	return mv_fs_append_file(fs, path, &m, text) < 0 ? fail(err, errlen, "%s", fs->err) : 0;
}

/* The kernel is installed first: its version names the entry, its
 * payload directory, and which initrd and device trees go with it. */
static int is_kernel(const struct mv_boot_file *bf)
{
	return bf->from && (strstr(bf->path, "/VERSION/linux") || strcmp(bf->path, "/kernel8.img") == 0);
}

static int install_one(struct mv_boot_env *env, const struct mv_boot_file *bf, const char *path,
		       const char *content, char *err, size_t errlen);

/* Generated text: written whole, or appended to what the userland has. */
static int install_text(struct mv_boot_env *env, struct mv_fs *dst, const struct mv_boot_file *bf, const char *path,
			const char *content, char *err, size_t errlen)
{
	const struct mv_plan *plan = env->plan;
	char *gained = NULL;
	if (bf->gain_if) {
		struct mv_fs *root = env->writer(env->ctx, "root");
		struct mv_stat st;
		if (root && mv_fs_stat(root, bf->gain_if, MV_FS_FOLLOW, &st) == 0) {
			size_t len = strlen(content);
			int nl = len && content[len - 1] == '\n';
			if (asprintf(&gained, "%.*s%s%s", (int)(len - nl), content, bf->gain_text, nl ? "\n" : "") < 0)
				return fail(err, errlen, "out of memory");
			content = gained;
		}
	}
	int rc;
	if (bf->flags & MV_BOOT_APPEND) {
		rc = append_file(dst, plan, path, content, err, errlen);
	} else {
		struct mv_meta m = file_meta(plan, S_IFREG | 0644);
		rc = mv_fs_mkparents(dst, path, plan->opt.timestamp) < 0 ||
		     mv_fs_write_file(dst, path, &m, content, strlen(content)) < 0
			? fail(err, errlen, "%s", dst->err) : 0;
	}
	free(gained);
	return rc;
}

/* A file (or directory, or member) from a source. */
static int install_copy(struct mv_boot_env *env, struct mv_fs *dst, const struct mv_boot_file *bf, const char *path,
			char *err, size_t errlen)
{
	const struct mv_plan *plan = env->plan;
	char src_path[PATH_BYTES], why[1024] = "";
	struct mv_fs *opened = NULL;
	int kernel = is_kernel(bf);
	const char *prefer = kernel ? NULL : env->version;
	struct mv_fs *src = NULL;
	int rc = -ENOENT;
	if (bf->flags & MV_BOOT_SIGNED) {
		/* bootctl prefers a signed loader beside the plain one. */
		char signed_from[PATH_BYTES];
		snprintf(signed_from, sizeof(signed_from), "%s.signed", bf->from);
		src = open_source_tree(env, signed_from, prefer, src_path, sizeof(src_path), &opened, why, sizeof(why));
	}
	if (!src)
		src = open_source_tree(env, bf->from, prefer, src_path, sizeof(src_path), &opened, why, sizeof(why));
	if (!src)
		return (bf->flags & MV_BOOT_OPTIONAL) ? 0 : fail(err, errlen, "%s:%s: %s", bf->partition, path, why);

	if (kernel && !env->version[0]) {
		/* The kernel's version: what the '*' matched, as kernel-install
		 * names versions; without a glob, the file's name after "vmlinuz-". */
		const char *base = strrchr(src_path, '/') ? strrchr(src_path, '/') + 1 : src_path;
		const char *pat = strrchr(bf->from, '/') ? strrchr(bf->from, '/') + 1 : bf->from;
		if (strchr(pat, '*'))
			star_part(pat, base, env->version, sizeof(env->version));
		else
			snprintf(env->version, sizeof(env->version), "%.200s",
				 strncmp(base, "vmlinuz-", 8) == 0 ? base + 8 : base);
		mv_fs_destroy(opened);
		/* The kernel's own path has VERSION in it: resolve it now. */
		char *real = with_version(bf->path, env->version);
		if (!real)
			return fail(err, errlen, "out of memory");
		rc = install_one(env, bf, real, NULL, err, errlen);
		free(real);
		return rc;
	}

	struct mv_copy_options o = {.mode = -1, .uid = 0, .gid = 0, .mtime = -1};
	struct mv_meta m = file_meta(plan, S_IFREG | 0644);
	if (bf->member) {
		char member_path[PATH_BYTES + 256];
		if (is_archive(src, src_path)) {
			rc = copy_from_archive(src_path, bf->member, dst, path, &m, why, sizeof(why));
		} else {
			/* As in an archive: the member at the top, or under boot/
			 * (a checkout of raspberrypi/firmware), or where Debian's
			 * raspi-firmware keeps it (its .deb extracted with dpkg-deb -x). */
			static const char *const under[] = {"", "boot/", "usr/lib/raspi-firmware/"};
			struct mv_stat st;
			for (size_t u = 0; u < sizeof(under) / sizeof(under[0]); u++) {
				snprintf(member_path, sizeof(member_path), "%s/%s%.200s", src_path, under[u], bf->member);
				if ((rc = mv_fs_stat(src, member_path, MV_FS_FOLLOW, &st)) != -ENOENT)
					break;
			}
			if (rc == 0 && (rc = mv_fs_mkparents(dst, path, plan->opt.timestamp)) == 0)
				rc = mv_copy(src, member_path, dst, path, &o);
			if (rc < 0 && rc != -ENOENT)
				snprintf(why, sizeof(why), "%s", dst->err[0] ? dst->err : src->err);
		}
	} else if ((rc = mv_fs_mkparents(dst, path, plan->opt.timestamp)) == 0) {
		rc = mv_copy(src, src_path, dst, path, &o);
		if (rc < 0)
			snprintf(why, sizeof(why), "%s", dst->err);
	}
	mv_fs_destroy(opened);
	if (rc == -ENOENT && (bf->flags & MV_BOOT_OPTIONAL))
		return 0;
	if (rc < 0)
		return fail(err, errlen, "%s:%s from %s%s%s: %s", bf->partition, path, bf->from,
			    bf->member ? " " : "", bf->member ? bf->member : "",
			    rc == -ENOENT && !why[0] ? "not found" : why);
	return 0;
}


static int install_one(struct mv_boot_env *env, const struct mv_boot_file *bf, const char *path,
		       const char *content, char *err, size_t errlen)
{
	struct mv_fs *dst = env->writer(env->ctx, bf->partition);
	if (!dst)
		return fail(err, errlen, "%s:%s: partition %s has no filesystem", bf->partition, path, bf->partition);
	return content ? install_text(env, dst, bf, path, content, err, errlen)
		       : install_copy(env, dst, bf, path, err, errlen);
}

/* Raw boot code (FreeBSD's gptboot and pmbr), as gpart bootcode writes it:
 * -p into its partition from the first byte, -b into the MBR up to the
 * partition table. */
static int install_raw(struct mv_boot_env *env, const struct mv_boot_file *bf, char *err, size_t errlen)
{
	char src_path[PATH_BYTES], why[1024] = "";
	struct mv_fs *opened = NULL;
	struct mv_fs *src = open_source_tree(env, bf->from, NULL, src_path, sizeof(src_path), &opened, why, sizeof(why));
	if (!src)
		return fail(err, errlen, "%s: %s", bf->from, why);
	char *data = NULL;
	size_t len = 0;
	int rc = mv_fs_read_file(src, src_path, &data, &len);
	if (rc < 0 || !data)
		fail(err, errlen, "%s: %s", bf->from, rc < 0 ? src->err : "not found");
	mv_fs_destroy(opened);
	if (rc < 0 || !data)
		return -1;
	rc = 0;
	if (strcmp(bf->partition, "mbr") == 0) {
		if (len > 512)
			rc = fail(err, errlen, "%s is %zu bytes: MBR boot code is one 512-byte sector", bf->from, len);
		env->mbr_len = len < sizeof(env->mbr_code) ? len : sizeof(env->mbr_code);
		memcpy(env->mbr_code, data, env->mbr_len);
	} else {
		const struct mv_plan_partition *pp = NULL;
		for (size_t i = 0; i < env->plan->parts.n; i++)
			if (strcmp(env->plan->parts.v[i].src->name, bf->partition) == 0)
				pp = &env->plan->parts.v[i];
		static const char zeros[65536];
		if (!pp)
			rc = fail(err, errlen, "%s: no partition %s", bf->from, bf->partition);
		else if (len > pp->size)
			rc = fail(err, errlen, "%s (%zu bytes) does not fit partition %s (%llu bytes)", bf->from, len,
				  bf->partition, (unsigned long long)pp->size);
		for (uint64_t off = 0; rc == 0 && off < pp->size;) {
			size_t n = off < len ? len - (size_t)off : (size_t)(pp->size - off < sizeof(zeros) ? pp->size - off : sizeof(zeros));
			if (pwrite(env->fd, off < len ? data + off : zeros, n, (off_t)(pp->start + off)) != (ssize_t)n)
				rc = fail(err, errlen, "%s: writing partition %s: %s", bf->from, bf->partition, strerror(errno));
			off += n;
		}
	}
	free(data);
	return rc;
}

int mv_boot_install(struct mv_boot_env *env, char *err, size_t errlen)
{
	const struct mv_plan *plan = env->plan;
	/* The kernel first: its version names the entry and its payload. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < plan->boot_files.n; i++) {
			const struct mv_boot_file *bf = &plan->boot_files.v[i];
			if (is_kernel(bf) != (pass == 0) || (bf->flags & MV_BOOT_RAW))
				continue;
			char *path = with_version(bf->path, env->version);
			char *content = with_version(bf->content, env->version);
			int rc = path ? install_one(env, bf, path, content, err, errlen) : fail(err, errlen, "out of memory");
			free(path);
			free(content);
			if (rc < 0)
				return -1;
		}
	for (size_t i = 0; i < plan->boot_files.n; i++)
		if ((plan->boot_files.v[i].flags & MV_BOOT_RAW) && install_raw(env, &plan->boot_files.v[i], err, errlen) < 0)
			return -1;
	return 0;
}

int mv_boot_install_mbr(struct mv_boot_env *env, char *err, size_t errlen)
{
	if (env->mbr_len && pwrite(env->fd, env->mbr_code, env->mbr_len, 0) != (ssize_t)env->mbr_len)
		return fail(err, errlen, "writing the MBR's boot code: %s", strerror(errno));
	return 0;
}
