/* SPDX-License-Identifier: MIT */
/*
 * The compile cache: compiled programs (and checkers) kept in a folder by a SHA-256 key of what
 * produced them (language, compiler version, flags, source), so a rejudge does not recompile.
 * Bounded in size (least recently used entries go first) and safe when several threads and
 * several worker processes share one folder: entries are written to a temporary file and renamed
 * into place, readers get a descriptor that stays valid if the entry is evicted meanwhile.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "schema/err.h"

#define CACHE_KEY_HEX 65 /* 64 hex digits and a NUL */

struct cache;

/*
 * Opens (creating, mode 0700, missing parents too) the cache folder dir, bounded to max_kib
 * (0: 1 GiB), and indexes what is there; temporary files of writers that crashed are removed and
 * anything else that is not an entry is left alone. -EPERM when the folder belongs to another
 * user or others may write in it (they would choose the programs that get run).
 */
int cache_open(const char *dir, uint64_t max_kib, struct cache **ret_cache, struct gv_err *err);
void cache_free(struct cache *cache); /* NULL is a no-op */

/* The key of n byte strings: SHA-256 over each one's length and bytes, as hex. */
void cache_key(const void *const *parts, const size_t *lens, size_t n, char ret_key[CACHE_KEY_HEX]);

/*
 * A read-only descriptor (O_CLOEXEC) of the entry, its use time (the file's atime) refreshed; the
 * caller closes it. It stays readable if the entry is evicted meanwhile. -ENOENT when there is
 * none, -EINVAL when key is not 64 lower-case hex digits.
 */
int cache_get(struct cache *cache, const char *key, int *ret_fd, struct gv_err *err);

/*
 * Stores the whole content of fd (read from offset 0; its position does not matter) as key, with
 * the given file mode, then evicts least recently used entries beyond the bound (down to 90% of
 * it, and never this one). The entry is fsynced before it gets its name, so it is whole or absent
 * even after a crash. Programs that containers run from their descriptor (sandbox_run.exe_fd)
 * need mode 0555: they execute as the unprivileged program user, and 0500 would deny it; the
 * folder's 0700 keeps them private on the host. Storing a key that is there already only counts
 * as a use (a key names its content). -EFBIG when the content alone exceeds the bound.
 */
int cache_put(struct cache *cache, const char *key, int fd, unsigned mode, struct gv_err *err);

/*
 * entries and kib (each entry's size rounded up to KiB, at least 1) are this process's index:
 * the folder as of the last scan (at open, at each eviction and every 32 puts) plus what this
 * process stored or found since. hits, misses and evictions count this process's own.
 */
struct cache_stats {
        uint64_t entries, kib, hits, misses, evictions;
};
void cache_stats(struct cache *cache, struct cache_stats *ret_stats);
