/* dns: which DNS servers downloads ask, where the system gives none.
 *
 * musl reads only /etc/resolv.conf, and Android has none (it then asks
 * 127.0.0.1, where nothing answers). The static build's libcurl resolves
 * with c-ares, whose servers CURLOPT_DNS_SERVERS sets, so downloads take,
 * in order: the servers --dns names; else the system's (/etc/resolv.conf
 * with a nameserver line: nothing is set); else Termux's
 * $PREFIX/etc/resolv.conf; else public resolvers (MV_DNS_PUBLIC).
 * Debian's shared libcurl has no c-ares and refuses the option: its glibc
 * resolver is used, and an explicit --dns is reported as ignored. */
#ifndef MV_DNS_H
#define MV_DNS_H
#include <stddef.h>

/* Google's and Cloudflare's, what Termux's own resolv.conf lists. */
#define MV_DNS_PUBLIC "8.8.8.8,1.1.1.1"

/* The option's help line, for the commands that download and configure
 * no network (fetch, bootstrap: on image and install --dns is the
 * customisation's, the target's name servers). */
#define MV_DNS_HELP                                                                          \
	"  --dns IP[:PORT],.. DNS servers for downloads (default: /etc/resolv.conf, else\n"    \
	"                     $PREFIX/etc/resolv.conf, else " MV_DNS_PUBLIC "; static build only)\n"

/* Checks a --dns value: comma-separated IP addresses, each with an
 * optional port, as c-ares takes them (192.0.2.1, 192.0.2.1:5353,
 * 2001:db8::1, [2001:db8::1]:5353). Returns 0, or -1 with err naming the
 * bad entry. */
int mv_dns_check(const char *list, char *err, size_t errlen);

/* The servers to set, by the order above: `explicit_list` (--dns, may be
 * NULL), the system's resolv.conf path (normally /etc/resolv.conf) and
 * Termux's $PREFIX (may be NULL). NULL means "leave the system resolver
 * alone"; otherwise the list, in buf when it had to be composed. */
const char *mv_dns_servers(const char *explicit_list, const char *resolv_conf, const char *prefix, char *buf,
			   size_t len);

#endif
