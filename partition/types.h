/* types: partition-type names a profile may use, and what each one writes.
 * One table; a new type is one more row (DESIGN.md, Decisions: "Partition
 * type names"). GPT names follow the Discoverable Partitions Specification
 * (root and usr take the profile's architecture) and gpart's FreeBSD names;
 * MBR names are the classic type bytes. A name from the other table type is
 * an error; raw GUIDs and MBR bytes ("0x0c") are always accepted. */
#ifndef MV_TYPES_H
#define MV_TYPES_H
#include <stddef.h>
#include <stdint.h>

enum mv_arch { MV_ARCH_NONE = 0, MV_ARCH_X86_64, MV_ARCH_AARCH64 };
enum mv_table { MV_TABLE_NONE = 0, MV_TABLE_GPT, MV_TABLE_MBR };

/* What a partition is for: the boot loaders and the plan look for roles,
 * never for names the user chose. */
enum mv_role {
	MV_ROLE_DATA = 0,
	MV_ROLE_ESP,
	MV_ROLE_XBOOTLDR,
	MV_ROLE_ROOT,
	MV_ROLE_USR,
	MV_ROLE_SWAP,
	MV_ROLE_FREEBSD_BOOT,
};

enum mv_fs_kind { MV_FS_NONE = 0, MV_FS_VFAT, MV_FS_EXT4, MV_FS_SWAP, MV_FS_UFS };

struct mv_ptype {
	const char *name;          /* as written in Type=, or NULL for a raw value */
	enum mv_table table;
	char guid[37];             /* GPT type GUID, lower case */
	uint8_t mbr;               /* MBR type byte */
	enum mv_role role;
	enum mv_fs_kind default_fs;
	int growfs_allowed;        /* DPS: bit 59 is defined for this type */
};

/* Resolve Type= for a table and architecture. Returns 0 and fills *out, or
 * -1 with a message in err that says what is accepted. */
int mv_ptype_resolve(const char *text, enum mv_table table, enum mv_arch arch,
		     struct mv_ptype *out, char *err, size_t errlen);

const char *mv_arch_name(enum mv_arch arch);
/* The architecture this binary was built for. */
enum mv_arch mv_build_arch(void);
int mv_arch_parse(const char *text, enum mv_arch *arch);
const char *mv_table_name(enum mv_table t);
const char *mv_role_name(enum mv_role r);
const char *mv_fs_name(enum mv_fs_kind fs);
int mv_fs_parse(const char *text, enum mv_fs_kind *fs);

/* GPT attribute bits (boot-spec.md §0.2) */
#define MV_GPT_ATTR_GROWFS (UINT64_C(1) << 59)

#endif
