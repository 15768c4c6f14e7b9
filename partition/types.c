#include "types.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* GUIDs from boot-spec.md §0.4 (UAPI.2 and FreeBSD's gpt.h). */
#define ROOT_X86_64 "4f68bce3-e8cd-4db1-96e7-fbcaf984b709"
#define ROOT_ARM64 "b921b045-1df0-41c3-af44-4c6f280d3fae"
#define USR_X86_64 "8484680c-9521-48c6-9c11-b0720656f69e"
#define USR_ARM64 "b0e01050-ee5f-4390-949a-9101b17104e9"

struct row {
	const char *name;
	enum mv_table table;
	const char *guid_x86_64; /* or the only GUID when not per-architecture */
	const char *guid_aarch64;
	uint8_t mbr;
	enum mv_role role;
	enum mv_fs_kind fs;
	int growfs;
};

static const struct row rows[] = {
	{"esp", MV_TABLE_GPT, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b", NULL, 0, MV_ROLE_ESP, MV_FS_VFAT, 0},
	{"xbootldr", MV_TABLE_GPT, "bc13c2ff-59e6-4262-a352-b275fd6f7172", NULL, 0, MV_ROLE_XBOOTLDR, MV_FS_VFAT, 1},
	{"root", MV_TABLE_GPT, ROOT_X86_64, ROOT_ARM64, 0, MV_ROLE_ROOT, MV_FS_EXT4, 1},
	{"usr", MV_TABLE_GPT, USR_X86_64, USR_ARM64, 0, MV_ROLE_USR, MV_FS_EXT4, 1},
	{"home", MV_TABLE_GPT, "933ac7e1-2eb4-4f13-b844-0e14e2aef915", NULL, 0, MV_ROLE_DATA, MV_FS_EXT4, 1},
	{"srv", MV_TABLE_GPT, "3b8f8425-20e0-4f3b-907f-1a25a76f98e8", NULL, 0, MV_ROLE_DATA, MV_FS_EXT4, 1},
	{"var", MV_TABLE_GPT, "4d21b016-b534-45c2-a9fb-5c16e091fd2d", NULL, 0, MV_ROLE_DATA, MV_FS_EXT4, 1},
	{"tmp", MV_TABLE_GPT, "7ec6f557-3bc5-4aca-b293-16ef5df639d1", NULL, 0, MV_ROLE_DATA, MV_FS_EXT4, 1},
	{"swap", MV_TABLE_GPT, "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f", NULL, 0, MV_ROLE_SWAP, MV_FS_SWAP, 0},
	{"linux-generic", MV_TABLE_GPT, "0fc63daf-8483-4772-8e79-3d69d8477de4", NULL, 0, MV_ROLE_DATA, MV_FS_EXT4, 0},
	{"freebsd-boot", MV_TABLE_GPT, "83bd6b9d-7f41-11dc-be0b-001560b84f0f", NULL, 0, MV_ROLE_FREEBSD_BOOT, MV_FS_NONE, 0},
	{"freebsd-ufs", MV_TABLE_GPT, "516e7cb6-6ecf-11d6-8ff8-00022d09712b", NULL, 0, MV_ROLE_ROOT, MV_FS_UFS, 0},
	{"freebsd-swap", MV_TABLE_GPT, "516e7cb5-6ecf-11d6-8ff8-00022d09712b", NULL, 0, MV_ROLE_SWAP, MV_FS_NONE, 0},
	{"freebsd-zfs", MV_TABLE_GPT, "516e7cba-6ecf-11d6-8ff8-00022d09712b", NULL, 0, MV_ROLE_DATA, MV_FS_NONE, 0},
	{"fat32", MV_TABLE_MBR, NULL, NULL, 0x0c, MV_ROLE_DATA, MV_FS_VFAT, 0},
	{"linux", MV_TABLE_MBR, NULL, NULL, 0x83, MV_ROLE_ROOT, MV_FS_EXT4, 0},
	{"swap", MV_TABLE_MBR, NULL, NULL, 0x82, MV_ROLE_SWAP, MV_FS_SWAP, 0},
	{"efi", MV_TABLE_MBR, NULL, NULL, 0xef, MV_ROLE_ESP, MV_FS_VFAT, 0},
	{"freebsd", MV_TABLE_MBR, NULL, NULL, 0xa5, MV_ROLE_DATA, MV_FS_NONE, 0},
};

static void names_for(enum mv_table table, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (rows[i].table != table)
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", rows[i].name);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

static int is_guid(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

static const struct row *find_row(const char *text, enum mv_table table)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].table == table && strcasecmp(rows[i].name, text) == 0)
			return &rows[i];
	return NULL;
}

int mv_ptype_resolve(const char *text, enum mv_table table, enum mv_arch arch,
		     struct mv_ptype *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->table = table;
	char names[400];
	names_for(table, names, sizeof(names));

	const struct row *r = find_row(text, table);
	if (r) {
		const char *guid = r->guid_x86_64;
		if (r->guid_aarch64 && arch == MV_ARCH_AARCH64)
			guid = r->guid_aarch64;
		else if (r->guid_aarch64 && arch != MV_ARCH_X86_64) {
			snprintf(err, errlen, "type %s depends on the architecture: set Architecture= in [Profile]", text);
			return -1;
		}
		out->name = r->name;
		if (guid)
			snprintf(out->guid, sizeof(out->guid), "%s", guid);
		out->mbr = r->mbr;
		out->role = r->role;
		out->default_fs = r->fs;
		out->growfs_allowed = r->growfs;
		return 0;
	}
	if (table == MV_TABLE_GPT && is_guid(text)) {
		for (int i = 0; i < 36; i++)
			out->guid[i] = (char)tolower((unsigned char)text[i]);
		out->guid[36] = '\0';
		/* A raw GUID that is a known type keeps that type's role, so a
		 * profile spelling the ESP's GUID still gets a boot loader. */
		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			const struct row *k = &rows[i];
			if (k->table != MV_TABLE_GPT)
				continue;
			if (strcmp(k->guid_x86_64, out->guid) == 0 ||
			    (k->guid_aarch64 && strcmp(k->guid_aarch64, out->guid) == 0)) {
				out->role = k->role;
				out->default_fs = k->fs;
				out->growfs_allowed = k->growfs;
			}
		}
		return 0;
	}
	if (table == MV_TABLE_MBR && strncasecmp(text, "0x", 2) == 0) {
		char *end;
		unsigned long v = strtoul(text + 2, &end, 16);
		if (*end == '\0' && end != text + 2 && v > 0 && v <= 0xff && v != 0xee) {
			out->mbr = (uint8_t)v;
			for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
				if (rows[i].table == MV_TABLE_MBR && rows[i].mbr == v) {
					out->role = rows[i].role;
					out->default_fs = rows[i].fs;
				}
			return 0;
		}
	}
	enum mv_table other = table == MV_TABLE_GPT ? MV_TABLE_MBR : MV_TABLE_GPT;
	if (find_row(text, other))
		snprintf(err, errlen, "type %s is a %s type but the table is %s; %s takes: %s, %s",
			 text, mv_table_name(other), mv_table_name(table), mv_table_name(table), names,
			 table == MV_TABLE_GPT ? "or a GUID" : "or a byte such as 0x83");
	else
		snprintf(err, errlen, "unknown partition type %s; %s takes: %s, %s", text,
			 mv_table_name(table), names,
			 table == MV_TABLE_GPT ? "or a GUID" : "or a byte such as 0x83");
	return -1;
}

const char *mv_arch_name(enum mv_arch arch)
{
	switch (arch) {
	case MV_ARCH_X86_64: return "x86_64";
	case MV_ARCH_AARCH64: return "aarch64";
	default: return "none";
	}
}

enum mv_arch mv_build_arch(void)
{
#if defined(__x86_64__)
	return MV_ARCH_X86_64;
#elif defined(__aarch64__)
	return MV_ARCH_AARCH64;
#else
	return MV_ARCH_NONE;
#endif
}

int mv_arch_parse(const char *text, enum mv_arch *arch)
{
	if (strcmp(text, "x86_64") == 0)
		*arch = MV_ARCH_X86_64;
	else if (strcmp(text, "aarch64") == 0)
		*arch = MV_ARCH_AARCH64;
	else
		return -1;
	return 0;
}

const char *mv_table_name(enum mv_table t)
{
	return t == MV_TABLE_GPT ? "gpt" : t == MV_TABLE_MBR ? "mbr" : "none";
}

const char *mv_role_name(enum mv_role r)
{
	static const char *const names[] = {
		[MV_ROLE_DATA] = "data", [MV_ROLE_ESP] = "esp", [MV_ROLE_XBOOTLDR] = "xbootldr",
		[MV_ROLE_ROOT] = "root", [MV_ROLE_USR] = "usr", [MV_ROLE_SWAP] = "swap",
		[MV_ROLE_FREEBSD_BOOT] = "freebsd-boot",
	};
	return names[r];
}

static const char *const fs_names[] = {
	[MV_FS_NONE] = "none", [MV_FS_VFAT] = "vfat", [MV_FS_EXT4] = "ext4",
	[MV_FS_SWAP] = "swap", [MV_FS_UFS] = "ufs",
};

const char *mv_fs_name(enum mv_fs_kind fs)
{
	return fs_names[fs];
}

int mv_fs_parse(const char *text, enum mv_fs_kind *fs)
{
	for (size_t i = 0; i < sizeof(fs_names) / sizeof(fs_names[0]); i++)
		if (strcmp(text, fs_names[i]) == 0) {
			*fs = (enum mv_fs_kind)i;
			return 0;
		}
	return -1;
}
