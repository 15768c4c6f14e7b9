/* arena: allocations that live exactly as long as one profile or one plan.
 * Everything a parse or a plan builds is freed at once, so error paths never
 * leak and no module needs its own free function per field. Out of memory is
 * fatal (the process reports it and exits 1): a bootstrapper that cannot
 * allocate a few kilobytes has nothing sensible left to do. */
#ifndef MV_ARENA_H
#define MV_ARENA_H
#include <stdarg.h>
#include <stddef.h>

struct mv_arena_chunk;
struct mv_arena {
	struct mv_arena_chunk *head;
};

void *mv_alloc(struct mv_arena *a, size_t size);          /* zeroed */
char *mv_strdup(struct mv_arena *a, const char *s);        /* NULL stays NULL */
char *mv_strndup(struct mv_arena *a, const char *s, size_t n);
char *mv_printf(struct mv_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *mv_vprintf(struct mv_arena *a, const char *fmt, va_list ap);
void mv_arena_free(struct mv_arena *a);
/* s in single quotes for sh (' becomes '\''): one word, whatever it holds. */
char *mv_shell_quote(struct mv_arena *a, const char *s);

/* Growable arrays kept in an arena: MV_VEC(T) v; MV_PUSH(arena, v) returns a
 * pointer to a new zeroed slot. Old storage stays in the arena until it is
 * freed; vectors here hold tens of entries, so the waste is bounded. */
#define MV_VEC(T) struct { T *v; size_t n, cap; }
void *mv_vec_grow(struct mv_arena *a, void *v, size_t n, size_t *cap, size_t elem);
#define MV_PUSH(arena, vec)                                                   \
	((vec).v = mv_vec_grow((arena), (vec).v, (vec).n, &(vec).cap,          \
			       sizeof(*(vec).v)),                              \
	 &(vec).v[(vec).n++])

#endif
