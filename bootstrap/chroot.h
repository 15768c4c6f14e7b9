/* chroot: [Handoff] Mode=chroot for `install`: runs the profile's
 * Command= inside the root filesystem just written to a disk, before the
 * machine ever boots (the same architecture as the host).
 *
 * How: the root partition's byte range of the (still exclusively held)
 * disk gets its own loop device (offset and size limit, auto-clearing),
 * so nothing depends on the kernel having re-read the new table or on
 * partition nodes existing. A child process enters a private mount
 * namespace, mounts that loop device on a fresh directory, bind-mounts the
 * host's /dev, /proc and /sys into it, chroots and runs `/bin/sh -c
 * COMMAND` with a plain PATH. When it exits the namespace, and with it
 * every mount, goes away; the loop device detaches itself. Nothing is
 * mounted on the host at any point. Needs root (CAP_SYS_ADMIN). */
#ifndef MV_CHROOT_H
#define MV_CHROOT_H
#include <stddef.h>
#include <stdint.h>

/* Returns 0 when the command exited 0; -1 with err (the command's exit
 * status, or what could not be set up). */
int mv_chroot_run(int disk_fd, uint64_t offset, uint64_t size, const char *fstype, const char *command,
		  char *err, size_t errlen);

#endif
