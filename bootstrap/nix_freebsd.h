/* nix_freebsd: the parts of a multi-user Nix that FreeBSD does its own way
 * (Nix's scripts/install-freebsd-multi-user.sh, boot-spec.md §2.8). The
 * store, its registration file, the profiles and nix.conf are seeded as on
 * Linux (bootstrap/nix.c); the accounts live in master.passwd and its
 * databases (pwd_mkdb), which only FreeBSD's pw(8) should write, so the
 * nixbld group and build users, the registration (nix-store --load-db)
 * and nix-daemon's rc.d script are the first boot's: an rc.d script of
 * ours, enabled in rc.conf, does them once and disables itself. */
#ifndef MV_NIX_FREEBSD_H
#define MV_NIX_FREEBSD_H
#include <stddef.h>
#include <stdint.h>

#include "../images/fs.h"
#include "plan.h"

#define MV_NIX_FREEBSD_SCRIPT "/usr/local/etc/rc.d/microvisor_nix"

/* Whether the plan's Nix goes to a FreeBSD root: Kind=freebsd, a UFS
 * root, or an x86_64-freebsd tarball. */
int mv_nix_freebsd(const struct mv_plan *plan);

/* Writes the rc.d script (running nix-store from the store path nix) and
 * microvisor_nix_enable="YES" in /etc/rc.conf. 0, or -1 with err. */
int mv_nix_freebsd_seed(struct mv_fs *fs, const char *nix, int64_t t, char *err, size_t errlen);

#endif
