/* handoff: the hand-off to the profile's apply command ([Handoff]).
 *
 * Mode=firstboot writes one script, /etc/microvisor/handoff, and a thin
 * hook for the userland's init that starts it at boot:
 *
 *  - systemd: microvisor-handoff.service (oneshot, after
 *    network-online.target), enabled as `systemctl enable` links it; with
 *    Nix also microvisor-nix-registration.service, which loads the
 *    registration before sysinit.target, nix-daemon.socket and
 *    nix-daemon.service (one unit cannot be both before the daemon's
 *    socket and after network-online.target: that is an ordering cycle);
 *  - OpenRC: /etc/local.d/microvisor-handoff.start, and the `local`
 *    service in the default runlevel as `rc-update add local default` does;
 *  - busybox init: `::sysinit:/etc/microvisor/handoff` appended to
 *    /etc/inittab (it runs after the userland's own sysinit lines, before
 *    any wait/once/respawn line).
 *
 * The script loads the Nix registration if it has not been loaded
 * (nix-store --load-db < /nix-path-registration, then a stamp), runs the
 * command, logs (the journal under systemd, else also
 * /var/log/microvisor-handoff.log) and removes its hook only when the
 * command succeeded, so a failed hand-off runs again at the next boot.
 *
 * The texts are pure functions of the plan: `plan` shows them and the run
 * writes the same bytes. Which hook is written is decided from the
 * unpacked userland (mv_handoff_init). */
#ifndef MV_HANDOFF_H
#define MV_HANDOFF_H
#include <stddef.h>

#include "../images/fs.h"
#include "arena.h"
#include "plan.h"

#define MV_HANDOFF_SCRIPT "/etc/microvisor/handoff"
#define MV_HANDOFF_UNIT "/etc/systemd/system/microvisor-handoff.service"
#define MV_HANDOFF_UNIT_LINK "/etc/systemd/system/multi-user.target.wants/microvisor-handoff.service"
#define MV_HANDOFF_REG_UNIT "/etc/systemd/system/microvisor-nix-registration.service"
#define MV_HANDOFF_REG_LINK "/etc/systemd/system/sysinit.target.wants/microvisor-nix-registration.service"
#define MV_HANDOFF_INITTAB "/etc/inittab"
#define MV_HANDOFF_INITTAB_LINE "::sysinit:" MV_HANDOFF_SCRIPT
#define MV_HANDOFF_LOCALD "/etc/local.d/microvisor-handoff.start"
#define MV_HANDOFF_LOCAL_LINK "/etc/runlevels/default/local"
#define MV_HANDOFF_LOG "/var/log/microvisor-handoff.log"
#define MV_HANDOFF_LOADED "/var/lib/microvisor/nix-registration-loaded"
#define MV_HANDOFF_INIT_RULE \
	"the userland's init: systemd when /sbin/init leads to systemd; else OpenRC when /sbin/openrc exists; " \
	"else busybox init when /sbin/init leads to busybox and /etc/inittab exists; anything else is refused"

enum mv_init { MV_INIT_SYSTEMD, MV_INIT_OPENRC, MV_INIT_BUSYBOX, MV_INIT_COUNT };
const char *mv_init_name(enum mv_init i);

/* The exact shell text of the hand-off: the flake (Flake=) exported as
 * MICROVISOR_FLAKE, then Command=. With `standalone` (Mode=none: a person
 * types it; Mode=chroot: it runs in the installed root before any boot),
 * Nix's PATH and the registration load come first. NULL when the profile
 * has no Command=. */
const char *mv_handoff_command(struct mv_arena *a, const struct mv_plan *plan, int standalone);

/* The texts Mode=firstboot writes (registration_unit is NULL without Nix). */
struct mv_handoff_texts {
	const char *script, *unit, *registration_unit, *locald;
};
void mv_handoff_texts(struct mv_arena *a, const struct mv_plan *plan, struct mv_handoff_texts *out);

/* The userland's init (MV_HANDOFF_INIT_RULE); -1 with why when none fits. */
int mv_handoff_init(struct mv_fs *root, enum mv_init *out, char *why, size_t whylen);

/* Mode=firstboot: whether the build host's /bin/sh can parse the script
 * (`sh -n`), so a Command= with, say, an unbalanced quote is refused now
 * rather than failing at every boot. 0 (also when the host has no
 * /bin/sh), or -1 with err naming the profile line and the shell's words. */
int mv_handoff_check(const struct mv_plan *plan, char *err, size_t errlen);

/* Mode=firstboot into the root filesystem: the script and the hook of the
 * userland's init. Returns 0 (also for other modes: nothing to write), or
 * -1 with err. *init says which hook was written. */
int mv_handoff_install(const struct mv_plan *plan, struct mv_fs *root, enum mv_init *init, char *err,
		       size_t errlen);

#endif
