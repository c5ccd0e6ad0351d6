/* SPDX-License-Identifier: MIT */
/*
 * gavel worker end to end: a broker process, a worker process judging in real
 * containers, and jobs enqueued as a platform would (gavel submit, or raw
 * bytes). Example solutions get the verdicts their names promise; bytes that do
 * not decode and jobs the worker cannot judge get a REJECTED verdict and a dead
 * letter, and do not stop their partition; SIGTERM stops the worker cleanly; a
 * broken configuration is refused with the key named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include "../queue/queue_test.h"
#include "gproc.h"
#include "schema/schema.h"

#define EXAMPLES GAVEL_SOURCE_DIR "/ops/examples"

struct fixture {
        char dir[64];
        char config[128];
        struct gproc broker, worker;
        char *brokers;
};

static struct fixture fx;

static int group_setup(void **state)
{
        char text[1024];

        (void)state;
        gproc_tmpdir(fx.dir, sizeof(fx.dir));
        fx.brokers = gproc_broker(&fx.broker, fx.dir, (const char *[]){"--partitions", "2", NULL});
        snprintf(fx.config, sizeof(fx.config), "%s/worker.yaml", fx.dir);
        snprintf(text, sizeof(text),
                 "brokers: \"%s\"\n"
                 "slots: 2\n"
                 "session_timeout_ms: 6000\n"
                 "shutdown_grace_s: 20\n"
                 "status_interval_ms: 500\n"
                 "problems: %s/problems\n"
                 "cache_dir: %s/cache\n"
                 "audit: %s/audit.db\n"
                 "kafka:\n"
                 "  heartbeat.interval.ms: 1000\n",
                 fx.brokers, EXAMPLES, fx.dir, fx.dir);
        gproc_write(NULL, fx.config, text);
        gproc_start(&fx.worker, fx.dir, "worker",
                    (const char *[]){"worker", "--config", fx.config, "--id", "test-w", NULL});
        return 0;
}

static int group_teardown(void **state)
{
        (void)state;
        gproc_signal(&fx.worker, SIGKILL);
        gproc_wait(&fx.worker, 10000);
        gproc_signal(&fx.broker, SIGTERM);
        gproc_wait(&fx.broker, 10000);
        gproc_kill_all(); /* what a failed test left running */
        free(fx.brokers);
        gproc_rmdir(fx.dir);
        return 0;
}

/* Runs gavel submit --wait --json for sources of lang; returns its stdout
 * (malloc'ed). */
static char *submit_wait(const char *name, const char *lang, const char *const *sources)
{
        const char *args[32] = {"submit", "--brokers", fx.brokers, "--lang",    lang, "--problem",
                                "aplusb", "--wait",    "--json",   "--timeout", "240"};
        size_t n = 11;
        int status;

        for (; *sources; sources++)
                args[n++] = *sources;
        args[n] = NULL;
        status = gproc_run(fx.dir, name, args, 300000);
        if (status != 0 && status != 1) {
                char *err = gproc_slurp(GPROC_ERR(fx.dir, name)),
                     *werr = gproc_slurp(fx.worker.err);

                fprintf(stderr, "submit: %d\n%s\nworker:\n%s\n", status, err, werr);
                free(err);
                free(werr);
                fail();
        }
        return gproc_slurp(GPROC_OUT(fx.dir, name));
}

/* The verdict code of submission id in submit's JSON lines, or NULL. */
static const char *code_of(const char *json_lines, const char *id_prefix, char *buf, size_t size)
{
        char needle[128];
        const char *line = json_lines, *v;

        snprintf(needle, sizeof(needle), "\"id\":\"%s-", id_prefix);
        while (line && *line) {
                const char *end = strchr(line, '\n');

                if (strstr(line, needle) && (!end || strstr(line, needle) < end) &&
                    (v = strstr(line, "\"verdict\":\"")) && (!end || v < end)) {
                        v += strlen("\"verdict\":\"");
                        snprintf(buf, size, "%.*s", (int)strcspn(v, "\""), v);
                        return buf;
                }
                line = end ? end + 1 : NULL;
        }
        return NULL;
}

static void expect(const char *out, const char *id_prefix, const char *code)
{
        char buf[16];
        const char *got = code_of(out, id_prefix, buf, sizeof(buf));

        if (!got || strcmp(got, code))
                fail_msg("%s: expected %s, got %s\n%s", id_prefix, code, got ? got : "nothing",
                         out);
}

/* Stage events reached gavel.progress: received, compiling, running test k of n, done. */
static void check_progress(void)
{
        struct queue_conf conf = {.brokers = fx.brokers, .log = qt_log};
        const char *topic = QUEUE_TOPIC_PROGRESS;
        struct queue_reader *rd = NULL;
        struct gv_err err = {0};
        int stages[_SCHEMA_STAGE_MAX] = {0};
        bool last_test = false;

        assert_ok(queue_reader_new(&conf, &topic, 1, QUEUE_START_BEGINNING, &rd, &err), &err);
        /* progress is sent apart from the verdicts, at least once: it may still be on its way
         * when the verdicts are in, so read until every job's "done" came, not to the end */
        for (int64_t t = qt_now_ms() + 20000;
             !(stages[SCHEMA_STAGE_DONE] >= 6 && queue_reader_at_end(rd)) && qt_now_ms() < t;) {
                struct queue_msg msg;
                struct progress p;

                if (queue_reader_next(rd, 100, &msg, &err) != 1)
                        continue;
                assert_ok(schema_progress_decode(msg.value, msg.len, NULL, &p, &err), &err);
                assert_string_equal(p.worker, "test-w");
                assert_true(p.stage >= 0 && p.stage < _SCHEMA_STAGE_MAX);
                stages[p.stage]++;
                last_test |= p.stage == SCHEMA_STAGE_RUNNING && p.test == 8 && p.of == 8;
                progress_done(&p);
        }
        queue_reader_free(rd);
        assert_int_equal(stages[SCHEMA_STAGE_RECEIVED], 6);
        assert_int_equal(stages[SCHEMA_STAGE_DONE], 6);
        assert_true(stages[SCHEMA_STAGE_COMPILING] >= 4); /* the C ones, and py_compile */
        assert_true(last_test);                           /* aplusb has 8 tests */
}

static void test_examples_get_their_verdicts(void **state)
{
        char *out;

        (void)state;
        out = submit_wait("submit-c", "c",
                          (const char *[]){EXAMPLES "/solutions/aplusb/ac.c",
                                           EXAMPLES "/solutions/aplusb/wa.c",
                                           EXAMPLES "/solutions/aplusb/re.c",
                                           EXAMPLES "/solutions/aplusb/ce.c", NULL});
        expect(out, "ac", "AC");
        expect(out, "wa", "WA");
        expect(out, "re", "RE");
        expect(out, "ce", "CE");
        assert_non_null(strstr(out, "\"worker\":\"test-w\""));
        free(out);
        out = submit_wait("submit-py", "python3",
                          (const char *[]){EXAMPLES "/solutions/aplusb/ac.py",
                                           EXAMPLES "/solutions/aplusb/wa.py", NULL});
        expect(out, "ac", "AC");
        expect(out, "wa", "WA");
        free(out);
        check_progress();
}

/* Produces value under key on the jobs topic, raw. */
static void produce_raw(struct queue_producer *prod, const char *key, const void *value, size_t len)
{
        struct gv_err err = {0};

        assert_ok(queue_producer_send(prod, QUEUE_TOPIC_JOBS, 0, key, strlen(key), value, len, NULL,
                                      0, &err),
                  &err);
}

static void produce_job(struct queue_producer *prod, const char *id, const char *lang,
                        const char *problem)
{
        static const char source[] = "#include <stdio.h>\nint main(void){long long a,b;"
                                     "scanf(\"%lld %lld\",&a,&b);printf(\"%lld\\n\",a+b);}\n";
        struct job job = {
                .v = SCHEMA_VERSION,
                .id = (char *)id,
                .lang = (char *)lang,
                .source = (uint8_t *)source,
                .source_len = sizeof(source) - 1,
                .problem = (char *)problem,
                .attempt = 1,
        };
        void *buf;
        size_t len;

        assert_int_equal(schema_job_encode(&job, &buf, &len), 0);
        produce_raw(prod, id, buf, len);
        free(buf);
}

static void test_bad_jobs_are_rejected_and_dead_lettered(void **state)
{
        struct queue_conf conf = {.brokers = fx.brokers, .log = qt_log};
        const char *topics[] = {QUEUE_TOPIC_VERDICTS, QUEUE_TOPIC_DLQ};
        struct queue_producer *prod = NULL;
        struct queue_reader *rd = NULL;
        struct gv_err err = {0};
        const char garbage[] = "\xc1 not msgpack";
        bool dlq_garbage = false, seen_garbage = false, seen_lang = false, seen_problem = false,
             seen_good = false;
        int dlq = 0;

        (void)state;
        assert_ok(queue_reader_new(&conf, topics, 2, QUEUE_START_END, &rd, &err), &err);
        assert_ok(queue_producer_new(&conf, &prod, &err), &err);
        /* all on partition 0, before a good job: none of them may hold it up */
        produce_raw(prod, "garbage-1", garbage, sizeof(garbage) - 1);
        produce_job(prod, "bad-lang", "cobol", "aplusb");
        produce_job(prod, "bad-problem", "c", "no-such-problem");
        produce_job(prod, "good-after", "c", "aplusb");
        assert_ok(queue_producer_flush(prod, 10000, &err), &err);
        queue_producer_free(prod);

        for (int64_t deadline = qt_now_ms() + 120000;
             !(seen_garbage && seen_lang && seen_problem && seen_good && dlq == 3) &&
             qt_now_ms() < deadline;) {
                struct queue_msg msg;
                struct verdict v;
                const void *reason;
                size_t reason_len;

                if (queue_reader_next(rd, 200, &msg, &err) != 1)
                        continue;
                if (!strcmp(msg.topic, QUEUE_TOPIC_DLQ)) {
                        assert_int_equal(
                                queue_msg_header(&msg, QUEUE_HDR_REASON, &reason, &reason_len), 0);
                        assert_true(reason_len > 0);
                        /* the message's own bytes, whatever they were */
                        if (msg.key_len == strlen("garbage-1") &&
                            !memcmp(msg.key, "garbage-1", msg.key_len)) {
                                assert_int_equal(msg.len, sizeof(garbage) - 1);
                                assert_memory_equal(msg.value, garbage, msg.len);
                                dlq_garbage = true;
                        }
                        dlq++;
                        continue;
                }
                assert_ok(schema_verdict_decode(msg.value, msg.len, NULL, &v, &err), &err);
                if (!strcmp(v.id, "garbage-1")) {
                        seen_garbage = true;
                        assert_int_equal(v.verdict, SCHEMA_REJECTED);
                        assert_non_null(v.reason);
                } else if (!strcmp(v.id, "bad-lang")) {
                        seen_lang = true;
                        assert_int_equal(v.verdict, SCHEMA_REJECTED);
                        assert_non_null(strstr(v.reason, "cobol"));
                } else if (!strcmp(v.id, "bad-problem")) {
                        seen_problem = true;
                        assert_int_equal(v.verdict, SCHEMA_REJECTED);
                        assert_non_null(strstr(v.reason, "no-such-problem"));
                } else if (!strcmp(v.id, "good-after")) {
                        seen_good = true;
                        assert_int_equal(v.verdict, SCHEMA_AC);
                }
                verdict_done(&v);
        }
        queue_reader_free(rd);
        assert_true(seen_garbage);
        assert_true(seen_lang);
        assert_true(seen_problem);
        assert_true(seen_good);
        assert_int_equal(dlq, 3);
        assert_true(dlq_garbage);
}

/* A config of a second, separate fleet on topics g2.* (so fx.worker never sees
 * its jobs). */
static void g2_config(const char *path)
{
        char text[1024];

        snprintf(text, sizeof(text),
                 "brokers: \"%s\"\n"
                 "slots: 1\n"
                 "session_timeout_ms: 6000\n"
                 "shutdown_grace_ms: 300\n"
                 "cache_dir: %s/cache\n"
                 "topics: {jobs: g2.jobs, verdicts: g2.verdicts, progress: g2.progress, "
                 "dlq: g2.dlq}\n",
                 fx.brokers, fx.dir);
        gproc_write(NULL, path, text);
}

static bool log_has(const struct gproc *p, const char *text)
{
        char *log = gproc_slurp(p->err);
        bool has = strstr(log, text) != NULL;

        free(log);
        return has;
}

static void test_sigterm_abandons_a_long_job_after_the_grace(void **state)
{
        static const char topics[] = "topic g2.jobs 2\ntopic g2.verdicts 2\ntopic g2.progress 2\n"
                                     "topic g2.dlq 1\n";
        static const char slow[] = "import time\ntime.sleep(1.5)\nprint(3)\n";
        struct queue_conf conf = {.brokers = fx.brokers, .log = qt_log};
        const char *vtopic = "g2.verdicts", *ptopic = "g2.progress";
        struct job_test t1 = {
                .in = (uint8_t *)"1 2\n", .in_len = 4, .out = (uint8_t *)"3\n", .out_len = 2};
        struct job_test tests[4] = {t1, t1, t1, t1}; /* 1.5 s each: cancels land between */
        struct job job = {.v = SCHEMA_VERSION,
                          .id = "slow-1",
                          .lang = "python3",
                          .source = (uint8_t *)slow,
                          .source_len = sizeof(slow) - 1,
                          .tests = tests,
                          .n_tests = 4,
                          .attempt = 1,
                          .limits = {.time_ms = 1000, .wall_ms = 8000}};
        struct queue_producer *prod = NULL;
        struct queue_reader *rd = NULL;
        struct gv_err err = {0};
        struct gproc a, b;
        char config[128];
        bool running = false;
        int verdicts = 0;
        void *buf;
        size_t len;
        int64_t t;

        (void)state;
        assert_int_equal(write(fx.broker.in, topics, strlen(topics)), (ssize_t)strlen(topics));
        snprintf(config, sizeof(config), "%s/g2.yaml", fx.dir);
        g2_config(config);
        gproc_start(&a, fx.dir, "g2-a",
                    (const char *[]){"worker", "--config", config, "--id", "g2-a", NULL});
        for (t = qt_now_ms() + 30000; !log_has(&a, "assigned") && qt_now_ms() < t;)
                usleep(50000);
        assert_true(log_has(&a, "assigned"));

        assert_ok(queue_reader_new(&conf, &ptopic, 1, QUEUE_START_BEGINNING, &rd, &err), &err);
        assert_ok(queue_producer_new(&conf, &prod, &err), &err);
        assert_int_equal(schema_job_encode(&job, &buf, &len), 0);
        assert_ok(queue_producer_send(prod, "g2.jobs", -1, "slow-1", 6, buf, len, NULL, 0, &err),
                  &err);
        assert_ok(queue_producer_flush(prod, 10000, &err), &err);
        queue_producer_free(prod);
        free(buf);
        for (t = qt_now_ms() + 30000; !running && qt_now_ms() < t;) {
                struct queue_msg msg;
                struct progress p;

                if (queue_reader_next(rd, 100, &msg, &err) != 1)
                        continue;
                assert_ok(schema_progress_decode(msg.value, msg.len, NULL, &p, &err), &err);
                running = p.stage == SCHEMA_STAGE_RUNNING && !strcmp(p.id, "slow-1");
                progress_done(&p);
        }
        queue_reader_free(rd);
        assert_true(running);

        /* mid-job: the grace (300 ms) is far shorter than the job (6 s) */
        t = qt_now_ms();
        gproc_signal(&a, SIGTERM);
        assert_int_equal(gproc_wait(&a, 20000), 0);
        assert_true(qt_now_ms() - t < 3500);
        assert_true(log_has(&a, "abandoning"));

        /* the next worker judges it, and it is answered once */
        gproc_start(&b, fx.dir, "g2-b",
                    (const char *[]){"worker", "--config", config, "--id", "g2-b", NULL});
        assert_ok(queue_reader_new(&conf, &vtopic, 1, QUEUE_START_BEGINNING, &rd, &err), &err);
        for (t = qt_now_ms() + 60000; qt_now_ms() < t;) {
                struct queue_msg msg;
                struct verdict v;

                if (queue_reader_next(rd, 100, &msg, &err) != 1)
                        continue;
                assert_ok(schema_verdict_decode(msg.value, msg.len, NULL, &v, &err), &err);
                assert_string_equal(v.id, "slow-1");
                assert_int_equal(v.verdict, SCHEMA_AC);
                assert_string_equal(v.worker, "g2-b");
                verdict_done(&v);
                if (verdicts++ == 0)
                        t = qt_now_ms() + 2000; /* a while longer: no second verdict */
        }
        queue_reader_free(rd);
        assert_int_equal(verdicts, 1);
        gproc_signal(&b, SIGTERM);
        assert_int_equal(gproc_wait(&b, 20000), 0);
}

/* Committed verdicts of code in the JSON of gavel audit stats. */
static json_int_t committed(json_t *stats, const char *code)
{
        return json_integer_value(json_object_get(
                json_object_get(json_object_get(stats, "verdicts"), code), "committed"));
}

static void test_sigterm_stops_the_worker_cleanly(void **state)
{
        char audit[128], *err, *out;
        json_t *stats;

        (void)state;
        gproc_signal(&fx.worker, SIGTERM);
        assert_int_equal(gproc_wait(&fx.worker, 60000), 0);
        err = gproc_slurp(fx.worker.err);
        assert_non_null(strstr(err, "msg=\"stopping\""));
        assert_non_null(strstr(err, "msg=\"stopped\""));
        assert_null(strstr(err, "level=error"));
        /* the periodic status line, with the jobs of the tests before */
        {
                const char *last = NULL, *p = err;
                unsigned long long published = 0;

                while ((p = strstr(p, "msg=\"status\" received=")))
                        last = p++;
                assert_non_null(last);
                assert_non_null(strstr(last, "busy_slots="));
                assert_non_null(strstr(last, "taking_jobs=yes"));
                assert_int_equal(sscanf(strstr(last, "published="), "published=%llu", &published),
                                 1);
                assert_true(published >= 10);
        }
        free(err);

        /* the audit log holds every job and every verdict, all committed */
        snprintf(audit, sizeof(audit), "%s/audit.db", fx.dir);
        assert_int_equal(
                gproc_run(fx.dir, "audit",
                          (const char *[]){"audit", "stats", "--audit", audit, "--json", NULL},
                          20000),
                0);
        out = gproc_slurp(GPROC_OUT(fx.dir, "audit"));
        stats = json_loads(out, 0, NULL);
        assert_non_null(stats);
        assert_int_equal(json_integer_value(json_object_get(stats, "jobs")), 10);
        assert_int_equal(committed(stats, "AC"), 3);
        assert_int_equal(committed(stats, "WA"), 2);
        assert_int_equal(committed(stats, "RE"), 1);
        assert_int_equal(committed(stats, "CE"), 1);
        assert_int_equal(committed(stats, "REJECTED"), 3);
        assert_int_equal(
                json_integer_value(json_object_get(json_object_get(stats, "attempts"), "done")),
                10);
        json_decref(stats);
        free(out);
}

static void test_broken_configuration_names_the_key(void **state)
{
        char path[128], *err;

        (void)state;
        snprintf(path, sizeof(path), "%s/bad.yaml", fx.dir);
        gproc_write(NULL, path, "brokers: x\nbatch:\n  max: 0\n");
        assert_int_equal(
                gproc_run(fx.dir, "bad1", (const char *[]){"worker", "-c", path, NULL}, 20000), 2);
        err = gproc_slurp(GPROC_ERR(fx.dir, "bad1"));
        assert_non_null(strstr(err, "bad.yaml:3: batch.max"));
        free(err);
        gproc_write(NULL, path, "brokers: x\nkafka:\n  no.such.property: 1\n");
        assert_int_equal(
                gproc_run(fx.dir, "bad2", (const char *[]){"worker", "-c", path, NULL}, 20000), 2);
        err = gproc_slurp(GPROC_ERR(fx.dir, "bad2"));
        assert_non_null(strstr(err, "kafka.no.such.property"));
        free(err);
        gproc_write(NULL, path, "group: g\n");
        assert_int_equal(
                gproc_run(fx.dir, "bad3", (const char *[]){"worker", "-c", path, NULL}, 20000), 2);
        err = gproc_slurp(GPROC_ERR(fx.dir, "bad3"));
        assert_non_null(strstr(err, "brokers: missing"));
        free(err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_examples_get_their_verdicts),
                cmocka_unit_test(test_bad_jobs_are_rejected_and_dead_lettered),
                cmocka_unit_test(test_sigterm_abandons_a_long_job_after_the_grace),
                cmocka_unit_test(test_sigterm_stops_the_worker_cleanly),
                cmocka_unit_test(test_broken_configuration_names_the_key),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
