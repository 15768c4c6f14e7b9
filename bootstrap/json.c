#include "json.h"

static void indent(struct mv_json *j)
{
	fputc('\n', j->out);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->out);
}

static void quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\t': fputs("\\t", out); break;
		case '\r': fputs("\\r", out); break;
		default:
			if (*c < 0x20)
				fprintf(out, "\\u%04x", *c);
			else
				fputc(*c, out);
		}
	}
	fputc('"', out);
}

static void member(struct mv_json *j, const char *key)
{
	if (j->depth > 0 && j->count[j->depth - 1]++)
		fputc(',', j->out);
	if (j->depth > 0)
		indent(j);
	if (key) {
		quoted(j->out, key);
		fputs(": ", j->out);
	}
}

void mv_json_begin(struct mv_json *j, const char *key, char bracket)
{
	member(j, key);
	fputc(bracket, j->out);
	if (j->depth < MV_JSON_MAX_DEPTH)
		j->count[j->depth] = 0;
	j->depth++;
}

void mv_json_end(struct mv_json *j, char bracket)
{
	int had = j->depth <= MV_JSON_MAX_DEPTH && j->count[j->depth - 1];
	j->depth--;
	if (had)
		indent(j);
	fputc(bracket, j->out);
	if (j->depth == 0)
		fputc('\n', j->out);
}

void mv_json_str(struct mv_json *j, const char *key, const char *value)
{
	member(j, key);
	if (value)
		quoted(j->out, value);
	else
		fputs("null", j->out);
}

void mv_json_u64(struct mv_json *j, const char *key, uint64_t value)
{
	member(j, key);
	fprintf(j->out, "%llu", (unsigned long long)value);
}

void mv_json_bool(struct mv_json *j, const char *key, int value)
{
	member(j, key);
	fputs(value ? "true" : "false", j->out);
}
