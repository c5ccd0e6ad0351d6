// SPDX-License-Identifier: MIT
/*
 * worker/judge/checker.c, built-in checkers: tokens, exact, lines and float on the edge cases that
 * decide verdicts (empty output, trailing spaces, CRLF, NUL bytes, huge tokens, float corner
 * values, extra and missing output), and the messages they give.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "worker/judge/checker.h"

static struct checker_outcome check_n(enum schema_checker kind, double eps, const char *out,
                                      size_t out_len, const char *ans, size_t ans_len)
{
        struct checker_outcome o;

        memset(&o, 0x5a, sizeof(o)); /* every field must be written */
        checker_builtin(kind, eps, (const uint8_t *)out, out_len, (const uint8_t *)ans, ans_len,
                        &o);
        assert_true(o.result == CHECKER_AC || o.result == CHECKER_WA);
        assert_non_null(memchr(o.message, '\0', sizeof(o.message)));
        if (o.result == CHECKER_AC)
                assert_string_equal(o.message, "");
        else
                assert_true(o.message[0] != '\0');
        return o;
}

static struct checker_outcome check(enum schema_checker kind, const char *out, const char *ans)
{
        return check_n(kind, 0, out, strlen(out), ans, strlen(ans));
}

static void expect_ac(enum schema_checker kind, const char *out, const char *ans)
{
        struct checker_outcome o = check(kind, out, ans);

        if (o.result != CHECKER_AC)
                fail_msg("%s: expected AC for out=\"%s\" ans=\"%s\", got WA: %s",
                         schema_checker_name(kind), out, ans, o.message);
}

static void expect_wa(enum schema_checker kind, const char *out, const char *ans,
                      const char *message)
{
        struct checker_outcome o = check(kind, out, ans);

        if (o.result != CHECKER_WA)
                fail_msg("%s: expected WA for out=\"%s\" ans=\"%s\", got AC",
                         schema_checker_name(kind), out, ans);
        if (message && strcmp(o.message, message))
                fail_msg("%s: message \"%s\", expected \"%s\"", schema_checker_name(kind),
                         o.message, message);
}

static const enum schema_checker all_kinds[] = {SCHEMA_CHECKER_TOKENS, SCHEMA_CHECKER_EXACT,
                                                SCHEMA_CHECKER_LINES, SCHEMA_CHECKER_FLOAT,
                                                SCHEMA_CHECKER_DEFAULT};

static void test_empty_output_and_empty_answer_agree(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(all_kinds) / sizeof(all_kinds[0]); i++) {
                struct checker_outcome o;

                expect_ac(all_kinds[i], "", "");
                checker_builtin(all_kinds[i], 0, NULL, 0, NULL, 0, &o);
                assert_int_equal(o.result, CHECKER_AC);
        }
}

static void test_empty_versus_non_empty_is_wa(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(all_kinds) / sizeof(all_kinds[0]); i++) {
                expect_wa(all_kinds[i], "", "5\n", NULL);
                expect_wa(all_kinds[i], "5\n", "", NULL);
        }
        expect_wa(SCHEMA_CHECKER_TOKENS, "", "5\n", "output ends early at token 1: expected '5'");
        expect_wa(SCHEMA_CHECKER_TOKENS, "5\n", "", "expected no output, found '5'");
        expect_wa(SCHEMA_CHECKER_LINES, "  \n\n", "x", "output ends early at line 1: expected 'x'");
        expect_wa(SCHEMA_CHECKER_EXACT, "", "5\n",
                  "output ends early at byte 1 (line 1, column 1): expected '5\\n'");
        /* whitespace only is empty for tokens and lines, not for exact */
        expect_ac(SCHEMA_CHECKER_TOKENS, " \n\t\r\n", "");
        expect_ac(SCHEMA_CHECKER_LINES, "\n\n\n", "");
        expect_wa(SCHEMA_CHECKER_EXACT, "\n", "", "extra output after byte 0: '\\n'");
}

static void test_tokens_ignore_whitespace_and_report_the_first_difference(void **state)
{
        (void)state;
        expect_ac(SCHEMA_CHECKER_TOKENS, "1 2\n3\n", "1\n2 3");
        expect_ac(SCHEMA_CHECKER_TOKENS, "  1\t\t2\r\n3\v\f", "1 2 3\n");
        expect_wa(SCHEMA_CHECKER_TOKENS, "1 2 6", "1 2 5", "token 3: expected '5', found '6'");
        expect_wa(SCHEMA_CHECKER_TOKENS, "12", "1 2", "token 1: expected '1', found '12'");
        expect_wa(SCHEMA_CHECKER_TOKENS, "1 2 3", "1 2", "extra output after token 2: '3'");
        expect_wa(SCHEMA_CHECKER_TOKENS, "1 2", "1 2 3",
                  "output ends early at token 3: expected '3'");
        /* tokens compare as text: no numeric or case folding */
        expect_wa(SCHEMA_CHECKER_TOKENS, "1.0", "1", NULL);
        expect_wa(SCHEMA_CHECKER_TOKENS, "yes", "YES", NULL);
        /* unknown kinds fall back to tokens rather than failing */
        assert_int_equal(check((enum schema_checker)99, "1  2", "1 2").result, CHECKER_AC);
}

static void test_trailing_spaces(void **state)
{
        (void)state;
        expect_ac(SCHEMA_CHECKER_TOKENS, "1 2   \n\n\n", "1 2");
        expect_ac(SCHEMA_CHECKER_LINES, "a b  \t\nc   \n\n  \n", "a b\nc\n");
        /* leading and inner whitespace count for lines */
        expect_wa(SCHEMA_CHECKER_LINES, " a b\nc", "a b\nc", NULL);
        expect_wa(SCHEMA_CHECKER_LINES, "a  b\nc", "a b\nc",
                  "line 1: expected 'a b', found 'a  b'");
        /* a blank line in the middle is a line */
        expect_wa(SCHEMA_CHECKER_LINES, "a\n\nb", "a\nb", "line 2: expected 'b', found ''");
        expect_wa(SCHEMA_CHECKER_LINES, "a\nb\nc", "a\nb", "extra output after line 2: 'c'");
        expect_wa(SCHEMA_CHECKER_LINES, "a\nb", "a\nb\nc",
                  "output ends early at line 3: expected 'c'");
        expect_wa(SCHEMA_CHECKER_EXACT, "5 \n", "5\n",
                  "byte 2 (line 1, column 2) differs: expected '5\\n', found '5 \\n'");
}

static void test_crlf_is_lf_for_lines_and_tokens(void **state)
{
        (void)state;
        expect_ac(SCHEMA_CHECKER_LINES, "a b\r\nc\r\n", "a b\nc\n");
        expect_ac(SCHEMA_CHECKER_LINES, "a b\nc\n", "a b\r\nc\r\n\r\n");
        expect_ac(SCHEMA_CHECKER_TOKENS, "1\r\n2\r\n", "1\n2\n");
        expect_ac(SCHEMA_CHECKER_FLOAT, "1.5\r\n", "1.5\n");
        /* a carriage return inside a line is a character */
        expect_wa(SCHEMA_CHECKER_LINES, "a\rb\n", "ab\n", "line 1: expected 'ab', found 'a\\rb'");
        /* exact is exact */
        expect_wa(SCHEMA_CHECKER_EXACT, "a\r\n", "a\n", NULL);
}

static void test_nul_bytes_are_ordinary_bytes(void **state)
{
        struct checker_outcome o;

        (void)state;
        o = check_n(SCHEMA_CHECKER_TOKENS, 0, "1\0002", 3, "1", 1);
        assert_int_equal(o.result, CHECKER_WA);
        assert_string_equal(o.message, "token 1: expected '1', found '1\\x002'");
        assert_int_equal(check_n(SCHEMA_CHECKER_TOKENS, 0, "a\0b c", 5, "a\0b  c\n", 7).result,
                         CHECKER_AC);
        o = check_n(SCHEMA_CHECKER_EXACT, 0, "ab\0", 3, "ab", 2);
        assert_string_equal(o.message, "extra output after byte 2: '\\0'");
        o = check_n(SCHEMA_CHECKER_EXACT, 0, "a\0c", 3, "a\0b", 3);
        assert_string_equal(o.message, "byte 3 (line 1, column 3) differs: expected 'a\\0b', "
                                       "found 'a\\0c'");
        assert_int_equal(check_n(SCHEMA_CHECKER_EXACT, 0, "a\0c", 3, "a\0c", 3).result, CHECKER_AC);
        o = check_n(SCHEMA_CHECKER_LINES, 0, "x\n\0\n", 4, "x\n\n", 3);
        assert_string_equal(o.message, "extra output after line 1: '\\0'");
        o = check_n(SCHEMA_CHECKER_FLOAT, 0, "1\0", 2, "1", 1);
        assert_int_equal(o.result, CHECKER_WA);
}

static void test_quotes_are_short_and_escaped(void **state)
{
        char big[200];
        struct checker_outcome o;

        (void)state;
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        o = check(SCHEMA_CHECKER_TOKENS, big, "y");
        assert_string_equal(
                o.message,
                "token 1: expected 'y', found 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'...");
        o = check(SCHEMA_CHECKER_TOKENS, "\x01\x7f\xff'\\", "a");
        assert_string_equal(o.message, "token 1: expected 'a', found '\\x01\\x7f\\xff\\'\\\\'");
        o = check(SCHEMA_CHECKER_EXACT, "\xd0\x96", "a");
        assert_string_equal(o.message, "byte 1 (line 1, column 1) differs: expected 'a', found "
                                       "'\\xd0\\x96'");
}

/* n bytes of c, then tail, in a fresh buffer */
static char *fill(size_t n, char c, const char *tail)
{
        size_t t = strlen(tail);
        char *p = malloc(n + t + 1);

        assert_non_null(p);
        memset(p, c, n);
        memcpy(p + n, tail, t + 1);
        return p;
}

static void test_huge_tokens_are_linear_and_quoted_at_the_difference(void **state)
{
        const size_t n = 16 << 20; /* 16 MiB tokens: a quadratic pass would never finish */
        char *a = fill(n, '7', "1"), *b = fill(n, '7', "2");
        struct checker_outcome o;
        struct timespec t0, t1;
        double secs;

        (void)state;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        o = check_n(SCHEMA_CHECKER_TOKENS, 0, a, n + 1, a, n + 1);
        assert_int_equal(o.result, CHECKER_AC);
        o = check_n(SCHEMA_CHECKER_TOKENS, 0, b, n + 1, a, n + 1);
        assert_int_equal(o.result, CHECKER_WA);
        assert_string_equal(o.message, "token 1 differs at byte 16777217: expected "
                                       "...'777777771', found ...'777777772'");
        o = check_n(SCHEMA_CHECKER_LINES, 0, b, n + 1, a, n + 1);
        assert_string_equal(o.message, "line 1 differs at column 16777217: expected "
                                       "...'777777771', found ...'777777772'");
        o = check_n(SCHEMA_CHECKER_EXACT, 0, b, n + 1, a, n + 1);
        assert_string_equal(o.message, "byte 16777217 (line 1, column 16777217) differs: "
                                       "expected ...'777777771', found ...'777777772'");
        /* a 16 MiB number: parsed from its first digits, never copied whole */
        o = check_n(SCHEMA_CHECKER_FLOAT, 0, b, n + 1, a, n + 1);
        assert_int_equal(o.result, CHECKER_AC);
        o = check_n(SCHEMA_CHECKER_FLOAT, 0, b, n + 1, "1", 1);
        assert_int_equal(o.result, CHECKER_WA);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        print_message("six checks of 16 MiB tokens: %.2f s\n", secs);
        assert_true(secs < 30);
        free(a);
        free(b);
}

static void test_many_small_tokens(void **state)
{
        const size_t n = 1 << 20;
        char *a = malloc(2 * n + 1), *b;
        struct checker_outcome o;

        (void)state;
        assert_non_null(a);
        for (size_t i = 0; i < n; i++) {
                a[2 * i] = (char)('0' + i % 10);
                a[2 * i + 1] = i % 7 ? ' ' : '\n';
        }
        a[2 * n] = '\0';
        b = strdup(a);
        assert_non_null(b);
        o = check(SCHEMA_CHECKER_TOKENS, a, b);
        assert_int_equal(o.result, CHECKER_AC);
        b[2 * 999999] = 'x';
        o = check(SCHEMA_CHECKER_TOKENS, b, a);
        assert_string_equal(o.message, "token 1000000: expected '9', found 'x'");
        o = check(SCHEMA_CHECKER_LINES, b, a);
        assert_int_equal(o.result, CHECKER_WA);
        assert_non_null(strstr(o.message, "line 142858: "));
        free(a);
        free(b);
}

static void expect_float(const char *out, const char *ans, double eps, enum checker_result r)
{
        struct checker_outcome o =
                check_n(SCHEMA_CHECKER_FLOAT, eps, out, strlen(out), ans, strlen(ans));

        if (o.result != r)
                fail_msg("float eps %g: out \"%s\" ans \"%s\": expected %s, got %s (%s)", eps, out,
                         ans, r == CHECKER_AC ? "AC" : "WA", o.result == CHECKER_AC ? "AC" : "WA",
                         o.message);
}

static void test_float_absolute_and_relative_eps(void **state)
{
        (void)state;
        expect_float("1.0000001", "1", 0, CHECKER_AC); /* 1e-7 off, default 1e-6 */
        expect_float("1.000001", "1", 0, CHECKER_AC);  /* exactly eps: binary rounding absorbed */
        expect_float("1.0000021", "1", 0, CHECKER_WA);
        expect_float("0.0000001", "0", 0, CHECKER_AC);
        expect_float("-0.0000011", "0", 0, CHECKER_WA);
        expect_float("1000000000100", "1e12", 0, CHECKER_AC); /* 1e-10 relative */
        expect_float("1000000900000", "1e12", 0, CHECKER_AC); /* 9e-7 relative */
        expect_float("1000002000000", "1e12", 0, CHECKER_WA); /* 2e-6 relative */
        expect_float("1.05", "1", 0.1, CHECKER_AC);
        expect_float("1.2", "1", 0.1, CHECKER_WA);
        expect_float("1.0000001", "1", 1e-9, CHECKER_WA);
        expect_float("1.0", "1", 0, CHECKER_AC);
        expect_float("1", "1.000", 0, CHECKER_AC);
        expect_float("+1", "1", 0, CHECKER_AC);
        expect_float(".5", "0.5", 0, CHECKER_AC);
        expect_float("5.", "5", 0, CHECKER_AC);
        expect_float("1e3", "1000", 0, CHECKER_AC);
        expect_float("1E+3", "1000", 0, CHECKER_AC);
        expect_float("12.5e-1", "1.25", 0, CHECKER_AC);
        /* negative, nan eps: the default */
        expect_float("1.0000021", "1", -1, CHECKER_WA);
        expect_float("1.0000001", "1", NAN, CHECKER_AC);
}

static void test_float_special_values(void **state)
{
        (void)state;
        expect_float("-0", "0", 0, CHECKER_AC);
        expect_float("-0.0", "0", 0, CHECKER_AC);
        expect_float("0", "-0.000", 0, CHECKER_AC);
        expect_float("nan", "nan", 0, CHECKER_AC);
        expect_float("NaN", "nan", 0, CHECKER_AC);
        expect_float("-nan", "nan", 0, CHECKER_AC);
        expect_float("nan", "0", 0, CHECKER_WA);
        expect_float("0", "nan", 0, CHECKER_WA);
        expect_float("inf", "inf", 0, CHECKER_AC);
        expect_float("Infinity", "inf", 0, CHECKER_AC);
        expect_float("-inf", "inf", 0, CHECKER_WA);
        expect_float("1e308", "inf", 0, CHECKER_WA);
        expect_float("inf", "1e308", 0, CHECKER_WA);
        expect_float("1e308", "-1e308", 0, CHECKER_WA); /* the difference overflows */
        /* huge exponents saturate to inf or 0 as strtod does */
        expect_float("1e400", "inf", 0, CHECKER_AC);
        expect_float("1e99999999999999999999999", "inf", 0, CHECKER_AC);
        expect_float("1e-400", "0", 0, CHECKER_AC);
        expect_float("-1e-99999999999999999999", "0", 0, CHECKER_AC);
        /* long mantissas: the value counts, not the digits */
        expect_float("0.33333333333333333333333333333333333333333333333333333333333", "0.333333", 0,
                     CHECKER_AC);
        expect_float("100000000000000000000000000000000000000000000000000000000000000", "1e62", 0,
                     CHECKER_AC);
        expect_float("0.0000000000000000000000000000000000000000000000000000000000123e60", "12.3",
                     0, CHECKER_AC);
}

static void test_float_garbage_is_compared_as_text(void **state)
{
        struct checker_outcome o;

        (void)state;
        expect_float("abc", "1", 0, CHECKER_WA);
        expect_float("1", "abc", 0, CHECKER_WA);
        expect_float("YES", "YES", 0, CHECKER_AC);
        expect_float("yes", "YES", 0, CHECKER_WA);
        /* hex floats are not numbers: "0x10" is not 16 */
        expect_float("0x10", "16", 0, CHECKER_WA);
        expect_float("0x1p4", "0x1p4", 0, CHECKER_AC);
        expect_float("0x1p4", "0x1.0p4", 0, CHECKER_WA);
        /* half numbers */
        expect_float("1e", "1", 0, CHECKER_WA);
        expect_float("1e+", "1", 0, CHECKER_WA);
        expect_float("-", "-0", 0, CHECKER_WA);
        expect_float(".", "0", 0, CHECKER_WA);
        expect_float("1.2.3", "1.2", 0, CHECKER_WA);
        expect_float("1,5", "1.5", 0, CHECKER_WA);
        expect_float("nan(1)", "nan", 0, CHECKER_WA);
        expect_float("infinit", "inf", 0, CHECKER_WA);
        expect_float("1 2", "1 2 3", 0, CHECKER_WA);
        o = check_n(SCHEMA_CHECKER_FLOAT, 0, "1 2.5", 5, "1 2.4", 5);
        assert_string_equal(o.message, "token 2: expected '2.4', found '2.5' (difference 0.1)");
        o = check_n(SCHEMA_CHECKER_FLOAT, 0, "1 x", 3, "1 2.4", 5);
        assert_string_equal(o.message, "token 2: expected '2.4', found 'x'");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty_output_and_empty_answer_agree),
                cmocka_unit_test(test_empty_versus_non_empty_is_wa),
                cmocka_unit_test(test_tokens_ignore_whitespace_and_report_the_first_difference),
                cmocka_unit_test(test_trailing_spaces),
                cmocka_unit_test(test_crlf_is_lf_for_lines_and_tokens),
                cmocka_unit_test(test_nul_bytes_are_ordinary_bytes),
                cmocka_unit_test(test_quotes_are_short_and_escaped),
                cmocka_unit_test(test_huge_tokens_are_linear_and_quoted_at_the_difference),
                cmocka_unit_test(test_many_small_tokens),
                cmocka_unit_test(test_float_absolute_and_relative_eps),
                cmocka_unit_test(test_float_special_values),
                cmocka_unit_test(test_float_garbage_is_compared_as_text),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
