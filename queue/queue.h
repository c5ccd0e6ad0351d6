/* SPDX-License-Identifier: MIT */
/*
 * Kafka for gavel, the only code that includes librdkafka: the embedded broker (librdkafka's mock
 * cluster on loopback), an idempotent producer, a whole-topic reader, and the exactly-once
 * session that consumes jobs as a consumer group and publishes each job's verdict in the Kafka
 * transaction that commits the job's offset. Knows nothing of containers or judging: jobs and
 * verdicts are bytes here. Written for librdkafka 2.0.2 (Debian 12); see
 * shared/research/kafka-mock.md for what its mock cluster does and does not do.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/err.h"

#define QUEUE_TOPIC_JOBS     "gavel.jobs"
#define QUEUE_TOPIC_VERDICTS "gavel.verdicts"
#define QUEUE_TOPIC_PROGRESS "gavel.progress"
#define QUEUE_TOPIC_DLQ      "gavel.jobs.dlq"

/*
 * Headers gavel puts on a verdict (and on a dead letter): where the job was. Values are decimal
 * text except the topic. The exactly-once guard reads them back (see struct queue_eos).
 */
#define QUEUE_HDR_TOPIC     "gavel.job.topic"
#define QUEUE_HDR_PARTITION "gavel.job.partition"
#define QUEUE_HDR_OFFSET    "gavel.job.offset"
#define QUEUE_HDR_TIMESTAMP "gavel.job.timestamp" /* the job message's timestamp, ms */
#define QUEUE_HDR_REASON    "gavel.reason"        /* dead letters: why the job was rejected */

/* ---- configuration shared by every client ------------------------------------------------ */

/* One librdkafka property ("security.protocol" = "sasl_ssl"), as in CONFIGURATION.md. */
struct queue_prop {
        const char *name;
        const char *value;
};

/*
 * A log line from librdkafka (facility as librdkafka names it) or from gavel's own queue code
 * (facility "eos", "mock"). level is a syslog level (3 error ... 7 debug). Called from any thread,
 * librdkafka's included: the callee must be thread-safe.
 */
typedef void (*queue_log_fn)(int level, const char *facility, const char *msg, void *userdata);

struct queue_conf {
        const char *brokers;            /* bootstrap.servers: "host:port,..."; required */
        const char *client_id;          /* client.id; NULL: "gavel" */
        const struct queue_prop *props; /* set on every client after gavel's defaults (so they
                                           override them), before the few settings gavel needs
                                           (which they cannot); may be NULL */
        size_t n_props;
        queue_log_fn log; /* or NULL: librdkafka's lines are dropped */
        void *log_userdata;
};

/*
 * Checks that every property of conf->props exists and takes its value, as librdkafka sees
 * them; an error names the property ("kafka.sasl.mechanism: ..."). Returns 0 or -EINVAL.
 */
int queue_conf_check(const struct queue_conf *conf, struct gv_err *err);

/* ---- the embedded broker ----------------------------------------------------------------- */

struct queue_mock;

/*
 * Starts librdkafka's mock cluster with nodes brokers (1..16) on loopback ports the kernel picks,
 * in this process (it serves from its own threads). log may be NULL.
 */
int queue_mock_new(unsigned nodes, queue_log_fn log, void *log_userdata,
                   struct queue_mock **ret_mock, struct gv_err *err);
void queue_mock_free(struct queue_mock *mock); /* NULL is a no-op; clients see refused
                                                  connections afterwards */

/* The bootstrap string, "127.0.0.1:port,..."; lives as long as mock. */
const char *queue_mock_bootstrap(const struct queue_mock *mock);

/* Creates topic with partitions partitions, replicated on min(nodes, 3) brokers. */
int queue_mock_topic_create(struct queue_mock *mock, const char *topic, unsigned partitions,
                            struct gv_err *err);

/*
 * Runs one fault-injection command, the text protocol `gavel broker` reads on stdin:
 *   fail API ERROR[*N] [ERROR[*N]...]  the next requests of API fail with these errors, in order
 *                                      (API: Produce, Fetch, EndTxn, ... ; ERROR: librdkafka's
 *                                      name, NOT_LEADER_FOR_PARTITION, _TRANSPORT, ...)
 *   delay BROKER API ERROR MS          broker's next API request is answered after MS with ERROR
 *                                      (NO_ERROR: just slow)
 *   clear API                          drops the pending errors of API
 *   down BROKER|all, up BROKER|all     closes a broker's connections and refuses new ones, or
 *                                      lets it serve again (same port)
 *   rtt BROKER|all MS                  adds MS of round-trip time
 *   leader TOPIC PARTITION BROKER      moves a partition's leader (-1: no leader)
 *   coordinator transaction|group KEY BROKER  pins a coordinator
 *   topic NAME PARTITIONS              creates a topic
 * Blank lines and lines starting with '#' do nothing. -EINVAL with err saying what is wrong.
 */
int queue_mock_command(struct queue_mock *mock, const char *line, struct gv_err *err);

/* ---- messages ---------------------------------------------------------------------------- */

struct queue_header {
        const char *name;
        const void *value; /* or NULL */
        size_t len;
};

/* A consumed message; the pointers live until the next call on the client that returned it. */
struct queue_msg {
        const char *topic;
        int32_t partition;
        int64_t offset;
        int64_t timestamp_ms; /* -1 when the message has none */
        const void *key;      /* or NULL */
        size_t key_len;
        const void *value; /* or NULL */
        size_t len;
        const void *priv; /* the client's own handle of the message */
};

/*
 * The last header called name of msg: *ret_value (not NUL-terminated, may be NULL) and *ret_len.
 * Returns 0, or -ENOENT when msg has no such header.
 */
int queue_msg_header(const struct queue_msg *msg, const char *name, const void **ret_value,
                     size_t *ret_len);

/* ---- producer (idempotent, at least once) ------------------------------------------------- */

struct queue_producer;

/* An idempotent producer (acks=all, no duplicates on retries, order kept per partition). */
int queue_producer_new(const struct queue_conf *conf, struct queue_producer **ret_prod,
                       struct gv_err *err);
/* Waits up to 10 s for what is still queued, then frees. NULL is a no-op. */
void queue_producer_free(struct queue_producer *prod);
/* The same with a wait of flush_ms (what is not delivered by then is dropped). */
void queue_producer_close(struct queue_producer *prod, int flush_ms);

/*
 * Queues one message (copied) to topic; partition -1 lets the key choose. Thread-safe; never
 * blocks longer than 1 s (a full local queue): -EAGAIN then. Delivery itself is reported by
 * queue_producer_flush. -EMSGSIZE when over message.max.bytes; -ENOTRECOVERABLE fatal.
 */
int queue_producer_send(struct queue_producer *prod, const char *topic, int32_t partition,
                        const void *key, size_t key_len, const void *value, size_t len,
                        const struct queue_header *headers, size_t n_headers, struct gv_err *err);

/*
 * Waits up to timeout_ms (-1: forever) for every queued message to be delivered. Returns 0,
 * -ETIMEDOUT when some are still queued, or -EIO when a delivery failed since the last flush
 * (err holds the first failure).
 */
int queue_producer_flush(struct queue_producer *prod, int timeout_ms, struct gv_err *err);

/* Serves delivery reports without waiting; call now and then when not flushing. */
void queue_producer_poll(struct queue_producer *prod);

/*
 * A transactional producer (gavel replay --republish): its messages become visible to
 * read_committed readers all at once, at queue_producer_commit, or never. transactional_id fences
 * an earlier producer with the same id.
 */
int queue_producer_new_txn(const struct queue_conf *conf, const char *transactional_id,
                           int timeout_ms, struct queue_producer **ret_prod, struct gv_err *err);
int queue_producer_begin(struct queue_producer *prod, struct gv_err *err);
/*
 * Waits for every message of the transaction to be delivered, then commits it. When a delivery
 * or the commit fails the transaction is aborted: -EIO, -ETIMEDOUT, -ECANCELED (begin again), or
 * -ENOTRECOVERABLE (free the producer). -EAGAIN: the commit is still in progress (not aborted):
 * call commit again, or abort.
 */
int queue_producer_commit(struct queue_producer *prod, int timeout_ms, struct gv_err *err);
/* Aborts the transaction in progress (its messages never become visible). */
int queue_producer_abort(struct queue_producer *prod, int timeout_ms, struct gv_err *err);

/* ---- reader (whole topics, read_committed, no consumer group) ----------------------------- */

struct queue_reader;

enum queue_start {
        QUEUE_START_BEGINNING, /* everything the topics still hold */
        QUEUE_START_END,       /* only what is produced after queue_reader_new returns */
};

/*
 * Reads every partition of the given topics (which must exist) with isolation.level
 * read_committed, from start. For QUEUE_START_END the end offsets are fetched before this returns,
 * so nothing produced afterwards is missed.
 */
int queue_reader_new(const struct queue_conf *conf, const char *const *topics, size_t n_topics,
                     enum queue_start start, struct queue_reader **ret_reader, struct gv_err *err);
void queue_reader_free(struct queue_reader *reader); /* NULL is a no-op */

/*
 * Waits up to timeout_ms for the next message: 1 with *ret_msg filled (valid until the next call),
 * 0 when none came, -errno on a consumer error that is not transient.
 */
int queue_reader_next(struct queue_reader *reader, int timeout_ms, struct queue_msg *ret_msg,
                      struct gv_err *err);

/* Whether every partition was read to its end (as of the last end-of-partition event seen). */
bool queue_reader_at_end(const struct queue_reader *reader);

/* ---- the exactly-once session: jobs in, verdicts out ------------------------------------- */

/*
 * struct queue_eos consumes the jobs topic as a member of a consumer group (eager "range"
 * assignor, read_committed, no auto commit) and hands each job to the caller, who judges it and
 * calls queue_job_finish with the verdict's bytes, from any thread. Finished jobs of a partition
 * are published in offset order, several per transaction: begin, produce each verdict (and the
 * dead-letter copies), send the offsets with the group's metadata, commit. Any produce or
 * delivery error aborts the transaction, which is retried with the same verdicts.
 *
 * The broker-independent guard: a job's verdict goes to the verdicts partition numbered as the
 * job's partition, with the job's place in its headers (QUEUE_HDR_*), and every offset commit
 * stores in its metadata ("gavel.vpos=N") a position N of that verdicts partition before which
 * no verdict of an uncommitted job lies. A worker assigned a jobs partition first reads the
 * verdicts partition from N to its end (read_committed) and skips the jobs answered there. On
 * a real broker the transaction already makes this a no-op; on librdkafka's mock cluster, which
 * drops transactional offsets, it is what keeps verdicts unique, together with the one mock-only
 * step: the same offsets are also committed through the consumer after each transaction.
 *
 * Revoked partitions abandon their jobs: queue_job_cancelled() becomes true and their verdicts
 * are dropped; the partition's next owner judges them again. The caller keeps calling
 * queue_eos_poll while jobs are judged, so the group never times it out.
 */
struct queue_eos;
struct queue_job;

enum queue_mock_compat {
        QUEUE_MOCK_COMPAT_AUTO, /* on when the cluster id says it is librdkafka's mock */
        QUEUE_MOCK_COMPAT_ON,
        QUEUE_MOCK_COMPAT_OFF,
        _QUEUE_MOCK_COMPAT_MAX,
        _QUEUE_MOCK_COMPAT_INVALID = -EINVAL,
};

struct queue_eos_conf {
        struct queue_conf kafka;
        const char *group;      /* group.id */
        const char *jobs_topic; /* must have no more partitions than verdicts_topic */
        const char *verdicts_topic;
        const char *dlq_topic;        /* dead letters */
        const char *transactional_id; /* required: stable per worker, so that a restarted worker
                                         fences its predecessor and aborts its open transaction */
        unsigned max_in_flight;       /* jobs handed out and not finished yet */
        unsigned window;              /* jobs held per partition (waiting, being judged, or not
                                         published yet) before the partition is paused */
        unsigned batch_max;           /* finished jobs per transaction at most */
        unsigned linger_ms;           /* how long a finished job may wait for batch-mates */
        unsigned session_timeout_ms;  /* session.timeout.ms; 0: librdkafka's (45 s) */
        enum queue_mock_compat mock_compat;
};

/* Topics gavel.*, group "gavel", 1 in flight, window 16, batch 64, linger 0, auto. */
void queue_eos_conf_default(struct queue_eos_conf *conf);

/*
 * A job to judge, called on the polling thread. The callee must call queue_job_finish exactly
 * once for it, from any thread, also when the job is cancelled on the way.
 */
typedef void (*queue_job_fn)(struct queue_job *job, void *userdata);

/* One job of a transaction, for the publish hook. Pointers live during the call. */
struct queue_published {
        int32_t partition;
        int64_t offset;
        bool skipped;     /* answered before (the guard): only its offset is committed */
        int64_t tag;      /* set with queue_job_set_tag, else 0 */
        const void *note; /* set with queue_job_set_note, else NULL */
        size_t note_len;
        const void *verdict; /* the verdict's bytes; NULL when skipped */
        size_t verdict_len;
};

enum queue_publish_phase {
        QUEUE_PUBLISH_PENDING,   /* every verdict is produced; the transaction is not committed */
        QUEUE_PUBLISH_COMMITTED, /* committed: readers see the verdicts */
        QUEUE_PUBLISH_ABORTED,   /* aborted after PENDING; the jobs come again in a later one */
        _QUEUE_PUBLISH_MAX,
        _QUEUE_PUBLISH_INVALID = -EINVAL,
};

/*
 * The publish hook (for an audit log that must hold a verdict before Kafka does): called on the
 * polling thread with the jobs of one transaction at each phase. A negative return at PENDING
 * aborts the transaction (ABORTED follows; the jobs are tried again later); other returns are
 * ignored.
 */
typedef int (*queue_publish_fn)(enum queue_publish_phase phase, const struct queue_published *pub,
                                size_t n, void *userdata);

/*
 * Joins the group and subscribes. Checks that the topics exist and that the verdicts topic has
 * at least as many partitions as the jobs topic, and initialises the transactions (fencing a
 * previous producer with the same transactional id). publish may be NULL. Errors: -EINVAL
 * (configuration, topics), -ENOTRECOVERABLE, -ETIMEDOUT (no broker answered).
 */
int queue_eos_new(const struct queue_eos_conf *conf, queue_job_fn job, queue_publish_fn publish,
                  void *userdata, struct queue_eos **ret_eos, struct gv_err *err);

/*
 * Frees everything. Call it after queue_eos_close and after every job handed out was finished
 * (a slot thread would otherwise touch freed memory). NULL is a no-op.
 */
void queue_eos_free(struct queue_eos *eos);

/*
 * Serves the group (rebalances, guard reads), hands out jobs, collects finished ones and commits
 * them; waits up to timeout_ms for something to happen (or queue_eos_wake). Returns 0, or
 * -ENOTRECOVERABLE when the session cannot go on (a fenced producer, a broken topic): close it
 * and exit.
 */
int queue_eos_poll(struct queue_eos *eos, int timeout_ms, struct gv_err *err);

/* Makes a waiting queue_eos_poll return. Async-signal-safe: a signal handler may call it. */
void queue_eos_wake(struct queue_eos *eos);

/*
 * Wakes the session and stops it waiting on an unresponsive broker: a transaction call that
 * asks to be retried is not retried any more (each call waits 10 s at most), so a shutdown
 * finishes in bounded time even with the brokers gone. Async-signal-safe.
 */
void queue_eos_interrupt(struct queue_eos *eos);

/*
 * Stops handing out jobs (hold true: for a shutdown, or while the worker cannot take more) or
 * starts again. While held, every partition is paused and jobs being judged go on.
 */
void queue_eos_hold(struct queue_eos *eos, bool hold);

/* Cancels every job being judged: a job that has not finished is dropped and its partition's
   next owner (or this worker, next time) judges it again; a verdict handed over before the
   cancel took effect is still published, with the others of its partition. */
void queue_eos_abandon(struct queue_eos *eos);

/* Jobs handed out and not finished (cancelled ones included). */
unsigned queue_eos_in_flight(const struct queue_eos *eos);

/*
 * Commits what is finished and leaves the group (the partitions go to other workers at once).
 * Returns 0 or the commit's error.
 */
int queue_eos_close(struct queue_eos *eos, struct gv_err *err);

struct queue_eos_stats {
        uint64_t received;     /* job messages consumed */
        uint64_t handed;       /* handed to the caller */
        uint64_t published;    /* verdicts committed */
        uint64_t skipped;      /* skipped by the guard: answered before */
        uint64_t abandoned;    /* cancelled on a revoke or queue_eos_abandon */
        uint64_t transactions; /* committed */
        uint64_t aborts;       /* transactions aborted (and retried) */
        uint64_t rebalances;   /* assignments received */
        uint64_t guard_read;   /* verdicts the guard read on assignments */
        bool mock_compat;      /* the mock-only consumer commit is on */
};

void queue_eos_stats(const struct queue_eos *eos, struct queue_eos_stats *ret_stats);

/* The job message. Pointers live as long as the job (until it is finished). */
const struct queue_msg *queue_job_msg(const struct queue_job *job);

/* Sets the tag the publish hook sees for job; call it before queue_job_finish. */
void queue_job_set_tag(struct queue_job *job, int64_t tag);
/* Copies note[0..len) for the publish hook to see with job (what the caller must not decode
 * again from the verdict's bytes); replaces an earlier one; freed with the job. */
void queue_job_set_note(struct queue_job *job, const void *note, size_t len);

/* Becomes true when the job is abandoned; pass it to the judge as its cancel flag. */
const atomic_bool *queue_job_cancelled(const struct queue_job *job);

/*
 * Finishes job, from any thread: verdict (malloc'ed, taken, may be NULL for a cancelled job) is
 * published with key (NULL: the job message's key). With dlq_reason, a copy of the job message
 * goes to the dead-letter topic in the same transaction, the reason in its QUEUE_HDR_REASON
 * header. The job must not be used afterwards.
 */
void queue_job_finish(struct queue_job *job, void *verdict, size_t len, const char *key,
                      const char *dlq_reason);
