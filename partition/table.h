/* table: writes a planned GPT or MBR partition table onto a target with
 * libfdisk. Everything is given (starts, sizes, type GUIDs or bytes,
 * PARTUUIDs, the disk GUID or MBR signature, GPT names and attributes), so
 * the same spec writes the same bytes. The caller writes the table last,
 * after the filesystems (DESIGN.md, "Devices are written table-last"). */
#ifndef MV_TABLE_H
#define MV_TABLE_H
#include <stddef.h>
#include <stdint.h>

#include "types.h"

struct mv_table_part {
	uint64_t start, size;   /* bytes, multiples of the sector size */
	const char *type_guid;  /* GPT */
	uint8_t mbr_type;       /* MBR */
	const char *partuuid;   /* GPT only: MBR PARTUUIDs follow from the signature */
	const char *name;       /* GPT partition name, or NULL */
	uint64_t attributes;    /* GPT attribute bits */
	int bootable;           /* MBR active flag */
};

struct mv_table_spec {
	enum mv_table table;
	unsigned sector_size;
	const char *disk_id;    /* GPT disk GUID, or MBR signature as 8 hex digits */
	size_t n;
	const struct mv_table_part *parts;
};

/* fd is the whole target, already at its final size. Returns 0, or -1
 * with the reason in err. */
int mv_table_write(int fd, const char *name, const struct mv_table_spec *spec, char *err, size_t errlen);

#endif
