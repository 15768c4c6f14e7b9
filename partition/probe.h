/* probe: what is on a disk or image now: its partition table (libfdisk)
 * and, per partition, the filesystem libblkid finds there. Read-only; used
 * by `inspect`, and before anything destructive to show what would be
 * lost. */
#ifndef MV_PROBE_H
#define MV_PROBE_H
#include <stddef.h>
#include <stdint.h>

struct mv_probe_fs {
	char type[32];      /* "vfat", "ext4", ... or "" */
	char label[64];
	char uuid[64];
	int ambivalent;     /* libblkid saw more than one filesystem */
};

struct mv_probe_part {
	size_t number;
	uint64_t start, size;  /* bytes */
	char type[48];         /* GUID or "0x83" */
	char type_name[64];    /* libfdisk's name for it */
	char partuuid[48];
	char name[80];         /* GPT partition name */
	char attrs[80];
	int bootable;
	struct mv_probe_fs fs;
};

struct mv_probe {
	uint64_t size;
	unsigned sector_size;
	char table[8];         /* "gpt", "dos" or "" when none */
	char disk_id[48];
	struct mv_probe_fs whole;  /* a filesystem on the whole device, when no table */
	size_t n;
	struct mv_probe_part *parts;
};

struct mv_json;

/* Returns 0, or -1 with the reason in err. Free with mv_probe_free. */
int mv_probe_read(const char *path, struct mv_probe *out, char *err, size_t errlen);
void mv_probe_free(struct mv_probe *p);

/* What was read, as the members of the JSON object j is in (path, size,
 * sector_size, table, disk_id, the whole device's filesystem when there
 * is no table, partitions with their filesystems): `inspect --json`, and
 * `plan --disk --json`'s account of what an install destroys. */
void mv_probe_json(struct mv_json *j, const char *path, const struct mv_probe *p);

#endif
