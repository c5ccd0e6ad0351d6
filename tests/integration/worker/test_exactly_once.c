/* SPDX-License-Identifier: MIT */
/*
 * The exactly-once promise, end to end: 500 jobs through two worker processes on a 3-node
 * embedded broker, while the broker injects retriable faults (failed produces, lost
 * coordinators, moved leaders, slow and downed brokers) and one worker is killed with SIGKILL
 * mid-way and started again. A read_committed reader must then see exactly one verdict per job,
 * none missing, none twice. (On the mock, aborted transactions stay visible, so only faults the
 * client retries by itself are injected; the guard of queue/ covers what the mock forgets.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../queue/queue_test.h"
#include "gproc.h"
#include "schema/schema.h"

#define N_JOBS  500
#define N_STEPS (sizeof(steps) / sizeof(steps[0]))

/*
 * Once so many verdicts are in and after_ms have passed since the step before, the broker is told
 * the commands (or worker A is killed or started again). A downed broker stops the verdicts, so
 * what brings it back goes by time alone.
 */
struct step {
        int at;
        int after_ms;
        const char *cmds; /* broker commands, or "kill" / "start" for worker A */
};

static const struct step steps[] = {
        {40, 0,
         "fail Produce NOT_LEADER_FOR_PARTITION*3 REQUEST_TIMED_OUT\n"
         "fail EndTxn COORDINATOR_NOT_AVAILABLE NOT_COORDINATOR\n"
         "fail TxnOffsetCommit COORDINATOR_LOAD_IN_PROGRESS\n"
         "fail AddPartitionsToTxn CONCURRENT_TRANSACTIONS\n"},
        {90, 0,
         "leader gavel.verdicts 0 2\nleader gavel.verdicts 1 3\nleader gavel.jobs 2 1\n"
         "rtt all 20\n"},
        {140, 0, "kill"},
        {150, 0, "rtt all 0\nfail AddOffsetsToTxn COORDINATOR_NOT_AVAILABLE\n"},
        {0, 1000, "start"},
        {260, 0, "fail Produce _TRANSPORT\nfail Fetch _TRANSPORT\n"},
        {330, 0, "down 2\n"},
        {0, 1500, "up 2\n"},
        {400, 0, "fail OffsetCommit REBALANCE_IN_PROGRESS\nfail Heartbeat _TRANSPORT\n"},
};

struct run {
        char dir[64];
        char config[128];
        struct gproc broker, a, b;
        char *brokers;
        int *seen; /* verdicts per job */
        int total, distinct;
};

static void start_worker(struct run *r, struct gproc *p, const char *id)
{
        gproc_start(p, r->dir, id,
                    (const char *[]){"worker", "--config", r->config, "--id", id, NULL});
}

static void produce_jobs(struct run *r)
{
        static const char source[] = "#include <stdio.h>\n"
                                     "int main(void) { int c; while ((c = getchar()) != EOF) "
                                     "putchar(c); return 0; }\n";
        struct queue_conf conf = {.brokers = r->brokers, .log = qt_log};
        struct queue_producer *prod = NULL;
        struct gv_err err = {0};

        assert_ok(queue_producer_new(&conf, &prod, &err), &err);
        for (int i = 0; i < N_JOBS; i++) {
                char id[32], data[32];
                struct job_test test;
                struct job job = {
                        .v = SCHEMA_VERSION,
                        .id = id,
                        .lang = "c",
                        .source = (uint8_t *)source,
                        .source_len = sizeof(source) - 1,
                        .tests = &test,
                        .n_tests = 1,
                        .attempt = 1,
                };
                void *buf;
                size_t len;

                snprintf(id, sizeof(id), "eo-%d", i);
                snprintf(data, sizeof(data), "%d\n", i);
                test = (struct job_test){.in = (uint8_t *)data,
                                         .in_len = strlen(data),
                                         .out = (uint8_t *)data,
                                         .out_len = strlen(data)};
                assert_int_equal(schema_job_encode(&job, &buf, &len), 0);
                assert_ok(queue_producer_send(prod, QUEUE_TOPIC_JOBS, -1, id, strlen(id), buf, len,
                                              NULL, 0, &err),
                          &err);
                free(buf);
        }
        assert_ok(queue_producer_flush(prod, 30000, &err), &err);
        queue_producer_free(prod);
}

/* Counts one verdict message; every one must decode, be AC and name a job of ours. */
static void count(struct run *r, const struct queue_msg *msg)
{
        struct gv_err err = {0};
        struct verdict v;
        int i;

        assert_ok(schema_verdict_decode(msg->value, msg->len, NULL, &v, &err), &err);
        assert_int_equal(sscanf(v.id, "eo-%d", &i), 1);
        assert_true(i >= 0 && i < N_JOBS);
        if (v.verdict != SCHEMA_AC)
                fail_msg("%s: %s (%s)", v.id, schema_code_name(v.verdict),
                         v.reason ? v.reason : "");
        r->total++;
        r->distinct += r->seen[i]++ == 0;
        verdict_done(&v);
}

static void run_step(struct run *r, const struct step *s)
{
        if (!strcmp(s->cmds, "kill")) {
                gproc_signal(&r->a, SIGKILL); /* mid-way: jobs and a transaction in flight */
                assert_int_equal(gproc_wait(&r->a, 10000), 128 + SIGKILL);
                return;
        }
        if (!strcmp(s->cmds, "start")) {
                start_worker(r, &r->a, "eo-a");
                return;
        }
        assert_int_equal(write(r->broker.in, s->cmds, strlen(s->cmds)), (ssize_t)strlen(s->cmds));
}

static void dump_logs(struct run *r)
{
        const struct gproc *ps[] = {&r->a, &r->b, &r->broker};

        for (size_t i = 0; i < 3; i++) {
                char *text = gproc_slurp(ps[i]->err);
                size_t len = strlen(text);

                fprintf(stderr, "---- %s (last 4000 bytes)\n%s\n", ps[i]->err,
                        text + (len > 4000 ? len - 4000 : 0));
                free(text);
        }
}

static void test_500_jobs_one_verdict_each_through_kill_and_faults(void **state)
{
        struct run r = {0};
        struct queue_reader *rd = NULL;
        struct queue_conf conf;
        struct gv_err err = {0};
        const char *topic = QUEUE_TOPIC_VERDICTS;
        char text[1024];
        size_t next = 0;
        int64_t deadline, quiet_until = 0, last_step = 0;
        FILE *f;

        (void)state;
        r.seen = calloc(N_JOBS, sizeof(int));
        assert_non_null(r.seen);
        gproc_tmpdir(r.dir, sizeof(r.dir));
        r.brokers = gproc_broker(&r.broker, r.dir,
                                 (const char *[]){"--partitions", "4", "--nodes", "3", NULL});
        snprintf(r.config, sizeof(r.config), "%s/worker.yaml", r.dir);
        snprintf(text, sizeof(text),
                 "brokers: \"%s\"\nslots: 2\nsession_timeout_ms: 6000\nshutdown_grace_s: 20\n"
                 "cache_dir: %s/cache\nkafka:\n  heartbeat.interval.ms: 1000\n",
                 r.brokers, r.dir);
        f = fopen(r.config, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);

        produce_jobs(&r);
        start_worker(&r, &r.a, "eo-a");
        start_worker(&r, &r.b, "eo-b");

        conf = (struct queue_conf){.brokers = r.brokers, .log = qt_log};
        assert_ok(queue_reader_new(&conf, &topic, 1, QUEUE_START_BEGINNING, &rd, &err), &err);
        deadline = qt_now_ms() + 400000;
        /* until every job has a verdict, then 3 s more for a late duplicate to show */
        while (qt_now_ms() < deadline && (r.distinct < N_JOBS || qt_now_ms() < quiet_until)) {
                struct queue_msg msg;
                int n = queue_reader_next(rd, 100, &msg, &err);

                assert_true(n >= 0);
                if (n == 1)
                        count(&r, &msg);
                while (next < N_STEPS && r.distinct >= steps[next].at &&
                       qt_now_ms() - last_step >= steps[next].after_ms) {
                        run_step(&r, &steps[next++]);
                        last_step = qt_now_ms();
                }
                if (r.distinct == N_JOBS && !quiet_until)
                        quiet_until = qt_now_ms() + 3000;
        }
        if (r.distinct < N_JOBS)
                dump_logs(&r);
        assert_int_equal(r.distinct, N_JOBS);
        assert_int_equal(next, N_STEPS);

        gproc_signal(&r.a, SIGTERM);
        gproc_signal(&r.b, SIGTERM);
        assert_int_equal(gproc_wait(&r.a, 60000), 0);
        assert_int_equal(gproc_wait(&r.b, 60000), 0);
        /* anything the shutdown published, read to the end */
        for (int64_t end = qt_now_ms() + 3000; qt_now_ms() < end;) {
                struct queue_msg msg;

                if (queue_reader_next(rd, 100, &msg, &err) == 1)
                        count(&r, &msg);
        }
        queue_reader_free(rd);
        for (int i = 0; i < N_JOBS; i++)
                if (r.seen[i] != 1)
                        fprintf(stderr, "eo-%d: %d verdicts\n", i, r.seen[i]);
        if (r.total != N_JOBS)
                dump_logs(&r);
        assert_int_equal(r.total, N_JOBS);

        gproc_signal(&r.broker, SIGTERM);
        assert_int_equal(gproc_wait(&r.broker, 10000), 0);
        {
                /* every fault command was taken: after the bootstrap line, one ok each */
                size_t cmds = 0, oks = 0;
                char *out = gproc_slurp(r.broker.out), *line = strchr(out, '\n');

                for (size_t i = 0; i < N_STEPS; i++)
                        for (const char *c = steps[i].cmds; *c; c++)
                                cmds += *c == '\n';
                while (line && line[1]) {
                        oks += strncmp(line + 1, "ok\n", 3) == 0;
                        line = strchr(line + 1, '\n');
                }
                if (oks != cmds)
                        fail_msg("%zu of %zu fault commands answered ok:\n%s", oks, cmds, out);
                free(out);
        }
        free(r.brokers);
        free(r.seen);
        gproc_rmdir(r.dir);
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
                cmocka_unit_test(test_500_jobs_one_verdict_each_through_kill_and_faults),
        };

        return cmocka_run_group_tests(tests, NULL, kill_children);
}
