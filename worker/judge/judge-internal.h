/* SPDX-License-Identifier: MIT */
/*
 * What the engine's files share (judge.h is the API). score.c is pure: limit resolution, the
 * order in which tests still matter (subtasks), and the verdict's aggregation, so it is tested
 * without containers or root.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "sandbox/sandbox.h"
#include "schema/err.h"
#include "schema/schema.h"
#include "worker/judge/cache.h"
#include "worker/judge/judge.h"
#include "worker/judge/lang.h"
#include "worker/judge/problem/problem.h"

#define ACQUIRE_TIMEOUT_MS 60000     /* a container not ready by then: SE */
#define VERSION_OUTPUT_MAX 4096      /* bytes of a compiler's version text kept for the key */
#define CHECKER_SOURCE_MAX (4 << 20) /* bytes of a custom checker's source (testlib: ~200 KiB) */
#define ANSWER_MAX         ((size_t)1 << 30) /* bytes of one test's answer */
#define INFO_MAGIC         "gavel-compile 1\n"

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

/* ---- shared by engine.c, build.c and run.c ---- */

/* Whether the job's cancel flag is set. */
bool judge__cancel_requested(const struct job_ctx *ctx);
/* Sends the job's progress event of stage (test k of n) to its progress callback, if any. */
void judge__report(const struct job_ctx *ctx, enum schema_stage stage, uint32_t test, uint32_t of);
/* Returns 0 to go on, 1 when the verdict is CE, -ECANCELED, or another -errno (SE). */
int judge__compile_stage(struct job_ctx *ctx, struct gv_err *err);
/* Compiles the problem's custom checker once per problem version (the cache keeps it). */
int judge__checker_stage(struct job_ctx *ctx, struct gv_err *err);
/*
 * The start of a captured output as a C string of at most max bytes: NUL bytes shown as '?'
 * so that the string is not cut there, and a note of how much was left out. NULL when empty.
 */
char *judge__read_head(int fd, size_t max);
/* The environment of lang's compile and run: its own entries first (the first of a name wins),
 * then the base. A malloc'ed array of borrowed strings. */
const char **judge__make_env(const struct lang *lang);
/* A run of a compiler (or its version command): trusted tools under the compile policy and the
 * language's compile limits, stdout and stderr both into out_fd, no stdin. */
struct sandbox_run judge__compiler_run(const struct lang *lang, char *const *argv, const char **env,
                                       int out_fd);
/* A ready container from the engine's pool (SE after ACQUIRE_TIMEOUT_MS). */
int judge__acquire(struct judge *judge, struct sandbox **ret_sb, struct gv_err *err);
/* Writes a file /w/name in the container: buf[0..len), or the content of src_fd (>= 0). */
int judge__put_file(struct sandbox *sb, const char *name, const void *buf, size_t len, int src_fd,
                    struct gv_err *err);
/* Runs the job's tests in order into ctx->v->tests, skipping those that can no longer change
 * the score and, with stop_on_failure, those after the first failure. */
void judge__run_tests(struct job_ctx *ctx);

/* ---- score.c ---- */

/* -EBADMSG ("limits.time_ms: N is over this worker's maximum of M") when a limit the job asks
 * for is over max. */
int judge__check_limits(const struct job_limits *job, const struct job_limits *max,
                        struct gv_err *err);

/*
 * A test's sandbox limits: each the job's, else the problem's, else the worker's default (def);
 * the times scaled by the language's time_factor, wall 2 * time + 1 s when nobody sets it, the
 * language's extra memory and tasks added.
 */
struct sandbox_limits judge__run_limits(const struct job_limits *job,
                                        const struct job_limits *problem,
                                        const struct job_limits *def, const struct lang *lang);

/* Which tests still matter while a problem's tests run in order: a test whose every subtask
 * can no longer score (it, or a dependency, lost a test) is skipped. */
struct judge__plan {
        const struct problem *problem; /* borrowed */
        size_t *start;                 /* n_tests + 1 offsets into of; NULL without subtasks */
        size_t *of;                    /* subtask indexes of each test, as compressed rows */
        bool *doomed;                  /* per subtask: can no longer score */
};

void judge__plan_init(struct judge__plan *plan, const struct problem *problem);
void judge__plan_done(struct judge__plan *plan);
/* Whether test i (0-based) can still change the score. */
bool judge__plan_needed(const struct judge__plan *plan, size_t i);
/* Test i did not pass: its subtasks, and those depending on them, can no longer score. */
void judge__plan_failed(struct judge__plan *plan, size_t i);

/*
 * The overall verdict of v's tests (the first failure in test order, else AC; an SE one gets the
 * reason "test N: ..."), the time and memory maxima over the tests that ran, and the score: of
 * the subtasks whose tests all passed and whose dependencies score, else of the passed tests'
 * points (each worth 1 when no test has points).
 */
void judge__aggregate(const struct problem *problem, struct verdict *v);
