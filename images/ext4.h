/* ext4: a writer on libext2fs through our own io manager bounded to the
 * partition's window (images/io.h). See ext4.c for the decisions.
 *
 * The filesystem is Debian 12's mke2fs ext4 (has_journal ext_attr
 * resize_inode dir_index filetype extent 64bit flex_bg sparse_super
 * large_file huge_file dir_nlink extra_isize metadata_csum), 4 KiB blocks,
 * 256-byte inodes, with a root directory (0:0, 0755) and lost+found
 * (0700, 16 KiB). Same calls and options give the same bytes on any host.
 * Directories are linear (no htree) and linked in constant time per name,
 * so one directory may hold hundreds of thousands of entries. */
#ifndef MV_EXT4_H
#define MV_EXT4_H
#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "io.h"

struct mv_ext4_options {
	uint8_t uuid[16];       /* from the seed */
	uint8_t hash_seed[16];  /* from the seed: the directory hash seed */
	const char *label;      /* up to 16 bytes (longer is cut), or NULL */
	uint64_t inode_count;   /* 0: mke2fs's default, one per 16 KiB; rounded
				   up to fill whole inode-table blocks per group */
	int64_t timestamp;      /* SOURCE_DATE_EPOCH: mkfs and write times,
				   root, lost+found, crtime of every inode */
};

/* Makes the filesystem on io's window (at least 8 MiB: the journal needs
 * 2048 blocks). io is copied; its descriptor must stay open until
 * destroy(). On a reused target (io->fresh == 0) block 0, the inode
 * tables and the journal are written as zeros; on a fresh one they stay
 * holes. Returns NULL with a message in err on failure. */
struct mv_fs *mv_ext4_create(const struct mv_io *io, const struct mv_ext4_options *o, char *err, size_t errlen);

#endif
