/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the audit log tests (the library's and the CLI's): a private directory, real jobs
 * and verdicts encoded by the schema, one job's whole life recorded as the worker records it,
 * and a plain sqlite connection to look at the file from outside. Header-only.
 */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* clang-format off */
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "schema/schema.h"
#include "worker/audit/audit.h"

#define DAY_MS ((int64_t)86400000)

/* A job as the worker has it: the bytes from the topic and their decoding. */
struct fx_job {
        void *raw;
        size_t len;
        struct job job;
};

static inline void fx_job_make(struct fx_job *fj, const char *id, const char *problem,
                               const char *lang)
{
        static char source[] = "#include <stdio.h>\nint main(void) { return 0; }\n";
        struct job job = {
                .v = SCHEMA_VERSION,
                .id = (char *)id,
                .lang = (char *)lang,
                .source = (uint8_t *)source,
                .source_len = sizeof(source) - 1,
                .problem = (char *)problem,
                .attempt = 1,
        };

        assert_int_equal(schema_job_encode(&job, &fj->raw, &fj->len), 0);
        assert_int_equal(schema_job_decode(fj->raw, fj->len, NULL, &fj->job, NULL), 0);
}

static inline void fx_job_done(struct fx_job *fj)
{
        free(fj->raw);
        job_done(&fj->job);
}

/* A verdict with a compile stage and two tests, and its bytes. */
struct fx_verdict {
        void *raw;
        size_t len;
        struct verdict verdict;
        struct verdict_test tests[2];
};

static inline void fx_verdict_make(struct fx_verdict *fv, const char *id, enum schema_code code)
{
        memset(fv, 0, sizeof(*fv));
        fv->tests[0] = (struct verdict_test){.verdict = SCHEMA_AC,
                                             .time_ms = 12,
                                             .wall_ms = 15,
                                             .memory_kib = 2048,
                                             .checker_message = (char *)"ok"};
        fv->tests[1] = (struct verdict_test){.verdict = code,
                                             .time_ms = 34,
                                             .wall_ms = 40,
                                             .memory_kib = 4096,
                                             .exit_code = code == SCHEMA_RE ? -1 : 0,
                                             .signal = code == SCHEMA_RE ? 11 : 0,
                                             .checker_message = (char *)"line 1 differs"};
        fv->verdict = (struct verdict){
                .v = SCHEMA_VERSION,
                .id = (char *)id,
                .verdict = code,
                .score = code == SCHEMA_AC ? 100 : 50,
                .max_score = 100,
                .compile = {.present = true,
                            .ok = true,
                            .log = (char *)"",
                            .time_ms = 300,
                            .memory_kib = 65536},
                .tests = fv->tests,
                .n_tests = 2,
                .time_ms = 34,
                .memory_kib = 4096,
                .worker = (char *)"w1",
                .attempt = 1,
        };
        assert_int_equal(schema_verdict_encode(&fv->verdict, &fv->raw, &fv->len), 0);
}

static inline void fx_verdict_done(struct fx_verdict *fv)
{
        free(fv->raw);
}

/*
 * Records what the worker records for one job judged once and published: received, attempt
 * started, attempt done with its stages, verdict pending (durable), then committed. received_ms
 * 0 means now. Returns the verdict's id.
 */
static inline int64_t fx_record(struct audit *audit, const char *id, const char *problem,
                                const char *lang, enum schema_code code, int64_t received_ms)
{
        struct fx_job fj;
        struct fx_verdict fv;
        struct audit_origin origin = {.topic = "gavel.jobs",
                                      .partition = 2,
                                      .offset = 1000,
                                      .key = id,
                                      .key_len = strlen(id),
                                      .received_ms = received_ms};
        struct gv_err err = {0};
        int64_t job_id = 0, attempt_id = 0, verdict_id = 0;

        fx_job_make(&fj, id, problem, lang);
        fx_verdict_make(&fv, id, code);
        assert_int_equal(audit_job_received(audit, fj.raw, fj.len, &fj.job, &origin, &job_id, &err),
                         0);
        assert_int_equal(audit_attempt_started(audit, job_id, 1, &attempt_id, &err), 0);
        assert_int_equal(audit_attempt_finished(audit, attempt_id, AUDIT_ATTEMPT_DONE, NULL,
                                                &fv.verdict, &err),
                         0);
        struct audit_verdict av = {
                .attempt_id = attempt_id, .verdict = &fv.verdict, .raw = fv.raw, .raw_len = fv.len};
        assert_int_equal(audit_verdicts_pending(audit, &av, 1, &verdict_id, &err), 0);
        assert_int_equal(audit_verdicts_mark(audit, &verdict_id, 1, AUDIT_COMMITTED, &err), 0);
        fx_verdict_done(&fv);
        fx_job_done(&fj);
        return verdict_id;
}

/* A private directory under /tmp, and its removal with everything in it (one level). */
static inline void fx_mkdtemp(char dir[64])
{
        snprintf(dir, 64, "/tmp/gavel-audit-test-XXXXXX");
        assert_non_null(mkdtemp(dir));
}

static inline void fx_rmdir(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        char path[512];

        if (!d)
                return;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                        unlink(path);
                }
        closedir(d);
        rmdir(dir);
}

/* The first column of the first row of a query run on a connection of our own. */
__attribute__((format(printf, 2, 3))) static inline int64_t fx_sql_int(const char *path,
                                                                       const char *fmt, ...)
{
        char sql[1024];
        sqlite3 *db = NULL;
        sqlite3_stmt *stmt = NULL;
        int64_t v = -1;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(sql, sizeof(sql), fmt, ap);
        va_end(ap);
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        if (sqlite3_step(stmt) == SQLITE_ROW)
                v = sqlite3_column_int64(stmt, 0);
        sqlite3_finalize(stmt);
        sqlite3_close(db);
        return v;
}

/* Whether PRAGMA integrity_check says "ok", on a connection of our own. */
static inline bool fx_integrity_ok(const char *path)
{
        sqlite3 *db = NULL;
        sqlite3_stmt *stmt = NULL;
        bool ok;

        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, NULL),
                         SQLITE_OK);
        ok = sqlite3_step(stmt) == SQLITE_ROW &&
             !strcmp((const char *)sqlite3_column_text(stmt, 0), "ok");
        sqlite3_finalize(stmt);
        sqlite3_close(db);
        return ok;
}
