/* customise: one machine's own settings, so one profile makes many
 * machines (profiles/README.md, [Customise]). The settings come from the
 * profile's [Customise] section and from command-line options, which are
 * nothing but keys set after the profile (struct mv_set): `--hostname x`
 * is `--set Customise.Hostname=x`.
 *
 * Three steps, each at its place in the program:
 *  - mv_customise_check (profile loading): every value checked, and the
 *    files named (keys, password, Wi-Fi passphrase) read, so a bad value
 *    is refused (exit 2) before anything is written;
 *  - mv_customise_plan (plan building): a step per file, where it goes,
 *    with secrets masked; what only the userland can decide (the network
 *    stack, the admin group, UIDs) is deferred with its rule;
 *  - mv_customise_apply (the run's customise stage): written into the
 *    root through the writer, as the userland expects.
 *
 * Secrets: a password is stored only as a crypt(3) SHA-512 hash. One read
 * from PasswordFile= is hashed with a salt derived from the seed
 * ("password-salt:USER"), so the same inputs still give the same image.
 * A Wi-Fi passphrase is stored only as its WPA key (PBKDF2-HMAC-SHA1, 4096
 * rounds, the SSID as salt, 256 bits), as wpa_passphrase prints it. */
#ifndef MV_CUSTOMISE_H
#define MV_CUSTOMISE_H
#include <getopt.h>
#include <stddef.h>

#include "../images/fs.h"
#include "plan.h"
#include "profile.h"
#include "seed.h"

/* The command-line options, one row each: option, [Customise] key (NULL:
 * --set, any section), argument, help. A command (image, plan, install,
 * bootstrap) takes them all by calling mv_customise_getopt_long where it
 * called getopt_long, returning 2 on MV_OPT_BAD, loading its profile with
 * mv_profile_load_with(file, g.sets.v, g.sets.n, &rep), and putting
 * MV_CUSTOMISE_HELP in its help text (cli.c). The plan's steps and the
 * run's customise stage then follow from the profile. */
#define MV_CUSTOMISE_OPTIONS(X)                                                                              \
	X("hostname", "Hostname", "NAME", "the machine's hostname (also seeds its UUIDs)")                  \
	X("user", "User", "NAME", "add this user, in the admin group (sudo or wheel)")                       \
	X("ssh-key", "SSHKeyFile", "FILE", "authorize FILE's public keys (the user's, else root's); enables sshd") \
	X("password-hash", "PasswordHash", "HASH", "the user's password as a crypt(3) SHA-512 hash ($6$...)") \
	X("password-file", "PasswordFile", "FILE", "the user's password, FILE's first line (-: ask), stored hashed")   \
	X("wifi-ssid", "WifiSSID", "SSID", "join this Wi-Fi network")                                         \
	X("wifi-psk-file", "WifiPSKFile", "FILE", "its passphrase (8-63 characters), stored as the WPA key")  \
	X("address", "Address", "IP/PREFIX", "a static address (else DHCP when a network is set)")          \
	X("gateway", "Gateway", "IP", "the default gateway of the static address")                          \
	X("dns", "DNS", "IP[,IP...]", "name servers")                                                         \
	X("timezone", "Timezone", "ZONE", "/etc/localtime, such as Europe/Berlin")                          \
	X("locale", "Locale", "LOCALE", "LANG in /etc/locale.conf, such as en_US.UTF-8")                   \
	X("keymap", "Keymap", "MAP", "KEYMAP in /etc/vconsole.conf, such as de")                            \
	X("set", NULL, "SECTION.KEY=VALUE", "set any profile key, as if written at the profile's end")

#define MV_OPT_CUSTOMISE 0x4d56 /* getopt_long's value for every row */
#define MV_OPT_BAD 0x4d57       /* a customisation option was wrong (said) */
#define MV_CUSTOMISE_HELP_(opt, key, arg, help) "  --" opt " " arg "\n                     " help "\n"
#define MV_CUSTOMISE_HELP \
	"Customisation (profiles/README.md, [Customise]):\n" MV_CUSTOMISE_OPTIONS(MV_CUSTOMISE_HELP_)

#define MV_MAX_SETS 64
struct mv_sets {
	struct mv_set v[MV_MAX_SETS];
	size_t n;
	char names[MV_MAX_SETS][2][128]; /* --set's SECTION and KEY, cut out */
};

/* Records the long option `opt` (a row's name, without "--") with arg in
 * sets. Returns 0, or -1 after printing "microvisor CMD: ..." (exit 2). */
int mv_customise_getopt(struct mv_sets *sets, const char *cmd, const char *opt, const char *arg);

#define MV_MAX_LONGOPTS 64
struct mv_cli_options {
	const char *cmd;                        /* "image", for messages */
	struct option all[MV_MAX_LONGOPTS];     /* the command's, then ours */
	struct mv_sets sets;                    /* what was given, in order */
};
/* getopt_long over the command's own long options plus the
 * customisation's: returns the command's next option as getopt_long does
 * (-1 at the end, '?' for an unknown one), having recorded every
 * customisation option in g->sets on the way, or MV_OPT_BAD. */
int mv_customise_getopt_long(struct mv_cli_options *g, int argc, char **argv, const char *shortopts,
			     const struct option *own);

/* Checks [Customise] and reads the files it names (profile loading calls
 * it); every problem is reported to rep. */
void mv_customise_check(struct mv_profile *p, struct mv_report *rep);

/* Adds the customise stage's steps to the plan, root being where the
 * userland is ("root" or the prefix). Secrets are masked. A disk without
 * a root partition cannot be customised: reported to rep. */
void mv_customise_plan(struct mv_plan *plan, const char *root, struct mv_report *rep);

/* Writes the customisation into the root. Returns 0, or -1 with err. */
int mv_customise_apply(const struct mv_plan *plan, struct mv_fs *root, char *err, size_t errlen);

/* The checks and derivations, for the module's parts and its tests. */
int mv_hostname_check(const char *name, char *why, size_t len);
int mv_username_check(const char *name, char *why, size_t len);
/* One authorized_keys line: a known key type, then its base64 blob,
 * which must decode to a key of that type. */
int mv_ssh_key_check(const char *line, char *why, size_t len);
int mv_password_hash_check(const char *hash, char *why, size_t len);
/* "ADDRESS/PREFIX" (want_prefix) or a bare address; IPv4 or IPv6. */
int mv_ip_check(const char *text, int want_prefix, char *why, size_t len);
/* crypt(3) "$6$<salt>$..." of password, the salt derived from the seed
 * and the user's name (bootstrap/sha512_crypt.h). Returns 0, or -1 when
 * out is too small. */
int mv_password_hash(const char *password, const struct mv_seed *seed, const char *user, char *out, size_t len);
/* The 256-bit WPA key of a passphrase, as 64 hex digits. */
int mv_wifi_key(const char *ssid, const char *passphrase, char out[65]);

#endif
