/* SPDX-License-Identifier: MIT */
/*
 * gavel worker: a member of the judging fleet. It joins the consumer group on the jobs topic,
 * hands each job to the judging engine (K slots), and publishes every verdict exactly once
 * through queue/'s transactional session, while stage events go to the progress topic at least
 * once. The polling thread owns Kafka; slot threads only finish jobs (queue_job_finish is
 * thread-safe and wakes the poller) and send progress. SIGTERM and SIGINT stop taking jobs, let
 * the ones being judged finish for a grace period, abandon the rest, commit and leave the group.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue.h"
#include "schema/cleanup.h"
#include "schema/schema.h"
#include "worker/audit/audit.h"
#include "worker/cmd.h"
#include "worker/config.h"
#include "worker/daemon.h"
#include "worker/judge/judge.h"
#include "worker/judge/lang.h"
#include "worker/kafka.h"
#include "worker/setup.h"
#include "worker/util/clock.h"
#include "worker/util/log.h"

#define WORKER_SLOT_MAX    64           /* local worker numbers tried for a derived id */
#define VERDICT_BYTES_MAX  (512 * 1024) /* a verdict beyond this loses its logs, then is SE */
#define DLQ_BYTES_MAX      (900 * 1024) /* under librdkafka's default message.max.bytes */
#define ABANDON_TIMEOUT_MS 30000        /* after the grace: for cancelled jobs to come back */

struct worker {
        struct worker_config conf;
        char *id;    /* the worker id: conf.id or derived */
        int lock_fd; /* holds the local slot behind a derived id, or -1 */
        struct schema_limits lim;
        struct lang_table *langs;
        struct judge *judge;
        struct queue_producer *progress;
        struct queue_eos *eos;
        struct audit *audit; /* or NULL: no audit log */
        int64_t *audit_ids;  /* verdict rows of the transaction being published */
        size_t n_audit_ids;
        atomic_uint progress_errors; /* failed progress sends (logged once per 100) */
};

/* One job handed to the engine: lives from on_job until its done callback. */
struct wjob {
        struct worker *w;
        struct queue_job *qjob;
        struct job job;
        int64_t attempt_id; /* audit row, or 0 */
        int64_t received_ms;
};

/* ---- the audit log's hook points ----------------------------------------------------------
 * With --audit (or audit: in the file) every job received, every attempt and every verdict's
 * publish state is recorded; a verdict is made durable before its transaction commits (the
 * PENDING phase of queue/'s publish hook), so the log never lacks a verdict the topic has.
 * Without it these functions do nothing.
 */

static void audit_log_cb(bool error, const char *msg, void *userdata)
{
        (void)userdata;
        if (error)
                log_error(msg, "fac=audit");
        else
                log_info(msg, "fac=audit");
}

/* A job arrived (job NULL: it did not decode); its first attempt starts. */
static void audit_received(struct worker *w, const struct queue_msg *msg, const struct job *job,
                           int64_t received_ms, int64_t *ret_attempt_id)
{
        struct audit_origin origin = {
                .topic = msg->topic,
                .partition = msg->partition,
                .offset = msg->offset,
                .key = msg->key,
                .key_len = msg->key_len,
                .received_ms = received_ms,
        };
        struct gv_err err = {0};
        int64_t job_id;

        *ret_attempt_id = 0;
        if (!w->audit)
                return;
        if (audit_job_received(w->audit, msg->value, msg->len, job, &origin, &job_id, &err) < 0 ||
            audit_attempt_started(w->audit, job_id, job && job->attempt ? job->attempt : 1,
                                  ret_attempt_id, &err) < 0)
                log_error("audit: cannot record a job", "err=\"%s\"", err.msg);
}

/* An attempt ended: with a verdict, or abandoned (verdict NULL). */
static void audit_finished(struct worker *w, int64_t attempt_id, const struct verdict *verdict,
                           const char *reason)
{
        struct gv_err err = {0};

        if (!w->audit || !attempt_id)
                return;
        if (audit_attempt_finished(w->audit, attempt_id,
                                   verdict ? AUDIT_ATTEMPT_DONE : AUDIT_ATTEMPT_ABANDONED, reason,
                                   verdict, &err) < 0)
                log_error("audit: cannot record an attempt", "err=\"%s\"", err.msg);
}

/* What the audit log indexes of a verdict, noted with its job when it is finished, so that the
 * publish hook need not decode the bytes it was encoded into. */
struct verdict_note {
        enum schema_code code;
        double score, max_score;
};

/* queue/'s publish hook: durable before commit, marked after. */
static int on_publish(enum queue_publish_phase phase, const struct queue_published *pub, size_t n,
                      void *userdata)
{
        struct worker *w = userdata;
        cleanup_free struct audit_verdict *av = NULL;
        cleanup_free struct verdict *summary = NULL;
        struct gv_err err = {0};
        size_t k = 0;
        int r = 0;

        if (!w->audit)
                return 0;
        if (phase != QUEUE_PUBLISH_PENDING) {
                if (w->n_audit_ids &&
                    audit_verdicts_mark(w->audit, w->audit_ids, w->n_audit_ids,
                                        phase == QUEUE_PUBLISH_COMMITTED ? AUDIT_COMMITTED
                                                                         : AUDIT_ABORTED,
                                        &err) < 0)
                        log_error("audit: cannot mark verdicts", "err=\"%s\"", err.msg);
                w->n_audit_ids = 0;
                return 0;
        }
        av = xcalloc(n, sizeof(*av));
        summary = xcalloc(n, sizeof(*summary));
        for (size_t i = 0; i < n; i++) {
                struct verdict_note note;

                if (pub[i].skipped || !pub[i].tag || !pub[i].verdict ||
                    pub[i].note_len != sizeof(note))
                        continue;
                memcpy(&note, pub[i].note, sizeof(note));
                /* the fields the log indexes; the rest is in the bytes */
                summary[k] = (struct verdict){
                        .verdict = note.code, .score = note.score, .max_score = note.max_score};
                av[k] = (struct audit_verdict){
                        .attempt_id = pub[i].tag,
                        .verdict = &summary[k],
                        .raw = pub[i].verdict,
                        .raw_len = pub[i].verdict_len,
                };
                k++;
        }
        free(w->audit_ids);
        w->audit_ids = xcalloc(k, sizeof(*w->audit_ids));
        w->n_audit_ids = 0;
        if (k) {
                r = audit_verdicts_pending(w->audit, av, k, w->audit_ids, &err);
                if (r < 0)
                        log_error("audit: verdicts not durable: not publishing them", "err=\"%s\"",
                                  err.msg);
                else
                        w->n_audit_ids = k;
        }
        return r;
}

/* ---- verdicts and progress ------------------------------------------------------------------ */

/* A usable Kafka key and verdict id for a job that did not decode: its key, else its place. */
static void undecoded_id(const struct queue_msg *msg, char *buf, size_t size)
{
        bool ok = msg->key && msg->key_len > 0 && msg->key_len <= 128 &&
                  !memchr(msg->key, '\0', msg->key_len);

        if (ok)
                snprintf(buf, size, "%.*s", (int)msg->key_len, (const char *)msg->key);
        else
                snprintf(buf, size, "%s[%" PRId32 "]@%" PRId64, msg->topic, msg->partition,
                         msg->offset);
}

/*
 * Encodes v; a verdict too large for Kafka first loses its logs and messages, then becomes SE:
 * a partition must never stall on a verdict the broker refuses.
 */
static int encode_verdict(struct verdict *v, void **ret_buf, size_t *ret_len)
{
        int r = schema_verdict_encode(v, ret_buf, ret_len);

        if (r == -EILSEQ) { /* a str the judge did not make valid: never a lost verdict */
                schema_utf8_fix(&v->id);
                schema_utf8_fix(&v->reason);
                schema_utf8_fix(&v->compile.log);
                schema_utf8_fix(&v->worker);
                for (size_t i = 0; i < v->n_tests; i++)
                        schema_utf8_fix(&v->tests[i].checker_message);
                r = schema_verdict_encode(v, ret_buf, ret_len);
        }

        if (r == 0 && *ret_len <= VERDICT_BYTES_MAX)
                return 0;
        if (r == 0)
                free(*ret_buf);
        free(v->compile.log);
        v->compile.log = NULL;
        for (size_t i = 0; i < v->n_tests; i++) {
                free(v->tests[i].checker_message);
                v->tests[i].checker_message = NULL;
        }
        r = schema_verdict_encode(v, ret_buf, ret_len);
        if (r == 0 && *ret_len <= VERDICT_BYTES_MAX)
                return 0;
        if (r == 0)
                free(*ret_buf);
        v->verdict = SCHEMA_SE;
        free(v->reason);
        v->reason = xstrdup("the verdict is too large to publish");
        free(v->tests);
        v->tests = NULL;
        v->n_tests = 0;
        return schema_verdict_encode(v, ret_buf, ret_len);
}

/* Publishes v for qjob (REJECTED ones with a dead-letter copy); frees nothing of v. */
static void finish_with(struct queue_job *qjob, struct verdict *v)
{
        const struct queue_msg *msg = queue_job_msg(qjob);
        const char *dlq = NULL;
        struct verdict_note note;
        void *buf = NULL;
        size_t len = 0;

        if (encode_verdict(v, &buf, &len) < 0) {
                log_error("cannot encode a verdict", "id=%s", v->id);
                abort(); /* a verdict of our own making always encodes */
        }
        memset(&note, 0, sizeof(note)); /* no padding bytes of the stack in the copy */
        note.code = v->verdict;
        note.score = v->score;
        note.max_score = v->max_score;
        queue_job_set_note(qjob, &note, sizeof(note));
        if (v->verdict == SCHEMA_REJECTED) {
                dlq = v->reason ? v->reason : "rejected";
                if (msg->len > DLQ_BYTES_MAX) {
                        log_error("job too large for the dead-letter topic: not copied",
                                  "id=%s bytes=%zu", v->id, msg->len);
                        dlq = NULL;
                }
        }
        queue_job_finish(qjob, buf, len, v->id, dlq);
}

/* Slot threads: each stage of a job, straight to the progress topic. */
static void on_progress(const struct progress *p, void *userdata)
{
        struct wjob *wj = userdata;
        struct worker *w = wj->w;
        struct gv_err err = {0};
        void *buf = NULL;
        size_t len;

        if (schema_progress_encode(p, &buf, &len) < 0 ||
            queue_producer_send(w->progress, w->conf.topic_progress, -1, p->id, strlen(p->id), buf,
                                len, NULL, 0, &err) < 0) {
                if (atomic_fetch_add(&w->progress_errors, 1) % 100 == 0)
                        log_warn("progress not sent", "id=%s err=\"%s\"", p->id, err.msg);
        }
        free(buf);
}

/* Slot threads: the engine is done with a job. */
static void on_done(struct verdict *v, bool cancelled, void *userdata)
{
        struct wjob *wj = userdata;

        if (cancelled) {
                audit_finished(wj->w, wj->attempt_id, NULL, "cancelled");
                queue_job_finish(wj->qjob, NULL, 0, NULL, NULL);
        } else {
                audit_finished(wj->w, wj->attempt_id, v, NULL);
                queue_job_set_tag(wj->qjob, wj->attempt_id);
                finish_with(wj->qjob, v);
        }
        log_debug("job done", "id=%s verdict=%s cancelled=%d ms=%" PRId64, wj->job.id,
                  schema_code_name(v->verdict), cancelled, clock_wall_ms() - wj->received_ms);
        verdict_done(v);
        job_done(&wj->job);
        free(wj);
}

/* The polling thread: a job to judge. */
static void on_job(struct queue_job *qjob, void *userdata)
{
        struct worker *w = userdata;
        const struct queue_msg *msg = queue_job_msg(qjob);
        struct wjob *wj = xcalloc(1, sizeof(*wj));
        struct gv_err err = {0};
        struct verdict v;
        int r;

        wj->w = w;
        wj->qjob = qjob;
        wj->received_ms = clock_wall_ms();
        r = schema_job_decode(msg->value, msg->len, &w->lim, &wj->job, &err);
        audit_received(w, msg, r == 0 ? &wj->job : NULL, wj->received_ms, &wj->attempt_id);
        if (r < 0) {
                char id[160];

                undecoded_id(msg, id, sizeof(id));
                log_warn("job rejected",
                         "id=\"%s\" partition=%" PRId32 " offset=%" PRId64 " reason=\"%s\"", id,
                         msg->partition, msg->offset, err.msg);
                if (judge_rejected(id, err.msg, w->id, &v) < 0)
                        abort();
                v.received_ms = wj->received_ms;
                audit_finished(w, wj->attempt_id, &v, NULL);
                queue_job_set_tag(qjob, wj->attempt_id);
                finish_with(qjob, &v);
                verdict_done(&v);
                free(wj);
                return;
        }
        log_debug("job received", "id=%s lang=%s partition=%" PRId32 " offset=%" PRId64, wj->job.id,
                  wj->job.lang, msg->partition, msg->offset);
        r = judge_submit(w->judge,
                         &(struct judge_request){
                                 .job = &wj->job,
                                 .cancel = queue_job_cancelled(qjob),
                                 .progress = on_progress,
                                 .done = on_done,
                                 .userdata = wj,
                                 .received_ms = wj->received_ms,
                         },
                         &err);
        if (r < 0) { /* the engine is going away: the job is this worker's failure, not the job's */
                log_error("cannot judge", "id=%s err=\"%s\"", wj->job.id, err.msg);
                audit_finished(w, wj->attempt_id, NULL, err.msg);
                queue_job_finish(qjob, NULL, 0, NULL, NULL);
                job_done(&wj->job);
                free(wj);
        }
}

/* ---- set-up -----------------------------------------------------------------------------------
 */

/* Where derived worker ids are locked: /run/gavel as root, else the user's runtime folder. */
static int lock_dir(char *buf, size_t size)
{
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        int n;

        if (geteuid() == 0)
                n = snprintf(buf, size, "/run/gavel");
        else if (xdg && *xdg)
                n = snprintf(buf, size, "%s/gavel", xdg);
        else
                n = snprintf(buf, size, "/tmp/gavel-%u", (unsigned)geteuid());
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/*
 * The worker id when none is configured: "<host>-<n>" with the lowest n whose lock file no other
 * worker of this group on this host holds. Stable across restarts, so a restarted worker takes
 * its predecessor's transactional id and fences it; distinct while running, so two workers on
 * one host never fence each other.
 */
static int derive_id(struct worker *w, struct gv_err *err)
{
        char host[HOST_NAME_MAX + 1] = "localhost", dir[256], path[512];

        gethostname(host, sizeof(host) - 1);
        if (lock_dir(dir, sizeof(dir)) < 0)
                return gv_err_set(err, -ENAMETOOLONG, "worker id: $XDG_RUNTIME_DIR is too long");
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return gv_err_errno(err, -errno, "worker id: cannot create '%s'", dir);
        for (int n = 1; n <= WORKER_SLOT_MAX; n++) {
                int fd;

                snprintf(path, sizeof(path), "%s/worker-%.64s-%d.lock", dir, w->conf.group, n);
                fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        return gv_err_errno(err, -errno, "worker id: cannot open '%s'", path);
                if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                        w->lock_fd = fd;
                        w->id = xasprintf("%.64s-%d", host, n);
                        return 0;
                }
                close(fd);
        }
        return gv_err_set(err, -EBUSY, "worker id: %d workers of group '%s' already run here",
                          WORKER_SLOT_MAX, w->conf.group);
}

static int start_judge(struct worker *w, struct gv_err *err)
{
        return setup_judge(&w->conf, w->id, &w->langs, &w->judge, err);
}

static int start_kafka(struct worker *w, struct gv_err *err)
{
        struct queue_eos_conf ec;
        char txn_id[256];
        int r;

        setup_eos_conf(&w->conf, w->id, judge_slots(w->judge), txn_id, sizeof(txn_id), &ec);
        r = queue_producer_new(&ec.kafka, &w->progress, err);
        if (r < 0)
                return r;
        return queue_eos_new(&ec, on_job, on_publish, w, &w->eos, err);
}

static int start_audit(struct worker *w, struct gv_err *err)
{
        struct audit_conf ac;

        setup_audit_conf(&w->conf, w->id, audit_log_cb, &ac);
        if (!w->conf.audit)
                return 0;
        return audit_open(&ac, &w->audit, err);
}

/* ---- running ----------------------------------------------------------------------------------
 */

/* One line of counters for operators: what came in, went out, is being judged, and whether jobs
 * are being taken. */
static void log_status(struct worker *w, bool held)
{
        struct queue_eos_stats st;

        queue_eos_stats(w->eos, &st);
        log_info("status",
                 "received=%" PRIu64 " published=%" PRIu64 " skipped=%" PRIu64 " abandoned=%" PRIu64
                 " in_flight=%u busy_slots=%u/%u transactions=%" PRIu64 " aborts=%" PRIu64
                 " rebalances=%" PRIu64 " taking_jobs=%s",
                 st.received, st.published, st.skipped, st.abandoned, queue_eos_in_flight(w->eos),
                 judge_busy(w->judge), judge_slots(w->judge), st.transactions, st.aborts,
                 st.rebalances, held ? "no" : "yes");
}

/* Polls until told to stop or the session fails; returns 0 or the session's error. */
static int serve(struct worker *w)
{
        int64_t next_status = clock_mono_ms() + w->conf.status_interval_ms;
        struct gv_err err = {0};
        bool held = false;
        int r;

        while (!kafka_stop) {
                if (w->conf.status_interval_ms && clock_mono_ms() >= next_status) {
                        log_status(w, held);
                        next_status = clock_mono_ms() + w->conf.status_interval_ms;
                }
                r = queue_eos_poll(w->eos, 1000, &err);
                if (r < 0) {
                        log_error("kafka session failed", "err=\"%s\"", err.msg);
                        return r;
                }
                queue_producer_poll(w->progress);
                if (w->audit && audit_healthy(w->audit) == held) {
                        held = !held; /* a log that cannot write takes no more jobs */
                        queue_eos_hold(w->eos, held);
                        if (held) {
                                audit_last_error(w->audit, &err);
                                log_error("audit log failing: taking no jobs", "err=\"%s\"",
                                          err.msg);
                        } else
                                log_info("audit log writes again: taking jobs", NULL);
                }
        }
        return 0;
}

/* Lets jobs being judged finish within the grace, abandons the rest, commits, leaves. */
static int shut_down(struct worker *w)
{
        int64_t deadline = clock_mono_ms() + w->conf.grace_ms;
        struct gv_err err = {0};
        int r;

        queue_eos_hold(w->eos, true);
        log_info("stopping", "in_flight=%u grace_ms=%u", queue_eos_in_flight(w->eos),
                 w->conf.grace_ms);
        while (queue_eos_in_flight(w->eos) > 0 && clock_mono_ms() < deadline)
                if (queue_eos_poll(w->eos, 100, &err) < 0)
                        break;
        if (queue_eos_in_flight(w->eos) > 0) {
                log_warn("grace over: abandoning jobs", "in_flight=%u",
                         queue_eos_in_flight(w->eos));
                queue_eos_abandon(w->eos);
                deadline = clock_mono_ms() + ABANDON_TIMEOUT_MS;
                while (queue_eos_in_flight(w->eos) > 0 && clock_mono_ms() < deadline)
                        if (queue_eos_poll(w->eos, 100, &err) < 0)
                                break;
        }
        r = queue_eos_close(w->eos, &err);
        if (r < 0)
                log_error("final commit failed", "err=\"%s\"", err.msg);
        return r;
}

static void worker_done(struct worker *w)
{
        struct queue_eos_stats st;

        /* the engine first: every job it holds is finished before the session goes */
        judge_free(w->judge);
        if (w->eos) {
                queue_eos_stats(w->eos, &st);
                log_info("stopped",
                         "received=%" PRIu64 " published=%" PRIu64 " skipped=%" PRIu64
                         " abandoned=%" PRIu64 " transactions=%" PRIu64 " aborts=%" PRIu64,
                         st.received, st.published, st.skipped, st.abandoned, st.transactions,
                         st.aborts);
        }
        queue_eos_free(w->eos);
        /* progress is best effort: a stopping worker does not wait on gone brokers for it */
        queue_producer_close(w->progress, 2000);
        audit_free(w->audit);
        lang_table_free(w->langs);
        free(w->audit_ids);
        free(w->id);
        if (w->lock_fd >= 0)
                close(w->lock_fd);
        worker_config_done(&w->conf);
}

int daemon_run(struct worker_config *conf)
{
        struct worker w = {.conf = *conf, .lock_fd = -1};
        struct gv_err err = {0};
        int r;

        *conf = (struct worker_config){0}; /* w owns its strings now */
        schema_limits_default(&w.lim);
        if (w.conf.id)
                w.id = xstrdup(w.conf.id);
        kafka_catch_signals();
        /* containers before librdkafka's threads: the pool forks (sandbox.h) */
        r = w.id ? 0 : derive_id(&w, &err);
        if (r == 0)
                r = start_judge(&w, &err);
        if (r == 0)
                r = start_audit(&w, &err);
        if (r == 0)
                r = start_kafka(&w, &err);
        if (r < 0) {
                fprintf(stderr, "gavel worker: %s\n", err.msg);
                worker_done(&w);
                return r == -EINVAL || r == -ENOENT ? EXIT_USAGE : EXIT_FAILURE_SYSTEM;
        }
        kafka_stop_eos = w.eos;
        log_info("worker started", "id=%s group=%s slots=%u brokers=%s", w.id, w.conf.group,
                 judge_slots(w.judge), w.conf.brokers);
        r = serve(&w);
        if (shut_down(&w) < 0 && r == 0)
                r = -EIO;
        kafka_stop_eos = NULL;
        worker_done(&w);
        return r < 0 ? EXIT_FAILURE_SYSTEM : 0;
}
