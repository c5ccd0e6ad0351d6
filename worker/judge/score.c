/* SPDX-License-Identifier: MIT */
/*
 * Scoring, pure: the limits a test runs under, which tests still matter when subtasks are
 * doomed, and the verdict's aggregation (judge-internal.h). No I/O, no containers.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "schema/cleanup.h"
#include "worker/judge/judge-internal.h"

/* ---- limits ------------------------------------------------------------------------------ */

static uint64_t pick(uint64_t job, uint64_t problem, uint64_t def)
{
        return job ? job : problem ? problem : def;
}

static int check_limit(const char *name, uint64_t v, uint64_t max, struct gv_err *err)
{
        if (v > max)
                return gv_err_set(err, -EBADMSG,
                                  "limits.%s: %" PRIu64
                                  " is over this worker's maximum of %" PRIu64,
                                  name, v, max);
        return 0;
}

int judge__check_limits(const struct job_limits *job, const struct job_limits *max,
                        struct gv_err *err)
{
        int r = check_limit("time_ms", job->time_ms, max->time_ms, err);

        if (r == 0)
                r = check_limit("wall_ms", job->wall_ms, max->wall_ms, err);
        if (r == 0)
                r = check_limit("memory_kib", job->memory_kib, max->memory_kib, err);
        if (r == 0)
                r = check_limit("output_kib", job->output_kib, max->output_kib, err);
        return r;
}

struct sandbox_limits judge__run_limits(const struct job_limits *job,
                                        const struct job_limits *problem,
                                        const struct job_limits *def, const struct lang *lang)
{
        double factor = lang->time_factor > 0 ? lang->time_factor : 1.0;
        uint64_t time, wall;

        time = (uint64_t)llround((double)pick(job->time_ms, problem->time_ms, def->time_ms) *
                                 factor);
        wall = pick(job->wall_ms, problem->wall_ms, def->wall_ms);
        wall = wall ? (uint64_t)llround((double)wall * factor) : 2 * time + 1000;
        return (struct sandbox_limits){
                .time_ms = (uint32_t)(time < UINT32_MAX ? time : UINT32_MAX),
                .wall_ms = (uint32_t)(wall < UINT32_MAX ? wall : UINT32_MAX),
                .memory_kib = pick(job->memory_kib, problem->memory_kib, def->memory_kib) +
                              lang->extra_memory_kib,
                .output_kib = pick(job->output_kib, problem->output_kib, def->output_kib),
                .pids = 64 + lang->extra_pids,
        };
}

/* ---- subtasks ---------------------------------------------------------------------------- */

void judge__plan_init(struct judge__plan *plan, const struct problem *p)
{
        size_t total = 0;

        *plan = (struct judge__plan){.problem = p};
        if (!p->n_subtasks)
                return;
        plan->doomed = xcalloc(p->n_subtasks, sizeof(bool));
        plan->start = xcalloc(p->n_tests + 1, sizeof(size_t));
        for (size_t s = 0; s < p->n_subtasks; s++)
                for (size_t k = 0; k < p->subtasks[s].n_tests; k++)
                        if (p->subtasks[s].tests[k] < p->n_tests) {
                                plan->start[p->subtasks[s].tests[k] + 1]++;
                                total++;
                        }
        for (size_t i = 0; i < p->n_tests; i++)
                plan->start[i + 1] += plan->start[i];
        plan->of = xcalloc(total ? total : 1, sizeof(size_t));
        {
                cleanup_free size_t *fill = xcalloc(p->n_tests, sizeof(size_t));

                for (size_t s = 0; s < p->n_subtasks; s++)
                        for (size_t k = 0; k < p->subtasks[s].n_tests; k++) {
                                size_t t = p->subtasks[s].tests[k];

                                if (t < p->n_tests)
                                        plan->of[plan->start[t] + fill[t]++] = s;
                        }
        }
}

void judge__plan_done(struct judge__plan *plan)
{
        free(plan->start);
        free(plan->of);
        free(plan->doomed);
        *plan = (struct judge__plan){0};
}

/* A subtask is doomed when one of its tests failed or a dependency is doomed. */
static void propagate_doom(const struct problem *p, bool *doomed)
{
        for (bool changed = true; changed;) {
                changed = false;
                for (size_t s = 0; s < p->n_subtasks; s++) {
                        const struct problem_subtask *st = &p->subtasks[s];

                        for (size_t k = 0; k < st->n_depends && !doomed[s]; k++)
                                if (st->depends[k] >= p->n_subtasks || doomed[st->depends[k]]) {
                                        doomed[s] = true;
                                        changed = true;
                                }
                }
        }
}

/* A test runs unless every subtask it belongs to is doomed already: its result could change
 * nothing (the overall verdict is the first failure, which came before). */
bool judge__plan_needed(const struct judge__plan *plan, size_t i)
{
        if (!plan->start || plan->start[i] == plan->start[i + 1])
                return true;
        for (size_t k = plan->start[i]; k < plan->start[i + 1]; k++)
                if (!plan->doomed[plan->of[k]])
                        return true;
        return false;
}

void judge__plan_failed(struct judge__plan *plan, size_t i)
{
        if (!plan->start)
                return;
        for (size_t k = plan->start[i]; k < plan->start[i + 1]; k++)
                plan->doomed[plan->of[k]] = true;
        propagate_doom(plan->problem, plan->doomed);
}

/* ---- aggregation ------------------------------------------------------------------------- */

static void score_subtasks(const struct problem *p, struct verdict *v)
{
        cleanup_free bool *scores = xcalloc(p->n_subtasks, sizeof(bool));

        for (size_t s = 0; s < p->n_subtasks; s++) {
                const struct problem_subtask *st = &p->subtasks[s];

                scores[s] = true;
                for (size_t k = 0; k < st->n_tests; k++)
                        if (st->tests[k] >= v->n_tests ||
                            v->tests[st->tests[k]].verdict != SCHEMA_AC)
                                scores[s] = false;
        }
        for (bool changed = true; changed;) {
                changed = false;
                for (size_t s = 0; s < p->n_subtasks; s++) {
                        const struct problem_subtask *st = &p->subtasks[s];

                        for (size_t k = 0; k < st->n_depends && scores[s]; k++)
                                if (st->depends[k] >= p->n_subtasks || !scores[st->depends[k]]) {
                                        scores[s] = false;
                                        changed = true;
                                }
                }
        }
        for (size_t s = 0; s < p->n_subtasks; s++) {
                v->max_score += p->subtasks[s].points;
                if (scores[s])
                        v->score += p->subtasks[s].points;
        }
}

/* Per-test points; when no test carries any, each test is worth one. */
static void score_tests(const struct problem *p, struct verdict *v)
{
        bool any = false;

        for (size_t i = 0; i < p->n_tests; i++)
                any |= p->tests[i].points > 0;
        for (size_t i = 0; i < p->n_tests; i++) {
                double pts = any ? p->tests[i].points : 1.0;

                v->max_score += pts;
                if (v->tests[i].verdict == SCHEMA_AC)
                        v->score += pts;
        }
}

void judge__aggregate(const struct problem *problem, struct verdict *v)
{
        const struct verdict_test *first = NULL;
        size_t first_i = 0;

        for (size_t i = 0; i < v->n_tests; i++) {
                const struct verdict_test *t = &v->tests[i];

                if (t->verdict == SCHEMA_SKIPPED)
                        continue;
                if (t->time_ms > v->time_ms)
                        v->time_ms = t->time_ms;
                if (t->memory_kib > v->memory_kib)
                        v->memory_kib = t->memory_kib;
                if (!first && t->verdict != SCHEMA_AC) {
                        first = t;
                        first_i = i;
                }
        }
        v->verdict = first ? first->verdict : SCHEMA_AC;
        if (first && first->verdict == SCHEMA_SE)
                v->reason =
                        xasprintf("test %zu: %s", first_i + 1,
                                  first->checker_message ? first->checker_message : "system error");
        if (problem->n_subtasks)
                score_subtasks(problem, v);
        else
                score_tests(problem, v);
}
