#include "arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mv_arena_chunk {
	struct mv_arena_chunk *next;
	max_align_t data[];
};

static void *checked(void *p)
{
	if (!p) {
		fputs("microvisor: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

void *mv_alloc(struct mv_arena *a, size_t size)
{
	struct mv_arena_chunk *c = checked(calloc(1, sizeof(*c) + size));
	c->next = a->head;
	a->head = c;
	return c->data;
}

char *mv_strndup(struct mv_arena *a, const char *s, size_t n)
{
	if (!s)
		return NULL;
	char *d = mv_alloc(a, n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *mv_strdup(struct mv_arena *a, const char *s)
{
	return s ? mv_strndup(a, s, strlen(s)) : NULL;
}

char *mv_vprintf(struct mv_arena *a, const char *fmt, va_list ap)
{
	va_list copy;
	va_copy(copy, ap);
	int n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		n = 0;
	char *s = mv_alloc(a, (size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

char *mv_printf(struct mv_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = mv_vprintf(a, fmt, ap);
	va_end(ap);
	return s;
}

void *mv_vec_grow(struct mv_arena *a, void *v, size_t n, size_t *cap, size_t elem)
{
	if (n < *cap)
		return v;
	size_t ncap = *cap ? *cap * 2 : 8;
	void *nv = mv_alloc(a, ncap * elem);
	if (n)
		memcpy(nv, v, n * elem);
	*cap = ncap;
	return nv;
}

void mv_arena_free(struct mv_arena *a)
{
	struct mv_arena_chunk *c = a->head;
	while (c) {
		struct mv_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
}

char *mv_shell_quote(struct mv_arena *a, const char *s)
{
	size_t n = 3;
	for (const char *c = s; *c; c++)
		n += *c == '\'' ? 4 : 1;
	char *out = mv_alloc(a, n), *o = out;
	*o++ = '\'';
	for (const char *c = s; *c; c++) {
		if (*c == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = *c;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}
