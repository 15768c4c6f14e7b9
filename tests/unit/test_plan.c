/* The plan: deterministic identifiers from the seed, partition types from
 * the table and architecture, and the checks that need the whole plan. */
#include <check.h>

#include "../../bootstrap/plan.h"
#include "../../bootstrap/seed.h"
#include "check_main.h"
#include "profile_fixture.h"

#define PC "[Profile]\nName=pc\nArchitecture=%s\n[Disk]\nSize=4G\n" \
	   "[Partition esp]\nType=esp\nSize=512M\n[Partition root]\nType=root\nSize=Grow\nGrowFileSystem=yes\n" \
	   "[Bootloader]\nKind=systemd-boot\nKernel=root:/boot/vmlinuz-*\n"

static struct mv_plan *plan_of(struct fixture *f, const char *text, const struct mv_plan_options *o,
			       struct mv_profile **pp)
{
	fixture_write(f, "p.conf", text);
	*pp = fixture_load(f, "p.conf");
	ck_assert_msg(*pp != NULL, "%s", f->messages);
	struct mv_plan *plan = mv_plan_build(*pp, o, &f->rep);
	fflush(f->mem);
	return plan;
}

static char pc_x86[1024], pc_arm[1024];
static void setup(void)
{
	snprintf(pc_x86, sizeof(pc_x86), PC, "x86_64");
	snprintf(pc_arm, sizeof(pc_arm), PC, "aarch64");
}

START_TEST(same_seed_same_identifiers_other_seed_others)
{
	struct fixture f;
	fixture_open(&f);
	struct mv_plan_options o = {.target = MV_TARGET_IMAGE, .path = "x.img", .seed = "one"};
	struct mv_profile *p1, *p2, *p3;
	struct mv_plan *a = plan_of(&f, pc_x86, &o, &p1);
	struct mv_plan *b = plan_of(&f, pc_x86, &o, &p2);
	o.seed = "two";
	struct mv_plan *c = plan_of(&f, pc_x86, &o, &p3);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(a->disk_id, b->disk_id);
	ck_assert_str_ne(a->disk_id, c->disk_id);
	for (size_t i = 0; i < a->parts.n; i++) {
		ck_assert_str_eq(a->parts.v[i].partuuid, b->parts.v[i].partuuid);
		ck_assert_str_eq(a->parts.v[i].fs_id, b->parts.v[i].fs_id);
		ck_assert_str_ne(a->parts.v[i].partuuid, c->parts.v[i].partuuid);
		ck_assert_str_ne(a->parts.v[i].fs_id, c->parts.v[i].fs_id);
	}
	/* No identifier repeats inside one plan. */
	ck_assert_str_ne(a->parts.v[0].partuuid, a->parts.v[1].partuuid);
	ck_assert_str_ne(a->disk_id, a->parts.v[0].partuuid);
	mv_plan_free(a), mv_plan_free(b), mv_plan_free(c);
	mv_profile_free(p1), mv_profile_free(p2), mv_profile_free(p3);
	fixture_close(&f);
}
END_TEST

START_TEST(the_uuid_rule_is_the_documented_one)
{
	/* seed = SHA-256(text); UUID = HMAC-SHA256(seed, purpose)[0..16] with
	 * version 4 and the RFC 4122 variant. Computed independently with
	 * python3: hmac.new(hashlib.sha256(b"one").digest(), b"disk-guid", "sha256"). */
	struct mv_seed s;
	char uuid[37];
	mv_seed_from_text(&s, "one");
	mv_seed_uuid(&s, "disk-guid", uuid);
	FILE *py = popen("python3 -c 'import hmac,hashlib,uuid; d=hmac.new(hashlib.sha256(b\"one\").digest(), b\"disk-guid\", \"sha256\").digest(); b=bytearray(d[:16]); b[6]=(b[6]&15)|64; b[8]=(b[8]&63)|128; print(uuid.UUID(bytes=bytes(b)))'", "r");
	ck_assert_ptr_nonnull(py);
	char want[64] = "";
	ck_assert_ptr_nonnull(fgets(want, sizeof(want), py));
	pclose(py);
	want[strcspn(want, "\n")] = '\0';
	ck_assert_str_eq(uuid, want);
}
END_TEST

START_TEST(default_seed_is_name_and_hostname)
{
	struct fixture f;
	fixture_open(&f);
	struct mv_plan_options o = {.target = MV_TARGET_IMAGE, .path = "x.img"};
	struct mv_profile *p1, *p2, *p3;
	struct mv_plan *a = plan_of(&f, pc_x86, &o, &p1);
	o.seed = "pc\n";
	struct mv_plan *b = plan_of(&f, pc_x86, &o, &p2);
	o.seed = NULL;
	o.hostname = "host1";
	struct mv_plan *c = plan_of(&f, pc_x86, &o, &p3);
	ck_assert_str_eq(a->seed_hex, b->seed_hex); /* "Name\n" + no hostname */
	ck_assert_str_ne(a->seed_hex, c->seed_hex);
	ck_assert_msg(strstr(c->seed_origin, "host1") != NULL, "%s", c->seed_origin);
	mv_plan_free(a), mv_plan_free(b), mv_plan_free(c);
	mv_profile_free(p1), mv_profile_free(p2), mv_profile_free(p3);
	fixture_close(&f);
}
END_TEST

/* An install mixes the disk's identity into the default seed (two machines
 * from one profile share no UUID), never into a seed the user chose. */
START_TEST(an_install_seeds_from_the_disk_identity_too)
{
	struct fixture f;
	fixture_open(&f);
	struct mv_plan_options o = {.target = MV_TARGET_DISK, .path = "/dev/sdx",
				    .device_size = 8ull << 30, .device_sector_size = 512};
	struct mv_profile *p[5];
	struct mv_plan *none = plan_of(&f, pc_x86, &o, &p[0]);
	o.disk_identity = "naa.5000c500a1b2c3d4";
	struct mv_plan *one = plan_of(&f, pc_x86, &o, &p[1]);
	o.disk_identity = "naa.5000c500a1b2c3d5";
	struct mv_plan *two = plan_of(&f, pc_x86, &o, &p[2]);
	o.seed = "fleet";
	struct mv_plan *chosen = plan_of(&f, pc_x86, &o, &p[3]);
	o.disk_identity = NULL;
	struct mv_plan *chosen_bare = plan_of(&f, pc_x86, &o, &p[4]);
	ck_assert_str_ne(none->seed_hex, one->seed_hex);
	ck_assert_str_ne(one->seed_hex, two->seed_hex);
	ck_assert_str_ne(one->parts.v[1].partuuid, two->parts.v[1].partuuid);
	ck_assert_msg(strstr(one->seed_origin, "disk naa.5000c500a1b2c3d4") != NULL, "%s", one->seed_origin);
	ck_assert_str_eq(chosen->seed_hex, chosen_bare->seed_hex);
	mv_plan_free(none), mv_plan_free(one), mv_plan_free(two), mv_plan_free(chosen), mv_plan_free(chosen_bare);
	for (int i = 0; i < 5; i++)
		mv_profile_free(p[i]);
	fixture_close(&f);
}
END_TEST

START_TEST(root_type_follows_the_architecture)
{
	struct fixture f;
	fixture_open(&f);
	struct mv_plan_options o = {.target = MV_TARGET_IMAGE, .path = "x.img"};
	struct mv_profile *p1, *p2;
	struct mv_plan *x = plan_of(&f, pc_x86, &o, &p1);
	struct mv_plan *a = plan_of(&f, pc_arm, &o, &p2);
	ck_assert_str_eq(x->parts.v[0].type.guid, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
	ck_assert_str_eq(x->parts.v[1].type.guid, "4f68bce3-e8cd-4db1-96e7-fbcaf984b709");
	ck_assert_str_eq(a->parts.v[1].type.guid, "b921b045-1df0-41c3-af44-4c6f280d3fae");
	ck_assert_uint_eq(x->parts.v[1].attributes, UINT64_C(1) << 59);
	ck_assert_int_eq(x->parts.v[1].fs, MV_FS_EXT4);
	ck_assert_int_eq(x->parts.v[0].fs, MV_FS_VFAT);
	mv_plan_free(x), mv_plan_free(a);
	mv_profile_free(p1), mv_profile_free(p2);
	fixture_close(&f);
}
END_TEST

START_TEST(mbr_partuuids_come_from_the_disk_signature)
{
	struct fixture f;
	fixture_open(&f);
	struct mv_plan_options o = {.target = MV_TARGET_IMAGE, .path = "x.img", .seed = "s"};
	struct mv_profile *p;
	struct mv_plan *plan = plan_of(&f,
		"[Profile]\nName=pi\nArchitecture=aarch64\n[Disk]\nTable=mbr\nSize=1G\n"
		"[Partition fw]\nType=fat32\nSize=256M\n[Partition root]\nType=linux\nSize=Grow\n"
		"[Partition raw]\nType=0xda\nSize=1M\n", &o, &p);
	ck_assert_msg(plan != NULL, "%s", f.messages);
	ck_assert_uint_eq(strlen(plan->disk_id), 8);
	char want[64];
	snprintf(want, sizeof(want), "%s-02", plan->disk_id);
	ck_assert_str_eq(plan->parts.v[1].partuuid, want);
	ck_assert_uint_eq(plan->parts.v[0].type.mbr, 0x0c);
	ck_assert_uint_eq(plan->parts.v[2].type.mbr, 0xda);
	ck_assert_int_eq(plan->parts.v[2].fs, MV_FS_NONE);
	/* A FAT volume id is XXXX-XXXX. */
	ck_assert_uint_eq(strlen(plan->parts.v[0].fs_id), 9);
	ck_assert_int_eq(plan->parts.v[0].fs_id[4], '-');
	mv_plan_free(plan);
	mv_profile_free(p);
	fixture_close(&f);
}
END_TEST

START_TEST(type_names_belong_to_their_table)
{
	struct fixture f;
	fixture_open(&f);
	struct mv_plan_options o = {.target = MV_TARGET_IMAGE, .path = "x.img"};
	struct mv_profile *p;
	struct mv_plan *plan = plan_of(&f,
		"[Profile]\nName=t\nArchitecture=x86_64\n[Disk]\nTable=mbr\nSize=1G\n"
		"[Partition a]\nType=esp\nSize=256M\n[Partition b]\nType=roots\nSize=1M\n", &o, &p);
	ck_assert_ptr_null(plan);
	ck_assert_message(&f, "p.conf:8: Type=esp: type esp is a gpt type but the table is mbr");
	ck_assert_message(&f, "p.conf:11: Type=roots: unknown partition type roots; mbr takes: fat32, linux, swap, efi, freebsd");
	mv_profile_free(p);
	fixture_close(&f);
}
END_TEST

START_TEST(plan_level_errors)
{
	struct fixture f;
	fixture_open(&f);
	struct mv_plan_options o = {.target = MV_TARGET_IMAGE, .path = "x.img"};
	struct mv_profile *p;
	/* A disk too small names what is missing; an unpinned download and
	 * a loader without its partitions are refused, each on its line. */
	struct mv_plan *plan = plan_of(&f,
		"[Profile]\nName=t\nArchitecture=x86_64\n[Disk]\nSize=100M\n"
		"[Partition root]\nType=root\nSize=200M\n"
		"[Userland]\nSource=https://example.org/rootfs.tar\n", &o, &p);
	ck_assert_ptr_null(plan);
	ck_assert_message(&f, "p.conf:5: the partitions need 201 MiB");
	ck_assert_message(&f, "101 MiB missing");
	mv_profile_free(p);
	fixture_close(&f);

	fixture_open(&f);
	plan = plan_of(&f,
		"[Profile]\nName=t\nArchitecture=x86_64\n[Partition root]\nType=root\nSize=200M\n"
		"[Userland]\nSource=https://example.org/rootfs.tar\n[Bootloader]\nKind=systemd-boot\n", &o, &p);
	ck_assert_ptr_null(plan);
	ck_assert_message(&f, "p.conf:8: https://example.org/rootfs.tar: a remote source needs a SHA256= pin");
	mv_profile_free(p);
	fixture_close(&f);

	fixture_open(&f);
	o.allow_unpinned = 1;
	plan = plan_of(&f,
		"[Profile]\nName=t\nArchitecture=x86_64\n[Partition root]\nType=root\nSize=200M\n"
		"[Userland]\nSource=https://example.org/rootfs.tar\n[Bootloader]\nKind=systemd-boot\n", &o, &p);
	ck_assert_ptr_null(plan);
	ck_assert_message(&f, "p.conf:10: Kind=systemd-boot: systemd-boot needs a partition with Type=esp");
	mv_profile_free(p);
	fixture_close(&f);
}
END_TEST

START_TEST(root_destinations_need_a_root)
{
	struct fixture f;
	fixture_open(&f);
	struct mv_plan_options o = {.target = MV_TARGET_IMAGE, .path = "x.img"};
	struct mv_profile *p;
	struct mv_plan *plan = plan_of(&f, "[Profile]\nName=t\nArchitecture=x86_64\n[Partition esp]\nType=esp\nSize=64M\n"
					 "[Files]\nCopy=hello.txt root:/hello.txt\n", &o, &p);
	ck_assert_ptr_null(plan);
	ck_assert_message(&f, "p.conf:8: Copy=: root:/hello.txt, but the disk has no root partition");
	mv_profile_free(p);
	fixture_close(&f);
}
END_TEST

START_TEST(prefix_plans_need_no_partitions_and_disks_need_some)
{
	struct fixture f;
	fixture_open(&f);
	const char *termux = "[Profile]\nName=t\nArchitecture=aarch64\n[Userland]\nSource=rootfs.tar\n"
			     "[Nix]\nTarball=nix.tar.xz\n[Handoff]\nMode=exec\nCommand=true\n";
	struct mv_plan_options o = {.target = MV_TARGET_PREFIX, .path = "/data/prefix"};
	struct mv_profile *p;
	struct mv_plan *plan = plan_of(&f, termux, &o, &p);
	ck_assert_msg(plan != NULL, "%s", f.messages);
	ck_assert_int_eq(plan->multi_user, 0);
	int sandbox_off = 0;
	for (size_t i = 0; i < plan->steps.n; i++)
		if (plan->steps.v[i].content && strstr(plan->steps.v[i].content, "sandbox = false"))
			sandbox_off = 1;
	ck_assert_int_eq(sandbox_off, 1);
	mv_plan_free(plan);
	mv_profile_free(p);
	/* A prefix has no first boot and no partitions but root. */
	plan = plan_of(&f, "[Profile]\nName=t\nArchitecture=aarch64\n[Handoff]\nMode=firstboot\nCommand=true\n", &o, &p);
	ck_assert_ptr_null(plan);
	ck_assert_message(&f, "p.conf:5: Mode=firstboot installs a unit");
	mv_profile_free(p);
	o.target = MV_TARGET_IMAGE;
	plan = plan_of(&f, termux, &o, &p);
	ck_assert_ptr_null(plan);
	ck_assert_message(&f, "has no [Partition NAME] sections, so it cannot make a disk");
	mv_profile_free(p);
	char text[2048];
	snprintf(text, sizeof(text), "%s[Handoff]\nMode=exec\nCommand=true\n", pc_x86);
	plan = plan_of(&f, text, &o, &p);
	ck_assert_ptr_null(plan);
	ck_assert_message(&f, "p.conf:17: Mode=exec runs the command in a prefix");
	mv_profile_free(p);
	fixture_close(&f);
}
END_TEST

START_TEST(stages_come_in_the_documented_order)
{
	struct fixture f;
	fixture_open(&f);
	struct mv_plan_options o = {.target = MV_TARGET_IMAGE, .path = "x.img"};
	struct mv_profile *p;
	char text[2048];
	snprintf(text, sizeof(text), "%s[Userland]\nSource=root.tar\n[Nix]\nTarball=nix.tar.xz\n"
		 "[Files]\nCopy=motd root:/etc/machine-id 0444\n[Handoff]\nMode=firstboot\nCommand=nix run x\n", pc_x86);
	struct mv_plan *plan = plan_of(&f, text, &o, &p);
	ck_assert_msg(plan != NULL, "%s", f.messages);
	int last = -1, saw_replace = 0;
	for (size_t i = 0; i < plan->steps.n; i++) {
		ck_assert_int_ge((int)plan->steps.v[i].stage, last);
		last = (int)plan->steps.v[i].stage;
		if (plan->steps.v[i].stage == MV_STAGE_FILES && strstr(plan->steps.v[i].action, "replaces the file generated by the stage bootloader"))
			saw_replace = 1;
	}
	ck_assert_int_eq(last, MV_STAGE_HANDOFF);
	ck_assert_int_eq(saw_replace, 1);
	mv_plan_free(plan);
	mv_profile_free(p);
	fixture_close(&f);
}
END_TEST

static Suite *plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("plan");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, same_seed_same_identifiers_other_seed_others);
	tcase_add_test(tc, the_uuid_rule_is_the_documented_one);
	tcase_add_test(tc, default_seed_is_name_and_hostname);
	tcase_add_test(tc, an_install_seeds_from_the_disk_identity_too);
	tcase_add_test(tc, root_type_follows_the_architecture);
	tcase_add_test(tc, mbr_partuuids_come_from_the_disk_signature);
	tcase_add_test(tc, type_names_belong_to_their_table);
	tcase_add_test(tc, plan_level_errors);
	tcase_add_test(tc, root_destinations_need_a_root);
	tcase_add_test(tc, prefix_plans_need_no_partitions_and_disks_need_some);
	tcase_add_test(tc, stages_come_in_the_documented_order);
	suite_add_tcase(s, tc);
	return s;
}

MV_CHECK_MAIN(plan_suite)
