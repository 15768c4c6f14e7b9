/* systemd-boot: the layout `bootctl install` makes (boot-spec.md §1.3),
 * without the random seed (an image is cloned) and without EFI variables
 * (the firmware finds the removable-media path EFI/BOOT/BOOT<ARCH>.EFI).
 * Entries are Boot Loader Specification type #1 (§1.5) named
 * <entry-token>-<version>.conf with the payload under /<token>/<version>/. */
#include "bootloader.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *efi_arch(enum mv_arch a)
{
	return a == MV_ARCH_AARCH64 ? "aa64" : "x64";
}

/* Boot Loader Specification entry names: A-Z a-z 0-9 + - _ . */
static int valid_token(const char *t)
{
	if (!*t || strlen(t) > 64)
		return 0;
	for (; *t; t++)
		if (!isalnum((unsigned char)*t) && !strchr("+-_.", *t))
			return 0;
	return 1;
}

static int sdboot_check(const struct mv_boot_ctx *ctx, char *err, size_t errlen)
{
	if (!valid_token(ctx->entry_token)) {
		snprintf(err, errlen, "the entry token %s must be 1-64 of A-Z a-z 0-9 + - _ . (set [Bootloader] EntryToken=)",
			 ctx->entry_token);
		return -1;
	}
	if (ctx->table != MV_TABLE_GPT) {
		snprintf(err, errlen, "systemd-boot needs Table=gpt with an esp partition");
		return -1;
	}
	if (!ctx->esp) {
		snprintf(err, errlen, "systemd-boot needs a partition with Type=esp");
		return -1;
	}
	if (ctx->esp->fs != MV_FS_VFAT) {
		snprintf(err, errlen, "the ESP (partition %s) must be Format=vfat", ctx->esp->name);
		return -1;
	}
	if (!ctx->root) {
		snprintf(err, errlen, "systemd-boot needs a root partition (Type=root) for root=PARTUUID=");
		return -1;
	}
	if (!ctx->kernel) {
		snprintf(err, errlen, "systemd-boot needs Kernel= (a source, or root:/boot/vmlinuz-*)");
		return -1;
	}
	return 0;
}

static void sdboot_describe(const struct mv_boot_ctx *ctx, mv_boot_emit emit, mv_boot_emit warn, void *opaque)
{
	char name[64], up[64], from[256], text[1024], cmdline[768], path[256];
	const char *arch = efi_arch(ctx->arch);
	const char *esp = ctx->esp->name;
	const char *boot = ctx->xbootldr ? ctx->xbootldr->name : esp;
	const char *token = ctx->entry_token;
	const char *deferred_version =
		"the kernel's version, from the newest file matching the Kernel= pattern by version sort";

	snprintf(name, sizeof(name), "systemd-boot%s.efi", arch);
	snprintf(up, sizeof(up), "BOOT%s.EFI", ctx->arch == MV_ARCH_AARCH64 ? "AA64" : "X64");
	unsigned signed_flag = 0;
	if (ctx->loader) {
		snprintf(from, sizeof(from), "%s", ctx->loader);
	} else {
		snprintf(from, sizeof(from), "root:/usr/lib/systemd/boot/efi/%s", name);
		signed_flag = MV_BOOT_SIGNED;
	}

	snprintf(path, sizeof(path), "/EFI/systemd/%s", name);
	emit(opaque, &(struct mv_boot_file){.partition = esp, .path = path, .from = from, .flags = signed_flag});
	snprintf(path, sizeof(path), "/EFI/BOOT/%s", up);
	emit(opaque, &(struct mv_boot_file){.partition = esp, .path = path, .from = from, .flags = signed_flag});
	if (!ctx->loader || !strstr(ctx->loader, ".signed"))
		warn(opaque, &(struct mv_boot_file){
			.content = "systemd-boot is used as found (unless a .efi.signed is beside it): an unsigned loader boots only with Secure Boot off"});

	snprintf(text, sizeof(text), "timeout %u\ndefault %s-*\neditor no\n", ctx->timeout, token);
	emit(opaque, &(struct mv_boot_file){.partition = esp, .path = "/loader/loader.conf", .content = text});
	emit(opaque, &(struct mv_boot_file){.partition = boot, .path = "/loader/entries.srel", .content = "type1\n"});

	mv_boot_cmdline(ctx, cmdline, sizeof(cmdline));
	snprintf(path, sizeof(path), "/loader/entries/%s-VERSION.conf", token);
	char initrd_line[160] = "";
	if (ctx->initrd)
		snprintf(initrd_line, sizeof(initrd_line), "initrd /%s/VERSION/initrd\n", token);
	snprintf(text, sizeof(text),
		 "title %s\nversion VERSION\nlinux /%s/VERSION/linux\n%soptions %s\narchitecture %s\n",
		 ctx->title, token, initrd_line, cmdline, arch);
	emit(opaque, &(struct mv_boot_file){.partition = boot, .path = path, .content = text, .deferred = deferred_version});

	snprintf(path, sizeof(path), "/%s/VERSION/linux", token);
	emit(opaque, &(struct mv_boot_file){.partition = boot, .path = path, .from = ctx->kernel,
					     .deferred = strchr(ctx->kernel, '*') ? "the newest match by version sort" : NULL});
	if (ctx->initrd) {
		snprintf(path, sizeof(path), "/%s/VERSION/initrd", token);
		emit(opaque, &(struct mv_boot_file){.partition = boot, .path = path, .from = ctx->initrd,
						     .deferred = strchr(ctx->initrd, '*') ? "the match whose version equals the kernel's" : NULL});
	}

	/* What the installed system expects (DESIGN.md): its own kernel-install
	 * keeps writing entries like ours, and no two clones share an id. */
	snprintf(text, sizeof(text), "%s\n", token);
	emit(opaque, &(struct mv_boot_file){.partition = "root", .path = "/etc/kernel/entry-token", .content = text});
	emit(opaque, &(struct mv_boot_file){.partition = "root", .path = "/etc/kernel/install.conf", .content = "layout=bls\n"});
	emit(opaque, &(struct mv_boot_file){.partition = "root", .path = "/etc/machine-id", .content = "uninitialized\n"});
	snprintf(text, sizeof(text), "PARTUUID=%s %s vfat umask=0077 0 2\n", ctx->esp->partuuid,
		 ctx->esp->mount ? ctx->esp->mount : "/efi");
	emit(opaque, &(struct mv_boot_file){.partition = "root", .path = "/etc/fstab", .content = text, .flags = MV_BOOT_APPEND});
}

const struct mv_bootloader mv_loader_systemd_boot = {
	.name = "systemd-boot",
	.summary = "systemd-boot on the ESP, Boot Loader Specification type #1 entries",
	.check = sdboot_check,
	.describe = sdboot_describe,
};
