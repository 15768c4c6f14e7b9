#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "customise.h"
#include "dns.h"
#include "run_options.h"

static const struct mv_command commands[] = {
	{"plan", "plan PROFILE (--image FILE [--size SIZE] | --disk DEV | --prefix DIR) [--seed S] [--json] [--hostname H ...]",
	 "show everything a run would do, without doing any of it",
	 "  --image FILE       plan an image file (nothing is created)\n"
	 "  --size SIZE        the image's size (512M, 4G, 1GiB); default [Disk] Size=, else the partitions' total\n"
	 "  --disk DEV         plan an install onto DEV (its size is read; nothing is written)\n"
	 "  --prefix DIR       plan a rootless bootstrap into DIR\n"
	 "  --seed S           seed every UUID from S (default: the profile's Name= and hostname)\n"
	 "  --json             print the plan as one JSON document\n"
	 "  --allow-unpinned   accept remote sources without SHA256= (their bytes cannot be verified)\n"
	 MV_CUSTOMISE_HELP,
	 mv_cmd_plan, NULL},
	{"image", "image PROFILE -o OUT.img [--size SIZE] [--seed S] [--quiet] [--hostname H --user U --ssh-key FILE ...]",
	 "build a disk image file, rootless",
	 "  -o, --output FILE  the image to write (replaced only when complete)\n"
	 "  --size SIZE        the image's size (512M, 4G); default [Disk] Size=, else the partitions' total\n"
	 MV_RUN_HELP
	 MV_CUSTOMISE_HELP
	 "Timestamps the filesystems make come from SOURCE_DATE_EPOCH (default 0).\n",
	 mv_cmd_image, NULL},
	{"install", "install PROFILE --disk DEV [--yes] [--seed S] [--quiet]",
	 "partition and install onto a real disk",
	 "  --disk DEV         the whole disk to erase and install onto (refused while mounted, swap,\n"
	 "                     holding the running root, or held by dm/md/LVM)\n"
	 "  --yes              do not ask for the device's name to be typed back (needed when\n"
	 "                     standard input is not a terminal)\n"
	 MV_RUN_HELP
	 MV_CUSTOMISE_HELP
	 "`microvisor plan PROFILE --disk DEV` shows what it will do and what it will destroy.\n",
	 mv_cmd_install, NULL},
	{"flash", "flash IMAGE DEV... [--verify|--no-verify] [--bmap FILE|--no-bmap] [--yes] [--quiet]",
	 "write an image to SD cards or USB sticks, skipping holes",
	 "  IMAGE              raw, or compressed (.gz, .xz, .zst, ...: streamed)\n"
	 "  DEV...             whole disks, all written from one read of the image\n"
	 "  --verify           read back and hash the written ranges (default)\n"
	 "  --no-verify        skip the read-back\n"
	 "  --bmap FILE        write only the ranges this block map (bmaptool's format) lists;\n"
	 "                     default: IMAGE.bmap when it exists, else the image's data ranges\n"
	 "  --no-bmap          ignore a block map beside the image\n"
	 "  --yes              do not ask for each device's name to be typed back (needed when\n"
	 "                     standard input is not a terminal)\n"
	 "  -q, --quiet        no progress\n",
	 mv_cmd_flash, NULL},
	{"bootstrap", "bootstrap PROFILE --prefix DIR [--seed S] [--quiet] [--dns IP[:PORT],..]",
	 "unpack the userland and seed a single-user Nix into a directory, no root needed",
	 "  --prefix DIR       the directory to create (missing or empty; renamed into place when complete)\n"
	 MV_RUN_HELP
	 MV_DNS_HELP
	 MV_CUSTOMISE_HELP
	 "Here --dns names the servers for downloads (a prefix has no network of its own).\n"
	 "Enter the result with DIR/bin/microvisor-enter [COMMAND] (needs proot).\n",
	 mv_cmd_bootstrap, NULL},
	{"inspect", "inspect IMAGE|DEV [--json]",
	 "show an image's or a disk's partitions and filesystems",
	 "  --json             print one JSON document\n",
	 mv_cmd_inspect, NULL},
	{"fetch", "fetch PROFILE [--cache-dir DIR] [--offline] [--quiet] [--ca-file FILE] [--dns IP,..] [--allow-unpinned]",
	 "download and verify every source a profile needs into the cache",
	 "  --cache-dir DIR    the cache (default $XDG_CACHE_HOME/microvisor, else ~/.cache/microvisor)\n"
	 "  --offline          use the cache only; name every source missing from it\n"
	 "  --quiet            no progress lines\n"
	 "  --ca-file FILE     trust these CA certificates for HTTPS (default: the system bundle)\n"
	 MV_DNS_HELP
	 "  --allow-unpinned   accept remote sources without SHA256= (their bytes cannot be verified)\n",
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

void mv_catch_signals(void (*handler)(int))
{
	struct sigaction sa = {.sa_handler = handler};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}
