/* The hand-off (bootstrap/handoff.h): the exact command, the init rule
 * read from a userland tree, the inittab hook, and what plan says per
 * mode. The scripts themselves are judged by real shells, systemd and a
 * boot (tests/integration/handoff.sh, boot-handoff.sh). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "../../bootstrap/handoff.h"
#include "../../images/dir.h"
#include "check_main.h"
#include "profile_fixture.h"

#define IMG "[Profile]\nName=pc\nArchitecture=x86_64\n[Disk]\nSize=1G\n" \
	    "[Partition esp]\nType=esp\nSize=64M\n[Partition root]\nType=root\nSize=Grow\n"

static struct mv_plan *plan_of(struct fixture *f, const char *text, enum mv_target_kind target, struct mv_profile **pp)
{
	struct mv_plan_options o = {.target = target, .path = target == MV_TARGET_DISK ? "/dev/null" : "x.img",
				    .device_size = 1ull << 30, .device_sector_size = 512};
	fixture_write(f, "p.conf", text);
	*pp = fixture_load(f, "p.conf");
	ck_assert_msg(*pp != NULL, "%s", f->messages);
	struct mv_plan *plan = mv_plan_build(*pp, &o, &f->rep);
	fflush(f->mem);
	return plan;
}

static void sh(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

START_TEST(the_command_carries_the_flake_and_for_none_the_registration)
{
	struct fixture f;
	fixture_open(&f);
	fixture_write(&f, "nix.tar.xz", "");
	struct mv_profile *p;
	struct mv_plan *plan = plan_of(&f, IMG "[Nix]\nTarball=nix.tar.xz\nFlake=github:o/it's\n[Handoff]\nMode=firstboot\n"
					   "Command=nix run \"$MICROVISOR_FLAKE#apply\"\n", MV_TARGET_IMAGE, &p);
	ck_assert_msg(plan != NULL, "%s", f.messages);
	ck_assert_str_eq(plan->handoff_command, "export MICROVISOR_FLAKE='github:o/it'\\''s'; nix run \"$MICROVISOR_FLAKE#apply\"");
	struct mv_arena a = {0};
	ck_assert_str_eq(mv_handoff_command(&a, plan, 1),
			 "export PATH=/nix/var/nix/profiles/default/bin:$PATH; nix-store --load-db < /nix-path-registration && "
			 "export MICROVISOR_FLAKE='github:o/it'\\''s'; nix run \"$MICROVISOR_FLAKE#apply\"");
	mv_arena_free(&a);
	mv_plan_free(plan);
	mv_profile_free(p);
	/* A local flake is where the Nix stage copies it; no Nix, no flake. */
	sh("mkdir -p /tmp/mv-handoff-flake");
	plan = plan_of(&f, IMG "[Nix]\nTarball=nix.tar.xz\nFlake=/tmp/mv-handoff-flake\n[Handoff]\nCommand=apply\n", MV_TARGET_IMAGE, &p);
	ck_assert_msg(plan != NULL, "%s", f.messages);
	ck_assert_str_eq(plan->handoff_mode, "none");
	ck_assert_str_eq(plan->handoff_command, "export PATH=/nix/var/nix/profiles/default/bin:$PATH; nix-store --load-db < "
						"/nix-path-registration && export MICROVISOR_FLAKE='/etc/microvisor/flake'; apply");
	mv_plan_free(plan);
	mv_profile_free(p);
	plan = plan_of(&f, IMG "[Handoff]\nCommand=apply\n", MV_TARGET_IMAGE, &p);
	ck_assert_str_eq(plan->handoff_command, "apply");
	mv_plan_free(plan);
	mv_profile_free(p);
	plan = plan_of(&f, IMG, MV_TARGET_IMAGE, &p);
	ck_assert_ptr_null(plan->handoff_command);
	mv_plan_free(plan);
	mv_profile_free(p);
	fixture_close(&f);
	sh("rm -rf /tmp/mv-handoff-flake");
}
END_TEST

START_TEST(chroot_is_for_install_only)
{
	struct fixture f;
	fixture_open(&f);
	struct mv_profile *p;
	const char *text = IMG "[Handoff]\nMode=chroot\nCommand=apply\n";
	struct mv_plan *plan = plan_of(&f, text, MV_TARGET_IMAGE, &p);
	ck_assert_ptr_null(plan);
	ck_assert_msg(strstr(f.messages, "p.conf:13: Mode=chroot is for microvisor install only"), "%s", f.messages);
	mv_profile_free(p);
	plan = plan_of(&f, text, MV_TARGET_DISK, &p);
	ck_assert_msg(plan != NULL, "%s", f.messages);
	int said = 0;
	for (size_t i = 0; i < plan->steps.n; i++)
		said |= plan->steps.v[i].stage == MV_STAGE_HANDOFF && strstr(plan->steps.v[i].action, "microvisor install only") &&
			strcmp(plan->steps.v[i].content, "apply") == 0;
	ck_assert_int_eq(said, 1);
	mv_plan_free(plan);
	mv_profile_free(p);
	/* In the installed root before any boot, Nix needs its registration. */
	fixture_write(&f, "nix.tar.xz", "");
	plan = plan_of(&f, IMG "[Nix]\nTarball=nix.tar.xz\n[Handoff]\nMode=chroot\nCommand=apply\n", MV_TARGET_DISK, &p);
	ck_assert_msg(plan != NULL, "%s", f.messages);
	ck_assert_str_eq(plan->handoff_command, "export PATH=/nix/var/nix/profiles/default/bin:$PATH; nix-store --load-db < "
						"/nix-path-registration && apply");
	mv_plan_free(plan);
	mv_profile_free(p);
	fixture_close(&f);
}
END_TEST

/* A userland tree made with the shell, read through the dir writer. */
static int init_of(const char *setup, enum mv_init *init, char *why, size_t len)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "rm -rf /tmp/mv-handoff-ul && mkdir -p /tmp/mv-handoff-ul/sbin /tmp/mv-handoff-ul/etc "
		 "/tmp/mv-handoff-ul/bin /tmp/mv-handoff-ul/lib/systemd && cd /tmp/mv-handoff-ul && %s", setup);
	sh(cmd);
	struct mv_dir_options o = {0};
	char err[512];
	struct mv_fs *fs = mv_dir_open("/tmp/mv-handoff-ul", &o, err, sizeof(err));
	ck_assert_msg(fs != NULL, "%s", err);
	int rc = mv_handoff_init(fs, init, why, len);
	mv_fs_destroy(fs);
	return rc;
}

START_TEST(the_init_is_read_from_the_userland)
{
	enum mv_init init;
	char why[512] = "";
	ck_assert_int_eq(init_of("touch lib/systemd/systemd && ln -s ../lib/systemd/systemd sbin/init", &init, why, sizeof(why)), 0);
	ck_assert_int_eq(init, MV_INIT_SYSTEMD);
	/* Ubuntu's absolute link, through usr-merge */
	ck_assert_int_eq(init_of("mkdir -p usr/lib/systemd && touch usr/lib/systemd/systemd && ln -s /usr/lib/systemd/systemd sbin/init",
				 &init, why, sizeof(why)), 0);
	ck_assert_int_eq(init, MV_INIT_SYSTEMD);
	ck_assert_int_eq(init_of("touch bin/busybox sbin/openrc etc/inittab && ln -s /bin/busybox sbin/init", &init, why, sizeof(why)), 0);
	ck_assert_int_eq(init, MV_INIT_OPENRC);
	ck_assert_int_eq(init_of("touch bin/busybox etc/inittab && ln -s ../bin/busybox sbin/init", &init, why, sizeof(why)), 0);
	ck_assert_int_eq(init, MV_INIT_BUSYBOX);
	ck_assert_int_eq(init_of("touch bin/busybox && ln -s ../bin/busybox sbin/init", &init, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "busybox but it has no /etc/inittab"), "%s", why);
	ck_assert_int_eq(init_of("true", &init, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "(/sbin/init is missing)"), "%s", why);
	ck_assert_int_eq(init_of("touch sbin/init", &init, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "(/sbin/init leads to init)"), "%s", why);
	sh("rm -rf /tmp/mv-handoff-ul");
}
END_TEST

START_TEST(busybox_gets_one_inittab_line_after_its_own)
{
	struct fixture f;
	fixture_open(&f);
	struct mv_profile *p;
	struct mv_plan *plan = plan_of(&f, IMG "[Handoff]\nMode=firstboot\nCommand=apply\n", MV_TARGET_IMAGE, &p);
	ck_assert_msg(plan != NULL, "%s", f.messages);
	enum mv_init init;
	char why[512];
	ck_assert_int_eq(init_of("touch bin/busybox && printf '::sysinit:/etc/init.d/rcS' >etc/inittab && ln -s ../bin/busybox sbin/init",
				 &init, why, sizeof(why)), 0);
	struct mv_dir_options o = {0};
	struct mv_fs *fs = mv_dir_open("/tmp/mv-handoff-ul", &o, why, sizeof(why));
	ck_assert_ptr_nonnull(fs);
	char err[1024];
	ck_assert_msg(mv_handoff_install(plan, fs, &init, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(init, MV_INIT_BUSYBOX);
	char *text;
	size_t len;
	ck_assert_int_eq(mv_fs_read_file(fs, "/etc/inittab", &text, &len), 0);
	ck_assert_str_eq(text, "::sysinit:/etc/init.d/rcS\n::sysinit:/etc/microvisor/handoff\n");
	free(text);
	struct mv_stat st;
	ck_assert_int_eq(mv_fs_stat(fs, "/etc/microvisor/handoff", MV_FS_NOFOLLOW, &st), 0);
	ck_assert_int_eq(st.mode & 07777, 0755);
	ck_assert_int_eq(mv_fs_stat(fs, "/etc/systemd/system/microvisor-handoff.service", MV_FS_NOFOLLOW, &st), -ENOENT);
	mv_fs_destroy(fs);
	mv_plan_free(plan);
	mv_profile_free(p);
	fixture_close(&f);
	sh("rm -rf /tmp/mv-handoff-ul");
}
END_TEST

static Suite *handoff_suite(void)
{
	Suite *s = suite_create("handoff");
	TCase *tc = tcase_create("handoff");
	tcase_add_test(tc, the_command_carries_the_flake_and_for_none_the_registration);
	tcase_add_test(tc, chroot_is_for_install_only);
	tcase_add_test(tc, the_init_is_read_from_the_userland);
	tcase_add_test(tc, busybox_gets_one_inittab_line_after_its_own);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(handoff_suite)
