#include "plan.h"
#include "nix_freebsd.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../bootloader/bootloader.h"
#include "customise.h"
#include "handoff.h"
#include "nix.h"
#include "prefix.h"
#include "seed.h"
#include "units.h"

static const char *const stage_names[MV_STAGE_COUNT] = {
	[MV_STAGE_SURVEY] = "survey",
	[MV_STAGE_WIPE] = "wipe",
	[MV_STAGE_FILESYSTEMS] = "filesystems",
	[MV_STAGE_USERLAND] = "userland",
	[MV_STAGE_NIX] = "nix",
	[MV_STAGE_CUSTOMISE] = "customise",
	[MV_STAGE_BOOTLOADER] = "bootloader",
	[MV_STAGE_FILES] = "files",
	[MV_STAGE_FINALIZE] = "finalize",
	[MV_STAGE_HANDOFF] = "handoff",
};

const char *mv_stage_name(enum mv_stage s)
{
	return stage_names[s];
}

struct builder {
	struct mv_plan *plan;
	const struct mv_profile *p;
	struct mv_report *rep;
};

static struct mv_step *step(struct builder *b, enum mv_stage stage, const char *action)
{
	struct mv_step *s = MV_PUSH(&b->plan->arena, b->plan->steps);
	s->stage = stage;
	s->action = mv_strdup(&b->plan->arena, action);
	return s;
}

static const char *dup(struct builder *b, const char *s)
{
	return mv_strdup(&b->plan->arena, s);
}

static struct mv_where top(const struct builder *b)
{
	return (struct mv_where){b->p->file, 0};
}

/* The machine's hostname: --hostname as the caller passed it, else the
 * customisation's; NULL when neither names one. */
static const char *hostname_of(const struct builder *b)
{
	return b->plan->opt.hostname ? b->plan->opt.hostname : b->p->custom.hostname.v;
}

static void choose_seed(struct builder *b)
{
	struct mv_plan *plan = b->plan;
	const char *text;
	if (plan->opt.seed) {
		text = plan->opt.seed;
		plan->seed_origin = mv_printf(&plan->arena, "--seed %s", text);
	} else if (b->p->seed.v) {
		text = b->p->seed.v;
		plan->seed_origin = mv_printf(&plan->arena, "[Disk] Seed=%s", text);
	} else {
		const char *host = hostname_of(b) ? hostname_of(b) : "";
		text = mv_printf(&plan->arena, "%s\n%s", b->p->name.v, host);
		plan->seed_origin = mv_printf(&plan->arena, "Name=%s and %s%s", b->p->name.v,
					      *host ? "hostname " : "no hostname", host);
		/* An install: the disk's own identity too, so two machines
		 * installed from one profile share no UUID. */
		if (plan->opt.target == MV_TARGET_DISK && plan->opt.disk_identity) {
			text = mv_printf(&plan->arena, "%s\n%s", text, plan->opt.disk_identity);
			plan->seed_origin = mv_printf(&plan->arena, "%s and disk %s", plan->seed_origin,
						      plan->opt.disk_identity);
		}
	}
	mv_seed_from_text(&b->plan->seed, text);
	mv_seed_hex(&b->plan->seed, plan->seed_hex);
}

static int check_label(struct builder *b, const struct mv_partition *part, enum mv_fs_kind fs)
{
	const char *l = part->label.v;
	if (!l)
		return 0;
	size_t len = strlen(l);
	size_t max = b->plan->table == MV_TABLE_GPT ? 36 : 0; /* GPT names: 36 UTF-16 units */
	if (fs == MV_FS_VFAT && (!max || max > 11))
		max = 11;
	else if (fs == MV_FS_EXT4 && (!max || max > 16))
		max = 16;
	if (max && len > max) {
		mv_error(b->rep, part->label.at, "Label=%s: at most %zu characters here (%s%s)", l, max,
			 fs == MV_FS_VFAT ? "a FAT volume label" : fs == MV_FS_EXT4 ? "an ext4 label" : "a GPT partition name",
			 b->plan->table == MV_TABLE_GPT && max < 36 ? ", also the GPT name" : "");
		return -1;
	}
	for (const char *c = l; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || (fs == MV_FS_VFAT && strchr("\"*+,./:;<=>?[\\]|", *c))) {
			mv_error(b->rep, part->label.at, "Label=%s: character '%c' is not allowed in a %s label", l, *c,
				 mv_fs_name(fs));
			return -1;
		}
	return 0;
}

static void resolve_partitions(struct builder *b)
{
	struct mv_plan *plan = b->plan;
	const struct mv_profile *p = b->p;
	char err[512];

	for (size_t i = 0; i < p->partitions.n; i++) {
		const struct mv_partition *part = &p->partitions.v[i];
		struct mv_plan_partition *pp = MV_PUSH(&plan->arena, plan->parts);
		pp->src = part;
		pp->number = (unsigned)i + 1;
		if (!part->type.v)
			continue;
		if (mv_ptype_resolve(part->type.v, plan->table, p->arch, &pp->type, err, sizeof(err)) < 0) {
			mv_error(b->rep, part->type.at, "Type=%s: %s", part->type.v, err);
			continue;
		}
		pp->fs = pp->type.default_fs;
		if (part->format.v && mv_fs_parse(part->format.v, &pp->fs) < 0)
			mv_error(b->rep, part->format.at, "Format=%s: expected vfat, ext4, swap, ufs or none", part->format.v);
		check_label(b, part, pp->fs);

		pp->grow_fs = part->grow_fs.v == 1;
		if (pp->grow_fs && plan->table == MV_TABLE_MBR && pp->type.role != MV_ROLE_ROOT)
			mv_error(b->rep, part->grow_fs.at, "GrowFileSystem=yes: on MBR only the root partition (Type=linux) grows on first boot");
		else if (pp->grow_fs && plan->table == MV_TABLE_MBR)
			/* GPT has the flag systemd-repart reads; MBR has none, and
			 * each userland grows its root its own way (Raspberry Pi OS's
			 * firstboot init, cloud-init's growpart). */
			*MV_PUSH(&plan->arena, plan->warnings) = mv_printf(&plan->arena,
				"partition %s: GrowFileSystem=yes on MBR: MBR has no grow flag, so the userland grows the root: "
				"Raspberry Pi OS's firstboot (named on cmdline.txt by the raspberrypi loader when present), "
				"cloud-init's growpart, or nothing",
				part->name);
		if (pp->grow_fs && plan->table == MV_TABLE_GPT) {
			if (!pp->type.growfs_allowed)
				mv_error(b->rep, part->grow_fs.at, "GrowFileSystem=yes: the Discoverable Partitions Specification defines the grow flag only for root, usr, home, srv, var, tmp and xbootldr, not for %s",
					 part->type.v);
			else
				pp->attributes |= MV_GPT_ATTR_GROWFS;
		}
		if (part->bootable.v == 1 && plan->table != MV_TABLE_MBR)
			mv_error(b->rep, part->bootable.at, "Bootable=yes: the active flag exists only in MBR tables");
		pp->bootable = part->bootable.v == 1;
	}
}

static void layout(struct builder *b)
{
	struct mv_plan *plan = b->plan;
	const struct mv_profile *p = b->p;
	struct mv_layout l = {
		.table = plan->table,
		.sector_size = plan->sector_size,
		.align = MV_DEFAULT_ALIGN,
		.n = plan->parts.n,
		.parts = mv_alloc(&plan->arena, (plan->parts.n + 1) * sizeof(struct mv_layout_part)),
	};
	struct mv_where at = top(b);
	if (plan->opt.target == MV_TARGET_DISK) {
		l.disk_size = plan->opt.device_size;
	} else if (plan->opt.size) {
		l.disk_size = plan->opt.size;
		at = (struct mv_where){NULL, 0};
	} else if (p->disk_size.kind == MV_SIZE_BYTES) {
		l.disk_size = p->disk_size.bytes;
		at = p->disk_size.at;
	}
	for (size_t i = 0; i < plan->parts.n; i++) {
		const struct mv_partition *part = plan->parts.v[i].src;
		struct mv_layout_part *lp = &l.parts[i];
		lp->name = part->name;
		lp->kind = part->size.kind == MV_SIZE_GROW ? MV_LSIZE_GROW
			 : part->size.kind == MV_SIZE_AUTO ? MV_LSIZE_AUTO : MV_LSIZE_FIXED;
		lp->size = part->size.bytes;
		if (lp->kind == MV_LSIZE_AUTO && plan->parts.v[i].settled_size) {
			lp->kind = MV_LSIZE_FIXED; /* decided by the survey */
			lp->size = plan->parts.v[i].settled_size;
		}
	}
	char err[512];
	if (mv_layout_compute(&l, err, sizeof(err)) < 0) {
		mv_error(b->rep, at, "%s%s", plan->opt.target == MV_TARGET_DISK ? "on this disk: " : "", err);
		return;
	}
	plan->disk_size = l.disk_size;
	plan->disk_size_deferred = l.disk_size_deferred;
	for (size_t i = 0; i < plan->parts.n; i++) {
		struct mv_plan_partition *pp = &plan->parts.v[i];
		pp->start = l.parts[i].start;
		pp->size = l.parts[i].length;
		pp->start_deferred = l.parts[i].start_deferred;
		pp->size_deferred = l.parts[i].length_deferred;
	}
}

static void identities(struct builder *b)
{
	struct mv_plan *plan = b->plan;
	char purpose[160];
	uint32_t mbr_id = 0;

	if (plan->table == MV_TABLE_GPT) {
		mv_seed_uuid(&b->plan->seed, "disk-guid", plan->disk_id);
	} else if (plan->table == MV_TABLE_MBR) {
		mbr_id = mv_seed_u32(&b->plan->seed, "mbr-disk-id");
		snprintf(plan->disk_id, sizeof(plan->disk_id), "%08x", mbr_id);
	}
	for (size_t i = 0; i < plan->parts.n; i++) {
		struct mv_plan_partition *pp = &plan->parts.v[i];
		const char *name = pp->src->name;
		if (plan->table == MV_TABLE_GPT) {
			snprintf(purpose, sizeof(purpose), "partition-uuid:%s", name);
			mv_seed_uuid(&b->plan->seed, purpose, pp->partuuid);
		} else {
			/* Linux's PARTUUID for MBR: the disk signature and the number. */
			snprintf(pp->partuuid, sizeof(pp->partuuid), "%08x-%02u", mbr_id, pp->number);
		}
		if (pp->fs == MV_FS_VFAT) {
			snprintf(purpose, sizeof(purpose), "fs-volume-id:%s", name);
			uint32_t v = mv_seed_u32(&b->plan->seed, purpose);
			snprintf(pp->fs_id, sizeof(pp->fs_id), "%04X-%04X", v >> 16, v & 0xffff);
		} else if (pp->fs != MV_FS_NONE) {
			snprintf(purpose, sizeof(purpose), "fs-uuid:%s", name);
			mv_seed_uuid(&b->plan->seed, purpose, pp->fs_id);
		}
	}
}

static const struct mv_plan_partition *by_role(const struct mv_plan *plan, enum mv_role role)
{
	for (size_t i = 0; i < plan->parts.n; i++)
		if (plan->parts.v[i].type.role == role)
			return &plan->parts.v[i];
	return NULL;
}

static const struct mv_plan_partition *by_name(const struct mv_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->parts.n; i++)
		if (strcmp(plan->parts.v[i].src->name, name) == 0)
			return &plan->parts.v[i];
	return NULL;
}

static void add_source(struct builder *b, const char *role, const struct mv_source *s)
{
	if (!s->location.v)
		return;
	struct mv_plan *plan = b->plan;
	enum mv_source_kind kind = mv_source_kind(s->location.v);
	if (kind == MV_SRC_ROOT)
		return; /* comes from the userland, not fetched */
	if (kind == MV_SRC_HOST && b->p->arch != mv_build_arch()) {
		mv_error(b->rep, s->location.at, "%s: a file of this %s machine cannot serve an %s profile; name a source for %s instead",
			 s->location.v, mv_arch_name(mv_build_arch()), mv_arch_name(b->p->arch), mv_arch_name(b->p->arch));
		return;
	}
	if (kind == MV_SRC_HTTP && !s->sha256.v && !plan->opt.allow_unpinned) {
		mv_error(b->rep, s->location.at,
			 "%s: a remote source needs a SHA256= pin on the line below it (or pass --allow-unpinned to accept unverified bytes)",
			 s->location.v);
		return;
	}
	struct mv_plan_source *ps = MV_PUSH(&plan->arena, plan->sources);
	ps->role = role;
	ps->location = s->location.v;
	ps->kind = kind;
	ps->sha256 = s->sha256.v;
	ps->mirrors = s->mirrors.v;
	ps->n_mirrors = s->mirrors.n;
	if (kind == MV_SRC_LOCAL)
		ps->path = s->location.v[0] == '/' ? s->location.v
			 : mv_printf(&plan->arena, "%s/%s", s->base_dir, s->location.v);
	else if (kind == MV_SRC_FILE_URL)
		ps->path = s->location.v + 7;
	else if (kind == MV_SRC_HOST)
		ps->path = s->location.v + 5;
	ps->strip = s->strip;
}

static void collect_sources(struct builder *b)
{
	const struct mv_profile *p = b->p;
	for (size_t i = 0; i < p->userland.n; i++)
		add_source(b, "userland", &p->userland.v[i]);
	add_source(b, "nix", &p->nix_tarball);
	add_source(b, "nix-closure", &p->nix_closure);
	add_source(b, "loader", &p->loader);
	add_source(b, "kernel", &p->kernel);
	add_source(b, "initrd", &p->initrd);
	add_source(b, "firmware", &p->firmware);
	add_source(b, "devicetree", &p->devicetree);
}

/* A path named in a profile, relative to that profile's directory. */
static const char *relative_to(struct builder *b, const char *path, struct mv_where at)
{
	if (path[0] == '/' || !at.file)
		return path;
	const char *slash = strrchr(at.file, '/');
	if (!slash)
		return path;
	return mv_printf(&b->plan->arena, "%.*s/%s", (int)(slash - at.file), at.file, path);
}

static const char *target_root(const struct builder *b)
{
	return b->plan->opt.target == MV_TARGET_PREFIX ? b->plan->opt.path : "root";
}

static void stage_survey(struct builder *b)
{
	for (size_t i = 0; i < b->plan->parts.n; i++) {
		const struct mv_plan_partition *pp = &b->plan->parts.v[i];
		if (!pp->size_deferred || pp->src->size.kind != MV_SIZE_AUTO)
			continue;
		struct mv_step *s = step(b, MV_STAGE_SURVEY, "size the partition from its content");
		s->partition = pp->src->name;
		s->deferred = MV_AUTO_SIZE_RULE;
	}
}

static void stage_wipe(struct builder *b)
{
	struct mv_plan *plan = b->plan;
	if (plan->opt.target == MV_TARGET_DISK) {
		struct mv_step *s = step(b, MV_STAGE_WIPE, "wipe every old signature on the disk (including a backup GPT at its end) and in each planned partition's range");
		s->partition = plan->opt.path;
	}
}

static void stage_filesystems(struct builder *b)
{
	struct mv_plan *plan = b->plan;
	for (size_t i = 0; i < plan->parts.n; i++) {
		const struct mv_plan_partition *pp = &plan->parts.v[i];
		if (pp->fs == MV_FS_NONE)
			continue;
		const char *what;
		switch (pp->fs) {
		case MV_FS_VFAT:
			what = pp->size_deferred || pp->size >= (UINT64_C(33) << 20)
				? "create FAT32 (FAT16/12 only when fewer than 65,525 clusters fit)"
				: "create FAT (too small for FAT32's 65,525 clusters)";
			break;
		case MV_FS_EXT4: what = "create ext4 (Debian 12's mke2fs features, inode count from the content)"; break;
		case MV_FS_SWAP: what = "write a swap signature"; break;
		case MV_FS_UFS: what = "create UFS2 (newfs's 32 KiB blocks and 4 KiB fragments; no soft updates or journal)"; break;
		default: what = "create"; break;
		}
		struct mv_step *s = step(b, MV_STAGE_FILESYSTEMS, what);
		s->partition = pp->src->name;
		s->content = mv_printf(&plan->arena, "label %s, %s %s", pp->src->label.v ? pp->src->label.v : "(none)",
				       pp->fs == MV_FS_VFAT ? "volume id" : "UUID", pp->fs_id);
	}
}

static void stage_userland(struct builder *b)
{
	const struct mv_profile *p = b->p;
	for (size_t i = 0; i < p->userland.n; i++) {
		struct mv_step *s = step(b, MV_STAGE_USERLAND, "unpack the archive, streamed entry by entry (no staging directory)");
		s->partition = b->plan->userland_into;
		s->path = "/";
		s->from = p->userland.v[i].location.v;
	}
}

static void stage_nix(struct builder *b)
{
	struct mv_plan *plan = b->plan;
	const struct mv_profile *p = b->p;
	const char *root = target_root(b);
	if (!p->nix_tarball.location.v) {
		if (p->flake.v || p->nix_config.n || p->nix_closure.location.v)
			mv_error(b->rep, p->flake.v ? p->flake.at : p->nix_config.n ? p->nix_config.v[0].at : p->nix_closure.location.at,
				 "[Nix] has settings but no Tarball= to seed Nix from");
		return;
	}
	const char *store_path = "/nix/store/<nix-VERSION>";
	const char *store_rule = "the Nix store path the tarball's install script names (@nix@)";

	struct mv_step *s = step(b, MV_STAGE_NIX, "unpack store/ into /nix/store in canonical form (owner 0, files 0444/0555, directories 0555, mtime 1)");
	s->partition = root;
	s->path = "/nix/store";
	s->from = p->nix_tarball.location.v;
	if (plan->multi_user) {
		s = step(b, MV_STAGE_NIX, "set /nix/store to 1775 root:nixbld");
		s->partition = root;
		s->path = "/nix/store";
	}
	s = step(b, MV_STAGE_NIX, "keep the tarball's .reginfo for registration with nix-store --load-db before the first nix command");
	s->partition = root;
	s->path = plan->opt.target == MV_TARGET_PREFIX ? "/nix/.reginfo" : "/nix-path-registration";
	s->from = mv_printf(&plan->arena, "%s (.reginfo)", p->nix_tarball.location.v);

	const char *user = plan->multi_user ? "root" : plan->opt.user ? plan->opt.user : "USER";
	const char *profiles = mv_printf(&plan->arena, "/nix/var/nix/profiles/per-user/%s", user);
	s = step(b, MV_STAGE_NIX, "link the first generation to the Nix store path itself (nix-env's user environment cannot be built without running Nix)");
	s->partition = root;
	s->path = mv_printf(&plan->arena, "%s/profile-1-link -> %s", profiles, store_path);
	s->deferred = store_rule;
	s = step(b, MV_STAGE_NIX, "link the profile");
	s->partition = root;
	s->path = mv_printf(&plan->arena, "%s/profile -> profile-1-link", profiles);
	s = step(b, MV_STAGE_NIX, "link the default profile");
	s->partition = root;
	s->path = mv_printf(&plan->arena, "/nix/var/nix/profiles/default -> %s/profile", profiles);
	s = step(b, MV_STAGE_NIX, plan->multi_user ? "link root's profile" : "link the user's profile (the launcher's HOME)");
	s->partition = root;
	s->path = mv_printf(&plan->arena, "%s/.nix-profile -> %s/profile", plan->multi_user ? "/root" : mv_printf(&plan->arena, "/home/%s", user), profiles);

	char *conf = mv_printf(&plan->arena, "experimental-features = nix-command flakes\n%s",
			       plan->multi_user ? "build-users-group = nixbld\n" : "sandbox = false\n");
	for (size_t i = 0; i < p->nix_config.n; i++)
		conf = mv_printf(&plan->arena, "%s%s\n", conf, p->nix_config.v[i].v);
	s = step(b, MV_STAGE_NIX, "write nix.conf");
	s->partition = root;
	s->path = "/etc/nix/nix.conf";
	s->content = conf;

	if (plan->multi_user && mv_nix_freebsd(plan)) {
		s = step(b, MV_STAGE_NIX, "write the rc.d script that, on first boot, adds the nixbld group (GID 30000) and build users nixbld1..nixbld32 (UIDs 30001..30032) with pw, registers the store (nix-store --load-db), links and enables nix-daemon's rc.d script, then disables itself");
		s->partition = root;
		s->path = MV_NIX_FREEBSD_SCRIPT;
		s->deferred = store_rule;
		s = step(b, MV_STAGE_NIX, "append");
		s->partition = root;
		s->path = "/etc/rc.conf";
		s->content = "microvisor_nix_enable=\"YES\"\n";
	} else if (plan->multi_user) {
		s = step(b, MV_STAGE_NIX, "add the nixbld group (GID 30000) and build users nixbld1..nixbld32 (UIDs 30001..30032)");
		s->partition = root;
		s->path = "/etc/group, /etc/passwd, /etc/shadow";
		s = step(b, MV_STAGE_NIX, "if the Nix store path has systemd units: enable nix-daemon as systemctl enable would (each unit linked into /etc/systemd/system and wanted by its target) and make the socket directory both units are conditioned on");
		s->partition = root;
		s->path = "/etc/systemd/system/nix-daemon.socket, /etc/systemd/system/nix-daemon.service, /etc/systemd/system/sockets.target.wants/nix-daemon.socket, /etc/systemd/system/multi-user.target.wants/nix-daemon.service, /nix/var/nix/daemon-socket";
		s->from = mv_printf(&plan->arena, "%s/lib/systemd/system/", store_path);
		s->deferred = store_rule;
	}
	if (p->nix_closure.location.v) {
		s = step(b, MV_STAGE_NIX, "unpack the closure's store/ into /nix/store in canonical form, after its registration passed the .reginfo checks");
		s->partition = root;
		s->path = "/nix/store";
		s->from = p->nix_closure.location.v;
		s = step(b, MV_STAGE_NIX, "append its registration (registration or .reginfo) for nix-store --load-db");
		s->partition = root;
		s->path = plan->opt.target == MV_TARGET_PREFIX ? "/nix/.reginfo" : "/nix-path-registration";
		s = step(b, MV_STAGE_NIX, "keep each of its roots (a path no other registered path refers to) from garbage collection");
		s->partition = root;
		s->path = MV_NIX_GCROOTS "/<HASH-NAME> -> /nix/store/<HASH-NAME>";
		s->deferred = "the closure's registration";
	}
	if (p->flake.v) {
		/* A flake reference (github:..., path:...) has a colon; a local
		 * directory is relative to the profile that names it. */
		int local = !strchr(p->flake.v, ':');
		s = step(b, MV_STAGE_NIX, local ? "copy the flake directory (the hand-off command sees it as MICROVISOR_FLAKE)"
						: "nothing to copy: the flake reference goes into the hand-off command as MICROVISOR_FLAKE");
		s->partition = root;
		s->path = local ? "/etc/microvisor/flake" : NULL;
		s->from = local ? relative_to(b, p->flake.v, p->flake.at) : p->flake.v;
	}
}

static const char *boot_action(const struct mv_boot_file *f)
{
	if (f->flags & MV_BOOT_RAW)
		return strcmp(f->partition, "mbr") == 0 ? "write the MBR's boot code (bytes 0-439)" : "write raw, from the partition's first byte";
	if (f->flags & MV_BOOT_APPEND)
		return "append";
	if (f->flags & MV_BOOT_TREE)
		return "copy the directory";
	if (f->flags & MV_BOOT_SIGNED)
		return "copy (a .signed file beside the source is preferred, as bootctl does)";
	return f->from ? "copy" : "write";
}

static void emit_boot_file(void *opaque, const struct mv_boot_file *f)
{
	struct builder *b = opaque;
	struct mv_plan *plan = b->plan;
	struct mv_boot_file *keep = MV_PUSH(&plan->arena, plan->boot_files);
	*keep = (struct mv_boot_file){
		.partition = dup(b, f->partition), .path = dup(b, f->path), .from = dup(b, f->from),
		.member = dup(b, f->member), .content = dup(b, f->content), .deferred = dup(b, f->deferred),
		.flags = f->flags, .gain_if = dup(b, f->gain_if), .gain_text = dup(b, f->gain_text),
	};
	struct mv_step *s = step(b, MV_STAGE_BOOTLOADER, boot_action(f));
	s->partition = strcmp(f->partition, "root") == 0 ? target_root(b) : keep->partition;
	s->path = keep->path;
	s->from = f->member ? mv_printf(&plan->arena, "%s (%s)", f->from, f->member) : keep->from;
	s->content = keep->content;
	s->deferred = keep->deferred;
}

static void emit_boot_warning(void *opaque, const struct mv_boot_file *f)
{
	struct builder *b = opaque;
	*MV_PUSH(&b->plan->arena, b->plan->warnings) = dup(b, f->content);
}

static struct mv_boot_part *boot_part(struct builder *b, const struct mv_plan_partition *pp)
{
	if (!pp)
		return NULL;
	struct mv_boot_part *bp = mv_alloc(&b->plan->arena, sizeof(*bp));
	bp->name = pp->src->name;
	bp->number = pp->number;
	bp->partuuid = pp->partuuid;
	bp->label = pp->src->label.v;
	bp->mount = pp->src->mount.v;
	bp->fs = pp->fs;
	return bp;
}

static void stage_bootloader(struct builder *b)
{
	struct mv_plan *plan = b->plan;
	const struct mv_profile *p = b->p;
	const char *kind = p->boot_kind.v ? p->boot_kind.v : "none";
	const struct mv_bootloader *loader = mv_bootloader_find(kind);
	if (!loader) {
		mv_error(b->rep, p->boot_kind.at, "Kind=%s: expected one of %s", kind, mv_bootloader_names());
		return;
	}
	plan->bootloader = loader->name;
	if (plan->opt.target == MV_TARGET_PREFIX || loader == &mv_loader_none)
		return;

	const struct mv_plan_partition *esp = by_role(plan, MV_ROLE_ESP);
	if (!esp && plan->table == MV_TABLE_MBR && plan->parts.n && plan->parts.v[0].fs == MV_FS_VFAT)
		esp = &plan->parts.v[0]; /* the Raspberry Pi's firmware partition */
	const struct mv_plan_partition *root = b->plan->userland_into ? by_name(plan, b->plan->userland_into) : NULL;

	const char *token = p->entry_token.v ? p->entry_token.v : p->name.v;
	struct mv_boot_ctx ctx = {
		.arch = p->arch,
		.table = plan->table,
		.disk_id = plan->disk_id,
		.esp = boot_part(b, esp),
		.xbootldr = boot_part(b, by_role(plan, MV_ROLE_XBOOTLDR)),
		.root = boot_part(b, root),
		.freebsd_boot = boot_part(b, by_role(plan, MV_ROLE_FREEBSD_BOOT)),
		.swap = boot_part(b, by_role(plan, MV_ROLE_SWAP)),
		.hostname = hostname_of(b) ? hostname_of(b) : p->name.v,
		.loader = p->loader.location.v,
		.kernel = p->kernel.location.v,
		.initrd = p->initrd.location.v,
		.firmware = p->firmware.location.v,
		.devicetree = p->devicetree.location.v,
		.options = p->options.v,
		.models = p->models.v,
		.entry_token = token,
		.title = p->title.v ? p->title.v : p->description.v ? p->description.v : p->name.v,
		.timeout = p->timeout.v ? (unsigned)strtoul(p->timeout.v, NULL, 10) : 3,
		.root_grows = root && root->grow_fs,
	};
	char err[512];
	if (loader->check(&ctx, err, sizeof(err)) < 0) {
		/* Name the line the problem comes from when it is the token. */
		struct mv_where at = p->boot_kind.at;
		if (strstr(err, "entry token"))
			at = p->entry_token.v ? p->entry_token.at : p->name.at;
		mv_error(b->rep, at, "Kind=%s: %s", kind, err);
		return;
	}
	loader->describe(&ctx, emit_boot_file, emit_boot_warning, b);
}

static void stage_files(struct builder *b)
{
	struct mv_plan *plan = b->plan;
	const struct mv_profile *p = b->p;
	for (size_t i = 0; i < p->copies.n; i++) {
		const struct mv_copy *c = &p->copies.v[i];
		if (plan->opt.target == MV_TARGET_PREFIX && strcmp(c->dest_part, "root") != 0) {
			mv_error(b->rep, c->at, "Copy=: %s:%s: a prefix has no partition %s; only root: destinations apply",
				 c->dest_part, c->dest_path, c->dest_part);
			continue;
		}
		if (strcmp(c->dest_part, "root") == 0 && !plan->userland_into) {
			mv_error(b->rep, c->at, "Copy=: root:%s, but the disk has no root partition (Type=root, or Into= in [Userland])",
				 c->dest_path);
			continue;
		}
		const char *part = strcmp(c->dest_part, "root") == 0 ? target_root(b) : c->dest_part;
		/* The user's own files win; say so when one replaces a file a
		 * stage before generates. */
		const char *replaces = NULL;
		for (size_t j = 0; j < plan->steps.n; j++) {
			const struct mv_step *s = &plan->steps.v[j];
			if (s->content && s->partition && s->path && strcmp(s->partition, part) == 0 &&
			    strcmp(s->path, c->dest_path) == 0)
				replaces = mv_stage_name(s->stage);
		}
		char mode[16] = "source's", owner[48] = "0:0";
		if (c->mode >= 0)
			snprintf(mode, sizeof(mode), "%04o", c->mode);
		if (c->uid >= 0)
			snprintf(owner, sizeof(owner), "%ld:%ld", c->uid, c->gid);
		struct mv_step *s = step(b, MV_STAGE_FILES,
					 mv_printf(&plan->arena, "copy (mode %s, owner %s)%s%s", mode, owner,
						   replaces ? "; replaces the file generated by the stage " : "",
						   replaces ? replaces : ""));
		s->partition = part;
		s->path = c->dest_path;
		s->from = c->source[0] == '/' ? c->source : mv_printf(&plan->arena, "%s/%s", c->base_dir, c->source);
	}
}

static void stage_finalize(struct builder *b)
{
	struct mv_plan *plan = b->plan;
	struct mv_step *s;
	switch (plan->opt.target) {
	case MV_TARGET_IMAGE:
		s = step(b, MV_STAGE_FINALIZE, mv_printf(&plan->arena, "write the %s partition table%s, flush, write the block map (.bmap), rename the temporary file into place",
							 plan->table == MV_TABLE_GPT ? "GPT" : "MBR",
							 plan->table == MV_TABLE_GPT ? " (protective MBR, primary and backup)" : ""));
		s->partition = plan->opt.path;
		break;
	case MV_TARGET_DISK:
		s = step(b, MV_STAGE_FINALIZE, "fsync the filesystems, then write the partition table, fsync, and make the kernel re-read it (BLKRRPART)");
		s->partition = plan->opt.path;
		break;
	case MV_TARGET_PREFIX:
		/* Written into a temporary directory beside the prefix. */
		s = step(b, MV_STAGE_FINALIZE, "make the user's home directory, if the userland has none");
		s->partition = plan->opt.path;
		s->path = mv_printf(&plan->arena, "/home/%s", plan->opt.user ? plan->opt.user : "USER");
		s = step(b, MV_STAGE_FINALIZE, "add the caller to passwd and group where the userland has those files but not its name or ID (as proot-distro does: id and getpwuid() then name it)");
		s->partition = plan->opt.path;
		s->path = MV_PREFIX_ACCOUNTS;
		s->deferred = "the caller's UID and GID, and whether the userland has them";
		s = step(b, MV_STAGE_FINALIZE, "write a resolv.conf if the userland has none (Android has no /etc/resolv.conf; the launcher binds the host's where there is one)");
		s->partition = plan->opt.path;
		s->path = "/etc/resolv.conf";
		s->content = MV_PREFIX_RESOLV;
		s = step(b, MV_STAGE_FINALIZE, "write the launcher: enters the userland through proot (binding /dev, /proc, /sys and /nix), or says how to install proot");
		s->partition = plan->opt.path;
		s->path = MV_PREFIX_LAUNCHER;
		s->content = mv_prefix_launcher(&plan->arena, plan);
		s = step(b, MV_STAGE_FINALIZE, "rename the finished directory into place (the prefix must be missing or empty)");
		s->partition = plan->opt.path;
		break;
	}
}

/* Mode=firstboot: the script and, per init, its hook (bootstrap/handoff.h). */
static void firstboot_steps(struct builder *b)
{
	struct mv_plan *plan = b->plan;
	struct mv_handoff_texts t;
	mv_handoff_texts(&plan->arena, plan, &t);
	const int nix = t.registration_unit != NULL;
	const struct {
		int when; /* 1: always; 0: never (no Nix) */
		int deferred;
		const char *action, *path, *text;
	} w[] = {
		{1, 0, "write the hand-off script, 0755, after [Files] and before the finalize stage (at first boot it loads the Nix registration once, runs the command, removes its boot hook only when the command succeeded; logs to the journal, else also to " MV_HANDOFF_LOG ")", MV_HANDOFF_SCRIPT, t.script},
		{1, 1, "systemd: write the oneshot unit (after network-online.target)", MV_HANDOFF_UNIT, t.unit},
		{1, 1, "systemd: enable it as systemctl enable would", MV_HANDOFF_UNIT_LINK " -> " MV_HANDOFF_UNIT, NULL},
		{nix, 1, "systemd, with Nix: write the unit that loads the registration before sysinit.target, nix-daemon.socket and nix-daemon.service", MV_HANDOFF_REG_UNIT, t.registration_unit},
		{nix, 1, "systemd, with Nix: enable it as systemctl enable would", MV_HANDOFF_REG_LINK " -> " MV_HANDOFF_REG_UNIT, NULL},
		{1, 1, "OpenRC: write the local.d script, 0755", MV_HANDOFF_LOCALD, t.locald},
		{1, 1, "OpenRC: add the local service to the default runlevel as rc-update add local default would (unless it is there)", MV_HANDOFF_LOCAL_LINK " -> /etc/init.d/local", NULL},
		{1, 1, "busybox init: append the hook line to /etc/inittab (it runs after the userland's sysinit lines)", MV_HANDOFF_INITTAB, MV_HANDOFF_INITTAB_LINE "\n"},
	};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		if (!w[i].when)
			continue;
		struct mv_step *s = step(b, MV_STAGE_HANDOFF, w[i].action);
		s->partition = target_root(b);
		s->path = w[i].path;
		s->content = w[i].text;
		s->deferred = w[i].deferred ? MV_HANDOFF_INIT_RULE : NULL;
	}
}

static void stage_handoff(struct builder *b)
{
	struct mv_plan *plan = b->plan;
	const struct mv_profile *p = b->p;
	plan->handoff_mode = p->handoff_mode.v ? p->handoff_mode.v : "none";
	const char *mode = plan->handoff_mode;
	/* Run by a person or inside the installed root before its first boot,
	 * the command must load the registration itself. */
	plan->handoff_command = mv_handoff_command(&plan->arena, plan, strcmp(mode, "none") == 0 || strcmp(mode, "chroot") == 0);
	struct mv_step *s;
	if (strcmp(mode, "chroot") == 0 && plan->opt.target != MV_TARGET_DISK)
		mv_error(b->rep, p->handoff_mode.at, "Mode=chroot is for microvisor install only (it runs the command inside the installed disk); for an image use Mode=firstboot, for a prefix Mode=exec");
	else if (strcmp(mode, "firstboot") == 0 && plan->opt.target == MV_TARGET_PREFIX)
		mv_error(b->rep, p->handoff_mode.at, "Mode=firstboot installs a unit that runs at a machine's first boot; a prefix has none: use Mode=exec or none");
	else if (strcmp(mode, "exec") == 0 && plan->opt.target != MV_TARGET_PREFIX)
		mv_error(b->rep, p->handoff_mode.at, "Mode=exec runs the command in a prefix (microvisor bootstrap --prefix); for a disk use Mode=firstboot or chroot");
	if (strcmp(mode, "firstboot") == 0) {
		firstboot_steps(b);
	} else if (strcmp(mode, "chroot") == 0) {
		s = step(b, MV_STAGE_HANDOFF, "microvisor install only: run the command inside the installed root, once the disk is written (same architecture; the target is mounted for it)");
		s->content = plan->handoff_command;
	} else if (strcmp(mode, "exec") == 0) {
		s = step(b, MV_STAGE_HANDOFF, "run the command in the prefix through its launcher");
		s->partition = target_root(b);
		s->content = plan->handoff_command;
	} else if (plan->handoff_command) {
		s = step(b, MV_STAGE_HANDOFF, "print the command for the user to run on the machine, as root");
		s->content = plan->handoff_command;
	}
}

static void choose_targets(struct builder *b)
{
	struct mv_plan *plan = b->plan;
	const struct mv_profile *p = b->p;
	if (plan->opt.target == MV_TARGET_PREFIX) {
		b->plan->userland_into = plan->opt.path;
		return;
	}
	if (p->into.v) {
		b->plan->userland_into = p->into.v;
		return;
	}
	const struct mv_plan_partition *root = by_role(plan, MV_ROLE_ROOT);
	if (root)
		b->plan->userland_into = root->src->name;
	else if (p->userland.n)
		mv_error(b->rep, p->userland.v[0].location.at,
			 "Source=: no partition receives the userland: add a root partition or set Into=");
}

struct mv_plan *mv_plan_build(const struct mv_profile *p, const struct mv_plan_options *o, struct mv_report *rep)
{
	struct mv_arena a = {0};
	struct mv_plan *plan = mv_alloc(&a, sizeof(*plan));
	plan->arena = a;
	plan->profile = p;
	plan->opt = *o;
	struct builder b = {.plan = plan, .p = p, .rep = rep};
	unsigned before = rep->errors;

	if (o->target != MV_TARGET_PREFIX && p->partitions.n == 0) {
		mv_error(rep, top(&b), "profile %s has no [Partition NAME] sections, so it cannot make a disk: bootstrap it into a directory with --prefix DIR",
			 p->name.v);
		goto out;
	}
	choose_seed(&b);
	plan->table = o->target == MV_TARGET_PREFIX ? MV_TABLE_NONE
		    : p->table.v && strcmp(p->table.v, "mbr") == 0 ? MV_TABLE_MBR : MV_TABLE_GPT;
	plan->sector_size = p->sector_size.v ? (unsigned)strtoul(p->sector_size.v, NULL, 10) : 512;
	if (o->target == MV_TARGET_DISK && o->device_sector_size) {
		if (p->sector_size.v && plan->sector_size != o->device_sector_size)
			mv_error(rep, p->sector_size.at, "SectorSize=%u but %s has %u-byte logical sectors",
				 plan->sector_size, o->path, o->device_sector_size);
		plan->sector_size = o->device_sector_size;
	}
	plan->multi_user = p->multi_user.v && strcmp(p->multi_user.v, "auto") != 0
		? strcmp(p->multi_user.v, "yes") == 0
		: o->target != MV_TARGET_PREFIX;
	if (o->target == MV_TARGET_PREFIX && plan->multi_user)
		mv_error(rep, p->multi_user.at, "MultiUser=yes: a prefix is single-user (owned by the caller, no daemon)");

	if (o->target != MV_TARGET_PREFIX) {
		resolve_partitions(&b);
		if (rep->errors == before)
			layout(&b);
		if (rep->errors == before)
			identities(&b);
	}
	collect_sources(&b);
	choose_targets(&b);
	if (rep->errors != before)
		goto out;

	stage_survey(&b);
	stage_wipe(&b);
	stage_filesystems(&b);
	stage_userland(&b);
	stage_nix(&b);
	mv_customise_plan(plan, target_root(&b), rep);
	stage_bootloader(&b);
	stage_files(&b);
	stage_finalize(&b);
	stage_handoff(&b);
out:
	if (rep->errors != before) {
		mv_plan_free(plan);
		return NULL;
	}
	return plan;
}

int mv_plan_settle(struct mv_plan *plan, const uint64_t *sizes, struct mv_report *rep)
{
	for (size_t i = 0; i < plan->parts.n; i++)
		if (sizes[i])
			plan->parts.v[i].settled_size = mv_align_up(sizes[i], MV_DEFAULT_ALIGN);
	struct builder b = {.plan = plan, .p = plan->profile, .rep = rep};
	unsigned before = rep->errors;
	layout(&b);
	return rep->errors == before ? 0 : -1;
}

void mv_plan_free(struct mv_plan *plan)
{
	if (!plan)
		return;
	struct mv_arena a = plan->arena;
	mv_arena_free(&a);
}
