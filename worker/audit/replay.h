/* SPDX-License-Identifier: MIT */
/*
 * What `gavel replay` decides on its own, apart from judging and Kafka: whether two verdicts of
 * one job agree (the determinism check), and the job a requeue puts back on the jobs topic.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "schema/schema.h"

/*
 * Compares what a rejudge can be expected to reproduce: the overall verdict, the score, whether
 * it compiled, the number of tests and each test's verdict. Times, memory, messages, worker and
 * timestamps may differ between runs and are not compared. Returns true when they agree; else
 * false with a one-line description of the differences in buf ("verdict AC -> WA; test 3: AC ->
 * WA; score 100 -> 70"), cut to size.
 */
bool replay_same_verdict(const struct verdict *recorded, const struct verdict *now, char *buf,
                         size_t size);

/*
 * The recorded job raw (msgpack) as a requeue sends it: attempt incremented, marked as a rejudge,
 * every other field as it was. A malloc'ed buffer in *ret_buf; -EBADMSG (err set) when raw is not
 * a valid job.
 */
int replay_requeue_job(const void *raw, size_t len, void **ret_buf, size_t *ret_len,
                       struct gv_err *err);
