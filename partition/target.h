/* target: a whole block device about to be erased (install, flash).
 * Opening it is the only way in, and opening refuses, with the reason, a
 * disk that must not be touched: a partition rather than a whole disk, a
 * disk (or one of its partitions) that is mounted, active swap, holds the
 * running system's root, or is held by another device (device-mapper, md,
 * LVM: sysfs holders/). The checks run before the exclusive open so the
 * message says why instead of "Device or resource busy"; O_EXCL then
 * keeps anyone from mounting it while we write.
 *
 * Also here: what is on the disk now (for the confirmation), the typed
 * confirmation, wiping old signatures (libblkid, as wipefs -a: the backup
 * GPT at the end included) and making the kernel re-read the table. */
#ifndef MV_TARGET_H
#define MV_TARGET_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct mv_blockdev {
	int fd;                /* O_RDWR | O_EXCL | O_CLOEXEC, -1 when closed */
	char path[4096];       /* as given */
	char kname[64];        /* the kernel's name: "loop0", "sda" */
	dev_t devno;
	uint64_t size;         /* bytes */
	unsigned sector_size;  /* logical */
};

/* Where the checks read the system's state; NULL members take the real
 * files (/proc/self/mountinfo, /proc/swaps, /sys, "/"). Tests point them
 * at fixtures. */
struct mv_system {
	const char *mountinfo;
	const char *swaps;
	const char *sysfs;
	const char *root;
};

/* Runs the safety checks on path: 0 when it may be erased, -1 with the
 * reason in err (naming the device, what uses it and what to do). */
int mv_blockdev_check(const char *path, const struct mv_system *sys, char *err, size_t errlen);

/* The checks, then the exclusive open and the measurements. Returns 0, or
 * -1 with err. */
int mv_blockdev_open(const char *path, struct mv_blockdev *d, char *err, size_t errlen);
void mv_blockdev_close(struct mv_blockdev *d);

/* What is on the disk now, one indented line per thing (table,
 * partitions with their filesystems, labels and sizes), from libblkid and
 * libfdisk (partition/probe.h). */
void mv_blockdev_describe(const char *path, FILE *out);

/* The same for programs, as members of the JSON object j is in:
 * "destroys" (what is on it now: mv_probe_json's members, or null when it
 * cannot be read, with "destroys_unreadable" saying why), "refused"
 * (whether mv_blockdev_check refuses it) and "refused_because" (its
 * message, or null). */
struct mv_json;
void mv_blockdev_describe_json(struct mv_json *j, const char *path);

/* The disk's own identity for the default seed (DESIGN.md, Decisions:
 * two machines installed from one profile get different UUIDs): sysfs's
 * wwid, else the device's wwid, else its serial (SCSI's device/serial,
 * virtio-blk's serial), of the block device at
 * path. 0 with the text in buf, or -1 when it has none (a loop device, an
 * image file). */
int mv_disk_identity(const char *path, char *buf, size_t len);

/* The typed confirmation: asks on out for the device's path (or its
 * kernel name) to be typed on in. Returns 1 when it was, 0 when not
 * (anything else, or end of input). */
int mv_blockdev_confirm(const struct mv_blockdev *d, const char *action, FILE *in, FILE *out);

/* Wipes every signature libblkid finds at [offset, offset + length) of the
 * open disk: filesystems, RAID and partition tables (a GPT's primary and
 * backup headers and its protective MBR, as wipefs -a does). length 0 =
 * to the end of the disk. Returns the number of signatures wiped, or -1
 * with err. */
int mv_blockdev_wipe(const struct mv_blockdev *d, uint64_t offset, uint64_t length, char *err, size_t errlen);

/* Every old signature: the whole disk and each partition of the table on
 * it now. Returns the count wiped, or -1 with err. */
int mv_blockdev_wipe_all(const struct mv_blockdev *d, char *err, size_t errlen);

/* fsync, then BLKRRPART. Returns 0, or -1 with err saying why the kernel
 * refused and how to recover (the disk itself is complete either way). */
int mv_blockdev_reread(const struct mv_blockdev *d, char *err, size_t errlen);

#endif
