/* SPDX-License-Identifier: MIT */
/*
 * queue/ against the embedded broker in this process: the mock's fault-injection commands, the
 * producer and the reader (keys, headers, start positions), configuration errors, and one
 * exactly-once session publishing every job's verdict once, to the job's partition, with dead
 * letters in the same transactions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "queue_test.h"

static void test_mock_commands(void **state)
{
        struct queue_mock *mock = qt_mock(3, 2);
        struct gv_err err = {0};

        (void)state;
        assert_ok(queue_mock_command(mock,
                                     "fail Produce NOT_LEADER_FOR_PARTITION*2 "
                                     "_TRANSPORT",
                                     &err),
                  &err);
        assert_ok(queue_mock_command(mock, "clear Produce", &err), &err);
        assert_ok(queue_mock_command(mock, "  # a comment", &err), &err);
        assert_ok(queue_mock_command(mock, "", &err), &err);
        assert_ok(queue_mock_command(mock, "rtt all 0", &err), &err);
        assert_ok(queue_mock_command(mock, "down 2", &err), &err);
        assert_ok(queue_mock_command(mock, "up 2", &err), &err);
        assert_ok(queue_mock_command(mock, "leader gavel.jobs 1 3", &err), &err);
        assert_ok(queue_mock_command(mock, "coordinator group gavel 2", &err), &err);
        assert_ok(queue_mock_command(mock, "delay 1 EndTxn NO_ERROR 10", &err), &err);
        assert_ok(queue_mock_command(mock, "topic extra 3", &err), &err);

        assert_int_equal(queue_mock_command(mock, "fail Produce NO_SUCH_ERROR", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "NO_SUCH_ERROR"));
        assert_int_equal(queue_mock_command(mock, "fail Nope _TRANSPORT", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "Nope"));
        assert_int_equal(queue_mock_command(mock, "fail Produce _TRANSPORT*0", &err), -EINVAL);
        assert_int_equal(queue_mock_command(mock, "down", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "usage: down"));
        assert_int_equal(queue_mock_command(mock, "rtt x 5", &err), -EINVAL);
        assert_int_equal(queue_mock_command(mock, "explode", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "explode"));
        queue_mock_free(mock);
}

static void test_producer_reader_round_trip(void **state)
{
        struct queue_mock *mock = qt_mock(1, 3);
        struct queue_conf conf = qt_conf(mock);
        const char *topic = QUEUE_TOPIC_PROGRESS;
        struct queue_producer *prod = NULL;
        struct queue_reader *late = NULL, *rd = NULL;
        struct gv_err err = {0};
        struct queue_header h[] = {{"lang", "c", 1}, {"empty", NULL, 0}};
        struct queue_msg msg;
        const void *v;
        size_t len;
        int n = 0, r;

        (void)state;
        assert_ok(queue_producer_new(&conf, &prod, &err), &err);
        for (int i = 0; i < 6; i++)
                assert_int_equal(
                        queue_producer_send(prod, topic, i % 3, "key", 3, "value", 5, h, 2, &err),
                        0);
        assert_ok(queue_producer_flush(prod, 10000, &err), &err);
        /* a reader from the end sees only what comes after it started */
        assert_ok(queue_reader_new(&conf, &topic, 1, QUEUE_START_END, &late, &err), &err);
        assert_ok(queue_producer_send(prod, topic, 1, "late", 4, "after", 5, NULL, 0, &err), &err);
        assert_ok(queue_producer_flush(prod, 10000, &err), &err);

        assert_ok(queue_reader_new(&conf, &topic, 1, QUEUE_START_BEGINNING, &rd, &err), &err);
        for (int64_t deadline = qt_now_ms() + 20000;
             !queue_reader_at_end(rd) && qt_now_ms() < deadline;) {
                r = queue_reader_next(rd, 100, &msg, &err);
                assert_true(r >= 0);
                if (r == 0 || msg.key_len == 4)
                        continue;
                n++;
                assert_memory_equal(msg.key, "key", 3);
                assert_int_equal(msg.len, 5);
                assert_memory_equal(msg.value, "value", 5);
                assert_true(msg.timestamp_ms > 0);
                assert_int_equal(queue_msg_header(&msg, "lang", &v, &len), 0);
                assert_int_equal(len, 1);
                assert_memory_equal(v, "c", 1);
                assert_int_equal(queue_msg_header(&msg, "empty", &v, &len), 0);
                assert_int_equal(len, 0);
                assert_int_equal(queue_msg_header(&msg, "nope", &v, &len), -ENOENT);
        }
        assert_true(queue_reader_at_end(rd));
        assert_int_equal(n, 6);

        for (int64_t deadline = qt_now_ms() + 20000; qt_now_ms() < deadline;) {
                r = queue_reader_next(late, 100, &msg, &err);
                assert_true(r >= 0);
                if (r == 1)
                        break;
        }
        assert_int_equal(r, 1);
        assert_int_equal(msg.key_len, 4);
        assert_memory_equal(msg.value, "after", 5);

        queue_reader_free(rd);
        queue_reader_free(late);
        queue_producer_free(prod);
        queue_mock_free(mock);
}

static void test_conf_errors_name_the_key(void **state)
{
        struct queue_mock *mock = qt_mock(1, 2);
        struct queue_prop bad[] = {{"no.such.property", "1"}};
        struct queue_prop sticky[] = {{"partition.assignment.strategy", "cooperative-sticky"}};
        struct queue_prop forced[] = {{"enable.auto.commit", "true"}};
        struct queue_eos_conf ec;
        struct queue_eos *eos = NULL;
        struct gv_err err = {0};

        (void)state;
        queue_eos_conf_default(&ec);
        ec.kafka = qt_conf(mock);
        ec.transactional_id = "t";
        ec.kafka.props = bad;
        ec.kafka.n_props = 1;
        assert_int_equal(queue_conf_check(&ec.kafka, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "kafka.no.such.property"));

        ec.kafka.props = sticky;
        assert_int_equal(queue_eos_new(&ec, NULL, NULL, NULL, &eos, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "kafka.partition.assignment.strategy"));

        ec.kafka.props = forced;
        assert_int_equal(queue_eos_new(&ec, NULL, NULL, NULL, &eos, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "kafka.enable.auto.commit"));

        ec.kafka.props = NULL;
        ec.kafka.n_props = 0;
        ec.transactional_id = NULL;
        assert_int_equal(queue_eos_new(&ec, NULL, NULL, NULL, &eos, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "transactional id"));

        /* verdicts need a partition for every jobs partition */
        ec.transactional_id = "t";
        assert_ok(queue_mock_topic_create(mock, "few", 1, &err), &err);
        ec.verdicts_topic = "few";
        assert_int_equal(queue_eos_new(&ec, NULL, NULL, NULL, &eos, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "'few' has 1 partitions, fewer than the 2"));
        assert_null(eos);
        queue_mock_free(mock);
}

/* ---- one session ---------------------------------------------------------------------------- */

struct session {
        int published, skipped;
        int pending, aborted; /* jobs seen by the hook in these phases */
        int refuse;           /* PENDING calls still to refuse */
};

static void judge_now(struct queue_job *job, void *userdata)
{
        const struct queue_msg *msg = queue_job_msg(job);
        char *verdict = NULL, *value = qt_strndup(msg->value, msg->len), reason[32];
        int i, n;

        (void)userdata;
        assert_int_equal(sscanf(value, "job-%d", &i), 1);
        free(value);
        n = asprintf(&verdict, "verdict-%d", i);
        assert_true(n > 0);
        snprintf(reason, sizeof(reason), "bad job %d", i);
        queue_job_set_tag(job, 1000 + msg->offset);
        queue_job_finish(job, verdict, (size_t)n, NULL, i % 10 == 3 ? reason : NULL);
}

static int on_published(enum queue_publish_phase phase, const struct queue_published *pub, size_t n,
                        void *userdata)
{
        struct session *s = userdata;

        for (size_t i = 0; i < n; i++) {
                assert_true(pub[i].offset >= 0);
                assert_false(pub[i].skipped);
                assert_non_null(pub[i].verdict);
                assert_int_equal(pub[i].tag, 1000 + pub[i].offset);
        }
        switch (phase) {
        case QUEUE_PUBLISH_PENDING:
                s->pending += (int)n;
                if (s->refuse > 0) {
                        s->refuse--;
                        return -EIO;
                }
                break;
        case QUEUE_PUBLISH_ABORTED:
                s->aborted += (int)n;
                break;
        case QUEUE_PUBLISH_COMMITTED:
                s->published += (int)n;
                break;
        case _QUEUE_PUBLISH_MAX:
        case _QUEUE_PUBLISH_INVALID:
                fail();
        }
        return 0;
}

static void test_eos_publishes_each_job_once(void **state)
{
        struct queue_mock *mock = qt_mock(3, 4);
        struct queue_eos_conf ec;
        struct queue_eos *eos = NULL;
        struct queue_eos_stats st;
        struct session s = {0};
        struct gv_err err = {0};
        struct qt_read verdicts, dlq;
        int64_t deadline;

        (void)state;
        qt_produce(mock, QUEUE_TOPIC_JOBS, 0, 40);
        queue_eos_conf_default(&ec);
        ec.kafka = qt_conf(mock);
        ec.transactional_id = "test-1";
        ec.session_timeout_ms = QT_SESSION_MS;
        ec.max_in_flight = 4;
        ec.batch_max = 7;
        assert_ok(queue_eos_new(&ec, judge_now, on_published, &s, &eos, &err), &err);
        deadline = qt_now_ms() + 30000;
        while (s.published < 40 && qt_now_ms() < deadline)
                assert_ok(queue_eos_poll(eos, 200, &err), &err);
        assert_int_equal(s.published, 40);
        assert_ok(queue_eos_close(eos, &err), &err);
        queue_eos_stats(eos, &st);
        assert_true(st.mock_compat);
        assert_int_equal(st.received, 40);
        assert_int_equal(st.handed, 40);
        assert_int_equal(st.published, 40);
        assert_int_equal(st.skipped, 0);
        assert_true(st.transactions >= 40 / 7);
        assert_int_equal(st.aborts, 0);
        assert_int_equal(s.pending, 40);
        queue_eos_free(eos);

        qt_read_topic(mock, QUEUE_TOPIC_VERDICTS, &verdicts);
        assert_int_equal(qt_count_once(&verdicts, 40, "verdict-"), 0);
        for (size_t i = 0; i < verdicts.n; i++) {
                char key[32];

                assert_int_equal(verdicts.partitions[i], verdicts.job_partitions[i]);
                snprintf(key, sizeof(key), "k-%s", verdicts.values[i] + strlen("verdict-"));
                assert_string_equal(verdicts.keys[i], key);
        }
        qt_read_topic(mock, QUEUE_TOPIC_DLQ, &dlq);
        assert_int_equal(dlq.n, 4); /* jobs 3, 13, 23, 33 */
        for (size_t i = 0; i < dlq.n; i++)
                assert_int_equal(atoi(dlq.values[i] + strlen("job-")) % 10, 3);
        qt_read_done(&verdicts);
        qt_read_done(&dlq);
        queue_mock_free(mock);
}

/* A refusal at PENDING aborts the transaction; its jobs come again in the next one. */
static void test_publish_hook_refusal_aborts(void **state)
{
        struct queue_mock *mock = qt_mock(1, 1);
        struct queue_eos_conf ec;
        struct queue_eos *eos = NULL;
        struct queue_eos_stats st;
        struct session s = {.refuse = 1};
        struct gv_err err = {0};
        int64_t deadline;

        (void)state;
        qt_produce(mock, QUEUE_TOPIC_JOBS, 0, 5);
        queue_eos_conf_default(&ec);
        ec.kafka = qt_conf(mock);
        ec.transactional_id = "test-refuse";
        ec.session_timeout_ms = QT_SESSION_MS;
        ec.max_in_flight = 5;
        ec.linger_ms = 200; /* one batch of 5 */
        assert_ok(queue_eos_new(&ec, judge_now, on_published, &s, &eos, &err), &err);
        deadline = qt_now_ms() + 30000;
        while (s.published < 5 && qt_now_ms() < deadline)
                assert_ok(queue_eos_poll(eos, 200, &err), &err);
        assert_int_equal(s.published, 5);
        assert_int_equal(s.aborted, 5);
        assert_int_equal(s.pending, 10);
        queue_eos_stats(eos, &st);
        assert_int_equal(st.aborts, 1);
        assert_int_equal(st.transactions, 1);
        assert_ok(queue_eos_close(eos, &err), &err);
        queue_eos_free(eos);
        queue_mock_free(mock);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mock_commands),
                cmocka_unit_test(test_producer_reader_round_trip),
                cmocka_unit_test(test_conf_errors_name_the_key),
                cmocka_unit_test(test_eos_publishes_each_job_once),
                cmocka_unit_test(test_publish_hook_refusal_aborts),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
