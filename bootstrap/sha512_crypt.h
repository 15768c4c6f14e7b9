/* sha512_crypt: crypt(3)'s "$6$" password hash (Ulrich Drepper's
 * "Unix crypt using SHA-256 and SHA-512", the scheme glibc, libxcrypt,
 * mkpasswd and /etc/shadow use), on mbedcrypto's SHA-512.
 *
 * Ours because the static build cannot take it from the C library:
 * Debian's musl ships neither crypt() nor crypt.h, and the same code in
 * both builds gives the same hash for the same salt. */
#ifndef MV_SHA512_CRYPT_H
#define MV_SHA512_CRYPT_H
#include <stddef.h>

/* "$6$" + at most 16 salt characters + "$" + 86 = 106, with "rounds=N$". */
#define MV_SHA512_CRYPT_MAX 128

/* crypt(3)'s base-64 alphabet, which salts are written in too. */
extern const char mv_crypt64[65];

/* Hashes key with setting ("$6$SALT" or "$6$rounds=N$SALT", anything
 * after a further '$' ignored, as crypt(3) does) into out. Returns 0, or
 * -1 when setting is not a "$6$" one, its salt has a character outside
 * mv_crypt64, or out is too small. */
int mv_sha512_crypt(const char *key, const char *setting, char *out, size_t len);

#endif
