/* SPDX-License-Identifier: MIT */
/*
 * The compile cache: one file per entry, <dir>/<key[0:2]>/<key>, so an entry is a plain
 * executable a container can run from its descriptor. Entries appear only by rename(2) of a
 * complete, fsynced temporary file, so no reader ever sees half an entry, even across a crash.
 * Use times are the files' atimes (set explicitly, to the nanosecond), so several processes
 * sharing the folder agree on what was used last; an in-memory index avoids scanning the folder
 * on every put, and is rebuilt from the folder under a lock whenever entries are evicted.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "schema/cleanup.h"
#include "worker/judge/cache.h"
#include "worker/util/fileio.h"

#define DEFAULT_MAX_KIB (1024 * 1024)
#define TMP_PREFIX      ".tmp."
#define RESCAN_PUTS     32 /* puts between rescans: how late entries of other processes count */
#define LOW_WATER(max)  ((max) - (max) / 10) /* evict down to this, so evictions are rare */

struct entry {
        char key[CACHE_KEY_HEX]; /* "" for a free slot */
        uint64_t kib;
        int64_t used_ns; /* last use: the file's atime */
};

struct cache {
        char *dir;   /* for messages */
        int dir_fd;  /* the folder */
        int lock_fd; /* <dir>/lock: flock'ed by whoever evicts or scans */
        uint64_t max_kib;
        pthread_mutex_t mutex; /* everything below */
        struct entry *slots;   /* open addressing, linear probing, by the key's first digits */
        size_t cap, count;     /* cap is a power of two, count <= cap / 2 */
        uint64_t kib;          /* sum over the index */
        uint64_t hits, misses, evictions;
        unsigned puts_since_scan;
        int64_t last_ns; /* the last use time given out: uses are strictly ordered */
        uint64_t tmp_seq;
};

/* ---- keys --------------------------------------------------------------------------------- */

void cache_key(const void *const *parts, const size_t *lens, size_t n, char ret_key[CACHE_KEY_HEX])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();

        if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
                abort(); /* out of memory, or a libcrypto without SHA-256 */
        for (size_t i = 0; i < n; i++) {
                uint64_t len = lens[i];
                unsigned char le[8];

                /* each part's length first: ("ab", "c") and ("a", "bc") differ */
                for (int b = 0; b < 8; b++)
                        le[b] = (unsigned char)(len >> (8 * b));
                if (!EVP_DigestUpdate(ctx, le, sizeof(le)) ||
                    (len && !EVP_DigestUpdate(ctx, parts[i], len)))
                        abort();
        }
        if (!EVP_DigestFinal_ex(ctx, md, &md_len) || md_len != 32)
                abort();
        EVP_MD_CTX_free(ctx);
        for (unsigned i = 0; i < md_len; i++) {
                ret_key[2 * i] = hex[md[i] >> 4];
                ret_key[2 * i + 1] = hex[md[i] & 15];
        }
        ret_key[2 * md_len] = '\0';
}

static bool is_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Keys name files: only 64 lower-case hex digits ever reach a path. */
static bool key_valid(const char *key)
{
        size_t i = 0;

        for (; key[i] && i < CACHE_KEY_HEX - 1; i++)
                if (!is_hex(key[i]))
                        return false;
        return i == CACHE_KEY_HEX - 1 && !key[i];
}

static int check_key(const char *key, struct gv_err *err)
{
        if (!key || !key_valid(key))
                return gv_err_set(err, -EINVAL, "cache key '%.80s': expected 64 hex digits",
                                  key ? key : "(null)");
        return 0;
}

/* "ab/abcd..." */
static void entry_path(const char *key, char buf[CACHE_KEY_HEX + 3])
{
        snprintf(buf, CACHE_KEY_HEX + 3, "%.2s/%s", key, key);
}

static uint64_t size_kib(off_t size)
{
        uint64_t kib = ((uint64_t)size + 1023) / 1024;

        return kib ? kib : 1; /* an empty entry still costs an inode */
}

static int64_t ts_ns(struct timespec ts)
{
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the index ---------------------------------------------------------------------------- */

static size_t slot_of(const struct cache *cache, const char *key)
{
        uint64_t h = 0;

        /* the key is a hash already: its first 16 digits spread well */
        for (int i = 0; i < 16; i++)
                h = h << 4 | (uint64_t)(key[i] <= '9' ? key[i] - '0' : key[i] - 'a' + 10);
        return (size_t)h & (cache->cap - 1);
}

static struct entry *index_find(struct cache *cache, const char *key)
{
        if (!cache->cap)
                return NULL;
        for (size_t i = slot_of(cache, key);; i = (i + 1) & (cache->cap - 1)) {
                struct entry *e = &cache->slots[i];

                if (!e->key[0])
                        return NULL;
                if (!strcmp(e->key, key))
                        return e;
        }
}

static void index_grow(struct cache *cache)
{
        struct entry *old = cache->slots;
        size_t old_cap = cache->cap;

        cache->cap = old_cap ? old_cap * 2 : 64;
        cache->slots = xcalloc(cache->cap, sizeof(*cache->slots));
        for (size_t i = 0; i < old_cap; i++) {
                size_t j;

                if (!old[i].key[0])
                        continue;
                for (j = slot_of(cache, old[i].key); cache->slots[j].key[0];
                     j = (j + 1) & (cache->cap - 1))
                        ;
                cache->slots[j] = old[i];
        }
        free(old);
}

/* Adds or updates an entry. */
static void index_set(struct cache *cache, const char *key, uint64_t kib, int64_t used_ns)
{
        struct entry *e = index_find(cache, key);
        size_t i;

        if (e) {
                cache->kib = cache->kib - e->kib + kib;
                e->kib = kib;
                if (used_ns > e->used_ns)
                        e->used_ns = used_ns;
                return;
        }
        if (2 * (cache->count + 1) > cache->cap)
                index_grow(cache);
        for (i = slot_of(cache, key); cache->slots[i].key[0]; i = (i + 1) & (cache->cap - 1))
                ;
        e = &cache->slots[i];
        memcpy(e->key, key, CACHE_KEY_HEX);
        e->kib = kib;
        e->used_ns = used_ns;
        cache->count++;
        cache->kib += kib;
}

/* Removes an entry, shifting back the ones its slot displaced (no tombstones). */
static void index_remove(struct cache *cache, const char *key)
{
        struct entry *e = index_find(cache, key);
        size_t mask = cache->cap - 1, hole, i;

        if (!e)
                return;
        cache->count--;
        cache->kib -= e->kib;
        hole = (size_t)(e - cache->slots);
        cache->slots[hole].key[0] = '\0';
        for (i = (hole + 1) & mask; cache->slots[i].key[0]; i = (i + 1) & mask) {
                size_t home = slot_of(cache, cache->slots[i].key);

                /* move i into the hole unless its home lies cyclically in (hole, i] */
                if (((i - home) & mask) >= ((i - hole) & mask)) {
                        cache->slots[hole] = cache->slots[i];
                        cache->slots[i].key[0] = '\0';
                        hole = i;
                }
        }
}

static void index_clear(struct cache *cache)
{
        if (cache->slots)
                memset(cache->slots, 0, cache->cap * sizeof(*cache->slots));
        cache->count = 0;
        cache->kib = 0;
}

/* A use time later than any given before by this process (file times are nanoseconds; the
 * clock may be coarser, and two uses must never tie). Called with the mutex held. */
static int64_t next_use_ns(struct cache *cache)
{
        struct timespec now;
        int64_t ns;

        clock_gettime(CLOCK_REALTIME, &now);
        ns = ts_ns(now);
        if (ns <= cache->last_ns)
                ns = cache->last_ns + 1;
        cache->last_ns = ns;
        return ns;
}

/* Sets the file's atime (its use time); the mtime stays when it was stored. */
static void set_used(int fd, int64_t ns)
{
        struct timespec t[2] = {{.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000},
                                {.tv_nsec = UTIME_OMIT}};

        /* explicit times need the owner: another user's entry gets the kernel's "now" */
        if (futimens(fd, t) < 0) {
                t[0].tv_nsec = UTIME_NOW;
                (void)futimens(fd, t);
        }
}

/* ---- the folder --------------------------------------------------------------------------- */

/*
 * Removes a temporary file whose writer is gone. Writers hold a flock on their temporary file
 * from just after creating it until after renaming it, and the lock dies with its process: a
 * temporary file that can be locked is a crash's leftover. The inode is compared before the
 * unlink, so a name the writer has meanwhile renamed away is never touched.
 */
static void clean_tmp(int sub_fd, const char *name)
{
        cleanup_fd int fd = openat(sub_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        struct stat a, b;

        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
                return;
        if (fstat(fd, &a) == 0 && fstatat(sub_fd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
            a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                (void)unlinkat(sub_fd, name, 0);
}

static void scan_sub(struct cache *cache, const char *sub)
{
        cleanup_fd int sub_fd =
                openat(cache->dir_fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int dir_fd = sub_fd >= 0 ? fcntl(sub_fd, F_DUPFD_CLOEXEC, 0) : -1;
        DIR *d = dir_fd >= 0 ? fdopendir(dir_fd) : NULL; /* takes dir_fd */
        struct dirent *de;

        if (!d) {
                if (dir_fd >= 0)
                        close(dir_fd);
                return;
        }
        while ((de = readdir(d))) {
                struct stat st;

                if (!strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX))) {
                        clean_tmp(sub_fd, de->d_name);
                        continue;
                }
                /* anything else that is no entry of this folder is left alone */
                if (!key_valid(de->d_name) || strncmp(de->d_name, sub, 2) ||
                    fstatat(sub_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                index_set(cache, de->d_name, size_kib(st.st_size), ts_ns(st.st_atim));
        }
        closedir(d);
}

/*
 * Rebuilds the index from the folder, which is the truth when several processes share it, and
 * removes crashed writers' temporary files. Called with the mutex and the folder lock held.
 */
static int scan(struct cache *cache, struct gv_err *err)
{
        int fd = openat(cache->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;

        if (!d) {
                if (fd >= 0)
                        close(fd);
                return gv_err_errno(err, -errno, "cache folder '%s'", cache->dir);
        }
        index_clear(cache);
        while ((de = readdir(d)))
                if (strlen(de->d_name) == 2 && is_hex(de->d_name[0]) && is_hex(de->d_name[1]))
                        scan_sub(cache, de->d_name);
        closedir(d);
        cache->puts_since_scan = 0;
        return 0;
}

static int cmp_used(const void *a, const void *b)
{
        const struct entry *x = a, *y = b;

        if (x->used_ns != y->used_ns)
                return x->used_ns < y->used_ns ? -1 : 1;
        return strcmp(x->key, y->key);
}

/*
 * Rescans the folder and, when it holds more than the bound, deletes least recently used
 * entries down to the low-water mark (never keep, the entry just stored). Readers holding an
 * evicted entry keep reading it: unlink only drops the name. Called with the mutex held.
 */
static void sync_and_evict(struct cache *cache, const char *keep)
{
        struct entry *order;
        size_t n = 0;

        if (flock(cache->lock_fd, LOCK_EX) < 0)
                return;
        if (scan(cache, NULL) < 0 || cache->kib <= cache->max_kib)
                goto out_unlock;
        order = xmalloc(cache->count * sizeof(*order));
        for (size_t i = 0; i < cache->cap; i++)
                if (cache->slots[i].key[0])
                        order[n++] = cache->slots[i];
        qsort(order, n, sizeof(*order), cmp_used);
        for (size_t i = 0; i < n && cache->kib > LOW_WATER(cache->max_kib); i++) {
                char path[CACHE_KEY_HEX + 3];

                if (keep && !strcmp(order[i].key, keep))
                        continue;
                entry_path(order[i].key, path);
                if (unlinkat(cache->dir_fd, path, 0) == 0)
                        cache->evictions++;
                else if (errno != ENOENT)
                        continue; /* not ours to delete (permissions): it stays counted */
                index_remove(cache, order[i].key);
        }
        free(order);
out_unlock:
        flock(cache->lock_fd, LOCK_UN);
}

/* mkdir -p, each new level private */
static int make_dirs(const char *dir, struct gv_err *err)
{
        cleanup_free char *path = xstrdup(dir);

        for (char *p = path + 1;; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char c = *p;

                *p = '\0';
                if (mkdir(path, 0700) < 0 && errno != EEXIST)
                        return gv_err_errno(err, -errno, "cache folder: mkdir '%s'", path);
                *p = c;
                if (!c)
                        return 0;
        }
}

int cache_open(const char *dir, uint64_t max_kib, struct cache **ret_cache, struct gv_err *err)
{
        struct cache *cache;
        struct stat st;
        int r;

        if (!dir || !*dir)
                return gv_err_set(err, -EINVAL, "cache folder: empty path");
        r = make_dirs(dir, err);
        if (r < 0)
                return r;
        cache = xcalloc(1, sizeof(*cache));
        cache->dir = xstrdup(dir);
        cache->lock_fd = -1;
        cache->max_kib = max_kib ? max_kib : DEFAULT_MAX_KIB;
        pthread_mutex_init(&cache->mutex, NULL);
        cache->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cache->dir_fd < 0) {
                r = gv_err_errno(err, -errno, "cache folder '%s'", dir);
                goto out_free;
        }
        /* whoever can write here chooses the programs that get run: only us */
        if (fstat(cache->dir_fd, &st) < 0 || (st.st_mode & 022) || st.st_uid != geteuid()) {
                r = gv_err_set(err, -EPERM,
                               "cache folder '%s': must belong to uid %u and be writable by it "
                               "alone (it is uid %u, mode %04o)",
                               dir, (unsigned)geteuid(), (unsigned)st.st_uid,
                               (unsigned)(st.st_mode & 07777));
                goto out_free;
        }
        cache->lock_fd =
                openat(cache->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (cache->lock_fd < 0) {
                r = gv_err_errno(err, -errno, "cache folder '%s': lock file", dir);
                goto out_free;
        }
        pthread_mutex_lock(&cache->mutex);
        sync_and_evict(cache, NULL);
        pthread_mutex_unlock(&cache->mutex);
        *ret_cache = cache;
        return 0;

out_free:
        cache_free(cache);
        return r;
}

void cache_free(struct cache *cache)
{
        if (!cache)
                return;
        if (cache->dir_fd >= 0)
                close(cache->dir_fd);
        if (cache->lock_fd >= 0)
                close(cache->lock_fd);
        pthread_mutex_destroy(&cache->mutex);
        free(cache->slots);
        free(cache->dir);
        free(cache);
}

/* ---- get and put -------------------------------------------------------------------------- */

/* Records a use of the entry open as fd, in its atime and in the index. */
static void record_use(struct cache *cache, const char *key, int fd, uint64_t kib, bool hit)
{
        int64_t ns;

        pthread_mutex_lock(&cache->mutex);
        ns = next_use_ns(cache);
        set_used(fd, ns);
        index_set(cache, key, kib, ns);
        if (hit)
                cache->hits++;
        pthread_mutex_unlock(&cache->mutex);
}

int cache_get(struct cache *cache, const char *key, int *ret_fd, struct gv_err *err)
{
        char path[CACHE_KEY_HEX + 3];
        cleanup_fd int fd = -1;
        struct stat st;
        int r = check_key(key, err);

        if (r < 0)
                return r;
        entry_path(key, path);
        fd = openat(cache->dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fstat(fd, &st) < 0) {
                r = -errno;
                pthread_mutex_lock(&cache->mutex);
                cache->misses++;
                if (r == -ENOENT) /* evicted by another process, maybe */
                        index_remove(cache, key);
                pthread_mutex_unlock(&cache->mutex);
                if (r == -ENOENT)
                        return gv_err_set(err, r, "cache entry %s: none", key);
                return gv_err_errno(err, r, "cache entry %s", key);
        }
        record_use(cache, key, fd, size_kib(st.st_size), true);
        *ret_fd = steal_fd(&fd);
        return 0;
}

/*
 * Creates a temporary file next to the entry's final name and locks it, so no scan takes it for
 * a crash's leftover. A scan may still unlink it between the create and the lock: then its link
 * count is 0 and another name is tried.
 */
static int create_tmp(struct cache *cache, int sub_fd, const char *key, char *name, size_t size,
                      struct gv_err *err)
{
        for (int tries = 0; tries < 100; tries++) {
                cleanup_fd int fd = -1;
                struct stat st;
                uint64_t seq;

                pthread_mutex_lock(&cache->mutex);
                seq = cache->tmp_seq++;
                pthread_mutex_unlock(&cache->mutex);
                snprintf(name, size, TMP_PREFIX "%.16s.%d.%" PRIu64, key, (int)getpid(), seq);
                fd = openat(sub_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0 && errno == EEXIST)
                        continue;
                if (fd < 0)
                        return gv_err_errno(err, -errno, "cache folder '%s': create '%s'",
                                            cache->dir, name);
                if (flock(fd, LOCK_EX) < 0)
                        return gv_err_errno(err, -errno, "cache: flock '%s'", name);
                if (fstat(fd, &st) == 0 && st.st_nlink > 0)
                        return steal_fd(&fd);
        }
        return gv_err_set(err, -EAGAIN, "cache folder '%s': no temporary file name", cache->dir);
}

/* Whether the entry is there already: then it only counts as used. */
static bool put_exists(struct cache *cache, int sub_fd, const char *key)
{
        cleanup_fd int fd = openat(sub_fd, key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return false;
        record_use(cache, key, fd, size_kib(st.st_size), false);
        return true;
}

int cache_put(struct cache *cache, const char *key, int fd, unsigned mode, struct gv_err *err)
{
        char sub[3] = {0}, tmp[96];
        cleanup_fd int sub_fd = -1;
        cleanup_fd int tmp_fd = -1;
        uint64_t len;
        struct stat st;
        int r = check_key(key, err);

        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return gv_err_errno(err, -errno, "cache entry %s: source", key);
        if (size_kib(st.st_size) > cache->max_kib)
                return gv_err_set(err, -EFBIG,
                                  "cache entry %s: %" PRIu64
                                  " KiB is more than the whole cache (%" PRIu64 " KiB)",
                                  key, size_kib(st.st_size), cache->max_kib);
        memcpy(sub, key, 2);
        if (mkdirat(cache->dir_fd, sub, 0700) < 0 && errno != EEXIST)
                return gv_err_errno(err, -errno, "cache folder '%s': mkdir '%s'", cache->dir, sub);
        sub_fd = openat(cache->dir_fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub_fd < 0)
                return gv_err_errno(err, -errno, "cache folder '%s': open '%s'", cache->dir, sub);
        if (put_exists(cache, sub_fd, key))
                return 0;

        tmp_fd = create_tmp(cache, sub_fd, key, tmp, sizeof(tmp), err);
        if (tmp_fd < 0)
                return tmp_fd;
        r = fileio_copy(tmp_fd, fd, &len, err);
        if (r < 0) {
                gv_err_prefix(err, r, "cache entry %s: ", key);
                goto out_unlink;
        }
        /* on disk before it has a name: after a power cut an entry is whole or absent, never a
         * truncated program that fails every test until someone clears the cache */
        if (fchmod(tmp_fd, mode & 07777) < 0 || fsync(tmp_fd) < 0) {
                r = gv_err_errno(err, -errno, "cache entry %s: write", key);
                goto out_unlink;
        }
        if (renameat(sub_fd, tmp, sub_fd, key) < 0) {
                r = gv_err_errno(err, -errno, "cache entry %s: rename", key);
                goto out_unlink;
        }

        record_use(cache, key, tmp_fd, size_kib((off_t)len), false);
        pthread_mutex_lock(&cache->mutex);
        if (cache->kib > cache->max_kib || ++cache->puts_since_scan >= RESCAN_PUTS)
                sync_and_evict(cache, key);
        pthread_mutex_unlock(&cache->mutex);
        return 0;

out_unlink:
        (void)unlinkat(sub_fd, tmp, 0);
        return r;
}

void cache_stats(struct cache *cache, struct cache_stats *ret_stats)
{
        pthread_mutex_lock(&cache->mutex);
        *ret_stats = (struct cache_stats){
                .entries = cache->count,
                .kib = cache->kib,
                .hits = cache->hits,
                .misses = cache->misses,
                .evictions = cache->evictions,
        };
        pthread_mutex_unlock(&cache->mutex);
}
