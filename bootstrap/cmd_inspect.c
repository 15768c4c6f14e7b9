/* microvisor inspect IMAGE|DEV: the partition table and what libblkid finds
 * in each partition. Read-only. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../partition/probe.h"
#include "cli.h"
#include "json.h"
#include "units.h"

static void print_json(const char *path, const struct mv_probe *p)
{
	struct mv_json j = {.out = stdout};
	mv_json_begin(&j, NULL, '{');
	mv_probe_json(&j, path, p);
	mv_json_end(&j, '}');
}

static const char *fs_text(const struct mv_probe_fs *fs, char *buf, size_t len)
{
	if (fs->ambivalent)
		snprintf(buf, len, "AMBIVALENT (several filesystem signatures)");
	else if (!fs->type[0])
		snprintf(buf, len, "no filesystem found");
	else
		snprintf(buf, len, "%s%s%s%s%s", fs->type, fs->label[0] ? " label " : "", fs->label,
			 fs->uuid[0] ? " uuid " : "", fs->uuid);
	return buf;
}

static void print_text(const char *path, const struct mv_probe *p)
{
	char h[32], f[256];
	printf("%s: %s (%llu bytes), %u-byte sectors\n", path, mv_human_size(p->size, h, sizeof(h)),
	       (unsigned long long)p->size, p->sector_size);
	if (!p->table[0]) {
		printf("no partition table; %s\n", fs_text(&p->whole, f, sizeof(f)));
		return;
	}
	printf("table %s, disk id %s, %zu partition%s\n", p->table, p->disk_id, p->n, p->n == 1 ? "" : "s");
	for (size_t i = 0; i < p->n; i++) {
		const struct mv_probe_part *pp = &p->parts[i];
		printf("  %zu start %llu size %llu (%s)%s\n", pp->number, (unsigned long long)pp->start,
		       (unsigned long long)pp->size, mv_human_size(pp->size, h, sizeof(h)), pp->bootable ? " active" : "");
		printf("    type %s (%s)%s%s%s%s\n", pp->type, pp->type_name, pp->name[0] ? ", name " : "", pp->name,
		       pp->attrs[0] ? ", attributes " : "", pp->attrs);
		printf("    partuuid %s\n    %s\n", pp->partuuid, fs_text(&pp->fs, f, sizeof(f)));
	}
}

int mv_cmd_inspect(int argc, char **argv)
{
	const struct mv_command *c = mv_command_find("inspect");
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int json = 0, opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == 'j')
			json = 1;
		else if (opt == 'h')
			return mv_usage_command(c, stdout), MV_EXIT_OK;
		else
			return mv_usage_error(c, "%s", "unknown option");
	}
	if (optind + 1 != argc)
		return mv_usage_error(c, "%s", "expected one IMAGE or DEV");
	struct mv_probe p;
	char err[512];
	if (mv_probe_read(argv[optind], &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "microvisor inspect: %s\n", err);
		return MV_EXIT_FAILED;
	}
	if (json)
		print_json(argv[optind], &p);
	else
		print_text(argv[optind], &p);
	mv_probe_free(&p);
	return fflush(stdout) == 0 ? MV_EXIT_OK : MV_EXIT_FAILED;
}
