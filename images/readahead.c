#include "readahead.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct slot {
	uint8_t *buf;
	size_t len;
	uint64_t off;
	int state; /* 0 empty, 1 full, 2 end, 3 error */
	int err;
};

struct mv_readahead {
	int fd;
	const struct mv_range *ranges;
	size_t n, chunk;
	struct slot slot[2];
	unsigned take;    /* the consumer's next slot */
	int given;        /* the consumer holds slot take-1 */
	int stop;
	pthread_mutex_t m;
	pthread_cond_t c;
	pthread_t thread;
};

/* Waits for slot i to be empty; returns 0, or -1 when told to stop. */
static int wait_empty(struct mv_readahead *r, struct slot *s)
{
	pthread_mutex_lock(&r->m);
	while (s->state != 0 && !r->stop)
		pthread_cond_wait(&r->c, &r->m);
	int stop = r->stop;
	pthread_mutex_unlock(&r->m);
	return stop ? -1 : 0;
}

static void publish(struct mv_readahead *r, struct slot *s, int state)
{
	pthread_mutex_lock(&r->m);
	s->state = state;
	pthread_cond_broadcast(&r->c);
	pthread_mutex_unlock(&r->m);
}

static void *reader(void *arg)
{
	struct mv_readahead *r = arg;
	unsigned k = 0;
	for (size_t i = 0; i < r->n; i++) {
		for (uint64_t at = r->ranges[i].off, end = at + r->ranges[i].len; at < end;) {
			struct slot *s = &r->slot[k++ & 1];
			if (wait_empty(r, s) < 0)
				return NULL;
			size_t want = end - at < r->chunk ? (size_t)(end - at) : r->chunk;
			/* Whole 4 KiB blocks, as O_DIRECT wants (the buffers have
			 * room: chunk is a multiple of 4 KiB); the rest is unused. */
			size_t ask = (want + 4095) & ~(size_t)4095;
			ssize_t got;
			while ((got = pread(r->fd, s->buf, ask, (off_t)at)) < 0 && errno == EINTR)
				;
			if (got > (ssize_t)want)
				got = (ssize_t)want;
			s->off = at;
			if (got <= 0) {
				s->err = got < 0 ? errno : EIO;
				publish(r, s, 3);
				return NULL;
			}
			s->len = (size_t)got;
			at += (uint64_t)got;
			publish(r, s, 1);
		}
	}
	struct slot *s = &r->slot[k & 1];
	if (wait_empty(r, s) == 0)
		publish(r, s, 2);
	return NULL;
}

struct mv_readahead *mv_readahead_start(int fd, const struct mv_range *ranges, size_t n, size_t chunk)
{
	struct mv_readahead *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	*r = (struct mv_readahead){.fd = fd, .ranges = ranges, .n = n, .chunk = chunk};
	for (int i = 0; i < 2; i++)
		if (posix_memalign((void **)&r->slot[i].buf, 4096, (chunk + 4095) & ~(size_t)4095) != 0)
			goto fail;
	pthread_mutex_init(&r->m, NULL);
	pthread_cond_init(&r->c, NULL);
	if (pthread_create(&r->thread, NULL, reader, r) != 0) {
		pthread_mutex_destroy(&r->m);
		pthread_cond_destroy(&r->c);
		goto fail;
	}
	return r;
fail:
	free(r->slot[0].buf);
	free(r->slot[1].buf);
	free(r);
	return NULL;
}

int mv_readahead_next(struct mv_readahead *r, const uint8_t **buf, size_t *len, uint64_t *off)
{
	pthread_mutex_lock(&r->m);
	if (r->given) { /* the previous chunk is done with */
		r->slot[(r->take - 1) & 1].state = 0;
		r->given = 0;
		pthread_cond_broadcast(&r->c);
	}
	struct slot *s = &r->slot[r->take & 1];
	while (s->state == 0)
		pthread_cond_wait(&r->c, &r->m);
	int state = s->state;
	pthread_mutex_unlock(&r->m);
	if (state == 2)
		return 0;
	*off = s->off;
	if (state == 3) {
		errno = s->err;
		return -1;
	}
	*buf = s->buf;
	*len = s->len;
	r->take++;
	r->given = 1;
	return 1;
}

void mv_readahead_stop(struct mv_readahead *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->m);
	r->stop = 1;
	pthread_cond_broadcast(&r->c);
	pthread_mutex_unlock(&r->m);
	pthread_join(r->thread, NULL);
	pthread_mutex_destroy(&r->m);
	pthread_cond_destroy(&r->c);
	free(r->slot[0].buf);
	free(r->slot[1].buf);
	free(r);
}
