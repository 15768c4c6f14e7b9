/* ufs: our own UFS2 writer (FreeBSD's fast filesystem, version 2) behind
 * struct mv_fs_ops (images/fs.h). Written from the on-disk format as
 * FreeBSD's sys/ufs/ffs/fs.h, sys/ufs/ufs/dinode.h and dir.h describe it;
 * see ufs.c for the decisions.
 *
 * The filesystem is what FreeBSD's newfs makes with its defaults and no
 * soft updates or journal (tunefs -n / -j can turn them on later): 32 KiB
 * blocks, 4 KiB fragments, one inode per 8 KiB (newfs's NFPI 2), 256-byte
 * UFS2 inodes, the superblock at 64 KiB and a copy in every cylinder group,
 * cylinder groups as large as one block of maps allows. */
#ifndef MV_UFS_H
#define MV_UFS_H
#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "io.h"

struct mv_ufs_options {
	uint8_t id[8];          /* from the seed: fs_id; blkid shows these bytes in
				   hex (the first 16 digits of the plan's UUID) */
	const char *label;      /* fs_volname, up to 31 bytes (longer is cut), or NULL */
	int64_t timestamp;      /* SOURCE_DATE_EPOCH: fs_time, the root, every birth time */
};

/* Makes the filesystem on io's window (at least 1 MiB). io is copied; its
 * descriptor must stay open until destroy(). On a reused target
 * (io->fresh == 0) the boot area, every superblock and cylinder-group block
 * and the inode blocks in use are written whole; on a fresh one zeros stay
 * holes. Returns NULL with a message in err on failure. */
struct mv_fs *mv_ufs_create(const struct mv_io *io, const struct mv_ufs_options *o, char *err, size_t errlen);

#endif
