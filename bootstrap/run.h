/* run: carries out a plan's stages on a target, in the plan's order:
 * survey, wipe, filesystems, userland, Nix, customisation, boot loader,
 * files, finalize. The same code builds an image file and (later) installs
 * onto a block device: the target is an open descriptor either way. */
#ifndef MV_RUN_H
#define MV_RUN_H
#include <stddef.h>
#include <stdio.h>

#include "plan.h"
#include "source.h"

struct mv_target {
	int fd;
	const char *name;   /* for messages */
	int fresh;          /* a new sparse file: unwritten bytes read as zero */
	FILE *progress;     /* stage lines, or NULL for --quiet */
	const struct mv_fetch_options *fetch; /* where sources come from */
	/* A reused target's wipe stage (install: partition/target.h), run
	 * before the filesystems; NULL for none. Returns 0, or -1 with err. */
	int (*wipe)(const struct mv_target *t, const struct mv_plan *plan, char *err, size_t errlen);
	void *ctx;          /* for wipe */
	const char *dir;    /* MV_TARGET_PREFIX: the (temporary) directory written, fd unused */
};

/* What this version cannot carry out yet, said before anything is
 * written: 0, or -1 with the reason in err. */
int mv_run_supported(const struct mv_plan *plan, char *err, size_t errlen);

/* Size=auto: survey the sources (resolving them through the cache) and
 * settle the plan's automatic sizes and layout, before the target is made.
 * Returns 0 (also when nothing is automatic), or -1 with err. */
int mv_run_settle(struct mv_plan *plan, const struct mv_fetch_options *fo, struct mv_report *rep,
		  char *err, size_t errlen);

/* Returns 0, or -1 with err naming the stage, the partition, the member
 * or file, and the reason. */
int mv_run(const struct mv_plan *plan, const struct mv_target *t, char *err, size_t errlen);

#endif
