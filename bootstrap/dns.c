#include "dns.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "source.h"

static int addr_ok(const char *a, size_t n, int family)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	if (n == 0 || n >= sizeof(addr))
		return 0;
	memcpy(addr, a, n);
	addr[n] = '\0';
	return inet_pton(family, addr, bin) == 1;
}

static int port_ok(const char *p, size_t n)
{
	long port = 0;
	if (n == 0 || n > 5)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		port = port * 10 + (p[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

/* One entry: "v4", "v4:port", "v6" or "[v6]:port". */
static int entry_ok(const char *e, size_t n)
{
	if (n && e[0] == '[') {
		const char *close = memchr(e, ']', n);
		if (!close || !addr_ok(e + 1, (size_t)(close - e) - 1, AF_INET6))
			return 0;
		size_t rest = n - (size_t)(close + 1 - e);
		return rest == 0 || (close[1] == ':' && port_ok(close + 2, rest - 1));
	}
	const char *colon = memchr(e, ':', n);
	if (!colon)
		return addr_ok(e, n, AF_INET);
	size_t after = n - (size_t)(colon + 1 - e);
	if (memchr(colon + 1, ':', after)) /* a second colon: a bare IPv6 address */
		return addr_ok(e, n, AF_INET6);
	return addr_ok(e, (size_t)(colon - e), AF_INET) && port_ok(colon + 1, after);
}

int mv_dns_check(const char *list, char *err, size_t errlen)
{
	const char *s = list;
	if (!*s) {
		snprintf(err, errlen, "--dns: expected IP addresses such as 192.0.2.53 or 192.0.2.53:5353,2001:db8::53");
		return -1;
	}
	for (;;) {
		size_t n = strcspn(s, ",");
		if (!entry_ok(s, n)) {
			snprintf(err, errlen, "--dns %.*s: not an IP address with an optional port (give e.g. 192.0.2.53, "
				 "192.0.2.53:5353 or [2001:db8::53]:53; separate servers with commas)",
				 (int)n, s);
			return -1;
		}
		if (!s[n])
			return 0;
		s += n + 1;
	}
}

static int nameservers_of(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int rc = mv_resolv_nameservers(f, buf, len);
	fclose(f);
	return rc;
}

const char *mv_dns_servers(const char *explicit_list, const char *resolv_conf, const char *prefix, char *buf,
			   size_t len)
{
	if (explicit_list)
		return explicit_list;
	if (nameservers_of(resolv_conf, buf, len) == 0)
		return NULL;
	if (prefix && *prefix) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/etc/resolv.conf", prefix);
		if (nameservers_of(path, buf, len) == 0)
			return buf;
	}
	return MV_DNS_PUBLIC;
}
