/* microvisor fetch: every source a profile's plan names, downloaded and
 * verified into the cache, so a later image or install can run offline. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dns.h"
#include "plan.h"
#include "profile.h"
#include "source.h"
#include "units.h"

/* Only the sources matter, and they do not depend on the target: any
 * target the profile can plan will do. The path is never opened. */
static struct mv_plan *plan_for_sources(const struct mv_profile *p, int allow_unpinned, struct mv_report *rep)
{
	struct mv_plan_options o = {
		.target = p->partitions.n ? MV_TARGET_IMAGE : MV_TARGET_PREFIX,
		.path = "fetch",
		.allow_unpinned = allow_unpinned,
	};
	return mv_plan_build(p, &o, rep);
}

/* One line per source on stdout; a failure is one line on stderr. */
static int fetch_one(const struct mv_fetch_options *o, const struct mv_plan_source *src)
{
	char path[PATH_MAX], err[PATH_MAX + 4096], size[32];
	struct mv_fetch_result res;
	if (mv_source_fetch(o, src, &res, path, sizeof(path), err, sizeof(err)) < 0) {
		fprintf(stderr, "microvisor fetch: %s\n", err);
		return -1;
	}
	printf("%-10s %-10s %s", src->role, mv_fetched_name(res.how), src->location);
	if (res.how == MV_FETCHED_DOWNLOADED) {
		printf(" (%s", mv_human_size(res.bytes, size, sizeof(size)));
		if (res.url && strcmp(res.url, src->location) != 0)
			printf(", from %s", res.url);
		printf(")");
	}
	printf("\n");
	if (src->kind == MV_SRC_HTTP && !src->sha256)
		printf("%-10s %-10s sha256 %s: add SHA256=%s below it so it is verified next time\n", "",
		       "unpinned", res.sha256, res.sha256);
	fflush(stdout);
	return 0;
}

int mv_cmd_fetch(int argc, char **argv)
{
	const struct mv_command *c = mv_command_find("fetch");
	static const struct option longopts[] = {
		{"cache-dir", required_argument, NULL, 'c'},
		{"offline", no_argument, NULL, 'o'},
		{"quiet", no_argument, NULL, 'q'},
		{"ca-file", required_argument, NULL, 'a'},
		{"dns", required_argument, NULL, 'd'},
		{"allow-unpinned", no_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	/* fetch is the command that vouches for the cache: entries are
	 * hashed again, not trusted by name. */
	struct mv_fetch_options fo = {.reverify = 1};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': fo.cache_dir = optarg; break;
		case 'o': fo.offline = 1; break;
		case 'q': fo.quiet = 1; break;
		case 'a': fo.ca_file = optarg; break;
		case 'd': fo.dns = optarg; break;
		case 'u': fo.allow_unpinned = 1; break;
		case 'h': mv_usage_command(c, stdout); return 0;
		default: return mv_usage_error(c, "%s", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return mv_usage_error(c, "%s", optind >= argc ? "expected a PROFILE" : "expected one PROFILE");
	if (fo.ca_file && access(fo.ca_file, R_OK) != 0)
		return mv_usage_error(c, "--ca-file %s: cannot read it", fo.ca_file);
	char dns_err[512];
	if (fo.dns && mv_dns_check(fo.dns, dns_err, sizeof(dns_err)) < 0)
		return mv_usage_error(c, "%s", dns_err);

	struct mv_report rep = {.out = stderr};
	struct mv_profile *p = mv_profile_load(argv[optind], &rep);
	if (!p)
		return MV_EXIT_USAGE;
	struct mv_plan *plan = plan_for_sources(p, fo.allow_unpinned, &rep);
	if (!plan) {
		mv_profile_free(p);
		return MV_EXIT_USAGE;
	}
	size_t failed = 0;
	for (size_t i = 0; i < plan->sources.n; i++)
		if (fetch_one(&fo, &plan->sources.v[i]) < 0)
			failed++;
	if (plan->sources.n == 0)
		printf("profile %s names no sources\n", p->name.v);
	if (failed)
		fprintf(stderr, "microvisor fetch: %zu of %zu sources failed\n", failed, plan->sources.n);
	int rc = failed ? MV_EXIT_FAILED : fflush(stdout) == 0 && !ferror(stdout) ? MV_EXIT_OK : MV_EXIT_FAILED;
	mv_plan_free(plan);
	mv_profile_free(p);
	return rc;
}
