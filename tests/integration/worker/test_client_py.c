/* SPDX-License-Identifier: MIT */
/*
 * The example platform client in Python (ops/examples/client.py, run by Debian's /usr/bin/python3
 * with python3-confluent-kafka and python3-msgpack) against the embedded broker: the job it
 * enqueues must decode with gavel's own decoder, and the verdict gavel encodes must reach it,
 * meta echoed. The test plays the worker, so this proves the schema across languages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "../queue/queue_test.h"
#include "gproc.h"
#include "schema/schema.h"

#define PYTHON "/usr/bin/python3"
#define CLIENT GAVEL_SOURCE_DIR "/ops/examples/client.py"

/* Takes the first job off the jobs topic (waiting up to 60 s), decoded by gavel. */
static void take_job(const char *brokers, struct job *ret_job)
{
        struct queue_conf conf = {.brokers = brokers, .log = qt_log};
        const char *topic = QUEUE_TOPIC_JOBS;
        struct queue_reader *rd = NULL;
        struct gv_err err = {0};
        struct queue_msg msg;
        int r = 0;

        assert_ok(queue_reader_new(&conf, &topic, 1, QUEUE_START_BEGINNING, &rd, &err), &err);
        for (int64_t deadline = qt_now_ms() + 60000; r != 1 && qt_now_ms() < deadline;)
                r = queue_reader_next(rd, 200, &msg, &err);
        assert_int_equal(r, 1);
        assert_int_equal(msg.key_len, strlen("py-1"));
        assert_memory_equal(msg.key, "py-1", msg.key_len);
        assert_ok(schema_job_decode(msg.value, msg.len, NULL, ret_job, &err), &err);
        queue_reader_free(rd);
}

static void publish(const char *brokers, const struct verdict *v)
{
        struct queue_conf conf = {.brokers = brokers, .log = qt_log};
        struct queue_producer *prod = NULL;
        struct gv_err err = {0};
        void *buf;
        size_t len;

        assert_int_equal(schema_verdict_encode(v, &buf, &len), 0);
        assert_ok(queue_producer_new(&conf, &prod, &err), &err);
        assert_ok(queue_producer_send(prod, QUEUE_TOPIC_VERDICTS, -1, v->id, strlen(v->id), buf,
                                      len, NULL, 0, &err),
                  &err);
        assert_ok(queue_producer_flush(prod, 10000, &err), &err);
        queue_producer_free(prod);
        free(buf);
}

static void test_python_client_round_trip(void **state)
{
        char dir[64], tests[128], src[128], *brokers, *out;
        struct gproc broker, client;
        struct verdict_test vt[2] = {{.verdict = SCHEMA_AC, .time_ms = 12, .memory_kib = 2048},
                                     {.verdict = SCHEMA_AC, .time_ms = 15}};
        struct verdict v = {.v = SCHEMA_VERSION,
                            .verdict = SCHEMA_AC,
                            .tests = vt,
                            .n_tests = 2,
                            .score = 2,
                            .max_score = 2,
                            .worker = "test"};
        struct job job;

        (void)state;
        gproc_tmpdir(dir, sizeof(dir));
        brokers = gproc_broker(&broker, dir, NULL);
        snprintf(tests, sizeof(tests), "%s/tests", dir);
        assert_int_equal(mkdir(tests, 0755), 0);
        gproc_write(tests, "1.in", "1 2\n");
        gproc_write(tests, "1.ans", "3\n");
        gproc_write_bytes(tests, "2.in", "\xff binary \x00?\n", 12); /* not UTF-8, a NUL */
        gproc_write(tests, "2.out", "x\n");
        gproc_write(dir, "sum.py", "print(sum(map(int, input().split())))\n");
        snprintf(src, sizeof(src), "%s/sum.py", dir);

        gproc_exec(&client, dir, "client", PYTHON,
                   (const char *[]){PYTHON, CLIENT, "--brokers", brokers, "--lang", "python3",
                                    "--tests", tests, "--id", "py-1", "--time-ms", "900", "--meta",
                                    "{\"user\": 42, \"contest\": \"demo\"}", "--timeout", "60", src,
                                    NULL});
        take_job(brokers, &job);
        assert_string_equal(job.id, "py-1");
        assert_string_equal(job.lang, "python3");
        assert_null(job.problem);
        assert_int_equal(job.n_tests, 2);
        assert_int_equal(job.tests[0].in_len, 4);
        assert_memory_equal(job.tests[0].in, "1 2\n", 4);
        assert_int_equal(job.tests[1].in_len, 12);
        assert_memory_equal(job.tests[1].in, "\xff binary \x00?\n", 12);
        assert_int_equal(job.limits.time_ms, 900);
        assert_string_equal((char *)job.source, "print(sum(map(int, input().split())))\n");
        assert_non_null(job.meta);

        v.id = job.id;
        v.meta = job.meta; /* echoed byte for byte, as the worker does */
        v.meta_len = job.meta_len;
        publish(brokers, &v);
        job_done(&job);

        assert_int_equal(gproc_wait(&client, 90000), 0);
        out = gproc_slurp(client.out);
        assert_non_null(strstr(out, "\"id\": \"py-1\""));
        assert_non_null(strstr(out, "\"verdict\": \"AC\""));
        assert_non_null(strstr(out, "\"meta\": {\"contest\": \"demo\", \"user\": 42}"));
        assert_non_null(strstr(out, "\"memory_kib\": 2048"));
        free(out);

        gproc_signal(&broker, SIGTERM);
        assert_int_equal(gproc_wait(&broker, 10000), 0);
        free(brokers);
        gproc_rmdir(dir);
}

static void test_python_client_refuses_bad_arguments(void **state)
{
        char dir[64], *err;
        struct gproc p;

        (void)state;
        gproc_tmpdir(dir, sizeof(dir));
        gproc_exec(&p, dir, "bad", PYTHON,
                   (const char *[]){PYTHON, CLIENT, "--brokers", "127.0.0.1:1", "--lang", "c",
                                    "--problem", "p", "/no/such/file.c", NULL});
        assert_int_equal(gproc_wait(&p, 60000), 2);
        err = gproc_slurp(p.err);
        assert_non_null(strstr(err, "/no/such/file.c"));
        free(err);
        gproc_rmdir(dir);
}

/* Any verdict bytes: a str that is not UTF-8 decodes with U+FFFD, garbage is skipped, both are
 * reported on stderr, and neither ends the client. */
static void test_python_client_survives_any_verdict_bytes(void **state)
{
        static const char script[] =
                "import sys; sys.path.insert(0, sys.argv[1]); import client\n"
                "v = client.decode_verdict(b'\\x82\\xa2id\\xa1x\\xa3log\\xa2\\xff\\xfe', 7)\n"
                "assert v == {'id': 'x', 'log': '\\ufffd\\ufffd'}, v\n"
                "for junk in (b'\\xc1', b'\\x92', b'', b'\\x81\\x80\\x01', b'\\x01\\x02'):\n"
                "    client.decode_verdict(junk)\n"
                "print('survived')\n";
        char dir[64], *out, *err;
        struct gproc p;

        (void)state;
        gproc_tmpdir(dir, sizeof(dir));
        gproc_exec(&p, dir, "bytes", PYTHON,
                   (const char *[]){PYTHON, "-c", script, GAVEL_SOURCE_DIR "/ops/examples", NULL});
        assert_int_equal(gproc_wait(&p, 60000), 0);
        out = gproc_slurp(p.out);
        err = gproc_slurp(p.err);
        assert_non_null(strstr(out, "survived"));
        assert_non_null(strstr(err, "offset 7: a str is not UTF-8"));
        assert_non_null(strstr(err, "does not decode"));
        free(out);
        free(err);
        gproc_rmdir(dir);
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
                cmocka_unit_test(test_python_client_round_trip),
                cmocka_unit_test(test_python_client_refuses_bad_arguments),
                cmocka_unit_test(test_python_client_survives_any_verdict_bytes),
        };

        return cmocka_run_group_tests(tests, NULL, kill_children);
}
