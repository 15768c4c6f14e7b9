#include "run_options.h"

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
