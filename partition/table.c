#include "table.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libfdisk.h>

static int fail(char *err, size_t errlen, int rc, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(rc < 0 ? -rc : rc ? rc : EIO));
	return -1;
}

static int add_partition(struct fdisk_context *cxt, const struct mv_table_spec *spec, size_t i,
			 char *err, size_t errlen)
{
	const struct mv_table_part *p = &spec->parts[i];
	struct fdisk_label *lb = fdisk_get_label(cxt, NULL);
	struct fdisk_partition *pa = fdisk_new_partition();
	struct fdisk_parttype *type = NULL;
	char what[96], typestr[48];
	int rc = -ENOMEM;

	snprintf(what, sizeof(what), "partition %zu", i + 1);
	if (!pa)
		return fail(err, errlen, rc, what);
	if (spec->table == MV_TABLE_GPT)
		snprintf(typestr, sizeof(typestr), "%s", p->type_guid);
	else
		snprintf(typestr, sizeof(typestr), "%02x", p->mbr_type);
	type = fdisk_label_parse_parttype(lb, typestr);
	if (!type)
		goto out;
	/* Explicit start and size: libfdisk's defaults would align the end
	 * down and leave sectors unused (notes/libraries.md). */
	if ((rc = fdisk_partition_set_partno(pa, i)) ||
	    (rc = fdisk_partition_set_start(pa, p->start / spec->sector_size)) ||
	    (rc = fdisk_partition_set_size(pa, p->size / spec->sector_size)) ||
	    (rc = fdisk_partition_set_type(pa, type)))
		goto out;
	if (spec->table == MV_TABLE_GPT) {
		if ((rc = fdisk_partition_set_uuid(pa, p->partuuid)))
			goto out;
		if (p->name && (rc = fdisk_partition_set_name(pa, p->name)))
			goto out;
	}
	if ((rc = fdisk_add_partition(cxt, pa, NULL)))
		goto out;
	if (spec->table == MV_TABLE_GPT && p->attributes &&
	    (rc = fdisk_gpt_set_partition_attrs(cxt, i, p->attributes)))
		goto out;
	if (spec->table == MV_TABLE_MBR && p->bootable &&
	    (rc = fdisk_toggle_partition_flag(cxt, i, DOS_FLAG_ACTIVE)))
		goto out;
	rc = 0;
out:
	fdisk_unref_parttype(type);
	fdisk_unref_partition(pa);
	return rc ? fail(err, errlen, rc, what) : 0;
}

int mv_table_write(int fd, const char *name, const struct mv_table_spec *spec, char *err, size_t errlen)
{
	struct fdisk_context *cxt = fdisk_new_context();
	int rc = -ENOMEM;
	if (!cxt)
		return fail(err, errlen, rc, "libfdisk");
	fdisk_disable_dialogs(cxt, 1);
	/* We wipe signatures ourselves, per partition, before the filesystems
	 * are written; libfdisk must not touch anything but the table. */
	fdisk_enable_wipe(cxt, 0);
	if (spec->sector_size != 512 &&
	    (rc = fdisk_save_user_sector_size(cxt, spec->sector_size, spec->sector_size))) {
		fail(err, errlen, rc, "setting the sector size");
		goto out;
	}
	if ((rc = fdisk_assign_device_by_fd(cxt, fd, name, 0))) {
		fail(err, errlen, rc, "opening the target for libfdisk");
		goto out;
	}
	if ((rc = fdisk_create_disklabel(cxt, spec->table == MV_TABLE_GPT ? "gpt" : "dos"))) {
		fail(err, errlen, rc, "creating the partition table");
		goto deassign;
	}
	char id[48];
	if (spec->table == MV_TABLE_MBR)
		snprintf(id, sizeof(id), "0x%s", spec->disk_id);
	else
		snprintf(id, sizeof(id), "%s", spec->disk_id);
	if ((rc = fdisk_set_disklabel_id_from_string(cxt, id))) {
		fail(err, errlen, rc, "setting the disk identifier");
		goto deassign;
	}
	for (size_t i = 0; i < spec->n; i++)
		if ((rc = add_partition(cxt, spec, i, err, errlen)) < 0)
			goto deassign;
	if ((rc = fdisk_write_disklabel(cxt)))
		fail(err, errlen, rc, "writing the partition table");
deassign:
	/* nosync=1: the caller owns the descriptor and fsyncs it once. */
	fdisk_deassign_device(cxt, 1);
out:
	fdisk_unref_context(cxt);
	return rc ? -1 : 0;
}
