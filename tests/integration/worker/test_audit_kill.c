/* SPDX-License-Identifier: MIT */
/*
 * A worker killed mid-job: the job is judged by the partition's next owner, the topic holds one
 * verdict for it, and the audit logs tell the story: the killed worker's log shows the attempt it
 * never finished as abandoned (once it starts again), the new owner's log the attempt done and
 * its verdict committed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../queue/queue_test.h"
#include "gproc.h"
#include "schema/schema.h"

#define JOB_ID "slow-1"

static char dir[64], *brokers;
static struct gproc broker;

static void write_config(const char *name)
{
        char text[1024], path[128];

        snprintf(path, sizeof(path), "%s/%s.yaml", dir, name);
        snprintf(text, sizeof(text),
                 "brokers: \"%s\"\n"
                 "slots: 1\n"
                 "session_timeout_ms: 4000\n"
                 "cache_dir: %s/cache\n"
                 "audit: %s/%s.db\n"
                 "kafka:\n"
                 "  heartbeat.interval.ms: 500\n",
                 brokers, dir, dir, name);
        gproc_write(NULL, path, text);
}

static void start_worker(struct gproc *p, const char *name)
{
        char path[128];

        snprintf(path, sizeof(path), "%s/%s.yaml", dir, name);
        gproc_start(p, dir, name, (const char *[]){"worker", "--config", path, "--id", name, NULL});
}

/* gavel audit show JOB_ID --json on worker name's log (malloc'ed stdout; "" when none). */
static char *audit_show(const char *name)
{
        char db[128];

        snprintf(db, sizeof(db), "%s/%s.db", dir, name);
        gproc_run(dir, "show",
                  (const char *[]){"audit", "show", JOB_ID, "--audit", db, "--json", NULL}, 20000);
        return gproc_slurp(GPROC_OUT(dir, "show"));
}

/* Waits up to ms for worker name's log to contain text for JOB_ID. */
static bool audit_wait(const char *name, const char *text, int64_t ms)
{
        for (int64_t end = gproc_now_ms() + ms; gproc_now_ms() < end; usleep(200000)) {
                char *out = audit_show(name);
                bool found = strstr(out, text) != NULL;

                free(out);
                if (found)
                        return true;
        }
        return false;
}

/* Verdicts for JOB_ID on the verdicts topic, read_committed, to the end of every partition. */
static int count_verdicts(void)
{
        struct queue_conf conf = {.brokers = brokers, .log = qt_log};
        const char *topic = QUEUE_TOPIC_VERDICTS;
        struct queue_reader *rd = NULL;
        struct gv_err err = {0};
        int n = 0;

        assert_ok(queue_reader_new(&conf, &topic, 1, QUEUE_START_BEGINNING, &rd, &err), &err);
        for (int64_t t = qt_now_ms() + 20000; !queue_reader_at_end(rd) && qt_now_ms() < t;) {
                struct queue_msg msg;

                if (queue_reader_next(rd, 100, &msg, &err) == 1 && msg.key_len == strlen(JOB_ID) &&
                    memcmp(msg.key, JOB_ID, msg.key_len) == 0)
                        n++;
        }
        assert_true(queue_reader_at_end(rd));
        queue_reader_free(rd);
        return n;
}

static void test_a_killed_workers_job_is_judged_once_and_the_logs_tell(void **state)
{
        struct gproc a, b, a2;
        char tests[128], src[128], *out;

        (void)state;
        /* one test, 3 s of cpu: long enough to kill the first worker in the middle */
        snprintf(tests, sizeof(tests), "%s/tests", dir);
        mkdir(tests, 0755);
        gproc_write(tests, "1.in", "1 2\n");
        gproc_write(tests, "1.ans", "3\n");
        snprintf(src, sizeof(src), "%s/slow.py", dir);
        gproc_write(NULL, src,
                    "import time\n"
                    "t = time.process_time()\n"
                    "while time.process_time() - t < 3:\n"
                    "    pass\n"
                    "a, b = map(int, input().split())\n"
                    "print(a + b)\n");
        write_config("wa");
        write_config("wb");
        start_worker(&a, "wa");
        assert_int_equal(gproc_run(dir, "submit",
                                   (const char *[]){"submit", "--brokers", brokers, "--lang",
                                                    "python3", "--tests", tests, "--id", JOB_ID,
                                                    "--time-ms", "8000", src, NULL},
                                   30000),
                         0);

        /* the first worker is judging it (its log has the attempt): kill it there */
        assert_true(audit_wait("wa", "\"running\"", 30000));
        gproc_signal(&a, SIGKILL);
        gproc_wait(&a, 10000);

        /* the next owner of the partition judges it and commits its verdict */
        start_worker(&b, "wb");
        if (!audit_wait("wb", "\"committed\"", 90000)) {
                char *e = gproc_slurp(b.err);

                fail_msg("no committed verdict in the new owner's log; its stderr:\n%s", e);
        }
        out = audit_show("wb");
        assert_non_null(strstr(out, "\"done\""));
        assert_null(strstr(out, "\"abandoned\""));
        free(out);
        assert_int_equal(count_verdicts(), 1);

        /* the killed worker starts again: its unfinished attempt is marked abandoned */
        start_worker(&a2, "wa");
        assert_true(audit_wait("wa", "\"abandoned\"", 30000));
        out = audit_show("wa");
        assert_null(strstr(out, "\"committed\"")); /* it never published anything */
        free(out);
        gproc_signal(&a2, SIGTERM);
        gproc_signal(&b, SIGTERM);
        assert_int_equal(gproc_wait(&a2, 60000), 0);
        assert_int_equal(gproc_wait(&b, 60000), 0);
        assert_int_equal(count_verdicts(), 1); /* and nothing more came of it */
}

static int setup(void **state)
{
        (void)state;
        gproc_tmpdir(dir, sizeof(dir));
        brokers = gproc_broker(&broker, dir, (const char *[]){"--partitions", "1", NULL});
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        gproc_signal(&broker, SIGTERM);
        gproc_wait(&broker, 10000);
        free(brokers);
        gproc_rmdir(dir);
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_a_killed_workers_job_is_judged_once_and_the_logs_tell),
        };

        if (geteuid() != 0) {
                fprintf(stderr, "skipped: containers need root\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, setup, teardown);
}
