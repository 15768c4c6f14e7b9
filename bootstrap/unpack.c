#include "unpack.h"
#include "bsdflags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#define BLOCK_SIZE (1 << 20)
#define MAX_XATTRS 64

static struct archive *open_archive(const char *path, char *err, size_t errlen)
{
	struct archive *a = archive_read_new();
	if (!a) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	/* Named formats and filters, not the _all variants, so the static
	 * build's --gc-sections drops what we never read. */
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_format_cpio(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_zstd(a);
	if (archive_read_open_filename(a, path, BLOCK_SIZE) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* The member's path inside the target, or NULL (with err set when the
 * member is refused; err empty when it is merely stripped away). */
static const char *target_path(const char *name, int strip, char *buf, size_t len, char *err, size_t errlen)
{
	err[0] = '\0';
	const char *p = name;
	for (int i = 0; i < strip; i++) {
		while (*p == '/')
			p++;
		const char *slash = strchr(p, '/');
		if (!slash)
			return NULL;
		p = slash + 1;
	}
	while (*p == '/')
		p++;
	/* "..", anywhere: tar's --secure default; even a harmless a/../b is
	 * refused rather than interpreted. */
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			snprintf(err, errlen, "member %.200s: contains a \"..\" component, refused", name);
			return NULL;
		}
		c += n;
		while (*c == '/')
			c++;
	}
	if (strlen(p) + 2 > len) {
		snprintf(err, errlen, "member %.200s...: name longer than %zu bytes", name, len - 2);
		return NULL;
	}
	snprintf(buf, len, "/%s", p);
	size_t l = strlen(buf);
	while (l > 1 && buf[l - 1] == '/')
		buf[--l] = '\0';
	return buf;
}

static void entry_meta(struct archive_entry *e, struct mv_meta *m, struct mv_xattr *xattrs)
{
	memset(m, 0, sizeof(*m));
	m->mode = (uint32_t)archive_entry_mode(e);
	m->uid = (uint32_t)archive_entry_uid(e);
	m->gid = (uint32_t)archive_entry_gid(e);
	m->mtime = archive_entry_mtime(e);
	m->mtime_nsec = (uint32_t)archive_entry_mtime_nsec(e);
	if (archive_entry_atime_is_set(e)) {
		m->atime = archive_entry_atime(e);
		m->atime_nsec = (uint32_t)archive_entry_atime_nsec(e);
	} else {
		m->atime = m->mtime, m->atime_nsec = m->mtime_nsec;
	}
	if (archive_entry_ctime_is_set(e)) {
		m->ctime = archive_entry_ctime(e);
		m->ctime_nsec = (uint32_t)archive_entry_ctime_nsec(e);
	} else {
		m->ctime = m->mtime, m->ctime_nsec = m->mtime_nsec;
	}
	m->rdev = (uint64_t)archive_entry_rdev(e);
	/* The names, not libarchive's numbers: those are the host's flags. */
	m->fflags = mv_bsd_fflags(archive_entry_fflags_text(e));
	size_t n = 0;
	archive_entry_xattr_reset(e);
	const char *name;
	const void *value;
	size_t size;
	while (n < MAX_XATTRS && archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
		xattrs[n++] = (struct mv_xattr){name, value, size};
	m->n_xattrs = n;
	m->xattrs = xattrs;
}

/* Bytes of data a member really carries (its sparse map, or its size). */
static uint64_t data_size(struct archive_entry *e)
{
	int n = archive_entry_sparse_reset(e);
	if (n <= 0)
		return (uint64_t)archive_entry_size(e);
	uint64_t total = 0;
	la_int64_t off, len;
	while (archive_entry_sparse_next(e, &off, &len) == ARCHIVE_OK)
		total += (uint64_t)len;
	return total;
}

static int write_data(struct mv_fs *fs, struct archive *a, struct mv_file *f, const char *member,
		      uint64_t *written, uint64_t *end, char *err, size_t errlen)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r;
	while ((r = archive_read_data_block(a, &buf, &size, &offset)) == ARCHIVE_OK) {
		if (!size)
			continue;
		int rc = fs->ops->write(f, (uint64_t)offset, buf, size);
		if (rc < 0) {
			snprintf(err, errlen, "member %.200s: %.280s", member, fs->err[0] ? fs->err : strerror(-rc));
			return -1;
		}
		*written += size;
		if ((uint64_t)offset + size > *end)
			*end = (uint64_t)offset + size;
	}
	if (r != ARCHIVE_EOF) {
		snprintf(err, errlen, "member %.200s: %s", member, archive_error_string(a));
		return -1;
	}
	return 0;
}

/* The hook's verdict on path (meta NULL: a hard link's target). */
static int rewrite(const struct mv_unpack_options *o, const char *member, char *path, size_t size,
		   struct mv_meta *meta, char *err, size_t errlen)
{
	if (!o->rewrite)
		return MV_UNPACK_WRITE;
	struct mv_unpack_entry ue = {.member = member, .path = path, .path_size = size, .meta = meta};
	err[0] = '\0';
	int v = o->rewrite(o->rewrite_ctx, &ue, err, errlen);
	if (v < 0 && !err[0])
		snprintf(err, errlen, "member %.200s: refused", member);
	return v;
}

static int extract(struct mv_fs *fs, struct archive *a, struct archive_entry *e, const char *path,
		   const struct mv_meta *mp, const struct mv_unpack_options *o, struct mv_unpack_stats *st,
		   char *err, size_t errlen)
{
	const char *member = archive_entry_pathname(e);
	struct mv_meta m = *mp;
	int rc = mv_fs_mkparents(fs, path, o->parent_mtime);
	if (rc < 0)
		goto fail;

	const char *hardlink = archive_entry_hardlink(e);
	if (hardlink) {
		char target[4096];
		if (!target_path(hardlink, o->strip, target, sizeof(target), err, errlen)) {
			if (!err[0])
				snprintf(err, errlen, "member %.200s: hard link to %.200s, which the stripping removed", member, hardlink);
			return -1;
		}
		int v = rewrite(o, hardlink, target, sizeof(target), NULL, err, errlen);
		if (v < 0)
			return -1;
		if (v == MV_UNPACK_SKIP) {
			snprintf(err, errlen, "member %.200s: hard link to %.200s, which is not unpacked", member, hardlink);
			return -1;
		}
		rc = mv_fs_link(fs, path, target);
		/* A hard link entry may carry data (pax): it replaces the content. */
		if (rc == 0 && archive_entry_size_is_set(e) && archive_entry_size(e) > 0) {
			struct mv_file *f;
			if ((rc = mv_fs_create(fs, path, &m, &f)) < 0)
				goto fail;
			uint64_t end = 0;
			if (write_data(fs, a, f, member, &st->data_bytes, &end, err, errlen) < 0) {
				fs->ops->close(f, end);
				return -1;
			}
			rc = fs->ops->close(f, (uint64_t)archive_entry_size(e));
		}
		goto done;
	}

	switch (m.mode & S_IFMT) {
	case S_IFDIR:
		rc = mv_fs_mkdir(fs, path, &m);
		break;
	case S_IFLNK:
		rc = mv_fs_symlink(fs, path, archive_entry_symlink(e), &m);
		break;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		rc = mv_fs_mknod(fs, path, &m);
		break;
	case S_IFREG: {
		uint64_t data = data_size(e);
		if (o->capacity && data > o->capacity) {
			snprintf(err, errlen, "member %.200s: carries %llu bytes of data, more than the %llu bytes the target holds",
				 member, (unsigned long long)data, (unsigned long long)o->capacity);
			return -1;
		}
		struct mv_file *f;
		if ((rc = mv_fs_create(fs, path, &m, &f)) < 0)
			break;
		uint64_t end = 0;
		if (write_data(fs, a, f, member, &st->data_bytes, &end, err, errlen) < 0) {
			fs->ops->close(f, end);
			return -1;
		}
		uint64_t size = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : end;
		rc = fs->ops->close(f, size > end ? size : end);
		break;
	}
	default:
		snprintf(err, errlen, "member %.200s: unknown file type 0%o", member, m.mode & S_IFMT);
		return -1;
	}
done:
	if (rc == 0) {
		st->entries++;
		return 0;
	}
fail:
	snprintf(err, errlen, "member %.200s: %.280s", member, fs->err[0] ? fs->err : strerror(-rc));
	return -1;
}

int mv_unpack_file(struct mv_fs *fs, const char *archive, const struct mv_unpack_options *o,
		   struct mv_unpack_stats *stats, char *err, size_t errlen)
{
	struct mv_unpack_stats local = {0};
	struct mv_unpack_stats *st = stats ? stats : &local;
	struct archive *a = open_archive(archive, err, errlen);
	if (!a)
		return -1;
	struct archive_entry *e;
	char path[4096];
	int r, rc = 0;
	char why[512];
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *member = archive_entry_pathname(e);
		if (!member) {
			snprintf(why, sizeof(why), "a member without a name");
			rc = -1;
			break;
		}
		if (!target_path(member, o->strip, path, sizeof(path), why, sizeof(why))) {
			if (why[0]) {
				rc = -1;
				break;
			}
			continue; /* stripped away */
		}
		struct mv_xattr xattrs[MAX_XATTRS];
		struct mv_meta m;
		entry_meta(e, &m, xattrs);
		int v = rewrite(o, member, path, sizeof(path), &m, why, sizeof(why));
		if (v < 0) {
			rc = -1;
			break;
		}
		if (v == MV_UNPACK_SKIP)
			continue;
		if (strcmp(path, "/") == 0 && !archive_entry_hardlink(e)) {
			/* "./" itself: the target root's metadata is the writer's */
			if (S_ISDIR(m.mode) && fs->ops->setattr(fs, fs->ops->root(fs), &m) == 0)
				continue;
			if (S_ISDIR(m.mode))
				continue;
			snprintf(why, sizeof(why), "member %.200s: names the root of the target but is no directory", member);
			rc = -1;
			break;
		}
		if (extract(fs, a, e, path, &m, o, st, why, sizeof(why)) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && r != ARCHIVE_EOF) {
		snprintf(why, sizeof(why), "after %llu members: %s (corrupt or truncated)",
			 (unsigned long long)st->entries, archive_error_string(a));
		rc = -1;
	}
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", archive, why);
	archive_read_free(a);
	return rc;
}

int mv_unpack_survey(const char *archive, int strip, struct mv_unpack_stats *stats, char *err, size_t errlen)
{
	struct archive *a = open_archive(archive, err, errlen);
	if (!a)
		return -1;
	struct archive_entry *e;
	char path[4096], why[512];
	int r;
	memset(stats, 0, sizeof(*stats));
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *member = archive_entry_pathname(e);
		if (!member || !target_path(member, strip, path, sizeof(path), why, sizeof(why)))
			continue; /* the unpack pass reports it */
		stats->entries++;
		if (S_ISREG(archive_entry_mode(e)) && !archive_entry_hardlink(e))
			stats->data_bytes += data_size(e);
	}
	int rc = 0;
	if (r != ARCHIVE_EOF) {
		snprintf(err, errlen, "%s: after %llu members: %s (corrupt or truncated)", archive,
			 (unsigned long long)stats->entries, archive_error_string(a));
		rc = -1;
	}
	archive_read_free(a);
	return rc;
}

/* One member's data into a NUL-terminated buffer of at most max bytes. */
static char *read_member(struct archive *a, struct archive_entry *e, size_t max, char *err, size_t errlen)
{
	la_int64_t size = archive_entry_size(e);
	const char *member = archive_entry_pathname(e);
	if (!S_ISREG(archive_entry_mode(e)) || size < 0 || (uint64_t)size > max) {
		snprintf(err, errlen, "member %.200s: not a regular file of at most %zu bytes", member, max);
		return NULL;
	}
	char *buf = malloc((size_t)size + 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	la_ssize_t got = archive_read_data(a, buf, (size_t)size);
	if (got != size) {
		snprintf(err, errlen, "member %.200s: %s", member, got < 0 ? archive_error_string(a) : "short read");
		free(buf);
		return NULL;
	}
	buf[size] = '\0';
	return buf;
}

int mv_unpack_read(const char *archive, int strip, const char *const *wanted, size_t n, size_t max,
		   char **out, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	struct archive *a = open_archive(archive, err, errlen);
	if (!a)
		return -1;
	struct archive_entry *e;
	char path[4096], why[512];
	size_t found = 0;
	int r, rc = 0;
	while (found < n && ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)) {
		const char *member = archive_entry_pathname(e);
		if (!member || !target_path(member, strip, path, sizeof(path), why, sizeof(why)))
			continue;
		for (size_t i = 0; i < n; i++) {
			if (out[i] || strcmp(path, wanted[i]) != 0)
				continue;
			if (!(out[i] = read_member(a, e, max, why, sizeof(why)))) {
				rc = -1;
				goto out;
			}
			found++;
		}
	}
	if (found < n && r != ARCHIVE_EOF) {
		snprintf(why, sizeof(why), "%s (corrupt or truncated)", archive_error_string(a));
		rc = -1;
	}
out:
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", archive, why);
		for (size_t i = 0; i < n; i++) {
			free(out[i]);
			out[i] = NULL;
		}
	}
	archive_read_free(a);
	return rc;
}
