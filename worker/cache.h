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

/* Opens (creating, mode 0700) the cache folder dir, bounded to max_kib (0: 1 GiB). */
int cache_open(const char *dir, uint64_t max_kib, struct cache **ret_cache, struct gv_err *err);
void cache_free(struct cache *cache); /* NULL is a no-op */

/* The key of n byte strings: SHA-256 over each one's length and bytes, as hex. */
void cache_key(const void *const *parts, const size_t *lens, size_t n, char ret_key[CACHE_KEY_HEX]);

/* A read-only descriptor of the entry, its use time refreshed; -ENOENT when there is none. */
int cache_get(struct cache *cache, const char *key, int *ret_fd, struct gv_err *err);

/*
 * Stores the whole content of fd (read from offset 0) as key, with the given file mode (0500 for
 * programs), then evicts old entries beyond the bound. Storing a key twice is harmless.
 */
int cache_put(struct cache *cache, const char *key, int fd, unsigned mode, struct gv_err *err);

struct cache_stats {
        uint64_t entries, kib, hits, misses, evictions;
};
void cache_stats(struct cache *cache, struct cache_stats *ret_stats);
