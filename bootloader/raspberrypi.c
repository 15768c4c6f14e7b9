/* Raspberry Pi 3, 4 and 5: the firmware reads an MBR's first partition,
 * FAT32, type 0x0c (boot-spec.md §3). Files per model (§3.1, §3.3):
 * bootcode.bin + start.elf/fixup.dat for the Pi 3, start4.elf/fixup4.dat for
 * the Pi 4, nothing for the Pi 5 (its firmware is in the EEPROM). Debian's
 * kernels ship upstream DTB names (bcm2837-rpi-3-b.dtb), hence
 * upstream_kernel=1. Kernel, initramfs, DTBs and cmdline.txt sit at the
 * partition's top, as Debian's raspi-firmware lays them out: os_prefix is
 * ignored when the prefixed files do not exist (§3.4), so this works with
 * and without upstream/. */
#include "bootloader.h"

#include <stdio.h>
#include <string.h>

struct model {
	const char *name;
	const char *firmware[4];
	const char *dtbs[6];
	const char *config;  /* the [piN] section's lines */
};

static const struct model models[] = {
	{"pi3", {"bootcode.bin", "start.elf", "fixup.dat", NULL},
	 {"bcm2837-rpi-3-b.dtb", "bcm2837-rpi-3-b-plus.dtb", "bcm2837-rpi-3-a-plus.dtb",
	  "bcm2837-rpi-zero-2-w.dtb", NULL},
	 "[pi3]\n# bootcode.bin, start.elf and fixup.dat are on this partition\n"},
	{"pi4", {"start4.elf", "fixup4.dat", NULL},
	 {"bcm2711-rpi-4-b.dtb", "bcm2711-rpi-400.dtb", "bcm2711-rpi-cm4-io.dtb", NULL},
	 "[pi4]\narm_boost=1\n"},
	{"pi5", {NULL},
	 {"bcm2712-rpi-5-b.dtb", "bcm2712d0-rpi-5-b.dtb", "bcm2712-rpi-500.dtb", NULL},
	 "[pi5]\n# the firmware is in the EEPROM; config.txt marks the partition bootable\n"},
};
#define N_MODELS (sizeof(models) / sizeof(models[0]))
#define DEFAULT_MODELS "pi3 pi4"
#define RPI_FIRSTBOOT "/usr/lib/raspberrypi-sys-mods/firstboot"
/* Where Debian's arm64 kernel package keeps the Broadcom device trees. */
#define DEFAULT_DTB_DIR "root:/usr/lib/linux-image-*/broadcom"

/* Calls fn for each model named in Models= (space separated). Returns -1
 * and names the word when one is unknown. */
static int for_models(const struct mv_boot_ctx *ctx, void (*fn)(const struct model *, void *), void *arg,
		      char *err, size_t errlen)
{
	const char *s = ctx->models ? ctx->models : DEFAULT_MODELS;
	while (*s) {
		while (*s == ' ' || *s == ',')
			s++;
		size_t len = strcspn(s, " ,");
		if (!len)
			break;
		const struct model *m = NULL;
		for (size_t i = 0; i < N_MODELS; i++)
			if (strlen(models[i].name) == len && strncmp(models[i].name, s, len) == 0)
				m = &models[i];
		if (!m) {
			if (err)
				snprintf(err, errlen, "Models=: unknown model %.*s; expected pi3, pi4 and/or pi5", (int)len, s);
			return -1;
		}
		if (fn)
			fn(m, arg);
		s += len;
	}
	return 0;
}

static int rpi_check(const struct mv_boot_ctx *ctx, char *err, size_t errlen)
{
	if (ctx->arch != MV_ARCH_AARCH64) {
		snprintf(err, errlen, "the Raspberry Pi 3, 4 and 5 boot 64-bit kernels: set Architecture=aarch64");
		return -1;
	}
	if (ctx->table != MV_TABLE_MBR) {
		snprintf(err, errlen, "the Raspberry Pi 3 boots only from an MBR table: set Table=mbr");
		return -1;
	}
	if (!ctx->esp || ctx->esp->number != 1 || ctx->esp->fs != MV_FS_VFAT) {
		snprintf(err, errlen, "the Raspberry Pi firmware reads the first partition, which must be Type=fat32 with Format=vfat");
		return -1;
	}
	if (!ctx->root) {
		snprintf(err, errlen, "the Raspberry Pi needs a root partition (Type=linux)");
		return -1;
	}
	if (!ctx->kernel || !ctx->firmware) {
		snprintf(err, errlen, "the Raspberry Pi needs Kernel= and Firmware= (a directory or tarball laid out like the firmware's boot/)");
		return -1;
	}
	return for_models(ctx, NULL, NULL, err, errlen);
}

struct describe_arg {
	const struct mv_boot_ctx *ctx;
	mv_boot_emit emit;
	void *opaque;
	char config[1024];
};

static void model_files(const struct model *m, void *varg)
{
	struct describe_arg *a = varg;
	char path[128];
	for (const char *const *f = m->firmware; *f; f++) {
		snprintf(path, sizeof(path), "/%s", *f);
		a->emit(a->opaque, &(struct mv_boot_file){.partition = a->ctx->esp->name, .path = path,
							  .from = a->ctx->firmware, .member = *f});
	}
	const char *dt = a->ctx->devicetree ? a->ctx->devicetree : DEFAULT_DTB_DIR;
	for (const char *const *d = m->dtbs; *d; d++) {
		snprintf(path, sizeof(path), "/%s", *d);
		int pi5 = strcmp(m->name, "pi5") == 0;
		a->emit(a->opaque, &(struct mv_boot_file){
			.partition = a->ctx->esp->name, .path = path, .from = dt, .member = *d,
			.deferred = pi5 ? "written only if the kernel's device trees include it (Debian 12's kernel has no bcm2712 DTBs)"
					: NULL,
			.flags = pi5 ? MV_BOOT_OPTIONAL : 0});
	}
	size_t used = strlen(a->config);
	snprintf(a->config + used, sizeof(a->config) - used, "%s", m->config);
}

static void rpi_describe(const struct mv_boot_ctx *ctx, mv_boot_emit emit, mv_boot_emit warn, void *opaque)
{
	(void)warn;
	struct describe_arg a = {.ctx = ctx, .emit = emit, .opaque = opaque};
	const char *fw = ctx->esp->name;
	char cmdline[768], text[1024];

	snprintf(a.config, sizeof(a.config),
		 "# Written by microvisor.\narm_64bit=1\nenable_uart=1\nupstream_kernel=1\nkernel=kernel8.img\n%s",
		 ctx->initrd ? "initramfs initramfs8 followkernel\n" : "");
	for_models(ctx, model_files, &a, NULL, 0);
	size_t used = strlen(a.config);
	snprintf(a.config + used, sizeof(a.config) - used, "[all]\n");

	emit(opaque, &(struct mv_boot_file){.partition = fw, .path = "/kernel8.img", .from = ctx->kernel,
					     .deferred = strchr(ctx->kernel, '*') ? "the newest match by version sort" : NULL});
	if (ctx->initrd)
		emit(opaque, &(struct mv_boot_file){.partition = fw, .path = "/initramfs8", .from = ctx->initrd,
						     .deferred = strchr(ctx->initrd, '*') ? "the match whose version equals the kernel's" : NULL});
	emit(opaque, &(struct mv_boot_file){.partition = fw, .path = "/overlays", .member = "overlays",
					     .from = ctx->devicetree ? ctx->devicetree : DEFAULT_DTB_DIR,
					     .deferred = "copied when the source has an overlays/ directory",
					     .flags = MV_BOOT_OPTIONAL | MV_BOOT_TREE});
	emit(opaque, &(struct mv_boot_file){.partition = fw, .path = "/config.txt", .content = a.config});

	/* The serial console first so the last console= (tty1) is /dev/console
	 * on a screen; PARTUUID from the MBR signature, as pi-gen does. */
	char opts[640];
	snprintf(opts, sizeof(opts), "console=serial0,115200 console=tty1 rootwait%s%s",
		 ctx->options && *ctx->options ? " " : "", ctx->options ? ctx->options : "");
	struct mv_boot_ctx with_console = *ctx;
	with_console.options = opts;
	mv_boot_cmdline(&with_console, cmdline, sizeof(cmdline));
	snprintf(text, sizeof(text), "%s\n", cmdline);
	/* MBR has no grow flag: Raspberry Pi OS grows its root from its own
	 * firstboot init (boot-spec.md §3.7), which cmdline.txt must name. */
	emit(opaque, &(struct mv_boot_file){
		.partition = fw, .path = "/cmdline.txt", .content = text,
		.gain_if = ctx->root_grows ? RPI_FIRSTBOOT : NULL,
		.gain_text = ctx->root_grows ? " init=" RPI_FIRSTBOOT : NULL,
		.deferred = ctx->root_grows ? "gains init=" RPI_FIRSTBOOT " when the userland has it (Raspberry Pi OS's "
					      "first boot: grows the root partition and filesystem)" : NULL});

	snprintf(text, sizeof(text), "PARTUUID=%s %s vfat defaults 0 2\n", ctx->esp->partuuid,
		 ctx->esp->mount ? ctx->esp->mount : "/boot/firmware");
	emit(opaque, &(struct mv_boot_file){.partition = "root", .path = "/etc/fstab", .content = text, .flags = MV_BOOT_APPEND});
	emit(opaque, &(struct mv_boot_file){.partition = "root", .path = "/etc/machine-id", .content = "uninitialized\n"});
}

const struct mv_bootloader mv_loader_raspberrypi = {
	.name = "raspberrypi",
	.summary = "Raspberry Pi firmware (Pi 3, 4, 5) on an MBR FAT32 first partition",
	.check = rpi_check,
	.describe = rpi_describe,
};
