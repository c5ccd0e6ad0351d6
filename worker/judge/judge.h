/* SPDX-License-Identifier: MIT */
/*
 * The judging engine: turns a job into a verdict on this host. K slots (threads), each judging one
 * job at a time with containers from one shared pool: compile (through the compile cache), run
 * every test, check the output, aggregate. `gavel run` calls it for one job; the Kafka worker
 * feeds it many at once and keeps polling while it works.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sandbox/sandbox.h"
#include "schema/err.h"
#include "schema/schema.h"
#include "worker/judge/lang.h"
#include "worker/judge/problem/problem.h"

struct judge_conf {
        unsigned slots;                   /* jobs judged at once; 0: the number of cores */
        const struct lang_table *langs;   /* borrowed; must outlive the engine */
        const char *problem_store;        /* folder of problems for jobs naming one; NULL: none */
        const char *cache_dir;            /* compile cache; NULL: /var/cache/gavel (root) or
                                             $XDG_CACHE_HOME/gavel */
        uint64_t cache_max_kib;           /* 0: 1 GiB */
        struct sandbox_conf sandbox;      /* pool_size 0: slots + 1 */
        const char *worker_id;            /* written into verdicts and progress; NULL: hostname */
        struct job_limits default_limits; /* when neither job nor problem sets one:
                                             1 s, wall 2*time+1 s, 256 MiB, 64 MiB output */
        struct job_limits max_limits;     /* a job asking for more is REJECTED; 0: 60 s, 120 s,
                                             2 GiB, 1 GiB */
        uint32_t compile_log_max;         /* bytes of compiler output kept; 0: 64 KiB */
        uint32_t stderr_max;              /* bytes of a test's stderr handed to the output
                                             hook; 0: 4 KiB */
};

void judge_conf_default(struct judge_conf *conf);

struct judge;

/*
 * Starts the engine: the container pool (before any library thread that forks: create it before
 * the librdkafka handles), the compile cache and the slot threads. conf is copied, its strings
 * too; conf->langs is borrowed. Compilers' versions are probed on first use of each language.
 * -errno with err set when the pool cannot start (no gavel-init, no cgroups) or the cache
 * folder cannot be made.
 */
int judge_new(const struct judge_conf *conf, struct judge **ret_judge, struct gv_err *err);
/* Waits for the jobs being judged (cancel them first to be quick), hands the queued ones back
 * through their done callbacks as cancelled, and frees everything. */
void judge_free(struct judge *judge); /* NULL is a no-op */

/* Called from a slot thread at each stage (received, compiling, test k of n, done). */
typedef void (*judge_progress_fn)(const struct progress *progress, void *userdata);
/*
 * Called once per submitted job, from a slot thread, when it is judged or cancelled. The verdict
 * is always complete (REJECTED for an invalid job, SE for a failure of the judge, with reason);
 * the callee owns what its fields point to (copy *verdict to keep it; *verdict itself lives only
 * during the call) and frees that with verdict_done. cancelled: the job was abandoned (the
 * verdict is then SE "cancelled" and must not be published): when its cancel flag was set, or
 * when the engine was freed before the job left the queue.
 */
typedef void (*judge_done_fn)(struct verdict *verdict, bool cancelled, void *userdata);
/*
 * Called from a slot thread after test i (0-based) ran, before its output is checked: out_fd is
 * the program's stdout (read it with pread; its size is the output's), err its stderr's first
 * stderr_max bytes. For tools (gavel run, benchmarks), never for verdicts: a program can copy
 * the test data there.
 */
typedef void (*judge_output_fn)(size_t i, int out_fd, const char *err, size_t err_len,
                                void *userdata);

struct judge_request {
        const struct job *job;      /* borrowed until done is called */
        const atomic_bool *cancel;  /* set to abandon the job (a running test is killed within
                                     * SANDBOX_CANCEL_MS); borrowed until done; or NULL */
        judge_progress_fn progress; /* or NULL */
        judge_done_fn done;
        judge_output_fn output; /* or NULL */
        void *userdata;
        int64_t received_ms;           /* when the job arrived (for the verdict); 0: now */
        const struct problem *problem; /* borrowed until done: judge against this problem
                                          instead of job->problem or job->tests (gavel run
                                          --problem DIR); or NULL */
};

/* Queues a job for the next free slot; never blocks. -ENOMEM, -ESHUTDOWN while freeing. */
int judge_submit(struct judge *judge, const struct judge_request *req, struct gv_err *err);

/* Judges one job and waits for it: *ret_verdict is complete as for judge_done_fn. -ESHUTDOWN. */
int judge_run(struct judge *judge, const struct job *job, judge_progress_fn progress,
              void *userdata, struct verdict *ret_verdict, struct gv_err *err);
/* The same for a full request (req->done is not used; req->cancel, output, problem are). */
int judge_run_request(struct judge *judge, const struct judge_request *req,
                      struct verdict *ret_verdict, struct gv_err *err);

/* Jobs queued or being judged. */
unsigned judge_busy(struct judge *judge);
unsigned judge_slots(const struct judge *judge);

/* Fills a REJECTED verdict (id may be NULL for bytes that did not decode: "" then). */
int judge_rejected(const char *id, const char *reason, const char *worker_id,
                   struct verdict *ret_verdict);
