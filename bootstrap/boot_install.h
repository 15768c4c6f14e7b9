/* boot_install: the boot loader stage of a run. It writes the files the
 * loader described (plan->boot_files) through the writers: what the plan
 * shows is exactly what is written. */
#ifndef MV_BOOT_INSTALL_H
#define MV_BOOT_INSTALL_H
#include <stddef.h>

#include "../images/fs.h"
#include "plan.h"

struct mv_boot_env {
	const struct mv_plan *plan;
	struct mv_fs *(*writer)(void *ctx, const char *partition); /* "root" = the userland's */
	/* Where a source's verified bytes are (the cache, or the local file). */
	const char *(*source_path)(void *ctx, const char *location);
	void *ctx;
	int fd;              /* the whole target, for raw writes */
	char version[256];   /* out: the kernel's version, once chosen */
	/* out: the MBR's boot code (FreeBSD's pmbr, up to the disk
	 * signature at byte 440), for mv_boot_install_mbr; mbr_len 0: none. */
	unsigned char mbr_code[440];
	size_t mbr_len;
};

/* Everything but the MBR's boot code (which goes after the partition
 * table is written: mv_boot_install_mbr): files through the writers, raw
 * boot code at its partition's first byte (the rest of that partition
 * zeroed, as it holds nothing else), and the MBR's code read into
 * env->mbr_code. Returns 0, or -1 with err. */
int mv_boot_install(struct mv_boot_env *env, char *err, size_t errlen);
/* Writes env->mbr_code over the first bytes of sector 0, keeping the
 * partition table and signature the table writer put there. */
int mv_boot_install_mbr(struct mv_boot_env *env, char *err, size_t errlen);

#endif
