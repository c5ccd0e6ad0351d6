/* SPDX-License-Identifier: MIT */
/*
 * worker/util/json.c: msgpack -> JSON for gavel decode (every msgpack type, invalid UTF-8, bytes
 * keys, non-string keys, nesting bounds) and JSON -> msgpack for gavel encode's "meta".
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "worker/util/json.h"

struct fixture {
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        msgpack_unpacked unpacked;
        char *text; /* the last conversion's compact JSON */
        struct gv_err err;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        msgpack_sbuffer_init(&f->sbuf);
        msgpack_packer_init(&f->pk, &f->sbuf, msgpack_sbuffer_write);
        msgpack_unpacked_init(&f->unpacked);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        msgpack_unpacked_destroy(&f->unpacked);
        msgpack_sbuffer_destroy(&f->sbuf);
        free(f->text);
        free(f);
        return 0;
}

/* Converts what f->pk has packed (exactly one object) and returns its compact JSON text. */
static const char *convert(struct fixture *f)
{
        json_t *json = NULL;
        size_t off = 0;

        assert_int_equal(msgpack_unpack_next(&f->unpacked, f->sbuf.data, f->sbuf.size, &off),
                         MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(off, f->sbuf.size);
        assert_int_equal(json_from_msgpack(&f->unpacked.data, &json, &f->err), 0);
        free(f->text);
        f->text = json_dumps_exact(json, JSON_COMPACT);
        json_decref(json);
        assert_non_null(f->text);
        return f->text;
}

static void pack_str(msgpack_packer *pk, const char *s, size_t len)
{
        assert_int_equal(msgpack_pack_str_with_body(pk, s, len), 0);
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
        pack_str(pk, s, strlen(s));
}

static void test_json_from_msgpack_converts_scalars(void **state)
{
        struct fixture *f = *state;

        msgpack_pack_array(&f->pk, 9);
        msgpack_pack_nil(&f->pk);
        msgpack_pack_true(&f->pk);
        msgpack_pack_false(&f->pk);
        msgpack_pack_uint8(&f->pk, 0);
        msgpack_pack_int64(&f->pk, -1);
        msgpack_pack_int64(&f->pk, INT64_MIN);
        msgpack_pack_uint64(&f->pk, INT64_MAX);
        msgpack_pack_uint64(&f->pk, UINT64_MAX);
        msgpack_pack_uint32(&f->pk, 4000000000u);
        assert_string_equal(convert(f), "[null,true,false,0,-1,-9223372036854775808,"
                                        "9223372036854775807,\"18446744073709551615\","
                                        "4000000000]");
}

static void test_json_from_msgpack_prints_floats_exactly_and_briefly(void **state)
{
        struct fixture *f = *state;

        msgpack_pack_array(&f->pk, 6);
        msgpack_pack_double(&f->pk, 0.1);
        msgpack_pack_double(&f->pk, 1e-6);
        msgpack_pack_double(&f->pk, 2.0);
        msgpack_pack_float(&f->pk, 0.1f);
        msgpack_pack_float(&f->pk, 1.5f);
        msgpack_pack_double(&f->pk, -0.0);
        assert_string_equal(convert(f), "[0.1,1e-6,2.0,0.1,1.5,-0.0]");
}

static void test_json_from_msgpack_keeps_every_digit_a_double_needs(void **state)
{
        struct fixture *f = *state;
        json_t *json;
        double d;

        msgpack_pack_array(&f->pk, 2);
        msgpack_pack_double(&f->pk, 0.1 + 0.2);
        msgpack_pack_double(&f->pk, 1.0 / 3);
        json = json_loads(convert(f), 0, NULL);
        assert_non_null(json);
        d = json_real_value(json_array_get(json, 0));
        assert_true(d == 0.1 + 0.2);
        d = json_real_value(json_array_get(json, 1));
        assert_true(d == 1.0 / 3);
        json_decref(json);
}

static void test_json_from_msgpack_names_non_finite_floats(void **state)
{
        struct fixture *f = *state;

        msgpack_pack_array(&f->pk, 4);
        msgpack_pack_double(&f->pk, NAN);
        msgpack_pack_double(&f->pk, INFINITY);
        msgpack_pack_double(&f->pk, -INFINITY);
        msgpack_pack_float(&f->pk, INFINITY);
        assert_string_equal(convert(f), "[\"NaN\",\"Infinity\",\"-Infinity\",\"Infinity\"]");
}

static void test_json_from_msgpack_keeps_valid_utf8_and_nul(void **state)
{
        struct fixture *f = *state;

        msgpack_pack_array(&f->pk, 3);
        pack_cstr(&f->pk, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
        pack_str(&f->pk, "a\0b", 3);
        pack_cstr(&f->pk, "quote\" backslash\\ newline\n");
        assert_string_equal(convert(f), "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
                                        "\"a\\u0000b\",\"quote\\\" backslash\\\\ newline\\n\"]");
}

static void test_json_from_msgpack_replaces_invalid_utf8_in_str(void **state)
{
        struct fixture *f = *state;

        msgpack_pack_array(&f->pk, 6);
        pack_cstr(&f->pk, "a\xff"
                          "b");                /* never valid */
        pack_cstr(&f->pk, "\xc0\xaf");         /* overlong '/' */
        pack_cstr(&f->pk, "\xed\xa0\x80");     /* surrogate U+D800 */
        pack_cstr(&f->pk, "\xf4\x90\x80\x80"); /* above U+10FFFF */
        pack_cstr(&f->pk, "x\xe2\x82");        /* truncated sequence at the end */
        pack_cstr(&f->pk, "\x80");             /* lone continuation byte */
        assert_string_equal(convert(f), "[\"a\xef\xbf\xbd"
                                        "b\","
                                        "\"\xef\xbf\xbd\xef\xbf\xbd\","
                                        "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\","
                                        "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\","
                                        "\"x\xef\xbf\xbd\xef\xbf\xbd\","
                                        "\"\xef\xbf\xbd\"]");
}

static void test_json_from_msgpack_writes_bin_as_base64(void **state)
{
        struct fixture *f = *state;

        msgpack_pack_array(&f->pk, 5);
        msgpack_pack_bin_with_body(&f->pk, "", 0);
        msgpack_pack_bin_with_body(&f->pk, "f", 1);
        msgpack_pack_bin_with_body(&f->pk, "fo", 2);
        msgpack_pack_bin_with_body(&f->pk, "foo", 3);
        msgpack_pack_bin_with_body(&f->pk, "\x00\xff\xfe\x80", 4);
        assert_string_equal(convert(f), "[{\"base64\":\"\"},{\"base64\":\"Zg==\"},"
                                        "{\"base64\":\"Zm8=\"},{\"base64\":\"Zm9v\"},"
                                        "{\"base64\":\"AP/+gA==\"}]");
}

static void test_json_from_msgpack_shows_byte_keys_as_text_when_utf8(void **state)
{
        struct fixture *f = *state;

        msgpack_pack_map(&f->pk, 5);
        pack_cstr(&f->pk, "source");
        msgpack_pack_bin_with_body(&f->pk, "int main() {}\n", 14);
        pack_cstr(&f->pk, "in");
        msgpack_pack_bin_with_body(&f->pk, "\xff\x00", 2);
        pack_cstr(&f->pk, "out");
        pack_cstr(&f->pk, "\xfe"); /* str under a bytes key: exact, so base64 */
        pack_cstr(&f->pk, "filter");
        msgpack_pack_bin_with_body(&f->pk, "abc", 3); /* not a bytes key */
        pack_cstr(&f->pk, "log");
        pack_cstr(&f->pk, "\xfe"); /* not a bytes key: replaced */
        assert_string_equal(convert(f), "{\"source\":\"int main() {}\\n\","
                                        "\"in\":{\"base64\":\"/wA=\"},"
                                        "\"out\":{\"base64\":\"/g==\"},"
                                        "\"filter\":{\"base64\":\"YWJj\"},"
                                        "\"log\":\"\xef\xbf\xbd\"}");
}

static void test_json_from_msgpack_writes_ext_with_its_type(void **state)
{
        struct fixture *f = *state;

        msgpack_pack_ext_with_body(&f->pk, "\x01\x02", 2, -1);
        assert_string_equal(convert(f), "{\"ext\":-1,\"base64\":\"AQI=\"}");
}

static void test_json_from_msgpack_converts_nested_maps_and_arrays_in_order(void **state)
{
        struct fixture *f = *state;

        msgpack_pack_map(&f->pk, 3);
        pack_cstr(&f->pk, "z");
        msgpack_pack_array(&f->pk, 2);
        msgpack_pack_map(&f->pk, 1);
        pack_cstr(&f->pk, "verdict");
        pack_cstr(&f->pk, "AC");
        msgpack_pack_array(&f->pk, 0);
        pack_cstr(&f->pk, "a");
        msgpack_pack_map(&f->pk, 0);
        pack_cstr(&f->pk, "m");
        msgpack_pack_int(&f->pk, 7);
        assert_string_equal(convert(f), "{\"z\":[{\"verdict\":\"AC\"},[]],\"a\":{},\"m\":7}");
}

static void test_json_from_msgpack_stringifies_non_string_keys(void **state)
{
        struct fixture *f = *state;

        msgpack_pack_map(&f->pk, 6);
        msgpack_pack_int(&f->pk, 1);
        pack_cstr(&f->pk, "one");
        msgpack_pack_true(&f->pk);
        msgpack_pack_nil(&f->pk);
        msgpack_pack_nil(&f->pk);
        msgpack_pack_int(&f->pk, 0);
        msgpack_pack_array(&f->pk, 2);
        msgpack_pack_int(&f->pk, 1);
        msgpack_pack_double(&f->pk, 0.5);
        msgpack_pack_int(&f->pk, 2);
        msgpack_pack_bin_with_body(&f->pk, "k", 1);
        msgpack_pack_int(&f->pk, 3);
        pack_cstr(&f->pk, "\xff");
        msgpack_pack_int(&f->pk, 4);
        assert_string_equal(convert(f), "{\"1\":\"one\",\"true\":null,\"null\":0,"
                                        "\"[1,0.5]\":2,\"{\\\"base64\\\":\\\"aw==\\\"}\":3,"
                                        "\"\xef\xbf\xbd\":4}");
}

static void test_json_from_msgpack_keeps_the_last_of_duplicate_keys(void **state)
{
        struct fixture *f = *state;

        msgpack_pack_map(&f->pk, 2);
        pack_cstr(&f->pk, "id");
        pack_cstr(&f->pk, "first");
        pack_cstr(&f->pk, "id");
        pack_cstr(&f->pk, "second");
        assert_string_equal(convert(f), "{\"id\":\"second\"}");
}

/* msgpack-c unpacks only 32 levels, so deeper objects are built by hand: obj[0] holds obj[1]... */
static msgpack_object *nested_arrays(size_t levels)
{
        msgpack_object *obj = calloc(levels + 1, sizeof(*obj));

        assert_non_null(obj);
        for (size_t i = 0; i < levels; i++) {
                obj[i].type = MSGPACK_OBJECT_ARRAY;
                obj[i].via.array.size = 1;
                obj[i].via.array.ptr = &obj[i + 1];
        }
        obj[levels].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        obj[levels].via.u64 = 5;
        return obj;
}

static void test_json_from_msgpack_rejects_nesting_past_the_bound_naming_the_path(void **state)
{
        struct fixture *f = *state;
        msgpack_object *obj = nested_arrays(JSON_DEPTH_MAX);
        msgpack_object_kv kv = {.key = {.type = MSGPACK_OBJECT_STR}, .val = obj[0]};
        msgpack_object root = {.type = MSGPACK_OBJECT_MAP};
        json_t *json = NULL;

        kv.key.via.str.ptr = "meta";
        kv.key.via.str.size = 4;
        root.via.map.size = 1;
        root.via.map.ptr = &kv;
        assert_int_equal(json_from_msgpack(&root, &json, &f->err), -E2BIG);
        assert_null(json);
        assert_int_equal(strncmp(f->err.msg, "meta[0][0]", 10), 0);
        assert_non_null(strstr(f->err.msg, "[0]: nested deeper than 64 levels"));
        free(obj);
}

static void test_json_from_msgpack_accepts_nesting_up_to_the_bound(void **state)
{
        struct fixture *f = *state;
        msgpack_object *obj = nested_arrays(JSON_DEPTH_MAX - 1);
        json_t *json = NULL;
        char *text;

        assert_int_equal(json_from_msgpack(obj, &json, &f->err), 0);
        text = json_dumps_exact(json, JSON_COMPACT);
        assert_non_null(strstr(text, "[[[5]]]"));
        free(text);
        json_decref(json);
        free(obj);
}

static void test_json_to_msgpack_round_trips_every_json_type(void **state)
{
        struct fixture *f = *state;
        const char *text = "{\"s\":\"caf\xc3\xa9\",\"nul\":\"a\\u0000b\",\"i\":-42,"
                           "\"big\":9223372036854775807,\"r\":0.25,\"t\":true,\"f\":false,"
                           "\"n\":null,\"a\":[1,[2,{}],[]],\"o\":{\"k\":{\"k\":\"v\"}}}";
        json_error_t jerr;
        json_t *json = json_loads(text, JSON_ALLOW_NUL, &jerr);

        assert_non_null(json);
        assert_int_equal(json_to_msgpack(json, &f->pk, 32, &f->err), 0);
        json_decref(json);
        assert_string_equal(convert(f), text);
}

static void test_json_to_msgpack_packs_strings_as_str_and_reals_as_float64(void **state)
{
        struct fixture *f = *state;
        json_t *json = json_pack("[sfI]", "x", 1.5, (json_int_t)300);
        msgpack_object *o;
        size_t off = 0;

        assert_int_equal(json_to_msgpack(json, &f->pk, 32, &f->err), 0);
        json_decref(json);
        assert_int_equal(msgpack_unpack_next(&f->unpacked, f->sbuf.data, f->sbuf.size, &off),
                         MSGPACK_UNPACK_SUCCESS);
        o = f->unpacked.data.via.array.ptr;
        assert_int_equal(o[0].type, MSGPACK_OBJECT_STR);
        assert_int_equal(o[1].type, MSGPACK_OBJECT_FLOAT64);
        assert_int_equal(o[2].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
        assert_int_equal(o[2].via.u64, 300);
}

static void test_json_to_msgpack_rejects_nesting_past_depth_naming_the_path(void **state)
{
        struct fixture *f = *state;
        json_t *json = json_loads("{\"a\":[1,{\"b\":[[0]]}]}", 0, NULL);

        assert_non_null(json);
        assert_int_equal(json_to_msgpack(json, &f->pk, 4, &f->err), -E2BIG);
        assert_string_equal(f->err.msg, ".a[1].b[0]: nested too deeply");
        msgpack_sbuffer_clear(&f->sbuf);
        assert_int_equal(json_to_msgpack(json, &f->pk, 5, &f->err), 0);
        json_decref(json);
}

static void test_json_to_msgpack_counts_empty_containers_as_a_level(void **state)
{
        struct fixture *f = *state;
        json_t *json = json_loads("{\"a\":[],\"b\":{}}", 0, NULL);

        assert_int_equal(json_to_msgpack(json, &f->pk, 1, &f->err), -E2BIG);
        assert_string_equal(f->err.msg, ".a: nested too deeply");
        msgpack_sbuffer_clear(&f->sbuf);
        assert_int_equal(json_to_msgpack(json, &f->pk, 2, &f->err), 0);
        json_decref(json);
        assert_string_equal(convert(f), "{\"a\":[],\"b\":{}}");
}

static void test_json_get_bytes_reads_strings_and_base64(void **state)
{
        struct fixture *f = *state;
        static const struct {
                const char *json;
                const char *bytes;
                size_t len;
        } cases[] = {
                {"\"1 2\\n\"", "1 2\n", 4},
                {"\"a\\u0000b\"", "a\0b", 3},
                {"{\"base64\":\"\"}", "", 0},
                {"{\"base64\":\"Zg==\"}", "f", 1},
                {"{\"base64\":\"Zg\"}", "f", 1},
                {"{\"base64\":\"Zm8=\"}", "fo", 2},
                {"{\"base64\":\"Zm9v\"}", "foo", 3},
                {"{\"base64\":\"AP/+gA==\"}", "\x00\xff\xfe\x80", 4},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                json_t *json = json_loads(cases[i].json, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
                uint8_t *buf = NULL;
                size_t len = 0;

                assert_non_null(json);
                assert_int_equal(json_get_bytes(json, &buf, &len, &f->err), 0);
                assert_int_equal(len, cases[i].len);
                assert_memory_equal(buf, cases[i].bytes, len);
                assert_int_equal(buf[len], '\0');
                free(buf);
                json_decref(json);
        }
}

static void test_json_get_bytes_rejects_bad_base64_and_other_types(void **state)
{
        struct fixture *f = *state;
        static const char *const cases[] = {
                "{\"base64\":\"Z\"}",
                "{\"base64\":\"Zg=\"}",
                "{\"base64\":\"Zh==\"}",
                "{\"base64\":\"Zm9v=\"}",
                "{\"base64\":\"Zm 9v\"}",
                "{\"base64\":\"Zg===\"}",
                "{\"base64\":1}",
                "{\"base64\":\"\",\"x\":1}",
                "{}",
                "1",
                "null",
                "[\"a\"]",
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                json_t *json = json_loads(cases[i], JSON_DECODE_ANY, NULL);
                uint8_t *buf = NULL;
                size_t len = 0;

                assert_non_null(json);
                assert_int_equal(json_get_bytes(json, &buf, &len, &f->err), -EINVAL);
                assert_null(buf);
                json_decref(json);
        }
}

static void test_json_utf8_valid_follows_rfc3629(void **state)
{
        (void)state;
        assert_true(json_utf8_valid("", 0));
        assert_true(json_utf8_valid("a\0b", 3));
        assert_true(json_utf8_valid("\xc2\x80\xdf\xbf", 4));
        assert_true(json_utf8_valid("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80", 9));
        assert_true(json_utf8_valid("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 8));
        assert_false(json_utf8_valid("\xc1\xbf", 2));         /* overlong */
        assert_false(json_utf8_valid("\xe0\x9f\xbf", 3));     /* overlong */
        assert_false(json_utf8_valid("\xed\xbf\xbf", 3));     /* surrogate */
        assert_false(json_utf8_valid("\xf0\x8f\xbf\xbf", 4)); /* overlong */
        assert_false(json_utf8_valid("\xf5\x80\x80\x80", 4)); /* out of range */
        assert_false(json_utf8_valid("\xc2", 1));             /* truncated */
        assert_false(json_utf8_valid("\xe2\x82", 2));         /* truncated */
        assert_false(json_utf8_valid("\xe2\x28\xa1", 3));     /* bad continuation */
}

static void test_json_dumps_exact_uses_the_fewest_digits_of_the_document(void **state)
{
        json_t *json = json_pack("{sfsf}", "eps", 1e-6, "score", 100.0);
        char *text = json_dumps_exact(json, JSON_COMPACT);

        (void)state;
        assert_string_equal(text, "{\"eps\":1e-6,\"score\":100.0}");
        free(text);
        json_decref(json);
        json = json_integer(3);
        text = json_dumps_exact(json, 0);
        assert_string_equal(text, "3");
        free(text);
        json_decref(json);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_json_from_msgpack_converts_scalars),
                T(test_json_from_msgpack_prints_floats_exactly_and_briefly),
                T(test_json_from_msgpack_keeps_every_digit_a_double_needs),
                T(test_json_from_msgpack_names_non_finite_floats),
                T(test_json_from_msgpack_keeps_valid_utf8_and_nul),
                T(test_json_from_msgpack_replaces_invalid_utf8_in_str),
                T(test_json_from_msgpack_writes_bin_as_base64),
                T(test_json_from_msgpack_shows_byte_keys_as_text_when_utf8),
                T(test_json_from_msgpack_writes_ext_with_its_type),
                T(test_json_from_msgpack_converts_nested_maps_and_arrays_in_order),
                T(test_json_from_msgpack_stringifies_non_string_keys),
                T(test_json_from_msgpack_keeps_the_last_of_duplicate_keys),
                T(test_json_from_msgpack_rejects_nesting_past_the_bound_naming_the_path),
                T(test_json_from_msgpack_accepts_nesting_up_to_the_bound),
                T(test_json_to_msgpack_round_trips_every_json_type),
                T(test_json_to_msgpack_packs_strings_as_str_and_reals_as_float64),
                T(test_json_to_msgpack_rejects_nesting_past_depth_naming_the_path),
                T(test_json_to_msgpack_counts_empty_containers_as_a_level),
                T(test_json_get_bytes_reads_strings_and_base64),
                T(test_json_get_bytes_rejects_bad_base64_and_other_types),
                T(test_json_utf8_valid_follows_rfc3629),
                T(test_json_dumps_exact_uses_the_fewest_digits_of_the_document),
        };
#undef T

        return cmocka_run_group_tests(tests, NULL, NULL);
}
