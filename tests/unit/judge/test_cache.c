// SPDX-License-Identifier: MIT
/*
 * worker/judge/cache.c on a real folder: keys, round trips, misses, least-recently-used eviction
 * and the size bound, several threads and a second process storing the same key while readers check
 * every byte, readers keeping evicted entries, crash leftovers, and folders it must refuse.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker/judge/cache.h"

struct fixture {
        char dir[64];
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/gavel-cache-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

/* A key from a small number, so tests can name their entries. */
static void key_of(unsigned n, char key[CACHE_KEY_HEX])
{
        const void *parts[] = {&n};
        const size_t lens[] = {sizeof(n)};

        cache_key(parts, lens, 1, key);
}

/* A memory file of len bytes: an 8-byte header (id) then bytes derived from id. */
static int content(uint64_t id, size_t len)
{
        int fd = memfd_create("content", MFD_CLOEXEC);
        uint8_t *p = malloc(len ? len : 1);

        assert_true(fd >= 0);
        assert_non_null(p);
        for (size_t i = 0; i < len; i++)
                p[i] = i < 8 ? (uint8_t)(id >> (8 * i)) : (uint8_t)(id * 31 + i / 8);
        assert_int_equal(write(fd, p, len), (ssize_t)len);
        free(p);
        return fd;
}

/* Reads all of fd from offset 0 and returns the id whose content it is, or -1. */
static int64_t content_id(int fd, size_t len)
{
        uint8_t *p = malloc(len + 1);
        uint64_t id = 0;
        ssize_t n = pread(fd, p, len + 1, 0);
        int64_t ret = -1;

        assert_non_null(p);
        if (n == (ssize_t)len) {
                for (size_t i = 0; i < 8 && i < len; i++)
                        id |= (uint64_t)p[i] << (8 * i);
                ret = (int64_t)id;
                for (size_t i = 8; i < len; i++)
                        if (p[i] != (uint8_t)(id * 31 + i / 8))
                                ret = -1;
        }
        free(p);
        return ret;
}

static void put(struct cache *cache, unsigned n, size_t len)
{
        char key[CACHE_KEY_HEX];
        struct gv_err err = {0};
        int fd = content(n, len);

        key_of(n, key);
        if (cache_put(cache, key, fd, 0500, &err) < 0)
                fail_msg("cache_put: %s", err.msg);
        close(fd);
}

static bool present(struct cache *cache, unsigned n)
{
        char key[CACHE_KEY_HEX];
        struct gv_err err = {0};
        int fd = -1, r;

        key_of(n, key);
        r = cache_get(cache, key, &fd, &err);
        if (r == -ENOENT)
                return false;
        if (r < 0)
                fail_msg("cache_get: %s", err.msg);
        close(fd);
        return true;
}

/* Counts what is in the folder's entry subfolders: entries' KiB (as the cache counts them,
 * rounded up per file) and temporary files. */
static void walk(const char *dir, uint64_t *ret_kib, size_t *ret_tmp)
{
        DIR *top = opendir(dir), *d;
        struct dirent *de, *e;
        char path[512];

        *ret_kib = 0;
        *ret_tmp = 0;
        assert_non_null(top);
        while ((de = readdir(top))) {
                if (strlen(de->d_name) != 2)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                d = opendir(path);
                assert_non_null(d);
                while ((e = readdir(d))) {
                        struct stat sb;
                        char file[768];

                        snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
                        if (!strncmp(e->d_name, ".tmp.", 5))
                                (*ret_tmp)++;
                        else if (strlen(e->d_name) == 64 && stat(file, &sb) == 0)
                                *ret_kib += ((uint64_t)sb.st_size + 1023) / 1024 ?: 1;
                }
                closedir(d);
        }
        closedir(top);
}

static uint64_t disk_kib(const char *dir)
{
        uint64_t kib;
        size_t tmp;

        walk(dir, &kib, &tmp);
        return kib;
}

static size_t count_tmp(const char *dir)
{
        uint64_t kib;
        size_t tmp;

        walk(dir, &kib, &tmp);
        return tmp;
}

static void test_key_hashes_lengths_and_parts(void **state)
{
        const void *ab_c[] = {"ab", "c"}, *a_bc[] = {"a", "bc"}, *empty[] = {""};
        const size_t l21[] = {2, 1}, l12[] = {1, 2}, l0[] = {0};
        char k1[CACHE_KEY_HEX], k2[CACHE_KEY_HEX];

        (void)state;
        /* sha256(le64(2) "ab" le64(1) "c"), from Python's hashlib */
        cache_key(ab_c, l21, 2, k1);
        assert_string_equal(k1, "43ee655579de01ca739b3f95c1c2d3f46d353b2c0df818064ea594506cdb2617");
        cache_key(a_bc, l12, 2, k2);
        assert_string_not_equal(k1, k2);
        cache_key(NULL, NULL, 0, k1);
        assert_string_equal(k1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        cache_key(empty, l0, 1, k1);
        assert_string_equal(k1, "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc");
}

static void test_put_then_get_round_trips(void **state)
{
        struct fixture *f = *state;
        struct cache *cache;
        struct cache_stats st;
        struct gv_err err = {0};
        char key[CACHE_KEY_HEX], path[256];
        struct stat sb;
        int fd = content(7, 100000), got = -1;

        assert_int_equal(cache_open(f->dir, 0, &cache, &err), 0);
        key_of(7, key);
        lseek(fd, 12345, SEEK_SET); /* the whole content is stored, wherever the position is */
        assert_int_equal(cache_put(cache, key, fd, 0500, &err), 0);
        close(fd);
        assert_int_equal(cache_get(cache, key, &got, &err), 0);
        assert_int_equal(content_id(got, 100000), 7);
        assert_int_equal(fstat(got, &sb), 0);
        assert_int_equal(sb.st_mode & 07777, 0500);
        assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
        assert_int_equal(fcntl(got, F_GETFL) & O_ACCMODE, O_RDONLY);
        close(got);
        snprintf(path, sizeof(path), "%s/%.2s/%s", f->dir, key, key);
        assert_int_equal(stat(path, &sb), 0);
        cache_stats(cache, &st);
        assert_int_equal(st.entries, 1);
        assert_int_equal(st.kib, 98); /* 100000 bytes */
        assert_int_equal(st.hits, 1);
        assert_int_equal(st.misses, 0);
        assert_int_equal(count_tmp(f->dir), 0);
        cache_free(cache);

        /* a new process finds it */
        assert_int_equal(cache_open(f->dir, 0, &cache, &err), 0);
        cache_stats(cache, &st);
        assert_int_equal(st.entries, 1);
        assert_int_equal(cache_get(cache, key, &got, &err), 0);
        assert_int_equal(content_id(got, 100000), 7);
        close(got);
        cache_free(cache);
}

static void test_missing_entry_is_enoent(void **state)
{
        struct fixture *f = *state;
        struct cache *cache;
        struct cache_stats st;
        struct gv_err err = {0};
        char key[CACHE_KEY_HEX];
        int fd = -1;

        assert_int_equal(cache_open(f->dir, 0, &cache, &err), 0);
        key_of(1, key);
        assert_int_equal(cache_get(cache, key, &fd, &err), -ENOENT);
        assert_int_equal(fd, -1);
        cache_stats(cache, &st);
        assert_int_equal(st.misses, 1);
        assert_int_equal(st.hits, 0);
        cache_free(cache);
}

static void test_invalid_keys_are_rejected(void **state)
{
        static const char *const bad[] = {
                "../../../../etc/passwd",
                "",
                "43EE655579DE01CA739B3F95C1C2D3F46D353B2C0DF818064EA594506CDB2617",
                "43ee655579de01ca739b3f95c1c2d3f46d353b2c0df818064ea594506cdb261",
                "43ee655579de01ca739b3f95c1c2d3f46d353b2c0df818064ea594506cdb26170",
                "43/e655579de01ca739b3f95c1c2d3f46d353b2c0df818064ea594506cdb2617",
        };
        struct fixture *f = *state;
        struct cache *cache;
        struct gv_err err = {0};
        int fd = content(1, 10), got = -1;

        assert_int_equal(cache_open(f->dir, 0, &cache, &err), 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(cache_get(cache, bad[i], &got, &err), -EINVAL);
                assert_non_null(strstr(err.msg, "expected 64 hex digits"));
                assert_int_equal(cache_put(cache, bad[i], fd, 0500, &err), -EINVAL);
        }
        close(fd);
        cache_free(cache);
}

/* Whether entry n is in the folder, without using it (which would change the order). */
static bool stored(const char *dir, unsigned n)
{
        char key[CACHE_KEY_HEX], path[256];
        struct stat sb;

        key_of(n, key);
        snprintf(path, sizeof(path), "%s/%.2s/%s", dir, key, key);
        return stat(path, &sb) == 0;
}

static void test_eviction_follows_last_use(void **state)
{
        struct fixture *f = *state;
        struct cache *cache, *other;
        struct cache_stats st;
        struct gv_err err = {0};

        assert_int_equal(cache_open(f->dir, 100, &cache, &err), 0);
        put(cache, 1, 30 << 10);
        put(cache, 2, 30 << 10);
        put(cache, 3, 30 << 10);
        assert_true(present(cache, 1)); /* used after 2 and 3 */
        put(cache, 4, 30 << 10);        /* 120 KiB > 100: down to 90 */
        cache_stats(cache, &st);
        assert_int_equal(st.evictions, 1);
        assert_int_equal(st.kib, 90);
        assert_true(stored(f->dir, 1));
        assert_false(stored(f->dir, 2));
        assert_true(stored(f->dir, 3));
        assert_true(stored(f->dir, 4));
        /* uses 3, 4, 1 in this order: 3 is the oldest */
        put(cache, 5, 30 << 10);
        assert_false(stored(f->dir, 3));
        assert_true(stored(f->dir, 1));
        assert_true(stored(f->dir, 4));
        assert_true(stored(f->dir, 5));
        assert_false(present(cache, 2));
        cache_stats(cache, &st);
        assert_int_equal(st.evictions, 2);
        assert_int_equal(st.misses, 1);
        cache_free(cache);

        /* another process's uses count too: they are the files' times (order now 1, 4, 5) */
        assert_int_equal(cache_open(f->dir, 100, &other, &err), 0);
        assert_int_equal(cache_open(f->dir, 100, &cache, &err), 0);
        assert_true(present(other, 1)); /* order 4, 5, 1 */
        put(cache, 6, 30 << 10);
        assert_false(stored(f->dir, 4));
        assert_true(stored(f->dir, 5));
        assert_true(stored(f->dir, 1));
        assert_true(stored(f->dir, 6));
        cache_free(other);
        cache_free(cache);
}

static void test_bound_is_respected(void **state)
{
        struct fixture *f = *state;
        struct cache *cache;
        struct cache_stats st;
        struct gv_err err = {0};
        char key[CACHE_KEY_HEX];
        int fd = content(1, 300 << 10);

        assert_int_equal(cache_open(f->dir, 256, &cache, &err), 0);
        srand(42);
        for (unsigned i = 0; i < 200; i++) {
                put(cache, i, (size_t)(rand() % (64 << 10)));
                cache_stats(cache, &st);
                assert_true(st.kib <= 256);
                assert_int_equal(disk_kib(f->dir), st.kib);
        }
        assert_true(st.evictions > 100);
        /* an entry larger than the whole cache is refused, not stored and evicted at once */
        key_of(1000, key);
        assert_int_equal(cache_put(cache, key, fd, 0500, &err), -EFBIG);
        assert_non_null(strstr(err.msg, "more than the whole cache"));
        close(fd);
        cache_free(cache);

        /* a smaller bound at open evicts at once */
        assert_int_equal(cache_open(f->dir, 64, &cache, &err), 0);
        cache_stats(cache, &st);
        assert_true(st.kib <= 64);
        assert_int_equal(disk_kib(f->dir), st.kib);
        cache_free(cache);
}

static void test_putting_a_key_twice_keeps_the_first(void **state)
{
        struct fixture *f = *state;
        struct cache *cache;
        struct cache_stats st;
        struct gv_err err = {0};
        char key[CACHE_KEY_HEX];
        int fd = -1;

        assert_int_equal(cache_open(f->dir, 0, &cache, &err), 0);
        put(cache, 1, 5000);
        key_of(1, key);
        fd = content(2, 6000);
        assert_int_equal(cache_put(cache, key, fd, 0500, &err), 0);
        close(fd);
        assert_int_equal(cache_get(cache, key, &fd, &err), 0);
        assert_int_equal(content_id(fd, 5000), 1);
        close(fd);
        cache_stats(cache, &st);
        assert_int_equal(st.entries, 1);
        cache_free(cache);
}

/* ---- concurrency ------------------------------------------------------------------------- */

#define RACE_LEN (256 << 10)
#define RACE_MS  1500

struct race {
        struct cache *cache;
        char key[CACHE_KEY_HEX];
        char path[256];
        unsigned id;
        atomic_bool *stop;
        atomic_uint *seen, *bad;
};

/* Stores its own content under the shared key, again and again; false on a failed put. */
static bool race_puts(struct cache *cache, const char *key, unsigned id, atomic_bool *stop)
{
        int fd = content(id, RACE_LEN);
        bool ok = true;

        while (ok && !atomic_load(stop)) {
                struct gv_err err = {0};

                ok = cache_put(cache, key, fd, 0500, &err) == 0;
                if (!ok)
                        fprintf(stderr, "writer %u: %s\n", id, err.msg);
        }
        close(fd);
        return ok;
}

static void *race_writer(void *arg)
{
        struct race *r = arg;

        if (!race_puts(r->cache, r->key, r->id, r->stop))
                atomic_fetch_add(r->bad, 1);
        return NULL;
}

/* Evicts the entry behind the cache's back, as another process would, so puts keep racing. */
static void *race_deleter(void *arg)
{
        struct race *r = arg;

        while (!atomic_load(r->stop)) {
                unlink(r->path);
                usleep(2000);
        }
        return NULL;
}

/* Every entry it gets is some writer's content, whole. */
static void *race_reader(void *arg)
{
        struct race *r = arg;

        while (!atomic_load(r->stop)) {
                struct gv_err err = {0};
                int fd = -1, rc = cache_get(r->cache, r->key, &fd, &err);

                if (rc == -ENOENT)
                        continue;
                if (rc < 0)
                        fail_msg("reader: %s", err.msg);
                if (content_id(fd, RACE_LEN) < 0)
                        atomic_fetch_add(r->bad, 1);
                atomic_fetch_add(r->seen, 1);
                close(fd);
        }
        return NULL;
}

static atomic_bool child_stop;

static void on_alarm(int sig)
{
        (void)sig;
        atomic_store(&child_stop, true);
}

static void test_concurrent_puts_never_show_a_partial_entry(void **state)
{
        struct fixture *f = *state;
        struct cache *cache;
        struct gv_err err = {0};
        atomic_bool stop = false;
        atomic_uint seen = 0, bad = 0;
        struct race races[6];
        pthread_t threads[6];
        pid_t child;
        int status;

        key_of(99, races[0].key);
        snprintf(races[0].path, sizeof(races[0].path), "%s/%.2s/%s", f->dir, races[0].key,
                 races[0].key);
        /* the other process first, before this one has threads */
        signal(SIGALRM, on_alarm);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                struct cache *c;
                bool ok;

                alarm(RACE_MS / 1000 + 1); /* SIGALRM ends the child's puts, see below */
                if (cache_open(f->dir, 0, &c, &err) < 0)
                        _exit(2);
                ok = race_puts(c, races[0].key, 100, &child_stop);
                cache_free(c);
                _exit(ok ? 0 : 1);
        }
        assert_int_equal(cache_open(f->dir, 0, &cache, &err), 0);
        for (unsigned i = 0; i < 6; i++) {
                races[i] = races[0];
                races[i].cache = cache;
                races[i].id = i + 1;
                races[i].stop = &stop;
                races[i].seen = &seen;
                races[i].bad = &bad;
        }
        for (unsigned i = 0; i < 3; i++)
                assert_int_equal(pthread_create(&threads[i], NULL, race_writer, &races[i]), 0);
        assert_int_equal(pthread_create(&threads[3], NULL, race_deleter, &races[3]), 0);
        assert_int_equal(pthread_create(&threads[4], NULL, race_reader, &races[4]), 0);
        assert_int_equal(pthread_create(&threads[5], NULL, race_reader, &races[5]), 0);
        usleep(RACE_MS * 1000);
        atomic_store(&stop, true);
        for (unsigned i = 0; i < 6; i++)
                pthread_join(threads[i], NULL);
        assert_int_equal(waitpid(child, &status, 0), child);
        print_message("readers checked %u entries\n", atomic_load(&seen));
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(atomic_load(&bad), 0);
        assert_true(atomic_load(&seen) > 10); /* about 100-150 here, idle */
        assert_int_equal(count_tmp(f->dir), 0);
        cache_free(cache);
}

static void test_evicted_entry_stays_readable_through_its_fd(void **state)
{
        struct fixture *f = *state;
        struct cache *cache;
        struct gv_err err = {0};
        char key[CACHE_KEY_HEX];
        int fd = -1;

        assert_int_equal(cache_open(f->dir, 64, &cache, &err), 0);
        put(cache, 1, 40 << 10);
        key_of(1, key);
        assert_int_equal(cache_get(cache, key, &fd, &err), 0);
        put(cache, 2, 40 << 10); /* 80 > 64: 1 goes */
        assert_false(present(cache, 1));
        assert_int_equal(content_id(fd, 40 << 10), 1);
        close(fd);
        cache_free(cache);
}

static void test_crash_leftovers_are_ignored_and_cleaned(void **state)
{
        struct fixture *f = *state;
        struct cache *cache;
        struct cache_stats st;
        struct gv_err err = {0};
        char key[CACHE_KEY_HEX], sub[128], dead[256], live[256], foreign[256];
        int fd, live_fd;
        struct stat sb;

        key_of(5, key);
        snprintf(sub, sizeof(sub), "%s/%.2s", f->dir, key);
        assert_int_equal(mkdir(sub, 0700), 0);
        /* a writer that died half-way: its file is unlocked */
        snprintf(dead, sizeof(dead), "%s/.tmp.%.16s.999999.0", sub, key);
        fd = open(dead, O_WRONLY | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd,
                               "\x7f"
                               "ELF half",
                               9),
                         9);
        close(fd);
        /* a writer still at work (another process): it holds the lock */
        snprintf(live, sizeof(live), "%s/.tmp.%.16s.999998.0", sub, key);
        live_fd = open(live, O_WRONLY | O_CREAT | O_EXCL, 0600);
        assert_true(live_fd >= 0);
        assert_int_equal(flock(live_fd, LOCK_EX), 0);
        /* not ours: left alone */
        snprintf(foreign, sizeof(foreign), "%s/README", sub);
        fd = open(foreign, O_WRONLY | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        close(fd);

        assert_int_equal(cache_open(f->dir, 0, &cache, &err), 0);
        assert_int_equal(stat(dead, &sb), -1);
        assert_int_equal(stat(live, &sb), 0);
        assert_int_equal(stat(foreign, &sb), 0);
        assert_int_equal(cache_get(cache, key, &fd, &err), -ENOENT);
        cache_stats(cache, &st);
        assert_int_equal(st.entries, 0);
        /* the live writer finishes or dies: the next scan takes its file */
        close(live_fd);
        cache_free(cache);
        assert_int_equal(cache_open(f->dir, 0, &cache, &err), 0);
        assert_int_equal(stat(live, &sb), -1);
        put(cache, 5, 1000);
        assert_true(present(cache, 5));
        cache_free(cache);
}

static void test_bad_folders_are_refused_with_their_name(void **state)
{
        struct fixture *f = *state;
        struct cache *cache = NULL;
        struct gv_err err = {0};
        char path[128];
        int fd;

        snprintf(path, sizeof(path), "%s/file", f->dir);
        fd = open(path, O_WRONLY | O_CREAT, 0600);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(cache_open(path, 0, &cache, &err), -ENOTDIR);
        assert_non_null(strstr(err.msg, path));
        assert_null(cache);

        snprintf(path, sizeof(path), "%s/open", f->dir);
        assert_int_equal(mkdir(path, 0700), 0);
        assert_int_equal(chmod(path, 0777), 0);
        assert_int_equal(cache_open(path, 0, &cache, &err), -EPERM);
        assert_non_null(strstr(err.msg, "mode 0777"));

        /* missing levels are created, private */
        snprintf(path, sizeof(path), "%s/a/b/c", f->dir);
        assert_int_equal(cache_open(path, 0, &cache, &err), 0);
        cache_free(cache);
        cache_free(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_key_hashes_lengths_and_parts),
                cmocka_unit_test_setup_teardown(test_put_then_get_round_trips, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_entry_is_enoent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_keys_are_rejected, setup, teardown),
                cmocka_unit_test_setup_teardown(test_eviction_follows_last_use, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bound_is_respected, setup, teardown),
                cmocka_unit_test_setup_teardown(test_putting_a_key_twice_keeps_the_first, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_concurrent_puts_never_show_a_partial_entry,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_evicted_entry_stays_readable_through_its_fd,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_crash_leftovers_are_ignored_and_cleaned, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_bad_folders_are_refused_with_their_name, setup,
                                                teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
