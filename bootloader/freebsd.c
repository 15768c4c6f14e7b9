/* FreeBSD: loader.efi on the ESP (boot-spec.md §2.2), gptboot in the
 * freebsd-boot partition with pmbr as the protective MBR's boot code for
 * BIOS (§2.3), and the files the installed system reads (§2.5), naming
 * partitions by GPT label because the disk's device name is unknown. */
#include "bootloader.h"

#include <stdio.h>
#include <string.h>

static int bsd_check(const struct mv_boot_ctx *ctx, char *err, size_t errlen)
{
	if (ctx->table != MV_TABLE_GPT || !ctx->esp) {
		snprintf(err, errlen, "FreeBSD's loader.efi needs Table=gpt and a partition with Type=esp");
		return -1;
	}
	if (!ctx->root || ctx->root->fs != MV_FS_UFS) {
		snprintf(err, errlen, "FreeBSD needs a root partition with Type=freebsd-ufs and Format=ufs");
		return -1;
	}
	if (!ctx->root->label) {
		snprintf(err, errlen, "the freebsd-ufs partition %s needs Label=: fstab and loader.conf name it /dev/gpt/LABEL",
			 ctx->root->name);
		return -1;
	}
	return 0;
}

static void bsd_describe(const struct mv_boot_ctx *ctx, mv_boot_emit emit, mv_boot_emit warn, void *opaque)
{
	char text[512];
	const char *loader = ctx->loader ? ctx->loader : "root:/boot/loader.efi";
	emit(opaque, &(struct mv_boot_file){.partition = ctx->esp->name, .path = "/EFI/freebsd/loader.efi", .from = loader});
	emit(opaque, &(struct mv_boot_file){.partition = ctx->esp->name,
					     .path = ctx->arch == MV_ARCH_AARCH64 ? "/EFI/BOOT/BOOTAA64.EFI" : "/EFI/BOOT/BOOTX64.EFI",
					     .from = loader});
	warn(opaque, &(struct mv_boot_file){.content = "FreeBSD's loader.efi is unsigned: it boots only with Secure Boot off"});
	if (ctx->freebsd_boot) {
		emit(opaque, &(struct mv_boot_file){.partition = "mbr", .path = "", .from = "root:/boot/pmbr", .flags = MV_BOOT_RAW});
		emit(opaque, &(struct mv_boot_file){.partition = ctx->freebsd_boot->name, .path = "",
						     .from = "root:/boot/gptboot", .flags = MV_BOOT_RAW});
	}
	snprintf(text, sizeof(text), "vfs.root.mountfrom=\"ufs:/dev/gpt/%s\"\n", ctx->root->label);
	emit(opaque, &(struct mv_boot_file){.partition = "root", .path = "/boot/loader.conf", .content = text, .flags = MV_BOOT_APPEND});
	/* bsdinstall's header and columns, GPT labels for the device names. */
	int n = snprintf(text, sizeof(text), "# Device\tMountpoint\tFStype\tOptions\tDump\tPass#\n"
			 "/dev/gpt/%s\t/\t\tufs\trw\t1\t1\n", ctx->root->label);
	if (ctx->swap && ctx->swap->label)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "/dev/gpt/%s\tnone\t\tswap\tsw\t0\t0\n", ctx->swap->label);
	if (ctx->esp->label)
		snprintf(text + n, sizeof(text) - (size_t)n, "/dev/gpt/%s\t/boot/efi\tmsdosfs\trw\t2\t2\n", ctx->esp->label);
	emit(opaque, &(struct mv_boot_file){.partition = "root", .path = "/etc/fstab", .content = text});
	snprintf(text, sizeof(text), "hostname=\"%s\"\ngrowfs_enable=\"YES\"\n", ctx->hostname ? ctx->hostname : "freebsd");
	emit(opaque, &(struct mv_boot_file){.partition = "root", .path = "/etc/rc.conf", .content = text, .flags = MV_BOOT_APPEND});
}

const struct mv_bootloader mv_loader_freebsd = {
	.name = "freebsd",
	.summary = "FreeBSD loader.efi (UEFI) and gptboot (BIOS)",
	.check = bsd_check,
	.describe = bsd_describe,
};
