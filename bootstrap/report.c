#include "report.h"

#include <stdarg.h>

static void emit(struct mv_report *r, struct mv_where at, const char *kind,
		 const char *fmt, va_list ap)
{
	FILE *out = r->out ? r->out : stderr;
	if (at.file && at.line > 0)
		fprintf(out, "%s:%d: ", at.file, at.line);
	else if (at.file)
		fprintf(out, "%s: ", at.file);
	else
		fputs("microvisor: ", out);
	if (kind)
		fputs(kind, out);
	vfprintf(out, fmt, ap);
	fputc('\n', out);
}

void mv_error(struct mv_report *r, struct mv_where at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(r, at, NULL, fmt, ap);
	va_end(ap);
	r->errors++;
}

void mv_warn(struct mv_report *r, struct mv_where at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(r, at, "warning: ", fmt, ap);
	va_end(ap);
	r->warnings++;
}

int mv_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}
