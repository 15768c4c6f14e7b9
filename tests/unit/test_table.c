/* Partition tables written with libfdisk, judged by sfdisk. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../partition/table.h"
#include "check_main.h"

#define MiB (UINT64_C(1) << 20)

static char path[64];

static void setup(void)
{
	snprintf(path, sizeof(path), "/tmp/mv-table-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void teardown(void)
{
	unlink(path);
}

static void write_table(const struct mv_table_spec *spec, uint64_t size)
{
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	char err[256] = "";
	ck_assert_msg(mv_table_write(fd, path, spec, err, sizeof(err)) == 0, "%s", err);
	close(fd);
}

static void sh(const char *fmt, const char *arg, char *out, size_t len)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), fmt, arg);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	ck_assert_msg(pclose(p) == 0, "failed: %s\n%s", cmd, out);
}

static const struct mv_table_part gpt_parts[] = {
	{.start = MiB, .size = 64 * MiB, .type_guid = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
	 .partuuid = "0a1b2c3d-0000-4000-8000-000000000001", .name = "ESP"},
	{.start = 65 * MiB, .size = 190 * MiB, .type_guid = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709",
	 .partuuid = "0a1b2c3d-0000-4000-8000-000000000002", .name = "root", .attributes = UINT64_C(1) << 59},
};

START_TEST(gpt_as_planned)
{
	struct mv_table_spec spec = {.table = MV_TABLE_GPT, .sector_size = 512,
				     .disk_id = "11111111-2222-4333-8444-555555555555", .n = 2, .parts = gpt_parts};
	write_table(&spec, 256 * MiB);
	char out[8192];
	sh("sfdisk --verify %s 2>&1", path, out, sizeof(out));
	ck_assert_msg(!strstr(out, "problem") || strstr(out, "No errors detected"), "%s", out);
	/* python reads sfdisk's JSON and checks every planned value. */
	sh("sfdisk --json %s | python3 -c '"
	   "import json,sys; t=json.load(sys.stdin)[\"partitiontable\"]; p=t[\"partitions\"];"
	   "assert t[\"label\"]==\"gpt\" and t[\"id\"]==\"11111111-2222-4333-8444-555555555555\", t;"
	   "assert t[\"lastlba\"]==256*2048-34, t;"
	   "assert [(x[\"start\"],x[\"size\"]) for x in p]==[(2048,64*2048),(65*2048,190*2048)], p;"
	   "assert p[0][\"type\"]==\"C12A7328-F81F-11D2-BA4B-00A0C93EC93B\" and p[0][\"name\"]==\"ESP\", p;"
	   "assert p[1][\"uuid\"]==\"0A1B2C3D-0000-4000-8000-000000000002\" and p[1][\"attrs\"]==\"GUID:59\", p;"
	   "print(\"ok\")'", path, out, sizeof(out));
	ck_assert_str_eq(out, "ok\n");
}
END_TEST

START_TEST(same_spec_same_bytes)
{
	struct mv_table_spec spec = {.table = MV_TABLE_GPT, .sector_size = 512,
				     .disk_id = "11111111-2222-4333-8444-555555555555", .n = 2, .parts = gpt_parts};
	char a[128], b[128];
	write_table(&spec, 256 * MiB);
	sh("sha256sum < %s", path, a, sizeof(a));
	write_table(&spec, 256 * MiB);
	sh("sha256sum < %s", path, b, sizeof(b));
	ck_assert_str_eq(a, b);
}
END_TEST

START_TEST(mbr_as_planned)
{
	const struct mv_table_part parts[] = {
		{.start = MiB, .size = 256 * MiB, .mbr_type = 0x0c, .bootable = 1},
		{.start = 257 * MiB, .size = 767 * MiB, .mbr_type = 0x83},
	};
	struct mv_table_spec spec = {.table = MV_TABLE_MBR, .sector_size = 512, .disk_id = "d6560fe2", .n = 2, .parts = parts};
	write_table(&spec, 1024 * MiB);
	char out[4096];
	sh("sfdisk --json %s | python3 -c '"
	   "import json,sys; t=json.load(sys.stdin)[\"partitiontable\"]; p=t[\"partitions\"];"
	   "assert t[\"label\"]==\"dos\" and t[\"id\"]==\"0xd6560fe2\", t;"
	   "assert [(x[\"start\"],x[\"size\"],x[\"type\"]) for x in p]==[(2048,256*2048,\"c\"),(257*2048,767*2048,\"83\")], p;"
	   "assert p[0].get(\"bootable\") and not p[1].get(\"bootable\"), p;"
	   "print(\"ok\")'", path, out, sizeof(out));
	ck_assert_str_eq(out, "ok\n");
	/* The signature at byte 440, little-endian, is what Linux's
	 * PARTUUID=d6560fe2-02 is made of. */
	sh("dd if=%s bs=1 skip=440 count=4 status=none | od -An -tx4 | tr -d ' \\n'", path, out, sizeof(out));
	ck_assert_str_eq(out, "d6560fe2");
}
END_TEST

START_TEST(four_k_sectors)
{
	const struct mv_table_part parts[] = {
		{.start = MiB, .size = 260 * MiB, .type_guid = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
		 .partuuid = "0a1b2c3d-0000-4000-8000-000000000001", .name = "ESP"},
	};
	struct mv_table_spec spec = {.table = MV_TABLE_GPT, .sector_size = 4096,
				     .disk_id = "11111111-2222-4333-8444-555555555555", .n = 1, .parts = parts};
	write_table(&spec, 512 * MiB);
	/* The primary header sits at LBA 1 = byte 4096 with 4Kn. */
	char out[64];
	sh("dd if=%s bs=4096 skip=1 count=1 status=none | head -c 8", path, out, sizeof(out));
	ck_assert_str_eq(out, "EFI PART");
}
END_TEST

static Suite *table_suite(void)
{
	Suite *s = suite_create("table");
	TCase *tc = tcase_create("libfdisk");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, gpt_as_planned);
	tcase_add_test(tc, same_spec_same_bytes);
	tcase_add_test(tc, mbr_as_planned);
	tcase_add_test(tc, four_k_sectors);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(table_suite)
