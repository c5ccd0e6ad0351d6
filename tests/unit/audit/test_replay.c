// SPDX-License-Identifier: MIT
/* replay's own decisions: which verdicts agree, and the job a requeue sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "worker/audit/replay.h"

static struct verdict_test tests_a[3] = {
        {.verdict = SCHEMA_AC, .time_ms = 10}, {.verdict = SCHEMA_AC}, {.verdict = SCHEMA_WA}};

static struct verdict make(enum schema_code code, double score, struct verdict_test *tests,
                           size_t n)
{
        return (struct verdict){.v = 1,
                                .verdict = code,
                                .score = score,
                                .compile = {.present = true, .ok = true},
                                .tests = tests,
                                .n_tests = n};
}

static void test_same_verdict_ignores_time_memory_and_messages(void **state)
{
        struct verdict_test b[3];
        struct verdict x, y;
        char buf[128];

        (void)state;
        memcpy(b, tests_a, sizeof(b));
        b[0].time_ms = 999;
        b[1].memory_kib = 12345;
        b[2].checker_message = "token 1 differs";
        x = make(SCHEMA_WA, 2, tests_a, 3);
        y = make(SCHEMA_WA, 2, b, 3);
        y.time_ms = 77;
        y.worker = "elsewhere";
        assert_true(replay_same_verdict(&x, &y, buf, sizeof(buf)));
        assert_string_equal(buf, "");
}

static void test_each_difference_is_named(void **state)
{
        struct verdict_test b[3];
        struct verdict x, y;
        char buf[256];

        (void)state;
        memcpy(b, tests_a, sizeof(b));
        b[1].verdict = SCHEMA_TLE;
        x = make(SCHEMA_WA, 2, tests_a, 3);
        y = make(SCHEMA_TLE, 1, b, 3);
        assert_false(replay_same_verdict(&x, &y, buf, sizeof(buf)));
        assert_string_equal(buf, "verdict WA -> TLE; score 2 -> 1; test 2: AC -> TLE");

        y = make(SCHEMA_CE, 0, NULL, 0);
        y.compile.ok = false;
        assert_false(replay_same_verdict(&x, &y, buf, sizeof(buf)));
        assert_string_equal(buf, "verdict WA -> CE; score 2 -> 0; compile ok -> failed; "
                                 "tests 3 -> 0");
}

static void test_many_differing_tests_are_counted_and_cut_to_size(void **state)
{
        struct verdict_test a[20] = {0}, b[20] = {0};
        struct verdict x, y;
        char buf[64];

        (void)state;
        for (int i = 0; i < 20; i++)
                b[i].verdict = SCHEMA_WA;
        x = make(SCHEMA_AC, 20, a, 20);
        y = make(SCHEMA_AC, 20, b, 20);
        assert_false(replay_same_verdict(&x, &y, buf, sizeof(buf)));
        assert_true(strlen(buf) == sizeof(buf) - 1);
        assert_true(strncmp(buf, "test 1: AC -> WA; test 2: AC -> WA", 34) == 0);

        {
                char big[1024];

                assert_false(replay_same_verdict(&x, &y, big, sizeof(big)));
                assert_non_null(strstr(big, "test 8: AC -> WA; 12 more tests differ"));
        }
}

static void test_requeue_increments_attempt_and_marks_rejudge(void **state)
{
        struct job_test t = {
                .in = (uint8_t *)"1 2\n", .in_len = 4, .out = (uint8_t *)"3\n", .out_len = 2};
        struct job job = {.v = 1,
                          .id = "s-7",
                          .lang = "c",
                          .source = (uint8_t *)"int main(){}",
                          .source_len = 12,
                          .tests = &t,
                          .n_tests = 1,
                          .attempt = 2};
        struct job back;
        void *raw, *again;
        size_t len, again_len;

        (void)state;
        assert_int_equal(schema_job_encode(&job, &raw, &len), 0);
        assert_int_equal(replay_requeue_job(raw, len, &again, &again_len, NULL), 0);
        assert_int_equal(schema_job_decode(again, again_len, NULL, &back, NULL), 0);
        assert_int_equal(back.attempt, 3);
        assert_true(back.rejudge);
        assert_string_equal(back.id, "s-7");
        assert_int_equal(back.n_tests, 1);
        assert_memory_equal(back.tests[0].in, "1 2\n", 4);
        job_done(&back);
        free(raw);
        free(again);
}

static void test_requeue_refuses_bytes_that_are_no_job(void **state)
{
        struct gv_err err = {0};
        void *buf = NULL;
        size_t len = 0;

        (void)state;
        assert_int_equal(replay_requeue_job("\x81\xa1v\x01", 4, &buf, &len, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "id"));
        assert_null(buf);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_same_verdict_ignores_time_memory_and_messages),
                cmocka_unit_test(test_each_difference_is_named),
                cmocka_unit_test(test_many_differing_tests_are_counted_and_cut_to_size),
                cmocka_unit_test(test_requeue_increments_attempt_and_marks_rejudge),
                cmocka_unit_test(test_requeue_refuses_bytes_that_are_no_job),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
