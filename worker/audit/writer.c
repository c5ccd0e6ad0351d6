/* SPDX-License-Identifier: MIT */
/*
 * The audit log's writing side: opening the database safely (no symlink, mode 0600, one writer
 * per file), its schema and migrations, and the writer thread. Callers queue records and go on
 * judging; the writer takes whatever is queued and writes it in one transaction, so a burst costs
 * one commit instead of one per record. Durability: WAL with synchronous=NORMAL for ordinary
 * batches (a crash of the process loses nothing; a power cut may lose the last batches but never
 * corrupts), and synchronous=FULL for a batch holding a verdict about to be published, whose
 * fsync of the WAL makes it and everything written before it durable before Kafka commits.
 */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "schema/cleanup.h"
#include "worker/audit/audit-internal.h"
#include "worker/util/clock.h"

#define DEFAULT_BUSY_TIMEOUT_MS 5000
#define DEFAULT_QUEUE_MAX       4096
#define DEFAULT_QUEUE_MAX_BYTES ((size_t)256 << 20)
#define DEFAULT_ENQUEUE_WAIT_MS 2000
#define BATCH_MAX_OPS           1024
#define BATCH_MAX_BYTES         ((size_t)32 << 20)
#define PROBE_INTERVAL_MS       1000
#define JOURNAL_SIZE_LIMIT      (64 << 20) /* WAL bytes kept after a checkpoint */

/* ---- names ------------------------------------------------------------------------------ */

static const char *const attempt_state_names[_AUDIT_ATTEMPT_MAX] = {
        [AUDIT_ATTEMPT_RUNNING] = "running",
        [AUDIT_ATTEMPT_DONE] = "done",
        [AUDIT_ATTEMPT_ABANDONED] = "abandoned",
};

static const char *const publish_names[_AUDIT_PUBLISH_MAX] = {
        [AUDIT_PENDING] = "pending",
        [AUDIT_COMMITTED] = "committed",
        [AUDIT_ABORTED] = "aborted",
};

static const char *const stage_kind_names[_AUDIT_STAGE_MAX] = {
        [AUDIT_STAGE_COMPILE] = "compile",
        [AUDIT_STAGE_TEST] = "test",
};

static int name_index(const char *const *names, size_t n, const char *s)
{
        for (size_t i = 0; s && i < n; i++)
                if (!strcmp(names[i], s))
                        return (int)i;
        return -EINVAL;
}

const char *audit_attempt_state_name(enum audit_attempt_state state)
{
        return state >= 0 && state < _AUDIT_ATTEMPT_MAX ? attempt_state_names[state] : NULL;
}

enum audit_attempt_state audit_attempt_state_from_name(const char *s)
{
        return (enum audit_attempt_state)name_index(attempt_state_names, _AUDIT_ATTEMPT_MAX, s);
}

const char *audit_publish_name(enum audit_publish state)
{
        return state >= 0 && state < _AUDIT_PUBLISH_MAX ? publish_names[state] : NULL;
}

enum audit_publish audit_publish_from_name(const char *s)
{
        return (enum audit_publish)name_index(publish_names, _AUDIT_PUBLISH_MAX, s);
}

/* ---- schema ----------------------------------------------------------------------------- */

/*
 * migrations[v] takes a database from user_version v to v + 1, inside one transaction. Append,
 * never edit: a file in the field may be at any earlier version. Big columns (raw, message) come
 * last in each row, so reading the small ones never walks a blob's overflow pages.
 */
static const char *const migrations[] = {
        /* 0 -> 1: the first schema */
        "CREATE TABLE jobs (\n"
        "        id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "        submission TEXT,\n"
        "        received_ms INTEGER NOT NULL,\n"
        "        worker TEXT,\n"
        "        problem TEXT,\n"
        "        lang TEXT,\n"
        "        attempt INTEGER,\n"
        "        rejudge INTEGER NOT NULL DEFAULT 0,\n"
        "        topic TEXT,\n"
        "        topic_partition INTEGER,\n"
        "        topic_offset INTEGER,\n"
        "        msg_key BLOB,\n"
        "        raw BLOB NOT NULL\n"
        ") STRICT;\n"
        "CREATE INDEX jobs_submission ON jobs (submission);\n"
        "CREATE INDEX jobs_received ON jobs (received_ms);\n"
        "CREATE INDEX jobs_problem ON jobs (problem, received_ms);\n"
        "CREATE INDEX jobs_lang ON jobs (lang, received_ms);\n"
        "CREATE INDEX jobs_worker ON jobs (worker, received_ms);\n"
        "CREATE TABLE attempts (\n"
        "        id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "        job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,\n"
        "        attempt INTEGER NOT NULL,\n"
        "        started_ms INTEGER NOT NULL,\n"
        "        finished_ms INTEGER,\n"
        "        state TEXT NOT NULL CHECK (state IN ('running', 'done', 'abandoned')),\n"
        "        reason TEXT\n"
        ") STRICT;\n"
        "CREATE INDEX attempts_job ON attempts (job_id);\n"
        "CREATE INDEX attempts_state ON attempts (state);\n"
        "CREATE TABLE stages (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        attempt_id INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,\n"
        "        kind TEXT NOT NULL CHECK (kind IN ('compile', 'test')),\n"
        "        idx INTEGER NOT NULL,\n"
        "        verdict TEXT,\n"
        "        time_ms INTEGER,\n"
        "        wall_ms INTEGER,\n"
        "        memory_kib INTEGER,\n"
        "        exit_code INTEGER,\n"
        "        signal INTEGER,\n"
        "        message TEXT\n"
        ") STRICT;\n"
        "CREATE INDEX stages_attempt ON stages (attempt_id, kind, idx);\n"
        "CREATE TABLE verdicts (\n"
        "        id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "        job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,\n"
        "        attempt_id INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,\n"
        "        code TEXT NOT NULL,\n"
        "        score REAL NOT NULL,\n"
        "        max_score REAL,\n"
        "        state TEXT NOT NULL CHECK (state IN ('pending', 'committed', 'aborted')),\n"
        "        created_ms INTEGER NOT NULL,\n"
        "        updated_ms INTEGER NOT NULL,\n"
        "        raw BLOB NOT NULL\n"
        ") STRICT;\n"
        "CREATE INDEX verdicts_job ON verdicts (job_id, state);\n"
        "CREATE INDEX verdicts_attempt ON verdicts (attempt_id);\n"
        "CREATE INDEX verdicts_code ON verdicts (code, state);\n",
};

_Static_assert(ARRAY_SIZE(migrations) == AUDIT_SCHEMA_VERSION, "one migration per schema version");

/* ---- errors, logging, time -------------------------------------------------------------- */

static int rc_errno(sqlite3 *db, int rc)
{
        int sys = db ? sqlite3_system_errno(db) : 0;

        switch (rc & 0xff) {
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EUCLEAN;
        case SQLITE_CONSTRAINT:
        case SQLITE_MISMATCH:
        case SQLITE_RANGE:
                return -EINVAL;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_CANTOPEN:
                return sys > 0 ? -sys : -ENOENT;
        default:
                return sys > 0 ? -sys : -EIO;
        }
}

int audit__fail(sqlite3 *db, int rc, struct gv_err *err, const char *fmt, ...)
{
        char what[sizeof(err->msg)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return gv_err_set(err, rc_errno(db, rc), "%s: %s", what,
                          db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static void log_stderr(bool error, const char *msg, void *userdata)
{
        (void)userdata;
        flockfile(stderr);
        fprintf(stderr, "level=%s msg=\"", error ? "error" : "info");
        for (const char *p = msg; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fputc('\\', stderr);
                fputc(*p == '\n' ? ' ' : *p, stderr);
        }
        fputs("\"\n", stderr);
        funlockfile(stderr);
}

__attribute__((format(printf, 3, 4))) static void audit_log(struct audit *audit, bool error,
                                                            const char *fmt, ...)
{
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        audit->conf.log(error, msg, audit->conf.log_userdata);
}

/* ---- connections ------------------------------------------------------------------------ */

int audit__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret_stmt, struct gv_err *err)
{
        int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, ret_stmt, NULL);

        if (rc != SQLITE_OK)
                return audit__fail(db, rc, err, "cannot prepare \"%.60s\"", sql);
        return 0;
}

int audit__exec(sqlite3 *db, const char *sql, struct gv_err *err)
{
        int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

        if (rc != SQLITE_OK)
                return audit__fail(db, rc, err, "\"%.60s\" failed", sql);
        return 0;
}

/* The first column of the first row of sql, as an integer (0 when there is no row). */
static int query_int(sqlite3 *db, const char *sql, int64_t *ret, struct gv_err *err)
{
        sqlite3_stmt *stmt;
        int rc, r;

        r = audit__prepare(db, sql, &stmt, err);
        if (r < 0)
                return r;
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
                *ret = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
                r = 0;
        } else
                r = audit__fail(db, rc, err, "\"%.60s\" failed", sql);
        sqlite3_finalize(stmt);
        return r;
}

int audit__connect(struct audit *audit, sqlite3 **ret_db, struct gv_err *err)
{
        const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX;
        sqlite3 *db = NULL;
        int rc, r;

        rc = sqlite3_open_v2(audit->path, &db, flags, NULL);
        if (rc != SQLITE_OK) {
                r = audit__fail(db, rc, err, "cannot open the audit log '%s'", audit->path);
                sqlite3_close(db);
                return r;
        }
        sqlite3_extended_result_codes(db, 1);
        sqlite3_busy_timeout(db, (int)audit->conf.busy_timeout_ms);
        /* the cascades of prune need them, and they catch a record naming a lost parent */
        r = audit__exec(db, "PRAGMA foreign_keys = ON", err);
        if (r < 0) {
                sqlite3_close(db);
                return gv_err_prefix(err, r, "audit log '%s': ", audit->path);
        }
        *ret_db = db;
        return 0;
}

/*
 * Opens the file before sqlite does: O_NOFOLLOW refuses a symlink (someone could point it at a
 * file we would then make world-readable, or read ours through it), creation is 0600 whatever
 * the umask, and a file found wider than 0600 is tightened. sqlite creates the -wal and -shm
 * files with the mode of the database, so they follow.
 */
static int open_file(struct audit *audit, struct gv_err *err)
{
        int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
        struct stat st;

        if (audit->conf.create)
                flags |= O_CREAT;
        audit->fd = open(audit->path, flags, 0600);
        if (audit->fd < 0) {
                if (errno == ELOOP)
                        return gv_err_set(err, -ELOOP,
                                          "audit log '%s' is a symlink; refusing to follow it",
                                          audit->path);
                if (errno == ENOENT && !audit->conf.create)
                        return gv_err_set(err, -ENOENT, "no audit log at '%s'", audit->path);
                return gv_err_errno(err, -errno, "cannot open the audit log '%s'", audit->path);
        }
        if (fstat(audit->fd, &st) < 0)
                return gv_err_errno(err, -errno, "cannot stat the audit log '%s'", audit->path);
        if (!S_ISREG(st.st_mode))
                return gv_err_set(err, -EINVAL, "audit log '%s' is not a regular file",
                                  audit->path);
        if ((st.st_mode & 07777) != 0600 && fchmod(audit->fd, 0600) < 0)
                return gv_err_errno(err, -errno, "cannot make the audit log '%s' mode 0600",
                                    audit->path);
        return 0;
}

/* Switches to WAL (once per file; it sticks) and checks that it took. */
static int set_wal(sqlite3 *db, struct gv_err *err)
{
        sqlite3_stmt *stmt;
        const char *mode;
        int rc, r;

        r = audit__prepare(db, "PRAGMA journal_mode = WAL", &stmt, err);
        if (r < 0)
                return r;
        rc = sqlite3_step(stmt);
        mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(stmt, 0) : NULL;
        if (rc != SQLITE_ROW)
                r = audit__fail(db, rc, err, "cannot switch to WAL mode");
        else if (!mode || strcmp(mode, "wal"))
                r = gv_err_set(err, -EIO, "cannot switch to WAL mode: still %s",
                               mode ? mode : "unknown");
        sqlite3_finalize(stmt);
        return r;
}

/* Brings the schema to AUDIT_SCHEMA_VERSION, in one transaction per step. */
static int migrate(struct audit *audit, sqlite3 *db, struct gv_err *err)
{
        int64_t version = 0, tables = 0, mode = 0;
        int r;

        r = query_int(db, "PRAGMA user_version", &version, err);
        if (r == -EUCLEAN)
                return gv_err_set(err, r, "'%s' is not an audit log: %s", audit->path,
                                  sqlite3_errmsg(db));
        if (r < 0)
                return gv_err_prefix(err, r, "audit log '%s': ", audit->path);
        if (version > AUDIT_SCHEMA_VERSION)
                return gv_err_set(err, -EPROTONOSUPPORT,
                                  "audit log '%s' has schema version %" PRId64
                                  ", newer than the %d this gavel knows; use a newer gavel",
                                  audit->path, version, AUDIT_SCHEMA_VERSION);
        r = query_int(db, "SELECT count(*) FROM sqlite_schema", &tables, err);
        /*
         * Incremental vacuum can only be chosen before the first table exists, and on a file
         * that has a header already (an empty database made by hand) only through a VACUUM,
         * which is instant while there is nothing in it.
         */
        if (r == 0 && version == 0 && tables == 0)
                r = audit__exec(db, "PRAGMA auto_vacuum = INCREMENTAL", err);
        if (r == 0 && version == 0 && tables == 0)
                r = query_int(db, "PRAGMA auto_vacuum", &mode, err);
        if (r == 0 && version == 0 && tables == 0 && mode != 2)
                r = audit__exec(db, "VACUUM", err);
        if (r == 0)
                r = set_wal(db, err);
        if (r < 0)
                return gv_err_prefix(err, r, "audit log '%s': ", audit->path);

        while (version < AUDIT_SCHEMA_VERSION) {
                char sql[64];

                r = audit__exec(db, "BEGIN IMMEDIATE", err);
                /* another process may have migrated while we waited for the lock */
                if (r == 0)
                        r = query_int(db, "PRAGMA user_version", &version, err);
                if (r == 0 && version < AUDIT_SCHEMA_VERSION) {
                        snprintf(sql, sizeof(sql), "PRAGMA user_version = %" PRId64, version + 1);
                        r = audit__exec(db, migrations[version], err);
                        if (r == 0)
                                r = audit__exec(db, sql, err);
                }
                if (r == 0)
                        r = audit__exec(db, "COMMIT", err);
                if (r < 0) {
                        if (!sqlite3_get_autocommit(db))
                                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
                        return gv_err_prefix(err, r,
                                             "cannot migrate the audit log '%s' from schema "
                                             "version %" PRId64 ": ",
                                             audit->path, version);
                }
                if (version < AUDIT_SCHEMA_VERSION)
                        version++;
        }
        return 0;
}

/* ---- the queue -------------------------------------------------------------------------- */

enum op_kind {
        OP_JOB,
        OP_ATTEMPT,
        OP_STAGES,      /* stage rows of an attempt */
        OP_ATTEMPT_END, /* stage rows, then the attempt's end */
        OP_VERDICT,
        OP_MARK,
        OP_BARRIER, /* nothing to write: a flush waits for it */
};

/* A caller waiting for its records (audit_verdicts_pending, audit_flush). */
struct sync_call {
        unsigned left;     /* its records not yet written */
        int r;             /* the first failure among them */
        struct gv_err err; /* its message */
};

struct stage_rec {
        enum audit_stage_kind kind;
        uint32_t index;
        const char *verdict; /* static: a code name, "OK" for a compile that worked; or NULL */
        uint32_t time_ms, wall_ms;
        uint64_t memory_kib;
        int32_t exit_code, signal;
        char *message; /* owned, or NULL */
};

struct audit__op {
        struct audit__op *next;
        enum op_kind kind;
        size_t bytes;           /* counted against queue_max_bytes */
        struct sync_call *sync; /* or NULL: nobody waits */
        int r;                  /* the outcome, once written */
        struct gv_err err;
        int64_t id;  /* the row's id; OP_STAGES, OP_ATTEMPT_END: the attempt's */
        int64_t ref; /* OP_ATTEMPT: the job; OP_VERDICT: the attempt */
        int64_t ms;  /* when it happened */
        /* OP_JOB */
        char *submission, *problem, *lang, *topic;
        uint32_t attempt;
        bool rejudge;
        int32_t partition;
        int64_t offset;
        uint8_t *key;
        size_t key_len;
        uint8_t *raw; /* OP_JOB, OP_VERDICT: the message as received or published */
        size_t raw_len;
        /* OP_STAGES, OP_ATTEMPT_END */
        struct stage_rec *stages;
        size_t n_stages;
        enum audit_attempt_state state;
        char *reason;
        /* OP_VERDICT */
        const char *code; /* static */
        double score, max_score;
        /* OP_MARK */
        int64_t *ids;
        size_t n_ids;
        enum audit_publish publish;
};

static struct audit__op *op_new(enum op_kind kind)
{
        struct audit__op *op = xcalloc(1, sizeof(*op));

        op->kind = kind;
        op->bytes = sizeof(*op);
        op->ms = clock_wall_ms();
        return op;
}

static void op_free(struct audit__op *op)
{
        if (!op)
                return;
        free(op->submission);
        free(op->problem);
        free(op->lang);
        free(op->topic);
        free(op->key);
        free(op->raw);
        for (size_t i = 0; i < op->n_stages; i++)
                free(op->stages[i].message);
        free(op->stages);
        free(op->reason);
        free(op->ids);
        free(op);
}

static char *op_strdup(struct audit__op *op, const char *s)
{
        if (!s)
                return NULL;
        op->bytes += strlen(s) + 1;
        return xstrdup(s);
}

static void *op_memdup(struct audit__op *op, const void *p, size_t len)
{
        if (!p)
                return NULL;
        op->bytes += len;
        return xmemdup(p, len);
}

static void set_unhealthy(struct audit *audit, const struct gv_err *why)
{
        audit->last_err = *why;
        atomic_store(&audit->healthy, false);
}

static int64_t assign_id(struct audit *audit, struct audit__op *op)
{
        switch (op->kind) {
        case OP_JOB:
                return op->id = ++audit->next_job;
        case OP_ATTEMPT:
                return op->id = ++audit->next_attempt;
        case OP_VERDICT:
                return op->id = ++audit->next_verdict;
        case OP_STAGES:
        case OP_ATTEMPT_END:
        case OP_MARK:
        case OP_BARRIER:
                break;
        }
        return op->id;
}

/*
 * Queues ops[0..n) together, in order, and hands out their row ids (ret_ids may be NULL). A
 * record nobody waits for waits at most enqueue_wait_ms for room, then is dropped: the worker
 * learns it from audit_healthy() and stops taking jobs. Records that are waited for are not
 * bounded (their callers wait for the writer anyway). Takes the ops, queued or not.
 */
static int enqueue(struct audit *audit, struct audit__op **ops, size_t n, int64_t *ret_ids,
                   struct gv_err *err)
{
        bool waited = ops[0]->sync != NULL;
        size_t bytes = 0;
        struct timespec deadline;
        int r = 0;

        for (size_t i = 0; i < n; i++)
                bytes += ops[i]->bytes;
        if (!audit->thread_started)
                r = gv_err_set(err, -EBADF, "audit log '%s' was opened for reading only",
                               audit->path);
        else if (!waited && bytes > audit->conf.queue_max_bytes)
                r = gv_err_set(err, -E2BIG, "a record of %zu bytes is over the queue's %zu", bytes,
                               audit->conf.queue_max_bytes);
        if (r < 0)
                goto out_free;

        pthread_mutex_lock(&audit->lock);
        clock_deadline(&deadline, audit->conf.enqueue_wait_ms);
        while (!waited && !audit->stopping &&
               (audit->queued + n > audit->conf.queue_max ||
                audit->queued_bytes + bytes > audit->conf.queue_max_bytes)) {
                if (pthread_cond_timedwait(&audit->room, &audit->lock, &deadline) == ETIMEDOUT) {
                        struct gv_err why;

                        gv_err_set(&why, -ENOBUFS,
                                   "the writer fell behind: a record waited %u ms for room in "
                                   "the queue and was dropped",
                                   audit->conf.enqueue_wait_ms);
                        set_unhealthy(audit, &why);
                        pthread_mutex_unlock(&audit->lock);
                        audit_log(audit, true, "audit log '%s': %s", audit->path, why.msg);
                        r = gv_err_set(err, -ENOBUFS, "%s", why.msg);
                        goto out_free;
                }
        }
        if (audit->stopping) {
                pthread_mutex_unlock(&audit->lock);
                r = gv_err_set(err, -ESHUTDOWN, "audit log '%s' is closing", audit->path);
                goto out_free;
        }
        for (size_t i = 0; i < n; i++) {
                int64_t id = assign_id(audit, ops[i]);

                if (ret_ids)
                        ret_ids[i] = id;
                *audit->tail = ops[i];
                audit->tail = &ops[i]->next;
        }
        audit->queued += n;
        audit->queued_bytes += bytes;
        pthread_cond_signal(&audit->wake);
        pthread_mutex_unlock(&audit->lock);
        return 0;

out_free:
        for (size_t i = 0; i < n; i++)
                op_free(ops[i]);
        return r;
}

/* Queues one record nobody waits for. */
static int enqueue_one(struct audit *audit, struct audit__op *op, int64_t *ret_id,
                       struct gv_err *err)
{
        return enqueue(audit, &op, 1, ret_id, err);
}

/* Queues ops[0..n) for call and waits until the writer has written them all. */
static int enqueue_wait(struct audit *audit, struct audit__op **ops, size_t n, int64_t *ret_ids,
                        struct gv_err *err)
{
        struct sync_call call = {.left = (unsigned)n};
        int r;

        for (size_t i = 0; i < n; i++)
                ops[i]->sync = &call;
        r = enqueue(audit, ops, n, ret_ids, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&audit->lock);
        while (call.left > 0)
                pthread_cond_wait(&audit->done, &audit->lock);
        pthread_mutex_unlock(&audit->lock);
        if (call.r < 0 && err)
                *err = call.err;
        return call.r;
}

/* ---- the writer ------------------------------------------------------------------------- */

enum {
        ST_JOB,
        ST_ATTEMPT,
        ST_STAGE,
        ST_ATTEMPT_END,
        ST_VERDICT,
        ST_MARK,
        ST_BEGIN,
        ST_COMMIT,
        ST_SAVEPOINT,
        ST_RELEASE,
        ST_ROLLBACK_TO,
        _ST_MAX,
};

_Static_assert(_ST_MAX <= AUDIT__STMTS, "room for the writer's statements");

/* What a failed statement was doing, for the message. */
static const char *const stmt_what[_ST_MAX] = {
        [ST_JOB] = "insert into jobs",
        [ST_ATTEMPT] = "insert into attempts",
        [ST_STAGE] = "insert into stages",
        [ST_ATTEMPT_END] = "update attempts",
        [ST_VERDICT] = "insert into verdicts",
        [ST_MARK] = "update verdicts",
        [ST_BEGIN] = "begin",
        [ST_COMMIT] = "commit",
        [ST_SAVEPOINT] = "savepoint",
        [ST_RELEASE] = "release",
        [ST_ROLLBACK_TO] = "rollback to",
};

static const char *const stmt_sql[_ST_MAX] = {
        [ST_JOB] = "INSERT INTO jobs (id, submission, received_ms, worker, problem, lang, attempt, "
                   "rejudge, topic, topic_partition, topic_offset, msg_key, raw) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        [ST_ATTEMPT] = "INSERT INTO attempts (id, job_id, attempt, started_ms, state) "
                       "VALUES (?1, ?2, ?3, ?4, 'running')",
        [ST_STAGE] = "INSERT INTO stages (attempt_id, kind, idx, verdict, time_ms, wall_ms, "
                     "memory_kib, exit_code, signal, message) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        [ST_ATTEMPT_END] = "UPDATE attempts SET state = ?2, reason = ?3, finished_ms = ?4 "
                           "WHERE id = ?1",
        [ST_VERDICT] = "INSERT INTO verdicts (id, job_id, attempt_id, code, score, max_score, "
                       "state, created_ms, updated_ms, raw) "
                       "SELECT ?1, job_id, id, ?3, ?4, ?5, 'pending', ?6, ?6, ?7 "
                       "FROM attempts WHERE id = ?2",
        [ST_MARK] = "UPDATE verdicts SET state = ?2, updated_ms = ?3 WHERE id = ?1",
        [ST_BEGIN] = "BEGIN IMMEDIATE",
        [ST_COMMIT] = "COMMIT",
        [ST_SAVEPOINT] = "SAVEPOINT op",
        [ST_RELEASE] = "RELEASE op",
        [ST_ROLLBACK_TO] = "ROLLBACK TO op",
};

static void bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
        if (s)
                sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(stmt, i);
}

static void bind_blob(sqlite3_stmt *stmt, int i, const void *p, size_t len)
{
        sqlite3_bind_blob64(stmt, i, p ? p : "", len, SQLITE_STATIC);
}

/* Steps stmt (no rows) and resets it; 0 or -errno with err set. */
static int run(struct audit *audit, int st, struct gv_err *err)
{
        sqlite3_stmt *stmt = audit->stmts[st];
        int rc = sqlite3_step(stmt);
        int r = 0;

        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = audit__fail(audit->db, rc, err, "%s", stmt_what[st]);
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
        return r;
}

/* The update of st changed a row; -EINVAL naming what when it did not. */
static int run_one_row(struct audit *audit, int st, const char *what, int64_t id,
                       struct gv_err *err)
{
        int r = run(audit, st, err);

        if (r == 0 && sqlite3_changes(audit->db) == 0)
                r = gv_err_set(err, -EINVAL, "no %s %" PRId64 " in the log", what, id);
        return r;
}

static int write_stages(struct audit *audit, const struct audit__op *op, struct gv_err *err)
{
        sqlite3_stmt *stmt = audit->stmts[ST_STAGE];
        int r = 0;

        for (size_t i = 0; i < op->n_stages && r == 0; i++) {
                const struct stage_rec *s = &op->stages[i];

                sqlite3_bind_int64(stmt, 1, op->id);
                bind_text(stmt, 2, stage_kind_names[s->kind]);
                sqlite3_bind_int64(stmt, 3, s->index);
                bind_text(stmt, 4, s->verdict);
                sqlite3_bind_int64(stmt, 5, s->time_ms);
                sqlite3_bind_int64(stmt, 6, s->wall_ms);
                sqlite3_bind_int64(stmt, 7, (sqlite3_int64)s->memory_kib);
                sqlite3_bind_int64(stmt, 8, s->exit_code);
                sqlite3_bind_int64(stmt, 9, s->signal);
                bind_text(stmt, 10, s->message);
                r = run(audit, ST_STAGE, err);
        }
        return r;
}

/* Writes one record. -EINVAL and -E2BIG refuse this record only; anything else fails the batch. */
static int write_op(struct audit *audit, struct audit__op *op, struct gv_err *err)
{
        sqlite3_stmt *stmt;
        int r = 0;

        switch (op->kind) {
        case OP_JOB:
                stmt = audit->stmts[ST_JOB];
                sqlite3_bind_int64(stmt, 1, op->id);
                bind_text(stmt, 2, op->submission);
                sqlite3_bind_int64(stmt, 3, op->ms);
                bind_text(stmt, 4, audit->worker_id);
                bind_text(stmt, 5, op->problem);
                bind_text(stmt, 6, op->lang);
                if (op->submission) /* NULL for bytes that did not decode */
                        sqlite3_bind_int64(stmt, 7, op->attempt);
                sqlite3_bind_int(stmt, 8, op->rejudge);
                bind_text(stmt, 9, op->topic);
                if (op->partition >= 0)
                        sqlite3_bind_int64(stmt, 10, op->partition);
                if (op->offset >= 0)
                        sqlite3_bind_int64(stmt, 11, op->offset);
                if (op->key)
                        bind_blob(stmt, 12, op->key, op->key_len);
                bind_blob(stmt, 13, op->raw, op->raw_len);
                return run(audit, ST_JOB, err);
        case OP_ATTEMPT:
                stmt = audit->stmts[ST_ATTEMPT];
                sqlite3_bind_int64(stmt, 1, op->id);
                sqlite3_bind_int64(stmt, 2, op->ref);
                sqlite3_bind_int64(stmt, 3, op->attempt);
                sqlite3_bind_int64(stmt, 4, op->ms);
                return run(audit, ST_ATTEMPT, err);
        case OP_VERDICT:
                stmt = audit->stmts[ST_VERDICT];
                sqlite3_bind_int64(stmt, 1, op->id);
                sqlite3_bind_int64(stmt, 2, op->ref);
                bind_text(stmt, 3, op->code);
                sqlite3_bind_double(stmt, 4, op->score);
                sqlite3_bind_double(stmt, 5, op->max_score);
                sqlite3_bind_int64(stmt, 6, op->ms);
                bind_blob(stmt, 7, op->raw, op->raw_len);
                return run_one_row(audit, ST_VERDICT, "attempt", op->ref, err);
        case OP_BARRIER:
                return 0;
        case OP_STAGES:
        case OP_ATTEMPT_END:
        case OP_MARK:
                break;
        }

        /* several statements: all or nothing, without undoing the rest of the batch */
        r = run(audit, ST_SAVEPOINT, err);
        if (r < 0)
                return r;
        if (op->kind == OP_STAGES || op->kind == OP_ATTEMPT_END)
                r = write_stages(audit, op, err);
        if (r == 0 && op->kind == OP_ATTEMPT_END) {
                stmt = audit->stmts[ST_ATTEMPT_END];
                sqlite3_bind_int64(stmt, 1, op->id);
                bind_text(stmt, 2, attempt_state_names[op->state]);
                bind_text(stmt, 3, op->reason);
                sqlite3_bind_int64(stmt, 4, op->ms);
                r = run_one_row(audit, ST_ATTEMPT_END, "attempt", op->id, err);
        }
        for (size_t i = 0; op->kind == OP_MARK && i < op->n_ids && r == 0; i++) {
                stmt = audit->stmts[ST_MARK];
                sqlite3_bind_int64(stmt, 1, op->ids[i]);
                bind_text(stmt, 2, publish_names[op->publish]);
                sqlite3_bind_int64(stmt, 3, op->ms);
                r = run_one_row(audit, ST_MARK, "verdict", op->ids[i], err);
        }
        if (r == -EINVAL || r == -E2BIG) {
                struct gv_err ignored;

                run(audit, ST_ROLLBACK_TO, &ignored);
        }
        if (r == 0 || r == -EINVAL || r == -E2BIG) {
                int k = run(audit, ST_RELEASE, r ? NULL : err);

                if (r == 0)
                        r = k;
        }
        return r;
}

static const char *const op_names[] = {
        [OP_JOB] = "job",         [OP_ATTEMPT] = "attempt", [OP_STAGES] = "stage",
        [OP_ATTEMPT_END] = "end", [OP_VERDICT] = "verdict", [OP_MARK] = "publish state",
        [OP_BARRIER] = "flush",
};

/* PRAGMA synchronous for the next commit: FULL when someone waits for it to be durable. */
static int set_synchronous(struct audit *audit, bool full, struct gv_err *err)
{
        int r;

        if (full == audit->sync_full)
                return 0;
        r = audit__exec(audit->db,
                        full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", err);
        if (r == 0)
                audit->sync_full = full;
        return r;
}

/*
 * Writes a batch in one transaction and sets each op's outcome. A refused record (a constraint:
 * an unknown attempt, say) is logged and skipped; any other failure (full, busy, I/O) rolls the
 * whole batch back, marks every record failed, and turns the log unhealthy.
 */
static void write_batch(struct audit *audit, struct audit__op *batch)
{
        struct gv_err berr = {0};
        bool durable = false;
        unsigned n = 0;
        int r;

        for (struct audit__op *op = batch; op; op = op->next) {
                n++;
                durable |= op->sync != NULL;
        }
        r = set_synchronous(audit, durable, &berr);
        if (r == 0)
                r = run(audit, ST_BEGIN, &berr);
        for (struct audit__op *op = batch; op && r == 0; op = op->next) {
                int k = write_op(audit, op, &op->err);

                if (k == -EINVAL || k == -E2BIG) {
                        op->r = k;
                        audit_log(audit, true, "audit log '%s': %s record %" PRId64 " refused: %s",
                                  audit->path, op_names[op->kind], op->id, op->err.msg);
                } else if (k < 0) {
                        r = k;
                        berr = op->err;
                }
        }
        if (r == 0)
                r = run(audit, ST_COMMIT, &berr);
        if (r < 0) {
                if (!sqlite3_get_autocommit(audit->db))
                        sqlite3_exec(audit->db, "ROLLBACK", NULL, NULL, NULL);
                for (struct audit__op *op = batch; op; op = op->next) {
                        op->r = r;
                        op->err = berr;
                }
                gv_err_prefix(&berr, r, "cannot write %u records: ", n);
                pthread_mutex_lock(&audit->lock);
                set_unhealthy(audit, &berr);
                pthread_mutex_unlock(&audit->lock);
                audit_log(audit, true, "audit log '%s': %s", audit->path, berr.msg);
                return;
        }
        if (!atomic_exchange(&audit->healthy, true))
                audit_log(audit, false, "audit log '%s': writing again", audit->path);
}

/*
 * While unhealthy and idle: can 64 KiB be written now? The probe allocates pages, frees them and
 * gives them back (incremental vacuum) in one transaction, so it does not pass just because an
 * earlier probe left free pages behind.
 */
static void probe(struct audit *audit)
{
        static const char sql[] = "BEGIN IMMEDIATE;"
                                  "INSERT INTO jobs (id, received_ms, raw) "
                                  "VALUES (-1, 0, zeroblob(65536));"
                                  "DELETE FROM jobs WHERE id = -1;"
                                  "PRAGMA incremental_vacuum;"
                                  "COMMIT";
        struct gv_err err;
        int r;

        r = set_synchronous(audit, false, &err);
        if (r == 0)
                r = audit__exec(audit->db, sql, &err);
        if (r < 0) {
                if (!sqlite3_get_autocommit(audit->db))
                        sqlite3_exec(audit->db, "ROLLBACK", NULL, NULL, NULL);
                return;
        }
        atomic_store(&audit->healthy, true);
        audit_log(audit, false, "audit log '%s': writable again", audit->path);
}

/* Takes up to a batch's worth of records off the queue; called locked. */
static struct audit__op *take_batch(struct audit *audit)
{
        struct audit__op *batch = audit->head, *last = NULL, *op;
        size_t n = 0, bytes = 0;

        for (op = batch; op && n < BATCH_MAX_OPS; op = op->next) {
                if (n > 0 && bytes + op->bytes > BATCH_MAX_BYTES)
                        break;
                n++;
                bytes += op->bytes;
                last = op;
        }
        audit->head = last->next;
        last->next = NULL;
        if (!audit->head)
                audit->tail = &audit->head;
        audit->queued -= (unsigned)n;
        audit->queued_bytes -= bytes;
        pthread_cond_broadcast(&audit->room);
        return batch;
}

static void *writer_main(void *arg)
{
        struct audit *audit = arg;

        pthread_mutex_lock(&audit->lock);
        for (;;) {
                struct audit__op *batch, *op;

                if (!audit->head && audit->stopping)
                        break;
                if (!audit->head && !atomic_load(&audit->healthy)) {
                        struct timespec deadline;

                        clock_deadline(&deadline, PROBE_INTERVAL_MS);
                        if (pthread_cond_timedwait(&audit->wake, &audit->lock, &deadline) ==
                                    ETIMEDOUT &&
                            !audit->head && !audit->stopping) {
                                pthread_mutex_unlock(&audit->lock);
                                probe(audit);
                                pthread_mutex_lock(&audit->lock);
                        }
                        continue;
                }
                if (!audit->head) {
                        pthread_cond_wait(&audit->wake, &audit->lock);
                        continue;
                }
                batch = take_batch(audit);
                pthread_mutex_unlock(&audit->lock);
                write_batch(audit, batch);
                pthread_mutex_lock(&audit->lock);
                while ((op = batch)) {
                        batch = op->next;
                        if (op->sync) {
                                if (op->r < 0 && op->sync->r == 0) {
                                        op->sync->r = op->r;
                                        op->sync->err = op->err;
                                }
                                op->sync->left--;
                        }
                        op_free(op);
                }
                pthread_cond_broadcast(&audit->done);
        }
        pthread_mutex_unlock(&audit->lock);
        return NULL;
}

/* ---- open and close --------------------------------------------------------------------- */

/* The writer's set-up: ids, leftovers of a dead predecessor, statements, bounds. */
static int writer_setup(struct audit *audit, struct gv_err *err)
{
        static const char *const seq_sql[] = {
                "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0), "
                "coalesce((SELECT max(id) FROM jobs), 0))",
                "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'attempts'), "
                "0), coalesce((SELECT max(id) FROM attempts), 0))",
                "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'verdicts'), "
                "0), coalesce((SELECT max(id) FROM verdicts), 0))",
        };
        int64_t *const next[] = {&audit->next_job, &audit->next_attempt, &audit->next_verdict};
        sqlite3 *db = audit->db;
        int64_t pending = 0, page_size = 0;
        char sql[160];
        int r;

        if (flock(audit->fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK)
                        return gv_err_set(err, -EBUSY, "audit log '%s' is in use by another worker",
                                          audit->path);
                return gv_err_errno(err, -errno, "cannot lock the audit log '%s'", audit->path);
        }
        snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit = %d", JOURNAL_SIZE_LIMIT);
        r = audit__exec(db, "PRAGMA synchronous = NORMAL", err);
        if (r == 0)
                r = audit__exec(db, sql, err);
        if (r == 0 && audit->conf.max_size_kib)
                r = query_int(db, "PRAGMA page_size", &page_size, err);
        if (r == 0 && audit->conf.max_size_kib) {
                uint64_t pages = audit->conf.max_size_kib * 1024 / (uint64_t)page_size;

                snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %" PRIu64,
                         pages > 0 ? pages : 1);
                r = audit__exec(db, sql, err);
        }
        for (size_t i = 0; i < ARRAY_SIZE(seq_sql) && r == 0; i++)
                r = query_int(db, seq_sql[i], next[i], err);
        /* we hold the lock: any attempt still running belonged to a process that died */
        snprintf(sql, sizeof(sql),
                 "UPDATE attempts SET state = 'abandoned', finished_ms = %" PRId64
                 ", reason = 'the worker stopped before it finished' WHERE state = 'running'",
                 clock_wall_ms());
        if (r == 0)
                r = audit__exec(db, sql, err);
        if (r == 0 && sqlite3_changes(db) > 0)
                audit_log(audit, false, "audit log '%s': %d attempts of a previous run abandoned",
                          audit->path, sqlite3_changes(db));
        if (r == 0)
                r = query_int(db, "SELECT count(*) FROM verdicts WHERE state = 'pending'", &pending,
                              err);
        if (r == 0 && pending > 0)
                audit_log(audit, false,
                          "audit log '%s': %" PRId64
                          " verdicts of a previous run are pending: their transactions may or "
                          "may not have committed",
                          audit->path, pending);
        for (int i = 0; i < _ST_MAX && r == 0; i++)
                r = audit__prepare(db, stmt_sql[i], &audit->stmts[i], err);
        if (r < 0)
                return gv_err_prefix(err, r, "audit log '%s': ", audit->path);
        audit->sync_full = false;
        return 0;
}

int audit_open(const struct audit_conf *conf, struct audit **ret_audit, struct gv_err *err)
{
        struct audit *audit;
        int r;

        if (!conf || !conf->path || !*conf->path)
                return gv_err_set(err, -EINVAL, "no audit log path given");
        audit = xcalloc(1, sizeof(*audit));
        audit->conf = *conf;
        audit->path = xstrdup(conf->path);
        audit->worker_id = conf->worker_id ? xstrdup(conf->worker_id) : NULL;
        audit->conf.path = audit->path;
        audit->conf.worker_id = audit->worker_id;
        if (!audit->conf.busy_timeout_ms)
                audit->conf.busy_timeout_ms = DEFAULT_BUSY_TIMEOUT_MS;
        if (!audit->conf.queue_max)
                audit->conf.queue_max = DEFAULT_QUEUE_MAX;
        if (!audit->conf.queue_max_bytes)
                audit->conf.queue_max_bytes = DEFAULT_QUEUE_MAX_BYTES;
        if (!audit->conf.enqueue_wait_ms)
                audit->conf.enqueue_wait_ms = DEFAULT_ENQUEUE_WAIT_MS;
        if (!audit->conf.log)
                audit->conf.log = log_stderr;
        audit->fd = -1;
        audit->tail = &audit->head;
        atomic_init(&audit->healthy, true);
        pthread_mutex_init(&audit->lock, NULL);
        clock_cond_init(&audit->wake);
        clock_cond_init(&audit->room);
        clock_cond_init(&audit->done);

        r = open_file(audit, err);
        if (r == 0)
                r = audit__connect(audit, &audit->db, err);
        if (r == 0)
                r = migrate(audit, audit->db, err);
        if (r == 0 && conf->writer)
                r = writer_setup(audit, err);
        if (r == 0 && conf->writer) {
                r = -pthread_create(&audit->thread, NULL, writer_main, audit);
                if (r < 0)
                        gv_err_errno(err, r, "cannot start the audit log's writer");
                else
                        audit->thread_started = true;
        }
        if (r < 0) {
                audit_free(audit);
                return r;
        }
        *ret_audit = audit;
        return 0;
}

void audit_free(struct audit *audit)
{
        if (!audit)
                return;
        if (audit->thread_started) {
                pthread_mutex_lock(&audit->lock);
                audit->stopping = true;
                pthread_cond_signal(&audit->wake);
                pthread_cond_broadcast(&audit->room);
                pthread_mutex_unlock(&audit->lock);
                pthread_join(audit->thread, NULL);
        }
        for (int i = 0; i < AUDIT__STMTS; i++)
                sqlite3_finalize(audit->stmts[i]);
        sqlite3_close(audit->db);
        /* only now: closing any descriptor of the file would drop sqlite's POSIX locks */
        if (audit->fd >= 0)
                close(audit->fd);
        pthread_cond_destroy(&audit->done);
        pthread_cond_destroy(&audit->room);
        pthread_cond_destroy(&audit->wake);
        pthread_mutex_destroy(&audit->lock);
        free(audit->worker_id);
        free(audit->path);
        free(audit);
}

const char *audit_path(const struct audit *audit)
{
        return audit->path;
}

bool audit_healthy(struct audit *audit)
{
        return atomic_load(&audit->healthy);
}

void audit_last_error(struct audit *audit, struct gv_err *ret_err)
{
        pthread_mutex_lock(&audit->lock);
        *ret_err = audit->last_err;
        pthread_mutex_unlock(&audit->lock);
}

/* ---- recording -------------------------------------------------------------------------- */

int audit_job_received(struct audit *audit, const void *raw, size_t raw_len, const struct job *job,
                       const struct audit_origin *origin, int64_t *ret_job_id, struct gv_err *err)
{
        struct audit__op *op;

        if (!raw && raw_len)
                return gv_err_set(err, -EINVAL, "job record without its bytes");
        op = op_new(OP_JOB);
        op->raw = op_memdup(op, raw ? raw : "", raw_len);
        op->raw_len = raw_len;
        op->partition = -1;
        op->offset = -1;
        if (job) {
                op->submission = op_strdup(op, job->id);
                op->problem = op_strdup(op, job->problem);
                op->lang = op_strdup(op, job->lang);
                op->attempt = job->attempt;
                op->rejudge = job->rejudge;
        }
        if (origin) {
                op->topic = op_strdup(op, origin->topic);
                op->partition = origin->partition;
                op->offset = origin->offset;
                op->key = op_memdup(op, origin->key, origin->key_len);
                op->key_len = origin->key ? origin->key_len : 0;
                if (origin->received_ms)
                        op->ms = origin->received_ms;
        }
        return enqueue_one(audit, op, ret_job_id, err);
}

int audit_attempt_started(struct audit *audit, int64_t job_id, uint32_t attempt_no,
                          int64_t *ret_attempt_id, struct gv_err *err)
{
        struct audit__op *op = op_new(OP_ATTEMPT);

        op->ref = job_id;
        op->attempt = attempt_no;
        return enqueue_one(audit, op, ret_attempt_id, err);
}

static const char *stage_verdict_name(enum audit_stage_kind kind, enum schema_code code)
{
        if (kind == AUDIT_STAGE_COMPILE && code == SCHEMA_AC)
                return "OK";
        return schema_code_name(code);
}

static void stage_copy(struct audit__op *op, struct stage_rec *rec, const struct audit_stage *stage)
{
        rec->kind = stage->kind;
        rec->index = stage->index;
        rec->verdict = stage_verdict_name(stage->kind, stage->verdict);
        rec->time_ms = stage->time_ms;
        rec->wall_ms = stage->wall_ms;
        rec->memory_kib = stage->memory_kib;
        rec->exit_code = stage->exit_code;
        rec->signal = stage->signal;
        rec->message = op_strdup(op, stage->message);
}

int audit_attempt_finished(struct audit *audit, int64_t attempt_id, enum audit_attempt_state state,
                           const char *reason, const struct verdict *verdict, struct gv_err *err)
{
        struct audit__op *op;
        size_t n = 0;

        if (state != AUDIT_ATTEMPT_DONE && state != AUDIT_ATTEMPT_ABANDONED)
                return gv_err_set(err, -EINVAL, "an attempt ends done or abandoned, not %d", state);
        op = op_new(OP_ATTEMPT_END);
        op->id = attempt_id;
        op->state = state;
        op->reason = op_strdup(op, reason);
        if (verdict) {
                op->stages = xcalloc(verdict->n_tests + 1, sizeof(*op->stages));
                op->bytes += (verdict->n_tests + 1) * sizeof(*op->stages);
                if (verdict->compile.present) {
                        const struct verdict_compile *c = &verdict->compile;
                        struct audit_stage stage = {
                                .kind = AUDIT_STAGE_COMPILE,
                                .verdict = c->ok ? SCHEMA_AC : SCHEMA_CE,
                                .time_ms = c->time_ms,
                                .memory_kib = c->memory_kib,
                                .message = c->log,
                        };

                        stage_copy(op, &op->stages[n++], &stage);
                }
                for (size_t i = 0; i < verdict->n_tests; i++) {
                        const struct verdict_test *t = &verdict->tests[i];
                        struct audit_stage stage = {
                                .kind = AUDIT_STAGE_TEST,
                                .index = (uint32_t)(i + 1),
                                .verdict = t->verdict,
                                .time_ms = t->time_ms,
                                .wall_ms = t->wall_ms,
                                .memory_kib = t->memory_kib,
                                .exit_code = t->exit_code,
                                .signal = t->signal,
                                .message = t->checker_message,
                        };

                        stage_copy(op, &op->stages[n++], &stage);
                }
                op->n_stages = n;
        }
        return enqueue_one(audit, op, NULL, err);
}

int audit_verdicts_pending(struct audit *audit, const struct audit_verdict *verdicts, size_t n,
                           int64_t *ret_ids, struct gv_err *err)
{
        cleanup_free struct audit__op **ops = NULL;

        if (n == 0)
                return 0;
        ops = xcalloc(n, sizeof(*ops));
        for (size_t i = 0; i < n; i++) {
                const struct audit_verdict *v = &verdicts[i];

                if (!v->verdict || (!v->raw && v->raw_len)) {
                        for (size_t k = 0; k < i; k++)
                                op_free(ops[k]);
                        return gv_err_set(err, -EINVAL, "verdict record %zu without its verdict",
                                          i);
                }
                ops[i] = op_new(OP_VERDICT);
                ops[i]->ref = v->attempt_id;
                ops[i]->code = schema_code_name(v->verdict->verdict);
                if (!ops[i]->code)
                        ops[i]->code = "?";
                ops[i]->score = v->verdict->score;
                ops[i]->max_score = v->verdict->max_score;
                ops[i]->raw = op_memdup(ops[i], v->raw ? v->raw : "", v->raw_len);
                ops[i]->raw_len = v->raw_len;
        }
        return enqueue_wait(audit, ops, n, ret_ids, err);
}

int audit_verdicts_mark(struct audit *audit, const int64_t *ids, size_t n, enum audit_publish state,
                        struct gv_err *err)
{
        struct audit__op *op;

        if (state != AUDIT_COMMITTED && state != AUDIT_ABORTED)
                return gv_err_set(err, -EINVAL, "verdicts are marked committed or aborted, not %d",
                                  state);
        if (n == 0)
                return 0;
        op = op_new(OP_MARK);
        op->ids = op_memdup(op, ids, n * sizeof(*ids));
        op->n_ids = n;
        op->publish = state;
        return enqueue_one(audit, op, NULL, err);
}

int audit_flush(struct audit *audit, struct gv_err *err)
{
        struct audit__op *op = op_new(OP_BARRIER);
        struct gv_err last;
        int r;

        r = enqueue_wait(audit, &op, 1, NULL, err);
        if (r == 0 && !audit_healthy(audit)) {
                audit_last_error(audit, &last);
                r = last.code < 0 ? last.code : -EIO;
                gv_err_set(err, r, "%s", last.msg);
        }
        return r;
}
