/* SPDX-License-Identifier: MIT */
/*
 * The job codec: round trips with every field and with the required ones only, an error naming
 * the path of every missing or mistyped field, every bound, truncation at each byte, and hostile
 * length prefixes that must be refused before anything is allocated.
 */
#include <math.h>

#include "test_mp.h"

#include "schema/cleanup.h"

static void job_assert_equal(const struct job *a, const struct job *b)
{
        assert_int_equal(a->v, b->v);
        assert_string_equal(a->id, b->id);
        assert_string_equal(a->lang, b->lang);
        assert_int_equal(a->source_len, b->source_len);
        assert_memory_equal(a->source, b->source, a->source_len);
        assert_int_equal(b->source[b->source_len], 0);
        assert_true(!a->problem == !b->problem);
        if (a->problem)
                assert_string_equal(a->problem, b->problem);
        assert_int_equal(a->n_tests, b->n_tests);
        for (size_t i = 0; i < a->n_tests; i++) {
                const struct job_test *x = &a->tests[i], *y = &b->tests[i];

                assert_int_equal(x->in_len, y->in_len);
                assert_memory_equal(x->in, y->in, x->in_len);
                assert_int_equal(y->in[y->in_len], 0);
                assert_int_equal(x->out_len, y->out_len);
                assert_memory_equal(x->out, y->out, x->out_len);
                assert_true(x->points == y->points);
                assert_int_equal(x->has_points, y->has_points);
        }
        assert_int_equal(a->limits.time_ms, b->limits.time_ms);
        assert_int_equal(a->limits.wall_ms, b->limits.wall_ms);
        assert_int_equal(a->limits.memory_kib, b->limits.memory_kib);
        assert_int_equal(a->limits.output_kib, b->limits.output_kib);
        assert_int_equal(a->checker, b->checker);
        assert_true(a->checker_eps == b->checker_eps);
        assert_int_equal(a->stop_on_failure, b->stop_on_failure);
        assert_int_equal(a->meta_len, b->meta_len);
        assert_true(!a->meta == !b->meta);
        if (a->meta)
                assert_memory_equal(a->meta, b->meta, a->meta_len);
        assert_int_equal(a->attempt, b->attempt);
        assert_int_equal(a->rejudge, b->rejudge);
}

static const uint8_t meta[] = {
        /* {"sub": 42, "tags": ["a", nil], "w": 1.5} with 42 as a uint32 (kept as it is) */
        0x83, 0xa3, 's', 'u',  'b',  0xce, 0,    0,    0,    42, 0xa4, 't', 'a', 'g', 's',
        0x92, 0xa1, 'a', 0xc0, 0xa1, 'w',  0xcb, 0x3f, 0xf8, 0,  0,    0,   0,   0,   0,
};

static struct job_test full_tests[] = {
        {.in = (uint8_t *)"1 2\n", .in_len = 4, .out = (uint8_t *)"3\n", .out_len = 2},
        {.in = (uint8_t *)"\0\xff",
         .in_len = 2,
         .out = (uint8_t *)"",
         .out_len = 0,
         .points = 2.5,
         .has_points = true},
        {.in = (uint8_t *)"",
         .in_len = 0,
         .out = (uint8_t *)"x",
         .out_len = 1,
         .points = -1,
         .has_points = true},
};

static const struct job full_job = {
        .v = 1,
        .id = "sub-42",
        .lang = "cpp17",
        .source = (uint8_t *)"int main() { return 0; }\n\0tail",
        .source_len = 30,
        .tests = full_tests,
        .n_tests = 3,
        .limits = {.time_ms = 2000,
                   .wall_ms = UINT32_MAX,
                   .memory_kib = 262144,
                   .output_kib = UINT64_MAX},
        .checker = SCHEMA_CHECKER_FLOAT,
        .checker_eps = 1e-9,
        .stop_on_failure = true,
        .meta = (uint8_t *)meta,
        .meta_len = sizeof(meta),
        .attempt = 3,
        .rejudge = true,
};

static const struct job min_job = {
        .v = 1,
        .id = "1",
        .lang = "c",
        .source = (uint8_t *)"",
        .problem = "aplusb",
        .attempt = 1,
};

/* encode, decode, compare, re-encode to the same bytes; every prefix fails */
static void roundtrip(const struct job *job)
{
        void *buf, *buf2;
        size_t len, len2;
        struct job out;
        struct gv_err err = {};
        int r;

        assert_int_equal(schema_job_encode(job, &buf, &len), 0);
        r = schema_job_decode(buf, len, NULL, &out, &err);
        if (r < 0)
                fail_msg("decode: %s", err.msg);
        job_assert_equal(job, &out);
        assert_int_equal(schema_job_encode(&out, &buf2, &len2), 0);
        assert_int_equal(len, len2);
        assert_memory_equal(buf, buf2, len);
        free(buf2);
        job_done(&out);

        for (size_t n = 0; n < len; n++) {
                char *prefix = malloc(n ? n : 1);

                memcpy(prefix, buf, n);
                assert_int_equal(schema_job_decode(prefix, n, NULL, &out, NULL), -EBADMSG);
                free(prefix);
        }
        free(buf);
}

static void test_job_roundtrips_with_every_field(void **state)
{
        (void)state;
        roundtrip(&full_job);
}

static void test_job_roundtrips_with_required_fields_only(void **state)
{
        (void)state;
        roundtrip(&min_job);
}

static void test_job_roundtrips_checker_forms(void **state)
{
        (void)state;
        struct job job = min_job;

        job.checker = SCHEMA_CHECKER_EXACT; /* a bare name */
        roundtrip(&job);
        job.checker = SCHEMA_CHECKER_DEFAULT; /* a map: the problem's checker, with an eps */
        job.checker_eps = 0.5;
        roundtrip(&job);
}

static void test_job_decode_copies_everything_out_of_the_buffer(void **state)
{
        (void)state;
        void *buf;
        size_t len;
        struct job out;

        assert_int_equal(schema_job_encode(&full_job, &buf, &len), 0);
        assert_int_equal(schema_job_decode(buf, len, NULL, &out, NULL), 0);
        memset(buf, 0xa5, len);
        free(buf);
        job_assert_equal(&full_job, &out); /* ASan would catch a pointer into buf */
        job_done(&out);
        job_done(&out); /* zeroed: a second call is harmless */
        job_done(NULL);
}

static void test_job_decode_defaults_attempt_to_one(void **state)
{
        (void)state;
        struct mp_buf m = mp("m s u s s s s s x s s", 5, "v", 1, "id", "a", "lang", "c", "source",
                             "x", (size_t)1, "problem", "p");
        struct job out;

        assert_int_equal(schema_job_decode(m.data, m.len, NULL, &out, NULL), 0);
        assert_int_equal(out.attempt, 1);
        assert_null(out.tests);
        assert_int_equal(out.checker, SCHEMA_CHECKER_DEFAULT);
        assert_null(out.meta);
        job_done(&out);
        free(m.data);
}

static void test_job_decode_accepts_str_and_bin_data_and_number_forms(void **state)
{
        (void)state;
        struct mp_buf m =
                mp("m s u s s s s s s s a m s s s x s u s m s s s d", 6, "v", 1, "id", "a", "lang",
                   "c", "source", "int x;", "tests", 1, 3, "in", "1", "out", "2", (size_t)1,
                   "points", 3, "checker", 2, "name", "float", "eps", 0.25);
        struct job out;

        assert_int_equal(schema_job_decode(m.data, m.len, NULL, &out, NULL), 0);
        assert_int_equal(out.source_len, 6);
        assert_string_equal((char *)out.source, "int x;");
        assert_string_equal((char *)out.tests[0].in, "1");
        assert_true(out.tests[0].points == 3.0);
        assert_true(out.tests[0].has_points);
        assert_int_equal(out.checker, SCHEMA_CHECKER_FLOAT);
        assert_true(out.checker_eps == 0.25);
        job_done(&out);
        free(m.data);
}

/* decodes m with lim (NULL: defaults), expects code and msg, frees m */
static void fails_with(struct mp_buf m, const struct schema_limits *lim, int code, const char *msg)
{
        struct job out = {.id = (char *)"untouched"};
        struct gv_err err = {};
        int r;

        r = schema_job_decode(m.data, m.len, lim, &out, &err);
        expect_err(r, &err, code, msg);
        assert_string_equal(out.id, "untouched");
        assert_null(out.lang);
        free(m.data);
}

static void fails(struct mp_buf m, int code, const char *msg)
{
        fails_with(m, NULL, code, msg);
}

/* a minimal valid job with one more pair, packed by fmt (see mp()) */
#define job_plus(fmt, ...)                                                                      \
        mp_append(mp("m s u s s s s s x s s", 6, "v", 1, "id", "a", "lang", "c", "source", "x", \
                     (size_t)1, "problem", "p"),                                                \
                  fmt, __VA_ARGS__)

static void test_job_decode_names_every_missing_key(void **state)
{
        (void)state;
        fails(mp("m s s s s s x s s", 4, "id", "a", "lang", "c", "source", "x", (size_t)1,
                 "problem", "p"),
              -EBADMSG, "v: missing");
        fails(mp("m s u s s s x s s", 4, "v", 1, "lang", "c", "source", "x", (size_t)1, "problem",
                 "p"),
              -EBADMSG, "id: missing");
        fails(mp("m s u s s s x s s", 4, "v", 1, "id", "a", "source", "x", (size_t)1, "problem",
                 "p"),
              -EBADMSG, "lang: missing");
        fails(mp("m s u s s s s s s", 4, "v", 1, "id", "a", "lang", "c", "problem", "p"), -EBADMSG,
              "source: missing");
        fails(mp("m s u s s s s s x", 4, "v", 1, "id", "a", "lang", "c", "source", "x", (size_t)1),
              -EBADMSG, "problem or tests: exactly one is required");
        fails(job_plus("s a m s s s s", "tests", 1, 2, "in", "1", "out", "2"), -EBADMSG,
              "problem or tests: exactly one is required");
        fails(mp("m s u s s s s s x s a m s s", 5, "v", 1, "id", "a", "lang", "c", "source", "x",
                 (size_t)1, "tests", 1, 1, "out", "2"),
              -EBADMSG, "tests[0].in: missing");
        fails(mp("m s u s s s s s x s a m s s m s s s s", 5, "v", 1, "id", "a", "lang", "c",
                 "source", "x", (size_t)1, "tests", 2, 1, "in", "1", 2, "in", "1", "out", "2"),
              -EBADMSG, "tests[0].out: missing");
        fails(job_plus("s m s d", "checker", 1, "eps", 0.1), -EBADMSG, "checker.name: missing");
}

static void test_job_decode_names_every_wrong_type(void **state)
{
        (void)state;
        fails(mp("m s s s s s s s x s s", 5, "v", "1", "id", "a", "lang", "c", "source", "x",
                 (size_t)1, "problem", "p"),
              -EBADMSG, "v: expected a positive integer");
        fails(mp("m s u s u s s s x s s", 5, "v", 1, "id", 7, "lang", "c", "source", "x", (size_t)1,
                 "problem", "p"),
              -EBADMSG, "id: expected str");
        fails(mp("m s u s x s s s x s s", 5, "v", 1, "id", "a", (size_t)1, "lang", "c", "source",
                 "x", (size_t)1, "problem", "p"),
              -EBADMSG, "id: expected str");
        fails(mp("m s u s s s n s x s s", 5, "v", 1, "id", "a", "lang", "source", "x", (size_t)1,
                 "problem", "p"),
              -EBADMSG, "lang: expected str");
        fails(mp("m s u s s s s s u s s", 5, "v", 1, "id", "a", "lang", "c", "source", 5, "problem",
                 "p"),
              -EBADMSG, "source: expected bin or str");
        fails(mp("m s u s s s s s x s t", 5, "v", 1, "id", "a", "lang", "c", "source", "x",
                 (size_t)1, "problem"),
              -EBADMSG, "problem: expected str");
        fails(mp("m s u s s s s s x s m", 5, "v", 1, "id", "a", "lang", "c", "source", "x",
                 (size_t)1, "tests", 0),
              -EBADMSG, "tests: expected an array");
        fails(mp("m s u s s s s s x s a u", 5, "v", 1, "id", "a", "lang", "c", "source", "x",
                 (size_t)1, "tests", 1, 1),
              -EBADMSG, "tests[0]: expected a map");
        fails(mp("m s u s s s s s x s a m s s s s m s a s s", 5, "v", 1, "id", "a", "lang", "c",
                 "source", "x", (size_t)1, "tests", 2, 2, "in", "1", "out", "2", 2, "in", 0, "out",
                 "2"),
              -EBADMSG, "tests[1].in: expected bin or str");
        fails(mp("m s u s s s s s x s a m s s s u", 5, "v", 1, "id", "a", "lang", "c", "source",
                 "x", (size_t)1, "tests", 1, 2, "in", "1", "out", 2),
              -EBADMSG, "tests[0].out: expected bin or str");
        fails(mp("m s u s s s s s x s a m s s s s s s", 5, "v", 1, "id", "a", "lang", "c", "source",
                 "x", (size_t)1, "tests", 1, 3, "in", "1", "out", "2", "points", "3"),
              -EBADMSG, "tests[0].points: expected a number");
        fails(mp("m s u s s s s s x s a m s s s s s d", 5, "v", 1, "id", "a", "lang", "c", "source",
                 "x", (size_t)1, "tests", 1, 3, "in", "1", "out", "2", "points", NAN),
              -EBADMSG, "tests[0].points: expected a finite number");
        fails(job_plus("s a", "limits", 0), -EBADMSG, "limits: expected a map");
        fails(job_plus("s m s s", "limits", 1, "time_ms", "1"), -EBADMSG,
              "limits.time_ms: expected unsigned integer");
        fails(job_plus("s m s i", "limits", 1, "time_ms", -1), -EBADMSG,
              "limits.time_ms: expected unsigned integer");
        fails(job_plus("s m s U", "limits", 1, "wall_ms", (uint64_t)UINT32_MAX + 1), -EBADMSG,
              "limits.wall_ms: expected unsigned integer up to 4294967295");
        fails(job_plus("s m s d", "limits", 1, "memory_kib", 1.0), -EBADMSG,
              "limits.memory_kib: expected unsigned integer");
        fails(job_plus("s m s t", "limits", 1, "output_kib"), -EBADMSG,
              "limits.output_kib: expected unsigned integer");
        fails(job_plus("s u", "checker", 1), -EBADMSG, "checker: expected str or map");
        fails(job_plus("s s", "checker", "diff"), -EBADMSG, "checker: unknown checker \"diff\"");
        fails(job_plus("s m s u", "checker", 1, "name", 1), -EBADMSG, "checker.name: expected str");
        fails(job_plus("s m s s s s", "checker", 2, "name", "float", "eps", "1e-6"), -EBADMSG,
              "checker.eps: expected a number");
        fails(job_plus("s m s s s d", "checker", 2, "name", "float", "eps", -1.0), -EBADMSG,
              "checker.eps: expected a number >= 0");
        fails(job_plus("s u", "stop_on_failure", 1), -EBADMSG, "stop_on_failure: expected bool");
        fails(job_plus("s s", "attempt", "2"), -EBADMSG, "attempt: expected unsigned integer");
        fails(job_plus("s u", "attempt", 0), -EBADMSG, "attempt: expected a positive integer");
        fails(job_plus("s n", "rejudge"), -EBADMSG, "rejudge: expected bool");
}

static void test_job_decode_rejects_bad_ids(void **state)
{
        (void)state;
        char *long_id = filled(129, 'i');

        fails(mp("m s u s s s s s x s s", 5, "v", 1, "id", "", "lang", "c", "source", "x",
                 (size_t)1, "problem", "p"),
              -EBADMSG, "id: empty");
        fails(mp("m s u s z s s s x s s", 5, "v", 1, "id", "a\0b", (size_t)3, "lang", "c", "source",
                 "x", (size_t)1, "problem", "p"),
              -EBADMSG, "id: contains a NUL byte");
        fails(mp("m s u s s s s s x s s", 5, "v", 1, "id", long_id, "lang", "c", "source", "x",
                 (size_t)1, "problem", "p"),
              -E2BIG, "id: 129 bytes, over the limit of 128");
        fails(mp("m s u s s s s s x s s", 5, "v", 1, "id", "a", "lang", "c", "source", "x",
                 (size_t)1, "problem", long_id),
              -E2BIG, "problem: 129 bytes, over the limit of 128");
        fails(mp("m s u s s s z s x s s", 5, "v", 1, "id", "a", "lang", "c\0", (size_t)2, "source",
                 "x", (size_t)1, "problem", "p"),
              -EBADMSG, "lang: contains a NUL byte");
        free(long_id);
}

static void test_job_decode_rejects_source_over_limit(void **state)
{
        (void)state;
        char *source = filled(300000, 's');

        fails(mp("m s u s s s s s x s s", 5, "v", 1, "id", "a", "lang", "c", "source", source,
                 (size_t)300000, "problem", "p"),
              -E2BIG, "source: 300000 bytes, over the limit of 262144");
        free(source);
}

static void test_job_decode_rejects_inline_tests_over_limit(void **state)
{
        (void)state;
        struct schema_limits lim;
        char *data = filled(600, 'd');

        schema_limits_default(&lim);
        lim.tests_max = 1000;
        /* 600 + 300 fits; then 200 more does not */
        fails_with(mp("m s u s s s s s x s a m s x s x m s x s x", 5, "v", 1, "id", "a", "lang",
                      "c", "source", "x", (size_t)1, "tests", 2, 2, "in", data, (size_t)600, "out",
                      data, (size_t)300, 2, "in", data, (size_t)50, "out", data, (size_t)200),
                   &lim, -E2BIG,
                   "tests[1].out: inline test data (in and out of all tests) over the limit of "
                   "1000 bytes");
        fails(mp("m s u s s s s s x s a", 5, "v", 1, "id", "a", "lang", "c", "source", "x",
                 (size_t)1, "tests", 0),
              -EBADMSG, "tests: empty");
        free(data);
}

static void test_job_decode_rejects_unsupported_version(void **state)
{
        (void)state;
        fails(mp("m s u s s s s s x s s", 5, "v", 7, "id", "a", "lang", "c", "source", "x",
                 (size_t)1, "problem", "p"),
              -EBADMSG, "v: unsupported version 7 (this worker speaks 1)");
        fails(mp("m s i s s s s s x s s", 5, "v", -1, "id", "a", "lang", "c", "source", "x",
                 (size_t)1, "problem", "p"),
              -EBADMSG, "v: expected a positive integer");
}

static void test_job_decode_rejects_duplicate_keys(void **state)
{
        (void)state;
        fails(job_plus("s s", "id", "b"), -EBADMSG, "id: duplicate key");
        fails(job_plus("s m s u s u", "limits", 2, "time_ms", 1, "time_ms", 2), -EBADMSG,
              "limits.time_ms: duplicate key");
}

static void test_job_decode_ignores_unknown_and_non_str_keys(void **state)
{
        (void)state;
        struct mp_buf m = job_plus("s m s a u u", "future", 2, "x", 0, 5, 6);
        struct job out;

        assert_int_equal(schema_job_decode(m.data, m.len, NULL, &out, NULL), 0);
        assert_string_equal(out.problem, "p");
        job_done(&out);
        free(m.data);
}

static void test_job_decode_keeps_meta_bytes_verbatim(void **state)
{
        (void)state;
        struct mp_buf m = mp("m s u s s s s s x s s s r", 6, "v", 1, "id", "a", "lang", "c",
                             "source", "x", (size_t)1, "problem", "p", "meta", meta, sizeof(meta));
        struct job out;
        struct gv_err err = {};
        int r;

        r = schema_job_decode(m.data, m.len, NULL, &out, &err);
        if (r < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(out.meta_len, sizeof(meta));
        assert_memory_equal(out.meta, meta, sizeof(meta));
        job_done(&out);
        free(m.data);
}

static void test_job_decode_reads_meta_only_under_a_str_key(void **state)
{
        (void)state;
        /* a bin key "meta" first (skipped, like any non-str key), then the str key */
        struct mp_buf m = job_plus("x u s a u", "meta", (size_t)4, 7, "meta", 1, 9);
        struct job out;

        m.data[0] = (char)0x87; /* 5 + 2 pairs */
        assert_int_equal(schema_job_decode(m.data, m.len, NULL, &out, NULL), 0);
        assert_int_equal(out.meta_len, 2);
        assert_memory_equal(out.meta, "\x91\x09", 2);
        job_done(&out);
        free(m.data);
}

static void test_job_decode_without_err_still_returns_the_code(void **state)
{
        (void)state;
        struct mp_buf m = job_plus("s m s i", "limits", 1, "time_ms", -1);
        struct job out;

        assert_int_equal(schema_job_decode(m.data, m.len, NULL, &out, NULL), -EBADMSG);
        free(m.data);
}

static void test_job_decode_rejects_non_map_roots(void **state)
{
        (void)state;
        fails(mp("a s", 1, "v"), -EBADMSG, "expected a map at the root");
        fails(mp("u", 1), -EBADMSG, "expected a map at the root");
        fails(mp("n"), -EBADMSG, "expected a map at the root");
        fails(mp("x", "ab", (size_t)2), -EBADMSG, "expected a map at the root");
        fails(mp(""), -EBADMSG, "empty message");
}

static void test_job_decode_rejects_hostile_length_prefixes(void **state)
{
        (void)state;
        /* str32 of 4 GiB - 1, array32 and map32 of 2^32 - 1, inside a tiny buffer */
        static const uint8_t str32[] = {0x81, 0xa2, 'i', 'd', 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'};
        static const uint8_t bin32[] = {0x81, 0xa1, 's', 0xc6, 0xff, 0xff, 0xff, 0xff};
        static const uint8_t array32[] = {0x81, 0xa1, 't', 0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2};
        static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'v', 1};
        static const uint8_t array16[] = {0x81, 0xa1, 't', 0xdc, 0xff, 0xff, 1, 2, 3};
        struct schema_limits lim;
        struct job out;
        struct gv_err err = {};
        int r;

        r = schema_job_decode(str32, sizeof(str32), NULL, &out, &err);
        expect_err_partial(r, &err, -E2BIG, "str or bin of 4294967295 bytes at byte 4");
        r = schema_job_decode(bin32, sizeof(bin32), NULL, &out, &err);
        expect_err_partial(r, &err, -E2BIG, "over the limit of 67108864");
        r = schema_job_decode(array32, sizeof(array32), NULL, &out, &err);
        expect_err(r, &err, -E2BIG,
                   "array or map of 4294967295 elements at byte 3, over the limit of 100000");
        r = schema_job_decode(map32, sizeof(map32), NULL, &out, &err);
        expect_err_partial(r, &err, -E2BIG, "array or map of 4294967295 elements at byte 0");
        /* within array_max, but more elements than bytes left */
        r = schema_job_decode(array16, sizeof(array16), NULL, &out, &err);
        expect_err(r, &err, -EBADMSG, "malformed msgpack: truncated at byte 3");
        /* with the bounds raised as far as they go, the buffer length still decides */
        lim = (struct schema_limits){SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX,
                                     SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX};
        r = schema_job_decode(str32, sizeof(str32), &lim, &out, &err);
        expect_err(r, &err, -EBADMSG, "malformed msgpack: truncated at byte 4");
        r = schema_job_decode(array32, sizeof(array32), &lim, &out, &err);
        expect_err(r, &err, -EBADMSG, "malformed msgpack: truncated at byte 3");
        r = schema_job_decode(map32, sizeof(map32), &lim, &out, &err);
        expect_err(r, &err, -EBADMSG, "malformed msgpack: truncated at byte 0");
}

static void test_job_decode_rejects_nesting_beyond_depth_max(void **state)
{
        (void)state;
        uint8_t buf[64];
        size_t n = 0;
        struct job out;
        struct gv_err err = {};
        int r;

        /* {"meta": [[[...]]]}: the root map and 32 arrays = 33 levels */
        buf[n++] = 0x81;
        buf[n++] = 0xa4;
        memcpy(buf + n, "meta", 4);
        n += 4;
        for (int i = 0; i < 32; i++)
                buf[n++] = 0x91;
        buf[n++] = 0xc0;
        r = schema_job_decode(buf, n, NULL, &out, &err);
        expect_err(r, &err, -E2BIG, "nesting deeper than 32 at byte 37");
}

static void test_job_decode_survives_seeded_garbage(void **state)
{
        (void)state;
        uint64_t seed = 42;
        void *valid;
        size_t valid_len;
        uint8_t *buf;

        assert_int_equal(schema_job_encode(&full_job, &valid, &valid_len), 0);
        buf = malloc(valid_len + 200);
        for (int i = 0; i < 20000; i++) {
                struct gv_err err = {};
                struct job out;
                size_t len;
                int r;

                /* random bytes; or the valid job with a few bytes flipped */
                if (i % 2) {
                        len = test_rand(&seed) % 200;
                        for (size_t j = 0; j < len; j++)
                                buf[j] = (uint8_t)test_rand(&seed);
                } else {
                        len = valid_len;
                        memcpy(buf, valid, len);
                        for (int k = 0; k < 3; k++)
                                buf[test_rand(&seed) % len] = (uint8_t)test_rand(&seed);
                }
                r = schema_job_decode(buf, len, NULL, &out, &err);
                if (r == 0)
                        job_done(&out);
                else if (r != -EBADMSG && r != -E2BIG)
                        fail_msg("%d: %s", r, err.msg);
        }
        free(buf);
        free(valid);
}

static void test_job_encode_rejects_invalid_jobs(void **state)
{
        (void)state;
        struct job job = min_job;
        uint8_t bad_meta[] = {0x92, 0x01}; /* an array missing an element */
        void *buf = NULL;
        size_t len = 0;

        job.id = NULL;
        assert_int_equal(schema_job_encode(&job, &buf, &len), -EINVAL);
        job = min_job;
        job.problem = NULL; /* neither problem nor tests */
        assert_int_equal(schema_job_encode(&job, &buf, &len), -EINVAL);
        job = min_job;
        job.checker = _SCHEMA_CHECKER_MAX;
        assert_int_equal(schema_job_encode(&job, &buf, &len), -EINVAL);
        job = min_job;
        job.meta = bad_meta;
        job.meta_len = sizeof(bad_meta);
        assert_int_equal(schema_job_encode(&job, &buf, &len), -EINVAL);
        assert_null(buf);
        assert_int_equal(len, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_job_roundtrips_with_every_field),
                cmocka_unit_test(test_job_roundtrips_with_required_fields_only),
                cmocka_unit_test(test_job_roundtrips_checker_forms),
                cmocka_unit_test(test_job_decode_copies_everything_out_of_the_buffer),
                cmocka_unit_test(test_job_decode_defaults_attempt_to_one),
                cmocka_unit_test(test_job_decode_accepts_str_and_bin_data_and_number_forms),
                cmocka_unit_test(test_job_decode_names_every_missing_key),
                cmocka_unit_test(test_job_decode_names_every_wrong_type),
                cmocka_unit_test(test_job_decode_rejects_bad_ids),
                cmocka_unit_test(test_job_decode_rejects_source_over_limit),
                cmocka_unit_test(test_job_decode_rejects_inline_tests_over_limit),
                cmocka_unit_test(test_job_decode_rejects_unsupported_version),
                cmocka_unit_test(test_job_decode_rejects_duplicate_keys),
                cmocka_unit_test(test_job_decode_ignores_unknown_and_non_str_keys),
                cmocka_unit_test(test_job_decode_keeps_meta_bytes_verbatim),
                cmocka_unit_test(test_job_decode_reads_meta_only_under_a_str_key),
                cmocka_unit_test(test_job_decode_without_err_still_returns_the_code),
                cmocka_unit_test(test_job_decode_rejects_non_map_roots),
                cmocka_unit_test(test_job_decode_rejects_hostile_length_prefixes),
                cmocka_unit_test(test_job_decode_rejects_nesting_beyond_depth_max),
                cmocka_unit_test(test_job_decode_survives_seeded_garbage),
                cmocka_unit_test(test_job_encode_rejects_invalid_jobs),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
