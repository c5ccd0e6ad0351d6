/* SPDX-License-Identifier: MIT */
/*
 * The exactly-once session (see struct queue_eos in queue.h for the contract). One polling thread
 * owns everything here but the list of finished jobs, which slot threads append to under a lock
 * before waking the poller through a pipe. Three clients: the group consumer of the jobs topic,
 * the transactional producer of verdicts, and the guard, a group-less read_committed consumer
 * that reads a newly assigned partition's verdicts before any of its jobs is handed out.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue-internal.h"
#include "schema/cleanup.h"

#define EOS_META_TIMEOUT_MS    15000
#define EOS_INIT_TIMEOUT_MS    60000
#define EOS_FLUSH_TIMEOUT_MS   10000
#define EOS_FLUSH_STOPPING_MS  2000 /* once interrupted: the brokers may be gone */
#define EOS_RETRY_BACKOFF_MS   200
#define EOS_TXN_CALL_MS        10000 /* one transaction call's wait */
#define EOS_TXN_BUDGET_MS      30000 /* retries of a call before the polling thread goes on */
#define EOS_TXN_PAUSE_MS       100   /* between those retries */
#define EOS_SERVE_MAX          500   /* messages taken from a queue per pass */
#define EOS_VPOS_PREFIX        "gavel.vpos="
#define MOCK_CLUSTER_ID_PREFIX "mockCluster" /* how librdkafka's mock names its cluster */

enum job_state {
        JOB_WAITING,   /* received, not handed out yet */
        JOB_JUDGING,   /* handed out */
        JOB_DONE,      /* finished with a verdict: to publish */
        JOB_SKIPPED,   /* answered before (the guard): only its offset to commit */
        JOB_CANCELLED, /* finished without a verdict: its partition commits no further */
};

struct queue_job {
        struct queue_job *next;          /* in its partition's window */
        struct queue_job *finished_next; /* in the finished list (under the lock) */
        struct queue_eos *eos;
        struct eos_part *part; /* NULL once abandoned: freed when finished */
        rd_kafka_message_t *m;
        struct queue_msg msg;
        enum job_state state;
        atomic_bool cancel;
        int64_t done_ms;
        int64_t tag; /* the caller's, for the publish hook */
        void *note;  /* the caller's bytes, for the publish hook; or NULL */
        size_t note_len;
        /* written by queue_job_finish, read by the poller after taking the finished list */
        void *verdict;
        size_t verdict_len;
        char *key;
        char *dlq_reason;
};

/* A verdict the guard found: job offset (and timestamp) answered at verdict offset voffset. */
struct answered {
        int64_t offset;
        int64_t timestamp;
        int64_t voffset;
};

struct eos_part {
        bool assigned;
        bool scanning; /* the guard is reading its verdicts: nothing is handed out */
        bool guard_on; /* the guard's read of the verdicts partition is started */
        bool paused;
        struct queue_job *head, *tail; /* the window, in offset order */
        struct queue_job *waiting;     /* the first job not handed out, or NULL */
        size_t n_window;
        int64_t committed; /* committed offset found at assignment, or -1 */
        int64_t vend;      /* known end of the verdicts partition, or -1 */
        struct answered *answered;
        size_t n_answered, cap_answered;
};

/* The transaction in progress, kept across polls when a call gave up waiting on the broker. */
struct eos_txn {
        bool open;       /* begun, neither committed nor aborted */
        bool committing; /* commit_transaction gave up waiting: call it again to resume */
        bool pending;    /* the publish hook heard PENDING for it */
        size_t *counts;  /* leading jobs of each partition in it; NULL once its partitions went */
        struct queue_published *pub; /* the same jobs, for the publish hook */
        size_t total;
        rd_kafka_topic_partition_list_t *offsets; /* committed with it */
        int64_t started_ms;
};

struct queue_eos {
        struct queue__log log; /* first: the opaque of all three clients */
        char *group, *jobs_topic, *verdicts_topic, *dlq_topic;
        unsigned max_in_flight, window, batch_max, linger_ms;
        queue_job_fn job_fn;
        queue_publish_fn publish_fn;
        void *userdata;

        rd_kafka_t *consumer, *producer, *guard;
        rd_kafka_topic_t *verdicts_rkt, *dlq_rkt; /* held so the producer keeps their leaders */
        rd_kafka_topic_t *guard_rkt;              /* the guard's verdicts topic */
        rd_kafka_queue_t *cq, *gq; /* the two consumers' queues, which write to wake[1] */
        int wake[2];               /* pipe, non-blocking */
        int n_verdict_parts;

        struct eos_part *parts; /* indexed by partition */
        size_t n_parts;
        unsigned in_flight; /* handed out, not collected */
        size_t rr;          /* round-robin cursor over partitions */
        bool held;          /* no jobs handed out, every partition paused (queue_eos_hold) */
        bool mock_compat;
        bool closed;
        int fatal; /* -ENOTRECOVERABLE once the session cannot go on */
        struct gv_err fatal_err;
        int64_t retry_at_ms; /* no commit before this (after a failed one) */
        struct eos_txn txn;
        atomic_bool interrupted; /* queue_eos_interrupt: no more waiting on the broker */
        bool stop_failed;        /* a commit failed once interrupted: no more tries */

        uint64_t txn_failures; /* delivery failures in the current transaction */
        rd_kafka_resp_err_t txn_first_failure;

        pthread_mutex_t lock;
        struct queue_job *finished; /* under lock */

        struct queue_eos_stats stats;
};

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void queue_eos_conf_default(struct queue_eos_conf *conf)
{
        *conf = (struct queue_eos_conf){
                .group = "gavel",
                .jobs_topic = QUEUE_TOPIC_JOBS,
                .verdicts_topic = QUEUE_TOPIC_VERDICTS,
                .dlq_topic = QUEUE_TOPIC_DLQ,
                .max_in_flight = 1,
                .window = 16,
                .batch_max = 64,
                .linger_ms = 0,
                .mock_compat = QUEUE_MOCK_COMPAT_AUTO,
        };
}

static void set_fatal(struct queue_eos *eos, const struct gv_err *err)
{
        if (eos->fatal)
                return;
        eos->fatal = -ENOTRECOVERABLE;
        eos->fatal_err = *err;
        eos->fatal_err.code = -ENOTRECOVERABLE;
        queue__logf(&eos->log, 2, "eos", "fatal: %s", err->msg);
}

/* ---- jobs and partitions ------------------------------------------------------------------ */

static void job_free(struct queue_job *job)
{
        if (job->m)
                rd_kafka_message_destroy(job->m);
        free(job->verdict);
        free(job->note);
        free(job->key);
        free(job->dlq_reason);
        free(job);
}

static struct eos_part *part_get(struct queue_eos *eos, int32_t partition)
{
        if (partition < 0)
                return NULL;
        if ((size_t)partition >= eos->n_parts) {
                size_t n = (size_t)partition + 1;

                eos->parts = realloc(eos->parts, n * sizeof(*eos->parts));
                if (!eos->parts)
                        abort();
                memset(eos->parts + eos->n_parts, 0, (n - eos->n_parts) * sizeof(*eos->parts));
                eos->n_parts = n;
        }
        return &eos->parts[partition];
}

static void guard_stop(struct queue_eos *eos, int32_t partition);

/* Drops a partition's state; jobs being judged are cancelled and freed when they finish. */
static void part_teardown(struct queue_eos *eos, int32_t partition)
{
        struct eos_part *part = &eos->parts[partition];
        struct queue_job *job, *next;

        guard_stop(eos, partition);
        for (job = part->head; job; job = next) {
                next = job->next;
                if (job->state == JOB_JUDGING) {
                        atomic_store(&job->cancel, true);
                        job->part = NULL;
                        job->next = NULL;
                        eos->stats.abandoned++;
                } else
                        job_free(job);
        }
        free(part->answered);
        *part = (struct eos_part){0};
}

static void window_pop(struct eos_part *part)
{
        struct queue_job *job = part->head;

        part->head = job->next;
        if (!part->head)
                part->tail = NULL;
        part->n_window--;
        job_free(job);
}

/* ---- the guard ---------------------------------------------------------------------------- */

static int cmp_answered(const void *a, const void *b)
{
        const struct answered *x = a, *y = b;

        return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The first answered entry with offset >= offset (part->answered is sorted once scanned). */
static size_t answered_lower(const struct eos_part *part, int64_t offset)
{
        size_t lo = 0, hi = part->n_answered;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (part->answered[mid].offset < offset)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static bool guard_answered(const struct eos_part *part, const struct queue_msg *msg)
{
        for (size_t i = answered_lower(part, msg->offset);
             i < part->n_answered && part->answered[i].offset == msg->offset; i++)
                if (part->answered[i].timestamp == msg->timestamp_ms)
                        return true;
        return false;
}

/*
 * The position stored with a commit of part up to (not including) offset: no verdict of a job at
 * or after offset lies before it. -1 when unknown (the next owner then reads from the start).
 */
static int64_t guard_vpos(const struct eos_part *part, int64_t offset)
{
        int64_t v = part->vend;

        for (size_t i = answered_lower(part, offset); i < part->n_answered; i++)
                if (v < 0 || part->answered[i].voffset < v)
                        v = part->answered[i].voffset;
        return v;
}

static int64_t parse_vpos(const rd_kafka_topic_partition_t *tp)
{
        char buf[40], *end;
        long long v;

        if (!tp->metadata || tp->metadata_size <= strlen(EOS_VPOS_PREFIX) ||
            tp->metadata_size >= sizeof(buf))
                return RD_KAFKA_OFFSET_BEGINNING;
        memcpy(buf, tp->metadata, tp->metadata_size);
        buf[tp->metadata_size] = '\0';
        if (strncmp(buf, EOS_VPOS_PREFIX, strlen(EOS_VPOS_PREFIX)))
                return RD_KAFKA_OFFSET_BEGINNING;
        errno = 0;
        v = strtoll(buf + strlen(EOS_VPOS_PREFIX), &end, 10);
        if (errno || *end || v < 0)
                return RD_KAFKA_OFFSET_BEGINNING;
        return v;
}

/*
 * The guard reads with librdkafka's simple (legacy) consumer: starting and stopping a partition
 * takes effect at once, where the group consumer's assign() waits for its next timer tick.
 */
static void guard_start(struct queue_eos *eos, int32_t partition, int64_t offset)
{
        struct eos_part *part = &eos->parts[partition];

        if (rd_kafka_consume_start_queue(eos->guard_rkt, partition, offset, eos->gq) < 0) {
                struct gv_err ferr;

                gv_err_set(&ferr, -ENOTRECOVERABLE, "guard: cannot read %s[%d]: %s",
                           eos->verdicts_topic, partition, rd_kafka_err2str(rd_kafka_last_error()));
                set_fatal(eos, &ferr);
                return;
        }
        part->guard_on = true;
        queue__logf(&eos->log, 7, "eos", "guard: reading %s[%d] from %" PRId64, eos->verdicts_topic,
                    partition, offset);
}

static void guard_stop(struct queue_eos *eos, int32_t partition)
{
        struct eos_part *part = &eos->parts[partition];

        if (!part->guard_on)
                return;
        rd_kafka_consume_stop(eos->guard_rkt, partition);
        part->guard_on = false;
}

static int64_t header_int(const struct queue_msg *msg, const char *name, bool *ok)
{
        const void *value;
        char buf[24], *end;
        long long v;
        size_t len;

        if (queue_msg_header(msg, name, &value, &len) < 0 || !value || len == 0 ||
            len >= sizeof(buf)) {
                *ok = false;
                return 0;
        }
        memcpy(buf, value, len);
        buf[len] = '\0';
        errno = 0;
        v = strtoll(buf, &end, 10);
        if (errno || *end)
                *ok = false;
        return v;
}

static void guard_message(struct queue_eos *eos, rd_kafka_message_t *m)
{
        struct eos_part *part = m->partition >= 0 && (size_t)m->partition < eos->n_parts
                                        ? &eos->parts[m->partition]
                                        : NULL;
        struct queue_msg msg;
        const void *topic;
        size_t topic_len;
        int64_t poff, off, ts;
        bool ok = true;

        if (!part || !part->assigned || !part->scanning)
                return; /* a leftover of an earlier assignment */
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                part->vend = m->offset;
                part->scanning = false;
                if (part->n_answered)
                        qsort(part->answered, part->n_answered, sizeof(*part->answered),
                              cmp_answered);
                queue__logf(&eos->log, 7, "eos", "guard: %s[%d] read to %" PRId64 ": %zu answered",
                            eos->verdicts_topic, m->partition, m->offset, part->n_answered);
                guard_stop(eos, m->partition);
                return;
        }
        if (m->err) {
                queue__logf(&eos->log, 4, "eos", "guard: %s", rd_kafka_message_errstr(m));
                return;
        }
        eos->stats.guard_read++;
        queue__msg_from(&msg, m);
        poff = header_int(&msg, QUEUE_HDR_PARTITION, &ok);
        off = header_int(&msg, QUEUE_HDR_OFFSET, &ok);
        ts = header_int(&msg, QUEUE_HDR_TIMESTAMP, &ok);
        if (!ok || queue_msg_header(&msg, QUEUE_HDR_TOPIC, &topic, &topic_len) < 0 || !topic ||
            topic_len != strlen(eos->jobs_topic) || memcmp(topic, eos->jobs_topic, topic_len) ||
            poff != m->partition || off < part->committed)
                return; /* not gavel's, not this topic's, or already committed */
        if (part->n_answered == part->cap_answered) {
                part->cap_answered = part->cap_answered ? 2 * part->cap_answered : 64;
                part->answered =
                        realloc(part->answered, part->cap_answered * sizeof(*part->answered));
                if (!part->answered)
                        abort();
        }
        part->answered[part->n_answered++] =
                (struct answered){.offset = off, .timestamp = ts, .voffset = m->offset};
}

/* ---- transactions ------------------------------------------------------------------------- */

static void txn_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        struct queue_eos *eos = opaque;
        struct eos_part *part;

        (void)rk;
        if (m->err) {
                if (eos->txn_failures++ == 0)
                        eos->txn_first_failure = m->err;
                return;
        }
        if (strcmp(rd_kafka_topic_name(m->rkt), eos->verdicts_topic) || m->partition < 0 ||
            (size_t)m->partition >= eos->n_parts)
                return;
        part = &eos->parts[m->partition];
        if (part->assigned && part->vend >= 0 && part->vend < m->offset + 1)
                part->vend = m->offset + 1;
}

/* Produces inside the transaction; any error but a full queue calls for an abort. */
static int txn_produce(struct queue_eos *eos, const char *topic, int32_t partition, const void *key,
                       size_t key_len, const void *value, size_t len,
                       const struct queue_header *headers, size_t n_headers, struct gv_err *err)
{
        rd_kafka_resp_err_t e;

        for (;;) {
                rd_kafka_headers_t *hdrs = queue__headers(headers, n_headers);

                e = rd_kafka_producev(
                        eos->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
                        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_HEADERS(hdrs),
                        RD_KAFKA_V_END);
                if (!e)
                        return 0;
                if (hdrs)
                        rd_kafka_headers_destroy(hdrs);
                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(eos->producer, 100);
        }
        if (e == RD_KAFKA_RESP_ERR__FATAL)
                return gv_err_set(err, -ENOTRECOVERABLE, "produce to %s: %s", topic,
                                  rd_kafka_err2str(e));
        return gv_err_set(err, -ECANCELED, "produce to %s[%d]: %s", topic, partition,
                          rd_kafka_err2str(e));
}

static int txn_job(struct queue_eos *eos, const struct queue_job *job, struct gv_err *err)
{
        char poff[24], off[24], ts[24];
        struct queue_header h[5] = {
                {QUEUE_HDR_TOPIC, eos->jobs_topic, strlen(eos->jobs_topic)},
                {QUEUE_HDR_PARTITION, poff, 0},
                {QUEUE_HDR_OFFSET, off, 0},
                {QUEUE_HDR_TIMESTAMP, ts, 0},
                {QUEUE_HDR_REASON, job->dlq_reason, job->dlq_reason ? strlen(job->dlq_reason) : 0},
        };
        const void *key = job->key ? job->key : job->msg.key;
        size_t key_len = job->key ? strlen(job->key) : job->msg.key_len;
        int r = 0;

        h[1].len = (size_t)snprintf(poff, sizeof(poff), "%" PRId32, job->msg.partition);
        h[2].len = (size_t)snprintf(off, sizeof(off), "%" PRId64, job->msg.offset);
        h[3].len = (size_t)snprintf(ts, sizeof(ts), "%" PRId64, job->msg.timestamp_ms);
        if (job->state == JOB_DONE && job->verdict)
                r = txn_produce(eos, eos->verdicts_topic, job->msg.partition, key, key_len,
                                job->verdict, job->verdict_len, h, 4, err);
        if (r == 0 && job->state == JOB_DONE && job->dlq_reason)
                r = txn_produce(eos, eos->dlq_topic, RD_KAFKA_PARTITION_UA, job->msg.key,
                                job->msg.key_len, job->msg.value, job->msg.len, h, 5, err);
        return r;
}

/* Leading finished jobs of part, at most max. */
static size_t part_committable(const struct eos_part *part, size_t max, int64_t *oldest_ms)
{
        size_t n = 0;

        for (const struct queue_job *job = part->head; job && n < max; job = job->next) {
                if (job->state != JOB_DONE && job->state != JOB_SKIPPED)
                        break;
                if (job->done_ms < *oldest_ms)
                        *oldest_ms = job->done_ms;
                n++;
        }
        return n;
}

/*
 * Calls a transaction API while it asks to be retried, for EOS_TXN_BUDGET_MS at most and not
 * again once the session is interrupted, so the polling thread is never held for long. r is
 * -EAGAIN when it gave up: the same call may be made later (librdkafka resumes it).
 */
#define TXN_CALL(eos, r, err, what, call)                                                         \
        do {                                                                                      \
                int64_t _end = now_ms() + EOS_TXN_BUDGET_MS;                                      \
                for (;;) {                                                                        \
                        r = queue__error((call), err, what);                                      \
                        if (r != -EAGAIN || now_ms() >= _end || atomic_load(&(eos)->interrupted)) \
                                break;                                                            \
                        usleep(EOS_TXN_PAUSE_MS * 1000);                                          \
                }                                                                                 \
        } while (0)

/* The mock-only step: the mock drops transactional offsets, so commit them once more. Async:
   the mock refuses it during a rebalance, and the guard covers that. */
static void mock_compat_commit(struct queue_eos *eos, rd_kafka_topic_partition_list_t *offsets)
{
        rd_kafka_resp_err_t e = rd_kafka_commit(eos->consumer, offsets, 1);

        if (e)
                queue__logf(&eos->log, 7, "eos", "mock-compat commit: %s", rd_kafka_err2str(e));
}

/* Forgets the transaction's batch (the transaction itself is done, or left to librdkafka). */
static void txn_forget(struct queue_eos *eos)
{
        free(eos->txn.counts);
        free(eos->txn.pub);
        if (eos->txn.offsets)
                rd_kafka_topic_partition_list_destroy(eos->txn.offsets);
        eos->txn = (struct eos_txn){.open = eos->txn.open, .committing = eos->txn.committing};
}

/* Tells the publish hook how the transaction ended, when it heard of it. */
static void txn_tell(struct queue_eos *eos, enum queue_publish_phase phase)
{
        if (eos->txn.pending && eos->publish_fn)
                eos->publish_fn(phase, eos->txn.pub, eos->txn.total, eos->userdata);
        eos->txn.pending = false;
}

/* Aborts the open transaction: -ECANCELED done (its jobs come again), -EAGAIN still open. */
static int txn_abort(struct queue_eos *eos, struct gv_err *err)
{
        struct gv_err aerr = {0};
        int r;

        TXN_CALL(eos, r, &aerr, "abort_transaction",
                 rd_kafka_abort_transaction(eos->producer, EOS_TXN_CALL_MS));
        if (r == -EAGAIN || r == -ENOTRECOVERABLE) {
                *err = aerr;
                return r;
        }
        if (r < 0) { /* an abort that itself needs an abort: nothing is left to try */
                *err = aerr;
                return -ENOTRECOVERABLE;
        }
        eos->stats.aborts++;
        eos->txn.open = eos->txn.committing = false;
        txn_tell(eos, QUEUE_PUBLISH_ABORTED);
        txn_forget(eos);
        return -ECANCELED;
}

/* The transaction is committed: its jobs leave their windows. */
static void txn_done(struct queue_eos *eos)
{
        eos->txn.open = eos->txn.committing = false;
        eos->stats.transactions++;
        queue__logf(&eos->log, 7, "eos", "transaction of %zu job(s) committed in %" PRId64 " ms",
                    eos->txn.total, now_ms() - eos->txn.started_ms);
        if (eos->mock_compat && eos->txn.offsets)
                mock_compat_commit(eos, eos->txn.offsets);
        txn_tell(eos, QUEUE_PUBLISH_COMMITTED);
        for (size_t p = 0; eos->txn.counts && p < eos->n_parts; p++)
                for (size_t i = 0; i < eos->txn.counts[p]; i++) {
                        if (eos->parts[p].head->state == JOB_DONE)
                                eos->stats.published++;
                        window_pop(&eos->parts[p]);
                }
        txn_forget(eos);
}

/*
 * Commits the open transaction, or resumes a commit that gave up waiting. 0 committed,
 * -EAGAIN still committing, -ECANCELED aborted, -ENOTRECOVERABLE.
 */
static int txn_commit(struct queue_eos *eos, struct gv_err *err)
{
        int r;

        eos->txn.committing = true;
        TXN_CALL(eos, r, err, "commit_transaction",
                 rd_kafka_commit_transaction(eos->producer, EOS_TXN_CALL_MS));
        if (r == 0) {
                txn_done(eos);
                return 0;
        }
        if (r != -ECANCELED)
                return r;
        eos->txn.committing = false;
        queue__logf(&eos->log, 4, "eos", "transaction aborted: %s", err->msg);
        return txn_abort(eos, err);
}

/* Offsets of the batch, each with its guard metadata. */
static rd_kafka_topic_partition_list_t *txn_offsets(struct queue_eos *eos)
{
        rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(4);

        /* the deliveries moved each partition's known verdicts end (txn_dr) past this batch */
        for (size_t p = 0; p < eos->n_parts; p++) {
                const struct queue_job *job = eos->parts[p].head;
                rd_kafka_topic_partition_t *tp;
                char meta[48];
                int64_t vpos;

                if (eos->txn.counts[p] == 0)
                        continue;
                for (size_t i = 1; i < eos->txn.counts[p]; i++)
                        job = job->next;
                tp = rd_kafka_topic_partition_list_add(offsets, eos->jobs_topic, (int32_t)p);
                tp->offset = job->msg.offset + 1;
                vpos = guard_vpos(&eos->parts[p], tp->offset);
                if (vpos >= 0) {
                        tp->metadata_size = (size_t)snprintf(meta, sizeof(meta),
                                                             EOS_VPOS_PREFIX "%" PRId64, vpos);
                        tp->metadata = xmemdup(meta, tp->metadata_size);
                }
        }
        return offsets;
}

/*
 * Begins a transaction for eos->txn's batch and brings it up to the commit: every verdict and
 * dead letter produced and delivered, the publish hook told, the offsets sent. Any failure
 * aborts it. 0, -EAGAIN (nothing begun, or an abort still to finish), -ECANCELED,
 * -ENOTRECOVERABLE.
 */
static int txn_prepare(struct queue_eos *eos, struct gv_err *err)
{
        rd_kafka_consumer_group_metadata_t *cgmd;
        rd_kafka_resp_err_t e;
        int r;

        TXN_CALL(eos, r, err, "begin_transaction", rd_kafka_begin_transaction(eos->producer));
        if (r < 0)
                return r == -EAGAIN ? r : -ENOTRECOVERABLE; /* begin fails only on misuse */
        eos->txn.open = true;
        eos->txn_failures = 0;
        for (size_t p = 0; p < eos->n_parts; p++) {
                const struct queue_job *job = eos->parts[p].head;

                for (size_t i = 0; i < eos->txn.counts[p]; i++, job = job->next) {
                        r = txn_job(eos, job, err);
                        if (r < 0)
                                goto abort;
                }
        }
        /* see every delivery's fate before committing: a failed one is not in the log */
        e = rd_kafka_flush(eos->producer, atomic_load(&eos->interrupted) ? EOS_FLUSH_STOPPING_MS
                                                                         : EOS_FLUSH_TIMEOUT_MS);
        if (e) {
                r = gv_err_set(err, -ECANCELED, "flush: %s", rd_kafka_err2str(e));
                goto abort;
        }
        if (eos->txn_failures) {
                r = gv_err_set(err, -ECANCELED, "%" PRIu64 " verdict(s) not delivered: %s",
                               eos->txn_failures, rd_kafka_err2str(eos->txn_first_failure));
                goto abort;
        }
        eos->txn.offsets = txn_offsets(eos);
        /* the caller's last word (an audit log makes the verdicts durable) */
        if (eos->publish_fn) {
                eos->txn.pending = true;
                r = eos->publish_fn(QUEUE_PUBLISH_PENDING, eos->txn.pub, eos->txn.total,
                                    eos->userdata);
                if (r < 0) {
                        r = gv_err_set(err, -ECANCELED, "the publish hook refused: %s",
                                       strerror(-r));
                        goto abort;
                }
        }
        cgmd = rd_kafka_consumer_group_metadata(eos->consumer);
        TXN_CALL(eos, r, err, "send_offsets_to_transaction",
                 rd_kafka_send_offsets_to_transaction(eos->producer, eos->txn.offsets, cgmd,
                                                      EOS_TXN_CALL_MS));
        rd_kafka_consumer_group_metadata_destroy(cgmd);
        if (r == 0)
                return 0;
abort:
        if (r == -ENOTRECOVERABLE)
                return r;
        queue__logf(&eos->log, 4, "eos", "transaction aborted: %s", err->msg);
        return txn_abort(eos, err);
}

/* Finishes a transaction left open by an earlier call: commits it again, or aborts it. */
static int txn_resume(struct queue_eos *eos, struct gv_err *err)
{
        if (!eos->txn.open)
                return 0;
        return eos->txn.committing ? txn_commit(eos, err) : txn_abort(eos, err);
}

/*
 * The transaction's partitions are being revoked: finish it if it can be (not when the
 * assignment was lost) or abort it, then forget its batch whatever librdkafka still does with
 * it (the partitions' next owner sees the outcome: the offsets, or the verdicts' guard).
 */
static void txn_settle(struct queue_eos *eos, bool lost)
{
        struct gv_err err = {0};
        int r;

        if (!eos->txn.open)
                return;
        r = lost && !eos->txn.committing ? txn_abort(eos, &err) : txn_resume(eos, &err);
        if (r < 0 && r != -ECANCELED)
                queue__logf(&eos->log, 4, "eos", "transaction left open at a revoke: %s", err.msg);
        eos->txn.pending = false; /* in doubt: an audit log keeps its verdicts pending */
        txn_forget(eos);          /* nothing to pop from the partitions' windows any more */
}

/* The jobs of a transaction, for the caller's publish hook. */
static struct queue_published *pub_list(struct queue_eos *eos, const size_t *counts, size_t total)
{
        struct queue_published *pub = xcalloc(total, sizeof(*pub));
        size_t n = 0;

        for (size_t p = 0; p < eos->n_parts; p++) {
                const struct queue_job *job = eos->parts[p].head;

                for (size_t i = 0; i < counts[p]; i++, job = job->next)
                        pub[n++] = (struct queue_published){
                                .partition = (int32_t)p,
                                .offset = job->msg.offset,
                                .skipped = job->state == JOB_SKIPPED,
                                .tag = job->tag,
                                .note = job->note,
                                .note_len = job->note_len,
                                .verdict = job->state == JOB_DONE ? job->verdict : NULL,
                                .verdict_len = job->state == JOB_DONE ? job->verdict_len : 0,
                        };
        }
        return pub;
}

/*
 * Publishes what is finished: when force, or batch_max jobs are ready, or the oldest has waited
 * linger_ms; first finishes a transaction an earlier call left open. Returns 0 (also when it
 * waits), -ECANCELED/-EAGAIN (retried later), or -ENOTRECOVERABLE (also recorded as the
 * session's fatal error).
 */
static int eos_commit(struct queue_eos *eos, bool force, struct gv_err *err)
{
        cleanup_free size_t *counts = NULL;
        int64_t oldest = INT64_MAX, now = now_ms();
        size_t total = 0;
        int r;

        if (eos->fatal || eos->n_parts == 0)
                return eos->fatal;
        if (!force && now < eos->retry_at_ms)
                return 0;
        /* stopping, and the brokers did not answer: what is not committed is judged again by
         * the next owner; each further try would wait for them again */
        if (eos->stop_failed)
                return gv_err_set(err, -ECANCELED, "stopping: a commit already failed");
        if (eos->txn.open) {
                r = txn_resume(eos, err);
                if (r < 0)
                        goto fail;
        }
        counts = xcalloc(eos->n_parts, sizeof(*counts));
        for (size_t p = 0; p < eos->n_parts && total < eos->batch_max; p++)
                if (eos->parts[p].assigned) {
                        counts[p] =
                                part_committable(&eos->parts[p], eos->batch_max - total, &oldest);
                        total += counts[p];
                }
        if (total == 0)
                return 0;
        if (!force && total < eos->batch_max && now - oldest < (int64_t)eos->linger_ms)
                return 0;
        eos->txn = (struct eos_txn){
                .counts = steal_pointer(&counts),
                .total = total,
                .started_ms = now,
        };
        eos->txn.pub = pub_list(eos, eos->txn.counts, total);
        r = txn_prepare(eos, err);
        if (r == 0)
                r = txn_commit(eos, err);
        if (r == 0) {
                eos->retry_at_ms = 0;
                return 0;
        }
fail:
        eos->retry_at_ms = now_ms() + EOS_RETRY_BACKOFF_MS;
        eos->stop_failed = atomic_load(&eos->interrupted);
        if (!eos->txn.open)
                txn_forget(eos);
        if (r == -ENOTRECOVERABLE)
                set_fatal(eos, err);
        return r;
}

/* ---- the group ------------------------------------------------------------------------------ */

static void list_text(const rd_kafka_topic_partition_list_t *list, char *buf, size_t size)
{
        size_t n = 0;

        buf[0] = '\0';
        for (int i = 0; i < list->cnt && n + 24 < size; i++) {
                const rd_kafka_topic_partition_t *tp = &list->elems[i];

                if (tp->offset >= 0)
                        n += (size_t)snprintf(buf + n, size - n, "%s%d@%" PRId64, i ? " " : "",
                                              tp->partition, tp->offset);
                else
                        n += (size_t)snprintf(buf + n, size - n, "%s%d", i ? " " : "",
                                              tp->partition);
        }
}

static void eos_collect(struct queue_eos *eos);

static void eos_assign(struct queue_eos *eos, rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_copy(parts);
        rd_kafka_resp_err_t e;
        char text[512];

        eos->stats.rebalances++;
        e = rd_kafka_committed(eos->consumer, list, EOS_META_TIMEOUT_MS);
        if (e) {
                /* unknown: start where the group says and let the guard read everything */
                queue__logf(&eos->log, 4, "eos",
                            "cannot read committed offsets (%s): the guard reads the verdicts "
                            "from their start",
                            rd_kafka_err2str(e));
                for (int i = 0; i < list->cnt; i++) {
                        list->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
                        list->elems[i].err = 0;
                }
        }
        for (int i = 0; i < list->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &list->elems[i];
                struct eos_part *part = part_get(eos, tp->partition);

                if (tp->partition >= eos->n_verdict_parts) {
                        struct gv_err ferr;

                        gv_err_set(&ferr, -ENOTRECOVERABLE,
                                   "%s[%d] has no verdicts partition of its number: %s has %d",
                                   eos->jobs_topic, tp->partition, eos->verdicts_topic,
                                   eos->n_verdict_parts);
                        set_fatal(eos, &ferr);
                }
                if (tp->err)
                        tp->offset = RD_KAFKA_OFFSET_INVALID;
                part_teardown(eos, tp->partition);
                part->assigned = true;
                part->scanning = true; /* nothing is handed out before the guard has read */
                part->committed = tp->offset >= 0 ? tp->offset : -1;
                part->vend = -1;
                if (tp->partition < eos->n_verdict_parts)
                        guard_start(eos, tp->partition,
                                    tp->offset >= 0 ? parse_vpos(tp) : RD_KAFKA_OFFSET_BEGINNING);
        }
        e = rd_kafka_assign(eos->consumer, list);
        if (e)
                queue__logf(&eos->log, 3, "eos", "assign: %s", rd_kafka_err2str(e));
        /* librdkafka keeps a partition paused across assignments: one paused (its window full)
           when it was revoked would never fetch again, while part->paused says it is not */
        rd_kafka_resume_partitions(eos->consumer, list);
        list_text(list, text, sizeof(text));
        queue__logf(&eos->log, 6, "eos", "assigned %s partitions [%s]", eos->jobs_topic, text);
        rd_kafka_topic_partition_list_destroy(list);
}

static void eos_revoke(struct queue_eos *eos, rd_kafka_topic_partition_list_t *parts, bool lost)
{
        struct gv_err err = {0};
        unsigned before = eos->in_flight;
        char text[512];

        eos_collect(eos);
        /* the group's generation is still ours until the revoke returns (eager protocol) */
        if (!lost && eos_commit(eos, true, &err) < 0)
                queue__logf(&eos->log, 4, "eos", "commit at revoke: %s", err.msg);
        txn_settle(eos, lost);
        for (int i = 0; i < parts->cnt; i++)
                if (parts->elems[i].partition >= 0 &&
                    (size_t)parts->elems[i].partition < eos->n_parts)
                        part_teardown(eos, parts->elems[i].partition);
        rd_kafka_assign(eos->consumer, NULL);
        list_text(parts, text, sizeof(text));
        queue__logf(&eos->log, 6, "eos", "%s %s partitions [%s]: %u job(s) abandoned",
                    lost ? "lost" : "revoked", eos->jobs_topic, text, before);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        struct queue_eos *eos = opaque;

        if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
                eos_assign(eos, parts);
        else if (e == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
                eos_revoke(eos, parts, rd_kafka_assignment_lost(rk));
        else {
                queue__logf(&eos->log, 3, "eos", "rebalance: %s", rd_kafka_err2str(e));
                eos_revoke(eos, parts, true);
        }
}

/* ---- serving -------------------------------------------------------------------------------- */

static void eos_take(struct queue_eos *eos, rd_kafka_message_t *m)
{
        struct eos_part *part;
        struct queue_job *job;

        if (m->err) {
                if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
                        struct gv_err ferr;
                        char reason[256];

                        rd_kafka_fatal_error(eos->consumer, reason, sizeof(reason));
                        gv_err_set(&ferr, -ENOTRECOVERABLE, "consumer: %s", reason);
                        set_fatal(eos, &ferr);
                } else
                        queue__logf(&eos->log, 4, "eos", "consumer: %s",
                                    rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                return;
        }
        part = m->partition >= 0 && (size_t)m->partition < eos->n_parts ? &eos->parts[m->partition]
                                                                        : NULL;
        if (!part || !part->assigned) {
                rd_kafka_message_destroy(m);
                return;
        }
        job = xcalloc(1, sizeof(*job));
        job->eos = eos;
        job->part = part;
        job->m = m;
        queue__msg_from(&job->msg, m);
        atomic_init(&job->cancel, false);
        if (part->tail)
                part->tail->next = job;
        else
                part->head = job;
        part->tail = job;
        if (!part->waiting)
                part->waiting = job;
        part->n_window++;
        eos->stats.received++;
}

/* Takes the list of finished jobs from the slot threads. */
static void eos_collect(struct queue_eos *eos)
{
        struct queue_job *job, *next;

        pthread_mutex_lock(&eos->lock);
        job = eos->finished;
        eos->finished = NULL;
        pthread_mutex_unlock(&eos->lock);
        for (; job; job = next) {
                next = job->finished_next;
                eos->in_flight--;
                if (!job->part) {
                        job_free(job); /* abandoned on a revoke */
                        continue;
                }
                job->state = job->verdict ? JOB_DONE : JOB_CANCELLED;
                job->done_ms = now_ms();
        }
}

static void eos_dispatch(struct queue_eos *eos)
{
        while (!eos->held && !eos->fatal && eos->in_flight < eos->max_in_flight) {
                struct eos_part *part = NULL;
                struct queue_job *job;

                for (size_t i = 0; i < eos->n_parts; i++) {
                        struct eos_part *cand = &eos->parts[(eos->rr + i) % eos->n_parts];

                        if (cand->assigned && !cand->scanning && cand->waiting) {
                                part = cand;
                                eos->rr = (eos->rr + i + 1) % eos->n_parts;
                                break;
                        }
                }
                if (!part)
                        return;
                job = part->waiting;
                part->waiting = job->next;
                if (guard_answered(part, &job->msg)) {
                        job->state = JOB_SKIPPED;
                        job->done_ms = now_ms();
                        eos->stats.skipped++;
                        queue__logf(&eos->log, 6, "eos",
                                    "%s[%d]@%" PRId64 " was answered before: skipped",
                                    eos->jobs_topic, job->msg.partition, job->msg.offset);
                        continue;
                }
                job->state = JOB_JUDGING;
                eos->in_flight++;
                eos->stats.handed++;
                eos->job_fn(job, eos->userdata);
        }
}

static void eos_pause_update(struct queue_eos *eos)
{
        rd_kafka_topic_partition_list_t *pause = rd_kafka_topic_partition_list_new(4);
        rd_kafka_topic_partition_list_t *resume = rd_kafka_topic_partition_list_new(4);

        for (size_t p = 0; p < eos->n_parts; p++) {
                struct eos_part *part = &eos->parts[p];
                bool want;

                if (!part->assigned)
                        continue;
                want = eos->held || part->n_window >= eos->window;
                if (want == part->paused)
                        continue;
                part->paused = want;
                rd_kafka_topic_partition_list_add(want ? pause : resume, eos->jobs_topic,
                                                  (int32_t)p);
        }
        if (pause->cnt)
                rd_kafka_pause_partitions(eos->consumer, pause);
        if (resume->cnt)
                rd_kafka_resume_partitions(eos->consumer, resume);
        rd_kafka_topic_partition_list_destroy(pause);
        rd_kafka_topic_partition_list_destroy(resume);
}

/* One pass over everything; true when a queue still has messages (serve again at once). */
static bool eos_serve(struct queue_eos *eos)
{
        struct gv_err err = {0};
        rd_kafka_message_t *m;
        bool more = false;
        char drain[64];
        int n;

        while (read(eos->wake[0], drain, sizeof(drain)) > 0)
                ;
        for (n = 0; n < EOS_SERVE_MAX && (m = rd_kafka_consumer_poll(eos->consumer, 0)); n++)
                eos_take(eos, m);
        more |= n == EOS_SERVE_MAX;
        for (n = 0; n < EOS_SERVE_MAX && (m = rd_kafka_consume_queue(eos->gq, 0)); n++) {
                guard_message(eos, m);
                rd_kafka_message_destroy(m);
        }
        more |= n == EOS_SERVE_MAX;
        eos_collect(eos);
        eos_dispatch(eos);
        if (eos_commit(eos, false, &err) < 0 && !eos->fatal)
                queue__logf(&eos->log, 4, "eos", "commit: %s (retrying)", err.msg);
        eos_pause_update(eos);
        rd_kafka_poll(eos->producer, 0);
        return more;
}

/* Milliseconds until a commit is due (linger or retry), or -1. */
static int commit_due_ms(struct queue_eos *eos)
{
        int64_t oldest = INT64_MAX, now = now_ms(), due;
        size_t total = 0;

        for (size_t p = 0; p < eos->n_parts; p++)
                if (eos->parts[p].assigned)
                        total += part_committable(&eos->parts[p], SIZE_MAX, &oldest);
        if (total == 0)
                return -1;
        due = oldest + eos->linger_ms;
        if (due < eos->retry_at_ms)
                due = eos->retry_at_ms;
        return due <= now ? 0 : (int)(due - now);
}

int queue_eos_poll(struct queue_eos *eos, int timeout_ms, struct gv_err *err)
{
        int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);

        for (;;) {
                struct pollfd pfd = {.fd = eos->wake[0], .events = POLLIN};
                int64_t left;
                int due;

                if (eos_serve(eos) && !eos->fatal)
                        return 0;
                if (eos->fatal) {
                        if (err)
                                *err = eos->fatal_err;
                        return eos->fatal;
                }
                left = deadline - now_ms();
                if (left <= 0)
                        return 0;
                due = commit_due_ms(eos);
                if (due >= 0 && due < left)
                        left = due;
                if (poll(&pfd, 1, (int)left) > 0 || due == 0)
                        break;
        }
        eos_serve(eos);
        if (eos->fatal && err)
                *err = eos->fatal_err;
        return eos->fatal;
}

void queue_eos_interrupt(struct queue_eos *eos)
{
        atomic_store(&eos->interrupted, true);
        queue_eos_wake(eos);
}

void queue_eos_wake(struct queue_eos *eos)
{
        int saved = errno;
        ssize_t n = write(eos->wake[1], "w", 1); /* a full pipe already wakes */

        (void)n;
        errno = saved;
}

void queue_eos_hold(struct queue_eos *eos, bool hold)
{
        eos->held = hold;
        eos_pause_update(eos);
}

void queue_eos_abandon(struct queue_eos *eos)
{
        for (size_t p = 0; p < eos->n_parts; p++)
                for (struct queue_job *job = eos->parts[p].head; job; job = job->next)
                        if (job->state == JOB_JUDGING && !atomic_load(&job->cancel)) {
                                atomic_store(&job->cancel, true);
                                eos->stats.abandoned++;
                        }
}

unsigned queue_eos_in_flight(const struct queue_eos *eos)
{
        return eos->in_flight;
}

void queue_eos_stats(const struct queue_eos *eos, struct queue_eos_stats *ret_stats)
{
        *ret_stats = eos->stats;
        ret_stats->mock_compat = eos->mock_compat;
}

const struct queue_msg *queue_job_msg(const struct queue_job *job)
{
        return &job->msg;
}

void queue_job_set_tag(struct queue_job *job, int64_t tag)
{
        job->tag = tag;
}

void queue_job_set_note(struct queue_job *job, const void *note, size_t len)
{
        free(job->note);
        job->note = len ? xmemdup(note, len) : NULL;
        job->note_len = len;
}

const atomic_bool *queue_job_cancelled(const struct queue_job *job)
{
        return &job->cancel;
}

void queue_job_finish(struct queue_job *job, void *verdict, size_t len, const char *key,
                      const char *dlq_reason)
{
        struct queue_eos *eos = job->eos;

        job->verdict = verdict;
        job->verdict_len = len;
        job->key = key ? xstrdup(key) : NULL;
        job->dlq_reason = dlq_reason ? xstrdup(dlq_reason) : NULL;
        pthread_mutex_lock(&eos->lock);
        job->finished_next = eos->finished;
        eos->finished = job;
        pthread_mutex_unlock(&eos->lock);
        queue_eos_wake(eos);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

static int eos_client(struct queue_eos *eos, const struct queue_conf *kconf, rd_kafka_type_t type,
                      const struct queue__kv *defaults, size_t n_defaults,
                      const struct queue__kv *forced, size_t n_forced, rd_kafka_t **ret_rk,
                      struct gv_err *err)
{
        rd_kafka_conf_t *rconf;
        int r;

        r = queue__conf_new(kconf, defaults, n_defaults, forced, n_forced, &eos->log, &rconf, err);
        if (r < 0)
                return r;
        if (type == RD_KAFKA_PRODUCER)
                rd_kafka_conf_set_dr_msg_cb(rconf, txn_dr);
        else if (ret_rk == &eos->consumer)
                rd_kafka_conf_set_rebalance_cb(rconf, rebalance_cb);
        return queue__client_new(type, rconf, ret_rk, err);
}

/* The consumer's queue (its main queue forwarded to it) writes to the wake pipe. */
static rd_kafka_queue_t *eos_queue(struct queue_eos *eos, rd_kafka_t *rk)
{
        rd_kafka_queue_t *q;

        rd_kafka_poll_set_consumer(rk);
        q = rd_kafka_queue_get_consumer(rk);
        rd_kafka_queue_io_event_enable(q, eos->wake[1], "q", 1);
        return q;
}

static int eos_check_strategy(const struct queue_conf *kconf, struct gv_err *err)
{
        for (size_t i = 0; i < kconf->n_props; i++)
                if (!strcmp(kconf->props[i].name, "partition.assignment.strategy") &&
                    strcmp(kconf->props[i].value, "range") &&
                    strcmp(kconf->props[i].value, "roundrobin"))
                        return gv_err_set(err, -EINVAL,
                                          "kafka.partition.assignment.strategy: '%s': gavel "
                                          "needs an eager assignor (range or roundrobin) with "
                                          "librdkafka 2.0",
                                          kconf->props[i].value);
        return 0;
}

static int eos_topics(struct queue_eos *eos, struct gv_err *err)
{
        int n_jobs, n_dlq, r;

        r = queue__partitions(eos->consumer, eos->jobs_topic, EOS_META_TIMEOUT_MS, &n_jobs, err);
        if (r == 0)
                r = queue__partitions(eos->consumer, eos->verdicts_topic, EOS_META_TIMEOUT_MS,
                                      &eos->n_verdict_parts, err);
        if (r == 0)
                r = queue__partitions(eos->consumer, eos->dlq_topic, EOS_META_TIMEOUT_MS, &n_dlq,
                                      err);
        if (r < 0)
                return r;
        if (eos->n_verdict_parts < n_jobs)
                return gv_err_set(err, -EINVAL,
                                  "topic '%s' has %d partitions, fewer than the %d of '%s': "
                                  "each job's verdict goes to the verdicts partition numbered "
                                  "as the job's",
                                  eos->verdicts_topic, eos->n_verdict_parts, n_jobs,
                                  eos->jobs_topic);
        part_get(eos, n_jobs - 1);
        /* the producer learns the leaders now rather than in the first transaction */
        eos->verdicts_rkt = rd_kafka_topic_new(eos->producer, eos->verdicts_topic, NULL);
        eos->dlq_rkt = rd_kafka_topic_new(eos->producer, eos->dlq_topic, NULL);
        return queue__partitions(eos->producer, eos->verdicts_topic, EOS_META_TIMEOUT_MS, &n_dlq,
                                 err);
}

static int eos_detect_mock(struct queue_eos *eos, enum queue_mock_compat mode)
{
        char *id;

        if (mode != QUEUE_MOCK_COMPAT_AUTO) {
                eos->mock_compat = mode == QUEUE_MOCK_COMPAT_ON;
                return 0;
        }
        id = rd_kafka_clusterid(eos->consumer, EOS_META_TIMEOUT_MS);
        eos->mock_compat =
                id && !strncmp(id, MOCK_CLUSTER_ID_PREFIX, strlen(MOCK_CLUSTER_ID_PREFIX));
        if (eos->mock_compat)
                queue__logf(&eos->log, 6, "eos",
                            "cluster '%s' is librdkafka's mock: offsets are also committed "
                            "through the consumer after each transaction",
                            id);
        if (id)
                rd_kafka_mem_free(eos->consumer, id);
        return 0;
}

int queue_eos_new(const struct queue_eos_conf *conf, queue_job_fn job, queue_publish_fn publish,
                  void *userdata, struct queue_eos **ret_eos, struct gv_err *err)
{
        char session[16], heartbeat[16];
        /* the first three serve the guard too */
        struct queue__kv consumer_defaults[] = {
                {"auto.offset.reset", "earliest"}, {"partition.assignment.strategy", "range"},
                {"fetch.wait.max.ms", "10"}, /* the mock holds an empty fetch this long */
                {"session.timeout.ms", session},   {"heartbeat.interval.ms", heartbeat},
        };
        const struct queue__kv consumer_forced[] = {
                {"group.id", conf->group},
                {"enable.auto.commit", "false"},
                {"enable.auto.offset.store", "false"},
                {"isolation.level", "read_committed"},
                {"enable.partition.eof", "false"},
        };
        static const struct queue__kv guard_forced[] = {
                {"isolation.level", "read_committed"},
                {"enable.partition.eof", "true"},
                {"enable.auto.commit", "false"},
                {"auto.offset.reset", "earliest"},
        };
        static const struct queue__kv producer_defaults[] = {
                {"transaction.timeout.ms", "60000"},
                {"linger.ms", "0"},
        };
        const struct queue__kv producer_forced[] = {
                {"transactional.id", conf->transactional_id},
        };
        struct queue_eos *eos;
        int r;

        if (!conf->transactional_id || !*conf->transactional_id)
                return gv_err_set(err, -EINVAL, "transactional id: missing");
        if (!conf->group || !*conf->group || !conf->jobs_topic || !*conf->jobs_topic ||
            !conf->verdicts_topic || !*conf->verdicts_topic || !conf->dlq_topic ||
            !*conf->dlq_topic)
                return gv_err_set(err, -EINVAL, "group and topics: must not be empty");
        if (conf->max_in_flight < 1 || conf->window < 1 || conf->batch_max < 1)
                return gv_err_set(err, -EINVAL, "max_in_flight, window, batch_max: must be >= 1");
        r = eos_check_strategy(&conf->kafka, err);
        if (r < 0)
                return r;
        /* librdkafka's defaults unless the caller asks for a short session (tests, the mock) */
        snprintf(session, sizeof(session), "%u",
                 conf->session_timeout_ms ? conf->session_timeout_ms : 45000);
        snprintf(heartbeat, sizeof(heartbeat), "%u",
                 conf->session_timeout_ms ? (conf->session_timeout_ms + 5) / 6 : 3000);

        eos = xcalloc(1, sizeof(*eos));
        eos->log.fn = conf->kafka.log;
        eos->log.userdata = conf->kafka.log_userdata;
        eos->group = xstrdup(conf->group);
        eos->jobs_topic = xstrdup(conf->jobs_topic);
        eos->verdicts_topic = xstrdup(conf->verdicts_topic);
        eos->dlq_topic = xstrdup(conf->dlq_topic);
        eos->max_in_flight = conf->max_in_flight;
        eos->window = conf->window;
        eos->batch_max = conf->batch_max;
        eos->linger_ms = conf->linger_ms;
        eos->job_fn = job;
        eos->publish_fn = publish;
        eos->userdata = userdata;
        eos->wake[0] = eos->wake[1] = -1;
        pthread_mutex_init(&eos->lock, NULL);
        if (pipe2(eos->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
                r = gv_err_errno(err, -errno, "pipe");
                goto fail;
        }
        r = eos_client(eos, &conf->kafka, RD_KAFKA_CONSUMER, consumer_defaults,
                       ARRAY_SIZE(consumer_defaults), consumer_forced, ARRAY_SIZE(consumer_forced),
                       &eos->consumer, err);
        if (r < 0)
                goto fail;
        eos->cq = eos_queue(eos, eos->consumer);
        r = eos_client(eos, &conf->kafka, RD_KAFKA_CONSUMER, consumer_defaults, 3, guard_forced,
                       ARRAY_SIZE(guard_forced), &eos->guard, err);
        if (r < 0)
                goto fail;
        eos->gq = rd_kafka_queue_new(eos->guard);
        rd_kafka_queue_io_event_enable(eos->gq, eos->wake[1], "g", 1);
        eos->guard_rkt = rd_kafka_topic_new(eos->guard, eos->verdicts_topic, NULL);
        r = eos_client(eos, &conf->kafka, RD_KAFKA_PRODUCER, producer_defaults,
                       ARRAY_SIZE(producer_defaults), producer_forced, ARRAY_SIZE(producer_forced),
                       &eos->producer, err);
        if (r < 0)
                goto fail;
        r = eos_topics(eos, err);
        if (r < 0)
                goto fail;
        eos_detect_mock(eos, conf->mock_compat);
        TXN_CALL(eos, r, err, "init_transactions",
                 rd_kafka_init_transactions(eos->producer, EOS_INIT_TIMEOUT_MS));
        if (r == -EAGAIN) { /* still retriable after the retries: nobody answers */
                r = -ETIMEDOUT;
                if (err)
                        err->code = r;
        }
        if (r < 0)
                goto fail;
        {
                rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
                rd_kafka_resp_err_t e;

                rd_kafka_topic_partition_list_add(topics, eos->jobs_topic, RD_KAFKA_PARTITION_UA);
                e = rd_kafka_subscribe(eos->consumer, topics);
                rd_kafka_topic_partition_list_destroy(topics);
                if (e) {
                        r = gv_err_set(err, -EINVAL, "subscribe to '%s': %s", eos->jobs_topic,
                                       rd_kafka_err2str(e));
                        goto fail;
                }
        }
        *ret_eos = eos;
        return 0;
fail:
        eos->closed = true; /* nothing was consumed: leave without committing */
        queue_eos_free(eos);
        return r;
}

int queue_eos_close(struct queue_eos *eos, struct gv_err *err)
{
        int r = 0;

        if (eos->closed)
                return 0;
        eos->closed = true;
        eos_collect(eos);
        for (int tries = 0; tries < 3 && !eos->fatal; tries++) {
                r = eos_commit(eos, true, err);
                if ((r != -ECANCELED && r != -EAGAIN) || atomic_load(&eos->interrupted))
                        break;
        }
        /* serves the revoke (which commits anything left and abandons the rest) and leaves */
        rd_kafka_consumer_close(eos->consumer);
        return r < 0 ? r : eos->fatal;
}

void queue_eos_free(struct queue_eos *eos)
{
        if (!eos)
                return;
        if (eos->consumer && !eos->closed)
                queue_eos_close(eos, NULL);
        if (eos->txn.open) { /* one last try; else the broker aborts it (or our successor) */
                struct gv_err err = {0};

                txn_abort(eos, &err);
        }
        txn_forget(eos);
        eos_collect(eos);
        for (size_t p = 0; p < eos->n_parts; p++)
                part_teardown(eos, (int32_t)p);
        if (eos->cq)
                rd_kafka_queue_destroy(eos->cq);
        if (eos->gq)
                rd_kafka_queue_destroy(eos->gq);
        if (eos->guard_rkt)
                rd_kafka_topic_destroy(eos->guard_rkt);
        if (eos->guard)
                rd_kafka_destroy(eos->guard);
        if (eos->consumer)
                rd_kafka_destroy(eos->consumer);
        if (eos->verdicts_rkt)
                rd_kafka_topic_destroy(eos->verdicts_rkt);
        if (eos->dlq_rkt)
                rd_kafka_topic_destroy(eos->dlq_rkt);
        if (eos->producer)
                rd_kafka_destroy(eos->producer);
        if (eos->wake[0] >= 0)
                close(eos->wake[0]);
        if (eos->wake[1] >= 0)
                close(eos->wake[1]);
        pthread_mutex_destroy(&eos->lock);
        free(eos->parts);
        free(eos->group);
        free(eos->jobs_topic);
        free(eos->verdicts_topic);
        free(eos->dlq_topic);
        free(eos);
}
