/* Profiles written to a temporary directory for a test, loaded with their
 * messages captured, so tests can assert the exact "file:line: ..." text. */
#ifndef MV_PROFILE_FIXTURE_H
#define MV_PROFILE_FIXTURE_H
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../bootstrap/profile.h"

struct fixture {
	char dir[64];
	char *messages;
	size_t messages_len;
	struct mv_report rep;
	FILE *mem;
};

static inline void fixture_open(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/mv-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	f->mem = open_memstream(&f->messages, &f->messages_len);
	f->rep.out = f->mem;
}

static inline void fixture_write(struct fixture *f, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	FILE *out = fopen(path, "w");
	ck_assert_ptr_nonnull(out);
	fputs(text, out);
	fclose(out);
}

/* Loads NAME from the fixture directory, with cwd there so messages name
 * the file as given ("x.conf:3: ..."). */
static inline struct mv_profile *fixture_load(struct fixture *f, const char *name)
{
	char cwd[512];
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(f->dir), 0);
	struct mv_profile *p = mv_profile_load(name, &f->rep);
	ck_assert_int_eq(chdir(cwd), 0);
	fflush(f->mem);
	return p;
}

static inline void fixture_close(struct fixture *f)
{
	fclose(f->mem);
	free(f->messages);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	ck_assert_int_eq(system(cmd), 0);
}

#define ck_assert_message(f, text) \
	ck_assert_msg(strstr((f)->messages, (text)) != NULL, "no \"%s\" in:\n%s", (text), (f)->messages)

#endif
