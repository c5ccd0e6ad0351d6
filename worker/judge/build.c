// SPDX-License-Identifier: MIT
/*
 * The build step of the engine: compiler versions (probed once per language, part of the cache
 * key), the compile cache's keys and records, and compiling a program or a custom checker in a
 * fresh container. A source the compiler refused is cached as its record alone.
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

/* ---- compiler versions ------------------------------------------------------------------ */

/* Runs lang's version command in a container: its exit status and output become the text. */
static int probe_version(struct judge *judge, const struct lang *lang, char **ret,
                         struct gv_err *err)
{
        cleanup_fd int out_fd = -1;
        cleanup_free const char **env = judge__make_env(lang);
        char **argv = lang_expand(lang, lang->version);
        struct sandbox_result res;
        struct sandbox *sb = NULL;
        char buf[VERSION_OUTPUT_MAX];
        ssize_t n;
        int r;

        if (!argv)
                return gv_err_set(err, -ENOMEM, "out of memory");
        r = fileio_memfd_new("version", false, &out_fd, err);
        if (r == 0)
                r = judge__acquire(judge, &sb, err);
        if (r == 0) {
                struct sandbox_run run = judge__compiler_run(lang, argv, env, out_fd);

                r = sandbox_exec(sb, &run, &res, err);
                sandbox_pool_release(judge->pool, sb);
        }
        lang_argv_free(argv);
        if (r < 0)
                return gv_err_prefix(err, r, "%s version: ", lang->name);
        n = fileio_pread_head(out_fd, buf, sizeof(buf));
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
        n = fileio_pread_head(fd, buf, max);
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
        schema_utf8_fix(&b->log); /* records from before logs were made valid UTF-8 */
        return true;
}

static void write_record(struct judge *judge, const char *info_key, const struct build *b)
{
        cleanup_fd int fd = -1;

        if (fileio_memfd_new("compile-record", false, &fd, NULL) < 0)
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
        if (fileio_memfd_sealed("artifact", b->lang->artifact_exec, NULL, 0, fd, &b->fd, NULL) < 0)
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
        return fileio_memfd_sealed("artifact", lang->artifact_exec, NULL, 0, fd, &b->fd, err);
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
        r = fileio_memfd_new("compile-log", false, &log_fd, err);
        if (r < 0)
                return r;
        r = judge__acquire(judge, &sb, err);
        if (r < 0)
                return r;
        r = judge__put_file(sb, lang->source_name, b->src, b->src_len, -1, err);
        if (r == 0) {
                struct sandbox_run run = judge__compiler_run(lang, argv, env, log_fd);

                run.cancel = b->cancel;
                r = sandbox_exec(sb, &run, &res, err);
        }
        if (r == 0) {
                b->time_ms = res.time_ms;
                b->memory_kib = res.memory_kib;
                b->log = judge__read_head(log_fd, judge->conf.compile_log_max);
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
                r = fileio_memfd_sealed("source", lang->artifact_exec, b->src, b->src_len, -1,
                                        &b->fd, err);
                b->ok = r == 0;
                return r;
        }
        r = lang_version(judge, lang, &version, err);
        if (r < 0)
                return r;
        argv = lang_expand(lang, lang->compile);
        if (!argv)
                return gv_err_set(err, -ENOMEM, "out of memory");
        env = judge__make_env(lang);
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

/* Returns 0 to go on, 1 when the verdict is CE, -ECANCELED, or another -errno (SE). */
int judge__compile_stage(struct job_ctx *ctx, struct gv_err *err)
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
                judge__report(ctx, SCHEMA_STAGE_COMPILING, 0, (uint32_t)ctx->problem->n_tests);
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
int judge__checker_stage(struct job_ctx *ctx, struct gv_err *err)
{
        const struct problem *problem = ctx->problem;
        cleanup_free char *src = NULL;
        struct build b = {.lang = ctx->checker_lang, .kind = "checker"};
        size_t len = 0;
        int r;

        if (!ctx->checker_lang)
                return 0;
        r = fileio_read_file(problem->checker_source, CHECKER_SOURCE_MAX, &src, &len, err);
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
