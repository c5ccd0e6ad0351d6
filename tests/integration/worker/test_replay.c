// SPDX-License-Identifier: MIT
/*
 * gavel replay end to end: an audit log holding real verdicts of real submissions (judged here by
 * the engine, recorded as the worker records them), then `gavel replay` judging them again
 * (unchanged: no difference; after a test's answer changes: exactly the affected submissions),
 * requeueing them and republishing their verdicts through the embedded broker.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue/queue.h"
#include "schema/cleanup.h"
#include "tests/integration/worker/gproc.h"
#include "worker/audit/audit.h"
#include "worker/judge/judge.h"
#include "worker/judge/lang.h"
#include "worker/judge/problem/problem.h"

#define N_SUBS 4

static const struct {
        const char *id, *lang, *file;
        enum schema_code code;
} subs[N_SUBS] = {
        {"r-ac-c", "c", "ac.c", SCHEMA_AC},
        {"r-wa-c", "c", "wa.c", SCHEMA_WA},
        {"r-ac-py", "python3", "ac.py", SCHEMA_AC},
        {"r-re-py", "python3", "re.py", SCHEMA_RE},
};

static char tmp[64], store[128], db[128], cache[128];
static void *verdict_raw[N_SUBS];
static size_t verdict_len[N_SUBS];

static char *slurp(const char *path, size_t *ret_len)
{
        FILE *f = fopen(path, "rb");
        char *buf = xmalloc(1 << 20);
        size_t n;

        assert_non_null(f);
        n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = '\0';
        fclose(f);
        *ret_len = n;
        return buf;
}

/* Judges every submission with the engine and records it as the worker does. */
static void record_all(void)
{
        struct lang_table *langs = NULL;
        struct judge *judge = NULL;
        struct judge_conf conf;
        struct audit_conf ac = {.path = db, .worker_id = "w-test", .writer = true, .create = true};
        struct audit *audit = NULL;
        struct gv_err err = {0};

        assert_int_equal(lang_table_load(NULL, &langs, &err), 0);
        judge_conf_default(&conf);
        conf.langs = langs;
        conf.problem_store = store;
        conf.cache_dir = cache;
        if (judge_new(&conf, &judge, &err) < 0)
                fail_msg("judge_new: %s", err.msg);
        if (audit_open(&ac, &audit, &err) < 0)
                fail_msg("audit_open: %s", err.msg);
        for (int i = 0; i < N_SUBS; i++) {
                char path[512];
                size_t len;
                cleanup_free char *src = NULL;
                struct job job = {.v = SCHEMA_VERSION, .attempt = 1};
                struct verdict v = {0};
                void *raw;
                size_t raw_len;
                int64_t job_id, attempt_id, verdict_id;
                struct audit_origin origin = {.topic = QUEUE_TOPIC_JOBS,
                                              .partition = 0,
                                              .offset = i,
                                              .key = subs[i].id,
                                              .key_len = strlen(subs[i].id)};

                snprintf(path, sizeof(path), "%s/ops/examples/solutions/aplusb/%s",
                         GAVEL_SOURCE_DIR, subs[i].file);
                src = slurp(path, &len);
                job.id = (char *)subs[i].id;
                job.lang = (char *)subs[i].lang;
                job.source = (uint8_t *)src;
                job.source_len = len;
                job.problem = (char *)"aplusb";
                assert_int_equal(schema_job_encode(&job, &raw, &raw_len), 0);
                if (judge_run(judge, &job, NULL, NULL, &v, &err) < 0)
                        fail_msg("judge_run: %s", err.msg);
                if (v.verdict != subs[i].code)
                        fail_msg("%s: %s, expected %s (%s)", subs[i].id,
                                 schema_code_name(v.verdict), schema_code_name(subs[i].code),
                                 v.reason ? v.reason : "");
                assert_int_equal(schema_verdict_encode(&v, &verdict_raw[i], &verdict_len[i]), 0);
                assert_int_equal(
                        audit_job_received(audit, raw, raw_len, &job, &origin, &job_id, &err), 0);
                assert_int_equal(audit_attempt_started(audit, job_id, 1, &attempt_id, &err), 0);
                assert_int_equal(audit_attempt_finished(audit, attempt_id, AUDIT_ATTEMPT_DONE, NULL,
                                                        &v, &err),
                                 0);
                {
                        struct audit_verdict av = {.attempt_id = attempt_id,
                                                   .verdict = &v,
                                                   .raw = verdict_raw[i],
                                                   .raw_len = verdict_len[i]};

                        assert_int_equal(audit_verdicts_pending(audit, &av, 1, &verdict_id, &err),
                                         0);
                }
                assert_int_equal(audit_verdicts_mark(audit, &verdict_id, 1, AUDIT_COMMITTED, &err),
                                 0);
                verdict_done(&v);
                free(raw);
        }
        audit_free(audit);
        judge_free(judge);
        lang_table_free(langs);
}

static int setup(void **state)
{
        char cmd[512];

        (void)state;
        gproc_tmpdir(tmp, sizeof(tmp));
        snprintf(store, sizeof(store), "%s/store", tmp);
        snprintf(db, sizeof(db), "%s/audit.db", tmp);
        snprintf(cache, sizeof(cache), "%s/cache", tmp);
        snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp -r %s/ops/examples/problems/aplusb %s/",
                 store, GAVEL_SOURCE_DIR, store);
        if (system(cmd) != 0)
                return -1;
        record_all();
        return 0;
}

static int teardown(void **state)
{
        char cmd[256];

        (void)state;
        for (int i = 0; i < N_SUBS; i++)
                free(verdict_raw[i]);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
        return system(cmd) == 0 ? 0 : -1;
}

/* Runs gavel replay with args; returns its status, its stdout in *ret_out (malloc'ed). */
static int replay(char **ret_out, ...)
{
        const char *args[GPROC_ARGS_MAX] = {"replay", "--audit", db};
        size_t n = 3;
        const char *a;
        va_list ap;
        int status;

        va_start(ap, ret_out);
        while ((a = va_arg(ap, const char *)) && n < GPROC_ARGS_MAX - 1)
                args[n++] = a;
        va_end(ap);
        args[n] = NULL;
        status = gproc_run(tmp, "replay", args, 120000);
        *ret_out = gproc_slurp(gproc_path(tmp, "replay", "out"));
        if (status != 0 && status != 1) {
                char *e = gproc_slurp(gproc_path(tmp, "replay", "err"));

                fprintf(stderr, "replay exited %d:\n%s\n%s\n", status, *ret_out, e);
                free(e);
        }
        return status;
}

static void test_rejudge_of_an_unchanged_log_finds_no_difference(void **state)
{
        char *out;

        (void)state;
        assert_int_equal(replay(&out, "--problems", store, "--cache-dir", cache, "--rejudge", NULL),
                         0);
        assert_non_null(strstr(out, "rejudged 4 jobs: 4 equal, 0 differ"));
        assert_null(strstr(out, "DIFFERS"));
        free(out);
}

static void test_rejudge_after_an_answer_changed_names_exactly_the_affected(void **state)
{
        cleanup_free char *saved = NULL;
        char path[256], *out;
        size_t len;
        FILE *f;

        (void)state;
        /* test 3's answer (INT64_MAX) becomes 1: only the accepted solutions notice */
        snprintf(path, sizeof(path), "%s/aplusb/tests/3.ans", store);
        saved = slurp(path, &len);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs("1\n", f);
        fclose(f);
        assert_int_equal(replay(&out, "--problems", store, "--cache-dir", cache, "--rejudge", NULL),
                         1);
        f = fopen(path, "w");
        fwrite(saved, 1, len, f);
        fclose(f);

        assert_non_null(strstr(out, "rejudged 4 jobs: 2 equal, 2 differ"));
        for (int i = 0; i < N_SUBS; i++) {
                char *line = strstr(out, subs[i].id);

                assert_non_null(line);
                line = strndup(line, strcspn(line, "\n"));
                if (subs[i].code == SCHEMA_AC)
                        assert_non_null(strstr(line, "DIFFERS: verdict AC -> WA; score"));
                else
                        assert_non_null(strstr(line, "equal"));
                free(line);
        }
        free(out);

        /* a selection narrows it to one submission, and JSON says the same */
        assert_int_equal(replay(&out, "--problems", store, "--cache-dir", cache, "--id", "r-ac-c",
                                "--json", "--rejudge", NULL),
                         0);
        assert_non_null(strstr(out, "\"id\":\"r-ac-c\""));
        assert_non_null(strstr(out, "\"result\":\"equal\""));
        assert_null(strstr(out, "r-wa-c"));
        free(out);
}

/* A C program burning 1.3 s of cpu time, then printing the answer of the inline test "1 2". */
static const char slow_source[] = "#include <stdio.h>\n#include <time.h>\n"
                                  "int main(void) { while (clock() < CLOCKS_PER_SEC * 13 / 10); "
                                  "puts(\"3\"); return 0; }\n";

/*
 * Records, as a worker whose configuration raises limits.default to 3 s cpu and limits.max to
 * 100 s would: a slow job with no limits of its own (AC under 3 s, TLE under the engine's 1 s
 * default) and a job asking for 90 s (AC, REJECTED over the engine's 60 s maximum). A rejudge
 * with that configuration must see both as equal: it judges as the worker judged.
 */
static void test_rejudge_with_a_config_judges_under_its_limits(void **state)
{
        static const uint8_t in[] = "1 2\n", ans[] = "3\n";
        struct job_test test = {.in = (uint8_t *)in,
                                .in_len = sizeof(in) - 1,
                                .out = (uint8_t *)ans,
                                .out_len = sizeof(ans) - 1};
        cleanup_free char *ac_src = NULL;
        struct job jobs[2] = {
                {.v = SCHEMA_VERSION,
                 .attempt = 1,
                 .id = (char *)"r-slow",
                 .lang = (char *)"c",
                 .source = (uint8_t *)slow_source,
                 .source_len = sizeof(slow_source) - 1,
                 .tests = &test,
                 .n_tests = 1},
                {.v = SCHEMA_VERSION,
                 .attempt = 1,
                 .id = (char *)"r-max",
                 .lang = (char *)"c",
                 .problem = (char *)"aplusb",
                 .limits = {.time_ms = 90000}},
        };
        struct audit_conf ac = {.worker_id = "w-conf", .writer = true, .create = true};
        struct lang_table *langs = NULL;
        struct judge *judge = NULL;
        struct audit *audit = NULL;
        struct judge_conf conf;
        struct gv_err err = {0};
        char db2[160], config[160], path[512], *out;
        size_t len;
        FILE *f;

        (void)state;
        snprintf(path, sizeof(path), "%s/ops/examples/solutions/aplusb/ac.c", GAVEL_SOURCE_DIR);
        ac_src = slurp(path, &len);
        jobs[1].source = (uint8_t *)ac_src;
        jobs[1].source_len = len;
        snprintf(db2, sizeof(db2), "%s/audit-conf.db", tmp);
        ac.path = db2;
        assert_int_equal(lang_table_load(NULL, &langs, &err), 0);
        judge_conf_default(&conf);
        conf.langs = langs;
        conf.problem_store = store;
        conf.cache_dir = cache;
        conf.default_limits.time_ms = 3000;
        conf.max_limits.time_ms = 100000;
        if (judge_new(&conf, &judge, &err) < 0)
                fail_msg("judge_new: %s", err.msg);
        if (audit_open(&ac, &audit, &err) < 0)
                fail_msg("audit_open: %s", err.msg);
        for (int i = 0; i < 2; i++) {
                struct audit_origin origin = {.topic = QUEUE_TOPIC_JOBS,
                                              .offset = i,
                                              .key = jobs[i].id,
                                              .key_len = strlen(jobs[i].id)};
                struct verdict v = {0};
                struct audit_verdict av = {0};
                int64_t job_id, attempt_id, verdict_id;
                void *raw, *vraw;
                size_t raw_len, vlen;

                assert_int_equal(schema_job_encode(&jobs[i], &raw, &raw_len), 0);
                if (judge_run(judge, &jobs[i], NULL, NULL, &v, &err) < 0)
                        fail_msg("judge_run: %s", err.msg);
                if (v.verdict != SCHEMA_AC)
                        fail_msg("%s: %s (%s)", jobs[i].id, schema_code_name(v.verdict),
                                 v.reason ? v.reason : "");
                assert_int_equal(schema_verdict_encode(&v, &vraw, &vlen), 0);
                assert_int_equal(
                        audit_job_received(audit, raw, raw_len, &jobs[i], &origin, &job_id, &err),
                        0);
                assert_int_equal(audit_attempt_started(audit, job_id, 1, &attempt_id, &err), 0);
                assert_int_equal(audit_attempt_finished(audit, attempt_id, AUDIT_ATTEMPT_DONE, NULL,
                                                        &v, &err),
                                 0);
                av = (struct audit_verdict){
                        .attempt_id = attempt_id, .verdict = &v, .raw = vraw, .raw_len = vlen};
                assert_int_equal(audit_verdicts_pending(audit, &av, 1, &verdict_id, &err), 0);
                assert_int_equal(audit_verdicts_mark(audit, &verdict_id, 1, AUDIT_COMMITTED, &err),
                                 0);
                verdict_done(&v);
                free(vraw);
                free(raw);
        }
        audit_free(audit);
        judge_free(judge);
        lang_table_free(langs);

        snprintf(config, sizeof(config), "%s/worker.yaml", tmp);
        f = fopen(config, "w");
        assert_non_null(f);
        fprintf(f,
                "problems: %s\ncache_dir: %s\ncache_max_mib: 512\npool: 2\n"
                "limits:\n  max: {time_ms: 100000}\n  default: {time_ms: 3000}\n",
                store, cache);
        fclose(f);
        assert_int_equal(replay(&out, "--audit", db2, "--config", config, "--rejudge", NULL), 0);
        assert_non_null(strstr(out, "rejudged 2 jobs: 2 equal, 0 differ"));
        assert_null(strstr(out, "DIFFERS"));
        free(out);
}

/* Every message of topic on the broker (read_committed), up to want: waits for expect of them
 * and the end of every partition (what replay wrote is all there once it has exited). */
static size_t read_topic(const char *brokers, const char *topic, struct queue_msg *msgs,
                         void **values, size_t expect, size_t want)
{
        struct queue_conf qc = {.brokers = brokers};
        const char *topics[] = {topic};
        struct queue_reader *r = NULL;
        struct gv_err err = {0};
        size_t n = 0;
        int64_t deadline = gproc_now_ms() + 20000;

        if (queue_reader_new(&qc, topics, 1, QUEUE_START_BEGINNING, &r, &err) < 0)
                fail_msg("reader: %s", err.msg);
        while (n < want && gproc_now_ms() < deadline && !(n >= expect && queue_reader_at_end(r))) {
                struct queue_msg m;

                if (queue_reader_next(r, 200, &m, &err) == 1) {
                        msgs[n] = m;
                        values[n] = xmemdup(m.value, m.len);
                        msgs[n].value = values[n];
                        msgs[n].key = NULL;
                        n++;
                }
        }
        queue_reader_free(r);
        return n;
}

static void test_requeue_and_republish_round_trip_through_the_broker(void **state)
{
        struct queue_mock *mock = NULL;
        struct queue_msg msgs[N_SUBS + 1];
        void *values[N_SUBS + 1];
        struct gv_err err = {0};
        const char *brokers;
        char *out;
        size_t n;

        (void)state;
        assert_int_equal(queue_mock_new(1, NULL, NULL, &mock, &err), 0);
        assert_int_equal(queue_mock_topic_create(mock, QUEUE_TOPIC_JOBS, 2, &err), 0);
        assert_int_equal(queue_mock_topic_create(mock, QUEUE_TOPIC_VERDICTS, 2, &err), 0);
        brokers = queue_mock_bootstrap(mock);

        assert_int_equal(replay(&out, "--brokers", brokers, "--requeue", NULL), 0);
        assert_non_null(strstr(out, "requeued 4 of 4 jobs"));
        free(out);
        n = read_topic(brokers, QUEUE_TOPIC_JOBS, msgs, values, N_SUBS, N_SUBS + 1);
        assert_int_equal(n, N_SUBS);
        for (size_t i = 0; i < n; i++) {
                struct job job;

                assert_int_equal(schema_job_decode(values[i], msgs[i].len, NULL, &job, NULL), 0);
                assert_int_equal(job.attempt, 2);
                assert_true(job.rejudge);
                assert_non_null(job.source);
                job_done(&job);
                free(values[i]);
        }

        assert_int_equal(replay(&out, "--brokers", brokers, "--verdict", "AC", "--republish", NULL),
                         0);
        assert_non_null(strstr(out, "republished 2 of 2 jobs"));
        free(out);
        n = read_topic(brokers, QUEUE_TOPIC_VERDICTS, msgs, values, 2, N_SUBS + 1);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++) {
                bool found = false;

                for (int k = 0; k < N_SUBS; k++)
                        found |= subs[k].code == SCHEMA_AC && msgs[i].len == verdict_len[k] &&
                                 memcmp(values[i], verdict_raw[k], verdict_len[k]) == 0;
                assert_true(found);                     /* byte for byte what was published first */
                assert_int_equal(msgs[i].partition, 0); /* where the job's partition put it */
                free(values[i]);
        }
        queue_mock_free(mock);
}

static void test_usage_errors_are_clear(void **state)
{
        char *out, *e;

        (void)state;
        assert_int_equal(replay(&out, "--rejudge", "--requeue", NULL), 2);
        free(out);
        e = gproc_slurp(gproc_path(tmp, "replay", "err"));
        assert_non_null(strstr(e, "choose one of"));
        free(e);
        assert_int_equal(replay(&out, "--verdict", "XX", "--rejudge", NULL), 2);
        free(out);
        assert_int_equal(replay(&out, "--requeue", NULL), 2); /* no brokers */
        free(out);
        e = gproc_slurp(gproc_path(tmp, "replay", "err"));
        assert_non_null(strstr(e, "--brokers"));
        free(e);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rejudge_of_an_unchanged_log_finds_no_difference),
                cmocka_unit_test(test_rejudge_after_an_answer_changed_names_exactly_the_affected),
                cmocka_unit_test(test_rejudge_with_a_config_judges_under_its_limits),
                cmocka_unit_test(test_requeue_and_republish_round_trip_through_the_broker),
                cmocka_unit_test(test_usage_errors_are_clear),
        };

        if (geteuid() != 0) {
                fprintf(stderr, "skipped: containers need root\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, setup, teardown);
}
