/* SPDX-License-Identifier: MIT */
/*
 * gavel bench sandbox, run as an operator runs it with a tiny --runs: one JSON object whose
 * figures are there and sane (positive, p50 <= p95, the ratios what the medians say, an init of
 * a few hundred KiB), the table with every row, and a bad --runs refused with a usage error.
 */
#include <math.h>

/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#include "tests/integration/worker/gjson.h"

static void test_json_figures(void **state)
{
        static const char *const p50s[] = {"bare_p50_us", "spawn_p50_us",  "container_p50_us",
                                           "exec_p50_us", "create_p50_us", "exec_captured_p50_us"};
        char dir[64];
        json_t *json;

        (void)state;
        gproc_tmpdir(dir, sizeof(dir));
        json = gjson_run(dir, "bench",
                         (const char *[]){"bench", "sandbox", "--runs", "20", "--json", NULL},
                         120000);
        assert_int_equal(gjson_num(json, "runs"), 20);
        for (size_t i = 0; i < sizeof(p50s) / sizeof(p50s[0]); i++)
                assert_true(gjson_num(json, p50s[i]) > 0);
        assert_true(gjson_num(json, "bare_p50_us") <= gjson_num(json, "bare_p95_us"));
        assert_true(gjson_num(json, "container_p50_us") <= gjson_num(json, "container_p95_us"));
        assert_true(gjson_num(json, "create_p50_us") <= gjson_num(json, "create_p95_us"));
        /* the exec is part of the whole cycle */
        assert_true(gjson_num(json, "exec_p50_us") <= gjson_num(json, "container_p50_us"));
        assert_true(fabs(gjson_num(json, "ratio") - gjson_num(json, "container_p50_us") /
                                                            gjson_num(json, "bare_p50_us")) < 0.01);
        assert_in_range(gjson_num(json, "init_rss_kib"), 100, 64 * 1024);
        json_decref(json);
        gproc_rmdir(dir);
}

static void test_table_and_usage(void **state)
{
        static const char *const rows[] = {"(a) bare fork+exec+wait",
                                           "(b) pooled container",
                                           "of which sandbox_exec",
                                           "output captured",
                                           "(c) container create+destroy",
                                           "ratio b/a",
                                           "init RSS"};
        char dir[64], *out;

        (void)state;
        gproc_tmpdir(dir, sizeof(dir));
        assert_int_equal(gproc_run(dir, "table",
                                   (const char *[]){"bench", "sandbox", "--runs", "10", NULL},
                                   120000),
                         0);
        out = gproc_slurp(GPROC_OUT(dir, "table"));
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
                if (!strstr(out, rows[i]))
                        fail_msg("no row '%s' in:\n%s", rows[i], out);
        free(out);
        assert_int_equal(gproc_run(dir, "bad",
                                   (const char *[]){"bench", "sandbox", "--runs", "3", NULL},
                                   10000),
                         2);
        out = gproc_slurp(GPROC_ERR(dir, "bad"));
        assert_non_null(strstr(out, "--runs"));
        free(out);
        gproc_rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_figures),
                cmocka_unit_test(test_table_and_usage),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
