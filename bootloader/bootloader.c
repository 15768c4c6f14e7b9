#include "bootloader.h"

#include <stdio.h>
#include <string.h>

/* The one table: a new loader is one more line here and one more file. */
static const struct mv_bootloader *const loaders[] = {
	&mv_loader_systemd_boot,
	&mv_loader_raspberrypi,
	&mv_loader_freebsd,
	&mv_loader_none,
};

const struct mv_bootloader *mv_bootloader_find(const char *name)
{
	for (size_t i = 0; i < sizeof(loaders) / sizeof(loaders[0]); i++)
		if (strcmp(loaders[i]->name, name) == 0)
			return loaders[i];
	return NULL;
}

const char *mv_bootloader_names(void)
{
	return "systemd-boot, raspberrypi, freebsd, none";
}

void mv_boot_cmdline(const struct mv_boot_ctx *ctx, char *buf, size_t len)
{
	snprintf(buf, len, "root=PARTUUID=%s rw%s%s", ctx->root ? ctx->root->partuuid : "?",
		 ctx->options && *ctx->options ? " " : "", ctx->options ? ctx->options : "");
}

static int none_check(const struct mv_boot_ctx *ctx, char *err, size_t errlen)
{
	(void)ctx, (void)err, (void)errlen;
	return 0;
}

static void none_describe(const struct mv_boot_ctx *ctx, mv_boot_emit emit, mv_boot_emit warn, void *opaque)
{
	(void)ctx, (void)emit, (void)warn, (void)opaque;
}

const struct mv_bootloader mv_loader_none = {
	.name = "none",
	.summary = "no boot loader (a prefix, or a disk booted some other way)",
	.check = none_check,
	.describe = none_describe,
};
