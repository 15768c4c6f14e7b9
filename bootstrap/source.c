#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mbedtls/sha256.h>

#include "cache.h"
#include "dns.h"
#include "hash.h"
#include "seed.h"
#include "units.h"

#define CONNECT_TIMEOUT_S 30L
#define MAX_REDIRECTS 10L
#define STALL_BYTES_PER_S 1024L
#define MAX_RETRY_DELAY_MS 30000u

const char *mv_fetched_name(enum mv_fetched how)
{
	switch (how) {
	case MV_FETCHED_LOCAL: return "local";
	case MV_FETCHED_VERIFIED: return "verified";
	case MV_FETCHED_CACHED: return "cached";
	case MV_FETCHED_DOWNLOADED: return "downloaded";
	}
	return "?";
}

/* Copies text, cut short to fit: messages are built in fixed buffers. */
static void copy_text(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);
	if (!len)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- decisions (pure) ---- */

enum mv_attempt mv_attempt_classify(int curl_code, long http_status)
{
	switch (curl_code) {
	case CURLE_OK:
		/* A 3xx left over means a redirect without a Location. */
		return http_status == 0 || (http_status >= 200 && http_status < 300) ? MV_ATTEMPT_DONE
										     : MV_ATTEMPT_NEXT_URL;
	case CURLE_HTTP_RETURNED_ERROR:
		return http_status == 408 || http_status == 429 || http_status >= 500 ? MV_ATTEMPT_RETRY
										      : MV_ATTEMPT_NEXT_URL;
	/* The network, not the URL: worth another try after a pause. */
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_AGAIN:
		return MV_ATTEMPT_RETRY;
	/* Bad URLs, TLS and certificate failures, redirect loops: another
	 * try at the same URL would fail the same way. */
	default:
		return MV_ATTEMPT_NEXT_URL;
	}
}

unsigned mv_retry_delay_ms(unsigned base_ms, unsigned retry)
{
	unsigned d = base_ms;
	for (unsigned i = 1; i < retry && d < MAX_RETRY_DELAY_MS; i++)
		d *= 2;
	return d < MAX_RETRY_DELAY_MS ? d : MAX_RETRY_DELAY_MS;
}

static int readable(const char *path)
{
	struct stat st;
	return path && *path && stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

const char *mv_ca_bundle(const char *ca_file, char *buf, size_t len)
{
	static const char *const system[] = {
		"/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Arch, Alpine */
		"/etc/pki/tls/certs/ca-bundle.crt",   /* Fedora, RHEL */
		"/etc/ssl/cert.pem",                  /* FreeBSD, macOS, Alpine */
	};
	if (ca_file)
		return readable(ca_file) ? snprintf(buf, len, "%s", ca_file), buf : NULL;
	const char *env = getenv("SSL_CERT_FILE");
	if (readable(env))
		return snprintf(buf, len, "%s", env), buf;
	for (size_t i = 0; i < sizeof(system) / sizeof(system[0]); i++)
		if (readable(system[i]))
			return snprintf(buf, len, "%s", system[i]), buf;
	const char *prefix = getenv("PREFIX"); /* Termux */
	if (prefix && *prefix) {
		snprintf(buf, len, "%s/etc/tls/cert.pem", prefix);
		if (readable(buf))
			return buf;
	}
	return NULL;
}

int mv_resolv_nameservers(FILE *f, char *out, size_t len)
{
	char line[256], addr[64];
	size_t n = 0;
	if (len)
		out[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " nameserver %63s", addr) != 1)
			continue;
		size_t a = strlen(addr);
		if (n + a + 2 > len)
			break;
		if (n)
			out[n++] = ',';
		memcpy(out + n, addr, a + 1);
		n += a;
	}
	return n ? 0 : -1;
}

/* ---- tunables ---- */

struct tunables {
	unsigned tries;
	unsigned delay_ms;
	unsigned stall_s;
};

static unsigned env_uint(const char *name, unsigned fallback, unsigned min)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return fallback;
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || *end || n > 1000000)
		return fallback;
	return n < min ? min : (unsigned)n;
}

static struct tunables read_tunables(void)
{
	return (struct tunables){
		.tries = env_uint("MICROVISOR_RETRIES", 5, 1),
		.delay_ms = env_uint("MICROVISOR_RETRY_DELAY_MS", 1000, 0),
		.stall_s = env_uint("MICROVISOR_STALL_SECONDS", 30, 1),
	};
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- progress: a line redrawn in place on a terminal, else occasional lines ---- */

struct progress {
	FILE *out;         /* NULL: silent */
	int tty;
	const char *label;
	double start, last;
	uint64_t first;    /* bytes present when the transfer began (for the rate) */
	int tenth;         /* plain lines: the last tenth printed */
	int drawn;         /* a \r line is on the screen */
};

static void progress_begin(struct progress *p, uint64_t first)
{
	p->start = p->last = now_s();
	p->first = first;
	p->tenth = -1;
}

static void format_eta(double s, char *buf, size_t len)
{
	unsigned long t = s > 359999 ? 359999 : (unsigned long)s;
	if (t >= 3600)
		snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%lu:%02lu", t / 60, t % 60);
}

static void progress_draw(struct progress *p, uint64_t pos, int64_t total, double now)
{
	char have[32], all[32] = "?", rate_text[32], eta[32] = "?";
	double elapsed = now - p->start;
	double rate = elapsed > 0 && pos > p->first ? (double)(pos - p->first) / elapsed : 0;
	mv_human_size(pos, have, sizeof(have));
	mv_human_size((uint64_t)rate, rate_text, sizeof(rate_text));
	if (total > 0) {
		mv_human_size((uint64_t)total, all, sizeof(all));
		if (rate > 0 && (uint64_t)total >= pos)
			format_eta((double)((uint64_t)total - pos) / rate, eta, sizeof(eta));
	}
	char line[160];
	snprintf(line, sizeof(line), "%s: %s of %s, %s/s, ETA %s", p->label, have, all, rate_text, eta);
	fprintf(p->out, "\r%-72s", line);
	fflush(p->out);
	p->drawn = 1;
}

static void progress_plain(struct progress *p, uint64_t pos, int64_t total, int tenth)
{
	char have[32], all[32];
	mv_human_size(pos, have, sizeof(have));
	if (total > 0)
		fprintf(p->out, "%s: %d%% (%s of %s)\n", p->label, tenth * 10, have,
			mv_human_size((uint64_t)total, all, sizeof(all)));
	else
		fprintf(p->out, "%s: %s so far\n", p->label, have);
	fflush(p->out);
}

/* Terminals get at most five redraws a second; logs get a line per tenth
 * of the file, or every five seconds when the size is unknown or slow. */
static void progress_update(struct progress *p, uint64_t pos, int64_t total)
{
	if (!p->out)
		return;
	double now = now_s();
	if (p->tty) {
		if (now - p->last >= 0.2) {
			progress_draw(p, pos, total, now);
			p->last = now;
		}
		return;
	}
	int tenth = total > 0 ? (int)(pos * 10 / (uint64_t)total) : -1;
	if ((total > 0 && tenth > p->tenth && pos > 0) || now - p->last >= 5) {
		progress_plain(p, pos, total, tenth);
		p->tenth = tenth;
		p->last = now;
	}
}

static void progress_end(struct progress *p, uint64_t pos, int64_t total)
{
	if (p->out && p->tty && p->drawn) {
		progress_draw(p, pos, total, now_s());
		fputc('\n', p->out);
		p->drawn = 0;
	}
}

/* A note (a retry, a mirror given up) on the progress stream, on its own line. */
static void note(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct progress *p, const char *fmt, ...)
{
	if (!p->out)
		return;
	if (p->drawn) {
		fputc('\n', p->out);
		p->drawn = 0;
	}
	va_list ap;
	va_start(ap, fmt);
	fprintf(p->out, "%s: ", p->label);
	vfprintf(p->out, fmt, ap);
	fputc('\n', p->out);
	va_end(ap);
	fflush(p->out);
}

/* ---- one download: a partial file, its hash, and the attempts ---- */

struct download {
	const struct mv_plan_source *src;
	const char *pin;           /* NULL: unpinned */
	const char *ca;            /* CA bundle, NULL: libcurl's default */
	const char *dns;           /* CURLOPT_DNS_SERVERS, NULL: the system's (dns.h) */
	int dns_explicit;          /* dns came from --dns: say when it cannot be used */
	struct tunables tun;
	struct progress prog;
	char partial[PATH_MAX];
	int fd;
	struct mv_hash sha;          /* over the partial file's bytes [0, pos) */
	uint64_t pos;
	int resumed;               /* some bytes came from an earlier transfer */

	/* the current attempt */
	CURL *curl;
	uint64_t offset;           /* bytes present when it began */
	int64_t range_start;       /* Content-Range start of the response, -1: none */
	int64_t content_length;    /* -1: unknown */
	int64_t total;             /* the whole file's size, -1: unknown */
	int started;               /* the first body byte decided append vs restart */
	int restart;               /* the partial file must start again from zero */
	int local_errno;           /* writing the partial file failed: fatal */

	char why[PATH_MAX + 2048];  /* what went wrong, URL by URL */
};

static void why_add(struct download *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why_add(struct download *d, const char *fmt, ...)
{
	size_t n = strlen(d->why);
	if (n && n + 2 < sizeof(d->why)) {
		memcpy(d->why + n, "; ", 3);
		n += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->why + n, sizeof(d->why) - n, fmt, ap);
	va_end(ap);
}

static void hash_reset(struct download *d)
{
	mv_hash_init(&d->sha);
}

/* The hash of the bytes so far, leaving the running hash untouched. */
static void hash_current(struct download *d, char hex[65])
{
	struct mv_hash c = d->sha; /* plain data: a copy is a clone */
	uint8_t digest[32];
	mv_hash_final(&c, digest);
	mv_hex(digest, sizeof(digest), hex);
}

static int partial_truncate(struct download *d)
{
	hash_reset(d);
	d->pos = 0;
	d->resumed = 0;
	if (ftruncate(d->fd, 0) < 0) {
		d->local_errno = errno;
		return -1;
	}
	return 0;
}

/* Resuming continues the hash: the bytes already in the partial file are
 * hashed first, then the new ones as they arrive. */
static int partial_hash_existing(struct download *d)
{
	if (lseek(d->fd, 0, SEEK_SET) < 0)
		return -1;
	unsigned char buf[16384];
	ssize_t got;
	hash_reset(d);
	d->pos = 0;
	while ((got = read(d->fd, buf, sizeof(buf))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -1;
		mv_hash_update(&d->sha, buf, (size_t)got);
		d->pos += (uint64_t)got;
	}
	d->resumed = d->pos > 0;
	return 0;
}

/* Opens and locks the partial file, so two microvisor processes never
 * write the same one; if the other one renamed or removed it meanwhile,
 * the lock is on a stale inode and the open starts again. */
static int partial_open_locked(struct download *d)
{
	for (;;) {
		int fd = open(d->partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return -1;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			note(&d->prog, "waiting for another microvisor downloading into %s", d->partial);
			if (flock(fd, LOCK_EX) < 0) {
				close(fd);
				return -1;
			}
		}
		struct stat a, b;
		if (fstat(fd, &a) == 0 && stat(d->partial, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			d->fd = fd;
			return 0;
		}
		close(fd);
	}
}

static int write_all(int fd, const char *p, size_t len, uint64_t at)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
		at += (uint64_t)n;
	}
	return 0;
}

/* ---- libcurl callbacks ---- */

static int64_t parse_i64(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	return errno || end == s || v < 0 ? -1 : (int64_t)v;
}

/* Headers of every response in a redirect chain arrive here: each status
 * line starts afresh. */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct download *d = arg;
	size_t len = size * n;
	char line[256];
	size_t l = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
	memcpy(line, data, l);
	line[l] = '\0';
	if (strncmp(line, "HTTP/", 5) == 0) {
		d->range_start = -1;
		d->content_length = -1;
		d->total = -1;
	} else if (strncasecmp(line, "Content-Length:", 15) == 0) {
		d->content_length = parse_i64(line + 15);
	} else if (strncasecmp(line, "Content-Range:", 14) == 0) {
		const char *v = line + 14;
		while (*v == ' ')
			v++;
		if (strncasecmp(v, "bytes ", 6) == 0)
			d->range_start = parse_i64(v + 6);
		const char *slash = strchr(v, '/');
		if (slash && slash[1] != '*')
			d->total = parse_i64(slash + 1);
	}
	return len;
}

/* The first body byte (or the end of an empty body) decides: a 206 for
 * the range asked continues the partial file; a 200 is the whole file,
 * so the partial file starts again from zero. */
static int begin_body(struct download *d)
{
	long code = 0;
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &code);
	d->started = 1;
	if (code == 206) {
		if (d->range_start != (int64_t)d->offset) {
			d->restart = 1; /* not the bytes asked for: cannot be appended */
			return -1;
		}
		if (d->total < 0 && d->content_length >= 0)
			d->total = (int64_t)d->offset + d->content_length;
		d->resumed |= d->offset > 0;
		return 0;
	}
	if (d->offset > 0) {
		note(&d->prog, "the server ignored the range request; starting again from zero");
		if (partial_truncate(d) < 0)
			return -1;
		d->offset = 0;
		progress_begin(&d->prog, 0);
	}
	d->total = d->content_length;
	return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct download *d = arg;
	size_t len = size * n;
	if (!d->started && begin_body(d) < 0)
		return 0;
	if (write_all(d->fd, data, len, d->pos) < 0) {
		d->local_errno = errno;
		return 0;
	}
	mv_hash_update(&d->sha, (const unsigned char *)data, len);
	d->pos += len;
	return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	struct download *d = arg;
	if (d->started)
		progress_update(&d->prog, d->pos, d->total);
	return 0;
}

/* ---- attempts ---- */

static CURL *make_handle(struct download *d, const char *url, char *curl_err)
{
	CURL *c = curl_easy_init();
	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "microvisor");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	/* A stall (a connection that stays open but sends nothing) is
	 * caught here and retried like a dropped connection. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, STALL_BYTES_PER_S);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)d->tun.stall_s);
	/* Error bodies are never written into the partial file. */
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	if (d->ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, d->ca);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, d);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, d);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	/* Debian's libcurl has no c-ares and refuses the option: harmless,
	 * glibc's resolver reads /etc/resolv.conf, but an explicit --dns is
	 * then ignored, which the user must hear (once). */
	if (d->dns && curl_easy_setopt(c, CURLOPT_DNS_SERVERS, d->dns) != CURLE_OK && d->dns_explicit) {
		note(&d->prog, "--dns %s ignored: this build's libcurl cannot set DNS servers (no c-ares); "
			       "the system resolver is used (the static build honours --dns)", d->dns);
		d->dns_explicit = 0;
	}
	return c;
}

/* One request; says what to do next and, when it failed, why. */
static enum mv_attempt attempt(struct download *d, const char *url, char *why, size_t whylen)
{
	char curl_err[CURL_ERROR_SIZE] = "";
	char range[32];
	d->curl = make_handle(d, url, curl_err);
	if (!d->curl) {
		snprintf(why, whylen, "libcurl could not start a transfer");
		return MV_ATTEMPT_NEXT_URL;
	}
	d->offset = d->pos;
	d->range_start = d->content_length = d->total = -1;
	d->started = d->restart = 0;
	/* CURLOPT_RANGE, not RESUME_FROM: libcurl would fail a 200 answer
	 * itself, and a server without ranges should restart, not fail. */
	if (d->offset > 0) {
		snprintf(range, sizeof(range), "%llu-", (unsigned long long)d->offset);
		curl_easy_setopt(d->curl, CURLOPT_RANGE, range);
	}
	progress_begin(&d->prog, d->offset);
	CURLcode rc = curl_easy_perform(d->curl);
	long code = 0;
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &code);
	/* An empty body never reached on_body. */
	if (rc == CURLE_OK && code >= 200 && code < 300 && !d->started && begin_body(d) < 0 && !d->restart)
		rc = CURLE_WRITE_ERROR;
	progress_end(&d->prog, d->pos, d->total);
	curl_easy_cleanup(d->curl);
	d->curl = NULL;

	if (d->local_errno) {
		snprintf(why, whylen, "cannot write %s: %s", d->partial, strerror(d->local_errno));
		return MV_ATTEMPT_NEXT_URL;
	}
	if (d->restart || (code == 416 && d->offset > 0)) {
		snprintf(why, whylen, "HTTP %ld did not answer the range asked for", code);
		return partial_truncate(d) < 0 ? MV_ATTEMPT_NEXT_URL : MV_ATTEMPT_RETRY;
	}
	if (rc == CURLE_HTTP_RETURNED_ERROR)
		snprintf(why, whylen, "HTTP %ld", code);
	else if (rc != CURLE_OK)
		snprintf(why, whylen, "%s", *curl_err ? curl_err : curl_easy_strerror(rc));
	else if (code >= 300)
		snprintf(why, whylen, "HTTP %ld", code);
	return mv_attempt_classify(rc, code);
}

/* After a URL: done, the next URL, this URL again from zero, or give up. */
enum url_result { URL_OK, URL_NEXT, URL_AGAIN, URL_FATAL };

/* The whole body arrived: does it hash to the pin? */
static enum url_result check_hash(struct download *d, const char *url, int *retried_from_zero)
{
	char got[65];
	hash_current(d, got);
	if (!d->pin || strcmp(got, d->pin) == 0)
		return URL_OK;
	int resumed = d->resumed;
	why_add(d, "%s: wrong bytes: expected sha256 %s, got sha256 %s", url, d->pin, got);
	note(&d->prog, "%s: wrong bytes (sha256 %s, expected %s); discarded", url, got, d->pin);
	if (partial_truncate(d) < 0)
		return URL_FATAL;
	/* Bytes kept from an earlier transfer may be the wrong ones: give
	 * this URL one more chance from zero before moving on. */
	if (resumed && !*retried_from_zero) {
		*retried_from_zero = 1;
		return URL_AGAIN;
	}
	return URL_NEXT;
}

static enum url_result try_url(struct download *d, const char *url)
{
	int retried_from_zero = 0;
	char have[32];
	for (unsigned try = 1;; try++) {
		if (d->pos > 0)
			note(&d->prog, "resuming %s at %s", url, mv_human_size(d->pos, have, sizeof(have)));
		else if (try == 1)
			note(&d->prog, "downloading %s", url);
		char why[PATH_MAX + 512] = "";
		enum mv_attempt a = attempt(d, url, why, sizeof(why));
		if (d->local_errno) {
			why_add(d, "%s", why);
			return URL_FATAL;
		}
		if (a == MV_ATTEMPT_DONE) {
			enum url_result r = check_hash(d, url, &retried_from_zero);
			if (r != URL_AGAIN)
				return r;
			continue;
		}
		if (a == MV_ATTEMPT_NEXT_URL) {
			why_add(d, "%s: %s", url, why);
			note(&d->prog, "%s: %s", url, why);
			return URL_NEXT;
		}
		if (try >= d->tun.tries) {
			why_add(d, "%s: %s (gave up after %u tries)", url, why, try);
			note(&d->prog, "%s: %s; gave up after %u tries", url, why, try);
			return URL_NEXT;
		}
		unsigned ms = mv_retry_delay_ms(d->tun.delay_ms, try);
		note(&d->prog, "%s: %s; retrying in %u ms (try %u of %u)", url, why, ms, try + 1, d->tun.tries);
		sleep_ms(ms);
	}
}

/* The verified partial file becomes the cache entry, durably: an entry is
 * trusted by its name, so it must never be a torn file after a crash. */
static int commit(struct download *d, const char *cache, char *entry, size_t len, char hex[65],
		  char *err, size_t errlen)
{
	hash_current(d, hex);
	if (mv_cache_entry(cache, hex, entry, len) < 0) {
		snprintf(err, errlen, "the cache path for %s is too long", hex);
		return -1;
	}
	if (fsync(d->fd) < 0 || rename(d->partial, entry) < 0) {
		snprintf(err, errlen, "cannot move %s to %s: %s", d->partial, entry, strerror(errno));
		return -1;
	}
	return 0;
}

static int already_whole(struct download *d)
{
	if (!d->pin || d->pos == 0)
		return 0;
	char got[65];
	hash_current(d, got);
	return strcmp(got, d->pin) == 0;
}

/* Downloads src into the cache; entry receives the entry's path. */
static int download(const struct mv_fetch_options *o, const struct mv_plan_source *src, const char *cache,
		    struct mv_fetch_result *res, char *entry, size_t len, char *err, size_t errlen)
{
	char key[69], ca_buf[PATH_MAX];
	struct download d = {.src = src, .pin = src->sha256, .fd = -1, .tun = read_tunables()};
	d.prog.out = o->progress ? o->progress : o->quiet ? NULL : stderr;
	d.prog.tty = d.prog.out && isatty(fileno(d.prog.out));
	d.prog.label = src->role;
	mv_hash_init(&d.sha);
	if (!d.pin)
		mv_cache_url_key(src->location, key);
	if (mv_cache_partial(cache, d.pin ? d.pin : key, d.partial, sizeof(d.partial)) < 0) {
		snprintf(err, errlen, "the cache directory's name is too long");
		return -1;
	}
	if (strncmp(src->location, "https:", 6) == 0 || o->ca_file) {
		d.ca = mv_ca_bundle(o->ca_file, ca_buf, sizeof(ca_buf));
		if (!d.ca && o->ca_file) {
			snprintf(err, errlen, "cannot read the CA bundle %s", o->ca_file);
			return -1;
		}
		if (!d.ca)
			note(&d.prog, "no CA certificate bundle found (tried /etc/ssl/certs/ca-certificates.crt, "
				      "/etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/cert.pem, $PREFIX/etc/tls/cert.pem); "
				      "HTTPS will fail unless --ca-file names one");
	}
	char dns_buf[512];
	d.dns = mv_dns_servers(o->dns, "/etc/resolv.conf", getenv("PREFIX"), dns_buf, sizeof(dns_buf));
	d.dns_explicit = o->dns != NULL;
	if (partial_open_locked(&d) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", d.partial, strerror(errno));
		return -1;
	}

	int rc = -1;
	struct stat st;
	if (d.pin && mv_cache_entry(cache, d.pin, entry, len) == 0 && stat(entry, &st) == 0) {
		rc = 0; /* another process finished it while we waited */
		res->how = MV_FETCHED_CACHED;
		snprintf(res->sha256, sizeof(res->sha256), "%s", d.pin);
		goto out;
	}
	/* An unpinned partial file cannot be checked, so it is never resumed
	 * from an earlier run. */
	if ((d.pin ? partial_hash_existing(&d) : partial_truncate(&d)) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", d.partial, strerror(errno));
		goto out;
	}
	enum url_result r = already_whole(&d) ? URL_OK : URL_NEXT;
	const char *url = src->location;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (size_t i = 0; r == URL_NEXT && i <= src->n_mirrors; i++) {
		url = i == 0 ? src->location : src->mirrors[i - 1].v;
		r = try_url(&d, url);
	}
	curl_global_cleanup();
	if (r != URL_OK) {
		copy_text(err, errlen, d.why);
		goto out;
	}
	res->url = url;
	res->bytes = d.pos;
	res->how = MV_FETCHED_DOWNLOADED;
	rc = commit(&d, cache, entry, len, res->sha256, err, errlen);
out:
	/* An empty partial file holds nothing worth resuming; next to a
	 * finished entry, none does. */
	if ((rc < 0 && fstat(d.fd, &st) == 0 && st.st_size == 0) || (rc == 0 && res->how == MV_FETCHED_CACHED))
		unlink(d.partial);
	close(d.fd);
	return rc;
}

/* ---- sources ---- */

static int copy_path(const char *from, char *path, size_t len, char *err, size_t errlen)
{
	if ((size_t)snprintf(path, len, "%s", from) >= len) {
		snprintf(err, errlen, "the path %s is too long", from);
		return -1;
	}
	return 0;
}

static int get_local(const struct mv_plan_source *src, struct mv_fetch_result *res, char *path, size_t len,
		     char *err, size_t errlen)
{
	struct stat st;
	if (!src->path || stat(src->path, &st) < 0) {
		snprintf(err, errlen, "%s source %s: cannot find %s: %s", src->role, src->location,
			 src->path ? src->path : "(no path)", strerror(src->path ? errno : EINVAL));
		return -1;
	}
	if (src->sha256) {
		char got[65], why[PATH_MAX + 64];
		if (mv_sha256_file(src->path, got, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s source %s: %s", src->role, src->location, why);
			return -1;
		}
		if (strcmp(got, src->sha256) != 0) {
			snprintf(err, errlen, "%s source %s: wrong bytes: expected sha256 %s, got sha256 %s",
				 src->role, src->location, src->sha256, got);
			return -1;
		}
		res->how = MV_FETCHED_VERIFIED;
		memcpy(res->sha256, got, sizeof(got));
	}
	return copy_path(src->path, path, len, err, errlen);
}

/* A cache entry is trusted by its name; with reverify it is hashed again,
 * and a corrupt one is removed so it is downloaded afresh. Returns 1 when
 * the entry is there (and good). */
static int cached(const struct mv_fetch_options *o, const struct mv_plan_source *src, const char *entry)
{
	struct stat st;
	if (stat(entry, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (!o->reverify)
		return 1;
	char got[65], why[PATH_MAX + 64];
	if (mv_sha256_file(entry, got, why, sizeof(why)) == 0 && strcmp(got, src->sha256) == 0)
		return 1;
	FILE *out = o->progress ? o->progress : o->quiet ? NULL : stderr;
	if (out)
		fprintf(out, "%s: the cache entry %s is corrupt; removing it\n", src->role, entry);
	unlink(entry);
	return 0;
}

static int get_remote(const struct mv_fetch_options *o, const struct mv_plan_source *src,
		      struct mv_fetch_result *res, char *path, size_t len, char *err, size_t errlen)
{
	char cache[PATH_MAX], why[PATH_MAX + 1100];
	if (!src->sha256 && !o->allow_unpinned) {
		snprintf(err, errlen, "%s source %s: a remote source needs a SHA256= pin (or --allow-unpinned)",
			 src->role, src->location);
		return -1;
	}
	if (src->sha256 && !mv_sha256_hex_valid(src->sha256)) {
		snprintf(err, errlen, "%s source %s: SHA256=%s is not 64 lower-case hex digits", src->role,
			 src->location, src->sha256);
		return -1;
	}
	if (mv_cache_dir(o->cache_dir, cache, sizeof(cache), why, sizeof(why)) < 0)
		goto fail;
	if (src->sha256) {
		if (mv_cache_entry(cache, src->sha256, path, len) < 0) {
			snprintf(why, sizeof(why), "the cache path is too long");
			goto fail;
		}
		snprintf(res->sha256, sizeof(res->sha256), "%s", src->sha256);
		if (cached(o, src, path)) {
			res->how = MV_FETCHED_CACHED;
			return 0;
		}
	}
	if (o->offline) {
		if (src->sha256)
			snprintf(why, sizeof(why), "not in the cache %s (SHA256=%s), and --offline forbids downloading it",
				 cache, src->sha256);
		else
			snprintf(why, sizeof(why), "not pinned, so the cache %s cannot tell which entry holds it; "
						   "pin it with SHA256= to use it --offline", cache);
		goto fail;
	}
	if (mv_cache_prepare(cache, why, sizeof(why)) < 0)
		goto fail;
	if (download(o, src, cache, res, path, len, why, sizeof(why)) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s source %s: %s", src->role, src->location, why);
	return -1;
}

int mv_source_fetch(const struct mv_fetch_options *o, const struct mv_plan_source *src,
		    struct mv_fetch_result *res, char *path, size_t len, char *err, size_t errlen)
{
	struct mv_fetch_result ignored;
	if (!res)
		res = &ignored;
	memset(res, 0, sizeof(*res));
	switch (src->kind) {
	case MV_SRC_LOCAL:
	case MV_SRC_FILE_URL:
	case MV_SRC_HOST:
		return get_local(src, res, path, len, err, errlen);
	case MV_SRC_HTTP:
		return get_remote(o, src, res, path, len, err, errlen);
	case MV_SRC_ROOT:
		break;
	}
	snprintf(err, errlen, "%s source %s: comes from inside the userland, not from a download", src->role,
		 src->location);
	return -1;
}

int mv_source_get(const struct mv_fetch_options *o, const struct mv_plan_source *src, char *path,
		  size_t len, char *err, size_t errlen)
{
	return mv_source_fetch(o, src, NULL, path, len, err, errlen);
}
