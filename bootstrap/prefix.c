#include "prefix.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "plan.h"

/* Characters Nix and shells take in a user (and profile directory) name
 * without quoting. */
static int good_name(const char *s)
{
	return s && *s && *s != '-' && strlen(s) < 64 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == strlen(s);
}

void mv_prefix_user(char *out, size_t len)
{
	const char *env = getenv("USER");
	if (good_name(env)) {
		snprintf(out, len, "%s", env);
		return;
	}
	uid_t uid = getuid();
	struct passwd *pw = getpwuid(uid);
	if (pw && good_name(pw->pw_name)) {
		snprintf(out, len, "%s", pw->pw_name);
		return;
	}
	/* A static binary on Android has no password database: name the app
	 * UID as bionic does (user 0, app 123 -> u0_a123). */
	if (uid >= 10000 && uid % 100000 >= 10000)
		snprintf(out, len, "u%u_a%u", (unsigned)(uid / 100000), (unsigned)(uid % 100000 - 10000));
	else
		snprintf(out, len, "user%u", (unsigned)uid);
}

const char *mv_prefix_shell(char *buf, size_t len)
{
	if (access("/bin/sh", X_OK) == 0)
		return "/bin/sh";
	const char *prefix = getenv("PREFIX");
	if (prefix && *prefix && snprintf(buf, len, "%s/bin/sh", prefix) < (int)len && access(buf, X_OK) == 0)
		return buf;
	return "/system/bin/sh";
}

const char *mv_prefix_launcher(struct mv_arena *a, const struct mv_plan *plan)
{
	const char *user = plan->opt.user ? plan->opt.user : "USER";
	int nix = plan->profile->nix_tarball.location.v != NULL;
	return mv_printf(a,
		"#!%s\n"
		"# microvisor-enter [COMMAND [ARG...]]: runs COMMAND (default: a login shell)\n"
		"# inside the userland of this prefix through proot, as its single user.\n"
		"# Written by `microvisor bootstrap`. MICROVISOR_PROOT names another proot;\n"
		"# MICROVISOR_PROOT_OPTIONS adds options (say -0 to look like root).\n"
		"root=%s\n"
		"user=%s\n"
		"arch=%s\n"
		"proot=${MICROVISOR_PROOT:-proot}\n"
		"# Found now: the clean environment below has no PATH (Termux keeps\n"
		"# proot in $PREFIX/bin).\n"
		"if ! proot=$(command -v \"$proot\" 2>/dev/null) || [ -z \"$proot\" ]; then\n"
		"\techo \"microvisor-enter: proot is not installed: in Termux run 'pkg install proot'; on Debian or Ubuntu 'apt install proot'\" >&2\n"
		"\texit 127\n"
		"fi\n"
		"# Another architecture's userland runs through QEMU's user mode.\n"
		"qemu=\n"
		"if [ \"$(uname -m)\" != \"$arch\" ]; then\n"
		"\tqemu=qemu-$arch-static\n"
		"\tcommand -v \"$qemu\" >/dev/null 2>&1 || qemu=qemu-$arch\n"
		"\tif ! command -v \"$qemu\" >/dev/null 2>&1; then\n"
		"\t\techo \"microvisor-enter: this $(uname -m) machine needs QEMU to run the $arch userland: apt install qemu-user-static\" >&2\n"
		"\t\texit 127\n"
		"\tfi\n"
		"\tqemu=$(command -v \"$qemu\")\n"
		"fi\n"
		"# Termux's proot emulates hard links, which Android refuses (boot-spec §4.2).\n"
		"l2s=\n"
		"\"$proot\" --help 2>&1 | grep -q -- --link2symlink && l2s=--link2symlink && mkdir -p \"$root/.l2s\"\n"
		"# The host's DNS where it has one, else Termux's (package resolv-conf),\n"
		"# else the userland's own (Android has no /etc/resolv.conf). Paths stay\n"
		"# one word each, spaces and all.\n"
		"resolv=\n"
		"if [ -r /etc/resolv.conf ]; then resolv=/etc/resolv.conf\n"
		"elif [ -n \"$PREFIX\" ] && [ -r \"$PREFIX/etc/resolv.conf\" ]; then resolv=$PREFIX/etc/resolv.conf\n"
		"fi\n"
		"mkdir -p \"$root/tmp\"\n"
		"enter() {\n"
		"\t# A clean environment: Termux's LD_PRELOAD and PATH mean nothing inside.\n"
		"\tenv -i HOME=\"/home/$user\" USER=\"$user\" LOGNAME=\"$user\" TERM=\"${TERM:-dumb}\" LANG=C.UTF-8 \\\n"
		"\t\tPATH=\"/home/$user/.nix-profile/bin:/nix/var/nix/profiles/default/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\" \\\n"
		"\t\tPROOT_TMP_DIR=\"$root/tmp\" PROOT_L2S_DIR=\"$root/.l2s\" \\\n"
		"\t\t\"$proot\" -r \"$root\" -b /dev -b /proc -b /sys -b \"$root/nix:/nix\" \\\n"
		"\t\t${resolv:+-b \"$resolv:/etc/resolv.conf\"} ${qemu:+-q \"$qemu\"} $l2s \\\n"
		"\t\t-w \"/home/$user\" $MICROVISOR_PROOT_OPTIONS \"$@\"\n"
		"}\n"
		"%s"
		"[ $# -gt 0 ] || set -- /bin/sh -l\n"
		"enter \"$@\"\n",
		plan->opt.shell ? plan->opt.shell : "/bin/sh", mv_shell_quote(a, plan->opt.path), mv_shell_quote(a, user),
		mv_arch_name(plan->profile->arch),
		nix ? "# The Nix store is registered once, before the first command (nix-store\n"
		      "# --load-db, as the official installer and nix-on-droid do).\n"
		      "if [ -f \"$root/nix/.reginfo\" ] && [ ! -e \"$root" MV_PREFIX_REGISTERED "\" ]; then\n"
		      "\tenter /nix/var/nix/profiles/default/bin/nix-store --load-db <\"$root/nix/.reginfo\" &&\n"
		      "\t\tmkdir -p \"$root/nix/var/nix/db\" && : >\"$root" MV_PREFIX_REGISTERED "\" ||\n"
		      "\t\t{ echo \"microvisor-enter: loading the Nix registration ($root/nix/.reginfo) failed\" >&2; exit 1; }\n"
		      "fi\n"
		    : "");
}

static int fs_fail(struct mv_fs *fs, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", fs->err);
	return -1;
}

/* Whether an account file (passwd, group) has a line for name or whose
 * third field is id. */
static int has_account(const char *text, const char *name, unsigned long id)
{
	size_t n = strlen(name);
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		char line[1024], *end;
		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), p);
		char *second = strchr(line, ':'), *third = second ? strchr(second + 1, ':') : NULL;
		if ((strncmp(line, name, n) == 0 && line[n] == ':') ||
		    (third && strtoul(third + 1, &end, 10) == id && end != third + 1 && *end == ':'))
			return 1;
		p += len + (p[len] == '\n');
	}
	return 0;
}

/* The caller in the userland's passwd and group, as proot-distro adds
 * the Termux user, so that id, whoami and getpwuid() name it: only when
 * the userland has the file and neither the name nor the ID. */
static int add_account(struct mv_fs *fs, const char *path, const char *name, unsigned long id, const char *line,
		       const struct mv_meta *m)
{
	char *text;
	size_t len;
	if (mv_fs_read_file(fs, path, &text, &len) < 0)
		return -1;
	int rc = 0;
	if (text && !has_account(text, name, id))
		rc = mv_fs_append_file(fs, path, m, line);
	free(text);
	return rc < 0 ? -1 : 0;
}

int mv_prefix_write(struct mv_fs *fs, const struct mv_plan *plan, char *err, size_t errlen)
{
	int64_t t = plan->opt.timestamp;
	struct mv_meta dir = {.mode = S_IFDIR | 0755, .mtime = t, .atime = t, .ctime = t};
	struct mv_meta file = dir, exe = dir;
	file.mode = S_IFREG | 0644;
	exe.mode = S_IFREG | 0755;
	char home[256];
	if (!plan->opt.user) {
		snprintf(err, errlen, "the caller's name is not known");
		return -1;
	}
	snprintf(home, sizeof(home), "/home/%s", plan->opt.user);
	struct mv_stat st;
	if (mv_fs_mkparents(fs, home, t) < 0 || (mv_fs_stat(fs, home, MV_FS_FOLLOW, &st) < 0 && mv_fs_mkdir(fs, home, &dir) < 0))
		return fs_fail(fs, err, errlen);
	for (size_t i = 0; i < plan->steps.n; i++) {
		const struct mv_step *s = &plan->steps.v[i];
		if (s->stage != MV_STAGE_FINALIZE || !s->path)
			continue;
		if (strcmp(s->path, "/etc/resolv.conf") == 0) {
			/* Only where the userland brought none (a link to a
			 * resolver's stub counts: it is the userland's choice). */
			if (mv_fs_stat(fs, s->path, MV_FS_NOFOLLOW, &st) == 0)
				continue;
			if (mv_fs_mkparents(fs, s->path, t) < 0 || mv_fs_write_file(fs, s->path, &file, s->content, strlen(s->content)) < 0)
				return fs_fail(fs, err, errlen);
		} else if (strcmp(s->path, MV_PREFIX_ACCOUNTS) == 0) {
			char line[512];
			unsigned long uid = getuid(), gid = getgid();
			snprintf(line, sizeof(line), "%s:x:%lu:%lu:%s:/home/%s:/bin/sh\n", plan->opt.user, uid, gid,
				 plan->opt.user, plan->opt.user);
			if (add_account(fs, "/etc/passwd", plan->opt.user, uid, line, &file) < 0)
				return fs_fail(fs, err, errlen);
			snprintf(line, sizeof(line), "%s:x:%lu:\n", plan->opt.user, gid);
			if (add_account(fs, "/etc/group", plan->opt.user, gid, line, &file) < 0)
				return fs_fail(fs, err, errlen);
		} else if (strcmp(s->path, MV_PREFIX_LAUNCHER) == 0) {
			if (mv_fs_mkparents(fs, s->path, t) < 0 || mv_fs_write_file(fs, s->path, &exe, s->content, strlen(s->content)) < 0)
				return fs_fail(fs, err, errlen);
		}
	}
	return 0;
}

int mv_prefix_exec(const char *dir, const char *command)
{
	char launcher[4096];
	snprintf(launcher, sizeof(launcher), "%s%s", dir, MV_PREFIX_LAUNCHER);
	char buf[4096];
	const char *sh = mv_prefix_shell(buf, sizeof(buf));
	struct mv_child ch;
	pid_t pid = mv_child_fork(&ch);
	if (pid < 0)
		return 127;
	if (pid == 0) {
		execl(sh, "sh", launcher, "/bin/sh", "-c", command, (char *)NULL);
		fprintf(stderr, "microvisor: cannot run %s: %s\n", sh, strerror(errno));
		_exit(127);
	}
	int status;
	if (mv_child_wait(&ch, &status) < 0)
		return 127;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* getdents64's records (not in every libc's headers). */
struct dirent64_raw {
	unsigned long long ino;
	long long off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

static int remove_at(int at, const char *name, int depth)
{
	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (depth > 256)
		return -1;
	/* A directory (EISDIR), or a file in a read-only directory: the
	 * caller owns both, so it may open them up. */
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* fchmodat follows symlinks: only a directory itself is opened up,
	 * never what a link in the tree points at. */
	struct stat st;
	if (fd < 0 && fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	    fchmodat(at, name, 0700, 0) == 0)
		fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	fchmod(fd, 0700);
	char buf[4096];
	long n;
	int rc = 0;
	/* Removing entries while reading: start over after each batch
	 * until a batch holds only "." and "..". */
	for (int more = 1; more;) {
		more = 0;
		lseek(fd, 0, SEEK_SET);
		while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
			for (long off = 0; off < n;) {
				struct dirent64_raw *e = (struct dirent64_raw *)(buf + off);
				off += e->reclen;
				if (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0)
					continue;
				if (remove_at(fd, e->name, depth + 1) < 0)
					rc = -1;
				else
					more = 1;
			}
		if (rc < 0)
			break;
	}
	close(fd);
	return rc < 0 || unlinkat(at, name, AT_REMOVEDIR) < 0 ? -1 : 0;
}

int mv_prefix_remove(const char *path)
{
	return remove_at(AT_FDCWD, path, 0);
}
