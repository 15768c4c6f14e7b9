#include "flash_verify.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bootstrap/hash.h"
#include "../bootstrap/seed.h"
#include "../bootstrap/units.h"

#define QUEUE 64    /* items: with 4 MiB chunks, at most 256 MiB behind */
#define SAMPLE 4096u

struct sample {
	uint64_t off;
	size_t len;
	uint8_t digest[32];
};

struct vdev {
	struct mv_flash_dest *d;
	int dfd;           /* O_DIRECT, or -1: read d->fd after dropping the range */
	struct mv_hash h;  /* the current segment */
	struct mv_flash_vfail fail;
	struct sample *samples;
	size_t nsamples, cap;
	uint64_t verified;
};

struct mv_flash_verifier {
	struct vdev *v;
	size_t n, chunk;
	int64_t corrupt_at;
	int corrupt_late;
	uint8_t *buf;
	struct mv_flash_check q[QUEUE];
	size_t head, count;
	int done, stop;
	pthread_mutex_t m;
	pthread_cond_t c;
	pthread_t thread;
};

static void vfail(struct vdev *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vfail(struct vdev *v, const char *fmt, ...)
{
	if (v->fail.failed)
		return;
	v->fail.failed = 1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->fail.err, sizeof(v->fail.err), fmt, ap);
	va_end(ap);
}

/* len bytes at off from the device itself, into buf (4 KiB-aligned, at
 * least len rounded up to 4 KiB). O_DIRECT wants whole logical sectors:
 * read them, up to the device's end. */
static int read_device(struct vdev *v, uint8_t *buf, uint64_t off, size_t len)
{
	size_t want = (size_t)mv_align_up(len, SAMPLE);
	if (off + want > v->d->size)
		want = (size_t)(v->d->size - off);
	for (size_t have = 0; have < len;) {
		int fd = v->dfd >= 0 ? v->dfd : v->d->fd;
		ssize_t k = pread(fd, buf + have, want - have, (off_t)(off + have));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EINVAL && v->dfd >= 0) { /* no O_DIRECT here after all */
			close(v->dfd);
			v->dfd = -1;
			posix_fadvise(v->d->fd, (off_t)off, (off_t)want, POSIX_FADV_DONTNEED);
			continue;
		}
		if (k <= 0) {
			errno = k < 0 ? errno : EIO;
			return -1;
		}
		have += (size_t)k;
	}
	return 0;
}

static void corrupt_for_test(struct vdev *v, int64_t at)
{
	uint8_t b;
	if (pread(v->d->fd, &b, 1, at) == 1) {
		b ^= 0xff;
		if (pwrite(v->d->fd, &b, 1, at) != 1 || fsync(v->d->fd) != 0)
			vfail(v, "test corruption at byte %lld: %s", (long long)at, strerror(errno));
	}
}

static int add_sample(struct vdev *v, uint64_t off, const uint8_t *buf, size_t len)
{
	if (v->nsamples == v->cap) {
		void *p = realloc(v->samples, (v->cap = v->cap ? v->cap * 2 : 256) * sizeof(*v->samples));
		if (!p)
			return -1;
		v->samples = p;
	}
	struct sample *s = &v->samples[v->nsamples++];
	s->off = off;
	s->len = len < SAMPLE ? len : SAMPLE;
	struct mv_hash h;
	mv_hash_init(&h);
	mv_hash_update(&h, buf, s->len);
	mv_hash_final(&h, s->digest);
	return 0;
}

static void check_extent(struct mv_flash_verifier *V, struct vdev *v, const struct mv_flash_check *c)
{
	struct mv_flash_dest *d = v->d;
	/* Wait until the writeback flash started has reached the device. */
	if (sync_file_range(d->fd, (off_t)c->off, (off_t)c->len,
			    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
		vfail(v, "writing bytes %llu-%llu back to the device: %s", (unsigned long long)c->off,
		      (unsigned long long)(c->off + c->len - 1), strerror(errno));
		return;
	}
	if (V->corrupt_at >= 0 && !V->corrupt_late && (uint64_t)V->corrupt_at >= c->off && (uint64_t)V->corrupt_at < c->off + c->len)
		corrupt_for_test(v, V->corrupt_at);
	if (v->dfd < 0)
		posix_fadvise(d->fd, (off_t)c->off, (off_t)c->len, POSIX_FADV_DONTNEED);
	for (uint64_t at = c->off, end = c->off + c->len; at < end && !v->fail.failed;) {
		size_t k = end - at < V->chunk ? (size_t)(end - at) : V->chunk;
		if (read_device(v, V->buf, at, k) < 0) {
			vfail(v, "reading back at byte %llu: %s", (unsigned long long)at, strerror(errno));
			return;
		}
		mv_hash_update(&v->h, V->buf, k);
		if (add_sample(v, at, V->buf, k) < 0)
			vfail(v, "verifying: out of memory");
		at += k;
		v->verified += k;
	}
	/* Verified bytes need no cache: keep memory for the writes. */
	posix_fadvise(d->fd, (off_t)c->off, (off_t)c->len, POSIX_FADV_DONTNEED);
}

static void end_segment(struct vdev *v, const struct mv_flash_check *c)
{
	uint8_t got[32];
	char hex[65];
	mv_hash_final(&v->h, got);
	mv_hash_init(&v->h);
	mv_hex(got, sizeof(got), hex);
	if (!v->fail.failed && (c->want ? strcmp(hex, c->want) != 0 : memcmp(got, c->digest, sizeof(got)) != 0)) {
		v->fail = (struct mv_flash_vfail){.failed = 1, .mismatch = 1, .seg_off = c->seg_off, .seg_len = c->seg_len,
						  .want = c->want};
	}
}

static void *run(void *arg)
{
	struct mv_flash_verifier *V = arg;
	for (;;) {
		pthread_mutex_lock(&V->m);
		while (!V->count && !V->done && !V->stop)
			pthread_cond_wait(&V->c, &V->m);
		if (!V->count || V->stop) {
			pthread_mutex_unlock(&V->m);
			return NULL;
		}
		struct mv_flash_check c = V->q[V->head];
		pthread_mutex_unlock(&V->m);
		for (size_t i = 0; i < V->n; i++) {
			if (V->v[i].fail.failed)
				continue;
			if (c.len)
				check_extent(V, &V->v[i], &c);
			else
				end_segment(&V->v[i], &c);
		}
		pthread_mutex_lock(&V->m); /* only now: the slot was in use */
		V->head = (V->head + 1) % QUEUE;
		V->count--;
		pthread_cond_broadcast(&V->c);
		pthread_mutex_unlock(&V->m);
	}
}

struct mv_flash_verifier *mv_flash_verify_start(struct mv_flash_dest *d, size_t n, size_t chunk, int64_t corrupt_at,
					       int corrupt_late)
{
	struct mv_flash_verifier *V = calloc(1, sizeof(*V));
	if (!V)
		return NULL;
	V->n = n;
	V->chunk = chunk;
	V->corrupt_at = corrupt_at;
	V->corrupt_late = corrupt_late;
	V->v = calloc(n, sizeof(*V->v));
	if (!V->v || posix_memalign((void **)&V->buf, SAMPLE, mv_align_up(chunk, SAMPLE)) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		char self[64];
		V->v[i].d = &d[i];
		snprintf(self, sizeof(self), "/proc/self/fd/%d", d[i].fd);
		V->v[i].dfd = open(self, O_RDONLY | O_DIRECT | O_CLOEXEC);
		mv_hash_init(&V->v[i].h);
	}
	pthread_mutex_init(&V->m, NULL);
	pthread_cond_init(&V->c, NULL);
	if (pthread_create(&V->thread, NULL, run, V) == 0)
		return V;
	pthread_mutex_destroy(&V->m);
	pthread_cond_destroy(&V->c);
	for (size_t i = 0; i < n; i++)
		if (V->v[i].dfd >= 0)
			close(V->v[i].dfd);
fail:
	free(V->buf);
	free(V->v);
	free(V);
	return NULL;
}

void mv_flash_verify_push(struct mv_flash_verifier *v, const struct mv_flash_check *c)
{
	pthread_mutex_lock(&v->m);
	while (v->count == QUEUE)
		pthread_cond_wait(&v->c, &v->m);
	v->q[(v->head + v->count++) % QUEUE] = *c;
	pthread_cond_broadcast(&v->c);
	pthread_mutex_unlock(&v->m);
}

/* The samples again, now that every write is done. */
static void recheck(struct mv_flash_verifier *V, struct vdev *v)
{
	for (size_t i = 0; i < v->nsamples && !v->fail.failed; i++) {
		const struct sample *s = &v->samples[i];
		size_t len = s->len;
		if (v->dfd < 0)
			posix_fadvise(v->d->fd, (off_t)s->off, (off_t)len, POSIX_FADV_DONTNEED);
		if (read_device(v, V->buf, s->off, len) < 0) {
			vfail(v, "reading back at byte %llu: %s", (unsigned long long)s->off, strerror(errno));
			return;
		}
		struct mv_hash h;
		uint8_t got[32];
		mv_hash_init(&h);
		mv_hash_update(&h, V->buf, len);
		mv_hash_final(&h, got);
		if (memcmp(got, s->digest, sizeof(got)) != 0)
			vfail(v, "verification failed: the 4 KiB at byte %llu read back right after writing, but changed when the rest of the image was written after it: the device stores some addresses in the same place (a fake-capacity card?)",
			      (unsigned long long)s->off);
	}
}

void mv_flash_verify_finish(struct mv_flash_verifier *V, int abort, struct mv_flash_vfail *fail, uint64_t *verified)
{
	pthread_mutex_lock(&V->m);
	V->stop = abort;
	V->done = 1;
	pthread_cond_broadcast(&V->c);
	pthread_mutex_unlock(&V->m);
	pthread_join(V->thread, NULL);
	*verified = 0;
	for (size_t i = 0; i < V->n; i++) {
		struct vdev *v = &V->v[i];
		if (!abort && V->corrupt_late && V->corrupt_at >= 0 && !v->fail.failed)
			corrupt_for_test(v, V->corrupt_at);
		if (!abort)
			recheck(V, v);
		fail[i] = v->fail;
		if (v->verified > *verified)
			*verified = v->verified;
		if (v->dfd >= 0)
			close(v->dfd);
		mv_hash_final(&v->h, (uint8_t[32]){0});
		free(v->samples);
	}
	pthread_mutex_destroy(&V->m);
	pthread_cond_destroy(&V->c);
	free(V->buf);
	free(V->v);
	free(V);
}
