/* SPDX-License-Identifier: MIT */
/*
 * schema/err.h: the error convention. gv_err_prefix passes the caller's code on, also when err
 * is NULL (it used to return -EINVAL then, whatever the error was).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "schema/err.h"

static void test_err_prefix_returns_the_code_it_is_given(void **state)
{
        struct gv_err err = {0};

        (void)state;
        assert_int_equal(gv_err_set(&err, -ENOENT, "no such file"), -ENOENT);
        assert_int_equal(gv_err_prefix(&err, -EBADMSG, "tests[%d].", 3), -EBADMSG);
        assert_string_equal(err.msg, "tests[3].no such file");
        assert_int_equal(err.code, -EBADMSG);
}

static void test_err_prefix_without_err_still_returns_the_code(void **state)
{
        (void)state;
        assert_int_equal(gv_err_prefix(NULL, -ENOSPC, "cache: "), -ENOSPC);
        assert_int_equal(gv_err_prefix(NULL, -E2BIG, "x"), -E2BIG);
}

static void test_err_prefix_keeps_the_message_bounded(void **state)
{
        struct gv_err err = {0};
        char long_pre[400];

        (void)state;
        memset(long_pre, 'p', sizeof(long_pre) - 1);
        long_pre[sizeof(long_pre) - 1] = '\0';
        gv_err_set(&err, -EINVAL, "tail");
        assert_int_equal(gv_err_prefix(&err, -EINVAL, "%s", long_pre), -EINVAL);
        assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_err_prefix_returns_the_code_it_is_given),
                cmocka_unit_test(test_err_prefix_without_err_still_returns_the_code),
                cmocka_unit_test(test_err_prefix_keeps_the_message_bounded),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
