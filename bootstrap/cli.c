#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"

static const struct mv_command commands[] = {
	{"plan", "plan PROFILE (--image FILE [--size SIZE] | --disk DEV | --prefix DIR) [--seed S] [--json]",
	 "show everything a run would do, without doing any of it",
	 "  --image FILE       plan an image file (nothing is created)\n"
	 "  --size SIZE        the image's size (512M, 4G, 1GiB); default [Disk] Size=, else the partitions' total\n"
	 "  --disk DEV         plan an install onto DEV (its size is read; nothing is written)\n"
	 "  --prefix DIR       plan a rootless bootstrap into DIR\n"
	 "  --seed S           seed every UUID from S (default: the profile's Name= and hostname)\n"
	 "  --json             print the plan as one JSON document\n"
	 "  --allow-unpinned   accept remote sources without SHA256= (their bytes cannot be verified)\n",
	 mv_cmd_plan, NULL},
	{"image", "image PROFILE -o OUT.img [--size SIZE] [--seed S] [--quiet]",
	 "build a disk image file, rootless",
	 "  -o, --output FILE  the image to write (replaced only when complete)\n"
	 "  --size SIZE        the image's size (512M, 4G); default [Disk] Size=, else the partitions' total\n"
	 "  --seed S           seed every UUID from S (default: the profile's Name= and hostname)\n"
	 "  -q, --quiet        no progress lines\n"
	 MV_FETCH_HELP
	 "Timestamps the filesystems make come from SOURCE_DATE_EPOCH (default 0).\n",
	 mv_cmd_image, NULL},
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
	{"bootstrap", "bootstrap PROFILE --prefix DIR [--seed S] [--quiet] [--dns IP,..]",
	 "unpack the userland and seed a single-user Nix into a directory, no root needed",
	 "  --prefix DIR       the directory to create (missing or empty; renamed into place when complete)\n"
	 "  --seed S           seed every identifier from S\n"
	 "  -q, --quiet        no progress lines\n"
	 MV_FETCH_HELP
	 "Timestamps come from SOURCE_DATE_EPOCH (default 0).\n"
	 "Enter the result with DIR/bin/microvisor-enter [COMMAND] (needs proot).\n",
	 mv_cmd_bootstrap, NULL},
	{"inspect", "inspect IMAGE|DEV [--json]",
	 "show an image's or a disk's partitions and filesystems",
	 "  --json             print one JSON document\n",
	 mv_cmd_inspect, NULL},
	{"fetch", "fetch PROFILE [--cache-dir DIR] [--offline] [--quiet] [--ca-file FILE] [--dns IP,..] [--allow-unpinned]",
	 "download and verify every source a profile needs into the cache",
	 "  --quiet            no progress lines\n"
	 MV_FETCH_HELP,
	 mv_cmd_fetch, NULL},
	{"help", "help [COMMAND]", "show the commands, or one command's help", "", mv_cmd_help, NULL},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

const struct mv_command *mv_command_find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

void mv_usage_all(FILE *out)
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

void mv_usage_command(const struct mv_command *c, FILE *out)
{
	fprintf(out, "usage: microvisor %s\n\n%s.\n", c->usage, c->summary);
	if (c->not_yet)
		fprintf(out, "Not available yet: %s.\n", c->not_yet);
	if (*c->help)
		fprintf(out, "\nOptions:\n%s", c->help);
	fprintf(out, "  -h, --help         show this help\n");
}

int mv_cmd_help(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") != 0 && strcmp(argv[1], "-h") != 0) {
		const struct mv_command *c = mv_command_find(argv[1]);
		if (!c) {
			fprintf(stderr, "microvisor help: unknown command %s\n", argv[1]);
			mv_usage_all(stderr);
			return MV_EXIT_USAGE;
		}
		mv_usage_command(c, stdout);
		return 0;
	}
	mv_usage_all(stdout);
	return 0;
}

int mv_usage_error(const struct mv_command *c, const char *fmt, const char *arg)
{
	fprintf(stderr, "microvisor %s: ", c->name);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: microvisor %s\n", c->usage);
	return MV_EXIT_USAGE;
}


int64_t mv_source_date_epoch(void)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	if (!s || !*s)
		return 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	return *end ? 0 : (int64_t)v;
}

void mv_catch_signals(void (*handler)(int))
{
	struct sigaction sa = {.sa_handler = handler};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int mv_fetch_option(int opt, const char *arg, struct mv_fetch_options *fo)
{
	switch (opt) {
	case MV_OPT_CACHE_DIR: fo->cache_dir = arg; return 1;
	case MV_OPT_OFFLINE: fo->offline = 1; return 1;
	case MV_OPT_CA_FILE: fo->ca_file = arg; return 1;
	case MV_OPT_DNS: fo->dns = arg; return 1;
	case MV_OPT_ALLOW_UNPINNED: fo->allow_unpinned = 1; return 1;
	default: return 0;
	}
}

int mv_fetch_options_check(const struct mv_command *c, const struct mv_fetch_options *fo)
{
	if (fo->ca_file && access(fo->ca_file, R_OK) != 0)
		return mv_usage_error(c, "--ca-file %s: cannot read it", fo->ca_file);
	char err[512];
	if (fo->dns && mv_dns_check(fo->dns, err, sizeof(err)) < 0)
		return mv_usage_error(c, "%s", err);
	return 0;
}
