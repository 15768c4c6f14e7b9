/* customise_write: the customise stage, planned (steps, secrets masked)
 * and carried out (through the root's writer). What depends on the
 * userland is decided here, by one rule each:
 *  - network stack: NetworkManager keyfiles when the userland has
 *    /usr/sbin/NetworkManager, else systemd-networkd .network files (and
 *    wpa_supplicant-IFACE.conf for Wi-Fi), with systemd-networkd and
 *    wpa_supplicant@IFACE enabled when the userland has their units;
 *  - /etc/hosts: its 127.0.1.1 line names the host (Debian's convention),
 *    the userland's other lines stay;
 *  - /etc/localtime: a symlink to ../usr/share/zoneinfo/ZONE, as
 *    systemd's timedatectl makes it. */
#include "customise_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LOCALTIME_TARGET "../usr/share/zoneinfo/"

static struct mv_step *add(struct mv_plan *plan, const char *root, const char *action, const char *path)
{
	struct mv_step *s = MV_PUSH(&plan->arena, plan->steps);
	s->stage = MV_STAGE_CUSTOMISE;
	s->action = action;
	s->partition = root;
	s->path = path;
	return s;
}

struct planning {
	struct mv_plan *plan;
	const char *root;
};

static int plan_file(void *ctx, const struct mv_cust_file *f)
{
	struct planning *p = ctx;
	struct mv_arena *a = &p->plan->arena;
	struct mv_step *s = add(p->plan, p->root, mv_printf(a, "%s (mode %04o)", f->why, f->mode), mv_strdup(a, f->path));
	s->content = f->text;
	s->deferred = mv_cust_when_rule(f->when);
	return 0;
}

static const char *home_of(struct mv_arena *a, const struct mv_custom *c)
{
	return c->user.v ? mv_printf(a, "/home/%s", c->user.v) : "/root";
}

void mv_customise_plan(struct mv_plan *plan, const char *root, struct mv_report *rep)
{
	const struct mv_custom *c = &plan->profile->custom;
	struct mv_arena *a = &plan->arena;
	if (!c->any)
		return;
	if (!plan->userland_into) {
		mv_error(rep, (struct mv_where){plan->profile->file, 0},
			 "[Customise]: the disk has no root partition to customise (Type=root, or Into= in [Userland])");
		return;
	}
	/* FreeBSD keeps accounts in master.passwd and its pwd.db, the
	 * network in rc.conf: what this stage writes is Linux's. Its boot
	 * loader puts the hostname into rc.conf; the rest is refused rather
	 * than written where FreeBSD never reads it. */
	if (plan->profile->boot_kind.v && strcmp(plan->profile->boot_kind.v, "freebsd") == 0 &&
	    (c->user.v || c->password_hash.v || c->password || c->ssh_keys || c->wifi_ssid.v || c->address.v ||
	     c->network.v || c->locale.v || c->keymap.v)) {
		mv_error(rep, (struct mv_where){plan->profile->file, 0},
			 "[Customise]: a FreeBSD target takes only Hostname= (rc.conf) and Timezone=; users, passwords, SSH keys, network, locale and keymap are Linux's files here: set them in the FreeBSD userland");
		return;
	}
	struct planning p = {plan, root};
	mv_cust_files(plan, 1, a, plan_file, &p);
	struct mv_step *s;
	if (c->hostname.v) {
		s = add(plan, root, "name the host on the 127.0.1.1 line, keeping the userland's other lines", "/etc/hosts");
		s->content = mv_printf(a, "127.0.1.1\t%s\n", c->hostname.v);
	}
	if (c->timezone.v)
		add(plan, root, "link the time zone", mv_printf(a, "/etc/localtime -> " LOCALTIME_TARGET "%s", c->timezone.v));
	const char *name = c->user.v ? c->user.v : "root";
	int password = c->password_hash.v || c->password;
	if (c->user.v) {
		s = add(plan, root, mv_printf(a, "add the user %s (a user the userland has is kept): its own group, home %s (0700, owned by it), shell /bin/bash or else /bin/sh, member of the admin group",
					       name, home_of(a, c)),
			"/etc/passwd, /etc/group, /etc/shadow");
		s->deferred = "UID: the first free from 1000 in the userland's /etc/passwd (the group the same number when free); admin group: sudo if /etc/group has it, else wheel, else none";
	}
	if (password || c->user.v) {
		s = add(plan, root, password ? (c->password ? "store the password as a crypt(3) SHA-512 hash (PasswordFile=, salted from the seed)"
							    : "store the password hash (PasswordHash=)")
					     : "no password: key login only (\"*\")",
			"/etc/shadow");
		s->content = mv_printf(a, "%s:%s:...", name, password ? "$6$" MV_CUST_MASK : "*");
	}
	if (c->ssh_keys) {
		s = add(plan, root, mv_printf(a, "authorize the SSH keys (.ssh 0700, the file 0600, owned by %s)", name),
			mv_printf(a, "%s/.ssh/authorized_keys", home_of(a, c)));
		s->content = c->ssh_keys;
		s = add(plan, root, "enable sshd as systemctl enable would (ssh.service, else sshd.service: its [Install] WantedBy= and Alias=)",
			"/etc/systemd/system/multi-user.target.wants/ssh.service");
		s->deferred = "when the userland has the unit";
	}
	if (c->ssh_host_keys.v && strcmp(c->ssh_host_keys.v, "keep") == 0) {
		add(plan, root, "keep the userland's SSH host keys (SSHHostKeys=keep)", "/etc/ssh/ssh_host_*");
	} else {
		s = add(plan, root, "remove the userland's SSH host keys: no two machines share them", "/etc/ssh/ssh_host_*");
		s->deferred = "when the userland has them";
		s = add(plan, root, "make the host keys on first boot (ssh-keygen -A), enabled", "/etc/systemd/system/" MV_CUST_KEYGEN_UNIT);
		s->content = mv_cust_keygen_unit;
		s->deferred = "when the userland has sshd's systemd unit (ssh.service or sshd.service)";
	}
}

/* The run. */
struct writing {
	struct mv_cust_run *r;
	int nm;             /* the userland has NetworkManager */
	int networkd;       /* a systemd-networkd file was written */
	const char *wpa;    /* the interface wpa_supplicant serves, or NULL */
};

static int exists(struct mv_fs *fs, const char *path)
{
	struct mv_stat st;
	return mv_fs_stat(fs, path, MV_FS_FOLLOW, &st) == 0;
}

static int write_file(void *ctx, const struct mv_cust_file *f)
{
	struct writing *w = ctx;
	struct mv_cust_run *r = w->r;
	if ((f->when == MV_CUST_NM && !w->nm) || (f->when == MV_CUST_NO_NM && w->nm) ||
	    (f->when == MV_CUST_IF_EXISTS && !exists(r->fs, f->path)))
		return 0;
	struct mv_meta m = {.mode = S_IFREG | f->mode, .mtime = r->t, .atime = r->t, .ctime = r->t};
	if (mv_fs_mkparents(r->fs, f->path, r->t) < 0 || mv_fs_write_file(r->fs, f->path, &m, f->text, strlen(f->text)) < 0)
		return mv_cust_fail(r, "%s", r->fs->err);
	if (strncmp(f->path, "/etc/systemd/network/", 21) == 0)
		w->networkd = 1;
	const char *wpa = "/etc/wpa_supplicant/wpa_supplicant-";
	if (strncmp(f->path, wpa, strlen(wpa)) == 0)
		w->wpa = mv_strndup(r->a, f->path + strlen(wpa), strlen(f->path) - strlen(wpa) - strlen(".conf"));
	return 0;
}

static int hosts(struct mv_cust_run *r)
{
	const char *name = r->c->hostname.v;
	char *text = NULL;
	size_t len = 0;
	if (mv_fs_read_file(r->fs, "/etc/hosts", &text, &len) < 0)
		return mv_cust_fail(r, "%s", r->fs->err);
	const char *base = text ? text : "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n";
	char *out = mv_strdup(r->a, "");
	for (const char *p = base; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n')) {
		size_t n = strcspn(p, "\n");
		if (strncmp(p, "127.0.1.1", 9) == 0 && (p[9] == ' ' || p[9] == '\t'))
			continue;
		out = mv_printf(r->a, "%s%.*s\n", out, (int)n, p);
	}
	free(text);
	/* A dotted name is a FQDN: its first label is the short name. */
	const char *dot = strchr(name, '.');
	out = mv_printf(r->a, "%s127.0.1.1\t%s%s%.*s\n", out, name, dot ? " " : "", dot ? (int)(dot - name) : 0, name);
	struct mv_stat st;
	struct mv_meta m = {.mode = S_IFREG | 0644, .mtime = r->t, .atime = r->t, .ctime = r->t};
	if (mv_fs_stat(r->fs, "/etc/hosts", MV_FS_FOLLOW, &st) == 0)
		m.mode = S_IFREG | (st.mode & 07777), m.uid = st.uid, m.gid = st.gid;
	if (mv_fs_mkparents(r->fs, "/etc/hosts", r->t) < 0 || mv_fs_write_file(r->fs, "/etc/hosts", &m, out, strlen(out)) < 0)
		return mv_cust_fail(r, "%s", r->fs->err);
	return 0;
}

static int link_localtime(struct mv_cust_run *r)
{
	/* A userland with a zone database must have the zone: a dangling
	 * link would quietly mean UTC. One without (busybox) gets the link. */
	const char *zone = mv_printf(r->a, "/usr/share/zoneinfo/%s", r->c->timezone.v);
	if (exists(r->fs, "/usr/share/zoneinfo") && !exists(r->fs, zone))
		return mv_cust_fail(r, "Timezone=%s: the userland's /usr/share/zoneinfo has no %s (is tzdata complete?)",
				    r->c->timezone.v, r->c->timezone.v);
	struct mv_meta m = {.mode = S_IFLNK | 0777, .mtime = r->t, .atime = r->t, .ctime = r->t};
	const char *target = mv_printf(r->a, LOCALTIME_TARGET "%s", r->c->timezone.v);
	if (mv_fs_mkparents(r->fs, "/etc/localtime", r->t) < 0 || mv_fs_symlink(r->fs, "/etc/localtime", target, &m) < 0)
		return mv_cust_fail(r, "%s", r->fs->err);
	return 0;
}

int mv_customise_apply(const struct mv_plan *plan, struct mv_fs *root, char *err, size_t errlen)
{
	const struct mv_custom *c = &plan->profile->custom;
	if (!c->any)
		return 0;
	struct mv_arena a = {0};
	struct mv_cust_run r = {.plan = plan, .c = c, .fs = root, .t = plan->opt.timestamp, .a = &a, .err = err, .errlen = errlen};
	struct writing w = {.r = &r, .nm = exists(root, MV_CUST_NM_BINARY)};
	err[0] = '\0';
	int rc = mv_cust_files(plan, 0, &a, write_file, &w);
	if (rc == MV_CUST_DERIVE_FAILED)
		mv_cust_fail(&r, "crypt(3) or PBKDF2 failed to derive a secret");
	if (rc == 0 && c->hostname.v)
		rc = hosts(&r);
	if (rc == 0 && c->timezone.v)
		rc = link_localtime(&r);
	if (rc == 0)
		rc = mv_cust_users(&r);
	if (rc == 0 && w.networkd)
		rc = mv_cust_enable(&r, "systemd-networkd.service", NULL) < 0 ? -1 : 0;
	if (rc == 0 && w.wpa)
		rc = mv_cust_enable(&r, "wpa_supplicant@.service", w.wpa) < 0 ? -1 : 0;
	mv_arena_free(&a);
	return rc < 0 ? -1 : 0;
}
