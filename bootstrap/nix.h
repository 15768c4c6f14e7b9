/* nix: the Nix stage of a run (boot-spec §5). It seeds a multi-user Nix
 * into the root filesystem (images, disks), or a single-user one into a
 * prefix (owned by the caller through the dir writer, profile under
 * per-user/<plan->opt.user>, /home/USER/.nix-profile, nix.conf with
 * sandbox = false, no build users or daemon, the registration at
 * /nix/.reginfo) from the official binary tarball, writing
 * exactly what the plan's nix steps describe (bootstrap/plan.c,
 * stage_nix), without running Nix:
 *
 *  - the tarball's store/ streamed into /nix/store in canonical form
 *    (owner 0, files 0444/0555, directories 0555, symlinks 0777, mtime 1,
 *    no xattrs), /nix/store itself 1775 root:nixbld;
 *  - its .reginfo, checked (§5.2) and kept as /nix-path-registration for
 *    `nix-store --load-db` on first boot;
 *  - the profile links, the first generation pointing at the Nix store
 *    path the tarball's install script names (nix="...");
 *  - /etc/nix/nix.conf, the nixbld group and build users, nix-daemon
 *    enabled as systemctl enable would, a local flake directory.
 *
 * The database is not written: registration is the first boot's job. */
#ifndef MV_NIX_H
#define MV_NIX_H
#include <stddef.h>

#include "../images/fs.h"
#include "plan.h"

#define MV_NIX_GID 30000     /* nixbld; build users are 30001.. */
#define MV_NIX_BUILD_USERS 32

struct mv_nix_env {
	const struct mv_plan *plan;
	struct mv_fs *root;      /* the root filesystem's writer (the userland is in it) */
	const char *tarball;     /* the verified local bytes of [Nix] Tarball= */
};

/* Returns 0, or -1 with a message in err; nothing is written to the root
 * before the tarball's .reginfo and install script passed their checks. */
int mv_nix_seed(const struct mv_nix_env *env, char *err, size_t errlen);

/* Checks registration text (§5.2): records of a store path, a narHash, a
 * decimal narSize, a deriver (a store path or empty), a decimal count N
 * and N references, each reference registered in the same text (a
 * closure). Returns the number of records, or -1 with err naming the line
 * (1-based) and what was expected there. */
long mv_nix_check_reginfo(const char *text, char *err, size_t errlen);

/* Whether text registers path (a record's first line). */
int mv_nix_registers(const char *text, const char *path);

/* The store path the install script assigns to nix="..." (the tarball's
 * @nix@), copied into out; -1 with err when there is none. */
int mv_nix_installer_path(const char *install, char *out, size_t len, char *err, size_t errlen);

/* [Nix] Closure=: a store built elsewhere (bootstrap/nix_closure.c), a
 * directory or an archive whose top (or single top directory) holds
 * store/ and its registration, named `registration` (nixpkgs'
 * closureInfo) or `.reginfo` (nix-store --dump-db, as the tarball has
 * it). The registration gets the tarball's checks and is appended to
 * /nix-path-registration; store/ goes to /nix/store in canonical form;
 * each path no other registered path refers to (the closure's roots) is
 * kept from garbage collection by a link in
 * /nix/var/nix/gcroots/microvisor/. After mv_nix_seed. */
#define MV_NIX_GCROOTS "/nix/var/nix/gcroots/microvisor"
int mv_nix_seed_closure(const struct mv_nix_env *env, const char *closure, const char *location, char *err,
			size_t errlen);

/* Shared by both: Nix's canonical form for an entry (owner 0, 0444/0555,
 * directories 0555, mtime 1; -1 for what a store cannot hold); the unpack
 * hook that maps store/X to /nix/store/X, canonical, and skips the rest;
 * and whether every path reginfo registers is in fs (err names `what`). */
int mv_nix_canonical(struct mv_meta *m, const char *member, char *err, size_t errlen);
struct mv_unpack_entry;
int mv_nix_store_member(void *ctx, struct mv_unpack_entry *e, char *err, size_t errlen);
int mv_nix_check_present(struct mv_fs *fs, const char *reginfo, const char *what, char *err, size_t errlen);

#endif
