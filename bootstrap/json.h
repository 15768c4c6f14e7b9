/* json: a small streaming writer, enough for `--json` documents. Keys are
 * given for object members and NULL for array elements; commas and escapes
 * are the writer's business. */
#ifndef MV_JSON_H
#define MV_JSON_H
#include <stdint.h>
#include <stdio.h>

#define MV_JSON_MAX_DEPTH 16

struct mv_json {
	FILE *out;
	int depth;
	int count[MV_JSON_MAX_DEPTH];
};

void mv_json_begin(struct mv_json *j, const char *key, char bracket); /* '{' or '[' */
void mv_json_end(struct mv_json *j, char bracket);
void mv_json_str(struct mv_json *j, const char *key, const char *value); /* NULL: null */
void mv_json_u64(struct mv_json *j, const char *key, uint64_t value);
void mv_json_bool(struct mv_json *j, const char *key, int value);

#endif
