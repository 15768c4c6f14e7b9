/* Running outside tools from unit tests: mv_sh("fsck.fat -n %s", img)
 * fails the test (naming the command) unless the command exits 0. */
#ifndef MV_TEST_SHELL_H
#define MV_TEST_SHELL_H
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void mv_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void mv_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

#endif
