/* SPDX-License-Identifier: MIT */
/*
 * worker/judge/score.c, without root or containers: which limits a test runs under, which
 * tests still matter once subtasks are doomed, and how tests become a verdict and a score.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "worker/judge/judge-internal.h"

static void test_score_limits_come_from_job_then_problem_then_default(void **state)
{
        struct job_limits job = {.memory_kib = 1024},
                          problem = {.time_ms = 2000, .memory_kib = 9999, .output_kib = 7},
                          def = {.time_ms = 1000, .memory_kib = 262144, .output_kib = 65536};
        struct lang lang = {.time_factor = 1.5, .extra_memory_kib = 100, .extra_pids = 3};
        struct sandbox_limits l;

        (void)state;
        l = judge__run_limits(&job, &problem, &def, &lang);
        assert_int_equal(l.time_ms, 3000);            /* the problem's, times 1.5 */
        assert_int_equal(l.wall_ms, 2 * 3000 + 1000); /* nobody set one */
        assert_int_equal(l.memory_kib, 1024 + 100);   /* the job's, plus the language's */
        assert_int_equal(l.output_kib, 7);
        assert_int_equal(l.pids, 64 + 3);

        job.wall_ms = 500;
        lang.time_factor = 0; /* unset: 1 */
        l = judge__run_limits(&job, &(struct job_limits){0}, &def, &lang);
        assert_int_equal(l.time_ms, 1000);
        assert_int_equal(l.wall_ms, 500);
        assert_int_equal(l.output_kib, 65536);
}

static void test_score_a_limit_over_the_maximum_is_the_jobs_fault(void **state)
{
        struct job_limits max = {
                .time_ms = 60000, .wall_ms = 120000, .memory_kib = 2097152, .output_kib = 1048576};
        struct gv_err err = {0};

        (void)state;
        assert_int_equal(judge__check_limits(&(struct job_limits){.time_ms = 60000}, &max, &err),
                         0);
        assert_int_equal(
                judge__check_limits(&(struct job_limits){.memory_kib = 2097153}, &max, &err),
                -EBADMSG);
        assert_string_equal(err.msg,
                            "limits.memory_kib: 2097153 is over this worker's maximum of 2097152");
}

/* Tests 1..4; subtask a = {1, 2}, b = {3} depends on a, c = {4}. */
static size_t a_tests[] = {0, 1}, b_tests[] = {2}, c_tests[] = {3}, b_deps[] = {0};
static struct problem_subtask subtasks[] = {
        {.name = (char *)"a", .points = 30, .tests = a_tests, .n_tests = 2},
        {.name = (char *)"b",
         .points = 50,
         .tests = b_tests,
         .n_tests = 1,
         .depends = b_deps,
         .n_depends = 1},
        {.name = (char *)"c", .points = 20, .tests = c_tests, .n_tests = 1},
};
static struct problem_test tests4[4];
static struct problem with_subtasks = {
        .tests = tests4, .n_tests = 4, .subtasks = subtasks, .n_subtasks = 3};

static void test_score_a_doomed_subtask_skips_its_tests_and_its_dependents(void **state)
{
        struct judge__plan plan;

        (void)state;
        judge__plan_init(&plan, &with_subtasks);
        for (size_t i = 0; i < 4; i++)
                assert_true(judge__plan_needed(&plan, i));
        judge__plan_failed(&plan, 0);               /* a fails: so can b, which depends on it */
        assert_false(judge__plan_needed(&plan, 1)); /* only in a */
        assert_false(judge__plan_needed(&plan, 2)); /* only in b */
        assert_true(judge__plan_needed(&plan, 3));  /* c still scores */
        judge__plan_done(&plan);

        /* without subtasks every test matters, whatever failed */
        judge__plan_init(&plan, &(struct problem){.tests = tests4, .n_tests = 4});
        judge__plan_failed(&plan, 0);
        assert_true(judge__plan_needed(&plan, 1));
        judge__plan_done(&plan);
}

static void test_score_subtasks_score_with_their_dependencies(void **state)
{
        struct verdict_test t[4] = {
                {.verdict = SCHEMA_AC, .time_ms = 5, .memory_kib = 100},
                {.verdict = SCHEMA_AC, .time_ms = 9, .memory_kib = 50},
                {.verdict = SCHEMA_AC},
                {.verdict = SCHEMA_WA, .time_ms = 3, .memory_kib = 700},
        };
        struct verdict v = {.tests = t, .n_tests = 4};

        (void)state;
        judge__aggregate(&with_subtasks, &v);
        assert_int_equal(v.verdict, SCHEMA_WA);
        assert_true(v.score == 80 && v.max_score == 100); /* a and b; not c */
        assert_int_equal(v.time_ms, 9);
        assert_int_equal(v.memory_kib, 700);

        t[1].verdict = SCHEMA_TLE; /* a lost: b scores nothing either, though its test passed */
        t[3].verdict = SCHEMA_AC;
        v = (struct verdict){.tests = t, .n_tests = 4};
        judge__aggregate(&with_subtasks, &v);
        assert_int_equal(v.verdict, SCHEMA_TLE);
        assert_true(v.score == 20);
}

static void test_score_tests_are_worth_their_points_or_one_each(void **state)
{
        struct problem_test pts[3] = {{.points = 10}, {.points = 0}, {.points = 90}};
        struct verdict_test t[3] = {
                {.verdict = SCHEMA_AC}, {.verdict = SCHEMA_AC}, {.verdict = SCHEMA_SKIPPED}};
        struct verdict v = {.tests = t, .n_tests = 3};

        (void)state;
        judge__aggregate(&(struct problem){.tests = pts, .n_tests = 3}, &v);
        assert_int_equal(v.verdict, SCHEMA_AC); /* a skipped test is no failure */
        assert_true(v.score == 10 && v.max_score == 100);

        v = (struct verdict){.tests = t, .n_tests = 3};
        judge__aggregate(&(struct problem){.tests = tests4, .n_tests = 3}, &v);
        assert_true(v.score == 2 && v.max_score == 3);
}

static void test_score_a_system_error_names_its_test(void **state)
{
        struct verdict_test t[2] = {
                {.verdict = SCHEMA_AC},
                {.verdict = SCHEMA_SE, .checker_message = (char *)"checker failed: exit 3"}};
        struct verdict v = {.tests = t, .n_tests = 2};

        (void)state;
        judge__aggregate(&(struct problem){.tests = tests4, .n_tests = 2}, &v);
        assert_int_equal(v.verdict, SCHEMA_SE);
        assert_string_equal(v.reason, "test 2: checker failed: exit 3");
        free(v.reason);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_score_limits_come_from_job_then_problem_then_default),
                cmocka_unit_test(test_score_a_limit_over_the_maximum_is_the_jobs_fault),
                cmocka_unit_test(test_score_a_doomed_subtask_skips_its_tests_and_its_dependents),
                cmocka_unit_test(test_score_subtasks_score_with_their_dependencies),
                cmocka_unit_test(test_score_tests_are_worth_their_points_or_one_each),
                cmocka_unit_test(test_score_a_system_error_names_its_test),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
