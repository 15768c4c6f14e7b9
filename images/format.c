#include "format.h"

#include <stdio.h>

#include "ext4.h"
#include "fat.h"
#include "swap.h"
#include "ufs.h"

static int make_vfat(const struct mv_io *io, const struct mv_format_args *a, struct mv_fs **out, char *err, size_t errlen)
{
	struct mv_fat_options o = {.volume_id = a->volume_id, .label = a->label, .timestamp = a->timestamp};
	*out = mv_fat_create(io, &o, err, errlen);
	return *out ? 0 : -1;
}

static int make_ext4(const struct mv_io *io, const struct mv_format_args *a, struct mv_fs **out, char *err, size_t errlen)
{
	struct mv_ext4_options o = {.label = a->label, .inode_count = a->inode_count, .timestamp = a->timestamp};
	for (int i = 0; i < 16; i++)
		o.uuid[i] = a->uuid[i], o.hash_seed[i] = a->hash_seed[i];
	*out = mv_ext4_create(io, &o, err, errlen);
	return *out ? 0 : -1;
}

static int make_swap(const struct mv_io *io, const struct mv_format_args *a, struct mv_fs **out, char *err, size_t errlen)
{
	*out = NULL;
	return mv_swap_format(io, a->uuid, a->label, err, errlen);
}

static int make_ufs(const struct mv_io *io, const struct mv_format_args *a, struct mv_fs **out, char *err, size_t errlen)
{
	struct mv_ufs_options o = {.label = a->label, .timestamp = a->timestamp};
	for (int i = 0; i < 8; i++)
		o.id[i] = a->uuid[i];
	*out = mv_ufs_create(io, &o, err, errlen);
	return *out ? 0 : -1;
}

static const struct {
	enum mv_fs_kind fs;
	int (*make)(const struct mv_io *, const struct mv_format_args *, struct mv_fs **, char *, size_t);
} formats[] = {
	{MV_FS_VFAT, make_vfat},
	{MV_FS_EXT4, make_ext4},
	{MV_FS_SWAP, make_swap},
	{MV_FS_UFS, make_ufs},
};

int mv_format(enum mv_fs_kind fs, const struct mv_io *io, const struct mv_format_args *a, struct mv_fs **out,
	      char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].fs == fs)
			return formats[i].make(io, a, out, err, errlen);
	snprintf(err, errlen, "writing %s filesystems is not available yet", mv_fs_name(fs));
	return -1;
}
