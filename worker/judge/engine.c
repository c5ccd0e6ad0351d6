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
#include "worker/util/clock.h"
#include "worker/util/fileio.h"

/* ---- the engine ------------------------------------------------------------------------- */

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
        ctx->env = judge__make_env(lang);
        return 0;
}

/* ---- stages ----------------------------------------------------------------------------- */

bool judge__cancel_requested(const struct job_ctx *ctx)
{
        return ctx->req->cancel && atomic_load(ctx->req->cancel);
}

void judge__report(const struct job_ctx *ctx, enum schema_stage stage, uint32_t test, uint32_t of)
{
        struct progress p = {
                .v = SCHEMA_VERSION,
                .id = ctx->job->id,
                .stage = stage,
                .test = test,
                .of = of,
                .worker = ctx->judge->worker_id,
                .ts_ms = clock_wall_ms(),
        };

        if (ctx->req->progress)
                ctx->req->progress(&p, ctx->req->userdata);
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
                .received_ms = req->received_ms ? req->received_ms : clock_wall_ms(),
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
        schema_utf8_fix(&v->reason);
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
        judge__report(&ctx, SCHEMA_STAGE_RECEIVED, 0, 0);
        r = prepare(&ctx, &err);
        if (r == -EBADMSG || r == -E2BIG) {
                verdict_end(v, SCHEMA_REJECTED, err.msg);
        } else if (r < 0) {
                verdict_end(v, SCHEMA_SE, err.msg);
        } else if (judge__cancel_requested(&ctx)) {
                ctx.cancelled = true;
        } else if ((r = judge__compile_stage(&ctx, &err)) == -ECANCELED) {
                ctx.cancelled = true;
        } else if (r < 0) {
                verdict_end(v, SCHEMA_SE, err.msg);
        } else if (r == 0 && judge__cancel_requested(&ctx)) {
                ctx.cancelled = true;
        } else if (r == 0 && (r = judge__checker_stage(&ctx, &err)) < 0) {
                verdict_end(v, SCHEMA_SE, err.msg);
        } else if (r == 0) {
                judge__run_tests(&ctx);
                judge__aggregate(ctx.problem, ctx.v);
        }
        if (ctx.cancelled)
                verdict_end(v, SCHEMA_SE, "cancelled");
        *ret_cancelled = ctx.cancelled;
        v->finished_ms = clock_wall_ms();
        judge__report(&ctx, SCHEMA_STAGE_DONE, 0, ctx.problem ? (uint32_t)ctx.problem->n_tests : 0);
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
                        v.finished_ms = clock_wall_ms();
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
                node->req.received_ms = clock_wall_ms();
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
        int64_t now = clock_wall_ms();

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
        /* a job that is not UTF-8 where it should be still gets a verdict every client reads */
        schema_utf8_fix(&ret_verdict->id);
        schema_utf8_fix(&ret_verdict->reason);
        return 0;
}
