/* swap: a Linux swap signature (what mkswap writes), version 1, for 4 KiB
 * pages. A swap partition has no writer: nothing is stored in it. */
#ifndef MV_SWAP_H
#define MV_SWAP_H
#include <stddef.h>
#include <stdint.h>

#include "io.h"

int mv_swap_format(const struct mv_io *io, const uint8_t uuid[16], const char *label, char *err, size_t errlen);

#endif
