/* run_options: the command-line options shared by the commands that carry
 * out a plan (image, install): the seed, quiet, and where sources come
 * from. One list, so the two commands cannot drift apart. */
#ifndef MV_RUN_OPTIONS_H
#define MV_RUN_OPTIONS_H
#include <getopt.h>

#include "plan.h"
#include "source.h"

#define MV_RUN_LONGOPTS                                        \
	{"seed", required_argument, NULL, 'S'},                \
	{"quiet", no_argument, NULL, 'q'},                     \
	{"allow-unpinned", no_argument, NULL, 'u'},            \
	{"cache-dir", required_argument, NULL, 'c'},           \
	{"offline", no_argument, NULL, 'O'},                   \
	{"ca-file", required_argument, NULL, 'C'},             \
	{"help", no_argument, NULL, 'h'},                      \
	{NULL, 0, NULL, 0}

#define MV_RUN_HELP                                                                          \
	"  --seed S           seed every UUID from S (default: the profile's Name= and hostname)\n" \
	"  -q, --quiet        no progress lines\n"                                               \
	"  --allow-unpinned   accept remote sources without SHA256=\n"                          \
	"  --cache-dir DIR    where downloads are kept (default $XDG_CACHE_HOME/microvisor)\n"   \
	"  --offline          use the cache only; name any source that is missing\n"           \
	"  --ca-file FILE     trust these CA certificates for https\n"

/* Applies one of MV_RUN_LONGOPTS (not 'h'). Returns 1 when opt was one. */
int mv_run_option(int opt, const char *arg, struct mv_plan_options *o, struct mv_fetch_options *f, int *quiet);

/* getopt_long for the commands that carry out a plan (image, install,
 * bootstrap): the customisation's options are recorded in g, the run
 * options applied to o, f and quiet; returns the command's own next
 * option (its longopts end with MV_RUN_LONGOPTS), -1 at the end, or
 * MV_OPT_BAD after a customisation option was refused. */
struct mv_cli_options;
int mv_run_getopt(struct mv_cli_options *g, int argc, char **argv, const char *shortopts,
		  const struct option *longopts, struct mv_plan_options *o, struct mv_fetch_options *f, int *quiet);

#endif
