/* microvisor plan: everything a run would do, with no side effects. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../partition/target.h"
#include "cli.h"
#include "customise.h"
#include "plan.h"
#include "prefix.h"
#include "profile.h"
#include "units.h"

/* Size and logical sector size of a device (or a file standing in for one),
 * read without writing anything. */
static int measure_disk(const char *path, uint64_t *size, unsigned *sector)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "microvisor plan: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct stat st;
	int rc = fstat(fd, &st);
	if (rc == 0 && S_ISBLK(st.st_mode)) {
		int ss = 0;
		rc = ioctl(fd, BLKGETSIZE64, size);
		if (rc == 0)
			rc = ioctl(fd, BLKSSZGET, &ss);
		*sector = (unsigned)ss;
	} else if (rc == 0 && S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		*sector = 0;
	} else if (rc == 0) {
		fprintf(stderr, "microvisor plan: %s is neither a block device nor a file\n", path);
		close(fd);
		return -1;
	}
	if (rc != 0)
		fprintf(stderr, "microvisor plan: cannot read the size of %s: %s\n", path, strerror(errno));
	close(fd);
	return rc == 0 ? 0 : -1;
}

/* An install erases the whole disk: say what is on it now, and whether
 * install would refuse it. */
static void print_destroyed(const char *path, FILE *out)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISBLK(st.st_mode))
		return;
	char why[1024];
	fprintf(out, "\nDestroyed by the install (what %s holds now):\n", path);
	mv_blockdev_describe(path, out);
	if (mv_blockdev_check(path, NULL, why, sizeof(why)) < 0)
		fprintf(out, "install would refuse it: %s\n", why);
}

int mv_cmd_plan(int argc, char **argv)
{
	const struct mv_command *c = mv_command_find("plan");
	static const struct option longopts[] = {
		{"image", required_argument, NULL, 'i'},
		{"size", required_argument, NULL, 's'},
		{"disk", required_argument, NULL, 'd'},
		{"prefix", required_argument, NULL, 'p'},
		{"seed", required_argument, NULL, 'S'},
		{"json", no_argument, NULL, 'j'},
		{"allow-unpinned", no_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct mv_cli_options g = {.cmd = "plan"};
	struct mv_plan_options o = {0};
	int json = 0, targets = 0;
	const char *size_text = NULL;
	int opt;
	optind = 1;
	while ((opt = mv_customise_getopt_long(&g, argc, argv, "h", longopts)) != -1) {
		switch (opt) {
		case 'i': o.target = MV_TARGET_IMAGE; o.path = optarg; targets++; break;
		case 'd': o.target = MV_TARGET_DISK; o.path = optarg; targets++; break;
		case 'p': o.target = MV_TARGET_PREFIX; o.path = optarg; targets++; break;
		case 's': size_text = optarg; break;
		case 'S': o.seed = optarg; break;
		case 'j': json = 1; break;
		case 'u': o.allow_unpinned = 1; break;
		case 'h': mv_usage_command(c, stdout); return 0;
		case MV_OPT_BAD: return MV_EXIT_USAGE;
		default: return mv_usage_error(c, "%s", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return mv_usage_error(c, "%s", optind >= argc ? "expected a PROFILE" : "expected one PROFILE");
	if (targets != 1)
		return mv_usage_error(c, "%s", "expected exactly one of --image FILE, --disk DEV or --prefix DIR");
	if (size_text) {
		if (o.target != MV_TARGET_IMAGE)
			return mv_usage_error(c, "%s", "--size applies to --image only (a disk has its own size)");
		if (mv_parse_size(size_text, &o.size) < 0 || o.size == 0)
			return mv_usage_error(c, "--size %s: expected a size such as 512M, 4G or 1GiB", size_text);
	}
	if (o.target == MV_TARGET_DISK && measure_disk(o.path, &o.device_size, &o.device_sector_size) < 0)
		return MV_EXIT_USAGE;
	char identity[256];
	if (o.target == MV_TARGET_DISK && mv_disk_identity(o.path, identity, sizeof(identity)) == 0)
		o.disk_identity = identity; /* the seed `install` would use */
	char user[64], shell[4096];
	if (o.target == MV_TARGET_PREFIX) { /* who bootstrap would run as, and with which sh */
		mv_prefix_user(user, sizeof(user));
		o.user = user;
		o.shell = mv_prefix_shell(shell, sizeof(shell));
	}

	struct mv_report rep = {.out = stderr};
	struct mv_profile *p = mv_profile_load_with(argv[optind], g.sets.v, g.sets.n, &rep);
	if (!p)
		return MV_EXIT_USAGE;
	struct mv_plan *plan = mv_plan_build(p, &o, &rep);
	int rc = MV_EXIT_USAGE;
	if (plan) {
		if (json)
			mv_plan_print_json(plan, stdout);
		else
			mv_plan_print_text(plan, stdout);
		if (!json && o.target == MV_TARGET_DISK)
			print_destroyed(o.path, stdout);
		rc = fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
	}
	mv_plan_free(plan);
	mv_profile_free(p);
	return rc;
}

