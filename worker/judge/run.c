// SPDX-License-Identifier: MIT
/*
 * The run step of the engine: containers for a job (its environment, limits, files put in),
 * executing each test with its input as stdin and its output captured, checking the output
 * (built-in checkers on the mapped output, a custom one in the job's container), and running the
 * tests in order while they can still change the score.
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

/*
 * The start of a captured output as a C string of at most max bytes, valid UTF-8 (it goes into a
 * verdict's str): NUL bytes shown as '?' so that the string is not cut there, each ill-formed
 * sequence as U+FFFD, and a note of how much was left out. NULL when empty.
 */
char *judge__read_head(int fd, size_t max)
{
        cleanup_free char *raw = NULL;
        struct stat st;
        size_t size, keep, n;
        ssize_t got;
        char *s;

        if (fstat(fd, &st) < 0 || st.st_size <= 0 || max < 128)
                return NULL;
        size = (size_t)st.st_size;
        keep = size <= max ? size : max - 64;
        raw = xmalloc(keep);
        got = fileio_pread_head(fd, raw, keep);
        if (got <= 0)
                return NULL;
        n = (size_t)got;
        for (size_t i = 0; i < n; i++)
                if (raw[i] == '\0')
                        raw[i] = '?';
        s = schema_utf8_dup(raw, n, keep + 64);
        if (size > n) {
                /* the replacements may have grown it: cut back to keep (at a character) */
                char *cut = schema_utf8_dup(s, strlen(s), keep);
                size_t at = strlen(cut);

                free(s);
                s = xmalloc(at + 64);
                memcpy(s, cut, at);
                free(cut);
                snprintf(s + at, 64, "\n[... %zu more bytes not shown]\n", size - n);
        } else if (strlen(s) > max) {
                char *cut = schema_utf8_dup(s, strlen(s), max);

                free(s);
                s = cut;
        }
        return s;
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
const char **judge__make_env(const struct lang *lang)
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
struct sandbox_run judge__compiler_run(const struct lang *lang, char *const *argv, const char **env,
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

int judge__acquire(struct judge *judge, struct sandbox **ret_sb, struct gv_err *err)
{
        int r = sandbox_pool_acquire(judge->pool, ACQUIRE_TIMEOUT_MS, ret_sb, err);

        return r < 0 ? gv_err_prefix(err, r, "no container: ") : 0;
}

/* Writes a file /w/name in the container: buf[0..len), or the content of src_fd (>= 0). */
int judge__put_file(struct sandbox *sb, const char *name, const void *buf, size_t len, int src_fd,
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
        r = src_fd >= 0 ? fileio_copy(fd, src_fd, NULL, err) : fileio_write_all(fd, buf, len);
        if (r < 0)
                return src_fd >= 0 ? gv_err_prefix(err, r, "%s: ", path)
                                   : gv_err_errno(err, r, "write %s into the container", path);
        return 0;
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
                r = judge__acquire(ctx->judge, &ctx->sb, err);
                if (r < 0)
                        return r;
        }
        ctx->sb_dirty = true;
        *ret_sb = ctx->sb;
        return 0;
}

/* Replaces *fd, a test's input, by a sealed memory file with its bytes, unless it is one. */
static int stdin_copy(int *fd, struct gv_err *err)
{
        int copy;
        int r;

        if (fcntl(*fd, F_GET_SEALS) >= 0)
                return 0; /* inline data: already a sealed memory file of its own */
        r = fileio_memfd_sealed("test-in", false, NULL, 0, *fd, &copy, err);
        if (r < 0)
                return r;
        close(*fd);
        *fd = copy;
        return 0;
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
        /* the program's stdin is a sealed memory copy, never the store's file: through the
         * descriptor it would read the store's host path (/proc/self/fd/0) and could flock the
         * file other runs read. The copy is charged here, not to the program's memory. */
        r = stdin_copy(&in_fd, err);
        if (r < 0)
                return gv_err_prefix(err, r, "input: ");
        r = fileio_memfd_new("stdout", false, &out_fd, err);
        if (r == 0)
                r = fileio_memfd_new("stderr", false, &err_fd, err);
        if (r == 0)
                r = job_sandbox(ctx, &sb, err);
        if (r < 0)
                return r;
        if (!lang->artifact_exec)
                r = judge__put_file(sb, lang->artifact, NULL, 0, ctx->exe_fd, err);
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
                ssize_t n = fileio_pread_head(err_fd, buf, max);

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
                r = fileio_read_fd(ans_fd, "the answer file", ANSWER_MAX, &ans, &ans_len, err);
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
        schema_utf8_fix(&t->checker_message); /* the checker's own bytes */
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

void judge__run_tests(struct job_ctx *ctx)
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

                if (judge__cancel_requested(ctx)) {
                        ctx->cancelled = true;
                        break;
                }
                if (!judge__plan_needed(&plan, i))
                        continue;
                judge__report(ctx, SCHEMA_STAGE_RUNNING, (uint32_t)(i + 1), (uint32_t)p->n_tests);
                run_test(ctx, i, t);
                if (t->verdict == SCHEMA_AC)
                        continue;
                stop = ctx->job->stop_on_failure;
                judge__plan_failed(&plan, i);
        }
        judge__plan_done(&plan);
}
