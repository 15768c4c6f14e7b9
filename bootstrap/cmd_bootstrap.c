/* microvisor bootstrap PROFILE --prefix DIR: the userland and a
 * single-user Nix in a directory, as an ordinary user (Termux on Android,
 * a home directory): no root, no partitioning. The run (run.c, target
 * MV_TARGET_PREFIX) writes into a temporary directory beside DIR, which is
 * renamed into place only when complete; on failure or a signal it is
 * removed. Then [Handoff] Mode=exec runs the command through the launcher. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "customise.h"
#include "dns.h"
#include "plan.h"
#include "prefix.h"
#include "profile.h"
#include "run.h"
#include "run_options.h"
#include "units.h"

/* The temporary directory, for the signal handler (the one piece of
 * process-wide state: a handler can reach nothing else). */
static char temp_dir[PATH_MAX];

static void remove_temp(int sig)
{
	if (temp_dir[0])
		mv_prefix_remove(temp_dir);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int empty_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	int empty = 1;
	while (empty && (e = readdir(d)))
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/* DIR as an absolute path (the launcher names it), after checking it can
 * become the prefix: its parent exists, and DIR is missing or an empty
 * directory. Returns 0, or an exit status after saying what is wrong. */
static int resolve_prefix(const char *dir, char *abs, size_t len)
{
	char a[PATH_MAX], b[PATH_MAX], parent[PATH_MAX];
	snprintf(a, sizeof(a), "%s", dir);
	snprintf(b, sizeof(b), "%s", dir);
	const char *base = basename(a);
	if (!*base || strcmp(base, "/") == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		fprintf(stderr, "microvisor bootstrap: --prefix %s: name a directory to create (such as ~/microvisor)\n", dir);
		return MV_EXIT_USAGE;
	}
	if (!realpath(dirname(b), parent)) {
		fprintf(stderr, "microvisor bootstrap: --prefix %s: its parent directory: %s (create it first)\n", dir, strerror(errno));
		return MV_EXIT_USAGE;
	}
	if (snprintf(abs, len, "%s/%s", strcmp(parent, "/") == 0 ? "" : parent, base) >= (int)len) {
		fprintf(stderr, "microvisor bootstrap: --prefix %s: path too long\n", dir);
		return MV_EXIT_USAGE;
	}
	struct stat st;
	if (lstat(abs, &st) == 0) {
		/* rename() replaces an empty directory, and only that. */
		if (!S_ISDIR(st.st_mode) || !empty_dir(abs)) {
			fprintf(stderr, "microvisor bootstrap: --prefix %s exists and is not an empty directory: "
					"remove it or choose another (a prefix is never written over)\n", dir);
			return MV_EXIT_USAGE;
		}
	}
	return 0;
}

static int bootstrap(const struct mv_plan *plan, const char *prefix, int quiet, struct mv_fetch_options *fetch)
{
	char copy[PATH_MAX], parent[PATH_MAX], err[2048];
	snprintf(copy, sizeof(copy), "%s", prefix);
	snprintf(parent, sizeof(parent), "%s", prefix);
	snprintf(temp_dir, sizeof(temp_dir), "%s/.%s.microvisor-XXXXXX", dirname(parent), basename(copy));
	mv_catch_signals(remove_temp);
	if (!mkdtemp(temp_dir)) {
		fprintf(stderr, "microvisor bootstrap: cannot create a directory beside %s: %s\n", prefix, strerror(errno));
		temp_dir[0] = '\0';
		return MV_EXIT_FAILED;
	}
	mode_t mask = umask(0);
	umask(mask);
	chmod(temp_dir, 0777 & ~mask);
	fetch->quiet = quiet;
	struct mv_target t = {.fd = -1, .name = prefix, .progress = quiet ? NULL : stderr, .fetch = fetch, .dir = temp_dir};
	int rc = MV_EXIT_FAILED;
	if (mv_run(plan, &t, err, sizeof(err)) < 0)
		fprintf(stderr, "microvisor bootstrap: %s\n", err);
	else if (rename(temp_dir, prefix) < 0)
		fprintf(stderr, "microvisor bootstrap: cannot rename the finished prefix to %s: %s\n", prefix, strerror(errno));
	else
		rc = MV_EXIT_OK, temp_dir[0] = '\0';
	if (temp_dir[0] && mv_prefix_remove(temp_dir) < 0)
		fprintf(stderr, "microvisor bootstrap: could not remove the unfinished %s: %s\n", temp_dir, strerror(errno));
	temp_dir[0] = '\0';
	mv_catch_signals(SIG_DFL);
	return rc;
}

/* After the prefix is in place: Mode=exec runs the command, Mode=none
 * with a command says how to run it. */
static int handoff(const struct mv_plan *plan, const char *prefix, int quiet)
{
	const char *cmd = plan->handoff_command;
	if (!quiet)
		fprintf(stderr, "microvisor: bootstrapped %s; enter it with %s%s\n", prefix, prefix, MV_PREFIX_LAUNCHER);
	if (!cmd)
		return MV_EXIT_OK;
	struct mv_arena a = {0};
	const char *again = mv_printf(&a, "%s%s /bin/sh -c %s", prefix, MV_PREFIX_LAUNCHER, mv_shell_quote(&a, cmd));
	int rc = MV_EXIT_OK;
	if (strcmp(plan->handoff_mode, "exec") != 0) {
		printf("Next: %s\n", again);
		goto out;
	}
	if (!quiet)
		fprintf(stderr, "microvisor: [%d/%d] %s: %s\n", MV_STAGE_HANDOFF + 1, MV_STAGE_COUNT,
			mv_stage_name(MV_STAGE_HANDOFF), cmd);
	fflush(stdout);
	int status = mv_prefix_exec(prefix, cmd);
	if (status != 0) {
		fprintf(stderr, "microvisor bootstrap: the handoff command exited %d; the prefix %s is complete: "
				"run it again with %s\n", status, prefix, again);
		rc = MV_EXIT_FAILED;
	}
out:
	mv_arena_free(&a);
	return rc;
}

int mv_cmd_bootstrap(int argc, char **argv)
{
	const struct mv_command *c = mv_command_find("bootstrap");
	static const struct option longopts[] = {
		{"prefix", required_argument, NULL, 'p'},
		{"dns", required_argument, NULL, 'D'},
		MV_RUN_LONGOPTS,
	};
	/* Our --dns comes before the customisation's in the table, so it
	 * wins: a prefix has no network of its own to name servers for. */
	struct mv_cli_options g = {.cmd = "bootstrap"};
	struct mv_plan_options o = {.target = MV_TARGET_PREFIX, .timestamp = mv_source_date_epoch()};
	struct mv_fetch_options fetch = {0};
	const char *dir = NULL;
	int quiet = 0, opt;
	optind = 1;
	while ((opt = mv_run_getopt(&g, argc, argv, "qh", longopts, &o, &fetch, &quiet)) != -1) {
		switch (opt) {
		case 'p': dir = optarg; break;
		case 'D': fetch.dns = optarg; break;
		case 'h': mv_usage_command(c, stdout); return MV_EXIT_OK;
		case MV_OPT_BAD: return MV_EXIT_USAGE;
		default: return mv_usage_error(c, "%s", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return mv_usage_error(c, "%s", "expected one PROFILE");
	if (!dir)
		return mv_usage_error(c, "%s", "expected --prefix DIR");
	char dns_err[512];
	if (fetch.dns && mv_dns_check(fetch.dns, dns_err, sizeof(dns_err)) < 0)
		return mv_usage_error(c, "%s", dns_err);

	char prefix[PATH_MAX], user[64], shell[PATH_MAX];
	struct mv_report rep = {.out = stderr};
	struct mv_profile *p = mv_profile_load_with(argv[optind], g.sets.v, g.sets.n, &rep);
	if (!p)
		return MV_EXIT_USAGE;
	mv_prefix_user(user, sizeof(user));
	o.user = user;
	o.shell = mv_prefix_shell(shell, sizeof(shell));
	o.path = dir;
	/* The profile is checked before DIR is touched. */
	struct mv_plan *plan = mv_plan_build(p, &o, &rep);
	int rc = MV_EXIT_USAGE;
	char err[1024];
	if (!plan)
		goto out;
	if (mv_run_supported(plan, err, sizeof(err)) < 0) {
		fprintf(stderr, "microvisor bootstrap: %s\n", err);
		goto out;
	}
	if ((rc = resolve_prefix(dir, prefix, sizeof(prefix))) != 0)
		goto out;
	/* Again with the absolute path, which the launcher names. */
	mv_plan_free(plan);
	o.path = prefix;
	if (!(plan = mv_plan_build(p, &o, &rep))) {
		rc = MV_EXIT_USAGE;
		goto out;
	}
	rc = bootstrap(plan, prefix, quiet, &fetch);
	if (rc == MV_EXIT_OK)
		rc = handoff(plan, prefix, quiet);
out:
	mv_plan_free(plan);
	mv_profile_free(p);
	return rc;
}
