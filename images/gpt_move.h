/* gpt_move: after an image is written to a larger device, its backup GPT
 * sits where the image ended, not at the device's end, and firmware and
 * fdisk complain. This moves it, as `sgdisk -e` does: the backup entries
 * and header go to the device's last sectors, the primary header's
 * alternate LBA and last usable LBA follow (so a partition may later be
 * grown into the space), the protective MBR's size is updated, and the old
 * backup header is zeroed. No partition or filesystem grows. */
#ifndef MV_GPT_MOVE_H
#define MV_GPT_MOVE_H
#include <stddef.h>
#include <stdint.h>

/* fd: the device (size bytes, sector_size-byte logical sectors). Returns
 * 1 when moved, 0 when there is nothing to do (no valid GPT, or its
 * backup is already at the end), -1 with err. */
int mv_gpt_move_backup(int fd, uint64_t size, unsigned sector_size, char *err, size_t errlen);

#endif
