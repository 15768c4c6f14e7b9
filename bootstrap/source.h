/* source: one way to read any source a plan names. A local file or
 * directory, file://, http:// or https:// (libcurl). Remote bytes are used
 * only after their SHA-256 matches the profile's pin (DESIGN.md, "Errors
 * and safety"): they are downloaded into the cache (cache.h), verified,
 * and only then named by their hash.
 *
 * Downloads stream through libcurl's write callback into a partial file,
 * hashed as the bytes arrive, so memory stays bounded whatever the size.
 * An interrupted download resumes with an HTTP Range request from the
 * partial file's size (a server answering 200 instead of 206 restarts it
 * from zero). Transient failures (connection errors, timeouts, stalls,
 * 5xx, 408, 429) are retried on the same URL with exponential backoff;
 * other 4xx answers and wrong bytes move on to the next URL: the location,
 * then each Mirror= in order.
 *
 * Tunables read from the environment, for tests and slow links:
 *   MICROVISOR_RETRY_DELAY_MS  first retry delay, doubled per retry (1000)
 *   MICROVISOR_RETRIES         tries per URL (5)
 *   MICROVISOR_STALL_SECONDS   a transfer below 1 KiB/s for this long is
 *                              a stall, retried like a dropped connection (30)
 */
#ifndef MV_SOURCE_H
#define MV_SOURCE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "plan.h"

struct mv_fetch_options {
	const char *cache_dir; /* NULL: $XDG_CACHE_HOME/microvisor, else ~/.cache/microvisor */
	int offline;           /* the cache only: a missing entry is an error naming the source */
	int quiet;             /* no progress, no retry notes */
	const char *ca_file;   /* NULL: the system bundle, probed (mv_ca_bundle) */
	const char *dns;       /* --dns servers (dns.h), NULL: the system's, else fallbacks */
	int allow_unpinned;    /* accept remote sources without SHA256= */
	FILE *progress;        /* NULL = stderr unless quiet */
	int reverify;          /* hash a cache entry again before trusting it
			        * (fetch does; a corrupt entry is removed and
			        * downloaded again) */
};

enum mv_fetched {
	MV_FETCHED_LOCAL,      /* a local file or directory, not pinned: used as it is */
	MV_FETCHED_VERIFIED,   /* a local file whose hash matched its pin */
	MV_FETCHED_CACHED,     /* already in the cache */
	MV_FETCHED_DOWNLOADED, /* downloaded (and verified, when pinned) just now */
};
const char *mv_fetched_name(enum mv_fetched how);

struct mv_fetch_result {
	enum mv_fetched how;
	char sha256[65];       /* the bytes' hash; "" for an unpinned local source */
	uint64_t bytes;        /* downloads: the entry's size */
	const char *url;       /* downloads: the URL that served it (the location or a mirror) */
};

/* A local path holding the source's verified bytes: for local and file://
 * sources the file itself (verified against SHA256= when the profile pins
 * it); for http(s) sources the cache entry, downloaded first when missing.
 * Returns 0, or -1 with err naming the source and the reason (both hashes
 * on a mismatch). */
int mv_source_get(const struct mv_fetch_options *o, const struct mv_plan_source *src, char *path,
		  size_t len, char *err, size_t errlen);

/* mv_source_get, also telling how the bytes were found (res may be NULL).
 * An unpinned download (allow_unpinned) is hashed, cached under its hash,
 * and the hash is in res->sha256 so the caller can print a pin. */
int mv_source_fetch(const struct mv_fetch_options *o, const struct mv_plan_source *src,
		    struct mv_fetch_result *res, char *path, size_t len, char *err, size_t errlen);

/* The CA bundle TLS will trust: ca_file when given (it must be readable),
 * else $SSL_CERT_FILE, else the first readable of
 * /etc/ssl/certs/ca-certificates.crt, /etc/pki/tls/certs/ca-bundle.crt,
 * /etc/ssl/cert.pem and Termux's $PREFIX/etc/tls/cert.pem. NULL when none
 * is found (or ca_file is unreadable): TLS then fails closed, since the
 * static build has no bundle of its own. */
const char *mv_ca_bundle(const char *ca_file, char *buf, size_t len);

/* The "nameserver" addresses of a resolv.conf, comma-separated as
 * CURLOPT_DNS_SERVERS takes them; -1 when there are none. Where the
 * system has none, downloads use Termux's $PREFIX/etc/resolv.conf (dns.h). */
int mv_resolv_nameservers(FILE *f, char *out, size_t len);

/* What to do after one HTTP attempt, from libcurl's result and the HTTP
 * status (0 when there was no response). Pure, for tests. */
enum mv_attempt {
	MV_ATTEMPT_DONE,     /* the body arrived */
	MV_ATTEMPT_RETRY,    /* transient: the same URL again, after a delay */
	MV_ATTEMPT_NEXT_URL, /* this URL will not serve it: try the next mirror */
};
enum mv_attempt mv_attempt_classify(int curl_code, long http_status);

/* The delay before retry number `retry` (1, 2, ...): base_ms doubled per
 * retry, capped at 30 s. */
unsigned mv_retry_delay_ms(unsigned base_ms, unsigned retry);

#endif
