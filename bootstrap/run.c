#include "run.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../images/copy.h"
#include "../images/dir.h"
#include "../images/format.h"
#include "../partition/table.h"
#include "boot_install.h"
#include "customise.h"
#include "handoff.h"
#include "nix.h"
#include "prefix.h"
#include "unpack.h"

/* ext4 inodes: the content's entries with a quarter to spare and 1024 for
 * what the system adds, never fewer than mke2fs's 16 KiB per inode. */
#define INODE_RATIO 16384

struct run {
	const struct mv_plan *plan;
	const struct mv_target *t;
	struct mv_fs **writers;     /* per partition, NULL when none */
	struct mv_fs *prefix;       /* MV_TARGET_PREFIX: the directory's writer */
	char **paths;               /* per plan source: where its verified bytes are */
	uint64_t *inodes;           /* per partition, from the survey */
	struct mv_boot_env boot;    /* the MBR's boot code waits here for the table */
	char *err;
	size_t errlen;
};

static void stage(const struct run *r, enum mv_stage s, const char *what)
{
	if (r->t->progress)
		fprintf(r->t->progress, "microvisor: [%d/%d] %s: %s\n", (int)s + 1, MV_STAGE_COUNT, mv_stage_name(s), what);
}

static int is_auto(const struct mv_plan_partition *pp)
{
	return pp->src->size.kind == MV_SIZE_AUTO;
}

/* The partition called name; -1 for none (also when name is NULL: a disk
 * without a root partition has no "root:"). */
static int part_index(const struct mv_plan *plan, const char *name)
{
	for (size_t i = 0; name && i < plan->parts.n; i++)
		if (strcmp(plan->parts.v[i].src->name, name) == 0)
			return (int)i;
	return -1;
}

int mv_run_supported(const struct mv_plan *plan, char *err, size_t errlen)
{
	const struct mv_profile *p = plan->profile;
	int prefix = plan->opt.target == MV_TARGET_PREFIX;
	if (p->nix_tarball.location.v && !plan->multi_user && !prefix) {
		snprintf(err, errlen, "single-user Nix ([Nix] MultiUser=no) on a disk or image is not available yet (a prefix has it)");
		return -1;
	}
	/* Mode=chroot runs after the disk is complete: `install` carries it
	 * out (bootstrap/chroot.h), only there (the plan refuses it for
	 * images). Mode=exec is the bootstrap command's, once the prefix is
	 * in place. */
	if ((strcmp(plan->handoff_mode, "exec") == 0 && !prefix) ||
	    (strcmp(plan->handoff_mode, "chroot") == 0 && plan->opt.target != MV_TARGET_DISK)) {
		snprintf(err, errlen, "the handoff ([Handoff] Mode=%s) is not available yet", plan->handoff_mode);
		return -1;
	}
	if (mv_handoff_check(plan, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < plan->parts.n; i++) {
		const struct mv_plan_partition *pp = &plan->parts.v[i];
		for (size_t j = 0; is_auto(pp) && j < plan->boot_files.n; j++)
			if (strcmp(plan->boot_files.v[j].partition, pp->src->name) == 0) {
				snprintf(err, errlen, "partition %s: Size=auto cannot size the boot loader's files (kernels are known only once the root is unpacked): give it a size",
					 pp->src->name);
				return -1;
			}
	}
	return 0;
}

static int fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Every source, before anything is written: remote bytes come from the
 * cache only after their SHA-256 matched (downloaded first if need be),
 * local files are checked against their pins. paths[i] is where source i's
 * verified bytes are. */
static int resolve_sources(const struct mv_plan *plan, const struct mv_fetch_options *fo, char **paths,
			   char *err, size_t errlen)
{
	struct mv_fetch_options defaults = {.quiet = 1};
	for (size_t i = 0; i < plan->sources.n; i++) {
		const struct mv_plan_source *s = &plan->sources.v[i];
		char path[4096];
		if (s->kind == MV_SRC_HOST)
			snprintf(path, sizeof(path), "%s", s->path);
		else if (mv_source_get(fo ? fo : &defaults, s, path, sizeof(path), err, errlen) < 0)
			return -1;
		if (!(paths[i] = strdup(path))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

static void free_paths(const struct mv_plan *plan, char **paths)
{
	for (size_t i = 0; paths && i < plan->sources.n; i++)
		free(paths[i]);
	free(paths);
}

static int sources(struct run *r)
{
	return resolve_sources(r->plan, r->t->fetch, r->paths, r->err, r->errlen);
}

static const char *source_path(void *ctx, const char *location)
{
	struct run *r = ctx;
	for (size_t i = 0; i < r->plan->sources.n; i++)
		if (strcmp(r->plan->sources.v[i].location, location) == 0)
			return r->paths[i];
	return NULL;
}

struct content {
	uint64_t entries;
	uint64_t bytes;
};

/* Entries and file bytes under a host path (a [Files] source). */
static int count_host(int at, const char *name, struct content *c, int depth)
{
	struct stat st;
	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	c->entries++;
	if (S_ISREG(st.st_mode))
		c->bytes += (uint64_t)st.st_size;
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (depth > 256) {
		errno = ELOOP;
		return -1;
	}
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dp = fd < 0 ? NULL : fdopendir(fd);
	if (!dp) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(dp)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			rc = count_host(dirfd(dp), e->d_name, c, depth + 1);
	closedir(dp);
	return rc;
}

/* What each partition receives from the userland's archives (a header-only
 * pass) and from [Files]: entries and bytes of file data. */
static int measure(const struct mv_plan *plan, char **paths, struct content *c, char *err, size_t errlen)
{
	int into = part_index(plan, plan->userland_into);
	for (size_t i = 0; i < plan->sources.n; i++) {
		const struct mv_plan_source *s = &plan->sources.v[i];
		/* The Nix tarball lands in the root too: counting its scripts
		 * as well only adds a few spare inodes. */
		if ((strcmp(s->role, "userland") != 0 && strncmp(s->role, "nix", 3) != 0) || into < 0)
			continue;
		struct mv_unpack_stats st;
		char why[512];
		struct stat hs;
		if (stat(paths[i], &hs) == 0 && S_ISDIR(hs.st_mode)) { /* a closure directory */
			if (count_host(AT_FDCWD, paths[i], &c[into], 0) != 0) {
				snprintf(err, errlen, "survey: %s: %s", s->location, strerror(errno));
				return -1;
			}
			continue;
		}
		if (mv_unpack_survey(paths[i], s->strip, &st, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "survey: %s", why);
			return -1;
		}
		c[into].entries += st.entries;
		c[into].bytes += st.data_bytes;
	}
	const struct mv_profile *p = plan->profile;
	for (size_t i = 0; i < p->copies.n; i++) {
		const struct mv_copy *cp = &p->copies.v[i];
		int at = part_index(plan, strcmp(cp->dest_part, "root") == 0 ? plan->userland_into : cp->dest_part);
		if (at < 0)
			continue;
		char src[4096];
		snprintf(src, sizeof(src), "%s%s%s", cp->source[0] == '/' ? "" : cp->base_dir,
			 cp->source[0] == '/' ? "" : "/", cp->source);
		if (count_host(AT_FDCWD, src, &c[at], 0) != 0) {
			snprintf(err, errlen, "Copy= at %s:%d: %s: %s", cp->at.file, cp->at.line, src, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static uint64_t inodes_for(const struct content *c, uint64_t size)
{
	uint64_t content = c->entries + c->entries / 4 + 1024;
	uint64_t by_ratio = size / INODE_RATIO;
	return content > by_ratio ? content : by_ratio;
}

static int survey(struct run *r)
{
	const struct mv_plan *plan = r->plan;
	struct content *c = calloc(plan->parts.n + 1, sizeof(*c));
	if (!c)
		return fail(r, "out of memory");
	int rc = measure(plan, r->paths, c, r->err, r->errlen);
	for (size_t i = 0; rc == 0 && i < plan->parts.n; i++)
		if (plan->parts.v[i].fs == MV_FS_EXT4)
			r->inodes[i] = inodes_for(&c[i], plan->parts.v[i].size);
	free(c);
	return rc;
}

int mv_run_settle(struct mv_plan *plan, const struct mv_fetch_options *fo, struct mv_report *rep,
		  char *err, size_t errlen)
{
	int any = 0;
	for (size_t i = 0; i < plan->parts.n; i++)
		any |= is_auto(&plan->parts.v[i]);
	if (!any)
		return 0;
	char **paths = calloc(plan->sources.n + 1, sizeof(*paths));
	struct content *c = calloc(plan->parts.n + 1, sizeof(*c));
	uint64_t *sizes = calloc(plan->parts.n + 1, sizeof(*sizes));
	int rc = -1;
	if (!paths || !c || !sizes) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (resolve_sources(plan, fo, paths, err, errlen) < 0 || measure(plan, paths, c, err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < plan->parts.n; i++) {
		const struct mv_plan_partition *pp = &plan->parts.v[i];
		if (!is_auto(pp))
			continue;
		/* MV_AUTO_SIZE_RULE: data, 4 KiB per entry, the filesystem's
		 * own metadata (ext4: a journal of up to 64 MiB and 256 bytes
		 * per inode; FAT: two tables), 10% to spare, at least 64 MiB. */
		uint64_t base = c[i].bytes + c[i].entries * 4096;
		uint64_t meta = pp->fs == MV_FS_EXT4 ? (UINT64_C(64) << 20) + inodes_for(&c[i], base) * 256
			      : pp->fs == MV_FS_VFAT ? base / 512 * 4 * 2 : 0;
		uint64_t size = (base + meta) + (base + meta) / 10;
		sizes[i] = size < (UINT64_C(64) << 20) ? UINT64_C(64) << 20 : size;
	}
	rc = mv_plan_settle(plan, sizes, rep);
	if (rc < 0)
		snprintf(err, errlen, "the partitions, with the automatic sizes the survey found, do not fit");
out:
	free_paths(plan, paths);
	free(c);
	free(sizes);
	return rc;
}

static int wipe(struct run *r)
{
	if (!r->t->wipe)
		return 0;
	stage(r, MV_STAGE_WIPE, r->t->name);
	return r->t->wipe(r->t, r->plan, r->err, r->errlen);
}

static int filesystems(struct run *r)
{
	const struct mv_plan *plan = r->plan;
	for (size_t i = 0; i < plan->parts.n; i++) {
		const struct mv_plan_partition *pp = &plan->parts.v[i];
		if (pp->fs == MV_FS_NONE)
			continue;
		struct mv_io io = {.fd = r->t->fd, .offset = pp->start, .length = pp->size,
				   .sector_size = plan->sector_size, .fresh = r->t->fresh};
		struct mv_format_args a = {.label = pp->src->label.v, .inode_count = r->inodes[i],
					   .timestamp = plan->opt.timestamp};
		if (pp->fs == MV_FS_VFAT) {
			a.volume_id = (uint32_t)strtoul(pp->fs_id, NULL, 16) << 16 |
				      (uint32_t)strtoul(pp->fs_id + 5, NULL, 16);
		} else if (mv_uuid_parse(pp->fs_id, a.uuid) < 0) {
			return fail(r, "partition %s: bad filesystem UUID %s", pp->src->name, pp->fs_id);
		}
		char purpose[160];
		uint8_t id[32];
		snprintf(purpose, sizeof(purpose), "fs-hash-seed:%s", pp->src->name);
		mv_seed_id(&plan->seed, purpose, id);
		memcpy(a.hash_seed, id, sizeof(a.hash_seed));
		stage(r, MV_STAGE_FILESYSTEMS, pp->src->name);
		char why[512];
		if (mv_format(pp->fs, &io, &a, &r->writers[i], why, sizeof(why)) < 0)
			return fail(r, "partition %s: %s", pp->src->name, why);
	}
	return 0;
}

static struct mv_fs *writer_of(struct run *r, const char *part)
{
	if (r->prefix)
		return r->prefix; /* a prefix has no partitions: everything is "root" */
	int at = part_index(r->plan, strcmp(part, "root") == 0 ? r->plan->userland_into : part);
	return at < 0 ? NULL : r->writers[at];
}

static int userland(struct run *r)
{
	const struct mv_plan *plan = r->plan;
	for (size_t i = 0; i < plan->sources.n; i++) {
		const struct mv_plan_source *s = &plan->sources.v[i];
		if (strcmp(s->role, "userland") != 0)
			continue;
		struct mv_fs *fs = writer_of(r, plan->userland_into);
		int at = part_index(plan, plan->userland_into);
		if (!fs)
			return fail(r, "userland: partition %s has no filesystem to unpack into", plan->userland_into);
		stage(r, MV_STAGE_USERLAND, s->location);
		struct mv_unpack_options o = {.strip = s->strip, .capacity = at >= 0 ? plan->parts.v[at].size : 0,
					      .parent_mtime = plan->opt.timestamp};
		char why[1024];
		if (mv_unpack_file(fs, r->paths[i], &o, NULL, why, sizeof(why)) < 0)
			return fail(r, "userland into %s: %s", plan->userland_into, why);
	}
	return 0;
}

static int nix(struct run *r)
{
	const struct mv_plan *plan = r->plan;
	for (size_t i = 0; i < plan->sources.n; i++) {
		int closure = strcmp(plan->sources.v[i].role, "nix-closure") == 0;
		if (strcmp(plan->sources.v[i].role, "nix") != 0 && !closure)
			continue;
		struct mv_fs *fs = writer_of(r, "root");
		if (!fs)
			return fail(r, "nix: the root has no filesystem to seed Nix into");
		stage(r, MV_STAGE_NIX, plan->sources.v[i].location);
		struct mv_nix_env env = {.plan = plan, .root = fs, .tarball = r->paths[i]};
		char why[1024];
		if (closure ? mv_nix_seed_closure(&env, r->paths[i], plan->sources.v[i].location, why, sizeof(why)) < 0
			    : mv_nix_seed(&env, why, sizeof(why)) < 0)
			return fail(r, "nix: %s", why);
	}
	return 0;
}

static int customise(struct run *r)
{
	if (!r->plan->profile->custom.any)
		return 0;
	struct mv_fs *fs = writer_of(r, "root");
	if (!fs)
		return fail(r, "customise: the root has no filesystem to customise");
	stage(r, MV_STAGE_CUSTOMISE, r->plan->profile->custom.hostname.v ? r->plan->profile->custom.hostname.v : "the machine's settings");
	char why[1024];
	if (mv_customise_apply(r->plan, fs, why, sizeof(why)) < 0)
		return fail(r, "customise: %s", why);
	return 0;
}

static struct mv_fs *boot_writer(void *ctx, const char *partition)
{
	return writer_of(ctx, partition);
}

static int bootloader(struct run *r)
{
	if (!r->plan->boot_files.n)
		return 0;
	stage(r, MV_STAGE_BOOTLOADER, r->plan->bootloader);
	r->boot = (struct mv_boot_env){.plan = r->plan, .writer = boot_writer, .source_path = source_path, .ctx = r,
				       .fd = r->t->fd};
	char why[1024];
	if (mv_boot_install(&r->boot, why, sizeof(why)) < 0)
		return fail(r, "boot loader %s: %s", r->plan->bootloader, why);
	return 0;
}

static int files(struct run *r)
{
	const struct mv_profile *p = r->plan->profile;
	for (size_t i = 0; i < p->copies.n; i++) {
		const struct mv_copy *c = &p->copies.v[i];
		struct mv_fs *dst = writer_of(r, c->dest_part);
		if (!dst)
			return fail(r, "Copy= at %s:%d: partition %s has no filesystem", c->at.file, c->at.line, c->dest_part);
		char src_path[4096];
		snprintf(src_path, sizeof(src_path), "%s%s%s", c->source[0] == '/' ? "" : c->base_dir,
			 c->source[0] == '/' ? "" : "/", c->source);
		char *slash = strrchr(src_path, '/');
		*slash = '\0';
		const char *dir = *src_path ? src_path : "/";
		const char *base = slash + 1;
		stage(r, MV_STAGE_FILES, c->dest_path);
		char why[512];
		struct mv_dir_options dopt = {0};
		struct mv_fs *src = mv_dir_open(dir, &dopt, why, sizeof(why));
		if (!src)
			return fail(r, "Copy= at %s:%d: %s", c->at.file, c->at.line, why);
		struct mv_copy_options o = {.mode = c->mode, .uid = c->uid >= 0 ? c->uid : 0,
					    .gid = c->gid >= 0 ? c->gid : 0, .mtime = -1};
		int rc = mv_fs_mkparents(dst, c->dest_path, r->plan->opt.timestamp);
		if (rc == 0)
			rc = mv_copy(src, base, dst, c->dest_path, &o);
		mv_fs_destroy(src);
		if (rc < 0)
			return fail(r, "Copy= at %s:%d: %s", c->at.file, c->at.line, dst->err);
	}
	return 0;
}

/* Mode=firstboot's script and hook, after [Files] so that a userland
 * file a Copy= replaced (an inittab, say) gets the hook. */
static int handoff(struct run *r)
{
	if (strcmp(r->plan->handoff_mode, "firstboot") != 0)
		return 0;
	struct mv_fs *fs = writer_of(r, "root");
	if (!fs)
		return fail(r, "handoff: the root has no filesystem for the first-boot hook");
	enum mv_init init;
	char why[1024];
	if (mv_handoff_install(r->plan, fs, &init, why, sizeof(why)) < 0)
		return fail(r, "handoff: %s", why);
	stage(r, MV_STAGE_HANDOFF, mv_init_name(init));
	return 0;
}

/* A prefix: its own files (home, resolv.conf, the launcher), then the
 * writer's finish (directory modes and times), and one line for what a
 * rootless directory could not hold. The caller renames it into place. */
static int finalize_prefix(struct run *r)
{
	char why[1024];
	stage(r, MV_STAGE_FINALIZE, "home, resolv.conf and the launcher " MV_PREFIX_LAUNCHER);
	if (mv_prefix_write(r->prefix, r->plan, why, sizeof(why)) < 0)
		return fail(r, "prefix: %s", why);
	mv_dir_skipped_line(r->prefix, why, sizeof(why));
	if (*why)
		fprintf(r->t->progress ? r->t->progress : stderr, "microvisor: %s\n", why);
	int rc = mv_fs_finish(r->prefix);
	snprintf(why, sizeof(why), "%s", r->prefix->err);
	mv_fs_destroy(r->prefix);
	r->prefix = NULL;
	return rc < 0 ? fail(r, "prefix: %s", why) : 0;
}

static int finalize(struct run *r)
{
	const struct mv_plan *plan = r->plan;
	if (r->prefix)
		return finalize_prefix(r);
	for (size_t i = 0; i < plan->parts.n; i++) {
		if (!r->writers[i])
			continue;
		int rc = mv_fs_finish(r->writers[i]);
		char why[600];
		snprintf(why, sizeof(why), "%s", r->writers[i]->err);
		mv_fs_destroy(r->writers[i]);
		r->writers[i] = NULL;
		if (rc < 0)
			return fail(r, "partition %s: %s", plan->parts.v[i].src->name, why);
	}
	stage(r, MV_STAGE_FINALIZE, "partition table");
	struct mv_table_part *parts = calloc(plan->parts.n ? plan->parts.n : 1, sizeof(*parts));
	if (!parts)
		return fail(r, "out of memory");
	for (size_t i = 0; i < plan->parts.n; i++) {
		const struct mv_plan_partition *pp = &plan->parts.v[i];
		parts[i] = (struct mv_table_part){
			.start = pp->start, .size = pp->size, .type_guid = pp->type.guid, .mbr_type = pp->type.mbr,
			.partuuid = pp->partuuid, .name = pp->src->label.v ? pp->src->label.v : pp->src->name,
			.attributes = pp->attributes, .bootable = pp->bootable,
		};
	}
	struct mv_table_spec spec = {.table = plan->table, .sector_size = plan->sector_size,
				     .disk_id = plan->disk_id, .n = plan->parts.n, .parts = parts};
	char why[512];
	int rc = mv_table_write(r->t->fd, r->t->name, &spec, why, sizeof(why));
	free(parts);
	if (rc < 0)
		return fail(r, "partition table: %s", why);
	if (mv_boot_install_mbr(&r->boot, why, sizeof(why)) < 0)
		return fail(r, "boot loader %s: %s", plan->bootloader, why);
	if (fsync(r->t->fd) < 0)
		return fail(r, "%s: %s", r->t->name, strerror(errno));
	return 0;
}

int mv_run(const struct mv_plan *plan, const struct mv_target *t, char *err, size_t errlen)
{
	struct run r = {.plan = plan, .t = t, .err = err, .errlen = errlen};
	size_t n = plan->parts.n ? plan->parts.n : 1;
	r.writers = calloc(n, sizeof(*r.writers));
	r.inodes = calloc(n, sizeof(*r.inodes));
	r.paths = calloc(plan->sources.n + 1, sizeof(*r.paths));
	int rc = -1;
	if (!r.writers || !r.inodes || !r.paths) {
		fail(&r, "out of memory");
		goto out;
	}
	if (mv_run_supported(plan, err, errlen) < 0)
		goto out;
	if (sources(&r) < 0)
		goto out;
	if (plan->opt.target == MV_TARGET_PREFIX) {
		/* Owners are the caller's: a rootless prefix cannot chown. */
		struct mv_dir_options dopt = {.keep_owners = 0};
		char why[512];
		if (!(r.prefix = mv_dir_open(t->dir, &dopt, why, sizeof(why)))) {
			fail(&r, "prefix: %s", why);
			goto out;
		}
	}
	stage(&r, MV_STAGE_SURVEY, "counting what each filesystem receives");
	if (survey(&r) < 0 || wipe(&r) < 0 || filesystems(&r) < 0 || userland(&r) < 0 || nix(&r) < 0 ||
	    customise(&r) < 0 || bootloader(&r) < 0 || files(&r) < 0 || handoff(&r) < 0 || finalize(&r) < 0)
		goto out;
	rc = 0;
out:
	for (size_t i = 0; r.writers && i < plan->parts.n; i++)
		mv_fs_destroy(r.writers[i]);
	if (r.prefix)
		mv_fs_destroy(r.prefix);
	free_paths(plan, r.paths);
	free(r.writers);
	free(r.inodes);
	return rc;
}
