/* SPDX-License-Identifier: MIT */
/*
 * schema_check, the wire walker every decoder runs first: it accepts every msgpack type gavel
 * uses, returns the length of one object, and refuses truncation, ext types, invalid bytes and
 * every bound of struct schema_limits without reading past the buffer.
 */
#include "test_mp.h"

#include "schema/cleanup.h"

static void check_ok(struct mp_buf m, const struct schema_limits *lim, int want)
{
        struct gv_err err = {};
        int r;

        r = schema_check(m.data, m.len, lim, &err);
        if (r != want)
                fail_msg("got %d (%s), want %d", r, err.msg, want);
        free(m.data);
}

static void check_fails(struct mp_buf m, const struct schema_limits *lim, int code, const char *msg)
{
        struct gv_err err = {};
        int r;

        r = schema_check(m.data, m.len, lim, &err);
        expect_err(r, &err, code, msg);
        free(m.data);
}

static void test_check_limits_default_match_the_header(void **state)
{
        (void)state;
        struct schema_limits lim;

        schema_limits_default(&lim);
        assert_int_equal(lim.message_max, 80 << 20);
        assert_int_equal(lim.source_max, 256 << 10);
        assert_int_equal(lim.tests_max, 64 << 20);
        assert_int_equal(lim.id_max, 128);
        assert_int_equal(lim.str_max, 1 << 20);
        assert_int_equal(lim.array_max, 100000);
        assert_int_equal(lim.objects_max, 1000000);
        assert_int_equal(lim.depth_max, 32);
}

static void test_check_accepts_every_type_and_returns_its_length(void **state)
{
        (void)state;
        static const uint8_t every[] = {
                0xdc, 0,    17,                                             /* array16 of 17 */
                0x00, 0x7f, 0xe0, 0xff,                                     /* fixints */
                0xc0, 0xc2, 0xc3,                                           /* nil, false, true */
                0xcc, 1,    0xcd, 1,    2,    0xce, 1, 2, 3, 4,             /* uint8, 16, 32 */
                0xcf, 1,    2,    3,    4,    5,    6, 7, 8,                /* uint64 */
                0xd3, 1,    2,    3,    4,    5,    6, 7, 8,                /* int64 */
                0xca, 0,    0,    0,    0,    0xcb, 0, 0, 0, 0, 0, 0, 0, 0, /* float32, 64 */
                0xd9, 1,    'a',                                            /* str8 */
                0xc5, 0,    2,    'b',  'c',                                /* bin16 */
                0xde, 0,    1,    0xa0, 0xdc, 0,    0, /* map16 {"": array16 []} */
        };
        static const uint8_t ints[] = {0x94, 0xd0, 0x80, 0xd1, 0, 1, 0xd2, 0, 0, 0, 1, 0xcc, 0};

        check_ok(mp("r", every, sizeof(every)), NULL, sizeof(every));
        check_ok(mp("r", ints, sizeof(ints)), NULL, sizeof(ints));
        check_ok(mp("n"), NULL, 1);
        check_ok(mp("m", 0), NULL, 1);
}

static void test_check_returns_the_first_object_of_a_stream(void **state)
{
        (void)state;
        check_ok(mp("m s u m s u", 1, "a", 1, 1, "b", 2), NULL, 4);
        check_ok(mp("a a a u u", 2, 1, 0, 5), NULL, 4);
}

static void test_check_rejects_truncation_at_every_byte(void **state)
{
        (void)state;
        struct mp_buf m = mp("m s a m s x d s U s s", 3, "a", 2, 1, "bin", "xyz", (size_t)3, 1.5,
                             "u", UINT64_MAX, "s", "a longer string");
        struct gv_err err = {};

        assert_int_equal(schema_check(m.data, m.len, NULL, &err), (int)m.len);
        for (size_t n = 0; n < m.len; n++) {
                char *prefix = malloc(n ? n : 1); /* ASan: nothing past n is read */

                memcpy(prefix, m.data, n);
                assert_int_equal(schema_check(prefix, n, NULL, &err), -EBADMSG);
                free(prefix);
        }
        free(m.data);
}

static void test_check_rejects_ext_and_invalid_bytes(void **state)
{
        (void)state;
        static const uint8_t fixext1[] = {0x91, 0xd4, 1, 2};
        static const uint8_t ext8[] = {0xc7, 1, 5, 0};
        static const uint8_t c1[] = {0x92, 0x01, 0xc1};

        check_fails(mp("r", fixext1, sizeof(fixext1)), NULL, -EBADMSG,
                    "malformed msgpack: ext type at byte 1 is not supported");
        check_fails(mp("r", ext8, sizeof(ext8)), NULL, -EBADMSG,
                    "malformed msgpack: ext type at byte 0 is not supported");
        check_fails(mp("r", c1, sizeof(c1)), NULL, -EBADMSG,
                    "malformed msgpack: invalid type byte 0xc1 at byte 2");
        check_fails(mp(""), NULL, -EBADMSG, "empty message");
}

static void test_check_rejects_lengths_beyond_the_buffer_without_reading_them(void **state)
{
        (void)state;
        static const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff};
        static const uint8_t array32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
        static const uint8_t map16[] = {0xde, 0x00, 0x02, 0xc0, 0xc0, 0xc0};
        static const uint8_t short_hdr[] = {0xdb, 0x00, 0x00};
        struct schema_limits lim;

        check_fails(mp("r", str32, sizeof(str32)), NULL, -E2BIG,
                    "str or bin of 4294967295 bytes at byte 0, over the limit of 67108864");
        check_fails(mp("r", array32, sizeof(array32)), NULL, -E2BIG,
                    "array or map of 4294967295 elements at byte 0, over the limit of 100000");
        check_fails(mp("r", map16, sizeof(map16)), NULL, -EBADMSG,
                    "malformed msgpack: truncated at byte 0");
        check_fails(mp("r", short_hdr, sizeof(short_hdr)), NULL, -EBADMSG,
                    "malformed msgpack: truncated at byte 0");
        schema_limits_default(&lim);
        lim.array_max = SIZE_MAX;
        lim.str_max = SIZE_MAX;
        check_fails(mp("r", str32, sizeof(str32)), &lim, -EBADMSG,
                    "malformed msgpack: truncated at byte 0");
        check_fails(mp("r", array32, sizeof(array32)), &lim, -EBADMSG,
                    "malformed msgpack: truncated at byte 0");
}

static void test_check_enforces_every_limit(void **state)
{
        (void)state;
        struct schema_limits lim;

        schema_limits_default(&lim);
        lim.array_max = 3;
        check_ok(mp("a u u u", 3, 1, 2, 3), &lim, 4);
        check_fails(mp("a u u u u", 4, 1, 2, 3, 4), &lim, -E2BIG,
                    "array or map of 4 elements at byte 0, over the limit of 3");
        check_fails(mp("m s u s u s u s u", 4, "a", 1, "b", 2, "c", 3, "d", 4), &lim, -E2BIG,
                    "array or map of 4 elements at byte 0, over the limit of 3");

        schema_limits_default(&lim);
        lim.objects_max = 4;
        check_ok(mp("a u u u", 3, 1, 2, 3), &lim, 4);
        check_fails(mp("a a u u u", 2, 3, 1, 2, 3), &lim, -E2BIG,
                    "more than 4 objects in the message");

        schema_limits_default(&lim);
        lim.depth_max = 2;
        check_ok(mp("a a u", 1, 1, 1), &lim, 3);
        check_fails(mp("a a a", 1, 1, 0), &lim, -E2BIG, "nesting deeper than 2 at byte 2");

        schema_limits_default(&lim);
        lim.str_max = 4;
        lim.source_max = 4;
        lim.tests_max = 4;
        check_ok(mp("s", "abcd"), &lim, 5);
        check_fails(mp("s", "abcde"), &lim, -E2BIG,
                    "str or bin of 5 bytes at byte 0, over the limit of 4");
        check_fails(mp("x", "abcde", (size_t)5), &lim, -E2BIG,
                    "str or bin of 5 bytes at byte 0, over the limit of 4");
        lim.tests_max = 5; /* the largest field bound applies to every str and bin */
        check_ok(mp("x", "abcde", (size_t)5), &lim, 7);

        schema_limits_default(&lim);
        lim.message_max = 4;
        check_ok(mp("a u u u", 3, 1, 2, 3), &lim, 4);
        check_fails(mp("a u u u u", 4, 1, 2, 3, 4), &lim, -E2BIG,
                    "message over the limit of 4 bytes");
        check_fails(mp("s", "abcdefgh"), &lim, -E2BIG, "message over the limit of 4 bytes");
        /* a stream longer than message_max whose first message fits */
        check_ok(mp("u u u u u u", 1, 2, 3, 4, 5, 6), &lim, 1);
}

static void test_check_caps_depth_at_msgpack_c_limit(void **state)
{
        (void)state;
        struct schema_limits lim;
        uint8_t buf[40];

        schema_limits_default(&lim);
        lim.depth_max = 1000;
        memset(buf, 0x91, 32);
        buf[32] = 0xc0;
        check_ok(mp("r", buf, (size_t)33), &lim, 33);
        memset(buf, 0x91, 33);
        buf[33] = 0xc0;
        check_fails(mp("r", buf, (size_t)34), &lim, -E2BIG, "nesting deeper than 32 at byte 32");
        /* empty containers count too, as they do for msgpack-c */
        memset(buf, 0x91, 32);
        buf[32] = 0x90;
        check_fails(mp("r", buf, (size_t)33), &lim, -E2BIG, "nesting deeper than 32 at byte 32");
}

static void test_check_accepts_null_err(void **state)
{
        (void)state;
        assert_int_equal(schema_check("\xc1", 1, NULL, NULL), -EBADMSG);
        assert_int_equal(schema_check("\x91", 1, NULL, NULL), -EBADMSG);
        assert_int_equal(schema_check("\x90", 1, NULL, NULL), 1);
}

static void test_check_survives_seeded_garbage(void **state)
{
        (void)state;
        uint64_t seed = 1234;
        uint8_t buf[512];
        struct schema_limits lim;

        schema_limits_default(&lim);
        lim.depth_max = 8;
        lim.objects_max = 64;
        for (int i = 0; i < 50000; i++) {
                size_t len = test_rand(&seed) % sizeof(buf) + 1;
                uint8_t *copy;
                int r;

                for (size_t j = 0; j < len; j++)
                        buf[j] = (uint8_t)test_rand(&seed);
                copy = malloc(len); /* exactly len bytes: ASan catches a read past them */
                memcpy(copy, buf, len);
                r = schema_check(copy, len, i % 2 ? &lim : NULL, NULL);
                assert_true(r == -EBADMSG || r == -E2BIG || (r > 0 && (size_t)r <= len));
                free(copy);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_check_limits_default_match_the_header),
                cmocka_unit_test(test_check_accepts_every_type_and_returns_its_length),
                cmocka_unit_test(test_check_returns_the_first_object_of_a_stream),
                cmocka_unit_test(test_check_rejects_truncation_at_every_byte),
                cmocka_unit_test(test_check_rejects_ext_and_invalid_bytes),
                cmocka_unit_test(test_check_rejects_lengths_beyond_the_buffer_without_reading_them),
                cmocka_unit_test(test_check_enforces_every_limit),
                cmocka_unit_test(test_check_caps_depth_at_msgpack_c_limit),
                cmocka_unit_test(test_check_accepts_null_err),
                cmocka_unit_test(test_check_survives_seeded_garbage),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
