/* cache: downloaded sources kept by content. An entry is named by the
 * SHA-256 of its bytes, so an entry is either absent or exactly the bytes
 * its name promises, and two profiles naming the same bytes under other
 * URLs share one entry:
 *
 *   <cache>/sha256/<64 hex digits>    verified entries, never written in place
 *   <cache>/partial/<key>.part        downloads in progress, resumable
 *
 * An entry appears only by rename(2) of a partial file whose hash was
 * checked, so a crash, a dropped connection or a wrong download never
 * leaves bad bytes under a good name. The key of a pinned download's
 * partial file is its pin (a mirror may finish what another began); an
 * unpinned one is keyed by its URL ("url-<sha256 of the URL>"). */
#ifndef MV_CACHE_H
#define MV_CACHE_H
#include <stddef.h>
#include <stdint.h>

/* The cache directory: dir when non-NULL, else $XDG_CACHE_HOME/microvisor
 * (only when absolute, as the XDG spec says), else
 * $HOME/.cache/microvisor. Returns 0, or -1 with the reason in err. */
int mv_cache_dir(const char *dir, char *out, size_t len, char *err, size_t errlen);

/* 1 when hex is 64 lower-case hex digits: the only names the cache makes,
 * so nothing else (say "../x") ever becomes a path. */
int mv_sha256_hex_valid(const char *hex);

/* <cache>/sha256/<hex>; -1 when hex is not valid or out is too short. */
int mv_cache_entry(const char *cache, const char *hex, char *out, size_t len);
/* <cache>/partial/<key>.part; key is a pin or "url-<hex>". */
int mv_cache_partial(const char *cache, const char *key, char *out, size_t len);
/* The partial-file key of an unpinned URL: "url-" and 64 hex digits. */
void mv_cache_url_key(const char *url, char out[69]);

/* Creates <cache>, <cache>/sha256 and <cache>/partial as needed. */
int mv_cache_prepare(const char *cache, char *err, size_t errlen);

/* SHA-256 of everything readable from fd (read to the end, in fixed
 * blocks) as 64 hex digits. Returns 0, or -1 with errno set. */
int mv_sha256_fd(int fd, char hex[65]);
/* The same for a file; -1 with the reason (naming path) in err. */
int mv_sha256_file(const char *path, char hex[65], char *err, size_t errlen);

#endif
