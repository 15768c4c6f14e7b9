/* The prefix module: the caller's name, the launcher's text (judged by
 * sh itself: it parses, and a hostile prefix path stays one word), and
 * removing an unfinished prefix with read-only directories in it, and the
 * hand-off's exit status. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../bootstrap/plan.h"
#include "../../bootstrap/prefix.h"
#include "check_main.h"
#include "profile_fixture.h"
#include "shell.h"

START_TEST(the_user_comes_from_USER_when_it_is_a_name)
{
	char name[64];
	setenv("USER", "alice", 1);
	mv_prefix_user(name, sizeof(name));
	ck_assert_str_eq(name, "alice");
	/* Not a name Nix could use as a directory: the password database. */
	setenv("USER", "../root", 1);
	mv_prefix_user(name, sizeof(name));
	ck_assert_str_ne(name, "../root");
	ck_assert_ptr_null(strchr(name, '/'));
	ck_assert_int_gt((int)strlen(name), 0);
	unsetenv("USER");
}
END_TEST

static struct mv_plan *prefix_plan(struct fixture *f, struct mv_profile **p, const char *path)
{
	fixture_write(f, "t.conf",
		      "[Profile]\nName=t\nArchitecture=aarch64\n"
		      "[Handoff]\nMode=exec\nCommand=echo hi\n");
	*p = fixture_load(f, "t.conf");
	ck_assert_ptr_nonnull(*p);
	struct mv_plan_options o = {.target = MV_TARGET_PREFIX, .path = path, .user = "bob", .shell = "/bin/sh"};
	struct mv_plan *plan = mv_plan_build(*p, &o, &f->rep);
	fflush(f->mem);
	ck_assert_msg(plan != NULL, "%s", f->messages);
	return plan;
}

START_TEST(the_launcher_parses_and_quotes_the_prefix)
{
	struct fixture f;
	fixture_open(&f);
	struct mv_profile *p;
	char path[256];
	snprintf(path, sizeof(path), "%s/it's $(touch pwned) here", f.dir);
	struct mv_plan *plan = prefix_plan(&f, &p, path);
	const char *text = mv_prefix_launcher(&plan->arena, plan);
	ck_assert_msg(strncmp(text, "#!/bin/sh\n", 10) == 0, "%s", text);
	ck_assert_ptr_nonnull(strstr(text, "\nuser='bob'\n"));
	ck_assert_ptr_nonnull(strstr(text, "\narch=aarch64\n"));
	ck_assert_ptr_nonnull(strstr(text, "pkg install proot"));
	ck_assert_ptr_null(strstr(text, "nix-store --load-db")); /* no [Nix] here */
	fixture_write(&f, "launcher", text);
	mv_sh("sh -n %s/launcher", f.dir);
	/* The root= line, run by sh, gives back the path, and runs nothing. */
	mv_sh("cd %s && (sed -n '/^root=/p' launcher; echo 'printf %%s \"$root\" > got') > show && sh show && test ! -e pwned",
	      f.dir);
	char got_path[300], got[300] = "";
	snprintf(got_path, sizeof(got_path), "%s/got", f.dir);
	FILE *g = fopen(got_path, "r");
	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_nonnull(fgets(got, sizeof(got), g));
	fclose(g);
	ck_assert_str_eq(got, path);
	mv_plan_free(plan);
	mv_profile_free(p);
	fixture_close(&f);
}
END_TEST

START_TEST(an_unfinished_prefix_is_removed_read_only_parts_too)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/mv-prefix-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	mv_sh("cd %s && mkdir -p p/nix/store/x/bin p/a/b && echo x > p/nix/store/x/bin/f && ln -s /etc p/l && mkfifo p/a/fifo"
	      " && for i in $(seq 300); do : > p/a/b/f$i; done && chmod 0444 p/nix/store/x/bin/f"
	      " && chmod 0555 p/nix/store/x/bin p/nix/store/x p/a/b && chmod 0000 p/a",
	      dir);
	char p[128];
	snprintf(p, sizeof(p), "%s/p", dir);
	ck_assert_int_eq(mv_prefix_remove(p), 0);
	mv_sh("test ! -e %s/p && test -d /etc", dir);
	ck_assert_int_eq(mv_prefix_remove(p), 0); /* already gone: nothing to do */
	mv_sh("rm -rf %s", dir);
}
END_TEST

START_TEST(the_handoff_status_comes_back_even_when_SIGCHLD_is_ignored)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/mv-prefix-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* A stand-in launcher: runs its arguments, as the real one does inside proot. */
	mv_sh("mkdir -p %s/bin && printf '#!/bin/sh\\nexec \"$@\"\\n' > %s" MV_PREFIX_LAUNCHER, dir, dir);
	ck_assert_int_eq(mv_prefix_exec(dir, "exit 4"), 4);
	signal(SIGCHLD, SIG_IGN);
	int got = mv_prefix_exec(dir, "exit 4"), ok = mv_prefix_exec(dir, "true");
	signal(SIGCHLD, SIG_DFL);
	ck_assert_int_eq(got, 4);
	ck_assert_int_eq(ok, 0);
	mv_sh("rm -rf %s", dir);
}
END_TEST

static Suite *prefix_suite(void)
{
	Suite *s = suite_create("prefix");
	TCase *tc = tcase_create("prefix");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, the_user_comes_from_USER_when_it_is_a_name);
	tcase_add_test(tc, the_launcher_parses_and_quotes_the_prefix);
	tcase_add_test(tc, an_unfinished_prefix_is_removed_read_only_parts_too);
	tcase_add_test(tc, the_handoff_status_comes_back_even_when_SIGCHLD_is_ignored);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(prefix_suite)
