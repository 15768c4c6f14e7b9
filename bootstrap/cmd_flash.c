/* microvisor flash IMAGE DEV...: an image onto SD cards and USB sticks
 * (images/flash.h), with install's safety checks and confirmation
 * (partition/target.h). Every device is checked and held before anything
 * is written to any of them. A block map beside the image (IMAGE.bmap, or
 * the name without its compression suffix + .bmap, as bmaptool looks) is
 * used unless --no-bmap. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../images/flash.h"
#include "../partition/target.h"
#include "cli.h"
#include "units.h"

/* IMAGE.bmap, else IMAGE minus .gz/.xz/.zst/.bz2 plus .bmap, if it exists. */
static const char *find_bmap(const char *image, char *buf, size_t len)
{
	static const char *const ext[] = {".gz", ".xz", ".zst", ".bz2", ".lz4"};
	snprintf(buf, len, "%s.bmap", image);
	if (access(buf, R_OK) == 0)
		return buf;
	size_t n = strlen(image);
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		size_t e = strlen(ext[i]);
		if (n > e && strcmp(image + n - e, ext[i]) == 0) {
			snprintf(buf, len, "%.*s.bmap", (int)(n - e), image);
			if (access(buf, R_OK) == 0)
				return buf;
		}
	}
	return NULL;
}

/* MV_FLASH_TEST_CORRUPT=OFFSET: for tests only (images/flash.h). */
static int64_t test_corruption(void)
{
	const char *s = getenv("MV_FLASH_TEST_CORRUPT");
	char *end;
	long long v = s && *s ? strtoll(s, &end, 10) : -1;
	return s && *s && !*end && v >= 0 ? v : -1;
}

static int flash(const char *image, struct mv_blockdev *devs, size_t n, struct mv_flash_options *o, int yes, int quiet)
{
	for (size_t i = 0; i < n && !(yes && quiet); i++) {
		fprintf(stderr, "microvisor: %s holds now:\n", devs[i].path);
		mv_blockdev_describe(devs[i].path, stderr);
	}
	if (!yes && !isatty(STDIN_FILENO)) {
		fprintf(stderr, "microvisor flash: standard input is not a terminal, so nobody can type the device's name to confirm: "
				"nothing was written. Pass --yes to write without asking\n");
		return MV_EXIT_USAGE;
	}
	for (size_t i = 0; i < n && !yes; i++)
		if (!mv_blockdev_confirm(&devs[i], "flash", stdin, stderr)) {
			fprintf(stderr, "microvisor flash: not confirmed; nothing was written\n");
			return MV_EXIT_FAILED;
		}
	struct mv_flash_dest *d = calloc(n, sizeof(*d));
	if (!d)
		return MV_EXIT_FAILED;
	for (size_t i = 0; i < n; i++)
		d[i] = (struct mv_flash_dest){.fd = devs[i].fd, .name = devs[i].path, .size = devs[i].size,
					      .sector_size = devs[i].sector_size};
	struct mv_flash_stats st;
	char err[1024];
	int rc = mv_flash(image, d, n, o, &st, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "microvisor flash: %s\n", err);
		for (size_t i = 0; i < n; i++)
			if (d[i].failed)
				fprintf(stderr, "microvisor flash: %s: %s\n", d[i].name, d[i].err);
		fprintf(stderr, "microvisor flash: the devices hold an incomplete image: do not use them\n");
		free(d);
		return MV_EXIT_FAILED;
	}
	char h[32];
	for (size_t i = 0; i < n; i++) {
		if (d[i].failed) {
			fprintf(stderr, "microvisor flash: %s: FAILED: %s\n", d[i].name, d[i].err);
			continue;
		}
		if (mv_blockdev_reread(&devs[i], err, sizeof(err)) < 0)
			fprintf(stderr, "microvisor flash: warning: %s\n", err);
		if (!quiet)
			fprintf(stderr, "microvisor: %s: wrote %s of the %s image%s%s\n", d[i].name,
				mv_human_size(st.written, h, sizeof(h)), st.compressed ? "compressed" : "raw",
				o->verify ? ", verified" : " (not verified)", d[i].gpt_moved ? ", backup GPT moved to the end" : "");
	}
	free(d);
	return rc == 0 ? MV_EXIT_OK : MV_EXIT_FAILED;
}

int mv_cmd_flash(int argc, char **argv)
{
	const struct mv_command *c = mv_command_find("flash");
	static const struct option longopts[] = {
		{"verify", no_argument, NULL, 'v'},
		{"no-verify", no_argument, NULL, 'V'},
		{"bmap", required_argument, NULL, 'b'},
		{"no-bmap", no_argument, NULL, 'B'},
		{"yes", no_argument, NULL, 'y'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct mv_flash_options o = {.verify = 1, .corrupt_at = test_corruption()};
	int yes = 0, quiet = 0, no_bmap = 0, opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'v': o.verify = 1; break;
		case 'V': o.verify = 0; break;
		case 'b': o.bmap = optarg; break;
		case 'B': no_bmap = 1; break;
		case 'y': yes = 1; break;
		case 'q': quiet = 1; break;
		case 'h': mv_usage_command(c, stdout); return MV_EXIT_OK;
		default: return mv_usage_error(c, "%s", "unknown option");
		}
	}
	if (argc - optind < 2)
		return mv_usage_error(c, "%s", "expected an IMAGE and at least one DEV");
	if (o.bmap && no_bmap)
		return mv_usage_error(c, "%s", "--bmap and --no-bmap contradict each other");
	const char *image = argv[optind];
	if (access(image, R_OK) != 0) {
		fprintf(stderr, "microvisor flash: cannot read the image %s\n", image);
		return MV_EXIT_USAGE;
	}
	char found[4200];
	if (!o.bmap && !no_bmap && (o.bmap = find_bmap(image, found, sizeof(found))) && !quiet)
		fprintf(stderr, "microvisor: using the block map %s (--no-bmap to write the image's own data ranges)\n", o.bmap);
	o.progress = quiet ? NULL : stderr;
	o.progress_tty = !quiet && isatty(STDERR_FILENO);

	size_t n = (size_t)(argc - optind - 1);
	struct mv_blockdev *devs = calloc(n, sizeof(*devs));
	if (!devs)
		return MV_EXIT_FAILED;
	int rc = MV_EXIT_OK;
	size_t opened = 0;
	char err[1024];
	for (; opened < n; opened++)
		if (mv_blockdev_open(argv[optind + 1 + opened], &devs[opened], err, sizeof(err)) < 0) {
			fprintf(stderr, "microvisor flash: refused: %s; nothing was written\n", err);
			rc = MV_EXIT_FAILED;
			break;
		}
	if (rc == MV_EXIT_OK)
		rc = flash(image, devs, n, &o, yes, quiet);
	for (size_t i = 0; i < opened; i++)
		mv_blockdev_close(&devs[i]);
	free(devs);
	return rc;
}
