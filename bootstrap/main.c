/* microvisor COMMAND [options]. Exit status: 0 ok, 1 failed, 2 bad usage or
 * a bad profile (DESIGN.md). The commands are in cli.c's table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef MICROVISOR_VERSION
#define MICROVISOR_VERSION "0.0.0-unknown"
#endif

int main(int argc, char **argv)
{
	if (argc < 2) {
		mv_usage_all(stderr);
		return MV_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("microvisor %s\n", MICROVISOR_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		mv_usage_all(stdout);
		return 0;
	}
	const struct mv_command *c = mv_command_find(argv[1]);
	if (!c) {
		fprintf(stderr, "microvisor: unknown command %s\n\n", argv[1]);
		mv_usage_all(stderr);
		return MV_EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			mv_usage_command(c, stdout);
			return 0;
		}
	if (c->not_yet) {
		fprintf(stderr, "microvisor %s: not available yet: %s. `microvisor plan` shows what it will do.\n",
			c->name, c->not_yet);
		return MV_EXIT_USAGE;
	}
	return c->run(argc - 1, argv + 1);
}
