/* SPDX-License-Identifier: MIT */
/*
 * The audit log: every job a worker receives, each judging attempt with its stage results and
 * every verdict with its publish state, kept in one sqlite database per worker. Platforms ask it
 * "what happened to submission X", and `gavel replay` judges, requeues or republishes from it.
 * Writes go through one writer thread fed by a bounded queue, so judging never waits on the disk
 * for long; a verdict is made durable (audit_verdicts_pending) before its Kafka transaction
 * commits, so the log never lacks a verdict the topic has. The log knows nothing of Kafka: the
 * coordinates of a job arrive as plain values.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/err.h"
#include "schema/schema.h"

#define AUDIT_SCHEMA_VERSION 1                         /* PRAGMA user_version this gavel writes */
#define AUDIT_DEFAULT_PATH   "/var/lib/gavel/audit.db" /* when neither --audit nor $GAVEL_AUDIT */

enum audit_attempt_state {
        AUDIT_ATTEMPT_RUNNING,   /* started, not finished (or its worker died: see audit_open) */
        AUDIT_ATTEMPT_DONE,      /* judged; a verdict was produced */
        AUDIT_ATTEMPT_ABANDONED, /* given up: cancelled, partition revoked, worker restarted */
        _AUDIT_ATTEMPT_MAX,
        _AUDIT_ATTEMPT_INVALID = -EINVAL,
};

enum audit_publish {
        AUDIT_PENDING,   /* recorded, its transaction not yet committed (or in doubt) */
        AUDIT_COMMITTED, /* its transaction committed: the verdict is on the topic */
        AUDIT_ABORTED,   /* its transaction aborted: the verdict was never visible */
        _AUDIT_PUBLISH_MAX,
        _AUDIT_PUBLISH_INVALID = -EINVAL,
};

enum audit_stage_kind {
        AUDIT_STAGE_COMPILE,
        AUDIT_STAGE_TEST,
        _AUDIT_STAGE_MAX,
        _AUDIT_STAGE_INVALID = -EINVAL,
};

const char *audit_attempt_state_name(enum audit_attempt_state state); /* "running"...; or NULL */
enum audit_attempt_state audit_attempt_state_from_name(const char *s);
const char *audit_publish_name(enum audit_publish state); /* "pending"...; or NULL */
enum audit_publish audit_publish_from_name(const char *s);

/* Receives the log's own messages (one line, no newline); error false means informational. */
typedef void (*audit_log_fn)(bool error, const char *msg, void *userdata);

struct audit_conf {
        const char *path;         /* the database file; created mode 0600; never a symlink */
        const char *worker_id;    /* written into every job row; or NULL */
        bool writer;              /* true: the worker's log (writer thread, records, an exclusive
                                     lock); false: a reader or maintainer (CLI, replay) */
        bool create;              /* create the file when missing (else -ENOENT) */
        unsigned busy_timeout_ms; /* wait for another connection's lock; 0: 5000 */
        unsigned queue_max;       /* records waiting for the writer; 0: 4096 */
        size_t queue_max_bytes;   /* bytes those records hold; 0: 256 MiB */
        unsigned enqueue_wait_ms; /* how long a record waits for room before it is dropped
                                     (and the log turns unhealthy); 0: 2000 */
        uint64_t max_size_kib;    /* bound on the database (PRAGMA max_page_count): a write
                                     beyond it fails like a full disk; 0: none */
        audit_log_fn log;         /* or NULL: logfmt lines on stderr */
        void *log_userdata;
};

struct audit;

/*
 * Opens (creating when conf->create) the log at conf->path and brings its schema up to
 * AUDIT_SCHEMA_VERSION. The file is opened by gavel first: refused when it is a symlink, created
 * 0600 and tightened to 0600 when wider, since it holds source code. A writer also takes an
 * exclusive lock (a second worker on the same file gets -EBUSY), marks attempts it finds running
 * as abandoned (their process died) and starts the writer thread. Errors: -ENOENT, -ELOOP (a
 * symlink), -EBUSY (in use by another writer), -EPROTONOSUPPORT (written by a newer gavel),
 * -EUCLEAN (not a database, or corrupt), other -errno; err says which file and why.
 */
int audit_open(const struct audit_conf *conf, struct audit **ret_audit, struct gv_err *err);
/* Writes everything queued, stops the writer and closes the log. NULL is a no-op. */
void audit_free(struct audit *audit);

const char *audit_path(const struct audit *audit);

/*
 * Whether the last write reached the database. False after a write failed (a full disk, a lock
 * held beyond busy_timeout_ms, a record dropped because the queue stayed full): the worker then
 * stops taking jobs. The writer probes the database every second while unhealthy and turns
 * healthy again once a 64 KiB write commits (e.g. after `gavel audit prune`).
 */
bool audit_healthy(struct audit *audit);
/* The message of the last write failure (err->code 0 when none). */
void audit_last_error(struct audit *audit, struct gv_err *ret_err);

/* ---- recording (writer only) ------------------------------------------------------------ */

/* Where a job came from, as the consumer saw it. */
struct audit_origin {
        const char *topic;   /* or NULL (a job not from a topic) */
        int32_t partition;   /* -1: none */
        int64_t offset;      /* -1: none */
        const void *key;     /* the message key; or NULL */
        size_t key_len;      /* bytes of key */
        int64_t received_ms; /* unix ms; 0: now */
};

/*
 * Records a job as received: its raw bytes (as they came, so replay sees exactly what the worker
 * saw), decoded job when it decoded (or NULL: the row then has no submission, problem or
 * language), and origin (or NULL). Everything is copied; the call returns at once with the row
 * id the attempts refer to. Returns 0, -ENOBUFS (the queue stayed full: the record was dropped
 * and the log is unhealthy), -E2BIG (raw_len over the queue's byte bound), -EINVAL.
 * The async records below return the same codes.
 */
int audit_job_received(struct audit *audit, const void *raw, size_t raw_len, const struct job *job,
                       const struct audit_origin *origin, int64_t *ret_job_id, struct gv_err *err);

/* Records attempt attempt_no (the job's "attempt") of job_id as running; hands out its id. */
int audit_attempt_started(struct audit *audit, int64_t job_id, uint32_t attempt_no,
                          int64_t *ret_attempt_id, struct gv_err *err);

struct audit_stage {
        enum audit_stage_kind kind;
        uint32_t index;            /* test number from 1; 0 for compile */
        enum schema_code verdict;  /* a test's verdict; compile: SCHEMA_AC ok, SCHEMA_CE not */
        uint32_t time_ms, wall_ms; /* cpu and wall time */
        uint64_t memory_kib;       /* peak memory */
        int32_t exit_code, signal; /* as in struct verdict_test; 0 for compile */
        const char *message;       /* checker message or compile log; copied; or NULL */
};

/*
 * Records the end of an attempt: state done or abandoned, with reason (copied; or NULL). When
 * verdict is not NULL, its compile result and every test become stage rows in the same write.
 */
int audit_attempt_finished(struct audit *audit, int64_t attempt_id, enum audit_attempt_state state,
                           const char *reason, const struct verdict *verdict, struct gv_err *err);

/* One verdict about to be published. */
struct audit_verdict {
        int64_t attempt_id;            /* the attempt that produced it */
        const struct verdict *verdict; /* its code and score are indexed; borrowed */
        const void *raw;               /* the encoded bytes to be published; borrowed */
        size_t raw_len;
};

/*
 * Records n verdicts as pending and WAITS until they, and every record queued before them, are
 * committed and synced to disk (that one commit is synchronous=FULL; see audit.c). Only after
 * it returns 0 may the worker commit the Kafka transaction that publishes them; on any error it
 * must abort it instead. ret_ids (n of them, or NULL) receives the verdicts' ids for
 * audit_verdicts_mark as soon as the records are queued, so that after a failure the worker can
 * still mark aborted those that were written. Returns 0, -ENOSPC (full), -EBUSY (locked beyond
 * the timeout), -EIO, -EINVAL (a record was refused, e.g. an unknown attempt id), -ESHUTDOWN;
 * err says why. Safe to call from several threads at once, as are all the records.
 */
int audit_verdicts_pending(struct audit *audit, const struct audit_verdict *verdicts, size_t n,
                           int64_t *ret_ids, struct gv_err *err);

/* Records the outcome of the transaction of verdicts ids[0..n): committed or aborted. Async. */
int audit_verdicts_mark(struct audit *audit, const int64_t *ids, size_t n, enum audit_publish state,
                        struct gv_err *err);

/* Waits until everything queued so far is committed and synced; returns the first error. */
int audit_flush(struct audit *audit, struct gv_err *err);

/*
 * ---- reading ----
 * Any handle. On a writer's handle each call opens a connection of its own (WAL readers never
 * block the writer), so they may run from any thread; a reader's handle uses its one connection
 * and serves one thread at a time. Free iterators before the handle.
 */

/* Which jobs replay and the CLI look at; zeroed fields select everything. */
struct audit_select {
        const char *submission; /* submission id; or NULL */
        int64_t since_ms;       /* received at or after; 0: no bound */
        int64_t until_ms;       /* received before; 0: no bound */
        const char *problem;    /* or NULL */
        const char *lang;       /* or NULL */
        const char *worker;     /* or NULL */
        bool by_verdict;        /* select on the last committed verdict's code: */
        enum schema_code verdict;
};

/* One recorded job. Pointers are valid until the next audit_iter_next or audit_iter_free. */
struct audit_entry {
        int64_t job_id;
        const char *submission;                      /* or NULL (the job did not decode) */
        const char *problem, *lang, *worker, *topic; /* or NULL */
        int32_t partition;                           /* -1: none */
        int64_t offset;                              /* -1: none */
        int64_t received_ms;
        const uint8_t *job_raw; /* the bytes as received */
        size_t job_raw_len;
        int64_t verdict_id;         /* the last committed verdict; 0: none */
        enum schema_code verdict;   /* its code; _SCHEMA_CODE_INVALID when none */
        const uint8_t *verdict_raw; /* its bytes as published; or NULL */
        size_t verdict_raw_len;
};

struct audit_iter;

/*
 * Iterates over the jobs matching sel (NULL: all) in the order they were recorded. It pages
 * through the table in short read transactions, so a long replay neither blocks the writer nor
 * keeps the WAL from being checkpointed. *ret_total is the count of matches at the start.
 */
int audit_iter_new(struct audit *audit, const struct audit_select *sel, struct audit_iter **ret_it,
                   uint64_t *ret_total, struct gv_err *err);
/* 1 and *ret_entry set, 0 at the end, or -errno. */
int audit_iter_next(struct audit_iter *it, const struct audit_entry **ret_entry,
                    struct gv_err *err);
void audit_iter_free(struct audit_iter *it); /* NULL is a no-op */

struct audit_stats {
        uint32_t schema_version;
        uint64_t jobs;
        uint64_t attempts[_AUDIT_ATTEMPT_MAX];
        uint64_t verdicts[_SCHEMA_CODE_MAX][_AUDIT_PUBLISH_MAX];
        uint64_t verdicts_other;      /* rows with a code or state this gavel does not know */
        int64_t oldest_ms, newest_ms; /* received_ms of the first and last job; 0 when none */
        uint64_t db_bytes;            /* the database file */
        uint64_t wal_bytes;           /* its write-ahead log */
        uint64_t free_bytes;          /* pages on the free list (prune gives them back) */
};

int audit_stats(struct audit *audit, struct audit_stats *ret_stats, struct gv_err *err);

struct audit_pruned {
        uint64_t jobs, attempts, stages, verdicts; /* rows deleted */
        uint64_t bytes_before, bytes_after;        /* database + WAL */
};

/*
 * Deletes the jobs received before before_ms with their attempts, stages and verdicts, in
 * transactions of a few hundred jobs so a running writer waits at most milliseconds, then gives
 * the freed pages back to the file system with PRAGMA incremental_vacuum (the log is created with
 * auto_vacuum=INCREMENTAL; a log that is not is converted once by VACUUM) and truncates the WAL.
 */
int audit_prune(struct audit *audit, int64_t before_ms, struct audit_pruned *ret_pruned,
                struct gv_err *err);

/*
 * The jobs recorded for submission id (or, with by_row, the one job row whose id is the decimal
 * id), each with every attempt, its stages and every verdict, as a new JSON value (the caller
 * owns the reference): {"jobs": [{"id", "submission", ..., "message": <the job decoded>,
 * "attempts": [{..., "stages": [...]}], "verdicts": [{..., "message": <decoded>}]}]}.
 * -ENOENT when nothing matches. The JSON type is opaque here so this header needs no jansson.
 */
struct json_t;
int audit_show(struct audit *audit, const char *id, bool by_row, struct json_t **ret_json,
               struct gv_err *err);
