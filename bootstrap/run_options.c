#include "run_options.h"

#include "customise.h"

int mv_run_option(int opt, const char *arg, struct mv_plan_options *o, struct mv_fetch_options *f, int *quiet)
{
	switch (opt) {
	case 'S': o->seed = arg; return 1;
	case 'q': *quiet = 1; return 1;
	case 'u': o->allow_unpinned = f->allow_unpinned = 1; return 1;
	case 'c': f->cache_dir = arg; return 1;
	case 'O': f->offline = 1; return 1;
	case 'C': f->ca_file = arg; return 1;
	default: return 0;
	}
}

int mv_run_getopt(struct mv_cli_options *g, int argc, char **argv, const char *shortopts,
		  const struct option *longopts, struct mv_plan_options *o, struct mv_fetch_options *f, int *quiet)
{
	int opt;
	while ((opt = mv_customise_getopt_long(g, argc, argv, shortopts, longopts)) != -1 &&
	       mv_run_option(opt, optarg, o, f, quiet))
		;
	return opt;
}
