/* prefix: what only a rootless prefix (microvisor bootstrap --prefix DIR)
 * has, around the stages run.c shares with images and disks:
 *
 *  - who the caller is (the single-user Nix's owner and profile name) and
 *    which host shell runs the launcher, measured by the CLI and passed to
 *    the plan like a device's size;
 *  - the launcher DIR/bin/microvisor-enter: a sh script that enters the
 *    userland through proot, binding /dev, /proc, /sys and the Nix store as
 *    nix-on-droid does (boot-spec §4.3), loading the Nix registration
 *    (/nix/.reginfo) once before the first command, and saying how to
 *    install proot where it is missing;
 *  - the home directory, the caller's passwd and group lines and
 *    /etc/resolv.conf, where the userland lacks them (Android has no
 *    resolv.conf: boot-spec §4.4);
 *  - [Handoff] Mode=exec: the command run through the launcher;
 *  - removing an unfinished prefix (nothing half-written looks complete). */
#ifndef MV_PREFIX_H
#define MV_PREFIX_H
#include <stddef.h>

#include "../images/fs.h"
#include "arena.h"

struct mv_plan;

#define MV_PREFIX_LAUNCHER "/bin/microvisor-enter"
#define MV_PREFIX_ACCOUNTS "/etc/passwd, /etc/group"
/* Marks a registration loaded; under the Nix database directory, which
 * --load-db makes. */
#define MV_PREFIX_REGISTERED "/nix/var/nix/db/.microvisor-registered"
/* What nix-on-droid's /etc/resolv.conf holds (boot-spec §4.4). */
#define MV_PREFIX_RESOLV "nameserver 1.1.1.1\nnameserver 8.8.8.8\n"

/* The caller's login name, as Nix's installer takes it: $USER, else the
 * password database, else Android's u<user>_a<app> for app UIDs, else
 * user<uid>. Always a name Nix accepts as a profile directory. */
void mv_prefix_user(char *out, size_t len);

/* The host's sh for the launcher's #! line and for running it: /bin/sh,
 * else $PREFIX/bin/sh (Termux), else /system/bin/sh (Android). Returns a
 * constant or buf. */
const char *mv_prefix_shell(char *buf, size_t len);

/* The launcher's text for this plan (its prefix, user, architecture and
 * whether Nix is seeded), in the plan's arena. */
const char *mv_prefix_launcher(struct mv_arena *a, const struct mv_plan *plan);

/* The prefix stage of a run: the user's home and profile link, a
 * resolv.conf if the userland has none, then the launcher. Returns 0, or
 * -1 with err. */
int mv_prefix_write(struct mv_fs *fs, const struct mv_plan *plan, char *err, size_t errlen);

/* Runs `DIR/bin/microvisor-enter /bin/sh -c COMMAND` with the host's sh
 * and returns its exit status (127 when it could not be started). */
int mv_prefix_exec(const char *dir, const char *command);

/* Removes a directory tree the caller owns, read-only directories
 * included. Only system calls: safe in a signal handler. */
int mv_prefix_remove(const char *path);

#endif
