/* bootloader: one interface, one file per loader, one table.
 *
 * A loader is told what the plan knows (architecture, the partitions by
 * role with their PARTUUIDs, the kernel command line, where kernel, initrd
 * and firmware come from) and describes every file it will write: on which
 * partition, at which path, from which source or with which content. The
 * plan shows exactly that list, and the install step (a later stage) writes
 * the same list through the filesystem writers. A loader never sees libfdisk,
 * libcurl or the CLI. */
#ifndef MV_BOOTLOADER_H
#define MV_BOOTLOADER_H
#include <stddef.h>

#include "../partition/types.h"

struct mv_boot_part {
	const char *name;      /* the profile's partition name */
	unsigned number;       /* 1-based */
	const char *partuuid;  /* GPT: the UUID; MBR: "<disk id>-<NN>" */
	const char *label;
	const char *mount;
	enum mv_fs_kind fs;
};

struct mv_boot_ctx {
	enum mv_arch arch;
	enum mv_table table;
	const char *disk_id;                 /* GPT disk GUID or MBR signature (8 hex) */
	const struct mv_boot_part *esp;      /* or the Pi's firmware partition */
	const struct mv_boot_part *xbootldr; /* NULL: $BOOT is the ESP */
	const struct mv_boot_part *root;     /* NULL for a prefix */
	const struct mv_boot_part *freebsd_boot;
	const struct mv_boot_part *swap;     /* the first swap partition, or NULL */
	const char *hostname;                /* the customisation's, else the profile's Name */
	const char *root_fs_type;            /* "ext4", "ufs" */
	/* Sources, as written in the profile (NULL: the loader's default). */
	const char *loader, *kernel, *initrd, *firmware, *devicetree;
	const char *options;                 /* [Bootloader] Options= */
	const char *models;                  /* "pi3 pi4 pi5" */
	const char *entry_token;
	const char *title;
	unsigned timeout;
	int root_grows;                      /* GrowFileSystem=yes on the root */
};

/* One file the loader will write: the plan shows it, the run writes it.
 * Exactly one of from/content is set. "VERSION" in path or content stands
 * for the kernel's version, known once the kernel is chosen; deferred,
 * when set, is the rule that decides what only the content can tell. */
struct mv_boot_file {
	const char *partition;  /* a partition name, or "root" */
	const char *path;
	const char *from;       /* a source: path, URL, root:/... (a glob in the
				   last component: the newest match by version
				   sort), host:/... */
	const char *member;     /* a file inside a directory or archive source */
	const char *content;    /* generated text */
	const char *deferred;
	unsigned flags;
	/* content gains gain_text (before its last newline) when the root
	 * filesystem has the file gain_if: a convention of the userland's,
	 * known only once it is unpacked. */
	const char *gain_if, *gain_text;
};

enum {
	MV_BOOT_APPEND = 1,     /* content goes at the end of an existing file */
	MV_BOOT_OPTIONAL = 2,   /* skipped when the source lacks it */
	MV_BOOT_TREE = 4,       /* a directory, copied whole */
	MV_BOOT_RAW = 8,        /* raw bytes at the partition's start (path "") or
				   into the MBR's boot code (partition "mbr") */
	MV_BOOT_SIGNED = 16,    /* prefer "<from>.signed" beside from, as bootctl */
};

typedef void (*mv_boot_emit)(void *opaque, const struct mv_boot_file *file);

struct mv_bootloader {
	const char *name;
	const char *summary;
	/* The roles it needs; returns 0, or -1 with a message in err naming
	 * the missing partition or the value that is wrong. */
	int (*check)(const struct mv_boot_ctx *ctx, char *err, size_t errlen);
	/* Every file it writes, in order, through emit. Warnings (say, an
	 * unsigned loader needs Secure Boot off) through warn. */
	void (*describe)(const struct mv_boot_ctx *ctx, mv_boot_emit emit,
			 mv_boot_emit warn, void *opaque);
};

const struct mv_bootloader *mv_bootloader_find(const char *name);
/* "systemd-boot, raspberrypi, freebsd, none" */
const char *mv_bootloader_names(void);

/* The kernel command line every Linux loader passes: root=PARTUUID= of the
 * planned root partition, "rw", then the profile's Options=. */
void mv_boot_cmdline(const struct mv_boot_ctx *ctx, char *buf, size_t len);

extern const struct mv_bootloader mv_loader_systemd_boot;
extern const struct mv_bootloader mv_loader_raspberrypi;
extern const struct mv_bootloader mv_loader_freebsd;
extern const struct mv_bootloader mv_loader_none;

#endif
