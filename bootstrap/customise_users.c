/* customise_users: the account, its keys and sshd, as useradd, ssh-copy-id
 * and systemctl enable would leave them:
 *  - a new user gets the first free UID from 1000 (useradd's UID_MIN), a
 *    group of its own name (the same number when free), a 0700 home it
 *    owns, membership of the admin group the userland has (sudo, else
 *    wheel, else none), /bin/bash when the userland has it, else /bin/sh;
 *    a user that exists keeps its entries and gets the password and keys;
 *  - /etc/shadow holds only a crypt(3) hash, or "*" (no password login,
 *    the account not locked, so sshd still takes keys);
 *  - ~/.ssh 0700 and authorized_keys 0600, owned by the user (sshd's
 *    StrictModes refuses anything looser);
 *  - sshd enabled when keys are authorized and the userland has its unit;
 *    host keys the userland brought are removed whenever a machine is
 *    customised (every clone would share them) and made on first boot
 *    instead, unless SSHHostKeys=keep. */
#include "customise_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define UID_MIN 1000
#define UID_MAX 60000

int mv_cust_fail(struct mv_cust_run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int fs_fail(struct mv_cust_run *r)
{
	return mv_cust_fail(r, "%s", r->fs->err);
}

static struct mv_meta meta_of(const struct mv_cust_run *r, uint32_t mode, uint32_t uid, uint32_t gid)
{
	return (struct mv_meta){.mode = mode, .uid = uid, .gid = gid, .mtime = r->t, .atime = r->t, .ctime = r->t};
}

static int exists(struct mv_cust_run *r, const char *path)
{
	struct mv_stat st;
	return mv_fs_stat(r->fs, path, MV_FS_FOLLOW, &st) == 0;
}

/* A file of the userland as text ("" when missing), in the arena. */
static char *text_of(struct mv_cust_run *r, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	if (mv_fs_read_file(r->fs, path, &buf, &len) < 0 || !buf)
		return mv_strdup(r->a, "");
	char *t = mv_strdup(r->a, buf);
	free(buf);
	return t;
}

/* Replaces a file's text, keeping the owner and mode it had (a shadow file
 * stays private); a missing one gets mode. */
static int rewrite(struct mv_cust_run *r, const char *path, const char *text, uint32_t mode)
{
	struct mv_stat st;
	struct mv_meta m = meta_of(r, S_IFREG | mode, 0, 0);
	if (mv_fs_stat(r->fs, path, MV_FS_FOLLOW, &st) == 0)
		m = meta_of(r, S_IFREG | (st.mode & 07777), st.uid, st.gid);
	else if (mv_fs_mkparents(r->fs, path, r->t) < 0)
		return fs_fail(r);
	return mv_fs_write_file(r->fs, path, &m, text, strlen(text)) < 0 ? fs_fail(r) : 0;
}

/* The line of a colon-separated account file whose first field is name,
 * or NULL; *len is its length without the newline. */
static const char *entry(const char *text, const char *name, size_t *len)
{
	size_t n = strlen(name);
	for (const char *p = text; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n')) {
		if (strncmp(p, name, n) == 0 && p[n] == ':') {
			*len = strcspn(p, "\n");
			return p;
		}
	}
	return NULL;
}

/* Field i (0-based) of an account line, in the arena. */
static char *field(struct mv_arena *a, const char *line, size_t len, int i)
{
	const char *p = line, *end = line + len;
	for (; i > 0 && p < end; i--) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		if (!c)
			return mv_strdup(a, "");
		p = c + 1;
	}
	const char *c = memchr(p, ':', (size_t)(end - p));
	return mv_strndup(a, p, (size_t)((c ? c : end) - p));
}

/* Whether field 2 (the number) of some line of text equals id. */
static int id_used(const char *text, unsigned long id)
{
	for (const char *p = text; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n')) {
		const char *c = strchr(p, ':');
		c = c ? strchr(c + 1, ':') : NULL;
		if (c && c < p + strcspn(p, "\n") && strtoul(c + 1, NULL, 10) == id)
			return 1;
	}
	return 0;
}

/* text with line (len bytes at line) replaced by repl. */
static char *splice(struct mv_arena *a, const char *text, const char *line, size_t len, const char *repl)
{
	return mv_printf(a, "%.*s%s%s", (int)(line - text), text, repl, line + len);
}

struct account {
	const char *name, *home;
	unsigned long uid, gid;
};

static int add_user(struct mv_cust_run *r, struct account *u, const char *hash)
{
	char *passwd = text_of(r, "/etc/passwd"), *group = text_of(r, "/etc/group");
	unsigned long uid = UID_MIN, gid;
	while (uid < UID_MAX && id_used(passwd, uid))
		uid++;
	for (gid = uid; gid < UID_MAX && id_used(group, gid); gid++)
		;
	if (uid >= UID_MAX || gid >= UID_MAX)
		return mv_cust_fail(r, "user %s: no free UID or GID from %d to %d", u->name, UID_MIN, UID_MAX);
	size_t len;
	if (entry(group, u->name, &len))
		return mv_cust_fail(r, "user %s: the userland has a group %s already but no such user; choose another User=",
				    u->name, u->name);
	u->uid = uid;
	u->gid = gid;
	u->home = mv_printf(r->a, "/home/%s", u->name);
	const char *shell = exists(r, "/bin/bash") ? "/bin/bash" : "/bin/sh";
	/* A userland without account files gets root's entries first, as
	 * every passwd has them. */
	int bare = !*passwd;
	char *line = mv_printf(r->a, "%s%s:x:%lu:%lu::%s:%s\n", bare ? "root:x:0:0:root:/root:/bin/sh\n" : "", u->name,
			       uid, gid, u->home, shell);
	struct mv_meta pub = meta_of(r, S_IFREG | 0644, 0, 0), priv = meta_of(r, S_IFREG | 0600, 0, 0);
	if (mv_fs_append_file(r->fs, "/etc/passwd", &pub, line) < 0)
		return fs_fail(r);
	/* The user's own group, then the admin group's member list. */
	char *text = mv_printf(r->a, "%s%s%s:x:%lu:\n", *group ? group : "root:x:0:\n",
			       *group && group[strlen(group) - 1] != '\n' ? "\n" : "", u->name, gid);
	const char *admin = entry(text, "sudo", &len) ? "sudo" : entry(text, "wheel", &len) ? "wheel" : NULL;
	if (admin) {
		const char *l = entry(text, admin, &len);
		int empty = l[len - 1] == ':';
		text = splice(r->a, text, l, len, mv_printf(r->a, "%.*s%s%s", (int)len, l, empty ? "" : ",", u->name));
	}
	if (rewrite(r, "/etc/group", text, 0644) < 0)
		return -1;
	/* No aging fields: an empty "last changed" would not force a change,
	 * and 0 would. */
	line = mv_printf(r->a, "%s%s:%s::0:99999:7:::\n", bare && !*text_of(r, "/etc/shadow") ? "root:*::0:99999:7:::\n" : "",
			 u->name, hash ? hash : "*");
	if (mv_fs_append_file(r->fs, "/etc/shadow", &priv, line) < 0)
		return fs_fail(r);
	struct mv_meta home = meta_of(r, S_IFDIR | 0700, (uint32_t)uid, (uint32_t)gid);
	if (mv_fs_mkparents(r->fs, u->home, r->t) < 0 || mv_fs_mkdir(r->fs, u->home, &home) < 0)
		return fs_fail(r);
	return 0;
}

/* A user the userland has (root, say): its password is replaced. */
static int set_password(struct mv_cust_run *r, const struct account *u, const char *hash)
{
	char *shadow = text_of(r, "/etc/shadow");
	size_t len;
	const char *l = entry(shadow, u->name, &len);
	if (!l) {
		struct mv_meta priv = meta_of(r, S_IFREG | 0600, 0, 0);
		char *line = mv_printf(r->a, "%s:%s::0:99999:7:::\n", u->name, hash);
		return mv_fs_append_file(r->fs, "/etc/shadow", &priv, line) < 0 ? fs_fail(r) : 0;
	}
	const char *second = memchr(l, ':', len);
	const char *third = second ? memchr(second + 1, ':', len - (size_t)(second + 1 - l)) : NULL;
	char *repl = third ? mv_printf(r->a, "%s:%s%.*s", u->name, hash, (int)(len - (size_t)(third - l)), third)
			   : mv_printf(r->a, "%s:%s::0:99999:7:::", u->name, hash);
	return rewrite(r, "/etc/shadow", splice(r->a, shadow, l, len, repl), 0600);
}

static int authorize(struct mv_cust_run *r, const struct account *u)
{
	const char *dir = mv_printf(r->a, "%s/.ssh", u->home);
	const char *file = mv_printf(r->a, "%s/authorized_keys", dir);
	struct mv_meta d = meta_of(r, S_IFDIR | 0700, (uint32_t)u->uid, (uint32_t)u->gid);
	struct mv_meta f = meta_of(r, S_IFREG | 0600, (uint32_t)u->uid, (uint32_t)u->gid);
	if (mv_fs_mkparents(r->fs, dir, r->t) < 0 || mv_fs_mkdir(r->fs, dir, &d) < 0 ||
	    mv_fs_append_file(r->fs, file, &f, r->c->ssh_keys) < 0)
		return fs_fail(r);
	return 0;
}

/* The names first, unlinked after the walk: a directory is not changed
 * while it is read. */
struct names {
	struct mv_arena *a;
	MV_VEC(const char *) v;
};

static int host_key(void *ctx, const char *name, mv_node node)
{
	(void)node;
	struct names *n = ctx;
	if (strncmp(name, "ssh_host_", 9) == 0)
		*MV_PUSH(n->a, n->v) = mv_strdup(n->a, name);
	return 0;
}

const char mv_cust_keygen_unit[] =
	"# Written by microvisor ([Customise]): images carry no SSH host keys, so\n"
	"# that no two machines share them; each makes its own on first boot.\n"
	"[Unit]\n"
	"Description=Generate SSH host keys on first boot\n"
	"Before=ssh.service sshd.service\n"
	"ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\n"
	"\n"
	"[Service]\n"
	"Type=oneshot\n"
	"ExecStart=/usr/bin/ssh-keygen -A\n"
	"\n"
	"[Install]\n"
	"WantedBy=multi-user.target\n";

static const char *unit_path(struct mv_cust_run *r, const char *unit)
{
	static const char *const dirs[] = {"/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"};
	for (size_t i = 0; i < 3; i++) {
		const char *p = mv_printf(r->a, "%s/%s", dirs[i], unit);
		if (exists(r, p))
			return p;
	}
	return NULL;
}

static int sshd(struct mv_cust_run *r)
{
	int on = mv_cust_enable(r, "ssh.service", NULL);
	if (on == 0)
		on = mv_cust_enable(r, "sshd.service", NULL);
	return on < 0 ? -1 : 0;
}

/* Whenever a machine is customised: the userland's host keys would be
 * every clone's, so they go, and a systemd sshd gets them made on first
 * boot (a userland's own sshd init script makes its own). */
static int host_keys(struct mv_cust_run *r)
{
	const char *keep = r->c->ssh_host_keys.v;
	if (keep && strcmp(keep, "keep") == 0)
		return 0;
	struct names keys = {.a = r->a};
	if (exists(r, "/etc/ssh") && mv_fs_readdir(r->fs, "/etc/ssh", host_key, &keys) < 0)
		return fs_fail(r);
	for (size_t i = 0; i < keys.v.n; i++)
		if (mv_fs_unlink(r->fs, mv_printf(r->a, "/etc/ssh/%s", keys.v.v[i])) < 0)
			return fs_fail(r);
	if (!unit_path(r, "ssh.service") && !unit_path(r, "sshd.service"))
		return 0;
	const char *path = "/etc/systemd/system/" MV_CUST_KEYGEN_UNIT;
	struct mv_meta m = meta_of(r, S_IFREG | 0644, 0, 0);
	if (mv_fs_mkparents(r->fs, path, r->t) < 0 ||
	    mv_fs_write_file(r->fs, path, &m, mv_cust_keygen_unit, strlen(mv_cust_keygen_unit)) < 0)
		return fs_fail(r);
	return mv_cust_enable(r, MV_CUST_KEYGEN_UNIT, NULL) < 0 ? -1 : 0;
}

int mv_cust_users(struct mv_cust_run *r)
{
	const struct mv_custom *c = r->c;
	char hash[160];
	const char *h = NULL;
	const char *name = c->user.v ? c->user.v : "root";
	if (c->password_hash.v) {
		h = c->password_hash.v;
	} else if (c->password) {
		if (mv_password_hash(c->password, &r->plan->seed, name, hash, sizeof(hash)) < 0)
			return mv_cust_fail(r, "user %s: crypt(3) could not make a SHA-512 hash", name);
		h = hash;
	}
	if (host_keys(r) < 0)
		return -1;
	if (!c->user.v && !h && !c->ssh_keys)
		return 0;
	struct account u = {.name = name, .home = "/root"};
	char *passwd = text_of(r, "/etc/passwd");
	size_t len;
	const char *l = entry(passwd, name, &len);
	if (l) {
		u.uid = strtoul(field(r->a, l, len, 2), NULL, 10);
		u.gid = strtoul(field(r->a, l, len, 3), NULL, 10);
		u.home = field(r->a, l, len, 5);
		if (u.home[0] != '/')
			return mv_cust_fail(r, "user %s: /etc/passwd gives no home directory", name);
		if (h && set_password(r, &u, h) < 0)
			return -1;
	} else if (c->user.v) {
		if (add_user(r, &u, h) < 0)
			return -1;
	} else if ((h && set_password(r, &u, h) < 0)) {
		return -1; /* root without a passwd line: a bare userland */
	}
	explicit_bzero(hash, sizeof(hash));
	if (c->ssh_keys && (authorize(r, &u) < 0 || sshd(r) < 0))
		return -1;
	return 0;
}

/* The [Install] section's values for key, space-separated. */
static char *install_values(struct mv_arena *a, const char *unit, const char *key)
{
	char *out = mv_strdup(a, "");
	int in_install = 0;
	size_t kl = strlen(key);
	for (const char *p = unit; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n')) {
		size_t n = strcspn(p, "\n");
		if (*p == '[')
			in_install = strncmp(p, "[Install]", 9) == 0;
		else if (in_install && strncmp(p, key, kl) == 0 && p[kl] == '=')
			out = mv_printf(a, "%s %.*s", out, (int)(n - kl - 1), p + kl + 1);
	}
	return out;
}

static int enable(struct mv_cust_run *r, const char *unit, const char *instance, int depth);

int mv_cust_enable(struct mv_cust_run *r, const char *unit, const char *instance)
{
	return enable(r, unit, instance, 0);
}

static int enable(struct mv_cust_run *r, const char *unit, const char *instance, int depth)
{
	const char *path = unit_path(r, unit);
	if (!path)
		return 0;
	char *text = text_of(r, path);
	const char *name = unit;
	if (instance) { /* wpa_supplicant@.service -> wpa_supplicant@wlan0.service */
		const char *at = strchr(unit, '@');
		name = mv_printf(r->a, "%.*s@%s%s", (int)(at - unit), unit, instance, at + 1);
	}
	struct mv_meta m = meta_of(r, S_IFLNK | 0777, 0, 0);
	static const char *const wants[][2] = {{"WantedBy", "wants"}, {"RequiredBy", "requires"}};
	for (size_t k = 0; k < 2; k++) {
		char *list = install_values(r->a, text, wants[k][0]), *save = NULL;
		for (char *t = strtok_r(list, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
			const char *link = mv_printf(r->a, "/etc/systemd/system/%s.%s/%s", t, wants[k][1], name);
			if (mv_fs_mkparents(r->fs, link, r->t) < 0 || mv_fs_symlink(r->fs, link, path, &m) < 0)
				return fs_fail(r);
		}
	}
	char *aliases = install_values(r->a, text, "Alias"), *save = NULL;
	for (char *t = strtok_r(aliases, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		const char *link = mv_printf(r->a, "/etc/systemd/system/%s", t);
		if (mv_fs_symlink(r->fs, link, path, &m) < 0)
			return fs_fail(r);
	}
	char *also = install_values(r->a, text, "Also");
	save = NULL;
	for (char *t = strtok_r(also, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
		if (depth < 4 && strcmp(t, unit) != 0 && enable(r, t, NULL, depth + 1) < 0)
			return -1;
	return 1;
}
