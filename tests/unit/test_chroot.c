/* [Handoff] Mode=chroot's runner: a real ext4 root made by mkfs.ext4 -d
 * (busybox-static as /bin/sh), mounted through a loop device in a private
 * namespace by mv_chroot_run. Needs root, as the mode does. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../bootstrap/chroot.h"
#include "check_main.h"

static char dir[64], img[80];

static int make_root(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_chroot.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s.img", dir);
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/bin && cp /bin/busybox %s/bin/sh && truncate -s 32M %s && mkfs.ext4 -q -F -d %s %s",
		 dir, dir, img, dir, img);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
	int fd = open(img, O_RDWR);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static void drop(int fd)
{
	close(fd);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, img);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_status)
{
	if (geteuid() != 0)
		return; /* the mode needs root; so does this test */
	int fd = make_root();
	char err[256] = "";
	ck_assert_msg(mv_chroot_run(fd, 0, 32 << 20, "ext4", "test -d /proc/self && exit 0", err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(mv_chroot_run(fd, 0, 32 << 20, "ext4", "exit 3", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "the command exited with status 3");
	/* A caller that ignores SIGCHLD (some service managers and shells
	 * hand that on): the child's status must still be read. */
	signal(SIGCHLD, SIG_IGN);
	err[0] = '\0';
	int rc = mv_chroot_run(fd, 0, 32 << 20, "ext4", "exit 5", err, sizeof(err));
	signal(SIGCHLD, SIG_DFL);
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(err, "the command exited with status 5");
	drop(fd);
}
END_TEST

static Suite *chroot_suite(void)
{
	Suite *s = suite_create("chroot");
	TCase *tc = tcase_create("chroot");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_status);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(chroot_suite)
