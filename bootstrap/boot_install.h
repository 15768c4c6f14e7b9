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
};

/* Everything but the MBR's boot code (which goes after the partition
 * table is written: mv_boot_install_mbr). Returns 0, or -1 with err. */
int mv_boot_install(struct mv_boot_env *env, char *err, size_t errlen);
int mv_boot_install_mbr(struct mv_boot_env *env, char *err, size_t errlen);

#endif
