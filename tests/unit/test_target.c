/* The safety checks of partition/target against a fabricated system: a
 * sysfs tree, mountinfo and swaps naming a real block device node (made
 * with mknod in the test's directory, so nothing real is looked at or
 * touched). Each refusal names the device and what uses it. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../../partition/target.h"
#include "check_main.h"
#include "shell.h"

static char dir[64], node[128], part[128];
static struct mv_system sys;
static char mountinfo[128], swaps[128], sysfs[128];

static void put(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mv-target-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* Disk 7:200 ("loop200") with partition 7:201, in a fake sysfs. */
	mv_sh("cd %s && mkdir -p sys/dev/block sys/devices/virtual/block/loop200/loop200p1 sys/devices/virtual/block/loop200/holders"
	      " sys/devices/virtual/block/loop200/loop200p1/holders sys/class/block"
	      " && echo 7:200 > sys/devices/virtual/block/loop200/dev && echo 7:201 > sys/devices/virtual/block/loop200/loop200p1/dev"
	      " && echo 1 > sys/devices/virtual/block/loop200/loop200p1/partition"
	      " && ln -s ../../devices/virtual/block/loop200 sys/dev/block/7:200"
	      " && ln -s ../../devices/virtual/block/loop200/loop200p1 sys/dev/block/7:201", dir);
	snprintf(node, sizeof(node), "%s/disk", dir);
	snprintf(part, sizeof(part), "%s/part", dir);
	ck_assert_int_eq(mknod(node, S_IFBLK | 0600, makedev(7, 200)), 0);
	ck_assert_int_eq(mknod(part, S_IFBLK | 0600, makedev(7, 201)), 0);
	put("mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n");
	put("swaps", "Filename\tType\tSize\tUsed\tPriority\n");
	snprintf(mountinfo, sizeof(mountinfo), "%s/mountinfo", dir);
	snprintf(swaps, sizeof(swaps), "%s/swaps", dir);
	snprintf(sysfs, sizeof(sysfs), "%s/sys", dir);
	sys = (struct mv_system){.mountinfo = mountinfo, .swaps = swaps, .sysfs = sysfs, .root = "/"};
}

static void teardown(void)
{
	mv_sh("rm -rf %s", dir);
}

static void refused(const char *path, const char *want)
{
	char err[1024] = "";
	ck_assert_int_eq(mv_blockdev_check(path, &sys, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, want), "wanted \"%s\" in: %s", want, err);
}

START_TEST(an_unused_disk_passes)
{
	char err[1024] = "";
	ck_assert_msg(mv_blockdev_check(node, &sys, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

START_TEST(a_mounted_partition)
{
	put("mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n40 22 7:201 / /mnt/my\\040data rw - ext4 /dev/x rw\n");
	refused(node, "is in use: loop200p1 is mounted at /mnt/my data; unmount it first");
}
END_TEST

START_TEST(the_running_root)
{
	put("mountinfo", "27 1 7:201 / / rw - ext4 /dev/x rw\n");
	refused(node, "holds the running system's root");
}
END_TEST

START_TEST(active_swap)
{
	char text[512];
	snprintf(text, sizeof(text), "Filename\tType\tSize\tUsed\tPriority\n%s partition 1024 0 -2\n", part);
	put("swaps", text);
	refused(node, "is active swap; turn it off first");
}
END_TEST

START_TEST(held_by_device_mapper)
{
	mv_sh("cd %s/sys && mkdir -p devices/virtual/block/dm-0 && echo 253:0 > devices/virtual/block/dm-0/dev"
	      " && ln -s ../../devices/virtual/block/dm-0 class/block/dm-0"
	      " && mkdir devices/virtual/block/loop200/loop200p1/holders/dm-0", dir);
	refused(node, "is held by dm-0 (device-mapper, md RAID or LVM)");
}
END_TEST

START_TEST(a_partition_is_not_a_disk)
{
	refused(part, "is a partition (loop200p1) of /dev/loop200: give the whole disk");
}
END_TEST

START_TEST(a_file_is_not_a_block_device)
{
	refused(mountinfo, "is not a block device");
}
END_TEST

static Suite *target_suite(void)
{
	Suite *s = suite_create("target");
	TCase *tc = tcase_create("checks");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, an_unused_disk_passes);
	tcase_add_test(tc, a_mounted_partition);
	tcase_add_test(tc, the_running_root);
	tcase_add_test(tc, active_swap);
	tcase_add_test(tc, held_by_device_mapper);
	tcase_add_test(tc, a_partition_is_not_a_disk);
	tcase_add_test(tc, a_file_is_not_a_block_device);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(target_suite)
