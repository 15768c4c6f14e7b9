/* customise: the command-line options and the checks of [Customise]
 * (customise.h). Nothing here writes: the checks run while the profile is
 * loaded, so a bad value stops every command before it starts. */
#include "customise.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <mbedtls/base64.h>

static const struct {
	const char *opt, *origin, *key;
} options[] = {
#define ROW_(opt, key, arg, help) {opt, "--" opt, key},
	MV_CUSTOMISE_OPTIONS(ROW_)
#undef ROW_
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static int say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

int mv_customise_getopt(struct mv_sets *sets, const char *cmd, const char *opt, const char *arg)
{
	const char *key = NULL;
	size_t i = 0;
	while (i < N_OPTIONS && strcmp(options[i].opt, opt) != 0)
		i++;
	if (i == N_OPTIONS) {
		fprintf(stderr, "microvisor %s: --%s: not a customisation option\n", cmd, opt);
		return -1;
	}
	if (sets->n == MV_MAX_SETS) {
		fprintf(stderr, "microvisor %s: more than %d customisation options\n", cmd, MV_MAX_SETS);
		return -1;
	}
	struct mv_set *s = &sets->v[sets->n];
	key = options[i].key;
	if (key) {
		*s = (struct mv_set){.origin = options[i].origin, .section = "Customise", .key = key, .value = arg};
	} else {
		/* SECTION.KEY=VALUE; a section may have a name ("Partition
		 * root"), keys have no dots, so the last dot before '=' splits. */
		const char *eq = strchr(arg, '=');
		const char *dot = NULL;
		for (const char *c = arg; eq && c < eq; c++)
			if (*c == '.')
				dot = c;
		if (!eq || !dot || dot == arg || dot + 1 == eq) {
			fprintf(stderr, "microvisor %s: --set %s: expected SECTION.KEY=VALUE, such as Customise.Hostname=pi-7 or \"Partition root.Size=4G\"\n",
				cmd, arg);
			return -1;
		}
		/* The value lives as long as argv; the two names are cut out. */
		char *section = sets->names[sets->n][0], *k = sets->names[sets->n][1];
		if ((size_t)(dot - arg) >= sizeof(sets->names[0][0]) || (size_t)(eq - dot) > sizeof(sets->names[0][1])) {
			fprintf(stderr, "microvisor %s: --set %s: the section or key name is too long\n", cmd, arg);
			return -1;
		}
		snprintf(section, sizeof(sets->names[0][0]), "%.*s", (int)(dot - arg), arg);
		snprintf(k, sizeof(sets->names[0][1]), "%.*s", (int)(eq - dot - 1), dot + 1);
		*s = (struct mv_set){.origin = "--set", .section = section, .key = k, .value = eq + 1};
	}
	sets->n++;
	return 0;
}

int mv_customise_getopt_long(struct mv_cli_options *g, int argc, char **argv, const char *shortopts,
			     const struct option *own)
{
	if (!g->all[0].name) {
		size_t n = 0;
		for (; own[n].name && n < MV_MAX_LONGOPTS - N_OPTIONS - 1; n++)
			g->all[n] = own[n];
		for (size_t i = 0; i < N_OPTIONS; i++)
			g->all[n++] = (struct option){options[i].opt, required_argument, NULL, MV_OPT_CUSTOMISE};
	}
	int idx = 0, opt;
	while ((opt = getopt_long(argc, argv, shortopts, g->all, &idx)) == MV_OPT_CUSTOMISE)
		if (mv_customise_getopt(&g->sets, g->cmd, g->all[idx].name, optarg) < 0)
			return MV_OPT_BAD;
	return opt;
}

/* RFC 1123 labels, at most 63 characters in all: the kernel's hostname
 * holds 64 bytes with the NUL, and systemd-hostnamed refuses more. */
int mv_hostname_check(const char *name, char *why, size_t len)
{
	size_t n = strlen(name);
	if (n == 0 || n > 63)
		return say(why, len, "a hostname has 1 to 63 characters");
	const char *label = name;
	for (const char *c = name;; c++) {
		if (*c == '.' || !*c) {
			size_t l = (size_t)(c - label);
			if (l == 0)
				return say(why, len, "empty label (two dots, or a dot at either end)");
			if (label[0] == '-' || c[-1] == '-')
				return say(why, len, "a label cannot start or end with '-'");
			if (!*c)
				return 0;
			label = c + 1;
		} else if (!isalnum((unsigned char)*c) && *c != '-') {
			return say(why, len, "character '%c' is not allowed: use letters, digits, '-' and '.' (RFC 1123)", *c);
		}
	}
}

/* useradd's default rule (NAME_REGEX): [a-z_][a-z0-9_-]*[$]?, 32 at most. */
int mv_username_check(const char *name, char *why, size_t len)
{
	size_t n = strlen(name);
	if (n == 0 || n > 32)
		return say(why, len, "a user name has 1 to 32 characters");
	if (!(islower((unsigned char)name[0]) || name[0] == '_'))
		return say(why, len, "a user name starts with a lower-case letter or '_'");
	for (size_t i = 1; i < n; i++) {
		char c = name[i];
		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '_' || c == '-' || (c == '$' && i == n - 1)))
			return say(why, len, "character '%c' is not allowed: use a-z, 0-9, '_' and '-'", c);
	}
	return 0;
}

static const char *const key_types[] = {
	"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss",
};

int mv_ssh_key_check(const char *line, char *why, size_t len)
{
	size_t tl = strcspn(line, " \t");
	int known = 0;
	for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
		known |= strlen(key_types[i]) == tl && strncmp(key_types[i], line, tl) == 0;
	/* The line is not quoted: a key file named by mistake (or by a
	 * hostile profile) may be a private key, which has no business in a
	 * build log. */
	if (!known)
		return say(why, len, "%s", strncmp(line, "-----BEGIN", 10) == 0
			   ? "a private key, not a public key: give the .pub file"
			   : "not a public key: it does not start with a key type (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ...): give the .pub file, without options before the key");
	const char *b64 = line + tl;
	b64 += strspn(b64, " \t");
	size_t bl = strcspn(b64, " \t\r\n");
	if (!bl)
		return say(why, len, "no key after the type %.*s", (int)tl, line);
	unsigned char blob[16384];
	size_t got = 0;
	if (bl > 4 * sizeof(blob) / 3 ||
	    mbedtls_base64_decode(blob, sizeof(blob), &got, (const unsigned char *)b64, bl) != 0)
		return say(why, len, "the key is not valid base64");
	/* The blob starts with the type again, as an SSH string. */
	if (got < 4)
		return say(why, len, "the key is too short");
	size_t n = (size_t)blob[0] << 24 | (size_t)blob[1] << 16 | (size_t)blob[2] << 8 | blob[3];
	if (n != tl || got < 4 + n || memcmp(blob + 4, line, tl) != 0)
		return say(why, len, "the key's data does not name its type %.*s (a damaged or mismatched key)", (int)tl, line);
	if (strncmp(line, "ssh-ed25519", tl) == 0 && got != 4 + tl + 4 + 32)
		return say(why, len, "an ssh-ed25519 key holds 32 bytes; this one is damaged");
	return 0;
}

static int is_crypt64(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '/')
			return 0;
	return 1;
}

int mv_password_hash_check(const char *hash, char *why, size_t len)
{
	const char *want = "expected a crypt(3) SHA-512 hash: $6$SALT$ and 86 characters (mkpasswd -m sha-512)";
	if (strncmp(hash, "$6$", 3) != 0)
		return say(why, len, "%s", want);
	const char *p = hash + 3;
	if (strncmp(p, "rounds=", 7) == 0) {
		char *end;
		unsigned long r = strtoul(p + 7, &end, 10);
		if (*end != '$' || r < 1000 || r > 999999999)
			return say(why, len, "rounds=: expected 1000 to 999999999 followed by $");
		p = end + 1;
	}
	size_t salt = strcspn(p, "$");
	if (salt < 1 || salt > 16 || !is_crypt64(p, salt) || p[salt] != '$')
		return say(why, len, "%s", want);
	p += salt + 1;
	if (strlen(p) != 86 || !is_crypt64(p, 86))
		return say(why, len, "%s", want);
	return 0;
}

int mv_ip_check(const char *text, int want_prefix, char *why, size_t len)
{
	char addr[64];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	if (n >= sizeof(addr))
		return say(why, len, "not an IP address");
	memcpy(addr, text, n);
	addr[n] = '\0';
	unsigned char buf[16];
	int v6 = strchr(addr, ':') != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, buf) != 1)
		return say(why, len, "%s is not an IPv4 or IPv6 address", addr);
	if (!want_prefix) {
		if (slash)
			return say(why, len, "expected an address without /PREFIX");
		return 0;
	}
	if (!slash)
		return say(why, len, "expected ADDRESS/PREFIX, such as %s/%d: the prefix length says which addresses are on the link",
			   addr, v6 ? 64 : 24);
	char *end;
	long prefix = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || prefix < 1 || prefix > (v6 ? 128 : 32))
		return say(why, len, "the prefix length is 1 to %d", v6 ? 128 : 32);
	return 0;
}

static int in_set(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return 0;
	return 1;
}

/* A path named by a key, relative to the file that named it (the working
 * directory for the command line). */
static const char *path_of(struct mv_profile *p, const struct mv_str *s)
{
	const char *slash = s->at.line ? strrchr(s->at.file, '/') : NULL;
	if (s->v[0] == '/' || !slash)
		return s->v;
	return mv_printf(&p->arena, "%.*s/%s", (int)(slash - s->at.file), s->at.file, s->v);
}

/* The whole of a small file (a key, a password), NUL-terminated, in the
 * profile's arena; NULL after reporting. */
/* "-" is standard input; on a terminal the line is asked for without
 * echo, so a password need not sit in a file at all. */
static char *ask(struct mv_profile *p, struct mv_report *rep, const struct mv_str *s, const char *key)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fprintf(stderr, "%s: ", key);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	char *buf = mv_alloc(&p->arena, 1024);
	int got = fgets(buf, 1024, stdin) != NULL;
	/* A line that does not fit would be cut to a password nobody typed. */
	int c = EOF, long_line = got && !strchr(buf, '\n') && (c = getchar()) != EOF;
	while (long_line && c != '\n' && c != EOF)
		c = getchar();
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (!got) {
		mv_error(rep, s->at, "%s=-: nothing on standard input", key);
		return NULL;
	}
	if (long_line) {
		explicit_bzero(buf, 1024);
		mv_error(rep, s->at, "%s=-: the line is longer than 1022 bytes", key);
		return NULL;
	}
	return buf;
}

static char *slurp(struct mv_profile *p, struct mv_report *rep, const struct mv_str *s, const char *key)
{
	if (strcmp(s->v, "-") == 0)
		return ask(p, rep, s, key);
	const char *path = path_of(p, s);
	FILE *f = fopen(path, "r");
	if (!f) {
		mv_error(rep, s->at, "%s=%s: cannot read %s: %s", key, s->v, path, strerror(errno));
		return NULL;
	}
	char *buf = mv_alloc(&p->arena, 65537);
	size_t n = fread(buf, 1, 65536, f);
	int big = n == 65536 && fgetc(f) != EOF;
	fclose(f);
	if (big) {
		mv_error(rep, s->at, "%s=%s: more than 64 KiB: not a key or password file", key, s->v);
		return NULL;
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		mv_error(rep, s->at, "%s=%s: a NUL byte in the file: not text", key, s->v);
		return NULL;
	}
	return buf;
}

static char *first_line(char *text)
{
	text[strcspn(text, "\r\n")] = '\0';
	return text;
}

/* Keys from SSHKey= lines and SSHKeyFile= files, each checked, gathered
 * one per line. */
static void check_keys(struct mv_profile *p, struct mv_report *rep)
{
	struct mv_custom *c = &p->custom;
	char *all = mv_strdup(&p->arena, "");
	char why[256];
	for (size_t i = 0; i < c->ssh_key.n; i++) {
		const struct mv_str *s = &c->ssh_key.v[i];
		if (mv_ssh_key_check(s->v, why, sizeof(why)) < 0)
			mv_error(rep, s->at, "SSHKey=: %s", why);
		else
			all = mv_printf(&p->arena, "%s%s\n", all, s->v);
	}
	for (size_t i = 0; i < c->ssh_key_file.n; i++) {
		const struct mv_str *s = &c->ssh_key_file.v[i];
		char *text = slurp(p, rep, s, "SSHKeyFile");
		int line = 0, keys = 0, bad = 0;
		for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			line++;
			size_t n = strcspn(l, "\r\n");
			char *one = mv_strndup(&p->arena, l, n);
			const char *t = one + strspn(one, " \t");
			if (!*t || *t == '#')
				continue;
			if (mv_ssh_key_check(t, why, sizeof(why)) < 0) {
				mv_error(rep, s->at, "SSHKeyFile=%s: line %d: %s", s->v, line, why);
				bad++;
				continue;
			}
			all = mv_printf(&p->arena, "%s%s\n", all, t);
			keys++;
		}
		if (text && !keys && !line)
			mv_error(rep, s->at, "SSHKeyFile=%s: the file is empty: expected a public key (the .pub file)", s->v);
		else if (text && !keys && !bad)
			mv_error(rep, s->at, "SSHKeyFile=%s: no public key in the file", s->v);
	}
	c->ssh_keys = *all ? all : NULL;
}

static void check_secrets(struct mv_profile *p, struct mv_report *rep)
{
	struct mv_custom *c = &p->custom;
	char why[256];
	if (c->password_hash.v && c->password_file.v)
		mv_error(rep, c->password_file.at, "PasswordFile=: PasswordHash= is set too (at %s:%d): give one of them",
			 c->password_hash.at.file, c->password_hash.at.line);
	else if (c->password_hash.v && mv_password_hash_check(c->password_hash.v, why, sizeof(why)) < 0)
		mv_error(rep, c->password_hash.at, "PasswordHash=: %s", why);
	if (c->password_file.v) {
		char *text = slurp(p, rep, &c->password_file, "PasswordFile");
		/* libxcrypt's crypt(3), which PAM checks logins with, refuses
		 * 512 bytes or more (CRYPT_MAX_PASSPHRASE_SIZE): no login could
		 * match the hash of a longer password. */
		if (text && !*first_line(text))
			mv_error(rep, c->password_file.at, "PasswordFile=%s: the first line is empty: expected the password", c->password_file.v);
		else if (text && strlen(text) > 511)
			mv_error(rep, c->password_file.at, "PasswordFile=%s: the password has %zu bytes; crypt(3) takes at most 511",
				 c->password_file.v, strlen(text));
		else if (text)
			c->password = text;
	}
	if (c->wifi_psk_file.v && !c->wifi_ssid.v)
		mv_error(rep, c->wifi_psk_file.at, "WifiPSKFile=: no WifiSSID= names the network it is for");
	if (c->wifi_ssid.v) {
		size_t n = strlen(c->wifi_ssid.v);
		if (n < 1 || n > 32)
			mv_error(rep, c->wifi_ssid.at, "WifiSSID=%s: an SSID has 1 to 32 bytes", c->wifi_ssid.v);
		else if (strpbrk(c->wifi_ssid.v, "\"\n\\"))
			mv_error(rep, c->wifi_ssid.at, "WifiSSID=%s: quotes and backslashes are not supported in an SSID", c->wifi_ssid.v);
	}
	if (c->wifi_psk_file.v && c->wifi_ssid.v) {
		char *text = slurp(p, rep, &c->wifi_psk_file, "WifiPSKFile");
		if (text) {
			const char *psk = first_line(text);
			size_t n = strlen(psk);
			int printable = 1;
			for (const char *q = psk; *q; q++)
				printable &= *q >= 0x20 && *q <= 0x7e;
			if (n < 8 || n > 63)
				mv_error(rep, c->wifi_psk_file.at, "WifiPSKFile=%s: the passphrase has %zu characters; WPA takes 8 to 63",
					 c->wifi_psk_file.v, n);
			else if (!printable)
				mv_error(rep, c->wifi_psk_file.at, "WifiPSKFile=%s: a WPA passphrase is printable ASCII", c->wifi_psk_file.v);
			else
				c->wifi_psk = psk;
		}
	}
}

static void check_network(struct mv_profile *p, struct mv_report *rep)
{
	struct mv_custom *c = &p->custom;
	char why[256];
	if (c->address.v && mv_ip_check(c->address.v, 1, why, sizeof(why)) < 0)
		mv_error(rep, c->address.at, "Address=%s: %s", c->address.v, why);
	if (c->gateway.v && mv_ip_check(c->gateway.v, 0, why, sizeof(why)) < 0)
		mv_error(rep, c->gateway.at, "Gateway=%s: %s", c->gateway.v, why);
	if (c->gateway.v && !c->address.v)
		mv_error(rep, c->gateway.at, "Gateway=%s: needs a static Address= (DHCP brings its own gateway)", c->gateway.v);
	if (c->dns.v) {
		char *list = mv_strdup(&p->arena, c->dns.v), *save = NULL;
		int n = 0;
		for (char *t = strtok_r(list, " ,", &save); t; t = strtok_r(NULL, " ,", &save), n++)
			if (mv_ip_check(t, 0, why, sizeof(why)) < 0)
				mv_error(rep, c->dns.at, "DNS=%s: %s", c->dns.v, why);
		if (!n)
			mv_error(rep, c->dns.at, "DNS=: expected name server addresses, separated by spaces or commas");
	}
	const char *net = c->network.v;
	if (c->dns.v && !c->wifi_ssid.v && !c->address.v && (!net || strcmp(net, "none") == 0))
		mv_error(rep, c->dns.at, "DNS=: no network to give it to: set Network=dhcp, Address= or WifiSSID=");
	if (net && strcmp(net, "static") == 0 && !c->address.v)
		mv_error(rep, c->network.at, "Network=static: needs Address=ADDRESS/PREFIX");
	if (net && strcmp(net, "static") != 0 && c->address.v)
		mv_error(rep, c->address.at, "Address=%s: Network=%s says no static address", c->address.v, net);
	if (c->interface.v && (!*c->interface.v || !in_set(c->interface.v, "*_.:- ")))
		mv_error(rep, c->interface.at, "Interface=%s: expected interface names or globs such as en*, separated by spaces", c->interface.v);
	const char *wi = c->wifi_interface.v;
	if (wi && (!*wi || strlen(wi) > 15 || !in_set(wi, "_.-")))
		mv_error(rep, c->wifi_interface.at, "WifiInterface=%s: expected an interface name (at most 15 of A-Za-z0-9_.-)", wi);
	const char *cc = c->wifi_country.v;
	if (cc && (strlen(cc) != 2 || !isupper((unsigned char)cc[0]) || !isupper((unsigned char)cc[1])))
		mv_error(rep, c->wifi_country.at, "WifiCountry=%s: expected an ISO 3166 country code such as DE", cc);
}

static void check_names(struct mv_profile *p, struct mv_report *rep)
{
	struct mv_custom *c = &p->custom;
	char why[256];
	if (c->hostname.v && mv_hostname_check(c->hostname.v, why, sizeof(why)) < 0)
		mv_error(rep, c->hostname.at, "Hostname=%s: %s", c->hostname.v, why);
	if (c->user.v && mv_username_check(c->user.v, why, sizeof(why)) < 0)
		mv_error(rep, c->user.at, "User=%s: %s", c->user.v, why);
	const char *tz = c->timezone.v;
	if (tz && (!*tz || tz[0] == '/' || strstr(tz, "..") || !in_set(tz, "/_+-")))
		mv_error(rep, c->timezone.at, "Timezone=%s: expected a tz database name such as Europe/Berlin or UTC", tz);
	const char *lc = c->locale.v;
	if (lc && (!*lc || !isalpha((unsigned char)lc[0]) || !in_set(lc, "_.@-")))
		mv_error(rep, c->locale.at, "Locale=%s: expected a locale such as en_US.UTF-8 or C.UTF-8", lc);
	const char *km = c->keymap.v;
	if (km && (!*km || !in_set(km, "_.-")))
		mv_error(rep, c->keymap.at, "Keymap=%s: expected a console keymap name such as de or us", km);
}

void mv_customise_check(struct mv_profile *p, struct mv_report *rep)
{
	struct mv_custom *c = &p->custom;
	const struct mv_str *scalars[] = {&c->hostname, &c->user, &c->password_hash, &c->password_file,
					  &c->ssh_host_keys, &c->network, &c->interface, &c->address, &c->gateway,
					  &c->dns, &c->wifi_ssid, &c->wifi_psk_file, &c->wifi_interface,
					  &c->wifi_country, &c->timezone, &c->locale, &c->keymap};
	for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++)
		if (scalars[i]->v && !*scalars[i]->v)
			((struct mv_str *)scalars[i])->v = NULL; /* Key= with nothing: unset, as an override can ask */
		else if (scalars[i]->v)
			c->any = 1;
	c->any |= c->ssh_key.n || c->ssh_key_file.n;
	check_names(p, rep);
	check_keys(p, rep);
	check_secrets(p, rep);
	check_network(p, rep);
}
