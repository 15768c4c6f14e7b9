/* customise_files: the text files the customisation generates, listed
 * once for the plan (masked) and the run (real): hostname, locale,
 * keymap, the network (NetworkManager keyfiles or systemd-networkd files,
 * wpa_supplicant) and the Nix module. Also the two derivations that keep
 * secrets out of the image: crypt(3) SHA-512 and the WPA key. */
#include "customise_int.h"
#include "sha512_crypt.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>

int mv_password_hash(const char *password, const struct mv_seed *seed, const char *user, char *out, size_t len)
{
	/* 16 salt characters (crypt's maximum for $6$), from the seed: the
	 * same inputs give the same image, another machine another salt. */
	uint8_t id[32];
	char purpose[96], setting[32] = "$6$";
	snprintf(purpose, sizeof(purpose), "password-salt:%s", user);
	mv_seed_id(seed, purpose, id);
	for (int i = 0; i < 16; i++)
		setting[3 + i] = mv_crypt64[id[i] & 63];
	setting[19] = '\0';
	return mv_sha512_crypt(password, setting, out, len);
}

int mv_wifi_key(const char *ssid, const char *passphrase, char out[65])
{
	/* IEEE 802.11i's PSK: PBKDF2-HMAC-SHA1(passphrase, ssid, 4096, 32). */
	unsigned char key[32];
	mbedtls_md_context_t md;
	mbedtls_md_init(&md);
	int rc = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA1), 1);
	if (rc == 0)
		rc = mbedtls_pkcs5_pbkdf2_hmac(&md, (const unsigned char *)passphrase, strlen(passphrase),
					       (const unsigned char *)ssid, strlen(ssid), 4096, sizeof(key), key);
	mbedtls_md_free(&md);
	if (rc != 0)
		return -1;
	mv_hex(key, sizeof(key), out);
	explicit_bzero(key, sizeof(key));
	return 0;
}

const char *mv_cust_when_rule(enum mv_cust_when w)
{
	switch (w) {
	case MV_CUST_NM: return "written when the userland has NetworkManager (" MV_CUST_NM_BINARY ")";
	case MV_CUST_NO_NM: return "written when the userland has no NetworkManager: systemd-networkd's files";
	case MV_CUST_IF_EXISTS: return "written when the userland has this file already";
	default: return NULL;
	}
}

/* What the network settings mean (profiles/README.md, [Customise]). */
struct net {
	int wired, wifi;
	const char *static_on;   /* "wired", "wifi" or NULL */
	const char *wifi_if, *wired_match;
	char key[65];            /* the WPA key, or the mask */
};

static void network(const struct mv_custom *c, int masked, struct net *n)
{
	const char *mode = c->network.v;
	n->wifi = c->wifi_ssid.v != NULL;
	n->wired = mode ? strcmp(mode, "none") != 0 : c->address.v && !n->wifi;
	n->static_on = !c->address.v ? NULL : n->wired ? "wired" : "wifi";
	n->wifi_if = c->wifi_interface.v ? c->wifi_interface.v : "wlan0";
	n->wired_match = c->interface.v ? c->interface.v : "en* eth*";
	snprintf(n->key, sizeof(n->key), "%s", MV_CUST_MASK);
	if (!masked && c->wifi_psk && mv_wifi_key(c->wifi_ssid.v, c->wifi_psk, n->key) < 0)
		n->key[0] = '\0';
}

static char *dns_lines(struct mv_arena *a, const char *dns, const char *fmt)
{
	char *out = mv_strdup(a, ""), *list = mv_strdup(a, dns ? dns : ""), *save = NULL;
	for (char *t = strtok_r(list, " ,", &save); t; t = strtok_r(NULL, " ,", &save))
		out = mv_printf(a, fmt, out, t);
	return out;
}

static char *networkd(struct mv_arena *a, const struct mv_custom *c, const char *match, int is_static)
{
	char *t = mv_printf(a, "# Written by microvisor ([Customise]).\n[Match]\nName=%s\n\n[Network]\n", match);
	if (is_static) {
		t = mv_printf(a, "%sAddress=%s\n", t, c->address.v);
		if (c->gateway.v)
			t = mv_printf(a, "%sGateway=%s\n", t, c->gateway.v);
	} else {
		t = mv_printf(a, "%sDHCP=yes\n", t);
	}
	return mv_printf(a, "%s%s", t, dns_lines(a, c->dns.v, "%sDNS=%s\n"));
}

static char *keyfile(struct mv_arena *a, const struct mv_plan *plan, const char *id, const char *type,
		     const char *ifname, int is_static)
{
	const struct mv_custom *c = &plan->profile->custom;
	char uuid[37];
	mv_seed_uuid(&plan->seed, mv_printf(a, "nm-connection:%s", id), uuid);
	char *t = mv_printf(a, "# Written by microvisor ([Customise]).\n[connection]\nid=%s\nuuid=%s\ntype=%s\n", id, uuid, type);
	if (ifname && !strpbrk(ifname, "* "))
		t = mv_printf(a, "%sinterface-name=%s\n", t, ifname);
	t = mv_printf(a, "%sautoconnect=true\n\n", t);
	int v6 = is_static && strchr(c->address.v, ':');
	char *dns4 = mv_strdup(a, ""), *dns6 = mv_strdup(a, "");
	char *list = mv_strdup(a, c->dns.v ? c->dns.v : ""), *save = NULL;
	for (char *d = strtok_r(list, " ,", &save); d; d = strtok_r(NULL, " ,", &save)) {
		if (strchr(d, ':'))
			dns6 = mv_printf(a, "%s%s;", dns6, d);
		else
			dns4 = mv_printf(a, "%s%s;", dns4, d);
	}
	const char *gw = c->gateway.v ? mv_printf(a, ",%s", c->gateway.v) : "";
	t = mv_printf(a, "%s[ipv4]\nmethod=%s\n", t, is_static && !v6 ? "manual" : "auto");
	if (is_static && !v6)
		t = mv_printf(a, "%saddress1=%s%s\n", t, c->address.v, gw);
	if (*dns4)
		t = mv_printf(a, "%sdns=%s\n", t, dns4);
	t = mv_printf(a, "%s\n[ipv6]\nmethod=%s\n", t, v6 ? "manual" : "auto");
	if (v6)
		t = mv_printf(a, "%saddress1=%s%s\n", t, c->address.v, gw);
	if (*dns6)
		t = mv_printf(a, "%sdns=%s\n", t, dns6);
	return t;
}

static char *nix_str(struct mv_arena *a, const char *s)
{
	char *out = mv_strdup(a, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\' || (*s == '$' && s[1] == '{'))
			out = mv_printf(a, "%s\\%c", out, *s);
		else
			out = mv_printf(a, "%s%c", out, *s);
	}
	return mv_printf(a, "%s\"", out);
}

/* NixOS option names: the fleet flake imports the module into its
 * configuration, so an apply keeps what the image was built with. */
static char *nix_module(struct mv_arena *a, const struct mv_custom *c, const char *hash, const struct net *n)
{
	char *t = mv_strdup(a, "# Written by microvisor from [Customise]: import it in the fleet flake's\n"
			      "# configuration so the apply step keeps this machine's settings.\n{ ... }:\n{\n");
	if (c->hostname.v)
		t = mv_printf(a, "%s  networking.hostName = %s;\n", t, nix_str(a, c->hostname.v));
	if (c->timezone.v)
		t = mv_printf(a, "%s  time.timeZone = %s;\n", t, nix_str(a, c->timezone.v));
	if (c->locale.v)
		t = mv_printf(a, "%s  i18n.defaultLocale = %s;\n", t, nix_str(a, c->locale.v));
	if (c->keymap.v)
		t = mv_printf(a, "%s  console.keyMap = %s;\n", t, nix_str(a, c->keymap.v));
	const char *user = c->user.v ? c->user.v : "root";
	if (c->user.v || hash || c->ssh_keys) {
		t = mv_printf(a, "%s  users.users.%s = {\n", t, nix_str(a, user));
		if (c->user.v)
			t = mv_printf(a, "%s    isNormalUser = true;\n    extraGroups = [ \"wheel\" ];\n", t);
		if (hash)
			t = mv_printf(a, "%s    hashedPassword = %s;\n", t, nix_str(a, hash));
		if (c->ssh_keys) {
			t = mv_printf(a, "%s    openssh.authorizedKeys.keys = [\n", t);
			for (const char *k = c->ssh_keys; *k; k += strcspn(k, "\n") + 1)
				t = mv_printf(a, "%s      %s\n", t, nix_str(a, mv_strndup(a, k, strcspn(k, "\n"))));
			t = mv_printf(a, "%s    ];\n", t);
		}
		t = mv_printf(a, "%s  };\n", t);
	}
	if (c->ssh_keys)
		t = mv_printf(a, "%s  services.openssh.enable = true;\n", t);
	if (n->wired || n->wifi)
		t = mv_printf(a, "%s  systemd.network.enable = true;\n", t);
	const char *names[2] = {"20-microvisor-wired", "25-microvisor-wifi"};
	for (int w = 0; w < 2; w++) {
		if (!(w ? n->wifi : n->wired))
			continue;
		int st = n->static_on && strcmp(n->static_on, w ? "wifi" : "wired") == 0;
		t = mv_printf(a, "%s  systemd.network.networks.%s = {\n    matchConfig.Name = %s;\n", t, nix_str(a, names[w]),
			      nix_str(a, w ? n->wifi_if : n->wired_match));
		if (st)
			t = mv_printf(a, "%s    address = [ %s ];\n%s", t, nix_str(a, c->address.v),
				      c->gateway.v ? mv_printf(a, "    gateway = [ %s ];\n", nix_str(a, c->gateway.v)) : "");
		else
			t = mv_printf(a, "%s    networkConfig.DHCP = \"yes\";\n", t);
		t = mv_printf(a, "%s  };\n", t);
	}
	if (c->dns.v)
		t = mv_printf(a, "%s  networking.nameservers = [%s ];\n", t, dns_lines(a, c->dns.v, "%s \"%s\""));
	if (n->wifi) {
		t = mv_printf(a, "%s  networking.wireless.enable = true;\n  networking.wireless.interfaces = [ %s ];\n", t,
			      nix_str(a, n->wifi_if));
		t = mv_printf(a, "%s  networking.wireless.networks.%s = %s;\n", t, nix_str(a, c->wifi_ssid.v),
			      c->wifi_psk ? mv_printf(a, "{ pskRaw = \"%s\"; }", n->key) : "{ }");
	}
	return mv_printf(a, "%s}\n", t);
}

struct emit {
	int (*fn)(void *ctx, const struct mv_cust_file *f);
	void *ctx;
	int rc;
};

static void put(struct emit *e, const char *path, const char *text, uint32_t mode, enum mv_cust_when when, const char *why)
{
	struct mv_cust_file f = {path, text, mode, when, why};
	if (!e->rc)
		e->rc = e->fn(e->ctx, &f);
}

int mv_cust_files(const struct mv_plan *plan, int masked, struct mv_arena *a,
		  int (*fn)(void *ctx, const struct mv_cust_file *f), void *ctx)
{
	const struct mv_custom *c = &plan->profile->custom;
	struct emit e = {fn, ctx, 0};
	struct net n;
	network(c, masked, &n);
	if (!masked && n.wifi && c->wifi_psk && !n.key[0])
		return MV_CUST_DERIVE_FAILED;
	if (c->hostname.v)
		put(&e, "/etc/hostname", mv_printf(a, "%s\n", c->hostname.v), 0644, MV_CUST_ALWAYS, "write the hostname");
	if (c->timezone.v)
		put(&e, "/etc/timezone", mv_printf(a, "%s\n", c->timezone.v), 0644, MV_CUST_IF_EXISTS, "write the time zone (Debian's)");
	if (c->locale.v) {
		put(&e, "/etc/locale.conf", mv_printf(a, "LANG=%s\n", c->locale.v), 0644, MV_CUST_ALWAYS, "write the locale");
		put(&e, "/etc/default/locale", mv_printf(a, "LANG=%s\n", c->locale.v), 0644, MV_CUST_IF_EXISTS, "write the locale (Debian's)");
	}
	if (c->keymap.v)
		put(&e, "/etc/vconsole.conf", mv_printf(a, "KEYMAP=%s\n", c->keymap.v), 0644, MV_CUST_ALWAYS, "write the console keymap");

	int wired_static = n.static_on && strcmp(n.static_on, "wired") == 0;
	int wifi_static = n.static_on && strcmp(n.static_on, "wifi") == 0;
	if (n.wired) {
		put(&e, "/etc/NetworkManager/system-connections/microvisor-wired.nmconnection",
		    keyfile(a, plan, "microvisor-wired", "ethernet", c->interface.v, wired_static), 0600, MV_CUST_NM,
		    wired_static ? "configure the wired network: static address" : "configure the wired network: DHCP");
		put(&e, "/etc/systemd/network/20-microvisor-wired.network", networkd(a, c, n.wired_match, wired_static), 0644,
		    MV_CUST_NO_NM, wired_static ? "configure the wired network: static address" : "configure the wired network: DHCP");
	}
	if (n.wifi) {
		char *k = keyfile(a, plan, "microvisor-wifi", "wifi", n.wifi_if, wifi_static);
		k = mv_printf(a, "%s\n[wifi]\nmode=infrastructure\nssid=%s\n", k, c->wifi_ssid.v);
		if (c->wifi_psk)
			k = mv_printf(a, "%s\n[wifi-security]\nkey-mgmt=wpa-psk\npsk=%s\n", k, n.key);
		put(&e, "/etc/NetworkManager/system-connections/microvisor-wifi.nmconnection", k, 0600, MV_CUST_NM,
		    "join the Wi-Fi network (the WPA key, derived from the passphrase)");
		put(&e, mv_printf(a, "/etc/systemd/network/25-microvisor-%s.network", n.wifi_if),
		    networkd(a, c, n.wifi_if, wifi_static), 0644, MV_CUST_NO_NM,
		    wifi_static ? "configure the Wi-Fi interface: static address" : "configure the Wi-Fi interface: DHCP");
		char *w = mv_printf(a, "# Written by microvisor ([Customise]).\nctrl_interface=DIR=/run/wpa_supplicant\nupdate_config=1\n");
		if (c->wifi_country.v)
			w = mv_printf(a, "%scountry=%s\n", w, c->wifi_country.v);
		w = mv_printf(a, "%s\nnetwork={\n\tssid=\"%s\"\n%s}\n", w, c->wifi_ssid.v,
			      c->wifi_psk ? mv_printf(a, "\tpsk=%s\n", n.key) : "\tkey_mgmt=NONE\n");
		put(&e, mv_printf(a, "/etc/wpa_supplicant/wpa_supplicant-%s.conf", n.wifi_if), w, 0600, MV_CUST_NO_NM,
		    "join the Wi-Fi network with wpa_supplicant (the WPA key, derived from the passphrase)");
	}
	if (plan->profile->nix_tarball.location.v) {
		char hash[160] = MV_CUST_MASK;
		const char *h = c->password_hash.v || c->password ? hash : NULL;
		if (!masked && c->password_hash.v)
			snprintf(hash, sizeof(hash), "%s", c->password_hash.v);
		else if (!masked && c->password &&
			 mv_password_hash(c->password, &plan->seed, c->user.v ? c->user.v : "root", hash, sizeof(hash)) < 0)
			return MV_CUST_DERIVE_FAILED;
		put(&e, "/etc/microvisor/customise.nix", nix_module(a, c, h, &n), 0600, MV_CUST_ALWAYS,
		    "write the customisation as a Nix module for the fleet flake to import");
	}
	return e.rc;
}
