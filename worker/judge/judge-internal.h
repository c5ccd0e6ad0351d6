/* SPDX-License-Identifier: MIT */
/*
 * What the engine's files share (judge.h is the API). score.c is pure: limit resolution, the
 * order in which tests still matter (subtasks), and the verdict's aggregation, so it is tested
 * without containers or root.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/sandbox.h"
#include "schema/err.h"
#include "schema/schema.h"
#include "worker/judge/lang.h"
#include "worker/judge/problem/problem.h"

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
