/* microvisor install PROFILE --disk DEV: the image pipeline onto a real
 * disk. The disk is checked and held exclusively (partition/target.h),
 * what is on it now is shown, and the device's name must be typed back
 * unless --yes. Then: wipe every old signature (the old partitions', the
 * whole disk's including a backup GPT, each planned partition's range),
 * write the filesystems at the planned offsets through the whole-disk
 * descriptor as a reused target, and the partition table last (run.c),
 * fsync, re-read. Interrupted, the disk is plainly unpartitioned, and a
 * second run starts over from the beginning. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../partition/target.h"
#include "chroot.h"
#include "cli.h"
#include "customise.h"
#include "handoff.h"
#include "plan.h"
#include "profile.h"
#include "run.h"
#include "run_options.h"
#include "units.h"

struct disk {
	struct mv_blockdev *d;
	int touched; /* the wipe stage began: the old table is gone */
};

static int wipe(const struct mv_target *t, const struct mv_plan *plan, char *err, size_t errlen)
{
	struct disk *k = t->ctx;
	const struct mv_blockdev *d = k->d;
	k->touched = 1;
	if (mv_blockdev_wipe_all(d, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < plan->parts.n; i++)
		if (mv_blockdev_wipe(d, plan->parts.v[i].start, plan->parts.v[i].size, err, errlen) < 0)
			return -1;
	return 0;
}

static void summary(const struct mv_plan *plan, FILE *out)
{
	char h[32];
	fprintf(out, "It will get a new %s table:\n", plan->table == MV_TABLE_GPT ? "GPT" : "MBR");
	for (size_t i = 0; i < plan->parts.n; i++) {
		const struct mv_plan_partition *pp = &plan->parts.v[i];
		fprintf(out, "    %u  %10s  %-10s %s\n", pp->number, mv_human_size(pp->size, h, sizeof(h)),
			pp->src->name, mv_fs_name(pp->fs));
	}
}

static int handoff(const struct mv_plan *plan, const struct mv_blockdev *d, int quiet)
{
	if (strcmp(plan->handoff_mode, "chroot") != 0)
		return MV_EXIT_OK;
	const struct mv_plan_partition *root = NULL;
	for (size_t i = 0; i < plan->parts.n; i++)
		if (plan->userland_into && strcmp(plan->parts.v[i].src->name, plan->userland_into) == 0)
			root = &plan->parts.v[i];
	if (!root || root->fs == MV_FS_NONE) {
		fprintf(stderr, "microvisor install: handoff (chroot): the disk has no root filesystem to run the command in\n");
		return MV_EXIT_FAILED;
	}
	/* The text a person would type on the installed system (Nix's PATH
	 * and registration first, the flake exported), as bootstrap/handoff.h
	 * makes it for Mode=none. */
	struct mv_arena a = {0};
	const char *command = mv_handoff_command(&a, plan, 1);
	if (!quiet)
		fprintf(stderr, "microvisor: [%d/%d] %s: chroot into %s: %s\n", MV_STAGE_HANDOFF + 1, MV_STAGE_COUNT,
			mv_stage_name(MV_STAGE_HANDOFF), root->src->name, plan->handoff_command);
	char err[512];
	int rc = MV_EXIT_OK;
	if (!command || mv_chroot_run(d->fd, root->start, root->size, mv_fs_name(root->fs), command, err, sizeof(err)) < 0 ||
	    fsync(d->fd) != 0) {
		fprintf(stderr, "microvisor install: handoff (chroot) on %s: %s. The disk is installed; run the command yourself\n",
			d->path, command ? err : "no Command=");
		rc = MV_EXIT_FAILED;
	}
	mv_arena_free(&a);
	return rc;
}

static int install(struct mv_plan *plan, struct mv_blockdev *d, int yes, int quiet, struct mv_fetch_options *fetch)
{
	struct mv_report rep = {.out = stderr};
	char err[2048];
	if (mv_run_supported(plan, err, sizeof(err)) < 0) {
		fprintf(stderr, "microvisor install: %s\n", err);
		return MV_EXIT_USAGE;
	}
	if (mv_run_settle(plan, fetch, &rep, err, sizeof(err)) < 0) {
		fprintf(stderr, "microvisor install: %s\n", err);
		return MV_EXIT_FAILED;
	}
	FILE *tell = yes && quiet ? NULL : stderr;
	if (tell) {
		fprintf(tell, "microvisor: %s holds now:\n", d->path);
		mv_blockdev_describe(d->path, tell);
		summary(plan, tell);
	}
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "microvisor install: standard input is not a terminal, so nobody can type %s's name to confirm: "
					"nothing was written. Pass --yes to erase it without asking\n", d->path);
			return MV_EXIT_USAGE;
		}
		if (!mv_blockdev_confirm(d, "install", stdin, stderr)) {
			fprintf(stderr, "microvisor install: not confirmed; nothing was written to %s\n", d->path);
			return MV_EXIT_FAILED;
		}
	}
	fetch->quiet = quiet;
	struct disk k = {.d = d};
	struct mv_target t = {.fd = d->fd, .name = d->path, .fresh = 0, .progress = quiet ? NULL : stderr,
			      .fetch = fetch, .wipe = wipe, .ctx = &k};
	if (mv_run(plan, &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "microvisor install: %s\n", err);
		if (k.touched)
			fprintf(stderr, "microvisor install: %s has no partition table now; run the install again to start over\n", d->path);
		else
			fprintf(stderr, "microvisor install: nothing was written to %s\n", d->path);
		return MV_EXIT_FAILED;
	}
	if (mv_blockdev_reread(d, err, sizeof(err)) < 0)
		fprintf(stderr, "microvisor install: warning: %s\n", err);
	int rc = handoff(plan, d, quiet);
	if (rc == MV_EXIT_OK && !quiet)
		fprintf(stderr, "microvisor: installed %s onto %s\n", plan->profile->name.v, d->path);
	return rc;
}

int mv_cmd_install(int argc, char **argv)
{
	const struct mv_command *c = mv_command_find("install");
	static const struct option longopts[] = {
		{"disk", required_argument, NULL, 'd'},
		{"yes", no_argument, NULL, 'y'},
		MV_RUN_LONGOPTS,
	};
	struct mv_cli_options g = {.cmd = "install"};
	struct mv_plan_options o = {.target = MV_TARGET_DISK, .timestamp = mv_source_date_epoch()};
	struct mv_fetch_options fetch = {0};
	int yes = 0, quiet = 0, opt;
	optind = 1;
	while ((opt = mv_run_getopt(&g, argc, argv, "qh", longopts, &o, &fetch, &quiet)) != -1) {
		switch (opt) {
		case 'd': o.path = optarg; break;
		case 'y': yes = 1; break;
		case 'h': mv_usage_command(c, stdout); return MV_EXIT_OK;
		case MV_OPT_BAD: return MV_EXIT_USAGE;
		default: return mv_usage_error(c, "%s", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return mv_usage_error(c, "%s", "expected one PROFILE");
	if (!o.path)
		return mv_usage_error(c, "%s", "expected --disk DEV");

	struct mv_report rep = {.out = stderr};
	struct mv_profile *p = mv_profile_load_with(argv[optind], g.sets.v, g.sets.n, &rep);
	if (!p)
		return MV_EXIT_USAGE;
	struct mv_blockdev d;
	char err[1024];
	int rc = MV_EXIT_FAILED;
	if (mv_blockdev_open(o.path, &d, err, sizeof(err)) < 0) {
		fprintf(stderr, "microvisor install: refused: %s\n", err);
		mv_profile_free(p);
		return MV_EXIT_FAILED;
	}
	o.device_size = d.size;
	char identity[256];
	if (mv_disk_identity(d.path, identity, sizeof(identity)) == 0)
		o.disk_identity = identity;
	o.device_sector_size = d.sector_size;
	struct mv_plan *plan = mv_plan_build(p, &o, &rep);
	rc = plan ? install(plan, &d, yes, quiet, &fetch) : MV_EXIT_USAGE;
	mv_blockdev_close(&d);
	mv_plan_free(plan);
	mv_profile_free(p);
	return rc;
}
