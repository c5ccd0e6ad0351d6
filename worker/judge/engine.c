// SPDX-License-Identifier: MIT
/*
 * The judging engine: K slot threads take jobs from a queue and judge each one: validate it,
 * compile through the compile cache, run every test in a freshly reset container, check the
 * output, aggregate the verdict. A failure on the judge's side (a container that died, a checker
 * that failed) becomes SE for that job or test, with the reason, and the engine goes on.
 */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "schema/cleanup.h"
#include "worker/judge/cache.h"
#include "worker/judge/checker.h"
#include "worker/judge/judge-internal.h"
#include "worker/judge/judge.h"
#include "worker/judge/problem/problem.h"
#include "worker/util/fileio.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3; older kernels refuse it and need nothing */
#endif

#define ACQUIRE_TIMEOUT_MS 60000     /* a container not ready by then: SE */
#define VERSION_OUTPUT_MAX 4096      /* bytes of a compiler's version text kept for the key */
#define CHECKER_SOURCE_MAX (4 << 20) /* bytes of a custom checker's source (testlib: ~200 KiB) */
#define ANSWER_MAX         ((size_t)1 << 30) /* bytes of one test's answer */
#define INFO_MAGIC         "gavel-compile 1\n"

/* ---- the engine ------------------------------------------------------------------------- */

struct node {
        struct judge_request req;
        struct node *next;
};

struct judge {
        struct judge_conf conf; /* defaults filled; its strings point at the copies below */
        char *problem_store, *cache_dir, *worker_id;
        struct sandbox_pool *pool;
        struct cache *cache;
        pthread_t *threads;
        unsigned n_threads;
        pthread_mutex_t lock;
        pthread_cond_t cond;       /* a job was queued, or the engine is stopping */
        struct node *head, **tail; /* the queue, oldest first */
        unsigned queued, running;
        bool stopping;
        pthread_mutex_t version_lock;
        char **versions; /* per language of the table: its compiler's version text, once probed */
};

/* One job being judged, on one slot thread. */
struct job_ctx {
        struct judge *judge;
        const struct judge_request *req;
        const struct job *job;
        struct verdict *v;
        const struct lang *lang;
        struct problem *own_problem; /* loaded for this job; NULL with req->problem */
        const struct problem *problem;
        struct sandbox_limits run_limits; /* of each test, resolved */
        enum schema_checker checker;      /* built-in checker, when no custom one */
        double eps;
        const struct lang *checker_lang; /* the custom checker's language, or NULL */
        char **run_argv;
        const char **env;
        int exe_fd;         /* the program (or script), sealed and read-only */
        int checker_fd;     /* the compiled custom checker, or -1 */
        struct sandbox *sb; /* the job's container for its runs, or NULL */
        bool sb_dirty;      /* something ran in sb since it came from the pool */
        bool cancelled;
};

static int64_t unix_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- files ------------------------------------------------------------------------------ */

static int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Up to max bytes from the start of fd into buf; the count read, or -errno. */
static ssize_t read_head_raw(int fd, char *buf, size_t max)
{
        size_t got = 0;

        while (got < max) {
                ssize_t n = pread(fd, buf + got, max - got, (off_t)got);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        return (ssize_t)got;
}

/*
 * The start of a captured output as a C string of at most max bytes: NUL bytes shown as '?'
 * so that the string is not cut there, and a note of how much was left out. NULL when empty.
 */
static char *read_head(int fd, size_t max)
{
        struct stat st;
        size_t size, keep, n;
        ssize_t got;
        char *s;

        if (fstat(fd, &st) < 0 || st.st_size <= 0 || max < 128)
                return NULL;
        size = (size_t)st.st_size;
        keep = size <= max ? size : max - 64;
        s = xmalloc(keep + 64);
        got = read_head_raw(fd, s, keep);
        if (got <= 0) {
                free(s);
                return NULL;
        }
        n = (size_t)got;
        for (size_t i = 0; i < n; i++)
                if (s[i] == '\0')
                        s[i] = '?';
        if (size > n)
                snprintf(s + n, 64, "\n[... %zu more bytes not shown]\n", size - n);
        else
                s[n] = '\0';
        return s;
}

static int memfd_new(const char *name, bool exec, int *ret_fd, struct gv_err *err)
{
        unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
        int fd = memfd_create(name, flags | (exec ? MFD_EXEC : 0));

        if (fd < 0 && exec && errno == EINVAL)
                fd = memfd_create(name, flags);
        if (fd < 0)
                return gv_err_errno(err, -errno, "memfd_create %s", name);
        *ret_fd = fd;
        return 0;
}

/*
 * Seals a memory file and swaps *fd for a read-only descriptor of it: nobody can change the
 * program while it runs, and execveat accepts it (a writable descriptor would be ETXTBSY).
 */
static int memfd_seal(int *fd, struct gv_err *err)
{
        char path[64];
        int ro;

        if (fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return gv_err_errno(err, -errno, "seal a memory file");
        snprintf(path, sizeof(path), "/proc/self/fd/%d", *fd);
        ro = open(path, O_RDONLY | O_CLOEXEC);
        if (ro < 0)
                return gv_err_errno(err, -errno, "reopen %s", path);
        close(*fd);
        *fd = ro;
        return 0;
}

/* A sealed read-only memory file holding buf[0..len), or the content of src_fd (>= 0). */
static int memfd_sealed(const char *name, bool exec, const void *buf, size_t len, int src_fd,
                        int *ret_fd, struct gv_err *err)
{
        cleanup_fd int fd = -1;
        int r;

        r = memfd_new(name, exec, &fd, err);
        if (r < 0)
                return r;
        r = src_fd >= 0 ? fileio_copy(fd, src_fd, NULL, err) : write_all(fd, buf, len);
        if (r < 0)
                return src_fd >= 0 ? gv_err_prefix(err, r, "memory file %s: ", name)
                                   : gv_err_errno(err, r, "fill memory file %s", name);
        r = memfd_seal(&fd, err);
        if (r < 0)
                return r;
        *ret_fd = steal_fd(&fd);
        return 0;
}

/* Reads all of fd, a regular file of at most max bytes, from offset 0. */
static int read_fd(int fd, const char *name, size_t max, char **ret_buf, size_t *ret_len,
                   struct gv_err *err)
{
        cleanup_free char *buf = NULL;
        struct stat st;
        ssize_t n;

        if (fstat(fd, &st) < 0)
                return gv_err_errno(err, -errno, "stat '%s'", name);
        if (!S_ISREG(st.st_mode))
                return gv_err_set(err, -EINVAL, "'%s' is not a regular file", name);
        if ((uint64_t)st.st_size > max)
                return gv_err_set(err, -EFBIG, "'%s': %jd bytes, over the limit of %zu", name,
                                  (intmax_t)st.st_size, max);
        buf = xmalloc((size_t)st.st_size + 1);
        n = read_head_raw(fd, buf, (size_t)st.st_size);
        if (n < 0)
                return gv_err_errno(err, (int)n, "read '%s'", name);
        buf[n] = '\0';
        *ret_len = (size_t)n;
        *ret_buf = steal_pointer(&buf);
        return 0;
}

static int read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len,
                     struct gv_err *err)
{
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return gv_err_errno(err, -errno, "open '%s'", path);
        return read_fd(fd, path, max, ret_buf, ret_len, err);
}

/* The program's output, mapped: a memory file of ours that nothing else can shrink under the
 * mapping (a store's answer file could be rewritten meanwhile: those are read, not mapped). */
struct mapped {
        const uint8_t *p;
        size_t len;
        void *base; /* of the mapping, or NULL for an empty file */
};

static int map_fd(int fd, struct mapped *m, struct gv_err *err)
{
        struct stat st;

        if (fstat(fd, &st) < 0)
                return gv_err_errno(err, -errno, "stat an output");
        *m = (struct mapped){.p = (const uint8_t *)"", .len = (size_t)st.st_size};
        if (m->len == 0)
                return 0;
        m->base = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m->base == MAP_FAILED) {
                m->base = NULL;
                return gv_err_errno(err, -errno, "mmap %zu bytes", m->len);
        }
        m->p = m->base;
        return 0;
}

static void unmap(struct mapped *m)
{
        if (m->base)
                munmap(m->base, m->len);
        m->base = NULL;
}

/* ---- containers ------------------------------------------------------------------------- */

static const char *const base_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/w",
                                       "LANG=C.UTF-8", "TMPDIR=/tmp"};

/* The environment of lang's compile and run: its own entries first (the first of a name wins),
 * then the base. A malloc'ed array of borrowed strings. */
static const char **make_env(const struct lang *lang)
{
        size_t n = 0, k = 0;
        const char **env;

        for (char **e = lang->env; e && *e; e++)
                n++;
        env = xcalloc(n + ARRAY_SIZE(base_env) + 1, sizeof(*env));
        for (char **e = lang->env; e && *e; e++)
                env[k++] = *e;
        for (size_t i = 0; i < ARRAY_SIZE(base_env); i++)
                env[k++] = base_env[i];
        return env;
}

static struct sandbox_limits lang_sandbox_limits(const struct lang_limits *l)
{
        return (struct sandbox_limits){
                .time_ms = l->time_ms ? l->time_ms : 10000,
                .wall_ms = l->wall_ms ? l->wall_ms : 20000,
                .memory_kib = l->memory_kib ? l->memory_kib : 512 * 1024,
                .output_kib = l->output_kib ? l->output_kib : 64 * 1024,
                .pids = l->pids,
        };
}

/* A run of a compiler (or its version command): trusted tools under the compile policy and the
 * language's compile limits, stdout and stderr both into out_fd, no stdin. */
static struct sandbox_run compiler_run(const struct lang *lang, char *const *argv, const char **env,
                                       int out_fd)
{
        return (struct sandbox_run){
                .argv = (const char *const *)argv,
                .env = env,
                .stdin_fd = -1,
                .stdout_fd = out_fd,
                .stderr_fd = out_fd,
                .exe_fd = -1,
                .policy = PROTO_POLICY_COMPILE,
                .limits = lang_sandbox_limits(&lang->compile_limits),
        };
}

static int acquire(struct judge *judge, struct sandbox **ret_sb, struct gv_err *err)
{
        int r = sandbox_pool_acquire(judge->pool, ACQUIRE_TIMEOUT_MS, ret_sb, err);

        return r < 0 ? gv_err_prefix(err, r, "no container: ") : 0;
}

/* Writes a file /w/name in the container: buf[0..len), or the content of src_fd (>= 0). */
static int put_file(struct sandbox *sb, const char *name, const void *buf, size_t len, int src_fd,
                    struct gv_err *err)
{
        cleanup_fd int fd = -1;
        char path[PATH_MAX];
        int r;

        if (snprintf(path, sizeof(path), "/w/%s", name) >= (int)sizeof(path))
                return gv_err_set(err, -ENAMETOOLONG, "file name too long: '%s'", name);
        r = sandbox_open(sb, path, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd, err);
        if (r < 0)
                return r;
        r = src_fd >= 0 ? fileio_copy(fd, src_fd, NULL, err) : write_all(fd, buf, len);
        if (r < 0)
                return src_fd >= 0 ? gv_err_prefix(err, r, "%s: ", path)
                                   : gv_err_errno(err, r, "write %s into the container", path);
        return 0;
}

/* ---- compiler versions ------------------------------------------------------------------ */

/* Runs lang's version command in a container: its exit status and output become the text. */
static int probe_version(struct judge *judge, const struct lang *lang, char **ret,
                         struct gv_err *err)
{
        cleanup_fd int out_fd = -1;
        cleanup_free const char **env = make_env(lang);
        char **argv = lang_expand(lang, lang->version);
        struct sandbox_result res;
        struct sandbox *sb = NULL;
        char buf[VERSION_OUTPUT_MAX];
        ssize_t n;
        int r;

        if (!argv)
                return gv_err_set(err, -ENOMEM, "out of memory");
        r = memfd_new("version", false, &out_fd, err);
        if (r == 0)
                r = acquire(judge, &sb, err);
        if (r == 0) {
                struct sandbox_run run = compiler_run(lang, argv, env, out_fd);

                r = sandbox_exec(sb, &run, &res, err);
                sandbox_pool_release(judge->pool, sb);
        }
        lang_argv_free(argv);
        if (r < 0)
                return gv_err_prefix(err, r, "%s version: ", lang->name);
        n = read_head_raw(out_fd, buf, sizeof(buf));
        if (n < 0)
                n = 0;
        *ret = xasprintf("%s %d %d\n%.*s", sandbox_status_name(res.status), res.exit_code,
                         res.signal, (int)n, buf);
        return 0;
}

/* The version text of lang's compiler, probed once per engine (on first use, so that a tool
 * judging one job waits only for its own language). */
static int lang_version(struct judge *judge, const struct lang *lang, const char **ret,
                        struct gv_err *err)
{
        size_t i = (size_t)(lang - judge->conf.langs->langs);
        int r = 0;

        assert(i < judge->conf.langs->n);
        pthread_mutex_lock(&judge->version_lock);
        if (!judge->versions[i])
                r = lang->version ? probe_version(judge, lang, &judge->versions[i], err)
                                  : (judge->versions[i] = xstrdup(""), 0);
        if (r == 0)
                *ret = judge->versions[i];
        pthread_mutex_unlock(&judge->version_lock);
        return r;
}

/* ---- the compile stage ------------------------------------------------------------------ */

struct build {
        /* in */
        const struct lang *lang;
        const char *kind;  /* "program" or "checker": part of the cache key */
        const char *extra; /* more of the key: the problem's version for a checker */
        const void *src;
        size_t src_len;
        const atomic_bool *cancel; /* or NULL: a cancelled compile is -ECANCELED, not cached */
        /* out */
        bool ok;
        bool cached;
        char *log;    /* owned: the compiler's output, capped; or NULL */
        char *reason; /* owned, when !ok: "compilation time limit exceeded", ... */
        int ce_exit;  /* the compiler's exit code when it refused the source: a CE that any
                       * later compile repeats, so it is cached; 0 otherwise */
        uint32_t time_ms;
        uint64_t memory_kib;
        int fd; /* the artifact, sealed and read-only, when ok; else -1 */
};

static void build_done(struct build *b)
{
        free(b->log);
        free(b->reason);
        if (b->fd >= 0)
                close(b->fd);
        b->log = b->reason = NULL;
        b->fd = -1;
}

/* A NULL-terminated vector as one byte string, each entry followed by a NUL. */
static char *join(char *const *v, size_t *ret_len)
{
        size_t n = 0, off = 0;
        char *s;

        for (char *const *p = v; p && *p; p++)
                n += strlen(*p) + 1;
        s = xmalloc(n + 1);
        for (char *const *p = v; p && *p; p++) {
                size_t k = strlen(*p) + 1;

                memcpy(s + off, *p, k);
                off += k;
        }
        *ret_len = n;
        return s;
}

/* The cache keys of the artifact and of its compile record: everything that shapes them. */
static void build_keys(const struct build *b, const char *version, char *const *argv,
                       const char **env, char key[CACHE_KEY_HEX], char info_key[CACHE_KEY_HEX])
{
        size_t argv_len, env_len;
        cleanup_free char *argv_s = join(argv, &argv_len);
        cleanup_free char *env_s = join((char *const *)env, &env_len);
        const struct lang *lang = b->lang;
        const void *parts[] = {b->kind, b->extra,          lang->name,     version, argv_s,
                               env_s,   lang->source_name, lang->artifact, b->src};
        size_t lens[] = {strlen(b->kind),
                         strlen(b->extra),
                         strlen(lang->name),
                         strlen(version),
                         argv_len,
                         env_len,
                         strlen(lang->source_name),
                         strlen(lang->artifact),
                         b->src_len};
        const void *info_parts[] = {"compile record", key};
        size_t info_lens[] = {14, CACHE_KEY_HEX - 1};

        cache_key(parts, lens, ARRAY_SIZE(parts), key);
        cache_key(info_parts, info_lens, ARRAY_SIZE(info_parts), info_key);
}

/* What a compile in the cache cost and said, kept beside the artifact (or alone, for a source
 * the compiler refused: then with its exit code). Returns whether a record was read. */
static bool read_record(struct judge *judge, const char *info_key, struct build *b)
{
        cleanup_fd int fd = -1;
        cleanup_free char *buf = NULL;
        size_t max = judge->conf.compile_log_max + 128, hdr = strlen(INFO_MAGIC);
        unsigned long long mem;
        unsigned t;
        ssize_t n;
        char *body, *ce;
        int code;

        if (cache_get(judge->cache, info_key, &fd, NULL) < 0)
                return false;
        buf = xmalloc(max + 1);
        n = read_head_raw(fd, buf, max);
        if (n < (ssize_t)hdr || memcmp(buf, INFO_MAGIC, hdr) != 0)
                return false;
        buf[n] = '\0';
        if (sscanf(buf + hdr, "time_ms %u\nmemory_kib %llu\n", &t, &mem) != 2)
                return false;
        body = strstr(buf + hdr, "\n\n");
        ce = strstr(buf + hdr, "\ncompile_error ");
        if (ce && (!body || ce < body) && sscanf(ce, "\ncompile_error %d", &code) == 1 && code)
                b->ce_exit = code;
        b->time_ms = t;
        b->memory_kib = mem;
        free(b->log);
        b->log = body && body[2] ? xstrdup(body + 2) : NULL;
        return true;
}

static void write_record(struct judge *judge, const char *info_key, const struct build *b)
{
        cleanup_fd int fd = -1;

        if (memfd_new("compile-record", false, &fd, NULL) < 0)
                return;
        if (dprintf(fd, INFO_MAGIC "time_ms %" PRIu32 "\nmemory_kib %" PRIu64 "\n", b->time_ms,
                    b->memory_kib) < 0 ||
            (b->ce_exit && dprintf(fd, "compile_error %d\n", b->ce_exit) < 0) ||
            dprintf(fd, "\n%s", b->log ? b->log : "") < 0)
                return;
        (void)cache_put(judge->cache, info_key, fd, 0400, NULL);
}

/* A hit: the artifact copied into a memory file of our own, so that neither eviction nor the
 * cache file's mode matters while it runs; or the record of a source the compiler refused. */
static bool build_from_cache(struct judge *judge, struct build *b, const char *key,
                             const char *info_key)
{
        cleanup_fd int fd = -1;

        if (cache_get(judge->cache, key, &fd, NULL) < 0) {
                if (read_record(judge, info_key, b) && b->ce_exit) {
                        b->cached = true;
                        b->reason = xasprintf("compilation error (exit code %d)", b->ce_exit);
                        return true;
                }
                free(b->log); /* a record whose artifact was evicted: compile again */
                b->log = NULL;
                b->ce_exit = 0;
                return false;
        }
        if (memfd_sealed("artifact", b->lang->artifact_exec, NULL, 0, fd, &b->fd, NULL) < 0)
                return false;
        b->ok = true;
        b->cached = true;
        read_record(judge, info_key, b);
        return true;
}

static int compile_outcome(struct build *b, const struct sandbox_result *res, struct gv_err *err)
{
        switch (res->status) {
        case SANDBOX_OK:
                b->ok = true;
                return 0;
        case SANDBOX_NONZERO:
                b->reason = xasprintf("compilation error (exit code %d)", res->exit_code);
                b->ce_exit = res->exit_code;
                return 0;
        case SANDBOX_SIGNAL:
                b->reason = xasprintf("the compiler was killed by signal %d (%s)", res->signal,
                                      strsignal(res->signal));
                return 0;
        case SANDBOX_TIME:
        case SANDBOX_WALL:
                b->reason = xstrdup("compilation time limit exceeded");
                return 0;
        case SANDBOX_MEMORY:
                b->reason = xstrdup("compilation memory limit exceeded");
                return 0;
        case SANDBOX_OUTPUT:
                b->reason = xstrdup("compilation output limit exceeded");
                return 0;
        case SANDBOX_ERROR:
                return gv_err_set(err, -ENOEXEC, "cannot run the %s compiler: %s", b->lang->name,
                                  res->error);
        case _SANDBOX_STATUS_MAX:
        case _SANDBOX_STATUS_INVALID:
                break;
        }
        return gv_err_set(err, -EPROTO, "compile: unknown sandbox status %d", (int)res->status);
}

/* Copies what the compiler left in /w out of the container, before the container is reset. */
static int take_artifact(struct sandbox *sb, struct build *b, struct gv_err *err)
{
        const struct lang *lang = b->lang;
        cleanup_fd int fd = -1;
        char path[PATH_MAX];
        struct stat st;
        int r;

        if (snprintf(path, sizeof(path), "/w/%s", lang->artifact) >= (int)sizeof(path))
                return gv_err_set(err, -ENAMETOOLONG, "artifact name too long");
        /* O_NONBLOCK: a fifo planted there must not stall the container's init */
        r = sandbox_open(sb, path, O_RDONLY | O_NONBLOCK, 0, &fd, err);
        if (r < 0 && sandbox_broken(sb))
                return r;
        if (r < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                b->ok = false;
                b->reason = xasprintf("the compiler left no file '%s'", lang->artifact);
                return 0;
        }
        return memfd_sealed("artifact", lang->artifact_exec, NULL, 0, fd, &b->fd, err);
}

static int build_fresh(struct judge *judge, struct build *b, char *const *argv, const char **env,
                       struct gv_err *err)
{
        const struct lang *lang = b->lang;
        cleanup_fd int log_fd = -1;
        struct sandbox_result res;
        struct sandbox *sb = NULL;
        int r;

        /* one memory file for stdout and stderr: RLIMIT_FSIZE (the compile's output limit)
         * stops a compiler that writes gigabytes; only the head is read back */
        r = memfd_new("compile-log", false, &log_fd, err);
        if (r < 0)
                return r;
        r = acquire(judge, &sb, err);
        if (r < 0)
                return r;
        r = put_file(sb, lang->source_name, b->src, b->src_len, -1, err);
        if (r == 0) {
                struct sandbox_run run = compiler_run(lang, argv, env, log_fd);

                run.cancel = b->cancel;
                r = sandbox_exec(sb, &run, &res, err);
        }
        if (r == 0) {
                b->time_ms = res.time_ms;
                b->memory_kib = res.memory_kib;
                b->log = read_head(log_fd, judge->conf.compile_log_max);
                r = compile_outcome(b, &res, err);
        }
        if (r == 0 && b->ok)
                r = take_artifact(sb, b, err);
        sandbox_pool_release(judge->pool, sb);
        return r;
}

/*
 * Turns b->src into an artifact: from the cache, or compiled in a container and then cached.
 * Returns 0 with b->ok telling whether it compiled, or -errno for a failure of the judge.
 */
static int build_run(struct judge *judge, struct build *b, struct gv_err *err)
{
        const struct lang *lang = b->lang;
        char key[CACHE_KEY_HEX], info_key[CACHE_KEY_HEX];
        cleanup_free const char **env = NULL;
        const char *version = NULL;
        char **argv;
        int r;

        b->fd = -1;
        if (!lang->compile) {
                r = memfd_sealed("source", lang->artifact_exec, b->src, b->src_len, -1, &b->fd,
                                 err);
                b->ok = r == 0;
                return r;
        }
        r = lang_version(judge, lang, &version, err);
        if (r < 0)
                return r;
        argv = lang_expand(lang, lang->compile);
        if (!argv)
                return gv_err_set(err, -ENOMEM, "out of memory");
        env = make_env(lang);
        build_keys(b, version, argv, env, key, info_key);
        if (!build_from_cache(judge, b, key, info_key)) {
                r = build_fresh(judge, b, argv, env, err);
                /* the record first: whoever finds the artifact finds it too. A refused source
                 * has a record only; a compile that hit a limit has none (under less load it
                 * might have passed) */
                if (r == 0 && (b->ok || b->ce_exit))
                        write_record(judge, info_key, b);
                if (r == 0 && b->ok)
                        (void)cache_put(judge->cache, key, b->fd, 0500, NULL);
        }
        lang_argv_free(argv);
        return r;
}

/* ---- validation ------------------------------------------------------------------------- */

static int load_problem(struct job_ctx *ctx, struct gv_err *err)
{
        const struct job *job = ctx->job;
        const char *store = ctx->judge->problem_store;
        int r;

        if (ctx->req->problem) {
                ctx->problem = ctx->req->problem;
                return 0;
        }
        if (job->problem) {
                /* the job's fault (REJECTED): an id no store can hold, or one this store lacks */
                if (!problem_id_valid(job->problem))
                        return gv_err_set(err, -EBADMSG, "problem: '%.*s' is not a valid id",
                                          PROBLEM_ID_MAX, job->problem);
                if (!store)
                        return gv_err_set(err, -EBADMSG,
                                          "unknown problem '%s' (this worker has no problem store)",
                                          job->problem);
                r = problem_load(store, job->problem, &ctx->own_problem, err);
                if (r == -ENOENT)
                        return gv_err_set(err, -EBADMSG, "unknown problem '%s'", job->problem);
                if (r < 0) { /* the store's problem is broken: the judge's fault (SE) */
                        gv_err_prefix(err, r, "problem '%s': ", job->problem);
                        return r == -EBADMSG || r == -E2BIG ? -EINVAL : r;
                }
        } else if (job->n_tests > 0) {
                r = problem_from_job(job, &ctx->own_problem, err);
                if (r < 0) {
                        gv_err_prefix(err, r, "tests: ");
                        return r == -ENOMEM ? r : -EBADMSG;
                }
        } else {
                return gv_err_set(err, -EBADMSG, "neither problem nor tests given");
        }
        ctx->problem = ctx->own_problem;
        return 0;
}

static int resolve_checker(struct job_ctx *ctx, struct gv_err *err)
{
        const struct job *job = ctx->job;
        const struct problem *problem = ctx->problem;
        const char *name;

        if (job->checker != SCHEMA_CHECKER_DEFAULT) {
                ctx->checker = job->checker;
                ctx->eps = job->checker_eps;
                return 0;
        }
        if (!problem->checker_source) {
                ctx->checker = problem->checker != SCHEMA_CHECKER_DEFAULT ? problem->checker
                                                                          : SCHEMA_CHECKER_TOKENS;
                ctx->eps = problem->checker_eps;
                return 0;
        }
        name = problem->checker_lang ? problem->checker_lang : "cpp";
        ctx->checker_lang = lang_find(ctx->judge->conf.langs, name);
        if (!ctx->checker_lang)
                return gv_err_set(err, -EINVAL, "the checker's language '%s' is not in the table",
                                  name);
        if (!ctx->checker_lang->compile || !ctx->checker_lang->artifact_exec)
                return gv_err_set(err, -EINVAL,
                                  "the checker's language '%s' does not build an executable", name);
        return 0;
}

/*
 * Checks the job and resolves what judging it needs. -EBADMSG or -E2BIG: the job is invalid
 * (REJECTED); another -errno: the judge cannot judge it (SE).
 */
static int prepare(struct job_ctx *ctx, struct gv_err *err)
{
        const struct job *job = ctx->job;
        const struct judge_conf *conf = &ctx->judge->conf;
        const struct lang *lang;
        struct schema_limits lim;
        int r;

        schema_limits_default(&lim);
        if (!job->id || !*job->id)
                return gv_err_set(err, -EBADMSG, "id: missing");
        if (!job->lang)
                return gv_err_set(err, -EBADMSG, "lang: missing");
        lang = ctx->lang = lang_find(conf->langs, job->lang);
        if (!lang)
                return gv_err_set(err, -EBADMSG, "unknown language '%s'", job->lang);
        if (job->source_len > lim.source_max)
                return gv_err_set(err, -E2BIG, "source: %zu bytes, over the limit of %zu",
                                  job->source_len, lim.source_max);
        r = judge__check_limits(&job->limits, &conf->max_limits, err);
        if (r == 0)
                r = load_problem(ctx, err);
        if (r < 0)
                return r;
        if (ctx->problem->n_tests == 0)
                return gv_err_set(err, -EINVAL, "problem '%s' has no tests",
                                  ctx->problem->id ? ctx->problem->id : "");

        ctx->run_limits =
                judge__run_limits(&job->limits, &ctx->problem->limits, &conf->default_limits, lang);
        r = resolve_checker(ctx, err);
        if (r < 0)
                return r;
        ctx->run_argv = lang_expand(lang, lang->run);
        if (!ctx->run_argv)
                return gv_err_set(err, -ENOMEM, "out of memory");
        ctx->env = make_env(lang);
        return 0;
}

/* ---- stages ----------------------------------------------------------------------------- */

static bool cancel_requested(const struct job_ctx *ctx)
{
        return ctx->req->cancel && atomic_load(ctx->req->cancel);
}

static void report(const struct job_ctx *ctx, enum schema_stage stage, uint32_t test, uint32_t of)
{
        struct progress p = {
                .v = SCHEMA_VERSION,
                .id = ctx->job->id,
                .stage = stage,
                .test = test,
                .of = of,
                .worker = ctx->judge->worker_id,
                .ts_ms = unix_ms(),
        };

        if (ctx->req->progress)
                ctx->req->progress(&p, ctx->req->userdata);
}

/*
 * A clean container for the next run of the job (a test, or a custom checker after it). One is
 * kept for the whole job and reset in place between runs: measured with 200 one-line tests
 * (ASan build, 2 cores), 3.65 ms per test against 3.8 for a release and acquire through the
 * pool; and each slot then resets on its own thread instead of all on the pool's one. A
 * container that failed is given back (the pool replaces it) and another taken.
 */
static int job_sandbox(struct job_ctx *ctx, struct sandbox **ret_sb, struct gv_err *err)
{
        int r;

        if (ctx->sb && ctx->sb_dirty &&
            (sandbox_broken(ctx->sb) || sandbox_reset(ctx->sb, NULL) < 0)) {
                sandbox_pool_release(ctx->judge->pool, ctx->sb);
                ctx->sb = NULL;
        }
        if (!ctx->sb) {
                r = acquire(ctx->judge, &ctx->sb, err);
                if (r < 0)
                        return r;
        }
        ctx->sb_dirty = true;
        *ret_sb = ctx->sb;
        return 0;
}

/* Returns 0 to go on, 1 when the verdict is CE, -ECANCELED, or another -errno (SE). */
static int compile_stage(struct job_ctx *ctx, struct gv_err *err)
{
        const struct job *job = ctx->job;
        struct verdict *v = ctx->v;
        struct build b = {.lang = ctx->lang,
                          .kind = "program",
                          .extra = "",
                          .src = job->source ? (const void *)job->source : "",
                          .src_len = job->source_len,
                          .cancel = ctx->req->cancel};
        int r;

        if (ctx->lang->compile)
                report(ctx, SCHEMA_STAGE_COMPILING, 0, (uint32_t)ctx->problem->n_tests);
        r = build_run(ctx->judge, &b, err);
        if (r < 0) {
                build_done(&b);
                return r;
        }
        if (ctx->lang->compile) {
                v->compile = (struct verdict_compile){
                        .present = true,
                        .ok = b.ok,
                        .log = steal_pointer(&b.log),
                        .time_ms = b.time_ms,
                        .memory_kib = b.memory_kib,
                        .cached = b.cached,
                };
        }
        if (!b.ok) {
                v->verdict = SCHEMA_CE;
                v->reason = steal_pointer(&b.reason);
                build_done(&b);
                return 1;
        }
        ctx->exe_fd = steal_fd(&b.fd);
        build_done(&b);
        return 0;
}

/* Compiles the problem's custom checker once per problem version (the cache keeps it). */
static int checker_stage(struct job_ctx *ctx, struct gv_err *err)
{
        const struct problem *problem = ctx->problem;
        cleanup_free char *src = NULL;
        struct build b = {.lang = ctx->checker_lang, .kind = "checker"};
        size_t len = 0;
        int r;

        if (!ctx->checker_lang)
                return 0;
        r = read_file(problem->checker_source, CHECKER_SOURCE_MAX, &src, &len, err);
        if (r < 0)
                return gv_err_prefix(err, r, "checker: ");
        b.extra = problem->hash ? problem->hash : "";
        b.src = src;
        b.src_len = len;
        r = build_run(ctx->judge, &b, err);
        if (r < 0)
                gv_err_prefix(err, r, "checker: ");
        else if (!b.ok)
                r = gv_err_set(err, -EINVAL, "the checker does not compile: %s: %.120s", b.reason,
                               b.log ? b.log : "");
        else
                ctx->checker_fd = steal_fd(&b.fd);
        build_done(&b);
        return r;
}

/* Runs test i in a fresh container; *ret_out is the captured stdout. */
static int execute(struct job_ctx *ctx, size_t i, struct sandbox_result *res, int *ret_out,
                   struct gv_err *err)
{
        const struct lang *lang = ctx->lang;
        cleanup_fd int in_fd = -1;
        cleanup_fd int out_fd = -1;
        cleanup_fd int err_fd = -1;
        struct sandbox *sb = NULL;
        int r;

        r = problem_test_open(ctx->problem, i, false, &in_fd, err);
        if (r < 0)
                return gv_err_prefix(err, r, "input: ");
        /* the input's page cache is charged to whoever brings it in: here, not to the program,
         * whose peak memory would otherwise hold what the host had evicted of it */
        (void)fileio_cache_in(in_fd);
        r = memfd_new("stdout", false, &out_fd, err);
        if (r == 0)
                r = memfd_new("stderr", false, &err_fd, err);
        if (r == 0)
                r = job_sandbox(ctx, &sb, err);
        if (r < 0)
                return r;
        if (!lang->artifact_exec)
                r = put_file(sb, lang->artifact, NULL, 0, ctx->exe_fd, err);
        if (r == 0) {
                struct sandbox_run run = {
                        .argv = (const char *const *)ctx->run_argv,
                        .env = ctx->env,
                        .stdin_fd = in_fd,
                        .stdout_fd = out_fd,
                        .stderr_fd = err_fd,
                        .exe_fd = lang->artifact_exec ? ctx->exe_fd : -1,
                        .policy = PROTO_POLICY_RUN,
                        .limits = ctx->run_limits,
                        .cancel = ctx->req->cancel, /* a long test ends at once on a revoke */
                        /* only the head of stderr is ever read: a program's debug output costs
                         * it time, not memory of the host and not an OLE */
                        .stderr_keep = ctx->judge->conf.stderr_max,
                };

                r = sandbox_exec(sb, &run, res, err);
        }
        if (r < 0)
                return r;
        if (ctx->req->output) {
                size_t max = ctx->judge->conf.stderr_max;
                cleanup_free char *buf = xmalloc(max + 1);
                ssize_t n = read_head_raw(err_fd, buf, max);

                buf[n > 0 ? n : 0] = '\0';
                ctx->req->output(i, out_fd, buf, n > 0 ? (size_t)n : 0, ctx->req->userdata);
        }
        *ret_out = steal_fd(&out_fd);
        return 0;
}

static int check_builtin(struct job_ctx *ctx, size_t i, int out_fd, struct checker_outcome *co,
                         struct gv_err *err)
{
        cleanup_fd int ans_fd = -1;
        cleanup_free char *ans = NULL;
        struct mapped out = {0};
        size_t ans_len = 0;
        int r;

        r = problem_test_open(ctx->problem, i, true, &ans_fd, err);
        if (r == 0)
                r = read_fd(ans_fd, "the answer file", ANSWER_MAX, &ans, &ans_len, err);
        if (r < 0)
                return gv_err_prefix(err, r, "answer: ");
        r = map_fd(out_fd, &out, err);
        if (r == 0)
                checker_builtin(ctx->checker, ctx->eps, out.p, out.len, (const uint8_t *)ans,
                                ans_len, co);
        unmap(&out);
        return r;
}

static int check_custom(struct job_ctx *ctx, size_t i, int out_fd, struct checker_outcome *co,
                        struct gv_err *err)
{
        cleanup_fd int in_fd = -1;
        cleanup_fd int ans_fd = -1;
        struct sandbox *sb = NULL;
        int r;

        r = problem_test_open(ctx->problem, i, false, &in_fd, err);
        if (r == 0)
                r = problem_test_open(ctx->problem, i, true, &ans_fd, err);
        if (r < 0)
                return gv_err_prefix(err, r, "checker input: ");
        /* reset first: the program may have left anything in /w */
        r = job_sandbox(ctx, &sb, err);
        if (r < 0)
                return r;
        {
                struct checker_custom c = {
                        .exe_fd = ctx->checker_fd,
                        .in_fd = in_fd,
                        .out_fd = out_fd,
                        .ans_fd = ans_fd, /* limits: checker.c's defaults */
                };

                r = checker_run_custom(sb, &c, co, err);
        }
        return r < 0 ? gv_err_prefix(err, r, "checker: ") : 0;
}

static void test_fail(struct verdict_test *t, enum schema_code code, const char *msg)
{
        t->verdict = code;
        free(t->checker_message);
        t->checker_message = msg && *msg ? xstrdup(msg) : NULL;
}

static void check(struct job_ctx *ctx, size_t i, int out_fd, struct verdict_test *t)
{
        struct checker_outcome co = {.result = CHECKER_FAIL};
        struct gv_err err = {0};
        char msg[sizeof(co.message) + 32];
        int r;

        r = ctx->checker_fd >= 0 ? check_custom(ctx, i, out_fd, &co, &err)
                                 : check_builtin(ctx, i, out_fd, &co, &err);
        if (r < 0) {
                test_fail(t, SCHEMA_SE, err.msg);
                return;
        }
        switch (co.result) {
        case CHECKER_AC:
                test_fail(t, SCHEMA_AC, co.message);
                break;
        case CHECKER_WA:
                test_fail(t, SCHEMA_WA, co.message);
                break;
        case CHECKER_PE: /* counted as a wrong answer; the message keeps the nuance */
                snprintf(msg, sizeof(msg), "presentation error%s%s", co.message[0] ? ": " : "",
                         co.message);
                test_fail(t, SCHEMA_WA, msg);
                break;
        case CHECKER_FAIL:
                snprintf(msg, sizeof(msg), "checker failed%s%s", co.message[0] ? ": " : "",
                         co.message);
                test_fail(t, SCHEMA_SE, msg);
                break;
        }
}

static void run_test(struct job_ctx *ctx, size_t i, struct verdict_test *t)
{
        cleanup_fd int out_fd = -1;
        struct sandbox_result res = {0};
        struct gv_err err = {0};
        char msg[sizeof(res.error) + 32];
        int r;

        r = execute(ctx, i, &res, &out_fd, &err);
        if (r < 0) {
                test_fail(t, SCHEMA_SE, err.msg);
                return;
        }
        t->time_ms = res.time_ms;
        t->wall_ms = res.wall_ms;
        t->memory_kib = res.memory_kib;
        t->exit_code = res.exit_code;
        t->signal = res.signal;
        switch (res.status) {
        case SANDBOX_OK:
                check(ctx, i, out_fd, t);
                break;
        case SANDBOX_NONZERO:
        case SANDBOX_SIGNAL:
                test_fail(t, SCHEMA_RE, NULL);
                break;
        case SANDBOX_TIME:
                test_fail(t, SCHEMA_TLE, NULL);
                break;
        case SANDBOX_WALL:
                test_fail(t, SCHEMA_TLE, "wall-clock limit exceeded");
                break;
        case SANDBOX_MEMORY:
                test_fail(t, SCHEMA_MLE, NULL);
                break;
        case SANDBOX_OUTPUT:
                test_fail(t, SCHEMA_OLE, NULL);
                break;
        case SANDBOX_ERROR:
        case _SANDBOX_STATUS_MAX:
        case _SANDBOX_STATUS_INVALID:
                snprintf(msg, sizeof(msg), "cannot run the program: %s", res.error);
                test_fail(t, SCHEMA_SE, msg);
                break;
        }
}

static void run_tests(struct job_ctx *ctx)
{
        const struct problem *p = ctx->problem;
        struct verdict *v = ctx->v;
        struct judge__plan plan;
        bool stop = false;

        v->tests = xcalloc(p->n_tests, sizeof(*v->tests));
        v->n_tests = p->n_tests;
        for (size_t i = 0; i < p->n_tests; i++)
                v->tests[i].verdict = SCHEMA_SKIPPED;
        judge__plan_init(&plan, p);
        for (size_t i = 0; i < p->n_tests && !stop; i++) {
                struct verdict_test *t = &v->tests[i];

                if (cancel_requested(ctx)) {
                        ctx->cancelled = true;
                        break;
                }
                if (!judge__plan_needed(&plan, i))
                        continue;
                report(ctx, SCHEMA_STAGE_RUNNING, (uint32_t)(i + 1), (uint32_t)p->n_tests);
                run_test(ctx, i, t);
                if (t->verdict == SCHEMA_AC)
                        continue;
                stop = ctx->job->stop_on_failure;
                judge__plan_failed(&plan, i);
        }
        judge__plan_done(&plan);
}

/* ---- one job ---------------------------------------------------------------------------- */

static void verdict_start(struct judge *judge, const struct judge_request *req, struct verdict *v)
{
        const struct job *job = req->job;

        *v = (struct verdict){
                .v = SCHEMA_VERSION,
                .id = xstrdup(job->id ? job->id : ""),
                .verdict = SCHEMA_SE,
                .worker = xstrdup(judge->worker_id),
                .attempt = job->attempt ? job->attempt : 1,
                .received_ms = req->received_ms ? req->received_ms : unix_ms(),
        };
        if (job->meta && job->meta_len) {
                v->meta = xmemdup(job->meta, job->meta_len);
                v->meta_len = job->meta_len;
        }
}

/* Ends the verdict early with code and reason: no test rows, no score. */
static void verdict_end(struct verdict *v, enum schema_code code, const char *reason)
{
        for (size_t i = 0; i < v->n_tests; i++)
                free(v->tests[i].checker_message);
        free(v->tests);
        v->tests = NULL;
        v->n_tests = 0;
        v->score = v->max_score = 0;
        v->time_ms = 0;
        v->memory_kib = 0;
        v->verdict = code;
        free(v->reason);
        v->reason = xstrdup(reason);
}

static void ctx_done(struct job_ctx *ctx)
{
        if (ctx->sb)
                sandbox_pool_release(ctx->judge->pool, ctx->sb);
        lang_argv_free(ctx->run_argv);
        free(ctx->env);
        if (ctx->exe_fd >= 0)
                close(ctx->exe_fd);
        if (ctx->checker_fd >= 0)
                close(ctx->checker_fd);
        problem_free(ctx->own_problem);
}

static void judge_job(struct judge *judge, const struct judge_request *req, struct verdict *v,
                      bool *ret_cancelled)
{
        struct job_ctx ctx = {
                .judge = judge,
                .req = req,
                .job = req->job,
                .v = v,
                .exe_fd = -1,
                .checker_fd = -1,
        };
        struct gv_err err = {0};
        int r;

        verdict_start(judge, req, v);
        report(&ctx, SCHEMA_STAGE_RECEIVED, 0, 0);
        r = prepare(&ctx, &err);
        if (r == -EBADMSG || r == -E2BIG) {
                verdict_end(v, SCHEMA_REJECTED, err.msg);
        } else if (r < 0) {
                verdict_end(v, SCHEMA_SE, err.msg);
        } else if (cancel_requested(&ctx)) {
                ctx.cancelled = true;
        } else if ((r = compile_stage(&ctx, &err)) == -ECANCELED) {
                ctx.cancelled = true;
        } else if (r < 0) {
                verdict_end(v, SCHEMA_SE, err.msg);
        } else if (r == 0 && cancel_requested(&ctx)) {
                ctx.cancelled = true;
        } else if (r == 0 && (r = checker_stage(&ctx, &err)) < 0) {
                verdict_end(v, SCHEMA_SE, err.msg);
        } else if (r == 0) {
                run_tests(&ctx);
                judge__aggregate(ctx.problem, ctx.v);
        }
        if (ctx.cancelled)
                verdict_end(v, SCHEMA_SE, "cancelled");
        *ret_cancelled = ctx.cancelled;
        v->finished_ms = unix_ms();
        report(&ctx, SCHEMA_STAGE_DONE, 0, ctx.problem ? (uint32_t)ctx.problem->n_tests : 0);
        ctx_done(&ctx);
}

/* ---- slots and queue -------------------------------------------------------------------- */

static void *slot_main(void *arg)
{
        struct judge *judge = arg;

        for (;;) {
                struct node *node;
                struct verdict v;
                bool abandon, cancelled = false;

                pthread_mutex_lock(&judge->lock);
                while (!judge->head && !judge->stopping)
                        pthread_cond_wait(&judge->cond, &judge->lock);
                node = judge->head;
                if (!node) {
                        pthread_mutex_unlock(&judge->lock);
                        return NULL;
                }
                judge->head = node->next;
                if (!judge->head)
                        judge->tail = &judge->head;
                judge->queued--;
                judge->running++;
                abandon = judge->stopping;
                pthread_mutex_unlock(&judge->lock);

                if (abandon) { /* the engine is going away: jobs not started are handed back */
                        verdict_start(judge, &node->req, &v);
                        verdict_end(&v, SCHEMA_SE, "cancelled");
                        v.finished_ms = unix_ms();
                        cancelled = true;
                } else {
                        judge_job(judge, &node->req, &v, &cancelled);
                }
                node->req.done(&v, cancelled, node->req.userdata);
                free(node);

                pthread_mutex_lock(&judge->lock);
                judge->running--;
                pthread_mutex_unlock(&judge->lock);
        }
}

void judge_conf_default(struct judge_conf *conf)
{
        *conf = (struct judge_conf){
                .default_limits = {.time_ms = 1000,
                                   .memory_kib = 256 * 1024,
                                   .output_kib = 64 * 1024},
                .max_limits = {.time_ms = 60000,
                               .wall_ms = 120000,
                               .memory_kib = 2 * 1024 * 1024,
                               .output_kib = 1024 * 1024},
                .compile_log_max = 64 * 1024,
                .stderr_max = 4096,
        };
        sandbox_conf_default(&conf->sandbox);
        conf->sandbox.pool_size = 0; /* slots + 1 */
}

static char *default_cache_dir(void)
{
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

        if (geteuid() == 0)
                return xstrdup("/var/cache/gavel");
        if (xdg && *xdg)
                return xasprintf("%s/gavel", xdg);
        if (home && *home)
                return xasprintf("%s/.cache/gavel", home);
        return xasprintf("/tmp/gavel-cache-%u", (unsigned)geteuid());
}

static void fill_defaults(struct judge_conf *c)
{
        long cores = sysconf(_SC_NPROCESSORS_ONLN);

        if (!c->slots)
                c->slots = cores > 0 ? (unsigned)cores : 1;
        if (!c->default_limits.time_ms)
                c->default_limits.time_ms = 1000;
        if (!c->default_limits.memory_kib)
                c->default_limits.memory_kib = 256 * 1024;
        if (!c->default_limits.output_kib)
                c->default_limits.output_kib = 64 * 1024;
        if (!c->max_limits.time_ms)
                c->max_limits.time_ms = 60000;
        if (!c->max_limits.wall_ms)
                c->max_limits.wall_ms = 120000;
        if (!c->max_limits.memory_kib)
                c->max_limits.memory_kib = 2 * 1024 * 1024;
        if (!c->max_limits.output_kib)
                c->max_limits.output_kib = 1024 * 1024;
        if (!c->compile_log_max)
                c->compile_log_max = 64 * 1024;
        if (c->compile_log_max < 1024)
                c->compile_log_max = 1024;
        if (!c->stderr_max)
                c->stderr_max = 4096;
        if (!c->sandbox.pool_size)
                c->sandbox.pool_size = c->slots + 1;
}

int judge_new(const struct judge_conf *conf, struct judge **ret_judge, struct gv_err *err)
{
        struct judge *judge = xcalloc(1, sizeof(*judge));
        char host[256];
        int r;

        assert(conf && conf->langs);
        judge->conf = *conf;
        fill_defaults(&judge->conf);
        pthread_mutex_init(&judge->lock, NULL);
        pthread_mutex_init(&judge->version_lock, NULL);
        pthread_cond_init(&judge->cond, NULL);
        judge->tail = &judge->head;
        if (conf->worker_id)
                judge->worker_id = xstrdup(conf->worker_id);
        else if (gethostname(host, sizeof(host)) == 0 && (host[sizeof(host) - 1] = '\0', *host))
                judge->worker_id = xstrdup(host);
        else
                judge->worker_id = xstrdup("gavel");
        judge->cache_dir = conf->cache_dir ? xstrdup(conf->cache_dir) : default_cache_dir();
        judge->problem_store = conf->problem_store ? xstrdup(conf->problem_store) : NULL;
        judge->conf.worker_id = judge->worker_id;
        judge->conf.cache_dir = judge->cache_dir;
        judge->conf.problem_store = judge->problem_store;
        judge->versions = xcalloc(conf->langs->n, sizeof(char *));

        /* containers first: the pool must fork before any library starts threads */
        r = sandbox_pool_new(&judge->conf.sandbox, &judge->pool, err);
        if (r < 0)
                goto fail;
        r = cache_open(judge->cache_dir, conf->cache_max_kib, &judge->cache, err);
        if (r < 0) {
                gv_err_prefix(err, r, "compile cache '%s': ", judge->cache_dir);
                goto fail;
        }
        judge->threads = xcalloc(judge->conf.slots, sizeof(pthread_t));
        for (; judge->n_threads < judge->conf.slots; judge->n_threads++) {
                r = -pthread_create(&judge->threads[judge->n_threads], NULL, slot_main, judge);
                if (r < 0) {
                        gv_err_errno(err, r, "start slot %u", judge->n_threads);
                        goto fail;
                }
        }
        *ret_judge = judge;
        return 0;
fail:
        judge_free(judge);
        return r;
}

void judge_free(struct judge *judge)
{
        if (!judge)
                return;
        pthread_mutex_lock(&judge->lock);
        judge->stopping = true;
        pthread_cond_broadcast(&judge->cond);
        pthread_mutex_unlock(&judge->lock);
        for (unsigned i = 0; i < judge->n_threads; i++)
                pthread_join(judge->threads[i], NULL);
        free(judge->threads);
        sandbox_pool_free(judge->pool);
        cache_free(judge->cache);
        for (size_t i = 0; judge->versions && i < judge->conf.langs->n; i++)
                free(judge->versions[i]);
        free(judge->versions);
        free(judge->worker_id);
        free(judge->cache_dir);
        free(judge->problem_store);
        pthread_cond_destroy(&judge->cond);
        pthread_mutex_destroy(&judge->version_lock);
        pthread_mutex_destroy(&judge->lock);
        free(judge);
}

int judge_submit(struct judge *judge, const struct judge_request *req, struct gv_err *err)
{
        struct node *node;

        assert(req && req->job && req->done);
        node = xcalloc(1, sizeof(*node));
        node->req = *req;
        if (!node->req.received_ms)
                node->req.received_ms = unix_ms();
        pthread_mutex_lock(&judge->lock);
        if (judge->stopping) {
                pthread_mutex_unlock(&judge->lock);
                free(node);
                return gv_err_set(err, -ESHUTDOWN, "the judging engine is stopping");
        }
        *judge->tail = node;
        judge->tail = &node->next;
        judge->queued++;
        pthread_cond_signal(&judge->cond);
        pthread_mutex_unlock(&judge->lock);
        return 0;
}

/* judge_run: a request whose callbacks pass through to the caller's and whose done wakes it. */
struct waiter {
        const struct judge_request *req;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool done;
        struct verdict verdict;
};

static void waiter_progress(const struct progress *progress, void *userdata)
{
        struct waiter *w = userdata;

        w->req->progress(progress, w->req->userdata);
}

static void waiter_output(size_t i, int out_fd, const char *err, size_t err_len, void *userdata)
{
        struct waiter *w = userdata;

        w->req->output(i, out_fd, err, err_len, w->req->userdata);
}

static void waiter_done(struct verdict *verdict, bool cancelled, void *userdata)
{
        struct waiter *w = userdata;

        (void)cancelled;
        pthread_mutex_lock(&w->lock);
        w->verdict = *verdict;
        w->done = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

int judge_run_request(struct judge *judge, const struct judge_request *req,
                      struct verdict *ret_verdict, struct gv_err *err)
{
        struct waiter w = {.req = req};
        struct judge_request mine = *req;
        int r;

        mine.progress = req->progress ? waiter_progress : NULL;
        mine.output = req->output ? waiter_output : NULL;
        mine.done = waiter_done;
        mine.userdata = &w;
        pthread_mutex_init(&w.lock, NULL);
        pthread_cond_init(&w.cond, NULL);
        r = judge_submit(judge, &mine, err);
        if (r == 0) {
                pthread_mutex_lock(&w.lock);
                while (!w.done)
                        pthread_cond_wait(&w.cond, &w.lock);
                pthread_mutex_unlock(&w.lock);
                *ret_verdict = w.verdict;
        }
        pthread_cond_destroy(&w.cond);
        pthread_mutex_destroy(&w.lock);
        return r;
}

int judge_run(struct judge *judge, const struct job *job, judge_progress_fn progress,
              void *userdata, struct verdict *ret_verdict, struct gv_err *err)
{
        struct judge_request req = {.job = job, .progress = progress, .userdata = userdata};

        return judge_run_request(judge, &req, ret_verdict, err);
}

unsigned judge_busy(struct judge *judge)
{
        unsigned n;

        pthread_mutex_lock(&judge->lock);
        n = judge->queued + judge->running;
        pthread_mutex_unlock(&judge->lock);
        return n;
}

unsigned judge_slots(const struct judge *judge)
{
        return judge->n_threads;
}

int judge_rejected(const char *id, const char *reason, const char *worker_id,
                   struct verdict *ret_verdict)
{
        int64_t now = unix_ms();

        *ret_verdict = (struct verdict){
                .v = SCHEMA_VERSION,
                .id = xstrdup(id ? id : ""),
                .verdict = SCHEMA_REJECTED,
                .reason = xstrdup(reason && *reason ? reason : "invalid job"),
                .worker = worker_id ? xstrdup(worker_id) : NULL,
                .attempt = 1,
                .received_ms = now,
                .finished_ms = now,
        };
        return 0;
}
