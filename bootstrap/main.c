/* microvisor COMMAND [options]: the command table and the plan command.
 * Exit status: 0 ok, 1 failed, 2 bad usage or a bad profile (DESIGN.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plan.h"
#include "profile.h"
#include "units.h"

#ifndef MICROVISOR_VERSION
#define MICROVISOR_VERSION "0.0.0-unknown"
#endif

#define EXIT_USAGE 2

struct command {
	const char *name;
	const char *usage;
	const char *summary;
	const char *help;     /* options, one per line */
	int (*run)(int argc, char **argv);
	const char *not_yet;  /* non-NULL: what is missing, said plainly */
};

static int cmd_plan(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{"plan", "plan PROFILE (--image FILE [--size SIZE] | --disk DEV | --prefix DIR) [--seed S] [--json]",
	 "show everything a run would do, without doing any of it",
	 "  --image FILE       plan an image file (nothing is created)\n"
	 "  --size SIZE        the image's size (512M, 4G, 1GiB); default [Disk] Size=, else the partitions' total\n"
	 "  --disk DEV         plan an install onto DEV (its size is read; nothing is written)\n"
	 "  --prefix DIR       plan a rootless bootstrap into DIR\n"
	 "  --seed S           seed every UUID from S (default: the profile's Name= and hostname)\n"
	 "  --json             print the plan as one JSON document\n"
	 "  --allow-unpinned   accept remote sources without SHA256= (their bytes cannot be verified)\n",
	 cmd_plan, NULL},
	{"image", "image PROFILE -o OUT.img [--size SIZE] [--seed S]",
	 "build a bootable disk image file, rootless",
	 "  -o, --output FILE  the image to write (replaced only when complete)\n"
	 "  --size SIZE        the image's size\n"
	 "  --seed S           seed every UUID from S\n",
	 NULL, "building image files is not implemented yet"},
	{"install", "install PROFILE --disk DEV [--yes]",
	 "partition and install onto a real disk",
	 "  --disk DEV         the disk to erase and install onto\n"
	 "  --yes              do not ask for the device name to be typed back\n",
	 NULL, "installing onto a disk is not implemented yet"},
	{"flash", "flash IMAGE DEV... [--verify|--no-verify] [--bmap FILE]",
	 "write an image to SD cards or USB sticks, skipping holes",
	 "  --verify           read back and hash the written ranges (default)\n"
	 "  --no-verify        skip the read-back\n"
	 "  --bmap FILE        write only the ranges this block map lists\n",
	 NULL, "flashing is not implemented yet"},
	{"bootstrap", "bootstrap PROFILE --prefix DIR",
	 "unpack the userland and seed Nix into a directory, no root needed",
	 "  --prefix DIR       the directory to bootstrap into\n",
	 NULL, "bootstrapping into a prefix is not implemented yet"},
	{"inspect", "inspect IMAGE|DEV [--json]",
	 "show an image's or a disk's partitions and filesystems",
	 "  --json             print one JSON document\n",
	 NULL, "inspecting images is not implemented yet"},
	{"fetch", "fetch PROFILE [--cache-dir DIR]",
	 "download and verify every source a profile needs into the cache",
	 "  --cache-dir DIR    the cache (default $XDG_CACHE_HOME/microvisor)\n",
	 NULL, "fetching sources is not implemented yet"},
	{"help", "help [COMMAND]", "show the commands, or one command's help", "", cmd_help, NULL},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void usage_all(FILE *out)
{
	fprintf(out, "usage: microvisor COMMAND [options]\n\n"
		     "Builds bootable images and bootstraps machines from one declarative profile.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-10s %s%s\n", commands[i].name, commands[i].summary,
			commands[i].not_yet ? " (not available yet)" : "");
	fprintf(out, "\n  --version  print the version\n\n"
		     "`microvisor COMMAND --help` shows a command's options. Profiles are documented in profiles/README.md.\n"
		     "Exit status: 0 ok, 1 failed, 2 bad usage or bad profile.\n");
}

static void usage_command(const struct command *c, FILE *out)
{
	fprintf(out, "usage: microvisor %s\n\n%s.\n", c->usage, c->summary);
	if (c->not_yet)
		fprintf(out, "Not available yet: %s.\n", c->not_yet);
	if (*c->help)
		fprintf(out, "\nOptions:\n%s", c->help);
	fprintf(out, "  -h, --help         show this help\n");
}

static int cmd_help(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") != 0 && strcmp(argv[1], "-h") != 0) {
		const struct command *c = find_command(argv[1]);
		if (!c) {
			fprintf(stderr, "microvisor help: unknown command %s\n", argv[1]);
			usage_all(stderr);
			return EXIT_USAGE;
		}
		usage_command(c, stdout);
		return 0;
	}
	usage_all(stdout);
	return 0;
}

static int usage_error(const struct command *c, const char *fmt, const char *arg)
{
	fprintf(stderr, "microvisor %s: ", c->name);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: microvisor %s\n", c->usage);
	return EXIT_USAGE;
}

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

static int cmd_plan(int argc, char **argv)
{
	const struct command *c = find_command("plan");
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
	struct mv_plan_options o = {0};
	int json = 0, targets = 0;
	const char *size_text = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i': o.target = MV_TARGET_IMAGE; o.path = optarg; targets++; break;
		case 'd': o.target = MV_TARGET_DISK; o.path = optarg; targets++; break;
		case 'p': o.target = MV_TARGET_PREFIX; o.path = optarg; targets++; break;
		case 's': size_text = optarg; break;
		case 'S': o.seed = optarg; break;
		case 'j': json = 1; break;
		case 'u': o.allow_unpinned = 1; break;
		case 'h': usage_command(c, stdout); return 0;
		default: return usage_error(c, "%s", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return usage_error(c, "%s", optind >= argc ? "expected a PROFILE" : "expected one PROFILE");
	if (targets != 1)
		return usage_error(c, "%s", "expected exactly one of --image FILE, --disk DEV or --prefix DIR");
	if (size_text) {
		if (o.target != MV_TARGET_IMAGE)
			return usage_error(c, "%s", "--size applies to --image only (a disk has its own size)");
		if (mv_parse_size(size_text, &o.size) < 0 || o.size == 0)
			return usage_error(c, "--size %s: expected a size such as 512M, 4G or 1GiB", size_text);
	}
	if (o.target == MV_TARGET_DISK && measure_disk(o.path, &o.device_size, &o.device_sector_size) < 0)
		return EXIT_USAGE;

	struct mv_report rep = {.out = stderr};
	struct mv_profile *p = mv_profile_load(argv[optind], &rep);
	if (!p)
		return EXIT_USAGE;
	struct mv_plan *plan = mv_plan_build(p, &o, &rep);
	int rc = EXIT_USAGE;
	if (plan) {
		if (json)
			mv_plan_print_json(plan, stdout);
		else
			mv_plan_print_text(plan, stdout);
		rc = fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
	}
	mv_plan_free(plan);
	mv_profile_free(p);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage_all(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("microvisor %s\n", MICROVISOR_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage_all(stdout);
		return 0;
	}
	const struct command *c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "microvisor: unknown command %s\n\n", argv[1]);
		usage_all(stderr);
		return EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage_command(c, stdout);
			return 0;
		}
	if (c->not_yet) {
		fprintf(stderr, "microvisor %s: not available yet: %s. `microvisor plan` shows what it will do.\n",
			c->name, c->not_yet);
		return EXIT_USAGE;
	}
	return c->run(argc - 1, argv + 1);
}
