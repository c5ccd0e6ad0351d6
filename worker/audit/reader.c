/* SPDX-License-Identifier: MIT */
/*
 * The audit log's reading side: iteration over recorded jobs for replay, statistics, pruning and
 * the JSON of one submission's history for `gavel audit show`. Each runs on a connection of its
 * own beside a running writer: WAL readers never block the writer, and the writes here (prune)
 * go in short transactions so the writer never waits long for them.
 */
#include <inttypes.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "schema/cleanup.h"
#include "worker/audit/audit-internal.h"
#include "worker/util/json.h"

#define PAGE_ROWS    64                 /* jobs fetched by one read transaction */
#define PAGE_BYTES   ((size_t)16 << 20) /* ...or fewer, once their bytes reach this */
#define PRUNE_CHUNK  256                /* jobs deleted by one transaction */
#define VACUUM_CHUNK 2048               /* pages given back by one transaction (8 MiB) */

/* A connection for reading: a reader's own handle, or a new one beside the writer. */
static int connect_reader(struct audit *audit, sqlite3 **ret_db, struct gv_err *err)
{
        if (!audit->thread_started) {
                *ret_db = audit->db;
                return 0;
        }
        return audit__connect(audit, ret_db, err);
}

static void disconnect_reader(struct audit *audit, sqlite3 *db)
{
        if (db != audit->db)
                sqlite3_close(db);
}

static char *column_strdup(sqlite3_stmt *stmt, int i)
{
        const unsigned char *s = sqlite3_column_text(stmt, i);

        return s ? xstrdup((const char *)s) : NULL;
}

/* A copy of a blob column (NUL-terminated beyond its length), or NULL when it is NULL. */
static uint8_t *column_memdup(sqlite3_stmt *stmt, int i, size_t *ret_len)
{
        const void *p = sqlite3_column_blob(stmt, i);
        size_t len = (size_t)sqlite3_column_bytes(stmt, i);

        *ret_len = len;
        if (sqlite3_column_type(stmt, i) == SQLITE_NULL)
                return NULL;
        return xmemdup(p ? p : "", len);
}

/* ---- iteration -------------------------------------------------------------------------- */

struct audit_iter {
        struct audit *audit;
        sqlite3 *db;
        sqlite3_stmt *stmt;
        int64_t after;            /* the last job id fetched */
        struct audit_entry *page; /* owned copies: the read transaction ends with each page */
        size_t n, pos;
        bool last_page; /* the statement ran out of rows */
};

/* The WHERE clause of sel, with named parameters bind_select fills. */
static void select_where(const struct audit_select *sel, char *buf, size_t size)
{
        size_t n = (size_t)snprintf(buf, size, "WHERE j.id > :after");

        if (sel->submission)
                n += (size_t)snprintf(buf + n, size - n, " AND j.submission = :submission");
        if (sel->since_ms)
                n += (size_t)snprintf(buf + n, size - n, " AND j.received_ms >= :since");
        if (sel->until_ms)
                n += (size_t)snprintf(buf + n, size - n, " AND j.received_ms < :until");
        if (sel->problem)
                n += (size_t)snprintf(buf + n, size - n, " AND j.problem = :problem");
        if (sel->lang)
                n += (size_t)snprintf(buf + n, size - n, " AND j.lang = :lang");
        if (sel->worker)
                n += (size_t)snprintf(buf + n, size - n, " AND j.worker = :worker");
        if (sel->by_verdict)
                snprintf(buf + n, size - n, " AND v.code = :verdict");
}

static void bind_named_text(sqlite3_stmt *stmt, const char *name, const char *s)
{
        int i = sqlite3_bind_parameter_index(stmt, name);

        if (i > 0)
                sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT);
}

static void bind_named_int(sqlite3_stmt *stmt, const char *name, int64_t v)
{
        int i = sqlite3_bind_parameter_index(stmt, name);

        if (i > 0)
                sqlite3_bind_int64(stmt, i, v);
}

static void bind_select(sqlite3_stmt *stmt, const struct audit_select *sel)
{
        bind_named_text(stmt, ":submission", sel->submission);
        bind_named_int(stmt, ":since", sel->since_ms);
        bind_named_int(stmt, ":until", sel->until_ms);
        bind_named_text(stmt, ":problem", sel->problem);
        bind_named_text(stmt, ":lang", sel->lang);
        bind_named_text(stmt, ":worker", sel->worker);
        if (sel->by_verdict)
                bind_named_text(stmt, ":verdict", schema_code_name(sel->verdict));
}

/* The last committed verdict of each job, joined to it. */
#define JOIN_LAST_COMMITTED                                                         \
        "FROM jobs j LEFT JOIN verdicts v ON v.id = (SELECT max(id) FROM verdicts " \
        "WHERE job_id = j.id AND state = 'committed') "

static void entry_done(struct audit_entry *e)
{
        free((char *)e->submission);
        free((char *)e->problem);
        free((char *)e->lang);
        free((char *)e->worker);
        free((char *)e->topic);
        free((uint8_t *)e->job_raw);
        free((uint8_t *)e->verdict_raw);
}

static void page_clear(struct audit_iter *it)
{
        for (size_t i = 0; i < it->n; i++)
                entry_done(&it->page[i]);
        it->n = it->pos = 0;
}

static void entry_from_row(sqlite3_stmt *stmt, struct audit_entry *e)
{
        const char *code;

        e->job_id = sqlite3_column_int64(stmt, 0);
        e->submission = column_strdup(stmt, 1);
        e->problem = column_strdup(stmt, 2);
        e->lang = column_strdup(stmt, 3);
        e->worker = column_strdup(stmt, 4);
        e->topic = column_strdup(stmt, 5);
        e->partition = sqlite3_column_type(stmt, 6) == SQLITE_NULL
                               ? -1
                               : (int32_t)sqlite3_column_int64(stmt, 6);
        e->offset =
                sqlite3_column_type(stmt, 7) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, 7);
        e->received_ms = sqlite3_column_int64(stmt, 8);
        e->verdict_id = sqlite3_column_int64(stmt, 9);
        code = (const char *)sqlite3_column_text(stmt, 10);
        e->verdict = code ? schema_code_from_name(code) : _SCHEMA_CODE_INVALID;
        e->job_raw = column_memdup(stmt, 11, &e->job_raw_len);
        e->verdict_raw = column_memdup(stmt, 12, &e->verdict_raw_len);
}

/* Fetches the next page of entries in one short read transaction. */
static int page_fill(struct audit_iter *it, struct gv_err *err)
{
        size_t bytes = 0;
        int rc = SQLITE_ROW;

        page_clear(it);
        bind_named_int(it->stmt, ":after", it->after);
        while (it->n < PAGE_ROWS && bytes < PAGE_BYTES &&
               (rc = sqlite3_step(it->stmt)) == SQLITE_ROW) {
                struct audit_entry *e = &it->page[it->n++];

                entry_from_row(it->stmt, e);
                bytes += e->job_raw_len + e->verdict_raw_len;
                it->after = e->job_id;
        }
        sqlite3_reset(it->stmt);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return audit__fail(it->db, rc, err, "cannot read the audit log '%s'",
                                   it->audit->path);
        it->last_page = rc == SQLITE_DONE;
        return 0;
}

int audit_iter_new(struct audit *audit, const struct audit_select *sel, struct audit_iter **ret_it,
                   uint64_t *ret_total, struct gv_err *err)
{
        static const struct audit_select all = {0};
        struct audit_iter *it;
        sqlite3_stmt *count = NULL;
        char where[512], sql[1024];
        int rc, r;

        if (!sel)
                sel = &all;
        if (sel->by_verdict && !schema_code_name(sel->verdict))
                return gv_err_set(err, -EINVAL, "unknown verdict code %d", sel->verdict);
        it = xcalloc(1, sizeof(*it));
        it->audit = audit;
        it->page = xcalloc(PAGE_ROWS, sizeof(*it->page));
        r = audit__connect(audit, &it->db, err);
        select_where(sel, where, sizeof(where));
        snprintf(sql, sizeof(sql),
                 "SELECT j.id, j.submission, j.problem, j.lang, j.worker, j.topic, "
                 "j.topic_partition, j.topic_offset, j.received_ms, v.id, v.code, j.raw, "
                 "v.raw " JOIN_LAST_COMMITTED "%s ORDER BY j.id",
                 where);
        if (r == 0)
                r = audit__prepare(it->db, sql, &it->stmt, err);
        snprintf(sql, sizeof(sql), "SELECT count(*) " JOIN_LAST_COMMITTED "%s", where);
        if (r == 0)
                r = audit__prepare(it->db, sql, &count, err);
        if (r == 0) {
                bind_select(it->stmt, sel);
                bind_select(count, sel);
                bind_named_int(count, ":after", 0);
                rc = sqlite3_step(count);
                if (rc == SQLITE_ROW && ret_total)
                        *ret_total = (uint64_t)sqlite3_column_int64(count, 0);
                else if (rc != SQLITE_ROW)
                        r = audit__fail(it->db, rc, err, "cannot count the jobs of '%s'",
                                        audit->path);
        }
        sqlite3_finalize(count);
        if (r < 0) {
                audit_iter_free(it);
                return r;
        }
        *ret_it = it;
        return 0;
}

int audit_iter_next(struct audit_iter *it, const struct audit_entry **ret_entry, struct gv_err *err)
{
        int r;

        if (it->pos == it->n) {
                if (it->last_page) {
                        page_clear(it);
                        return 0;
                }
                r = page_fill(it, err);
                if (r < 0)
                        return r;
                if (it->n == 0)
                        return 0;
        }
        *ret_entry = &it->page[it->pos++];
        return 1;
}

void audit_iter_free(struct audit_iter *it)
{
        if (!it)
                return;
        page_clear(it);
        free(it->page);
        sqlite3_finalize(it->stmt);
        sqlite3_close(it->db);
        free(it);
}

/* ---- stats ------------------------------------------------------------------------------ */

static uint64_t file_size(const char *path, const char *suffix)
{
        char name[4096];
        struct stat st;

        snprintf(name, sizeof(name), "%s%s", path, suffix);
        return stat(name, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Runs sql and calls row() on each row; 0 or -errno with err set. */
static int each_row(sqlite3 *db, const char *sql, void (*row)(sqlite3_stmt *stmt, void *userdata),
                    void *userdata, struct gv_err *err)
{
        sqlite3_stmt *stmt;
        int rc, r;

        r = audit__prepare(db, sql, &stmt, err);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
                row(stmt, userdata);
        if (rc != SQLITE_DONE)
                r = audit__fail(db, rc, err, "\"%.50s\" failed", sql);
        sqlite3_finalize(stmt);
        return r;
}

static void row_totals(sqlite3_stmt *stmt, void *userdata)
{
        struct audit_stats *stats = userdata;

        stats->jobs = (uint64_t)sqlite3_column_int64(stmt, 0);
        stats->oldest_ms = sqlite3_column_int64(stmt, 1);
        stats->newest_ms = sqlite3_column_int64(stmt, 2);
        stats->schema_version = (uint32_t)sqlite3_column_int64(stmt, 3);
        stats->free_bytes = (uint64_t)sqlite3_column_int64(stmt, 4);
}

static void row_attempts(sqlite3_stmt *stmt, void *userdata)
{
        struct audit_stats *stats = userdata;
        int state = audit_attempt_state_from_name((const char *)sqlite3_column_text(stmt, 0));

        if (state >= 0)
                stats->attempts[state] = (uint64_t)sqlite3_column_int64(stmt, 1);
}

static void row_verdicts(sqlite3_stmt *stmt, void *userdata)
{
        struct audit_stats *stats = userdata;
        int code = schema_code_from_name((const char *)sqlite3_column_text(stmt, 0));
        int state = audit_publish_from_name((const char *)sqlite3_column_text(stmt, 1));
        uint64_t n = (uint64_t)sqlite3_column_int64(stmt, 2);

        if (code >= 0 && state >= 0)
                stats->verdicts[code][state] = n;
        else
                stats->verdicts_other += n;
}

int audit_stats(struct audit *audit, struct audit_stats *ret_stats, struct gv_err *err)
{
        struct audit_stats stats = {0};
        sqlite3 *db;
        int r;

        r = connect_reader(audit, &db, err);
        if (r < 0)
                return r;
        /* one read transaction: the counts agree with each other */
        r = audit__exec(db, "BEGIN", err);
        if (r == 0)
                r = each_row(db,
                             "SELECT count(*), coalesce(min(received_ms), 0), "
                             "coalesce(max(received_ms), 0), (SELECT user_version FROM "
                             "pragma_user_version), (SELECT freelist_count FROM "
                             "pragma_freelist_count) * (SELECT page_size FROM pragma_page_size) "
                             "FROM jobs WHERE id > 0",
                             row_totals, &stats, err);
        if (r == 0)
                r = each_row(db, "SELECT state, count(*) FROM attempts GROUP BY state",
                             row_attempts, &stats, err);
        if (r == 0)
                r = each_row(db, "SELECT code, state, count(*) FROM verdicts GROUP BY code, state",
                             row_verdicts, &stats, err);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        disconnect_reader(audit, db);
        if (r < 0)
                return gv_err_prefix(err, r, "audit log '%s': ", audit->path);
        stats.db_bytes = file_size(audit->path, "");
        stats.wal_bytes = file_size(audit->path, "-wal");
        *ret_stats = stats;
        return 0;
}

/* ---- prune ------------------------------------------------------------------------------ */

static int step_int(sqlite3 *db, sqlite3_stmt *stmt, int64_t *ret, struct gv_err *err)
{
        int rc = sqlite3_step(stmt);
        int r = 0;

        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_int64(stmt, 0);
        else if (rc == SQLITE_DONE)
                *ret = 0;
        else
                r = audit__fail(db, rc, err, "prune");
        sqlite3_reset(stmt);
        return r;
}

enum {
        PR_LAST,     /* the id of the chunk's last job */
        PR_ATTEMPTS, /* counts of what the chunk's cascade deletes */
        PR_STAGES,
        PR_VERDICTS,
        PR_DELETE,
        _PR_MAX,
};

static const char *const prune_sql[_PR_MAX] = {
        [PR_LAST] = "SELECT max(id) FROM (SELECT id FROM jobs WHERE received_ms < :before "
                    "AND id > 0 ORDER BY id LIMIT :chunk)",
        [PR_ATTEMPTS] = "SELECT count(*) FROM attempts WHERE job_id IN (SELECT id FROM jobs "
                        "WHERE id > 0 AND id <= :last AND received_ms < :before)",
        [PR_STAGES] = "SELECT count(*) FROM stages WHERE attempt_id IN (SELECT a.id FROM attempts "
                      "a JOIN jobs j ON j.id = a.job_id WHERE j.id > 0 AND j.id <= :last AND "
                      "j.received_ms < :before)",
        [PR_VERDICTS] = "SELECT count(*) FROM verdicts WHERE job_id IN (SELECT id FROM jobs "
                        "WHERE id > 0 AND id <= :last AND received_ms < :before)",
        [PR_DELETE] = "DELETE FROM jobs WHERE id > 0 AND id <= :last AND received_ms < :before",
};

/* Deletes one chunk of old jobs in one transaction; *ret_more says whether there may be more. */
static int prune_chunk(sqlite3 *db, sqlite3_stmt **stmts, int64_t before_ms,
                       struct audit_pruned *pruned, bool *ret_more, struct gv_err *err)
{
        uint64_t *const counts[] = {[PR_ATTEMPTS] = &pruned->attempts,
                                    [PR_STAGES] = &pruned->stages,
                                    [PR_VERDICTS] = &pruned->verdicts};
        int64_t last = 0, n = 0;
        int rc, r;

        for (int i = 0; i < _PR_MAX; i++) {
                bind_named_int(stmts[i], ":before", before_ms);
                bind_named_int(stmts[i], ":chunk", PRUNE_CHUNK);
        }
        r = audit__exec(db, "BEGIN IMMEDIATE", err);
        if (r == 0)
                r = step_int(db, stmts[PR_LAST], &last, err);
        *ret_more = r == 0 && last > 0;
        for (int i = PR_ATTEMPTS; i <= PR_VERDICTS && r == 0 && last > 0; i++) {
                bind_named_int(stmts[i], ":last", last);
                r = step_int(db, stmts[i], &n, err);
                if (r == 0)
                        *counts[i] += (uint64_t)n;
        }
        if (r == 0 && last > 0) {
                bind_named_int(stmts[PR_DELETE], ":last", last);
                rc = sqlite3_step(stmts[PR_DELETE]);
                sqlite3_reset(stmts[PR_DELETE]);
                if (rc != SQLITE_DONE)
                        r = audit__fail(db, rc, err, "delete from jobs");
                else
                        pruned->jobs += (uint64_t)sqlite3_changes(db);
        }
        if (r == 0)
                r = audit__exec(db, "COMMIT", err);
        if (r < 0 && !sqlite3_get_autocommit(db))
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

/* Gives free pages back to the file system, a chunk per transaction. */
static int give_back(struct audit *audit, sqlite3 *db, struct gv_err *err)
{
        sqlite3_stmt *free_pages;
        int64_t mode = 0, left = 0, before;
        char sql[64];
        int r;

        r = audit__prepare(db, "SELECT auto_vacuum FROM pragma_auto_vacuum", &free_pages, err);
        if (r == 0)
                r = step_int(db, free_pages, &mode, err);
        sqlite3_finalize(free_pages);
        if (r < 0)
                return r;
        if (mode != 2) {
                /* a log made elsewhere: convert it once (VACUUM rewrites the whole file) */
                r = audit__exec(db, "PRAGMA auto_vacuum = INCREMENTAL", err);
                if (r == 0)
                        r = audit__exec(db, "VACUUM", err);
                if (r == 0)
                        audit->conf.log(false, "audit log converted to incremental vacuum",
                                        audit->conf.log_userdata);
                return r;
        }
        r = audit__prepare(db, "SELECT freelist_count FROM pragma_freelist_count", &free_pages,
                           err);
        if (r < 0)
                return r;
        snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%d)", VACUUM_CHUNK);
        r = step_int(db, free_pages, &left, err);
        while (r == 0 && left > 0) {
                before = left;
                r = audit__exec(db, sql, err);
                if (r == 0)
                        r = step_int(db, free_pages, &left, err);
                if (r == 0 && left >= before)
                        break; /* no progress: another connection holds pages */
        }
        sqlite3_finalize(free_pages);
        return r;
}

int audit_prune(struct audit *audit, int64_t before_ms, struct audit_pruned *ret_pruned,
                struct gv_err *err)
{
        struct audit_pruned pruned = {0};
        sqlite3_stmt *stmts[_PR_MAX] = {0};
        sqlite3 *db;
        bool more = true;
        int r;

        pruned.bytes_before = file_size(audit->path, "") + file_size(audit->path, "-wal");
        r = connect_reader(audit, &db, err);
        if (r < 0)
                return r;
        for (int i = 0; i < _PR_MAX && r == 0; i++)
                r = audit__prepare(db, prune_sql[i], &stmts[i], err);
        while (r == 0 && more)
                r = prune_chunk(db, stmts, before_ms, &pruned, &more, err);
        for (int i = 0; i < _PR_MAX; i++)
                sqlite3_finalize(stmts[i]);
        if (r == 0)
                r = give_back(audit, db, err);
        /* a busy checkpoint only leaves the WAL longer: not an error */
        if (r == 0)
                sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        disconnect_reader(audit, db);
        if (r < 0)
                return gv_err_prefix(err, r, "cannot prune the audit log '%s': ", audit->path);
        pruned.bytes_after = file_size(audit->path, "") + file_size(audit->path, "-wal");
        *ret_pruned = pruned;
        return 0;
}

/* ---- show ------------------------------------------------------------------------------- */

enum msg_kind {
        MSG_JOB,
        MSG_VERDICT,
};

/*
 * Sets "message" in obj to the recorded bytes decoded (msgpack to JSON, as gavel decode prints
 * them), and "message_error" when they are not a valid message of their kind.
 */
static void put_message(json_t *obj, enum msg_kind kind, const void *buf, size_t len)
{
        struct schema_limits lim;
        struct gv_err err = {0};
        msgpack_unpacked unpacked;
        json_t *json = NULL;
        size_t off = 0;
        int r;

        json_object_set_new(obj, "raw_bytes", json_integer((json_int_t)len));
        schema_limits_default(&lim);
        r = schema_check(buf, len, &lim, &err);
        if (r >= 0) {
                msgpack_unpacked_init(&unpacked);
                if (msgpack_unpack_next(&unpacked, buf, len, &off) == MSGPACK_UNPACK_SUCCESS)
                        r = json_from_msgpack(&unpacked.data, &json, &err);
                else
                        r = gv_err_set(&err, -EBADMSG, "not msgpack");
                msgpack_unpacked_destroy(&unpacked);
        }
        if (r >= 0 && kind == MSG_JOB) {
                struct job job;

                r = schema_job_decode(buf, len, &lim, &job, &err);
                if (r == 0)
                        job_done(&job);
        } else if (r >= 0) {
                struct verdict verdict;

                r = schema_verdict_decode(buf, len, &lim, &verdict, &err);
                if (r == 0)
                        verdict_done(&verdict);
        }
        json_object_set_new(obj, "message", json ? json : json_null());
        if (r < 0)
                json_object_set_new(obj, "message_error",
                                    json_string_lossy(err.msg, strlen(err.msg)));
}

/* A JSON value of column i: integer, real, text (lossy UTF-8), bytes, or null. */
static json_t *column_json(sqlite3_stmt *stmt, int i)
{
        const void *p;

        switch (sqlite3_column_type(stmt, i)) {
        case SQLITE_INTEGER:
                return json_integer((json_int_t)sqlite3_column_int64(stmt, i));
        case SQLITE_FLOAT:
                return json_real(sqlite3_column_double(stmt, i));
        case SQLITE_TEXT:
                p = sqlite3_column_text(stmt, i);
                return json_string_lossy(p, (size_t)sqlite3_column_bytes(stmt, i));
        case SQLITE_BLOB:
                p = sqlite3_column_blob(stmt, i);
                return json_bytes(p ? p : "", (size_t)sqlite3_column_bytes(stmt, i));
        default:
                return json_null();
        }
}

/*
 * Each row of stmt as an object keyed by its column names; the last column, when raw is true,
 * is a message of kind decoded by put_message instead. Appends the objects to array.
 */
static int rows_json(sqlite3 *db, sqlite3_stmt *stmt, bool raw, enum msg_kind kind, json_t *array,
                     struct gv_err *err)
{
        int cols = sqlite3_column_count(stmt);
        int rc;

        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                json_t *obj = json_object();

                for (int i = 0; i < cols - (raw ? 1 : 0); i++)
                        json_object_set_new(obj, sqlite3_column_name(stmt, i),
                                            column_json(stmt, i));
                if (raw)
                        put_message(obj, kind, sqlite3_column_blob(stmt, cols - 1),
                                    (size_t)sqlite3_column_bytes(stmt, cols - 1));
                json_array_append_new(array, obj);
        }
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE)
                return audit__fail(db, rc, err, "cannot read");
        return 0;
}

enum {
        SH_JOBS,
        SH_JOB,
        SH_ATTEMPTS,
        SH_STAGES,
        SH_VERDICTS,
        _SH_MAX,
};

#define SHOW_JOB                                                                               \
        "SELECT id, submission, received_ms, worker, problem, lang, attempt, rejudge, topic, " \
        "topic_partition AS partition, topic_offset AS offset, msg_key AS key, raw FROM jobs "

static const char *const show_sql[_SH_MAX] = {
        [SH_JOBS] = SHOW_JOB "WHERE submission = ?1 AND id > 0 ORDER BY id",
        [SH_JOB] = SHOW_JOB "WHERE id = ?1 AND id > 0",
        [SH_ATTEMPTS] = "SELECT id, attempt, started_ms, finished_ms, state, reason "
                        "FROM attempts WHERE job_id = ?1 ORDER BY id",
        [SH_STAGES] = "SELECT kind, idx AS \"index\", verdict, time_ms, wall_ms, memory_kib, "
                      "exit_code, signal, message FROM stages WHERE attempt_id = ?1 "
                      "ORDER BY id",
        [SH_VERDICTS] = "SELECT id, attempt_id, code, score, max_score, state, created_ms, "
                        "updated_ms, raw FROM verdicts WHERE job_id = ?1 ORDER BY id",
};

/* Fills each job object of jobs with its "attempts" (with "stages") and "verdicts". */
static int show_children(sqlite3 *db, sqlite3_stmt **stmts, json_t *jobs, struct gv_err *err)
{
        size_t i, k;
        json_t *job, *attempt;
        int r = 0;

        json_array_foreach(jobs, i, job)
        {
                json_int_t id = json_integer_value(json_object_get(job, "id"));
                json_t *attempts = json_array(), *verdicts = json_array();

                json_object_set_new(job, "attempts", attempts);
                json_object_set_new(job, "verdicts", verdicts);
                sqlite3_bind_int64(stmts[SH_ATTEMPTS], 1, id);
                r = rows_json(db, stmts[SH_ATTEMPTS], false, MSG_JOB, attempts, err);
                json_array_foreach(attempts, k, attempt)
                {
                        json_t *stages = json_array();

                        json_object_set_new(attempt, "stages", stages);
                        sqlite3_bind_int64(stmts[SH_STAGES], 1,
                                           json_integer_value(json_object_get(attempt, "id")));
                        if (r == 0)
                                r = rows_json(db, stmts[SH_STAGES], false, MSG_JOB, stages, err);
                }
                sqlite3_bind_int64(stmts[SH_VERDICTS], 1, id);
                if (r == 0)
                        r = rows_json(db, stmts[SH_VERDICTS], true, MSG_VERDICT, verdicts, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int audit_show(struct audit *audit, const char *id, bool by_row, struct json_t **ret_json,
               struct gv_err *err)
{
        sqlite3_stmt *stmts[_SH_MAX] = {0};
        json_t *jobs = json_array();
        sqlite3 *db;
        int r;

        r = connect_reader(audit, &db, err);
        if (r < 0) {
                json_decref(jobs);
                return r;
        }
        for (int i = 0; i < _SH_MAX && r == 0; i++)
                r = audit__prepare(db, show_sql[i], &stmts[i], err);
        if (r == 0)
                r = audit__exec(db, "BEGIN", err);
        if (r == 0) {
                int which = by_row ? SH_JOB : SH_JOBS;

                if (by_row) {
                        char *end;
                        long long row = strtoll(id, &end, 10);

                        if (*end || !*id || row <= 0)
                                r = gv_err_set(err, -EINVAL,
                                               "row id '%s' is not a positive integer", id);
                        sqlite3_bind_int64(stmts[which], 1, row);
                } else
                        sqlite3_bind_text(stmts[which], 1, id, -1, SQLITE_STATIC);
                if (r == 0)
                        r = rows_json(db, stmts[which], true, MSG_JOB, jobs, err);
        }
        if (r == 0)
                r = show_children(db, stmts, jobs, err);
        if (r == 0 && json_array_size(jobs) == 0)
                r = gv_err_set(err, -ENOENT, "no %s '%s' in the audit log '%s'",
                               by_row ? "job row" : "submission", id, audit->path);
        if (!sqlite3_get_autocommit(db))
                sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        for (int i = 0; i < _SH_MAX; i++)
                sqlite3_finalize(stmts[i]);
        disconnect_reader(audit, db);
        if (r < 0) {
                json_decref(jobs);
                return r;
        }
        *ret_json = json_pack("{s:o}", "jobs", jobs);
        return 0;
}
