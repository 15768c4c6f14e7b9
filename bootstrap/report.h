/* report: one message per problem, naming where it is ("file:line: ...")
 * and what to do. Problems are counted so a parse can report every mistake
 * in a profile at once and the caller decides the exit status. */
#ifndef MV_REPORT_H
#define MV_REPORT_H
#include <stdio.h>

struct mv_where {
	const char *file; /* NULL when the value came from the command line */
	int line;
};

struct mv_report {
	FILE *out;
	unsigned errors;
	unsigned warnings;
};

void mv_error(struct mv_report *r, struct mv_where at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void mv_warn(struct mv_report *r, struct mv_where at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* printf into a caller's error buffer; returns -1, for `return mv_errf(...)`. */
#include <stddef.h>
int mv_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
