/* SPDX-License-Identifier: MIT */
/*
 * The broker-independent exactly-once guard, on the embedded broker (which drops transactional
 * offsets, as a worker killed between its transaction and its offset commit would leave them).
 * Sessions with the mock-only consumer commit turned off publish verdicts whose offsets are then
 * lost; the next session in the group must find those verdicts in the verdicts partitions and
 * skip the jobs, reading only from the position stored with the last offset commit. Then two
 * sessions share the group: jobs held by one when its partitions are revoked are abandoned and
 * judged again by their next owner, and every job still gets exactly one verdict.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "queue_test.h"

struct session {
        struct queue_eos *eos;
        int published, skipped;
        bool hold;                 /* keep handed-out jobs instead of finishing them */
        struct queue_job *held[8]; /* jobs kept */
        int n_held;
};

static void finish(struct queue_job *job)
{
        const struct queue_msg *msg = queue_job_msg(job);
        char *value = qt_strndup(msg->value, msg->len), *verdict = NULL;
        int i, n;

        assert_int_equal(sscanf(value, "job-%d", &i), 1);
        free(value);
        n = asprintf(&verdict, "verdict-%d", i);
        assert_true(n > 0);
        queue_job_finish(job, verdict, (size_t)n, NULL, NULL);
}

static void on_job(struct queue_job *job, void *userdata)
{
        struct session *s = userdata;

        if (s->hold) {
                assert_true(s->n_held < 8);
                s->held[s->n_held++] = job;
                return;
        }
        finish(job);
}

static int on_published(enum queue_publish_phase phase, const struct queue_published *pub, size_t n,
                        void *userdata)
{
        struct session *s = userdata;

        if (phase != QUEUE_PUBLISH_COMMITTED)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (pub[i].skipped)
                        s->skipped++;
                else
                        s->published++;
        return 0;
}

static void session_start(struct session *s, const struct queue_mock *mock, const char *txn_id,
                          enum queue_mock_compat compat, unsigned max_in_flight, unsigned window)
{
        struct queue_eos_conf ec;
        struct gv_err err = {0};

        memset(s, 0, sizeof(*s));
        queue_eos_conf_default(&ec);
        ec.kafka = qt_conf(mock);
        ec.transactional_id = txn_id;
        ec.session_timeout_ms = QT_SESSION_MS;
        ec.mock_compat = compat;
        ec.max_in_flight = max_in_flight;
        ec.window = window;
        assert_ok(queue_eos_new(&ec, on_job, on_published, s, &s->eos, &err), &err);
}

/* Polls until published + skipped reach n, then closes; returns the stats. */
static struct queue_eos_stats session_run(struct session *s, int n)
{
        struct queue_eos_stats st;
        struct gv_err err = {0};
        int64_t deadline = qt_now_ms() + 30000;

        while (s->published + s->skipped < n && qt_now_ms() < deadline)
                assert_ok(queue_eos_poll(s->eos, 200, &err), &err);
        assert_int_equal(s->published + s->skipped, n);
        assert_ok(queue_eos_close(s->eos, &err), &err);
        queue_eos_stats(s->eos, &st);
        queue_eos_free(s->eos);
        return st;
}

static void test_answered_jobs_are_skipped_after_lost_offsets(void **state)
{
        struct queue_mock *mock = qt_mock(1, 2);
        struct queue_eos_stats st;
        struct session s;
        struct qt_read verdicts;

        (void)state;
        /* A publishes 10 verdicts; the mock forgets the offsets */
        qt_produce(mock, QUEUE_TOPIC_JOBS, 0, 10);
        session_start(&s, mock, "guard-a", QUEUE_MOCK_COMPAT_OFF, 4, 16);
        st = session_run(&s, 10);
        assert_false(st.mock_compat);
        assert_int_equal(st.published, 10);

        /* B gets all 20 jobs again from offset 0: the guard reads A's verdicts, skips 10 */
        qt_produce(mock, QUEUE_TOPIC_JOBS, 10, 10);
        session_start(&s, mock, "guard-b", QUEUE_MOCK_COMPAT_ON, 4, 16);
        st = session_run(&s, 20);
        assert_int_equal(st.received, 20);
        assert_int_equal(st.skipped, 10);
        assert_int_equal(st.published, 10);
        assert_int_equal(st.guard_read, 10);

        /* C starts at B's offsets and reads no verdict before B's stored position */
        qt_produce(mock, QUEUE_TOPIC_JOBS, 20, 5);
        session_start(&s, mock, "guard-c", QUEUE_MOCK_COMPAT_OFF, 4, 16);
        st = session_run(&s, 5);
        assert_int_equal(st.received, 5);
        assert_int_equal(st.guard_read, 0);
        assert_int_equal(st.published, 5);

        /* D: C's offsets are lost again; only C's 5 verdicts are read and their jobs skipped */
        session_start(&s, mock, "guard-d", QUEUE_MOCK_COMPAT_ON, 4, 16);
        st = session_run(&s, 5);
        assert_int_equal(st.guard_read, 5);
        assert_int_equal(st.skipped, 5);
        assert_int_equal(st.published, 0);

        qt_read_topic(mock, QUEUE_TOPIC_VERDICTS, &verdicts);
        assert_int_equal(qt_count_once(&verdicts, 25, "verdict-"), 0);
        qt_read_done(&verdicts);
        queue_mock_free(mock);
}

static void test_revoked_jobs_are_abandoned_and_judged_again(void **state)
{
        struct queue_mock *mock = qt_mock(1, 2);
        struct session a, b;
        struct queue_eos_stats sa, sb;
        struct gv_err err = {0};
        struct qt_read verdicts;
        int64_t deadline;
        int held;

        (void)state;
        qt_produce(mock, QUEUE_TOPIC_JOBS, 0, 20);
        /* a small window: A's partitions are paused (full) when they are revoked */
        session_start(&a, mock, "reb-a", QUEUE_MOCK_COMPAT_AUTO, 4, 4);
        a.hold = true;
        deadline = qt_now_ms() + 20000;
        while (a.n_held < 4 && qt_now_ms() < deadline)
                assert_ok(queue_eos_poll(a.eos, 100, &err), &err);
        assert_int_equal(a.n_held, 4);
        for (int i = 0; i < 4; i++)
                assert_false(atomic_load(queue_job_cancelled(a.held[i])));

        /* B joins: A's partitions are revoked while it holds 4 jobs */
        session_start(&b, mock, "reb-b", QUEUE_MOCK_COMPAT_AUTO, 4, 4);
        deadline = qt_now_ms() + 20000;
        while (!atomic_load(queue_job_cancelled(a.held[0])) && qt_now_ms() < deadline) {
                assert_ok(queue_eos_poll(a.eos, 100, &err), &err);
                assert_ok(queue_eos_poll(b.eos, 100, &err), &err);
        }
        for (int i = 0; i < 4; i++)
                assert_true(atomic_load(queue_job_cancelled(a.held[i])));
        assert_int_equal(queue_eos_in_flight(a.eos), 4);
        held = a.n_held;
        a.hold = false;
        for (int i = 0; i < held; i++)
                if (atomic_load(queue_job_cancelled(a.held[i])))
                        queue_job_finish(a.held[i], NULL, 0, NULL, NULL); /* no verdict */
                else
                        finish(a.held[i]); /* handed out after a new assignment */
        a.n_held = 0;

        deadline = qt_now_ms() + 30000;
        while (a.published + b.published < 20 && qt_now_ms() < deadline) {
                assert_ok(queue_eos_poll(a.eos, 50, &err), &err);
                assert_ok(queue_eos_poll(b.eos, 50, &err), &err);
        }
        assert_int_equal(a.published + b.published, 20);
        assert_int_equal(queue_eos_in_flight(a.eos), 0);
        assert_ok(queue_eos_close(a.eos, &err), &err);
        assert_ok(queue_eos_close(b.eos, &err), &err);
        queue_eos_stats(a.eos, &sa);
        queue_eos_stats(b.eos, &sb);
        assert_int_equal(sa.abandoned, 4);
        assert_true(sb.published > 0);
        queue_eos_free(a.eos);
        queue_eos_free(b.eos);

        qt_read_topic(mock, QUEUE_TOPIC_VERDICTS, &verdicts);
        assert_int_equal(qt_count_once(&verdicts, 20, "verdict-"), 0);
        qt_read_done(&verdicts);
        queue_mock_free(mock);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_answered_jobs_are_skipped_after_lost_offsets),
                cmocka_unit_test(test_revoked_jobs_are_abandoned_and_judged_again),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
