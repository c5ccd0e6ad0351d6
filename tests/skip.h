/* SPDX-License-Identifier: MIT */
/*
 * A skipped cmocka test must show as skipped in ctest, never as passed: cmocka's skip() counts
 * as success in the program's exit status. gv_skip() skips and remembers it; gv_run_group()
 * runs the group and exits with the failures, else 77 (ctest's SKIP_RETURN_CODE) when any test
 * was skipped, else 0. Include after <cmocka.h>.
 */
#pragma once

#include <stdio.h>

static int gv_tests_skipped;

#define gv_skip()                   \
        do {                        \
                gv_tests_skipped++; \
                skip();             \
        } while (0)

static inline int gv_skip_status(int failed)
{
        if (failed)
                return failed;
        if (gv_tests_skipped) {
                fprintf(stderr, "%d test(s) skipped: the whole program reports skipped\n",
                        gv_tests_skipped);
                return 77;
        }
        return 0;
}

#define gv_run_group(tests, setup, teardown) \
        gv_skip_status(cmocka_run_group_tests(tests, setup, teardown))
