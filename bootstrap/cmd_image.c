/* microvisor image PROFILE -o OUT: a complete disk image, as an ordinary
 * user. It is built in a temporary file beside OUT and renamed into place
 * only when complete: on any failure (or Ctrl-C) nothing is left at OUT and
 * the temporary file is removed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../images/bmap.h"
#include "cli.h"
#include "customise.h"
#include "plan.h"
#include "profile.h"
#include "run.h"
#include "run_options.h"
#include "units.h"

/* The temporary files' names, for the signal handler: the one piece of
 * process-wide state, because a signal handler can reach nothing else. */
static char temp_path[4096], temp_bmap[4096 + 16];

static void remove_temps(void)
{
	if (temp_path[0])
		unlink(temp_path);
	if (temp_bmap[0])
		unlink(temp_bmap);
	temp_path[0] = temp_bmap[0] = '\0';
}

static void remove_temp(int sig)
{
	remove_temps();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* OUT.bmap beside the image, for bmaptool and `microvisor flash`. */
static int write_bmap(int fd, uint64_t size, const char *out, char *bmap_path, size_t len)
{
	char err[512];
	snprintf(temp_bmap, sizeof(temp_bmap), "%s.bmap.XXXXXX", temp_path);
	int bfd = mkstemp(temp_bmap);
	FILE *f = bfd < 0 ? NULL : fdopen(bfd, "w");
	if (!f) {
		fprintf(stderr, "microvisor image: cannot create the block map beside %s: %s\n", out, strerror(errno));
		return -1;
	}
	mode_t mask = umask(0);
	umask(mask);
	fchmod(bfd, 0666 & ~mask);
	int rc = mv_bmap_write(fd, size, f, err, sizeof(err));
	if (fclose(f) != 0 && rc == 0) {
		snprintf(err, sizeof(err), "%s", strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		fprintf(stderr, "microvisor image: block map: %s\n", err);
	snprintf(bmap_path, len, "%s.bmap", out);
	return rc;
}

static int build(const struct mv_plan *plan, const char *out, int quiet, struct mv_fetch_options *fetch)
{
	char dir[4096], base[1024], err[2048];
	snprintf(dir, sizeof(dir), "%s", out);
	snprintf(base, sizeof(base), "%s", out);
	snprintf(temp_path, sizeof(temp_path), "%s/.%s.XXXXXX", dirname(dir), basename(base));
	mv_catch_signals(remove_temp);
	int fd = mkstemp(temp_path);
	if (fd < 0) {
		fprintf(stderr, "microvisor image: cannot create a file beside %s: %s\n", out, strerror(errno));
		temp_path[0] = '\0';
		return MV_EXIT_FAILED;
	}
	mode_t mask = umask(0);
	umask(mask);
	int rc = MV_EXIT_FAILED;
	if (fchmod(fd, 0666 & ~mask) < 0 || ftruncate(fd, (off_t)plan->disk_size) < 0) {
		fprintf(stderr, "microvisor image: %s: %s\n", temp_path, strerror(errno));
		goto out;
	}
	fetch->quiet = quiet;
	struct mv_target t = {.fd = fd, .name = temp_path, .fresh = 1, .progress = quiet ? NULL : stderr, .fetch = fetch};
	if (mv_run(plan, &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "microvisor image: %s\n", err);
		goto out;
	}
	char bmap_path[4200];
	if (write_bmap(fd, plan->disk_size, out, bmap_path, sizeof(bmap_path)) < 0)
		goto out;
	if (close(fd) < 0) {
		fd = -1;
		fprintf(stderr, "microvisor image: %s: %s\n", temp_path, strerror(errno));
		goto out;
	}
	fd = -1;
	/* The image last: a complete OUT always has its block map. */
	if (rename(temp_bmap, bmap_path) < 0 || rename(temp_path, out) < 0) {
		fprintf(stderr, "microvisor image: cannot rename the finished image to %s: %s\n", out, strerror(errno));
		goto out;
	}
	temp_path[0] = temp_bmap[0] = '\0';
	rc = MV_EXIT_OK;
	if (!quiet)
		fprintf(stderr, "microvisor: wrote %s and %s\n", out, bmap_path);
	/* Mode=none: the hand-off is the user's, on the booted machine. */
	if (strcmp(plan->handoff_mode, "none") == 0 && plan->handoff_command)
		printf("microvisor: the hand-off is yours: run, as root on the booted machine:\n  %s\n", plan->handoff_command);
out:
	if (fd >= 0)
		close(fd);
	remove_temps();
	mv_catch_signals(SIG_DFL);
	return rc;
}

int mv_cmd_image(int argc, char **argv)
{
	const struct mv_command *c = mv_command_find("image");
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"size", required_argument, NULL, 's'},
		MV_RUN_LONGOPTS,
	};
	struct mv_cli_options g = {.cmd = "image"};
	struct mv_plan_options o = {.target = MV_TARGET_IMAGE, .timestamp = mv_source_date_epoch()};
	const char *size_text = NULL;
	struct mv_fetch_options fetch = {0};
	int quiet = 0, opt;
	optind = 1;
	while ((opt = mv_run_getopt(&g, argc, argv, "o:qh", longopts, &o, &fetch, &quiet)) != -1) {
		switch (opt) {
		case 'o': o.path = optarg; break;
		case 's': size_text = optarg; break;
		case 'h': mv_usage_command(c, stdout); return MV_EXIT_OK;
		case MV_OPT_BAD: return MV_EXIT_USAGE;
		default: return mv_usage_error(c, "%s", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return mv_usage_error(c, "%s", "expected one PROFILE");
	if (!o.path)
		return mv_usage_error(c, "%s", "expected -o OUT.img");
	if (size_text && (mv_parse_size(size_text, &o.size) < 0 || o.size == 0))
		return mv_usage_error(c, "--size %s: expected a size such as 512M, 4G or 1GiB", size_text);

	struct mv_report rep = {.out = stderr};
	struct mv_profile *p = mv_profile_load_with(argv[optind], g.sets.v, g.sets.n, &rep);
	if (!p)
		return MV_EXIT_USAGE;
	struct mv_plan *plan = mv_plan_build(p, &o, &rep);
	int rc = MV_EXIT_USAGE;
	char err[1024];
	fetch.quiet = quiet;
	if (plan && mv_run_supported(plan, err, sizeof(err)) < 0)
		fprintf(stderr, "microvisor image: %s\n", err);
	else if (plan && mv_run_settle(plan, &fetch, &rep, err, sizeof(err)) < 0)
		rc = MV_EXIT_FAILED, fprintf(stderr, "microvisor image: %s\n", err);
	else if (plan)
		rc = build(plan, o.path, quiet, &fetch);
	mv_plan_free(plan);
	mv_profile_free(p);
	return rc;
}
