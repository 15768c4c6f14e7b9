#include "profile.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "customise.h"
#include "units.h"

enum section {
	SEC_NONE, SEC_UNKNOWN, SEC_PROFILE, SEC_DISK, SEC_PARTITION, SEC_USERLAND,
	SEC_FILES, SEC_BOOTLOADER, SEC_NIX, SEC_HANDOFF, SEC_CUSTOMISE,
};

enum kind {
	K_STR,         /* struct mv_str */
	K_STR_LIST,    /* MV_VEC(struct mv_str) */
	K_SIZE,        /* struct mv_size: bytes, Grow or auto */
	K_BOOL,        /* struct mv_bool */
	K_SOURCE,      /* struct mv_source */
	K_SOURCE_LIST, /* MV_VEC(struct mv_source) */
	K_SHA256,      /* pins the source just above */
	K_MIRROR,      /* adds a mirror to the source just above */
	K_STRIP,       /* StripComponents= of the archive just above */
	K_COPY,        /* [Files] Copy= */
	K_INCLUDE,
};

struct key {
	const char *name;
	enum kind kind;
	size_t offset;        /* into struct mv_profile, or mv_partition */
	const char *choices;  /* "a|b|c" for closed sets, else NULL */
};

#define P(field) offsetof(struct mv_profile, field)
#define PART(field) offsetof(struct mv_partition, field)

static const struct key profile_keys[] = {
	{"Name", K_STR, P(name), NULL},
	{"Description", K_STR, P(description), NULL},
	{"Architecture", K_STR, P(architecture), "x86_64|aarch64"},
	{"Include", K_INCLUDE, 0, NULL},
	{NULL, 0, 0, NULL},
};
static const struct key disk_keys[] = {
	{"Table", K_STR, P(table), "gpt|mbr"},
	{"Size", K_SIZE, P(disk_size), NULL},
	{"Seed", K_STR, P(seed), NULL},
	{"SectorSize", K_STR, P(sector_size), "512|4096"},
	{NULL, 0, 0, NULL},
};
static const struct key partition_keys[] = {
	{"Type", K_STR, PART(type), NULL},
	{"Size", K_SIZE, PART(size), NULL},
	{"Format", K_STR, PART(format), "vfat|ext4|swap|ufs|none"},
	{"Label", K_STR, PART(label), NULL},
	{"Mount", K_STR, PART(mount), NULL},
	{"GrowFileSystem", K_BOOL, PART(grow_fs), NULL},
	{"Bootable", K_BOOL, PART(bootable), NULL},
	{NULL, 0, 0, NULL},
};
static const struct key userland_keys[] = {
	{"Source", K_SOURCE_LIST, P(userland), NULL},
	{"SHA256", K_SHA256, 0, NULL},
	{"Mirror", K_MIRROR, 0, NULL},
	{"StripComponents", K_STRIP, 0, NULL},
	{"Into", K_STR, P(into), NULL},
	{NULL, 0, 0, NULL},
};
static const struct key files_keys[] = {
	{"Copy", K_COPY, 0, NULL},
	{NULL, 0, 0, NULL},
};
static const struct key bootloader_keys[] = {
	{"Kind", K_STR, P(boot_kind), NULL},
	{"Loader", K_SOURCE, P(loader), NULL},
	{"Kernel", K_SOURCE, P(kernel), NULL},
	{"Initrd", K_SOURCE, P(initrd), NULL},
	{"Firmware", K_SOURCE, P(firmware), NULL},
	{"DeviceTree", K_SOURCE, P(devicetree), NULL},
	{"SHA256", K_SHA256, 0, NULL},
	{"Mirror", K_MIRROR, 0, NULL},
	{"Options", K_STR, P(options), NULL},
	{"Models", K_STR, P(models), NULL},
	{"EntryToken", K_STR, P(entry_token), NULL},
	{"Title", K_STR, P(title), NULL},
	{"Timeout", K_STR, P(timeout), NULL},
	{NULL, 0, 0, NULL},
};
static const struct key nix_keys[] = {
	{"Tarball", K_SOURCE, P(nix_tarball), NULL},
	{"SHA256", K_SHA256, 0, NULL},
	{"Mirror", K_MIRROR, 0, NULL},
	{"Closure", K_SOURCE, P(nix_closure), NULL},
	{"Flake", K_STR, P(flake), NULL},
	{"Config", K_STR_LIST, P(nix_config), NULL},
	{"MultiUser", K_STR, P(multi_user), "yes|no|auto"},
	{NULL, 0, 0, NULL},
};
static const struct key handoff_keys[] = {
	{"Mode", K_STR, P(handoff_mode), "firstboot|chroot|exec|none"},
	{"Command", K_STR, P(handoff_command), NULL},
	{NULL, 0, 0, NULL},
};

#define C(field) offsetof(struct mv_profile, custom.field)
static const struct key customise_keys[] = {
	{"Hostname", K_STR, C(hostname), NULL},
	{"User", K_STR, C(user), NULL},
	{"PasswordHash", K_STR, C(password_hash), NULL},
	{"PasswordFile", K_STR, C(password_file), NULL},
	{"SSHKey", K_STR_LIST, C(ssh_key), NULL},
	{"SSHKeyFile", K_STR_LIST, C(ssh_key_file), NULL},
	{"SSHHostKeys", K_STR, C(ssh_host_keys), "firstboot|keep"},
	{"Network", K_STR, C(network), "dhcp|static|none"},
	{"Interface", K_STR, C(interface), NULL},
	{"Address", K_STR, C(address), NULL},
	{"Gateway", K_STR, C(gateway), NULL},
	{"DNS", K_STR, C(dns), NULL},
	{"WifiSSID", K_STR, C(wifi_ssid), NULL},
	{"WifiPSKFile", K_STR, C(wifi_psk_file), NULL},
	{"WifiInterface", K_STR, C(wifi_interface), NULL},
	{"WifiCountry", K_STR, C(wifi_country), NULL},
	{"Timezone", K_STR, C(timezone), NULL},
	{"Locale", K_STR, C(locale), NULL},
	{"Keymap", K_STR, C(keymap), NULL},
	{NULL, 0, 0, NULL},
};

static const struct {
	const char *name;
	enum section sec;
	const struct key *keys;
} sections[] = {
	{"Profile", SEC_PROFILE, profile_keys},
	{"Disk", SEC_DISK, disk_keys},
	{"Partition", SEC_PARTITION, partition_keys},
	{"Userland", SEC_USERLAND, userland_keys},
	{"Files", SEC_FILES, files_keys},
	{"Bootloader", SEC_BOOTLOADER, bootloader_keys},
	{"Nix", SEC_NIX, nix_keys},
	{"Handoff", SEC_HANDOFF, handoff_keys},
	{"Customise", SEC_CUSTOMISE, customise_keys},
};
#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

#define MAX_INCLUDE_DEPTH 16

struct parser {
	struct mv_profile *p;
	struct mv_report *rep;
	const char *file;       /* as it will be printed */
	const char *dir;        /* for relative paths named in this file */
	FILE *f;
	int line;
	int continuation;       /* the line just read continues the previous value */
	char section_text[INI_MAX_LINE];
	enum section sec;
	const struct key *keys;
	struct mv_partition *part;
	struct mv_source *last_source;   /* what SHA256=/Mirror= apply to */
	struct mv_str *last_str;         /* what a continuation line extends */
	const char *last_key;
	int last_choices;                /* the last key takes one of a set */
	char **stack;                    /* real paths of the files being parsed */
	int depth;
};

static struct mv_where here(const struct parser *ps)
{
	return (struct mv_where){ps->file, ps->line};
}

/* libinih hands the handler no line numbers (Debian's libinih 55), so the
 * reader counts them. It also refuses a line that hits libinih's 200-byte
 * limit rather than letting libinih split it into two lines. */
static char *reader(char *buf, int size, void *stream)
{
	struct parser *ps = stream;
	if (!fgets(buf, size, ps->f))
		return NULL;
	ps->line++;
	size_t len = strlen(buf);
	if (len == (size_t)size - 1 && buf[len - 1] != '\n' && !feof(ps->f)) {
		int c;
		while ((c = fgetc(ps->f)) != EOF && c != '\n')
			;
		mv_error(ps->rep, here(ps),
			 "line is longer than %d characters: continue the value on indented lines",
			 size - 2);
		buf[0] = '\0';
		ps->continuation = 0;
		return buf;
	}
	const char *s = buf;
	while (*s == ' ' || *s == '\t')
		s++;
	ps->continuation = s > buf && *s && *s != '\n' && *s != '\r' && *s != ';' && *s != '#';
	return buf;
}

static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 31 || lb > 31)
		return 99;
	unsigned d[32][32];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			unsigned m = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < m)
				m = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < m)
				m = d[i - 1][j - 1] + cost;
			d[i][j] = m;
		}
	return d[la][lb];
}

static void unknown_key(struct parser *ps, const char *name)
{
	char list[400] = "";
	const char *best = NULL;
	unsigned best_d = 3;
	size_t used = 0;
	for (const struct key *k = ps->keys; k->name; k++) {
		int n = snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", k->name);
		if (n > 0 && (size_t)n < sizeof(list) - used)
			used += (size_t)n;
		unsigned d = edit_distance(name, k->name);
		if (d < best_d) {
			best_d = d;
			best = k->name;
		}
	}
	if (best)
		mv_error(ps->rep, here(ps), "%s=: unknown key in [%s]; did you mean %s=? (keys here: %s)",
			 name, ps->section_text, best, list);
	else
		mv_error(ps->rep, here(ps), "%s=: unknown key in [%s] (keys here: %s)", name,
			 ps->section_text, list);
}

static int in_choices(const char *choices, const char *v)
{
	size_t n = strlen(v);
	for (const char *c = choices; *c;) {
		const char *bar = strchr(c, '|');
		size_t len = bar ? (size_t)(bar - c) : strlen(c);
		if (len == n && strncmp(c, v, n) == 0)
			return 1;
		c += len + (bar ? 1 : 0);
	}
	return 0;
}

static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

static int is_sha256(const char *v)
{
	if (strlen(v) != 64)
		return 0;
	for (int i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)v[i]))
			return 0;
	return 1;
}

static struct mv_str str_here(struct parser *ps, const char *value)
{
	return (struct mv_str){mv_strdup(&ps->p->arena, value), here(ps)};
}

static void set_source(struct parser *ps, struct mv_source *src, const char *value)
{
	memset(src, 0, sizeof(*src));
	src->location = str_here(ps, value);
	src->base_dir = ps->dir;
	ps->last_source = src;
}

static void parse_copy(struct parser *ps, const char *value)
{
	struct mv_arena *a = &ps->p->arena;
	char *words[5];
	int n = 0;
	char *copy = mv_strdup(a, value);
	char *save = NULL;
	for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (n == 5) {
			n++;
			break;
		}
		words[n++] = tok;
	}
	const char *expect = "expected SOURCE PARTITION:/PATH [MODE] [UID:GID], such as files/motd root:/etc/motd 0644 0:0";
	if (n < 2 || n > 4) {
		mv_error(ps->rep, here(ps), "Copy=%s: %s", value, expect);
		return;
	}
	struct mv_copy *c = MV_PUSH(a, ps->p->copies);
	c->at = here(ps);
	c->source = words[0];
	c->base_dir = ps->dir;
	c->mode = -1;
	c->uid = c->gid = -1;
	char *colon = strchr(words[1], ':');
	if (!colon || colon == words[1] || colon[1] != '/') {
		mv_error(ps->rep, here(ps), "Copy=%s: destination %s: %s", value, words[1], expect);
		return;
	}
	c->dest_part = mv_strndup(a, words[1], (size_t)(colon - words[1]));
	c->dest_path = colon + 1;
	for (int i = 2; i < n; i++) {
		char *end;
		if (strchr(words[i], ':')) {
			long uid = strtol(words[i], &end, 10), gid = -1;
			if (*end == ':')
				gid = strtol(end + 1, &end, 10);
			if (*end || uid < 0 || gid < 0 || uid > INT_MAX || gid > INT_MAX) {
				mv_error(ps->rep, here(ps), "Copy=%s: owner %s: expected numeric UID:GID such as 0:0", value, words[i]);
				return;
			}
			c->uid = uid;
			c->gid = gid;
		} else {
			long mode = strtol(words[i], &end, 8);
			if (*end || mode < 0 || mode > 07777) {
				mv_error(ps->rep, here(ps), "Copy=%s: mode %s: expected an octal mode such as 0644", value, words[i]);
				return;
			}
			c->mode = (int)mode;
		}
	}
}

static int parse_file(struct mv_profile *p, struct mv_report *rep, const char *file,
		      struct mv_where from, char **stack, int depth);

static void do_include(struct parser *ps, const char *value)
{
	const char *path = value[0] == '/' ? value : mv_printf(&ps->p->arena, "%s/%s", ps->dir, value);
	if (ps->depth + 1 >= MAX_INCLUDE_DEPTH) {
		mv_error(ps->rep, here(ps), "Include=%s: includes nest deeper than %d levels", value, MAX_INCLUDE_DEPTH);
		return;
	}
	parse_file(ps->p, ps->rep, path, here(ps), ps->stack, ps->depth + 1);
}

static void assign(struct parser *ps, const struct key *k, const char *value)
{
	struct mv_arena *a = &ps->p->arena;
	char *base = ps->sec == SEC_PARTITION ? (char *)ps->part : (char *)ps->p;
	void *field = base + k->offset;

	ps->last_str = NULL;
	if (k->choices && !in_choices(k->choices, value)) {
		mv_error(ps->rep, here(ps), "%s=%s: expected one of %s", k->name, value, k->choices);
		return;
	}
	switch (k->kind) {
	case K_STR:
		*(struct mv_str *)field = str_here(ps, value);
		ps->last_str = field;
		break;
	case K_STR_LIST: {
		MV_VEC(struct mv_str) *vec = field;
		struct mv_str *s = MV_PUSH(a, *vec);
		*s = str_here(ps, value);
		ps->last_str = s;
		break;
	}
	case K_SIZE: {
		struct mv_size *sz = field;
		sz->at = here(ps);
		if (strcasecmp(value, "grow") == 0) {
			sz->kind = MV_SIZE_GROW;
		} else if (strcasecmp(value, "auto") == 0) {
			sz->kind = MV_SIZE_AUTO;
		} else if (mv_parse_size(value, &sz->bytes) == 0 && sz->bytes > 0) {
			sz->kind = MV_SIZE_BYTES;
		} else {
			sz->kind = MV_SIZE_UNSET;
			mv_error(ps->rep, here(ps), "%s=%s: expected a size such as 512M, 4G%s",
				 k->name, value, ps->sec == SEC_PARTITION ? ", Grow or auto" : " or 1GiB");
		}
		if (ps->sec == SEC_DISK && sz->kind != MV_SIZE_BYTES && sz->kind != MV_SIZE_UNSET) {
			mv_error(ps->rep, here(ps), "%s=%s: a disk size is a number of bytes, such as 4G", k->name, value);
			sz->kind = MV_SIZE_UNSET;
		}
		break;
	}
	case K_BOOL: {
		struct mv_bool *b = field;
		b->at = here(ps);
		if (parse_bool(value, &b->v) < 0) {
			b->v = -1;
			mv_error(ps->rep, here(ps), "%s=%s: expected yes or no", k->name, value);
		}
		break;
	}
	case K_SOURCE:
		set_source(ps, field, value);
		break;
	case K_SOURCE_LIST: {
		MV_VEC(struct mv_source) *vec = field;
		set_source(ps, MV_PUSH(a, *vec), value);
		break;
	}
	case K_SHA256:
	case K_MIRROR:
	case K_STRIP:
		if (!ps->last_source) {
			mv_error(ps->rep, here(ps), "%s=: must follow the source it applies to (the %s key above it in [%s])",
				 k->name, ps->sec == SEC_NIX ? "Tarball= or Closure=" : ps->sec == SEC_USERLAND ? "Source=" : "Kernel=, Initrd=, Loader=, Firmware= or DeviceTree=",
				 ps->section_text);
			break;
		}
		if (k->kind == K_MIRROR) {
			*MV_PUSH(a, ps->last_source->mirrors) = str_here(ps, value);
		} else if (k->kind == K_STRIP) {
			char *end;
			long n = strtol(value, &end, 10);
			if (*end || end == value || n < 0 || n > 16)
				mv_error(ps->rep, here(ps), "StripComponents=%s: expected a number from 0 to 16", value);
			else
				ps->last_source->strip = (int)n;
		} else if (!is_sha256(value)) {
			mv_error(ps->rep, here(ps), "SHA256=%s: expected 64 hexadecimal digits", value);
		} else {
			struct mv_str pin = str_here(ps, value);
			for (char *c = (char *)pin.v; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			ps->last_source->sha256 = pin;
		}
		break;
	case K_COPY:
		parse_copy(ps, value);
		break;
	case K_INCLUDE:
		do_include(ps, value);
		break;
	}
}

static void start_section(struct parser *ps, const char *text)
{
	snprintf(ps->section_text, sizeof(ps->section_text), "%s", text);
	ps->last_source = NULL;
	ps->last_str = NULL;
	ps->part = NULL;
	ps->keys = NULL;
	ps->sec = SEC_UNKNOWN;

	const char *space = strchr(text, ' ');
	size_t word = space ? (size_t)(space - text) : strlen(text);
	for (size_t i = 0; i < N_SECTIONS; i++) {
		if (strlen(sections[i].name) != word || strncmp(sections[i].name, text, word) != 0)
			continue;
		ps->sec = sections[i].sec;
		ps->keys = sections[i].keys;
	}
	if (ps->sec == SEC_UNKNOWN) {
		mv_error(ps->rep, here(ps),
			 "[%s]: unknown section; sections are [Profile], [Disk], [Partition NAME], [Userland], [Files], [Bootloader], [Nix], [Handoff], [Customise]",
			 text);
		return;
	}
	const char *name = space ? space + 1 : NULL;
	if (ps->sec != SEC_PARTITION) {
		if (name) {
			mv_error(ps->rep, here(ps), "[%s]: this section takes no name", text);
			ps->sec = SEC_UNKNOWN;
		}
		return;
	}
	int ok = name && *name;
	for (const char *c = name; ok && *c; c++)
		ok = isalnum((unsigned char)*c) || *c == '-' || *c == '_';
	if (!ok) {
		mv_error(ps->rep, here(ps), "[%s]: expected [Partition NAME] with a name of letters, digits, - and _", text);
		ps->sec = SEC_UNKNOWN;
		return;
	}
	/* A partition named again (say, by an including profile) is the same
	 * partition: its keys override. */
	for (size_t i = 0; i < ps->p->partitions.n; i++)
		if (strcmp(ps->p->partitions.v[i].name, name) == 0) {
			ps->part = &ps->p->partitions.v[i];
			return;
		}
	ps->part = MV_PUSH(&ps->p->arena, ps->p->partitions);
	ps->part->name = mv_strdup(&ps->p->arena, name);
	ps->part->at = here(ps);
	ps->part->grow_fs.v = -1;
	ps->part->bootable.v = -1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parser *ps = user;
	if (strcmp(section, ps->section_text) != 0 || ps->sec == SEC_NONE)
		start_section(ps, section);
	if (ps->sec == SEC_UNKNOWN)
		return 1; /* reported once, at the section header */
	if (!name) /* section header only (libinih's INI_CALL_HANDLER_ON_NEW_SECTION) */
		return 1;

	if (ps->continuation && ps->last_key && strcmp(ps->last_key, name) == 0) {
		/* Only free text continues on indented lines; a size, a choice
		 * or a pin split over lines is a mistake, not a longer value. */
		if (!ps->last_str || !ps->last_str->v || ps->last_choices) {
			mv_error(ps->rep, here(ps), "%s=: this key takes a single line; the indented line \"%s\" continues nothing",
				 name, value);
			return 1;
		}
		ps->last_str->v = mv_printf(&ps->p->arena, "%s %s", ps->last_str->v, value);
		return 1;
	}
	ps->last_key = NULL;
	const struct key *k = NULL;
	for (const struct key *c = ps->keys; c->name; c++)
		if (strcmp(c->name, name) == 0)
			k = c;
	if (!k) {
		unknown_key(ps, name);
		return 1;
	}
	if (*value == '\0' && k->kind != K_STR) {
		mv_error(ps->rep, here(ps), "%s=: empty value", name);
		return 1;
	}
	ps->last_key = k->name;
	ps->last_choices = k->choices != NULL;
	assign(ps, k, value);
	return 1;
}

static int parse_file(struct mv_profile *p, struct mv_report *rep, const char *file,
		      struct mv_where from, char **stack, int depth)
{
	struct parser ps = {.p = p, .rep = rep, .stack = stack, .depth = depth};
	ps.file = mv_strdup(&p->arena, file);
	const char *slash = strrchr(file, '/');
	ps.dir = slash ? mv_strndup(&p->arena, file, (size_t)(slash - file)) : ".";
	if (slash == file)
		ps.dir = "/";

	ps.f = fopen(file, "r");
	if (!ps.f) {
		if (from.file)
			mv_error(rep, from, "Include=: cannot open %s: %s", file, strerror(errno));
		else
			mv_error(rep, (struct mv_where){file, 0}, "cannot open the profile: %s", strerror(errno));
		return -1;
	}
	char real[PATH_MAX];
	if (!realpath(file, real))
		snprintf(real, sizeof(real), "%s", file);
	for (int i = 0; i < depth; i++)
		if (strcmp(stack[i], real) == 0) {
			mv_error(rep, from, "Include=: %s includes itself (through the chain of includes)", file);
			fclose(ps.f);
			return -1;
		}
	stack[depth] = mv_strdup(&p->arena, real);

	int rc = ini_parse_stream(reader, &ps, handler, &ps);
	if (rc > 0)
		mv_error(rep, (struct mv_where){ps.file, rc},
			 "expected KEY=VALUE, a [Section] header, or a comment starting with # or ;");
	else if (rc < 0)
		mv_error(rep, (struct mv_where){ps.file, 0}, "cannot read the profile");
	fclose(ps.f);
	return rc == 0 ? 0 : -1;
}

enum mv_source_kind mv_source_kind(const char *location)
{
	if (strncmp(location, "root:", 5) == 0)
		return MV_SRC_ROOT;
	if (strncmp(location, "host:", 5) == 0)
		return MV_SRC_HOST;
	if (strncmp(location, "file://", 7) == 0)
		return MV_SRC_FILE_URL;
	if (strncmp(location, "http://", 7) == 0 || strncmp(location, "https://", 8) == 0)
		return MV_SRC_HTTP;
	return MV_SRC_LOCAL;
}

const struct mv_partition *mv_profile_partition(const struct mv_profile *p, const char *name)
{
	for (size_t i = 0; i < p->partitions.n; i++)
		if (strcmp(p->partitions.v[i].name, name) == 0)
			return &p->partitions.v[i];
	return NULL;
}

/* root: (inside the userland) suits what a userland carries: kernels,
 * loaders, DTBs; host: only the boot loader binary. */
enum { ALLOW_ROOT = 1, ALLOW_HOST = 2 };

static void check_source(struct mv_report *rep, const struct mv_source *s, const char *key, int allowed)
{
	if (!s->location.v)
		return;
	enum mv_source_kind kind = mv_source_kind(s->location.v);
	if (kind == MV_SRC_ROOT || kind == MV_SRC_HOST) {
		const char *prefix = kind == MV_SRC_ROOT ? "root" : "host";
		if (!(allowed & (kind == MV_SRC_ROOT ? ALLOW_ROOT : ALLOW_HOST)))
			mv_error(rep, s->location.at, "%s=%s: %s: paths cannot be used for %s=", key, s->location.v, prefix, key);
		else if (s->location.v[5] != '/')
			mv_error(rep, s->location.at, "%s=%s: expected %s:/absolute/path", key, s->location.v, prefix);
		else if (s->sha256.v)
			mv_error(rep, s->sha256.at, "SHA256=: %s=%s is not downloaded; remove the pin", key, s->location.v);
	}
	for (size_t i = 0; i < s->mirrors.n; i++)
		if (mv_source_kind(s->mirrors.v[i].v) != MV_SRC_HTTP)
			mv_error(rep, s->mirrors.v[i].at, "Mirror=%s: expected an http:// or https:// URL", s->mirrors.v[i].v);
}

/* Checks that need the whole profile (after every include). */
static void check(struct mv_profile *p, struct mv_report *rep)
{
	struct mv_where top = {p->file, 0};
	if (!p->name.v || !*p->name.v)
		mv_error(rep, top, "[Profile] Name= is required");
	if (!p->architecture.v)
		mv_error(rep, top, "[Profile] Architecture= is required (x86_64 or aarch64)");
	else if (mv_arch_parse(p->architecture.v, &p->arch) < 0)
		mv_error(rep, p->architecture.at, "Architecture=%s: expected x86_64 or aarch64", p->architecture.v);

	if (p->table.v && p->partitions.n == 0)
		mv_error(rep, p->table.at, "Table=%s: the profile has no [Partition NAME] sections", p->table.v);

	for (size_t i = 0; i < p->partitions.n; i++) {
		const struct mv_partition *part = &p->partitions.v[i];
		if (!part->type.v)
			mv_error(rep, part->at, "[Partition %s]: Type= is required (esp, root, swap, linux-generic, ... or a GUID)", part->name);
		if (part->size.kind == MV_SIZE_UNSET && !part->size.at.line)
			mv_error(rep, part->at, "[Partition %s]: Size= is required (such as 512M, 4G, Grow or auto)", part->name);
	}

	for (size_t i = 0; i < p->userland.n; i++)
		check_source(rep, &p->userland.v[i], "Source", 0);
	check_source(rep, &p->nix_tarball, "Tarball", 0);
	check_source(rep, &p->nix_closure, "Closure", 0);
	check_source(rep, &p->loader, "Loader", ALLOW_ROOT | ALLOW_HOST);
	check_source(rep, &p->kernel, "Kernel", ALLOW_ROOT);
	check_source(rep, &p->initrd, "Initrd", ALLOW_ROOT);
	check_source(rep, &p->firmware, "Firmware", ALLOW_ROOT);
	check_source(rep, &p->devicetree, "DeviceTree", ALLOW_ROOT);

	if (p->into.v && p->partitions.n && !mv_profile_partition(p, p->into.v))
		mv_error(rep, p->into.at, "Into=%s: no [Partition %s] in the profile", p->into.v, p->into.v);
	for (size_t i = 0; i < p->copies.n; i++) {
		const struct mv_copy *c = &p->copies.v[i];
		if (c->dest_part && strcmp(c->dest_part, "root") != 0 && !mv_profile_partition(p, c->dest_part))
			mv_error(rep, c->at, "Copy=: destination %s:%s names no partition (use root: or a [Partition NAME])",
				 c->dest_part, c->dest_path);
	}

	const char *mode = p->handoff_mode.v;
	if (mode && strcmp(mode, "none") != 0 && (!p->handoff_command.v || !*p->handoff_command.v))
		mv_error(rep, p->handoff_mode.at, "Mode=%s: [Handoff] Command= is required to hand off", mode);
	mv_customise_check(p, rep);
	if (p->timeout.v) {
		char *end;
		long t = strtol(p->timeout.v, &end, 10);
		if (*end || end == p->timeout.v || t < 0 || t > 3600)
			mv_error(rep, p->timeout.at, "Timeout=%s: expected seconds from 0 to 3600", p->timeout.v);
	}
}

/* A command-line key, through the same handler as a profile line. */
static void apply_set(struct mv_profile *p, struct mv_report *rep, const struct mv_set *set)
{
	struct parser ps = {.p = p, .rep = rep, .file = set->origin, .dir = "."};
	if (strcmp(set->key, "Include") == 0)
		mv_error(rep, here(&ps), "Include= belongs in a profile file, not on the command line");
	else
		handler(&ps, set->section, set->key, set->value);
}

struct mv_profile *mv_profile_load(const char *file, struct mv_report *rep)
{
	return mv_profile_load_with(file, NULL, 0, rep);
}

struct mv_profile *mv_profile_load_with(const char *file, const struct mv_set *sets, size_t n_sets,
					struct mv_report *rep)
{
	struct mv_arena a = {0};
	struct mv_profile *p = mv_alloc(&a, sizeof(*p));
	p->arena = a;
	p->file = mv_strdup(&p->arena, file);
	char *stack[MAX_INCLUDE_DEPTH];
	unsigned before = rep->errors;

	parse_file(p, rep, file, (struct mv_where){NULL, 0}, stack, 0);
	for (size_t i = 0; i < n_sets && rep->errors == before; i++)
		apply_set(p, rep, &sets[i]);
	if (rep->errors == before)
		check(p, rep);
	if (rep->errors > before) {
		mv_profile_free(p);
		return NULL;
	}
	return p;
}

void mv_profile_free(struct mv_profile *p)
{
	if (!p)
		return;
	struct mv_arena a = p->arena;
	mv_arena_free(&a);
}
