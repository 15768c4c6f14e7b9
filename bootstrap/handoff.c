#include "handoff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


#include "child.h"
#include "report.h"

#define REGISTRATION "/nix-path-registration"
#define NIX_BIN "/nix/var/nix/profiles/default/bin"
#define FLAKE_DIR "/etc/microvisor/flake"

static const char *const init_names[MV_INIT_COUNT] = {
	[MV_INIT_SYSTEMD] = "systemd",
	[MV_INIT_OPENRC] = "OpenRC",
	[MV_INIT_BUSYBOX] = "busybox init",
};

const char *mv_init_name(enum mv_init i)
{
	return init_names[i];
}

/* Whether the plan seeds a Nix store (and so leaves a registration). */
static int has_nix(const struct mv_plan *plan)
{
	for (size_t i = 0; i < plan->sources.n; i++)
		if (strncmp(plan->sources.v[i].role, "nix", 3) == 0)
			return 1;
	return 0;
}

/* The flake as the command sees it: a reference as written, a local
 * directory where the Nix stage copied it. */
static const char *flake(const struct mv_plan *plan)
{
	const char *f = plan->profile->flake.v;
	return !f || !has_nix(plan) ? NULL : strchr(f, ':') ? f : FLAKE_DIR;
}

const char *mv_handoff_command(struct mv_arena *a, const struct mv_plan *plan, int standalone)
{
	const char *cmd = plan->profile->handoff_command.v;
	if (!cmd || !*cmd)
		return NULL;
	const char *f = flake(plan);
	if (f)
		cmd = mv_printf(a, "export MICROVISOR_FLAKE=%s; %s", mv_shell_quote(a, f), cmd);
	/* A prefix's launcher loads the registration on first entry itself. */
	if (standalone && has_nix(plan) && plan->opt.target != MV_TARGET_PREFIX)
		cmd = mv_printf(a, "export PATH=" NIX_BIN ":$PATH; nix-store --load-db < " REGISTRATION " && %s", cmd);
	return cmd;
}

/* POSIX sh and the few tools every busybox has (mkdir, rm, grep, sed,
 * tee, cat). Under systemd (INVOCATION_ID set) the output is the
 * journal's; elsewhere it is also appended to the log file. */
static const char *script(struct mv_arena *a, const struct mv_plan *plan)
{
	const char *cmd = mv_handoff_command(a, plan, 0);
	return mv_printf(a,
		"#!/bin/sh\n"
		"# The first-boot hand-off, written by microvisor (profiles/README.md, [Handoff]).\n"
		"# It loads the Nix registration once, runs the command, and removes its\n"
		"# boot hook only when the command succeeded: a failure runs again next boot.\n"
		"PATH=" NIX_BIN ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
		"HOME=${HOME:-/root}\n"
		"export PATH HOME\n"
		"state=/var/lib/microvisor\n"
		"say() { echo \"microvisor-handoff: $*\"; }\n"
		"\n"
		"load_db() {\n"
		"\t[ -e " REGISTRATION " ] && [ ! -e " MV_HANDOFF_LOADED " ] || return 0\n"
		"\tsay \"loading the Nix registration: nix-store --load-db < " REGISTRATION "\"\n"
		"\tnix-store --load-db < " REGISTRATION " || { say \"nix-store --load-db failed\"; return 1; }\n"
		"\tmkdir -p \"$state\" && : > " MV_HANDOFF_LOADED " || return 1\n"
		"\trm -f " MV_HANDOFF_REG_LINK "\n"
		"\tsync\n"
		"}\n"
		"\n"
		"disable() {\n"
		"\trm -f " MV_HANDOFF_UNIT_LINK " " MV_HANDOFF_LOCALD "\n"
		"\tif [ -f " MV_HANDOFF_INITTAB " ] && grep -qx '" MV_HANDOFF_INITTAB_LINE "' " MV_HANDOFF_INITTAB "; then\n"
		"\t\tsed -i '\\|^" MV_HANDOFF_INITTAB_LINE "$|d' " MV_HANDOFF_INITTAB "\n"
		"\tfi\n"
		"}\n"
		"\n"
		"run() (\n"
		"\t%s\n"
		")\n"
		"\n"
		"main() {\n"
		"\tif [ \"$1\" = --load-db ]; then load_db; return; fi\n"
		"\tload_db || return 1\n"
		"\tsay \"running: \"%s\n"
		"\trun\n"
		"\trc=$?\n"
		"\tif [ $rc -ne 0 ]; then\n"
		"\t\tsay \"the command failed (exit $rc): it runs again at the next boot\"\n"
		"\t\treturn $rc\n"
		"\tfi\n"
		"\tdisable && say \"done: the boot hook is removed\"\n"
		"\tsync\n"
		"}\n"
		"\n"
		"if [ -n \"${INVOCATION_ID:-}\" ]; then\n"
		"\tmain \"$@\"\n"
		"\texit $?\n"
		"fi\n"
		"mkdir -p /var/log \"$state\"\n"
		"if command -v tee >/dev/null 2>&1; then\n"
		"\t{ main \"$@\"; echo $? > \"$state/status\"; } 2>&1 | tee -a " MV_HANDOFF_LOG "\n"
		"\tread rc < \"$state/status\"\n"
		"\texit ${rc:-1}\n"
		"fi\n"
		"main \"$@\" >> " MV_HANDOFF_LOG " 2>&1\n",
		cmd, mv_shell_quote(a, cmd));
}

void mv_handoff_texts(struct mv_arena *a, const struct mv_plan *plan, struct mv_handoff_texts *out)
{
	int nix = has_nix(plan);
	out->script = script(a, plan);
	out->unit = mv_printf(a,
		"# The first-boot hand-off, written by microvisor. " MV_HANDOFF_SCRIPT " removes\n"
		"# this unit's link from multi-user.target.wants once the command succeeded.\n"
		"[Unit]\n"
		"Description=Microvisor first-boot hand-off\n"
		"Wants=network-online.target\n"
		"After=network-online.target%s\n"
		"\n"
		"[Service]\n"
		"Type=oneshot\n"
		"ExecStart=" MV_HANDOFF_SCRIPT "\n"
		"RemainAfterExit=yes\n"
		"TimeoutStartSec=infinity\n"
		"StandardOutput=journal+console\n"
		"\n"
		"[Install]\n"
		"WantedBy=multi-user.target\n",
		nix ? " microvisor-nix-registration.service nix-daemon.socket" : "");
	out->registration_unit = !nix ? NULL :
		"# Loads the Nix store registration microvisor left, before the daemon starts\n"
		"# (as NixOS does in its stage 2). Written by microvisor.\n"
		"[Unit]\n"
		"Description=Load the Nix store registration\n"
		"DefaultDependencies=no\n"
		"RequiresMountsFor=/nix /var/lib\n"
		"After=local-fs.target\n"
		"Before=sysinit.target nix-daemon.socket nix-daemon.service shutdown.target\n"
		"Conflicts=shutdown.target\n"
		"ConditionPathExists=" REGISTRATION "\n"
		"ConditionPathExists=!" MV_HANDOFF_LOADED "\n"
		"\n"
		"[Service]\n"
		"Type=oneshot\n"
		"ExecStart=" MV_HANDOFF_SCRIPT " --load-db\n"
		"RemainAfterExit=yes\n"
		"StandardOutput=journal+console\n"
		"\n"
		"[Install]\n"
		"WantedBy=sysinit.target\n";
	out->locald = "#!/bin/sh\n# The first-boot hand-off, written by microvisor; " MV_HANDOFF_SCRIPT
		      " removes this file once the command succeeded.\nexec " MV_HANDOFF_SCRIPT "\n";
}

/* The last name a chain of symlinks from path leads to ("systemd",
 * "busybox"), or "" when path does not exist. */
static void final_name(struct mv_fs *fs, const char *path, char *out, size_t len)
{
	char cur[4096], target[4096];
	snprintf(cur, sizeof(cur), "%s", path);
	*out = '\0';
	struct mv_stat st;
	if (mv_fs_stat(fs, cur, MV_FS_FOLLOW, &st) < 0)
		return;
	for (int hops = 0; hops < 40 && mv_fs_readlink(fs, cur, target, sizeof(target)) >= 0; hops++) {
		if (target[0] == '/') {
			snprintf(cur, sizeof(cur), "%s", target);
		} else {
			char *slash = strrchr(cur, '/');
			size_t dir = slash ? (size_t)(slash - cur) : 0;
			char next[2 * sizeof(cur)];
			int n = snprintf(next, sizeof(next), "%.*s/%s", (int)dir, cur, target);
			if (n < 0 || (size_t)n >= sizeof(cur))
				break;
			memcpy(cur, next, (size_t)n + 1);
		}
	}
	const char *base = strrchr(cur, '/');
	base = base ? base + 1 : cur;
	size_t n = strlen(base) < len ? strlen(base) : len - 1;
	memcpy(out, base, n);
	out[n] = '\0';
}

static int exists(struct mv_fs *fs, const char *path)
{
	struct mv_stat st;
	return mv_fs_stat(fs, path, MV_FS_FOLLOW, &st) == 0;
}

int mv_handoff_init(struct mv_fs *root, enum mv_init *out, char *why, size_t whylen)
{
	char init[256];
	final_name(root, "/sbin/init", init, sizeof(init));
	if (strcmp(init, "systemd") == 0)
		*out = MV_INIT_SYSTEMD;
	else if (exists(root, "/sbin/openrc"))
		*out = MV_INIT_OPENRC;
	else if (strcmp(init, "busybox") == 0 && exists(root, MV_HANDOFF_INITTAB))
		*out = MV_INIT_BUSYBOX;
	else if (strcmp(init, "busybox") == 0)
		return mv_errf(why, whylen, "the userland's /sbin/init is busybox but it has no /etc/inittab (busybox then uses "
			    "its built-in one, which a hook line would replace): add one with [Files] Copy=");
	else
		return mv_errf(why, whylen, "cannot tell the userland's init (/sbin/init %s%s): Mode=firstboot needs systemd, "
			    "OpenRC (/sbin/openrc) or busybox init with /etc/inittab",
			    *init ? "leads to " : "is missing", init);
	return 0;
}

struct writer {
	struct mv_fs *fs;
	int64_t t;
	char *err;
	size_t errlen;
};

static int written(struct writer *w, int rc)
{
	return rc < 0 ? mv_errf(w->err, w->errlen, "%s", w->fs->err) : 0;
}

static int file(struct writer *w, const char *path, uint32_t mode, const char *text)
{
	struct mv_meta m = {.mode = S_IFREG | mode, .mtime = w->t, .atime = w->t, .ctime = w->t};
	if (written(w, mv_fs_mkparents(w->fs, path, w->t)) < 0)
		return -1;
	return written(w, mv_fs_write_file(w->fs, path, &m, text, strlen(text)));
}

static int symlink_at(struct writer *w, const char *path, const char *target)
{
	struct mv_meta m = {.mode = S_IFLNK | 0777, .mtime = w->t, .atime = w->t, .ctime = w->t};
	if (written(w, mv_fs_mkparents(w->fs, path, w->t)) < 0)
		return -1;
	return written(w, mv_fs_symlink(w->fs, path, target, &m));
}

/* One hook per init, each written as that init's own tool would. */
static int hook(struct writer *w, enum mv_init init, const struct mv_handoff_texts *t)
{
	struct mv_meta m = {.mode = S_IFREG | 0644, .mtime = w->t, .atime = w->t, .ctime = w->t};
	switch (init) {
	case MV_INIT_SYSTEMD:
		if (t->registration_unit && (file(w, MV_HANDOFF_REG_UNIT, 0644, t->registration_unit) < 0 ||
					     symlink_at(w, MV_HANDOFF_REG_LINK, MV_HANDOFF_REG_UNIT) < 0))
			return -1;
		return file(w, MV_HANDOFF_UNIT, 0644, t->unit) < 0 ||
		       symlink_at(w, MV_HANDOFF_UNIT_LINK, MV_HANDOFF_UNIT) < 0 ? -1 : 0;
	case MV_INIT_OPENRC:
		if (file(w, MV_HANDOFF_LOCALD, 0755, t->locald) < 0)
			return -1;
		if (!exists(w->fs, "/etc/init.d/local"))
			return mv_errf(w->err, w->errlen, "the OpenRC userland has no /etc/init.d/local to run " MV_HANDOFF_LOCALD);
		return exists(w->fs, MV_HANDOFF_LOCAL_LINK) ? 0 : symlink_at(w, MV_HANDOFF_LOCAL_LINK, "/etc/init.d/local");
	case MV_INIT_BUSYBOX:
		return written(w, mv_fs_append_file(w->fs, MV_HANDOFF_INITTAB, &m, MV_HANDOFF_INITTAB_LINE "\n"));
	default:
		return mv_errf(w->err, w->errlen, "no hook for this init");
	}
}

int mv_handoff_check(const struct mv_plan *plan, char *err, size_t errlen)
{
	if (strcmp(plan->handoff_mode, "firstboot") != 0 || access("/bin/sh", X_OK) != 0)
		return 0;
	struct mv_arena a = {0};
	struct mv_handoff_texts t;
	mv_handoff_texts(&a, plan, &t);
	/* sh -n -c SCRIPT, its complaint read from a pipe: no file written.
	 * mv_child: with SIGCHLD ignored by our caller the status would be
	 * lost and a script that does not parse would pass. */
	int fds[2];
	char said[512] = "";
	int status = 0;
	struct mv_child ch;
	if (pipe(fds) == 0) {
		pid_t pid = mv_child_fork(&ch);
		if (pid == 0) {
			dup2(fds[1], 1);
			dup2(fds[1], 2);
			close(fds[0]);
			execl("/bin/sh", "sh", "-n", "-c", t.script, (char *)NULL);
			_exit(127);
		}
		close(fds[1]);
		ssize_t n = 0, got;
		while ((got = read(fds[0], said + n, sizeof(said) - 1 - (size_t)n)) > 0 && (size_t)(n += got) < sizeof(said) - 1)
			;
		said[n] = '\0';
		close(fds[0]);
		/* No shell to ask (fork failed): the check is skipped, as
		 * without /bin/sh. */
		if (pid < 0 || mv_child_wait(&ch, &status) < 0)
			status = 0;
	}
	mv_arena_free(&a);
	if (status == 0)
		return 0;
	said[strcspn(said, "\n")] = '\0';
	/* dash says "sh: LINE: what" */
	const char *words = strncmp(said, "sh: ", 4) == 0 ? said + 4 : said;
	const struct mv_str *c = &plan->profile->handoff_command;
	return mv_errf(err, errlen, "%s:%d: Command=%s: the hand-off script it makes does not parse (/bin/sh -n, line %s)",
		       c->at.file ? c->at.file : "profile", c->at.line, c->v, words);
}

int mv_handoff_install(const struct mv_plan *plan, struct mv_fs *root, enum mv_init *init, char *err, size_t errlen)
{
	if (strcmp(plan->handoff_mode, "firstboot") != 0)
		return 0;
	char why[512];
	if (mv_handoff_init(root, init, why, sizeof(why)) < 0)
		return mv_errf(err, errlen, "Mode=firstboot: %s", why);
	struct mv_arena a = {0};
	struct mv_handoff_texts t;
	mv_handoff_texts(&a, plan, &t);
	struct writer w = {.fs = root, .t = plan->opt.timestamp, .err = err, .errlen = errlen};
	int rc = file(&w, MV_HANDOFF_SCRIPT, 0755, t.script) < 0 || hook(&w, *init, &t) < 0 ? -1 : 0;
	mv_arena_free(&a);
	return rc;
}
