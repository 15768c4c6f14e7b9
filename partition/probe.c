#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <blkid.h>
#include <libfdisk.h>

#include "../bootstrap/json.h"

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static void probe_fs(int fd, uint64_t offset, uint64_t size, struct mv_probe_fs *out)
{
	memset(out, 0, sizeof(*out));
	blkid_probe pr = blkid_new_probe();
	if (!pr)
		return;
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)offset, (blkid_loff_t)size) == 0) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID | BLKID_SUBLKS_TYPE);
		blkid_probe_enable_partitions(pr, 0);
		int rc = blkid_do_safeprobe(pr);
		if (rc == -2) {
			out->ambivalent = 1;
		} else if (rc == 0) {
			const char *v;
			if (blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0)
				copy(out->type, sizeof(out->type), v);
			if (blkid_probe_lookup_value(pr, "LABEL", &v, NULL) == 0)
				copy(out->label, sizeof(out->label), v);
			if (blkid_probe_lookup_value(pr, "UUID", &v, NULL) == 0)
				copy(out->uuid, sizeof(out->uuid), v);
		}
	}
	blkid_free_probe(pr);
}

static int read_table(struct fdisk_context *cxt, int fd, struct mv_probe *out, char *err, size_t errlen)
{
	struct fdisk_label *lb = fdisk_get_label(cxt, NULL);
	copy(out->table, sizeof(out->table), fdisk_label_get_name(lb));
	char *id = NULL;
	if (fdisk_get_disklabel_id(cxt, &id) == 0)
		copy(out->disk_id, sizeof(out->disk_id), id);
	free(id);

	struct fdisk_table *tb = NULL;
	if (fdisk_get_partitions(cxt, &tb) != 0) {
		snprintf(err, errlen, "cannot read the partitions");
		return -1;
	}
	size_t n = fdisk_table_get_nents(tb);
	out->parts = calloc(n ? n : 1, sizeof(*out->parts));
	if (!out->parts) {
		fdisk_unref_table(tb);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct fdisk_partition *pa = fdisk_table_get_partition(tb, i);
		struct mv_probe_part *p = &out->parts[out->n++];
		p->number = fdisk_partition_get_partno(pa) + 1;
		p->start = (uint64_t)fdisk_partition_get_start(pa) * out->sector_size;
		p->size = (uint64_t)fdisk_partition_get_size(pa) * out->sector_size;
		struct fdisk_parttype *t = fdisk_partition_get_type(pa);
		if (t && fdisk_parttype_get_string(t))
			copy(p->type, sizeof(p->type), fdisk_parttype_get_string(t));
		else if (t)
			snprintf(p->type, sizeof(p->type), "0x%02x", fdisk_parttype_get_code(t));
		if (t)
			copy(p->type_name, sizeof(p->type_name), fdisk_parttype_get_name(t));
		copy(p->partuuid, sizeof(p->partuuid), fdisk_partition_get_uuid(pa));
		copy(p->name, sizeof(p->name), fdisk_partition_get_name(pa));
		copy(p->attrs, sizeof(p->attrs), fdisk_partition_get_attrs(pa));
		p->bootable = fdisk_partition_is_bootable(pa) == 1;
		if (!p->partuuid[0] && strcmp(out->table, "dos") == 0 && out->disk_id[0])
			snprintf(p->partuuid, sizeof(p->partuuid), "%s-%02zu",
				 out->disk_id + (strncmp(out->disk_id, "0x", 2) == 0 ? 2 : 0), p->number);
		probe_fs(fd, p->start, p->size, &p->fs);
	}
	fdisk_unref_table(tb);
	return 0;
}

int mv_probe_read(const char *path, struct mv_probe *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct fdisk_context *cxt = fdisk_new_context();
	int rc = -1;
	if (!cxt) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (fdisk_assign_device_by_fd(cxt, fd, path, 1) != 0) {
		snprintf(err, errlen, "%s: cannot read it as a disk", path);
		goto out;
	}
	out->sector_size = (unsigned)fdisk_get_sector_size(cxt);
	out->size = (uint64_t)fdisk_get_nsectors(cxt) * out->sector_size;
	if (fdisk_has_label(cxt)) {
		rc = read_table(cxt, fd, out, err, errlen);
	} else {
		probe_fs(fd, 0, out->size, &out->whole);
		rc = 0;
	}
	fdisk_deassign_device(cxt, 1);
out:
	fdisk_unref_context(cxt);
	close(fd);
	if (rc < 0)
		mv_probe_free(out);
	return rc;
}

void mv_probe_free(struct mv_probe *p)
{
	free(p->parts);
	p->parts = NULL;
	p->n = 0;
}

static void fs_json(struct mv_json *j, const struct mv_probe_fs *fs)
{
	mv_json_begin(j, "filesystem", '{');
	mv_json_str(j, "type", fs->type[0] ? fs->type : NULL);
	mv_json_str(j, "label", fs->label[0] ? fs->label : NULL);
	mv_json_str(j, "uuid", fs->uuid[0] ? fs->uuid : NULL);
	mv_json_bool(j, "ambivalent", fs->ambivalent);
	mv_json_end(j, '}');
}

void mv_probe_json(struct mv_json *j, const char *path, const struct mv_probe *p)
{
	mv_json_str(j, "path", path);
	mv_json_u64(j, "size", p->size);
	mv_json_u64(j, "sector_size", p->sector_size);
	mv_json_str(j, "table", p->table[0] ? p->table : NULL);
	mv_json_str(j, "disk_id", p->disk_id[0] ? p->disk_id : NULL);
	if (!p->table[0])
		fs_json(j, &p->whole);
	mv_json_begin(j, "partitions", '[');
	for (size_t i = 0; i < p->n; i++) {
		const struct mv_probe_part *pp = &p->parts[i];
		mv_json_begin(j, NULL, '{');
		mv_json_u64(j, "number", pp->number);
		mv_json_u64(j, "start", pp->start);
		mv_json_u64(j, "size", pp->size);
		mv_json_str(j, "type", pp->type);
		mv_json_str(j, "type_name", pp->type_name);
		mv_json_str(j, "partuuid", pp->partuuid[0] ? pp->partuuid : NULL);
		mv_json_str(j, "name", pp->name[0] ? pp->name : NULL);
		mv_json_str(j, "attributes", pp->attrs[0] ? pp->attrs : NULL);
		mv_json_bool(j, "bootable", pp->bootable);
		fs_json(j, &pp->fs);
		mv_json_end(j, '}');
	}
	mv_json_end(j, ']');
}
