/* bsdflags: BSD file flags (chflags(1): schg, uappnd, nodump, ...) from
 * their text, as archives carry them (SCHILY.fflags, libarchive's
 * archive_entry_fflags_text). libarchive's numeric flags are the host's
 * (on Linux, FS_*_FL), so the UFS writer needs FreeBSD's own values
 * (sys/stat.h UF_* and SF_*) from the names. */
#ifndef MV_BSDFLAGS_H
#define MV_BSDFLAGS_H
#include <stdint.h>

/* Comma- or space-separated names; unknown names and "no..." (clearing)
 * names add nothing. */
uint32_t mv_bsd_fflags(const char *text);

#endif
