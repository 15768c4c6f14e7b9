#include "nix_freebsd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nix.h"

int mv_nix_freebsd(const struct mv_plan *plan)
{
	const char *tarball = plan->profile->nix_tarball.location.v;
	if ((plan->bootloader && strcmp(plan->bootloader, "freebsd") == 0) || (tarball && strstr(tarball, "-freebsd")))
		return 1;
	for (size_t i = 0; i < plan->parts.n; i++)
		if (plan->parts.v[i].fs == MV_FS_UFS)
			return 1;
	return 0;
}

/* rc.subr(8) style; the accounts as install-freebsd-multi-user.sh makes
 * them (pw groupadd nixbld -g 30000, nixbldN with UIDs from 30001), the
 * daemon's rc.d script linked from the default profile as it does. */
static const char script[] =
	"#!/bin/sh\n"
	"#\n"
	"# Written by microvisor: finishes the multi-user Nix it seeded, once.\n"
	"#\n"
	"# PROVIDE: microvisor_nix\n"
	"# REQUIRE: FILESYSTEMS\n"
	"# BEFORE: LOGIN\n"
	"\n"
	". /etc/rc.subr\n"
	"\n"
	"name=\"microvisor_nix\"\n"
	"desc=\"Nix build users, store registration and nix-daemon, on first boot\"\n"
	"rcvar=\"microvisor_nix_enable\"\n"
	"start_cmd=\"microvisor_nix_start\"\n"
	"stop_cmd=\":\"\n"
	"\n"
	"microvisor_nix_start()\n"
	"{\n"
	"\tpw groupshow nixbld >/dev/null 2>&1 || pw groupadd nixbld -g %d || return 1\n"
	"\ti=1\n"
	"\twhile [ $i -le %d ]; do\n"
	"\t\tpw usershow nixbld$i >/dev/null 2>&1 ||\n"
	"\t\t\tpw useradd nixbld$i -u $((%d + i)) -g nixbld -G nixbld -d /var/empty -s /usr/sbin/nologin \\\n"
	"\t\t\t\t-c \"Nix build user $i\" || return 1\n"
	"\t\ti=$((i + 1))\n"
	"\tdone\n"
	"\tif [ -f /nix-path-registration ]; then\n"
	"\t\t%s/bin/nix-store --load-db </nix-path-registration && rm -f /nix-path-registration || return 1\n"
	"\tfi\n"
	"\tln -sf /nix/var/nix/profiles/default/etc/rc.d/nix-daemon /usr/local/etc/rc.d/nix-daemon\n"
	"\tsysrc nix_daemon_enable=YES microvisor_nix_enable=NO >/dev/null\n"
	"\tservice nix-daemon start\n"
	"}\n"
	"\n"
	"load_rc_config $name\n"
	": ${microvisor_nix_enable:=\"NO\"}\n"
	"run_rc_command \"$1\"\n";

int mv_nix_freebsd_seed(struct mv_fs *fs, const char *nix, int64_t t, char *err, size_t errlen)
{
	char *text = NULL;
	if (asprintf(&text, script, MV_NIX_GID, MV_NIX_BUILD_USERS, MV_NIX_GID, nix) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	struct mv_meta exe = {.mode = S_IFREG | 0555, .mtime = t, .atime = t, .ctime = t};
	struct mv_meta conf = {.mode = S_IFREG | 0644, .mtime = t, .atime = t, .ctime = t};
	int rc = mv_fs_mkparents(fs, MV_NIX_FREEBSD_SCRIPT, t) < 0 ||
		 mv_fs_write_file(fs, MV_NIX_FREEBSD_SCRIPT, &exe, text, strlen(text)) < 0 ||
		 mv_fs_append_file(fs, "/etc/rc.conf", &conf, "microvisor_nix_enable=\"YES\"\n") < 0 ? -1 : 0;
	free(text);
	if (rc < 0)
		snprintf(err, errlen, "%s", fs->err);
	return rc;
}
