#include "target.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <blkid.h>
#include <linux/fs.h>

#include "../bootstrap/json.h"
#include "../bootstrap/units.h"
#include "probe.h"

/* The devices whose use makes the disk untouchable: the disk, its
 * partitions, and whatever holds any of them (dm, md, LVM), recursively. */
#define MAX_DEVS 256
struct devset {
	dev_t dev[MAX_DEVS];
	char name[MAX_DEVS][64];
	int holder[MAX_DEVS]; /* 1: a holder, not the disk or a partition */
	size_t n;
};

static const char *or_default(const char *v, const char *d)
{
	return v ? v : d;
}

static int read_devno(const char *file, dev_t *out)
{
	FILE *f = fopen(file, "re");
	unsigned ma, mi;
	int ok = f && fscanf(f, "%u:%u", &ma, &mi) == 2;
	if (f)
		fclose(f);
	if (ok)
		*out = makedev(ma, mi);
	return ok ? 0 : -1;
}

static int in_set(const struct devset *s, dev_t d)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->dev[i] == d)
			return (int)i;
	return -1;
}

static void add(struct devset *s, dev_t d, const char *name, int holder)
{
	if (s->n < MAX_DEVS && in_set(s, d) < 0) {
		s->dev[s->n] = d;
		snprintf(s->name[s->n], sizeof(s->name[0]), "%.63s", name);
		s->holder[s->n++] = holder;
	}
}

/* dir/holders/ names block devices built on top of dir's device. */
static void add_holders(struct devset *s, const char *sysfs, const char *dir, int depth)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/holders", dir);
	DIR *dp = opendir(path);
	if (!dp || depth > 8) {
		if (dp)
			closedir(dp);
		return;
	}
	struct dirent *e;
	while ((e = readdir(dp))) {
		if (e->d_name[0] == '.')
			continue;
		char hdir[PATH_MAX + 256], devf[PATH_MAX + 300];
		dev_t d;
		snprintf(hdir, sizeof(hdir), "%s/class/block/%s", sysfs, e->d_name);
		snprintf(devf, sizeof(devf), "%s/dev", hdir);
		if (read_devno(devf, &d) == 0) {
			add(s, d, e->d_name, 1);
			add_holders(s, sysfs, hdir, depth + 1);
		}
	}
	closedir(dp);
}

/* The disk at sysfs directory dir, its partitions and their holders. */
static void collect(struct devset *s, const char *sysfs, const char *dir, dev_t disk, const char *kname)
{
	add(s, disk, kname, 0);
	add_holders(s, sysfs, dir, 0);
	DIR *dp = opendir(dir);
	if (!dp)
		return;
	struct dirent *e;
	while ((e = readdir(dp))) {
		char sub[PATH_MAX + 256], file[PATH_MAX + 300];
		dev_t d;
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		snprintf(file, sizeof(file), "%s/partition", sub);
		if (access(file, F_OK) != 0)
			continue;
		snprintf(file, sizeof(file), "%s/dev", sub);
		if (read_devno(file, &d) == 0) {
			add(s, d, e->d_name, 0);
			add_holders(s, sysfs, sub, 0);
		}
	}
	closedir(dp);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && isdigit((unsigned char)r[1]) && isdigit((unsigned char)r[2]) && isdigit((unsigned char)r[3])) {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static int source_dev(const char *source, const struct devset *s)
{
	struct stat st;
	if (source[0] != '/' || stat(source, &st) != 0 || !S_ISBLK(st.st_mode))
		return -1;
	return in_set(s, st.st_rdev);
}

static int check_mounts(const char *path, const struct devset *s, const char *file, char *err, size_t errlen)
{
	FILE *f = fopen(file, "re");
	if (!f) {
		snprintf(err, errlen, "cannot read %s to check whether %s is mounted: %s", file, path, strerror(errno));
		return -1;
	}
	char line[8192];
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		unsigned ma, mi;
		char mnt[4096], source[4096] = "";
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &ma, &mi, mnt) != 3)
			continue;
		char *dash = strstr(line, " - ");
		if (dash)
			sscanf(dash + 3, "%*s %4095s", source);
		unescape(mnt);
		unescape(source);
		int at = in_set(s, makedev(ma, mi));
		if (at < 0)
			at = source_dev(source, s);
		if (at < 0)
			continue;
		if (strcmp(mnt, "/") == 0)
			snprintf(err, errlen, "%s holds the running system's root (/ is mounted from %s): microvisor never erases the disk it runs from; boot another medium (a live USB) to install onto it",
				 path, s->name[at]);
		else
			snprintf(err, errlen, "%s is in use: %s is mounted at %s; unmount it first (umount %s)", path,
				 s->name[at], mnt, mnt);
		rc = -1;
	}
	fclose(f);
	return rc;
}

static int check_swaps(const char *path, const struct devset *s, const char *file, char *err, size_t errlen)
{
	FILE *f = fopen(file, "re");
	if (!f)
		return 0; /* no swap support in this kernel: nothing is swap */
	char line[8192];
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char name[4096];
		if (sscanf(line, "%4095s", name) != 1 || strcmp(name, "Filename") == 0)
			continue;
		unescape(name);
		int at = source_dev(name, s);
		if (at >= 0) {
			snprintf(err, errlen, "%s is in use: %s is active swap; turn it off first (swapoff %s)", path,
				 s->name[at], name);
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}

int mv_blockdev_check(const char *path, const struct mv_system *sys, char *err, size_t errlen)
{
	static const struct mv_system none;
	if (!sys)
		sys = &none;
	const char *sysfs = or_default(sys->sysfs, "/sys");
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "%s is not a block device (give a whole disk such as /dev/sdb; `microvisor image` writes image files)", path);
		return -1;
	}
	char link[PATH_MAX], dir[PATH_MAX];
	snprintf(link, sizeof(link), "%s/dev/block/%u:%u", sysfs, major(st.st_rdev), minor(st.st_rdev));
	if (!realpath(link, dir)) {
		snprintf(err, errlen, "%s: cannot find it in sysfs (%s): %s", path, link, strerror(errno));
		return -1;
	}
	const char *kname = strrchr(dir, '/') + 1;
	char file[PATH_MAX + 16];
	snprintf(file, sizeof(file), "%s/partition", dir);
	if (access(file, F_OK) == 0) {
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", dir);
		*strrchr(parent, '/') = '\0';
		snprintf(err, errlen, "%s is a partition (%s) of /dev/%s: give the whole disk", path, kname,
			 strrchr(parent, '/') + 1);
		return -1;
	}
	struct devset *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	collect(s, sysfs, dir, st.st_rdev, kname);
	int rc = -1;
	struct stat rs;
	const char *root = or_default(sys->root, "/");
	if (stat(root, &rs) == 0 && in_set(s, rs.st_dev) >= 0) {
		snprintf(err, errlen, "%s holds the running system's root (%s is on %s): microvisor never erases the disk it runs from; boot another medium (a live USB) to install onto it",
			 path, root, s->name[in_set(s, rs.st_dev)]);
		goto out;
	}
	if (check_mounts(path, s, or_default(sys->mountinfo, "/proc/self/mountinfo"), err, errlen) < 0 ||
	    check_swaps(path, s, or_default(sys->swaps, "/proc/swaps"), err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < s->n; i++)
		if (s->holder[i]) {
			snprintf(err, errlen, "%s is in use: it is held by %s (device-mapper, md RAID or LVM); stop that first (dmsetup remove, mdadm --stop, vgchange -an)",
				 path, s->name[i]);
			goto out;
		}
	rc = 0;
out:
	free(s);
	return rc;
}

int mv_blockdev_open(const char *path, struct mv_blockdev *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if (mv_blockdev_check(path, NULL, err, errlen) < 0)
		return -1;
	snprintf(d->path, sizeof(d->path), "%s", path);
	/* O_EXCL on a block device: the kernel refuses while it or a
	 * partition is mounted or claimed, and keeps others out meanwhile. */
	d->fd = open(path, O_RDWR | O_EXCL | O_CLOEXEC);
	if (d->fd < 0) {
		snprintf(err, errlen, "%s: cannot open it exclusively: %s%s", path, strerror(errno),
			 errno == EBUSY ? " (another program holds it, or a partition of it, open exclusively)" : "");
		return -1;
	}
	struct stat st;
	int ss = 0;
	if (fstat(d->fd, &st) != 0 || ioctl(d->fd, BLKGETSIZE64, &d->size) != 0 || ioctl(d->fd, BLKSSZGET, &ss) != 0) {
		snprintf(err, errlen, "%s: cannot read its size: %s", path, strerror(errno));
		mv_blockdev_close(d);
		return -1;
	}
	d->devno = st.st_rdev;
	d->sector_size = (unsigned)ss;
	char link[128], dir[PATH_MAX];
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(d->devno), minor(d->devno));
	snprintf(d->kname, sizeof(d->kname), "%s", realpath(link, dir) ? strrchr(dir, '/') + 1 : path);
	return 0;
}

void mv_blockdev_close(struct mv_blockdev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

static void fs_line(FILE *out, const struct mv_probe_fs *fs)
{
	if (fs->ambivalent)
		fprintf(out, "several filesystem signatures");
	else if (fs->type[0])
		fprintf(out, "%s%s%s%s", fs->type, fs->label[0] ? " \"" : "", fs->label, fs->label[0] ? "\"" : "");
	else
		fprintf(out, "no filesystem found");
}

void mv_blockdev_describe(const char *path, FILE *out)
{
	struct mv_probe p;
	char err[512], h[32];
	if (mv_probe_read(path, &p, err, sizeof(err)) < 0) {
		fprintf(out, "  (cannot read what is on it: %s)\n", err);
		return;
	}
	fprintf(out, "  %s, %s, %u-byte sectors\n", path, mv_human_size(p.size, h, sizeof(h)), p.sector_size);
	if (!p.table[0]) {
		fprintf(out, "  no partition table; whole disk: ");
		fs_line(out, &p.whole);
		fprintf(out, "\n");
	} else {
		fprintf(out, "  %s partition table, %zu partition%s\n", p.table, p.n, p.n == 1 ? "" : "s");
	}
	for (size_t i = 0; i < p.n; i++) {
		const struct mv_probe_part *pp = &p.parts[i];
		fprintf(out, "    %zu  %10s  %-24s ", pp->number, mv_human_size(pp->size, h, sizeof(h)),
			pp->type_name[0] ? pp->type_name : pp->type);
		fs_line(out, &pp->fs);
		if (pp->name[0])
			fprintf(out, ", name \"%s\"", pp->name);
		fprintf(out, "\n");
	}
	mv_probe_free(&p);
}

void mv_blockdev_describe_json(struct mv_json *j, const char *path)
{
	struct mv_probe p;
	char err[1024];
	if (mv_probe_read(path, &p, err, sizeof(err)) == 0) {
		mv_json_begin(j, "destroys", '{');
		mv_probe_json(j, path, &p);
		mv_json_end(j, '}');
		mv_probe_free(&p);
	} else {
		mv_json_str(j, "destroys", NULL);
		mv_json_str(j, "destroys_unreadable", err);
	}
	int refused = mv_blockdev_check(path, NULL, err, sizeof(err)) < 0;
	mv_json_bool(j, "refused", refused);
	mv_json_str(j, "refused_because", refused ? err : NULL);
}

int mv_blockdev_confirm(const struct mv_blockdev *d, const char *action, FILE *in, FILE *out)
{
	fprintf(out, "Everything on %s will be lost (%s). Type the device's name (%s) to go on: ", d->path, action, d->path);
	fflush(out);
	char line[4096];
	if (!fgets(line, sizeof(line), in))
		return 0;
	line[strcspn(line, "\r\n")] = '\0';
	char dev[128];
	snprintf(dev, sizeof(dev), "/dev/%s", d->kname);
	return strcmp(line, d->path) == 0 || strcmp(line, dev) == 0 || strcmp(line, d->kname) == 0;
}

int mv_blockdev_wipe(const struct mv_blockdev *d, uint64_t offset, uint64_t length, char *err, size_t errlen)
{
	blkid_probe pr = blkid_new_probe();
	if (!pr) {
		snprintf(err, errlen, "libblkid: out of memory");
		return -1;
	}
	int n = 0;
	if (blkid_probe_set_device(pr, d->fd, (blkid_loff_t)offset, (blkid_loff_t)length) != 0) {
		snprintf(err, errlen, "%s: libblkid cannot probe %llu bytes at %llu", d->path,
			 (unsigned long long)length, (unsigned long long)offset);
		n = -1;
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_BADCSUM);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC | BLKID_PARTS_FORCE_GPT);
	/* As wipefs -a: probe, wipe what was found, probe again; a GPT shows
	 * up again as its backup header once the primary is gone, then as the
	 * protective MBR. The bound only stops a device that will not wipe. */
	while (n < 64 && blkid_do_probe(pr) == 0) {
		if (blkid_do_wipe(pr, 0) != 0) {
			snprintf(err, errlen, "%s: wiping an old signature near byte %llu: %s", d->path,
				 (unsigned long long)offset, strerror(errno ? errno : EIO));
			n = -1;
			goto out;
		}
		n++;
	}
out:
	blkid_free_probe(pr);
	return n;
}

int mv_blockdev_wipe_all(const struct mv_blockdev *d, char *err, size_t errlen)
{
	struct mv_probe p;
	int total = 0;
	/* The old partitions first, while the old table still says where. */
	if (mv_probe_read(d->path, &p, err, errlen) == 0) {
		for (size_t i = 0; i < p.n && total >= 0; i++) {
			if (p.parts[i].start >= d->size)
				continue;
			uint64_t len = p.parts[i].size;
			if (len > d->size - p.parts[i].start)
				len = d->size - p.parts[i].start;
			int n = mv_blockdev_wipe(d, p.parts[i].start, len, err, errlen);
			total = n < 0 ? -1 : total + n;
		}
		mv_probe_free(&p);
	}
	if (total < 0)
		return -1;
	int n = mv_blockdev_wipe(d, 0, 0, err, errlen);
	return n < 0 ? -1 : total + n;
}

int mv_blockdev_reread(const struct mv_blockdev *d, char *err, size_t errlen)
{
	if (fsync(d->fd) != 0) {
		snprintf(err, errlen, "%s: flushing to the disk failed: %s", d->path, strerror(errno));
		return -1;
	}
	/* Whatever the kernel cached of the old table and data must go. */
	ioctl(d->fd, BLKFLSBUF, 0);
	if (ioctl(d->fd, BLKRRPART, 0) == 0)
		return 0;
	int e = errno;
	snprintf(err, errlen, "the disk is complete, but the kernel did not re-read the partition table of %s: %s%s. "
		 "Before using its partitions run `partx -u %s` (or `blockdev --rereadpt %s`), or unplug and replug it, or reboot",
		 d->path, strerror(e),
		 e == EBUSY ? " (a partition of it is in use)"
		 : e == EINVAL ? " (this device does not scan partitions, such as a loop device set up without -P)" : "",
		 d->path, d->path);
	return -1;
}

int mv_disk_identity(const char *path, char *buf, size_t len)
{
	static const char *const names[] = {"wwid", "device/wwid", "device/serial", "serial"};
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISBLK(st.st_mode))
		return -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char f[128];
		snprintf(f, sizeof(f), "/sys/dev/block/%u:%u/%s", major(st.st_rdev), minor(st.st_rdev), names[i]);
		FILE *fp = fopen(f, "r");
		if (!fp)
			continue;
		int got = fgets(buf, (int)len, fp) != NULL;
		fclose(fp);
		buf[got ? strcspn(buf, "\n") : 0] = '\0';
		/* Trailing blanks (SCSI serials are padded) say nothing. */
		for (size_t n = strlen(buf); n > 0 && isspace((unsigned char)buf[n - 1]);)
			buf[--n] = '\0';
		if (*buf)
			return 0;
	}
	return -1;
}
