#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "seed.h"

int mv_cache_dir(const char *dir, char *out, size_t len, char *err, size_t errlen)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;
	if (dir && *dir)
		n = snprintf(out, len, "%s", dir);
	else if (xdg && xdg[0] == '/')
		n = snprintf(out, len, "%s/microvisor", xdg);
	else if (home && *home)
		n = snprintf(out, len, "%s/.cache/microvisor", home);
	else {
		snprintf(err, errlen, "no cache directory: neither XDG_CACHE_HOME nor HOME is set; pass --cache-dir DIR");
		return -1;
	}
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "the cache directory's name is too long");
		return -1;
	}
	return 0;
}

int mv_sha256_hex_valid(const char *hex)
{
	if (!hex || strlen(hex) != 64)
		return 0;
	for (const char *c = hex; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return 0;
	return 1;
}

int mv_cache_entry(const char *cache, const char *hex, char *out, size_t len)
{
	if (!mv_sha256_hex_valid(hex))
		return -1;
	int n = snprintf(out, len, "%s/sha256/%s", cache, hex);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int mv_cache_partial(const char *cache, const char *key, char *out, size_t len)
{
	const char *hex = strncmp(key, "url-", 4) == 0 ? key + 4 : key;
	if (!mv_sha256_hex_valid(hex))
		return -1;
	int n = snprintf(out, len, "%s/partial/%s.part", cache, key);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

void mv_cache_url_key(const char *url, char out[69])
{
	uint8_t d[32];
	mv_sha256(url, strlen(url), d);
	memcpy(out, "url-", 4);
	mv_hex(d, sizeof(d), out + 4);
}

/* mkdir that accepts an existing directory. */
static int make_dir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST) {
		struct stat st;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		if (errno == EEXIST)
			errno = ENOTDIR;
	}
	snprintf(err, errlen, "cannot create the cache directory %s: %s", path, strerror(errno));
	return -1;
}

int mv_cache_prepare(const char *cache, char *err, size_t errlen)
{
	char path[4096];
	/* The cache's parent ($HOME/.cache) may not exist yet: create each
	 * component of the path in turn. */
	size_t n = strlen(cache);
	if (n + sizeof("/partial") > sizeof(path)) {
		snprintf(err, errlen, "the cache directory's name is too long");
		return -1;
	}
	memcpy(path, cache, n + 1);
	for (size_t i = 1; i < n; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		int rc = make_dir(path, err, errlen);
		path[i] = '/';
		if (rc < 0)
			return -1;
	}
	if (make_dir(cache, err, errlen) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/sha256", cache);
	if (make_dir(path, err, errlen) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/partial", cache);
	return make_dir(path, err, errlen);
}

int mv_sha256_fd(int fd, char hex[65])
{
	static const size_t block = 64 * 1024;
	unsigned char *buf = malloc(block);
	if (!buf)
		return -1;
	struct mv_hash sha;
	mv_hash_init(&sha);
	ssize_t got;
	while ((got = read(fd, buf, block)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		mv_hash_update(&sha, buf, (size_t)got);
	}
	int saved = errno;
	uint8_t d[32];
	mv_hash_final(&sha, d);
	free(buf);
	if (got < 0) {
		errno = saved;
		return -1;
	}
	mv_hex(d, sizeof(d), hex);
	return 0;
}

int mv_sha256_file(const char *path, char hex[65], char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file, so SHA256= cannot pin it", path);
		close(fd);
		return -1;
	}
	int rc = mv_sha256_fd(fd, hex);
	if (rc < 0)
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}
