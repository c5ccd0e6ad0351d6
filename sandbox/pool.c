// SPDX-License-Identifier: MIT
/*
 * The pool: containers created ahead of time and recycled, because creating one costs several
 * times what running a program in one does. A maintenance thread keeps pool_size containers,
 * resets released ones off the caller's path, and destroys and replaces any that misbehaved,
 * died, or reached max_uses.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sandbox/sandbox-internal.h"
#include "schema/cleanup.h"

struct sandbox_pool {
        struct sandbox_env env;
        pthread_mutex_t lock;
        pthread_cond_t ready_cond; /* a container became ready, or the pool is stopping */
        pthread_cond_t work_cond;  /* the maintenance thread has something to do */
        struct sandbox *ready;     /* reset and idle */
        struct sandbox *dirty;     /* released, waiting for reset or destruction */
        unsigned n_ready, n_busy, n_dirty, n_creating;
        uint64_t created, destroyed, anomalies;
        struct gv_err last_err; /* of the last failed creation */
        bool stopping;
        bool thread_started;
        pthread_t thread;
};

static void push(struct sandbox **list, struct sandbox *sb)
{
        sb->next = *list;
        *list = sb;
}

static struct sandbox *pop(struct sandbox **list)
{
        struct sandbox *sb = *list;

        if (sb)
                *list = sb->next;
        return sb;
}

static void timed_wait(pthread_cond_t *cond, pthread_mutex_t *lock, int ms)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (long)(ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(cond, lock, &ts);
}

/* Resets a released container, or destroys it; called without the lock. Returns it when it
 * can be used again. */
static struct sandbox *recycle(struct sandbox_pool *pool, struct sandbox *sb, bool *anomaly)
{
        struct gv_err err = {0};

        *anomaly = sb->broken || sandbox__dead(sb);
        if (!*anomaly && sb->uses < pool->env.conf.max_uses) {
                if (sandbox_reset(sb, &err) == 0)
                        return sb;
                *anomaly = true;
        }
        sandbox__destroy(sb);
        return NULL;
}

static void *maintain(void *arg)
{
        struct sandbox_pool *pool = arg;

        pthread_mutex_lock(&pool->lock);
        while (!pool->stopping) {
                struct sandbox *sb = pop(&pool->dirty);

                if (sb) {
                        bool anomaly;

                        pool->n_dirty--;
                        pthread_mutex_unlock(&pool->lock);
                        sb = recycle(pool, sb, &anomaly);
                        pthread_mutex_lock(&pool->lock);
                        if (sb) {
                                push(&pool->ready, sb);
                                pool->n_ready++;
                                pthread_cond_signal(&pool->ready_cond);
                        } else {
                                pool->destroyed++;
                                pool->anomalies += anomaly;
                        }
                        continue;
                }
                if (pool->n_ready + pool->n_busy + pool->n_dirty + pool->n_creating <
                    pool->env.conf.pool_size) {
                        struct gv_err err = {0};
                        int r;

                        pool->n_creating++;
                        pthread_mutex_unlock(&pool->lock);
                        r = sandbox__create(&pool->env, &sb, &err);
                        pthread_mutex_lock(&pool->lock);
                        pool->n_creating--;
                        if (r == 0) {
                                pool->created++;
                                push(&pool->ready, sb);
                                pool->n_ready++;
                                pthread_cond_signal(&pool->ready_cond);
                        } else {
                                pool->last_err = err;
                                timed_wait(&pool->work_cond, &pool->lock, 1000); /* back off */
                        }
                        continue;
                }
                timed_wait(&pool->work_cond, &pool->lock, 1000);
        }
        pthread_mutex_unlock(&pool->lock);
        return NULL;
}

int sandbox_pool_new(const struct sandbox_conf *conf, struct sandbox_pool **ret_pool,
                     struct gv_err *err)
{
        struct sandbox_pool *pool = xcalloc(1, sizeof(*pool));
        struct sandbox *sb;
        int r;

        pthread_mutex_init(&pool->lock, NULL);
        pthread_cond_init(&pool->ready_cond, NULL);
        pthread_cond_init(&pool->work_cond, NULL);
        r = sandbox__env_init(&pool->env, conf, err);
        if (r < 0)
                goto fail;
        /* the first one here, so that what is wrong with the machine shows at once */
        r = sandbox__create(&pool->env, &sb, err);
        if (r < 0)
                goto fail;
        pool->created++;
        push(&pool->ready, sb);
        pool->n_ready++;
        r = -pthread_create(&pool->thread, NULL, maintain, pool);
        if (r < 0) {
                gv_err_errno(err, r, "start the pool thread");
                goto fail;
        }
        pool->thread_started = true;
        *ret_pool = pool;
        return 0;
fail:
        sandbox_pool_free(pool);
        return r;
}

void sandbox_pool_free(struct sandbox_pool *pool)
{
        struct sandbox *sb;

        if (!pool)
                return;
        pthread_mutex_lock(&pool->lock);
        pool->stopping = true;
        pthread_cond_broadcast(&pool->work_cond);
        pthread_cond_broadcast(&pool->ready_cond);
        pthread_mutex_unlock(&pool->lock);
        if (pool->thread_started)
                pthread_join(pool->thread, NULL);
        while ((sb = pop(&pool->ready)))
                sandbox__destroy(sb);
        while ((sb = pop(&pool->dirty)))
                sandbox__destroy(sb);
        sandbox__env_done(&pool->env);
        pthread_cond_destroy(&pool->ready_cond);
        pthread_cond_destroy(&pool->work_cond);
        pthread_mutex_destroy(&pool->lock);
        free(pool);
}

int sandbox_pool_acquire(struct sandbox_pool *pool, int timeout_ms, struct sandbox **ret_sb,
                         struct gv_err *err)
{
        struct timespec start, now;
        struct sandbox *sb;

        clock_gettime(CLOCK_MONOTONIC, &start);
        pthread_mutex_lock(&pool->lock);
        for (;;) {
                long waited;

                if (pool->stopping) {
                        pthread_mutex_unlock(&pool->lock);
                        return gv_err_set(err, -ECANCELED, "the pool is stopping");
                }
                sb = pop(&pool->ready);
                if (sb) {
                        pool->n_ready--;
                        if (!sandbox__dead(sb)) {
                                pool->n_busy++;
                                break;
                        }
                        /* its init died while idle: replace it */
                        pool->anomalies++;
                        pool->destroyed++;
                        pthread_mutex_unlock(&pool->lock);
                        sandbox__destroy(sb);
                        pthread_mutex_lock(&pool->lock);
                        pthread_cond_signal(&pool->work_cond);
                        continue;
                }
                clock_gettime(CLOCK_MONOTONIC, &now);
                waited = (now.tv_sec - start.tv_sec) * 1000 +
                         (now.tv_nsec - start.tv_nsec) / 1000000;
                if (timeout_ms >= 0 && waited >= timeout_ms) {
                        pthread_mutex_unlock(&pool->lock);
                        if (pool->last_err.code)
                                return gv_err_set(err, -ETIMEDOUT,
                                                  "no container ready; last creation failed: %s",
                                                  pool->last_err.msg);
                        return gv_err_set(err, -ETIMEDOUT, "no container ready in %d ms",
                                          timeout_ms);
                }
                pthread_cond_signal(&pool->work_cond);
                timed_wait(&pool->ready_cond, &pool->lock,
                           timeout_ms < 0 ? 1000 : (int)(timeout_ms - waited));
        }
        pthread_mutex_unlock(&pool->lock);
        *ret_sb = sb;
        return 0;
}

void sandbox_pool_release(struct sandbox_pool *pool, struct sandbox *sb)
{
        if (!sb)
                return;
        pthread_mutex_lock(&pool->lock);
        pool->n_busy--;
        push(&pool->dirty, sb);
        pool->n_dirty++;
        pthread_cond_signal(&pool->work_cond);
        pthread_mutex_unlock(&pool->lock);
}

void sandbox_pool_stats(struct sandbox_pool *pool, struct sandbox_pool_stats *ret_stats)
{
        pthread_mutex_lock(&pool->lock);
        *ret_stats = (struct sandbox_pool_stats){
                .ready = pool->n_ready,
                .busy = pool->n_busy,
                .created = pool->created,
                .destroyed = pool->destroyed,
                .anomalies = pool->anomalies,
                .cgroup_mode = sandbox__cgroup_mode_name(sandbox__cgroup_sys_mode(pool->env.cgsys)),
                .userns = pool->env.userns,
        };
        pthread_mutex_unlock(&pool->lock);
}

int sandbox_create(struct sandbox_pool *pool, struct sandbox **ret_sb, struct gv_err *err)
{
        return sandbox__create(&pool->env, ret_sb, err);
}

void sandbox_destroy(struct sandbox *sb)
{
        sandbox__destroy(sb);
}
