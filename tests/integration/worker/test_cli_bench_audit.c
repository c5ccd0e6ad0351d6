/* SPDX-License-Identifier: MIT */
/*
 * gavel bench audit, run as an operator runs it with a tiny --jobs: one JSON object whose figures
 * are there and sane (positive, percentiles in order, a job of about 1 KiB), the table, the
 * database directory removed afterwards, and a bad --jobs refused with a usage error.
 */
#include <dirent.h>

/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#include "tests/integration/worker/gjson.h"

#define BENCH_DIR_PREFIX "gavel-bench-audit-"

/* How many directories the bench leaves in /tmp (a run of it in progress elsewhere included). */
static int bench_dirs(void)
{
        DIR *d = opendir("/tmp");
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                n += !strncmp(de->d_name, BENCH_DIR_PREFIX, strlen(BENCH_DIR_PREFIX));
        closedir(d);
        return n;
}

static void test_json_figures(void **state)
{
        char dir[64], *err;
        int before = bench_dirs();
        json_t *json;

        (void)state;
        gproc_tmpdir(dir, sizeof(dir));
        json = gjson_run(dir, "bench",
                         (const char *[]){"bench", "audit", "--jobs", "12", "--json", NULL},
                         120000);
        err = gproc_slurp(GPROC_ERR(dir, "bench"));
        assert_string_equal(err, "");
        assert_int_equal(gjson_num(json, "jobs"), 12);
        assert_int_equal(gjson_num(json, "records"), 12 * 20);
        assert_int_equal(gjson_num(json, "runs"), 5);
        /* a job with a ~1 KiB source, a verdict with 8 tests */
        assert_in_range(gjson_num(json, "job_bytes"), 1024, 1400);
        assert_in_range(gjson_num(json, "verdict_bytes"), 200, 2000);
        assert_true(gjson_num(json, "records_per_s") > 0);
        assert_true(gjson_num(json, "jobs_per_s") > 0);
        assert_true(gjson_num(json, "record_queue_p50_us") > 0);
        assert_true(gjson_num(json, "record_queue_p50_us") <=
                    gjson_num(json, "record_queue_p99_us"));
        assert_true(gjson_num(json, "pending_p50_ms") > 0);
        assert_true(gjson_num(json, "pending_p50_ms") <= gjson_num(json, "pending_p95_ms"));
        assert_true(gjson_num(json, "pending_p95_ms") <= gjson_num(json, "pending_p99_ms"));
        /* a job's life includes its durable verdict: not much more than 1000 / p50 a second */
        assert_true(gjson_num(json, "jobs_per_s") <= 2000.0 / gjson_num(json, "pending_p50_ms"));
        assert_int_equal(bench_dirs(), before);
        json_decref(json);
        free(err);
        gproc_rmdir(dir);
}

static void test_table(void **state)
{
        char dir[64], *out;

        (void)state;
        gproc_tmpdir(dir, sizeof(dir));
        assert_int_equal(gproc_run(dir, "bench",
                                   (const char *[]){"bench", "audit", "--jobs", "10", NULL},
                                   120000),
                         0);
        out = gproc_slurp(GPROC_OUT(dir, "bench"));
        assert_non_null(strstr(out, "records/s"));
        assert_non_null(strstr(out, "durable verdict"));
        assert_non_null(strstr(out, "jobs/s"));
        free(out);
        gproc_rmdir(dir);
}

static void test_bad_jobs(void **state)
{
        static const char *const bad[] = {"9", "x", "-3", "100001"};
        char dir[64], *err;

        (void)state;
        gproc_tmpdir(dir, sizeof(dir));
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(gproc_run(dir, "bad",
                                           (const char *[]){"bench", "audit", "--jobs", bad[i],
                                                            "--json", NULL},
                                           10000),
                                 2);
                err = gproc_slurp(GPROC_ERR(dir, "bad"));
                if (!strstr(err, "--jobs"))
                        fail_msg("--jobs %s: %s", bad[i], err);
                free(err);
                unlink(GPROC_ERR(dir, "bad")); /* the next run appends */
        }
        gproc_rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_figures),
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_bad_jobs),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
