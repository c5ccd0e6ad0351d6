/* SPDX-License-Identifier: MIT */
/*
 * worker/audit/writer.c and reader.c on real sqlite files: what is recorded reads back byte for
 * byte; the file is 0600 and never a symlink; old schemas migrate and newer ones are refused;
 * threads record at once; a pending verdict is on disk when the call returns; a full or locked
 * database is an error and an unhealthy log, not a crash; a SIGKILL mid-write leaves a sound
 * database; prune deletes what is old and nothing else.
 */
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "schema/cleanup.h"
#include "tests/unit/audit/audit_fixture.h"

struct fixture {
        char dir[64];
        char path[128];
        struct audit *audit;
        atomic_int errors_logged; /* error lines the log callback received */
        char last_log[512];
};

static void capture_log(bool error, const char *msg, void *userdata)
{
        struct fixture *f = userdata;

        if (error) {
                atomic_fetch_add(&f->errors_logged, 1);
                snprintf(f->last_log, sizeof(f->last_log), "%s", msg);
        }
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        fx_mkdtemp(f->dir);
        snprintf(f->path, sizeof(f->path), "%s/audit.db", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        audit_free(f->audit);
        fx_rmdir(f->dir);
        free(f);
        return 0;
}

static struct audit_conf writer_conf(struct fixture *f)
{
        return (struct audit_conf){.path = f->path,
                                   .worker_id = "w1",
                                   .writer = true,
                                   .create = true,
                                   .log = capture_log,
                                   .log_userdata = f};
}

static void open_writer(struct fixture *f)
{
        struct audit_conf conf = writer_conf(f);
        struct gv_err err = {0};

        if (audit_open(&conf, &f->audit, &err) < 0)
                fail_msg("audit_open: %s", err.msg);
}

static struct audit *open_reader(struct fixture *f)
{
        struct audit_conf conf = {.path = f->path, .log = capture_log, .log_userdata = f};
        struct audit *audit = NULL;
        struct gv_err err = {0};

        if (audit_open(&conf, &audit, &err) < 0)
                fail_msg("audit_open (reader): %s", err.msg);
        return audit;
}

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Counts the entries matching sel and checks the total announced up front. */
static uint64_t count_selected(struct audit *audit, const struct audit_select *sel)
{
        struct audit_iter *it = NULL;
        const struct audit_entry *e;
        struct gv_err err = {0};
        uint64_t total = 0, n = 0;
        int64_t last = 0;
        int r;

        assert_int_equal(audit_iter_new(audit, sel, &it, &total, &err), 0);
        while ((r = audit_iter_next(it, &e, &err)) == 1) {
                assert_true(e->job_id > last); /* in recording order */
                last = e->job_id;
                n++;
        }
        assert_int_equal(r, 0);
        assert_int_equal(audit_iter_next(it, &e, &err), 0); /* stays at the end */
        audit_iter_free(it);
        assert_int_equal(n, total);
        return n;
}

/* ---- recording and reading back --------------------------------------------------------- */

static void test_recorded_job_and_verdict_read_back_exactly(void **state)
{
        struct fixture *f = *state;
        struct fx_job fj;
        struct fx_verdict fv;
        struct audit_select sel = {.submission = "s-1"};
        struct audit_iter *it = NULL;
        const struct audit_entry *e = NULL;
        struct gv_err err = {0};
        uint64_t total = 0;
        int64_t vid;

        open_writer(f);
        vid = fx_record(f->audit, "s-1", "aplusb", "cpp", SCHEMA_WA, 0);
        assert_true(vid > 0);
        assert_int_equal(audit_flush(f->audit, &err), 0);

        fx_job_make(&fj, "s-1", "aplusb", "cpp");
        fx_verdict_make(&fv, "s-1", SCHEMA_WA);
        assert_int_equal(audit_iter_new(f->audit, &sel, &it, &total, &err), 0);
        assert_int_equal(total, 1);
        assert_int_equal(audit_iter_next(it, &e, &err), 1);
        assert_string_equal(e->submission, "s-1");
        assert_string_equal(e->problem, "aplusb");
        assert_string_equal(e->lang, "cpp");
        assert_string_equal(e->worker, "w1");
        assert_string_equal(e->topic, "gavel.jobs");
        assert_int_equal(e->partition, 2);
        assert_int_equal(e->offset, 1000);
        assert_true(llabs(e->received_ms - now_ms()) < 60000);
        assert_int_equal(e->job_raw_len, fj.len);
        assert_memory_equal(e->job_raw, fj.raw, fj.len);
        assert_int_equal(e->verdict_id, vid);
        assert_int_equal(e->verdict, SCHEMA_WA);
        assert_int_equal(e->verdict_raw_len, fv.len);
        assert_memory_equal(e->verdict_raw, fv.raw, fv.len);
        assert_int_equal(audit_iter_next(it, &e, &err), 0);
        audit_iter_free(it);
        fx_verdict_done(&fv);
        fx_job_done(&fj);

        /* the rows as a DBA would see them */
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM stages"), 3);
        assert_int_equal(fx_sql_int(f->path, "SELECT signal FROM stages WHERE idx = 2"), 0);
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM stages WHERE kind = 'compile' "
                                             "AND verdict = 'OK' AND time_ms = 300"),
                         1);
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM attempts WHERE state = 'done' "
                                             "AND finished_ms >= started_ms"),
                         1);
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM verdicts WHERE state = "
                                             "'committed' AND code = 'WA' AND score = 50"),
                         1);
        assert_true(audit_healthy(f->audit));
        assert_int_equal(atomic_load(&f->errors_logged), 0);
}

static void test_selection_by_each_field(void **state)
{
        struct fixture *f = *state;
        struct gv_err err = {0};
        int64_t now = now_ms();

        open_writer(f);
        /* 150 jobs: more than one page of the iterator */
        for (int i = 0; i < 150; i++) {
                char id[16];

                snprintf(id, sizeof(id), "s-%d", i);
                fx_record(f->audit, id, i % 3 ? "aplusb" : "sort", i % 2 ? "cpp" : "python",
                          i % 5 ? SCHEMA_AC : SCHEMA_TLE, now - (150 - i) * 1000);
        }
        /* a job received twice: the second reception has an aborted verdict only */
        {
                struct fx_job fj;
                int64_t job_id, attempt_id;

                fx_job_make(&fj, "s-7", "sort", "cpp");
                assert_int_equal(
                        audit_job_received(f->audit, fj.raw, fj.len, &fj.job, NULL, &job_id, &err),
                        0);
                assert_int_equal(audit_attempt_started(f->audit, job_id, 2, &attempt_id, &err), 0);
                fx_job_done(&fj);
        }
        assert_int_equal(audit_flush(f->audit, &err), 0);

        assert_int_equal(count_selected(f->audit, NULL), 151);
        assert_int_equal(count_selected(f->audit, &(struct audit_select){.submission = "s-7"}), 2);
        assert_int_equal(count_selected(f->audit, &(struct audit_select){.problem = "sort"}), 51);
        assert_int_equal(count_selected(f->audit, &(struct audit_select){.lang = "python"}), 75);
        assert_int_equal(count_selected(f->audit, &(struct audit_select){.worker = "w1"}), 151);
        assert_int_equal(count_selected(f->audit, &(struct audit_select){.worker = "w2"}), 0);
        assert_int_equal(count_selected(f->audit, &(struct audit_select){.by_verdict = true,
                                                                         .verdict = SCHEMA_TLE}),
                         30);
        /* jobs 100..149 were received in the last 50 s (plus the one received just now) */
        assert_int_equal(
                count_selected(f->audit, &(struct audit_select){.since_ms = now - 50 * 1000}), 51);
        assert_int_equal(
                count_selected(f->audit, &(struct audit_select){.since_ms = now - 50 * 1000,
                                                                .until_ms = now}),
                50);
        assert_int_equal(count_selected(f->audit, &(struct audit_select){.problem = "aplusb",
                                                                         .lang = "cpp",
                                                                         .by_verdict = true,
                                                                         .verdict = SCHEMA_AC}),
                         40);
}

static void test_show_gives_every_attempt_and_verdict_decoded(void **state)
{
        struct fixture *f = *state;
        struct gv_err err = {0};
        struct audit *reader;
        json_t *doc = NULL, *jobs, *job, *attempts, *verdicts, *stages;

        open_writer(f);
        fx_record(f->audit, "s-9", "aplusb", "c", SCHEMA_RE, 0);
        fx_record(f->audit, "s-9", "aplusb", "c", SCHEMA_AC, 0);
        fx_record(f->audit, "other", "aplusb", "c", SCHEMA_AC, 0);
        assert_int_equal(audit_flush(f->audit, &err), 0);

        reader = open_reader(f);
        assert_int_equal(audit_show(reader, "s-9", false, &doc, &err), 0);
        jobs = json_object_get(doc, "jobs");
        assert_int_equal(json_array_size(jobs), 2);
        job = json_array_get(jobs, 0);
        assert_string_equal(json_string_value(json_object_get(job, "submission")), "s-9");
        assert_string_equal(json_string_value(json_object_get(job, "key")), "s-9");
        assert_int_equal(json_integer_value(json_object_get(job, "partition")), 2);
        /* the job decoded: its source as text */
        assert_non_null(strstr(
                json_string_value(json_object_get(json_object_get(job, "message"), "source")),
                "int main"));
        assert_null(json_object_get(job, "message_error"));
        attempts = json_object_get(job, "attempts");
        assert_int_equal(json_array_size(attempts), 1);
        stages = json_object_get(json_array_get(attempts, 0), "stages");
        assert_int_equal(json_array_size(stages), 3);
        assert_string_equal(
                json_string_value(json_object_get(json_array_get(stages, 2), "verdict")), "RE");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(stages, 2), "signal")),
                         11);
        verdicts = json_object_get(job, "verdicts");
        assert_int_equal(json_array_size(verdicts), 1);
        assert_string_equal(
                json_string_value(json_object_get(json_array_get(verdicts, 0), "state")),
                "committed");
        assert_string_equal(
                json_string_value(json_object_get(
                        json_object_get(json_array_get(verdicts, 0), "message"), "verdict")),
                "RE");
        json_decref(doc);

        /* by row id, and nothing */
        assert_int_equal(audit_show(reader, "3", true, &doc, &err), 0);
        job = json_array_get(json_object_get(doc, "jobs"), 0);
        assert_string_equal(json_string_value(json_object_get(job, "submission")), "other");
        json_decref(doc);
        assert_int_equal(audit_show(reader, "nope", false, &doc, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "'nope'"));
        assert_int_equal(audit_show(reader, "x1", true, &doc, &err), -EINVAL);
        audit_free(reader);
}

static void test_undecodable_job_is_recorded_without_fields(void **state)
{
        struct fixture *f = *state;
        static const uint8_t junk[] = {0xc1, 0x00, 0xff};
        struct gv_err err = {0};
        struct audit_iter *it = NULL;
        const struct audit_entry *e;
        json_t *doc = NULL;
        uint64_t total;
        int64_t job_id = 0;

        open_writer(f);
        assert_int_equal(
                audit_job_received(f->audit, junk, sizeof(junk), NULL, NULL, &job_id, &err), 0);
        assert_int_equal(audit_flush(f->audit, &err), 0);
        assert_int_equal(audit_iter_new(f->audit, NULL, &it, &total, &err), 0);
        assert_int_equal(audit_iter_next(it, &e, &err), 1);
        assert_null(e->submission);
        assert_null(e->topic);
        assert_int_equal(e->partition, -1);
        assert_int_equal(e->offset, -1);
        assert_int_equal(e->verdict, _SCHEMA_CODE_INVALID);
        assert_null(e->verdict_raw);
        assert_int_equal(e->job_raw_len, sizeof(junk));
        assert_memory_equal(e->job_raw, junk, sizeof(junk));
        audit_iter_free(it);

        assert_int_equal(audit_show(f->audit, "1", true, &doc, &err), 0);
        assert_non_null(
                json_object_get(json_array_get(json_object_get(doc, "jobs"), 0), "message_error"));
        json_decref(doc);
}

/* ---- the file --------------------------------------------------------------------------- */

static mode_t file_mode(const char *path)
{
        struct stat st;

        assert_int_equal(lstat(path, &st), 0);
        return st.st_mode & 07777;
}

static void test_file_is_0600_whatever_the_umask(void **state)
{
        struct fixture *f = *state;
        char wal[160];
        mode_t old = umask(0);
        struct gv_err err = {0};

        open_writer(f);
        umask(old);
        fx_record(f->audit, "s-1", "aplusb", "cpp", SCHEMA_AC, 0);
        assert_int_equal(audit_flush(f->audit, &err), 0);
        assert_int_equal(file_mode(f->path), 0600);
        snprintf(wal, sizeof(wal), "%s-wal", f->path);
        assert_int_equal(file_mode(wal), 0600);
        snprintf(wal, sizeof(wal), "%s-shm", f->path);
        assert_int_equal(file_mode(wal), 0600);
        audit_free(f->audit);
        f->audit = NULL;

        /* a file made wider by hand is tightened on the next open */
        assert_int_equal(chmod(f->path, 0644), 0);
        open_writer(f);
        assert_int_equal(file_mode(f->path), 0600);
}

static void test_symlink_is_refused(void **state)
{
        struct fixture *f = *state;
        struct audit_conf conf = writer_conf(f);
        char target[160];
        struct gv_err err = {0};

        snprintf(target, sizeof(target), "%s/elsewhere.db", f->dir);
        assert_int_equal(symlink(target, f->path), 0);
        assert_int_equal(audit_open(&conf, &f->audit, &err), -ELOOP);
        assert_non_null(strstr(err.msg, "symlink"));
        assert_int_equal(access(target, F_OK), -1); /* nothing created through it */
}

static void test_missing_file_without_create_is_enoent(void **state)
{
        struct fixture *f = *state;
        struct audit_conf conf = {.path = f->path};
        struct gv_err err = {0};

        assert_int_equal(audit_open(&conf, &f->audit, &err), -ENOENT);
        assert_non_null(strstr(err.msg, f->path));
        assert_int_equal(access(f->path, F_OK), -1);
}

static void test_second_writer_is_refused_reader_is_not(void **state)
{
        struct fixture *f = *state;
        struct audit_conf conf = writer_conf(f);
        struct audit *second = NULL, *reader;
        struct audit_stats st;
        struct gv_err err = {0};

        open_writer(f);
        assert_int_equal(audit_open(&conf, &second, &err), -EBUSY);
        assert_non_null(strstr(err.msg, "in use"));
        fx_record(f->audit, "s-1", "aplusb", "cpp", SCHEMA_AC, 0);
        reader = open_reader(f);
        assert_int_equal(audit_stats(reader, &st, &err), 0);
        assert_int_equal(st.jobs, 1);
        audit_free(reader);
        /* a reader records nothing */
        reader = open_reader(f);
        assert_int_equal(audit_attempt_started(reader, 1, 1, NULL, &err), -EBADF);
        audit_free(reader);
}

/* ---- schema versions -------------------------------------------------------------------- */

static void make_raw_db(const char *path, const char *sql)
{
        sqlite3 *db = NULL;

        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        sqlite3_close(db);
}

static void test_v0_file_is_migrated(void **state)
{
        struct fixture *f = *state;
        struct gv_err err = {0};

        /* version 0: an sqlite file as `sqlite3 FILE` leaves it, rollback journal, no tables */
        make_raw_db(f->path, "PRAGMA user_version = 0; PRAGMA journal_mode = DELETE; VACUUM");
        assert_int_equal(fx_sql_int(f->path, "PRAGMA user_version"), 0);
        open_writer(f);
        assert_int_equal(fx_sql_int(f->path, "PRAGMA user_version"), AUDIT_SCHEMA_VERSION);
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE type = "
                                             "'table' AND name IN ('jobs', 'attempts', 'stages', "
                                             "'verdicts')"),
                         4);
        assert_int_equal(fx_sql_int(f->path, "SELECT journal_mode = 'wal' FROM "
                                             "pragma_journal_mode"),
                         1);
        assert_int_equal(fx_sql_int(f->path, "PRAGMA auto_vacuum"), 2);
        fx_record(f->audit, "s-1", "aplusb", "cpp", SCHEMA_AC, 0);
        assert_int_equal(audit_flush(f->audit, &err), 0);
        audit_free(f->audit);
        f->audit = NULL;

        /* opening a current file again changes nothing */
        open_writer(f);
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM jobs"), 1);
}

static void test_newer_schema_is_refused(void **state)
{
        struct fixture *f = *state;
        struct audit_conf conf = writer_conf(f);
        struct gv_err err = {0};

        make_raw_db(f->path, "CREATE TABLE jobs (x); PRAGMA user_version = 7");
        assert_int_equal(audit_open(&conf, &f->audit, &err), -EPROTONOSUPPORT);
        assert_non_null(strstr(err.msg, "schema version 7"));
        assert_non_null(strstr(err.msg, "newer gavel"));
        assert_int_equal(fx_sql_int(f->path, "PRAGMA user_version"), 7); /* untouched */
}

static void test_not_a_database_is_refused(void **state)
{
        struct fixture *f = *state;
        struct audit_conf conf = writer_conf(f);
        struct gv_err err = {0};
        FILE *file = fopen(f->path, "w");

        assert_non_null(file);
        fputs("this is not an sqlite database, just a text file long enough to have a header "
              "that sqlite will look at and refuse as garbage.\n",
              file);
        fclose(file);
        assert_int_equal(audit_open(&conf, &f->audit, &err), -EUCLEAN);
        assert_non_null(strstr(err.msg, "not an audit log"));
}

/* ---- concurrency and durability --------------------------------------------------------- */

#define THREADS    4
#define PER_THREAD 150
#define BATCH      5 /* verdicts made durable by one call, as one Kafka transaction */

struct thread_arg {
        struct audit *audit;
        int n;
};

static void *record_thread(void *p)
{
        struct thread_arg *arg = p;
        struct gv_err err = {0};

        for (int i = 0; i < PER_THREAD / BATCH; i++) {
                struct fx_job fj[BATCH];
                struct fx_verdict fv[BATCH];
                struct audit_verdict av[BATCH];
                int64_t ids[BATCH];

                for (int k = 0; k < BATCH; k++) {
                        char id[32];
                        int64_t job_id = 0, attempt_id = 0;

                        snprintf(id, sizeof(id), "t%d-%d", arg->n, i * BATCH + k);
                        fx_job_make(&fj[k], id, "aplusb", "cpp");
                        fx_verdict_make(&fv[k], id, SCHEMA_AC);
                        if (audit_job_received(arg->audit, fj[k].raw, fj[k].len, &fj[k].job, NULL,
                                               &job_id, &err) < 0 ||
                            audit_attempt_started(arg->audit, job_id, 1, &attempt_id, &err) < 0 ||
                            audit_attempt_finished(arg->audit, attempt_id, AUDIT_ATTEMPT_DONE, NULL,
                                                   &fv[k].verdict, &err) < 0)
                                return (void *)1;
                        av[k] = (struct audit_verdict){.attempt_id = attempt_id,
                                                       .verdict = &fv[k].verdict,
                                                       .raw = fv[k].raw,
                                                       .raw_len = fv[k].len};
                }
                if (audit_verdicts_pending(arg->audit, av, BATCH, ids, &err) < 0 ||
                    audit_verdicts_mark(arg->audit, ids, BATCH, AUDIT_COMMITTED, &err) < 0)
                        return (void *)1;
                for (int k = 0; k < BATCH; k++) {
                        fx_job_done(&fj[k]);
                        fx_verdict_done(&fv[k]);
                }
        }
        return NULL;
}

static void test_threads_record_concurrently(void **state)
{
        struct fixture *f = *state;
        pthread_t threads[THREADS];
        struct thread_arg args[THREADS];
        struct audit_stats st;
        struct gv_err err = {0};

        open_writer(f);
        for (int i = 0; i < THREADS; i++) {
                args[i] = (struct thread_arg){.audit = f->audit, .n = i};
                assert_int_equal(pthread_create(&threads[i], NULL, record_thread, &args[i]), 0);
        }
        for (int i = 0; i < THREADS; i++) {
                void *ret;

                assert_int_equal(pthread_join(threads[i], &ret), 0);
                assert_null(ret);
        }
        assert_int_equal(audit_flush(f->audit, &err), 0);
        assert_int_equal(audit_stats(f->audit, &st, &err), 0);
        assert_int_equal(st.jobs, THREADS * PER_THREAD);
        assert_int_equal(st.attempts[AUDIT_ATTEMPT_DONE], THREADS * PER_THREAD);
        assert_int_equal(st.verdicts[SCHEMA_AC][AUDIT_COMMITTED], THREADS * PER_THREAD);
        assert_int_equal(st.verdicts[SCHEMA_AC][AUDIT_PENDING], 0);
        /* every verdict hangs off its own job's attempt */
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM verdicts v JOIN attempts a ON "
                                             "a.id = v.attempt_id JOIN jobs j ON j.id = a.job_id "
                                             "AND j.id = v.job_id"),
                         THREADS * PER_THREAD);
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM stages"),
                         THREADS * PER_THREAD * 3);
        assert_int_equal(atomic_load(&f->errors_logged), 0);
}

static void test_pending_verdict_is_on_disk_before_the_call_returns(void **state)
{
        struct fixture *f = *state;
        struct fx_job fj;
        struct fx_verdict fv;
        struct gv_err err = {0};
        int64_t job_id, attempt_id, vid = 0;

        open_writer(f);
        fx_job_make(&fj, "s-1", "aplusb", "cpp");
        fx_verdict_make(&fv, "s-1", SCHEMA_AC);
        assert_int_equal(audit_job_received(f->audit, fj.raw, fj.len, &fj.job, NULL, &job_id, &err),
                         0);
        assert_int_equal(audit_attempt_started(f->audit, job_id, 1, &attempt_id, &err), 0);
        struct audit_verdict av = {
                .attempt_id = attempt_id, .verdict = &fv.verdict, .raw = fv.raw, .raw_len = fv.len};
        assert_int_equal(audit_verdicts_pending(f->audit, &av, 1, &vid, &err), 0);
        /* no flush: another connection sees it, and the records queued before it */
        assert_int_equal(fx_sql_int(f->path,
                                    "SELECT count(*) FROM verdicts WHERE id = %lld AND "
                                    "state = 'pending'",
                                    (long long)vid),
                         1);
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM attempts WHERE state = "
                                             "'running'"),
                         1);
        assert_int_equal(audit_verdicts_mark(f->audit, &vid, 1, AUDIT_ABORTED, &err), 0);
        assert_int_equal(audit_flush(f->audit, &err), 0);
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM verdicts WHERE state = "
                                             "'aborted' AND updated_ms >= created_ms"),
                         1);

        /* a verdict of an attempt the log does not have is refused: it must not be published */
        av.attempt_id = 9999;
        assert_int_equal(audit_verdicts_pending(f->audit, &av, 1, NULL, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "no attempt 9999"));
        assert_true(audit_healthy(f->audit)); /* the database itself is fine */
        fx_verdict_done(&fv);
        fx_job_done(&fj);
}

static void test_restart_abandons_running_attempts(void **state)
{
        struct fixture *f = *state;
        struct fx_job fj;
        struct gv_err err = {0};
        int64_t job_id, attempt_id;

        open_writer(f);
        fx_job_make(&fj, "s-1", "aplusb", "cpp");
        assert_int_equal(audit_job_received(f->audit, fj.raw, fj.len, &fj.job, NULL, &job_id, &err),
                         0);
        assert_int_equal(audit_attempt_started(f->audit, job_id, 1, &attempt_id, &err), 0);
        fx_job_done(&fj);
        audit_free(f->audit);
        f->audit = NULL;
        open_writer(f);
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM attempts WHERE state = "
                                             "'abandoned' AND reason LIKE '%%stopped%%'"),
                         1);
        /* ids go on where they stopped */
        assert_int_equal(audit_attempt_started(f->audit, job_id, 2, &attempt_id, &err), 0);
        assert_int_equal(attempt_id, 2);
}

/* ---- failures --------------------------------------------------------------------------- */

static void test_full_database_is_an_error_and_unhealthy(void **state)
{
        struct fixture *f = *state;
        struct audit_conf conf = writer_conf(f);
        static uint8_t big[16384];
        struct gv_err err = {0};
        struct audit *reader;
        struct audit_pruned pruned;
        int64_t job_id, deadline;
        int r = 0, i;

        conf.max_size_kib = 512;
        if (audit_open(&conf, &f->audit, &err) < 0)
                fail_msg("audit_open: %s", err.msg);
        /* old jobs until the log is full: the barrier reports it */
        for (i = 0; i < 200 && r == 0; i++) {
                struct audit_origin origin = {.received_ms = now_ms() - 30 * DAY_MS};

                big[0] = (uint8_t)i;
                r = audit_job_received(f->audit, big, sizeof(big), NULL, &origin, &job_id, &err);
                if (r == 0)
                        r = audit_flush(f->audit, &err);
        }
        assert_int_equal(r, -ENOSPC);
        assert_true(i > 10 && i < 200);
        assert_non_null(strstr(err.msg, "full"));
        assert_false(audit_healthy(f->audit));
        assert_true(atomic_load(&f->errors_logged) > 0);
        assert_non_null(strstr(f->last_log, "full"));
        audit_last_error(f->audit, &err);
        assert_int_equal(err.code, -ENOSPC);

        /* a verdict cannot be made durable now: the worker would abort its transaction */
        {
                struct fx_verdict fv;

                fx_verdict_make(&fv, "s-1", SCHEMA_AC);
                struct audit_verdict av = {
                        .attempt_id = 1, .verdict = &fv.verdict, .raw = fv.raw, .raw_len = fv.len};
                assert_true(audit_verdicts_pending(f->audit, &av, 1, NULL, &err) < 0);
                fx_verdict_done(&fv);
        }

        /* the operator prunes; the writer's probe finds room and the log is healthy again */
        reader = open_reader(f);
        assert_int_equal(audit_prune(reader, now_ms() - DAY_MS, &pruned, &err), 0);
        assert_true(pruned.jobs > 10);
        audit_free(reader);
        deadline = now_ms() + 5000;
        while (!audit_healthy(f->audit) && now_ms() < deadline)
                usleep(20000);
        assert_true(audit_healthy(f->audit));
        assert_int_equal(audit_job_received(f->audit, big, sizeof(big), NULL, NULL, &job_id, &err),
                         0);
        assert_int_equal(audit_flush(f->audit, &err), 0);
        assert_true(fx_integrity_ok(f->path));
}

static void test_locked_database_is_an_error_and_records_are_dropped(void **state)
{
        struct fixture *f = *state;
        struct audit_conf conf = writer_conf(f);
        struct gv_err err = {0};
        sqlite3 *db = NULL;
        int64_t job_id;
        int r = 0;

        conf.busy_timeout_ms = 300;
        conf.queue_max = 2;
        conf.enqueue_wait_ms = 50;
        if (audit_open(&conf, &f->audit, &err) < 0)
                fail_msg("audit_open: %s", err.msg);
        /* someone holds the write lock far beyond the timeout */
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        for (int i = 0; i < 10 && r == 0; i++)
                r = audit_job_received(f->audit, "x", 1, NULL, NULL, &job_id, &err);
        assert_int_equal(r, -ENOBUFS);
        assert_non_null(strstr(err.msg, "dropped"));
        assert_false(audit_healthy(f->audit));
        r = audit_flush(f->audit, &err);
        assert_true(r == -EBUSY || r == -ENOBUFS);
        assert_true(atomic_load(&f->errors_logged) >= 2);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);

        /* the lock is gone: the next write goes through and the log is healthy */
        assert_int_equal(audit_job_received(f->audit, "y", 1, NULL, NULL, &job_id, &err), 0);
        assert_int_equal(audit_flush(f->audit, &err), 0);
        assert_true(audit_healthy(f->audit));
}

static void test_sigkill_while_writing_leaves_a_sound_database(void **state)
{
        struct fixture *f = *state;
        int64_t committed[4096];
        size_t n = 0;
        int pipefd[2], status;
        pid_t pid;

        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* the child writes as hard as it can and reports each durable verdict */
                close(pipefd[0]);
                open_writer(f);
                for (int i = 0;; i++) {
                        char id[32];
                        int64_t vid;

                        snprintf(id, sizeof(id), "k-%d", i);
                        /* bulk between the verdicts: the WAL grows and checkpoints */
                        for (int k = 0; k < 5; k++) {
                                static uint8_t bulk[8192];
                                int64_t job_id;

                                bulk[k] = (uint8_t)i;
                                audit_job_received(f->audit, bulk, sizeof(bulk), NULL, NULL,
                                                   &job_id, NULL);
                        }
                        vid = fx_record(f->audit, id, "aplusb", "cpp", SCHEMA_AC, 0);
                        if (write(pipefd[1], &vid, sizeof(vid)) != sizeof(vid))
                                _exit(1);
                }
        }
        close(pipefd[1]);
        /* let it write for a while, then kill it in the middle of whatever it does */
        while (n < 200) {
                ssize_t k = read(pipefd[0], &committed[n], sizeof(committed[n]));

                assert_int_equal(k, sizeof(committed[n]));
                n++;
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        while (n < ARRAY_SIZE(committed) &&
               read(pipefd[0], &committed[n], sizeof(committed[n])) == sizeof(committed[n]))
                n++;
        close(pipefd[0]);

        /* sound, and every verdict the child was told is durable is there */
        assert_true(fx_integrity_ok(f->path));
        for (size_t i = 0; i < n; i++)
                assert_int_equal(fx_sql_int(f->path,
                                            "SELECT count(*) FROM verdicts WHERE id = %lld",
                                            (long long)committed[i]),
                                 1);
        assert_int_equal(fx_sql_int(f->path, "PRAGMA foreign_key_check"), -1); /* no rows */
        /* a new worker takes over the file */
        open_writer(f);
        assert_true(audit_healthy(f->audit));
}

/* ---- prune ------------------------------------------------------------------------------ */

static void test_prune_deletes_old_jobs_and_their_dependents_only(void **state)
{
        struct fixture *f = *state;
        struct audit_pruned p;
        struct audit_stats st;
        struct gv_err err = {0};
        int64_t now = now_ms();

        open_writer(f);
        for (int i = 0; i < 600; i++) {
                char id[16];

                snprintf(id, sizeof(id), "s-%d", i);
                /* interleaved: ids alone do not tell old from new */
                fx_record(f->audit, id, "aplusb", "cpp", SCHEMA_AC,
                          i % 3 ? now - 10 * DAY_MS - i : now - i);
        }
        assert_int_equal(audit_flush(f->audit, &err), 0);
        assert_int_equal(audit_prune(f->audit, now - 7 * DAY_MS, &p, &err), 0);
        assert_int_equal(p.jobs, 400);
        assert_int_equal(p.attempts, 400);
        assert_int_equal(p.stages, 1200);
        assert_int_equal(p.verdicts, 400);
        assert_true(p.bytes_after < p.bytes_before);
        assert_int_equal(audit_stats(f->audit, &st, &err), 0);
        assert_int_equal(st.jobs, 200);
        assert_int_equal(st.attempts[AUDIT_ATTEMPT_DONE], 200);
        assert_int_equal(st.verdicts[SCHEMA_AC][AUDIT_COMMITTED], 200);
        assert_int_equal(st.free_bytes, 0); /* given back */
        assert_true(st.oldest_ms > now - 7 * DAY_MS);
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM stages"), 600);
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM jobs WHERE received_ms < %lld",
                                    (long long)(now - 7 * DAY_MS)),
                         0);
        /* the writer goes on after a prune beside it */
        fx_record(f->audit, "after", "aplusb", "cpp", SCHEMA_AC, 0);
        assert_int_equal(audit_flush(f->audit, &err), 0);
        assert_int_equal(count_selected(f->audit, NULL), 201);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_recorded_job_and_verdict_read_back_exactly,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_selection_by_each_field, setup, teardown),
                cmocka_unit_test_setup_teardown(test_show_gives_every_attempt_and_verdict_decoded,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_undecodable_job_is_recorded_without_fields,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_file_is_0600_whatever_the_umask, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_symlink_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_file_without_create_is_enoent, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_second_writer_is_refused_reader_is_not, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_v0_file_is_migrated, setup, teardown),
                cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_a_database_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_threads_record_concurrently, setup, teardown),
                cmocka_unit_test_setup_teardown(
                        test_pending_verdict_is_on_disk_before_the_call_returns, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restart_abandons_running_attempts, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_full_database_is_an_error_and_unhealthy, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(
                        test_locked_database_is_an_error_and_records_are_dropped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sigkill_while_writing_leaves_a_sound_database,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(
                        test_prune_deletes_old_jobs_and_their_dependents_only, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
