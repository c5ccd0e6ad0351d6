/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 of the str gavel writes: what is well-formed, what the sanitiser makes of what is not
 * (U+FFFD per maximal subpart, bounded at a character), and encoders that refuse the rest.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "schema/schema.h"

#define FFFD "\xef\xbf\xbd"

static void test_valid_accepts_well_formed_text_only(void **state)
{
        static const char *const good[] = {"",
                                           "abc",
                                           "\xc3\xa9",
                                           "\xe2\x82\xac",
                                           "\xf0\x9f\x98\x80",
                                           "\xf4\x8f\xbf\xbf",
                                           "\xed\x9f\xbf"};
        static const char *const bad[] = {"\xff",
                                          "\xfe",
                                          "\x80",
                                          "\xc0\xaf",
                                          "\xc1\xbf",
                                          "\xe0\x80\xaf",
                                          "\xed\xa0\x80",
                                          "\xf4\x90\x80\x80",
                                          "\xf5\x80\x80\x80",
                                          "\xe2\x82",
                                          "a\xc3"};

        (void)state;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                assert_true(schema_utf8_valid(good[i], strlen(good[i])));
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_false(schema_utf8_valid(bad[i], strlen(bad[i])));
        assert_false(schema_utf8_valid("a\0b", 3));
}

static void test_dup_replaces_each_maximal_subpart(void **state)
{
        char *s;

        (void)state;
        s = schema_utf8_dup("#error \xff\xfe", 9, 100);
        assert_string_equal(s, "#error " FFFD FFFD);
        free(s);
        /* a truncated 3-byte sequence is one replacement, then the next character */
        s = schema_utf8_dup("\xe2\x82x", 3, 100);
        assert_string_equal(s, FFFD "x");
        free(s);
        s = schema_utf8_dup("a\0b", 3, 100);
        assert_string_equal(s, "a" FFFD "b");
        free(s);
        s = schema_utf8_dup("\xc3\xa9t\xc3\xa9", 5, 100);
        assert_string_equal(s, "\xc3\xa9t\xc3\xa9");
        free(s);
}

static void test_dup_is_bounded_at_a_character(void **state)
{
        char *s;

        (void)state;
        s = schema_utf8_dup("ab\xc3\xa9", 4, 3); /* é does not fit whole: cut before it */
        assert_string_equal(s, "ab");
        free(s);
        s = schema_utf8_dup("\xff\xff\xff", 3, 7);
        assert_string_equal(s, FFFD FFFD);
        free(s);
}

static void test_encoders_refuse_a_str_that_is_not_utf8(void **state)
{
        struct verdict v = {.v = SCHEMA_VERSION, .id = (char *)"s-1", .verdict = SCHEMA_CE};
        struct progress p = {
                .v = SCHEMA_VERSION, .id = (char *)"s-\xff", .stage = SCHEMA_STAGE_DONE};
        void *buf;
        size_t len;

        (void)state;
        v.compile.present = true;
        v.compile.log = (char *)"x.c:1:2: error: #error \xff\xfe";
        assert_int_equal(schema_verdict_encode(&v, &buf, &len), -EILSEQ);
        v.compile.log = schema_utf8_dup("#error \xff\xfe", 9, 64);
        assert_int_equal(schema_verdict_encode(&v, &buf, &len), 0);
        free(buf);
        free(v.compile.log);
        assert_int_equal(schema_progress_encode(&p, &buf, &len), -EILSEQ);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid_accepts_well_formed_text_only),
                cmocka_unit_test(test_dup_replaces_each_maximal_subpart),
                cmocka_unit_test(test_dup_is_bounded_at_a_character),
                cmocka_unit_test(test_encoders_refuse_a_str_that_is_not_utf8),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
