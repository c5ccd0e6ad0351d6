/* SPDX-License-Identifier: MIT */
/*
 * gavel broker, gavel submit and gavel results as an operator runs them: the real program against
 * its own embedded broker process. The test plays the worker's part (it reads the jobs and
 * publishes verdicts with queue/), so these commands are proven without any judging.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../queue/queue_test.h"
#include "gproc.h"
#include "schema/schema.h"

struct fixture {
        char dir[64];
        struct gproc broker;
        char *brokers;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        gproc_tmpdir(f->dir, sizeof(f->dir));
        f->brokers = gproc_broker(&f->broker, f->dir, NULL);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        gproc_signal(&f->broker, SIGTERM);
        assert_int_equal(gproc_wait(&f->broker, 10000), 0);
        free(f->brokers);
        gproc_rmdir(f->dir);
        free(f);
        return 0;
}

static struct queue_conf conf_of(const char *brokers)
{
        return (struct queue_conf){.brokers = brokers, .log = qt_log};
}

/* Reads the first message of topic (waiting up to 20 s); returns its value (malloc'ed). */
static char *first_message(const char *brokers, const char *topic, size_t *ret_len)
{
        struct queue_conf conf = conf_of(brokers);
        struct queue_reader *rd = NULL;
        struct gv_err err = {0};
        struct queue_msg msg;
        char *value = NULL;

        assert_ok(queue_reader_new(&conf, &topic, 1, QUEUE_START_BEGINNING, &rd, &err), &err);
        for (int64_t deadline = qt_now_ms() + 20000; !value && qt_now_ms() < deadline;)
                if (queue_reader_next(rd, 100, &msg, &err) == 1) {
                        value = malloc(msg.len + 1);
                        assert_non_null(value);
                        memcpy(value, msg.value, msg.len);
                        value[msg.len] = '\0';
                        *ret_len = msg.len;
                }
        queue_reader_free(rd);
        assert_non_null(value);
        return value;
}

/* How many messages topic holds, read for wait_ms. */
static size_t messages_in(const char *brokers, const char *topic, int64_t wait_ms)
{
        struct queue_conf conf = conf_of(brokers);
        struct queue_reader *rd = NULL;
        struct gv_err err = {0};
        struct queue_msg msg;
        size_t n = 0;

        assert_ok(queue_reader_new(&conf, &topic, 1, QUEUE_START_BEGINNING, &rd, &err), &err);
        for (int64_t deadline = qt_now_ms() + wait_ms; qt_now_ms() < deadline;)
                n += queue_reader_next(rd, 100, &msg, &err) == 1;
        queue_reader_free(rd);
        return n;
}

/* Publishes a verdict (and a progress event) for id on these topics, as a worker would. */
static void publish_verdict_on(const char *brokers, const char *verdicts, const char *progress,
                               const char *id, enum schema_code code)
{
        struct queue_conf conf = conf_of(brokers);
        struct queue_producer *prod = NULL;
        struct verdict_test tests[2] = {{.verdict = SCHEMA_AC, .time_ms = 3},
                                        {.verdict = code, .time_ms = 5}};
        struct verdict v = {
                .v = SCHEMA_VERSION,
                .id = (char *)id,
                .verdict = code,
                .tests = tests,
                .n_tests = 2,
                .time_ms = 5,
                .memory_kib = 1024,
                .worker = "test",
        };
        struct progress p = {
                .v = SCHEMA_VERSION,
                .id = (char *)id,
                .stage = SCHEMA_STAGE_RUNNING,
                .test = 2,
                .of = 2,
        };
        struct gv_err err = {0};
        void *buf;
        size_t len;

        assert_ok(queue_producer_new(&conf, &prod, &err), &err);
        assert_int_equal(schema_progress_encode(&p, &buf, &len), 0);
        assert_ok(queue_producer_send(prod, progress, -1, id, strlen(id), buf, len, NULL, 0, &err),
                  &err);
        free(buf);
        assert_int_equal(schema_verdict_encode(&v, &buf, &len), 0);
        assert_ok(queue_producer_send(prod, verdicts, -1, id, strlen(id), buf, len, NULL, 0, &err),
                  &err);
        free(buf);
        assert_ok(queue_producer_flush(prod, 10000, &err), &err);
        queue_producer_free(prod);
}

static void test_broker_takes_fault_commands_and_stops_on_sigterm(void **state)
{
        char dir[64], boot[128], *addr, *text, *file;
        const char *args[] = {"--partitions", "3", "--nodes", "2", "--bootstrap-file", boot, NULL};
        const char *topics[] = {QUEUE_TOPIC_JOBS, QUEUE_TOPIC_VERDICTS, QUEUE_TOPIC_PROGRESS,
                                QUEUE_TOPIC_DLQ};
        struct queue_reader *rd = NULL;
        struct gv_err err = {0};
        struct queue_conf conf;
        struct gproc p;
        const char *cmds = "rtt all 1\nfail Produce NOPE\n# a comment\ndown 2\nup 2\n";

        (void)state;
        gproc_tmpdir(dir, sizeof(dir));
        snprintf(boot, sizeof(boot), "%s/bootstrap", dir);
        addr = gproc_broker(&p, dir, args);
        assert_non_null(strchr(addr, ','));
        file = gproc_slurp(boot);
        assert_int_equal(strncmp(file, addr, strlen(addr)), 0);
        assert_string_equal(file + strlen(addr), "\n");
        free(file);

        conf = conf_of(addr);
        assert_ok(queue_reader_new(&conf, topics, 4, QUEUE_START_END, &rd, &err), &err);
        queue_reader_free(rd);

        assert_int_equal(write(p.in, cmds, strlen(cmds)), (ssize_t)strlen(cmds));
        text = gproc_wait_lines(&p, 5, 10000);
        assert_non_null(text);
        assert_non_null(strstr(text, "\nok\nerror: unknown error 'NOPE'"));
        assert_non_null(strstr(text, "'NOPE'"));
        assert_non_null(strstr(text, "\nok\nok\n"));
        free(text);

        gproc_signal(&p, SIGTERM);
        assert_int_equal(gproc_wait(&p, 10000), 0);
        assert_int_equal(access(boot, F_OK), -1); /* removed: the address is dead */
        free(addr);
        gproc_rmdir(dir);
}

static void test_broker_refuses_bad_options(void **state)
{
        char dir[64], *err;

        (void)state;
        gproc_tmpdir(dir, sizeof(dir));
        assert_int_equal(
                gproc_run(dir, "b1", (const char *[]){"broker", "--partitions", "0", NULL}, 10000),
                2);
        err = gproc_slurp(GPROC_ERR(dir, "b1"));
        assert_non_null(strstr(err, "--partitions"));
        free(err);
        assert_int_equal(
                gproc_run(dir, "b2", (const char *[]){"broker", "--nodes", "17", NULL}, 10000), 2);
        assert_int_equal(gproc_run(dir, "b3", (const char *[]){"broker", "extra", NULL}, 10000), 2);
        gproc_rmdir(dir);
}

static void publish_verdict(const char *brokers, const char *id, enum schema_code code)
{
        publish_verdict_on(brokers, QUEUE_TOPIC_VERDICTS, QUEUE_TOPIC_PROGRESS, id, code);
}

static void test_submit_enqueues_jobs_and_results_reads_verdicts(void **state)
{
        struct fixture *f = *state;
        char tests[128], src[128], *out, *id, *value, *nl;
        struct job job;
        struct gv_err err = {0};
        size_t len;

        snprintf(tests, sizeof(tests), "%s/tests", f->dir);
        assert_int_equal(mkdir(tests, 0755), 0);
        gproc_write(tests, "1.in", "1 2\n");
        gproc_write(tests, "1.ans", "3\n");
        gproc_write(tests, "10.in", "5 5\n");
        gproc_write(tests, "10.out", "10\n");
        gproc_write(tests, "2.in", "0 0\n");
        gproc_write(tests, "2.ans", "0\n");
        gproc_write(f->dir, "sum.py", "print(sum(map(int, input().split())))\n");
        snprintf(src, sizeof(src), "%s/sum.py", f->dir);

        assert_int_equal(
                gproc_run(f->dir, "submit",
                          (const char *[]){"submit", "--brokers", f->brokers, "--lang", "python3",
                                           "--tests", tests, "--time-ms", "700", src, NULL},
                          30000),
                0);
        out = gproc_slurp(GPROC_OUT(f->dir, "submit"));
        assert_int_equal(strncmp(out, "sum-", 4), 0);
        nl = strchr(out, '\n');
        assert_non_null(nl);
        *nl = '\0';
        id = out;

        value = first_message(f->brokers, QUEUE_TOPIC_JOBS, &len);
        assert_ok(schema_job_decode(value, len, NULL, &job, &err), &err);
        assert_string_equal(job.id, id);
        assert_string_equal(job.lang, "python3");
        assert_null(job.problem);
        assert_int_equal(job.n_tests, 3);
        assert_string_equal((char *)job.tests[1].in, "0 0\n"); /* 1, 2, 10: numeric order */
        assert_string_equal((char *)job.tests[2].out, "10\n");
        assert_int_equal(job.limits.time_ms, 700);
        assert_string_equal((char *)job.source, "print(sum(map(int, input().split())))\n");
        job_done(&job);
        free(value);

        publish_verdict(f->brokers, id, SCHEMA_WA);
        assert_int_equal(
                gproc_run(f->dir, "results",
                          (const char *[]){"results", "--brokers", f->brokers, "--json", NULL},
                          30000),
                0);
        value = gproc_slurp(GPROC_OUT(f->dir, "results"));
        assert_non_null(strstr(value, "\"verdict\":\"WA\""));
        assert_non_null(strstr(value, id));
        assert_non_null(strstr(value, "\"partition\":"));
        free(value);
        assert_int_equal(
                gproc_run(f->dir, "table",
                          (const char *[]){"results", "--brokers", f->brokers, "--id", id, NULL},
                          30000),
                0);
        /* --follow with ids stops once each has its verdict */
        assert_int_equal(gproc_run(f->dir, "follow",
                                   (const char *[]){"results", "--brokers", f->brokers, "--follow",
                                                    "--id", id, NULL},
                                   30000),
                         0);
        value = gproc_slurp(GPROC_OUT(f->dir, "table"));
        assert_non_null(strstr(value, "VERDICT"));
        assert_non_null(strstr(value, "WA on test 2"));
        assert_non_null(strstr(value, "1/2 passed"));
        free(value);
        free(out);
}

static void test_submit_wait_prints_the_verdict_when_it_comes(void **state)
{
        struct fixture *f = *state;
        char src[128], *value, *out;
        struct gproc p;
        struct job job;
        struct gv_err err = {0};
        size_t len;

        gproc_write(f->dir, "a.c", "int main(void) { return 0; }\n");
        snprintf(src, sizeof(src), "%s/a.c", f->dir);
        gproc_start(&p, f->dir, "wait",
                    (const char *[]){"submit", "--brokers", f->brokers, "--lang", "c", "--problem",
                                     "aplusb", "--id", "w-1", "--wait", "--json", src, NULL});
        value = first_message(f->brokers, QUEUE_TOPIC_JOBS, &len);
        assert_ok(schema_job_decode(value, len, NULL, &job, &err), &err);
        assert_string_equal(job.id, "w-1");
        assert_string_equal(job.problem, "aplusb");
        job_done(&job);
        free(value);
        publish_verdict(f->brokers, "other", SCHEMA_AC); /* not ours: ignored */
        publish_verdict(f->brokers, "w-1", SCHEMA_TLE);
        assert_int_equal(gproc_wait(&p, 30000), 1); /* a verdict that is not AC */
        out = gproc_slurp(p.out);
        assert_non_null(strstr(out, "\"id\":\"w-1\""));
        assert_non_null(strstr(out, "\"verdict\":\"TLE\""));
        assert_null(strstr(out, "other"));
        free(out);
}

/* A platform whose workers are configured with other topics (config: topics.*). */
static void test_submit_on_other_topics(void **state)
{
        struct fixture *f = *state;
        char src[128], *value, *out;
        struct gproc p;
        struct job job;
        struct gv_err err = {0};
        size_t len;

        gproc_write(f->dir, "a.c", "int main(void) { return 0; }\n");
        snprintf(src, sizeof(src), "%s/a.c", f->dir);
        gproc_start(&p, f->dir, "topics",
                    (const char *[]){"submit", "--brokers", f->brokers, "--lang", "c", "--problem",
                                     "aplusb", "--id", "t-1", "--jobs-topic", "c7.jobs",
                                     "--verdicts-topic", "c7.verdicts", "--progress-topic",
                                     "c7.progress", "--wait", "--json", src, NULL});
        value = first_message(f->brokers, "c7.jobs", &len);
        assert_ok(schema_job_decode(value, len, NULL, &job, &err), &err);
        assert_string_equal(job.id, "t-1");
        job_done(&job);
        free(value);
        /* the default topics are not the ones followed */
        publish_verdict(f->brokers, "t-1", SCHEMA_WA);
        publish_verdict_on(f->brokers, "c7.verdicts", "c7.progress", "t-1", SCHEMA_AC);
        assert_int_equal(gproc_wait(&p, 30000), 0);
        out = gproc_slurp(p.out);
        assert_non_null(strstr(out, "\"verdict\":\"AC\""));
        assert_null(strstr(out, "\"WA\""));
        free(out);
        assert_int_equal(gproc_run(f->dir, "same",
                                   (const char *[]){"submit", "--brokers", f->brokers, "--lang",
                                                    "c", "--problem", "p", "--verdicts-topic", "x",
                                                    "--progress-topic", "x", src, NULL},
                                   10000),
                         2);
        out = gproc_slurp(GPROC_ERR(f->dir, "same"));
        assert_non_null(strstr(out, "verdicts and progress apart"));
        free(out);
}

static void test_submit_and_results_refuse_bad_input(void **state)
{
        struct fixture *f = *state;
        char *err;

        assert_int_equal(gproc_run(f->dir, "e1",
                                   (const char *[]){"submit", "--brokers", f->brokers, "--problem",
                                                    "p", "x.c", NULL},
                                   10000),
                         2);
        err = gproc_slurp(GPROC_ERR(f->dir, "e1"));
        assert_non_null(strstr(err, "--lang: missing"));
        free(err);
        assert_int_equal(
                gproc_run(f->dir, "e2",
                          (const char *[]){"submit", "--brokers", f->brokers, "--lang", "c",
                                           "--problem", "p", "--tests", "d", "x.c", NULL},
                          10000),
                2);
        assert_int_equal(gproc_run(f->dir, "e3",
                                   (const char *[]){"submit", "--brokers", f->brokers, "--lang",
                                                    "c", "--problem", "p", "/no/such.c", NULL},
                                   10000),
                         2);
        err = gproc_slurp(GPROC_ERR(f->dir, "e3"));
        assert_non_null(strstr(err, "'/no/such.c'"));
        free(err);
        /* one good source and a missing one: nothing is sent */
        gproc_write(f->dir, "good.c", "int main(void) { return 0; }\n");
        {
                char good[128];

                snprintf(good, sizeof(good), "%s/good.c", f->dir);
                assert_int_equal(
                        gproc_run(f->dir, "e3b",
                                  (const char *[]){"submit", "--brokers", f->brokers, "--lang", "c",
                                                   "--problem", "p", good, "/no/such.c", NULL},
                                  10000),
                        2);
                assert_int_equal(messages_in(f->brokers, QUEUE_TOPIC_JOBS, 3000), 0);
                /* the same reading sees a job that was sent */
                assert_int_equal(
                        gproc_run(f->dir, "e3c",
                                  (const char *[]){"submit", "--brokers", f->brokers, "--lang", "c",
                                                   "--problem", "p", good, NULL},
                                  10000),
                        0);
                assert_int_equal(messages_in(f->brokers, QUEUE_TOPIC_JOBS, 3000), 1);
        }
        assert_int_equal(gproc_run(f->dir, "e4", (const char *[]){"results", NULL}, 10000), 2);
        err = gproc_slurp(GPROC_ERR(f->dir, "e4"));
        assert_non_null(strstr(err, "--brokers: missing"));
        free(err);
        assert_int_equal(gproc_run(f->dir, "e5",
                                   (const char *[]){"results", "--brokers", f->brokers, "-X",
                                                    "no.such.thing=1", NULL},
                                   10000),
                         2);
        err = gproc_slurp(GPROC_ERR(f->dir, "e5"));
        assert_non_null(strstr(err, "kafka.no.such.thing"));
        free(err);
}

/* Waits up to ms for text to appear in the file at path. */
static bool file_shows(const char *path, const char *text, int64_t ms)
{
        for (int64_t deadline = qt_now_ms() + ms; qt_now_ms() < deadline; usleep(100000)) {
                char *s = gproc_slurp(path);
                bool found = strstr(s, text) != NULL;

                free(s);
                if (found)
                        return true;
        }
        return false;
}

/* SIGTERM while a verdict waits to be committed and the brokers are gone: the worker stops in
 * seconds (the verdict is for the next owner), not after minutes of retries. */
static void test_worker_stops_in_seconds_when_the_brokers_are_gone(void **state)
{
        struct fixture *f = *state;
        char config[128], tests[128], src[128], text[512];
        struct gproc w;
        int64_t t0, took;

        snprintf(tests, sizeof(tests), "%s/tests", f->dir);
        assert_int_equal(mkdir(tests, 0755), 0);
        gproc_write(tests, "1.in", "1 2\n");
        gproc_write(tests, "1.ans", "3\n");
        gproc_write(f->dir, "slow.py", "import time\ntime.sleep(1)\nprint(3)\n");
        snprintf(src, sizeof(src), "%s/slow.py", f->dir);
        snprintf(config, sizeof(config), "%s/worker.yaml", f->dir);
        snprintf(text, sizeof(text),
                 "brokers: \"%s\"\nslots: 1\nsession_timeout_ms: 6000\n"
                 "shutdown_grace_s: 10\ncache_dir: %s/cache\n",
                 f->brokers, f->dir);
        gproc_write(NULL, config, text);
        gproc_start(&w, f->dir, "worker",
                    (const char *[]){"worker", "--config", config, "--id", "gone-1", NULL});
        assert_true(file_shows(w.err, "assigned gavel.jobs", 30000));
        assert_int_equal(gproc_run(f->dir, "submit",
                                   (const char *[]){"submit", "--brokers", f->brokers, "--lang",
                                                    "python3", "--tests", tests, src, NULL},
                                   10000),
                         0);
        usleep(300000); /* the job is being judged */
        gproc_signal(&f->broker, SIGKILL);
        assert_int_equal(gproc_wait(&f->broker, 10000), 128 + SIGKILL);
        t0 = qt_now_ms();
        gproc_signal(&w, SIGTERM);
        gproc_wait(&w, 60000);
        took = qt_now_ms() - t0;
        fprintf(stderr, "worker stopped %" PRId64 " ms after SIGTERM, brokers gone\n", took);
        assert_true(w.pid == 0); /* reaped: it did stop */
        assert_true(took < 15000);
        free(f->brokers); /* a broker again, for the teardown to stop */
        f->brokers = gproc_broker(&f->broker, f->dir, NULL);
}

/* A failed test leaves no broker or worker behind. */
static int kill_children(void **state)
{
        (void)state;
        gproc_kill_all();
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_broker_takes_fault_commands_and_stops_on_sigterm),
                cmocka_unit_test(test_broker_refuses_bad_options),
                cmocka_unit_test_setup_teardown(
                        test_submit_enqueues_jobs_and_results_reads_verdicts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_submit_wait_prints_the_verdict_when_it_comes,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_submit_on_other_topics, setup, teardown),
                cmocka_unit_test_setup_teardown(
                        test_worker_stops_in_seconds_when_the_brokers_are_gone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_submit_and_results_refuse_bad_input, setup,
                                                teardown),
        };

        return cmocka_run_group_tests(tests, NULL, kill_children);
}
