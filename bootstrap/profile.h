/* profile: the declarative description of one kind of machine (INI, parsed
 * with libinih). Every key is documented in profiles/README.md; this header
 * is the model the rest of the program reads. Every value remembers where it
 * was written, so later checks can name "file:line".
 *
 * Parsing is table-driven: each section has one table of keys (name, kind,
 * field). Scalar keys take the last value (an including profile overrides
 * what it includes); list keys append. SHA256= and Mirror= apply to the
 * source key just above them in the same section. */
#ifndef MV_PROFILE_H
#define MV_PROFILE_H
#include <stdint.h>
#include <stdio.h>

#include "../partition/types.h"
#include "arena.h"
#include "report.h"

struct mv_str {
	const char *v; /* NULL when unset */
	struct mv_where at;
};

enum mv_size_kind { MV_SIZE_UNSET = 0, MV_SIZE_BYTES, MV_SIZE_GROW, MV_SIZE_AUTO };
struct mv_size {
	enum mv_size_kind kind;
	uint64_t bytes;
	struct mv_where at;
};

/* A tri-state: -1 unset (the default applies), 0 no, 1 yes. */
struct mv_bool {
	int v;
	struct mv_where at;
};

/* Something to read: a local path (relative to the profile that names it),
 * file://, http://, https://, or a path inside the unpacked userland
 * ("root:/boot/vmlinuz-*"), or a file of the build host ("host:/usr/...").
 * SHA256=, Mirror= and StripComponents= apply to the source above them. */
struct mv_source {
	struct mv_str location;
	const char *base_dir;  /* directory of the profile that named it */
	struct mv_str sha256;  /* 64 lower-case hex digits, or unset */
	MV_VEC(struct mv_str) mirrors;
	int strip;             /* archives: leading path components to drop */
};

/* host:/path names a file of the machine running microvisor; the profile
 * must ask for it and the architectures must match. */
enum mv_source_kind { MV_SRC_LOCAL, MV_SRC_FILE_URL, MV_SRC_HTTP, MV_SRC_ROOT, MV_SRC_HOST };
enum mv_source_kind mv_source_kind(const char *location);

struct mv_partition {
	const char *name;
	struct mv_where at;       /* the section header that introduced it */
	struct mv_str type;
	struct mv_size size;
	struct mv_str format;
	struct mv_str label;
	struct mv_str mount;
	struct mv_bool grow_fs;
	struct mv_bool bootable;
};

struct mv_copy {                  /* [Files] Copy=SOURCE DEST [MODE] [UID:GID] */
	struct mv_where at;
	const char *source;       /* host path, relative to the profile */
	const char *base_dir;
	const char *dest_part;    /* "root" or a partition name */
	const char *dest_path;
	int mode;                 /* -1: keep the source's */
	long uid, gid;            /* -1: 0 (root) */
};

/* [Customise]: one machine's own settings (bootstrap/customise.h checks
 * them, reads the files they name and writes them into the target). */
struct mv_custom {
	struct mv_str hostname, user, password_hash, password_file;
	MV_VEC(struct mv_str) ssh_key, ssh_key_file;
	struct mv_str ssh_host_keys;
	struct mv_str network, interface, address, gateway, dns;
	struct mv_str wifi_ssid, wifi_psk_file, wifi_interface, wifi_country;
	struct mv_str timezone, locale, keymap;
	/* Filled by the check, from the files named above (never printed). */
	const char *password;     /* PasswordFile='s first line */
	const char *wifi_psk;     /* WifiPSKFile='s first line */
	const char *ssh_keys;     /* every key, checked, one per line */
	int any;                  /* some key of the section is set */
};

struct mv_profile {
	struct mv_arena arena;
	const char *file;         /* the top-level profile, as given */

	struct mv_str name, description, architecture;
	enum mv_arch arch;

	struct mv_str table, seed, sector_size;
	struct mv_size disk_size;

	MV_VEC(struct mv_partition) partitions;

	MV_VEC(struct mv_source) userland;
	struct mv_str into;

	MV_VEC(struct mv_copy) copies;

	struct mv_str boot_kind, options, models, entry_token, title, timeout;
	struct mv_source loader, kernel, initrd, firmware, devicetree;

	struct mv_source nix_tarball;
	struct mv_source nix_closure; /* a store built elsewhere: store/ and its registration */
	struct mv_str flake, multi_user;
	MV_VEC(struct mv_str) nix_config;

	struct mv_str handoff_mode, handoff_command;

	struct mv_custom custom;
};

/* Parse FILE and everything it includes, then check the whole profile.
 * Every problem is reported (file:line, key, what is expected) to rep.
 * Returns the profile, or NULL when rep->errors > 0. */
struct mv_profile *mv_profile_load(const char *file, struct mv_report *rep);
void mv_profile_free(struct mv_profile *p);

/* A key set on the command line (--set SECTION.KEY=VALUE, --hostname, ...),
 * applied after the profile and everything it includes, as if its line
 * stood at the end: a scalar key is overridden, a list key appended to.
 * origin names it in messages ("--hostname"); relative paths in it are
 * relative to the working directory. */
struct mv_set {
	const char *origin, *section, *key, *value;
};
struct mv_profile *mv_profile_load_with(const char *file, const struct mv_set *sets, size_t n_sets,
					struct mv_report *rep);

const struct mv_partition *mv_profile_partition(const struct mv_profile *p, const char *name);

#endif
