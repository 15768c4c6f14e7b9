/* plan: everything a run would do, computed before anything is written.
 * A pure function of (profile, target, options): no I/O. The CLI measures
 * a device (size, sector size) and passes the numbers in. What only the
 * content can decide is a step with a `deferred` rule.
 *
 * Stages run in this fixed order (DESIGN.md, "Data flow"). */
#ifndef MV_PLAN_H
#define MV_PLAN_H
#include <stdint.h>
#include <stdio.h>

#include "../bootloader/bootloader.h"
#include "../partition/layout.h"
#include "../partition/types.h"
#include "arena.h"
#include "profile.h"
#include "report.h"
#include "seed.h"

enum mv_target_kind { MV_TARGET_IMAGE, MV_TARGET_DISK, MV_TARGET_PREFIX };

enum mv_stage {
	MV_STAGE_SURVEY,
	MV_STAGE_WIPE,
	MV_STAGE_FILESYSTEMS,
	MV_STAGE_USERLAND,
	MV_STAGE_NIX,
	MV_STAGE_CUSTOMISE,
	MV_STAGE_BOOTLOADER,
	MV_STAGE_FILES,
	MV_STAGE_FINALIZE,
	MV_STAGE_HANDOFF,
	MV_STAGE_COUNT
};
const char *mv_stage_name(enum mv_stage s);

struct mv_plan_options {
	enum mv_target_kind target;
	const char *path;          /* image file, device or prefix directory */
	uint64_t size;             /* --size (images), 0 = unset */
	const char *seed;          /* --seed, NULL = unset */
	const char *hostname;      /* the customisation's, NULL = none */
	const char *disk_identity; /* --disk: its wwid or serial, mixed into the default seed; NULL = none */
	uint64_t device_size;      /* --disk: measured by the caller */
	unsigned device_sector_size;
	int allow_unpinned;        /* accept remote sources without SHA256= */
	int64_t timestamp;         /* SOURCE_DATE_EPOCH, read by the caller */
	const char *user;          /* --prefix: the caller's name (bootstrap/prefix.h), NULL = "USER" */
	const char *shell;         /* --prefix: the host's sh for the launcher, NULL = /bin/sh */
};

struct mv_plan_partition {
	const struct mv_partition *src;
	unsigned number;
	struct mv_ptype type;
	enum mv_fs_kind fs;
	uint64_t start, size;
	int start_deferred, size_deferred;
	char partuuid[40];
	char fs_id[40];            /* ext4/ufs/swap UUID, or FAT "XXXX-XXXX" */
	uint64_t attributes;       /* GPT */
	int bootable;              /* MBR active flag */
	int grow_fs;
	uint64_t settled_size;     /* Size=auto, once the survey decided it */
};

struct mv_plan_source {
	const char *role;          /* "userland", "nix", "kernel", ... */
	const char *location;      /* as written */
	const char *path;          /* local sources: resolved path */
	const char *sha256;        /* NULL: unpinned */
	enum mv_source_kind kind;
	size_t n_mirrors;
	const struct mv_str *mirrors;
	int strip;                 /* StripComponents= */
};

struct mv_step {
	enum mv_stage stage;
	const char *action;        /* what happens, in a few words */
	const char *partition;     /* where (a partition name, "root", the prefix) */
	const char *path;
	const char *from;          /* a source */
	const char *content;       /* generated text */
	const char *deferred;      /* the rule that decides it from the content */
};

struct mv_plan {
	struct mv_arena arena;
	const struct mv_profile *profile;
	struct mv_plan_options opt;

	enum mv_table table;
	unsigned sector_size;
	uint64_t disk_size;
	int disk_size_deferred;
	char disk_id[40];          /* GPT disk GUID or MBR signature (8 hex) */
	char seed_hex[65];
	const char *seed_origin;
	struct mv_seed seed;
	const char *userland_into; /* partition name, or the prefix */

	MV_VEC(struct mv_plan_partition) parts;
	MV_VEC(struct mv_plan_source) sources;
	MV_VEC(struct mv_step) steps;
	MV_VEC(const char *) warnings;
	MV_VEC(struct mv_boot_file) boot_files; /* what the boot loader stage writes */

	const char *bootloader;
	const char *handoff_mode;
	const char *handoff_command;
	int multi_user;
};

/* Returns the plan, or NULL after reporting every problem to rep. */
struct mv_plan *mv_plan_build(const struct mv_profile *p, const struct mv_plan_options *o,
			      struct mv_report *rep);
void mv_plan_free(struct mv_plan *plan);

/* Size=auto: the survey's sizes (bytes, per partition; 0 = not automatic)
 * go into the layout, which is computed again. Returns 0, or -1 after
 * reporting (say, the disk is now too small). */
int mv_plan_settle(struct mv_plan *plan, const uint64_t *sizes, struct mv_report *rep);
#define MV_AUTO_SIZE_RULE \
	"a header-only pass over the verified sources: the bytes of the files that land in this partition, " \
	"4 KiB per entry, the journal or allocation tables, plus 10%, at least 64 MiB, rounded up to 1 MiB"

void mv_plan_print_text(const struct mv_plan *plan, FILE *out);
void mv_plan_print_json(const struct mv_plan *plan, FILE *out);

#endif
