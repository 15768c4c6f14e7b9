/* customise_int: what the customise module's files share (customise.h is
 * the contract). The generated text files are listed once
 * (customise_files.c): the plan shows the list with secrets masked, the
 * run writes it, so what plan prints is what lands. */
#ifndef MV_CUSTOMISE_INT_H
#define MV_CUSTOMISE_INT_H
#include <stdint.h>

#include "customise.h"

/* When a file is written: decided by what the userland has. */
enum mv_cust_when {
	MV_CUST_ALWAYS,
	MV_CUST_NM,        /* the userland has NetworkManager */
	MV_CUST_NO_NM,     /* it has not: systemd-networkd's files */
	MV_CUST_IF_EXISTS, /* the userland has the file already (Debian's extras) */
};
#define MV_CUST_NM_BINARY "/usr/sbin/NetworkManager"

struct mv_cust_file {
	const char *path;
	const char *text;
	uint32_t mode;
	enum mv_cust_when when;
	const char *why;   /* the action, in a few words */
};

/* Calls fn for every generated text file, with secrets replaced by a mark
 * when masked (plan) or derived (run). Returns fn's first non-zero, or
 * MV_CUST_DERIVE_FAILED when crypt(3) or PBKDF2 failed. */
#define MV_CUST_DERIVE_FAILED (-1000)
int mv_cust_files(const struct mv_plan *plan, int masked, struct mv_arena *a,
		  int (*fn)(void *ctx, const struct mv_cust_file *f), void *ctx);

const char *mv_cust_when_rule(enum mv_cust_when w);

/* Accounts, keys and sshd (customise_users.c). */
struct mv_cust_run {
	const struct mv_plan *plan;
	const struct mv_custom *c;
	struct mv_fs *fs;
	int64_t t;
	struct mv_arena *a;
	char *err;
	size_t errlen;
};
int mv_cust_users(struct mv_cust_run *r);
/* systemctl enable UNIT: found under the userland's unit directories, its
 * [Install] WantedBy=/RequiredBy= and Alias= linked in /etc/systemd/system.
 * instance: for a template (wpa_supplicant@.service), else NULL. Returns 1
 * when enabled, 0 when the userland has no such unit, -1 on error. */
int mv_cust_enable(struct mv_cust_run *r, const char *unit, const char *instance);
int mv_cust_fail(struct mv_cust_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define MV_CUST_MASK "<masked>"
#define MV_CUST_KEYGEN_UNIT "microvisor-ssh-keygen.service"
extern const char mv_cust_keygen_unit[];

#endif
