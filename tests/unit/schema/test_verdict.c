/* SPDX-License-Identifier: MIT */
/*
 * The verdict codec: round trips with every field and with the required ones only, errors that
 * name the path of each missing or mistyped field, truncation at each byte, and garbage.
 */
#include "test_mp.h"

#include "schema/cleanup.h"

static void opt_str_equal(const char *a, const char *b)
{
        assert_true(!a == !b);
        if (a)
                assert_string_equal(a, b);
}

static void verdict_assert_equal(const struct verdict *a, const struct verdict *b)
{
        assert_int_equal(a->v, b->v);
        assert_string_equal(a->id, b->id);
        assert_int_equal(a->verdict, b->verdict);
        opt_str_equal(a->reason, b->reason);
        assert_true(a->score == b->score);
        assert_true(a->max_score == b->max_score);
        assert_int_equal(a->compile.present, b->compile.present);
        assert_int_equal(a->compile.ok, b->compile.ok);
        opt_str_equal(a->compile.log, b->compile.log);
        assert_int_equal(a->compile.time_ms, b->compile.time_ms);
        assert_int_equal(a->compile.memory_kib, b->compile.memory_kib);
        assert_int_equal(a->compile.cached, b->compile.cached);
        assert_int_equal(a->n_tests, b->n_tests);
        for (size_t i = 0; i < a->n_tests; i++) {
                const struct verdict_test *x = &a->tests[i], *y = &b->tests[i];

                assert_int_equal(x->verdict, y->verdict);
                assert_int_equal(x->time_ms, y->time_ms);
                assert_int_equal(x->wall_ms, y->wall_ms);
                assert_int_equal(x->memory_kib, y->memory_kib);
                assert_int_equal(x->exit_code, y->exit_code);
                assert_int_equal(x->signal, y->signal);
                opt_str_equal(x->checker_message, y->checker_message);
        }
        assert_int_equal(a->time_ms, b->time_ms);
        assert_int_equal(a->memory_kib, b->memory_kib);
        assert_int_equal(a->meta_len, b->meta_len);
        assert_true(!a->meta == !b->meta);
        if (a->meta)
                assert_memory_equal(a->meta, b->meta, a->meta_len);
        opt_str_equal(a->worker, b->worker);
        assert_int_equal(a->attempt, b->attempt);
        assert_int_equal(a->received_ms, b->received_ms);
        assert_int_equal(a->finished_ms, b->finished_ms);
}

static const uint8_t meta[] = {0x82, 0xa1, 'k', 0x01, 0xa1, 'l', 0x91, 0xa0};

static struct verdict_test full_tests[] = {
        {.verdict = SCHEMA_AC, .time_ms = 10, .wall_ms = 12, .memory_kib = 1024},
        {.verdict = SCHEMA_RE,
         .time_ms = 5,
         .wall_ms = 6,
         .memory_kib = 2048,
         .exit_code = -1,
         .signal = 11,
         .checker_message = ""},
        {.verdict = SCHEMA_WA, .exit_code = INT32_MIN, .checker_message = "expected 3, got 4"},
        {.verdict = SCHEMA_SKIPPED},
};

static const struct verdict full_verdict = {
        .v = 1,
        .id = "sub-42",
        .verdict = SCHEMA_RE,
        .reason = "test 2: killed by SIGSEGV",
        .score = 1.5,
        .max_score = 4,
        .compile = {.present = true,
                    .ok = true,
                    .log = "warning: unused x\n",
                    .time_ms = 812,
                    .memory_kib = UINT64_MAX,
                    .cached = true},
        .tests = full_tests,
        .n_tests = 4,
        .time_ms = UINT32_MAX,
        .memory_kib = 2048,
        .meta = (uint8_t *)meta,
        .meta_len = sizeof(meta),
        .worker = "judge-3",
        .attempt = 2,
        .received_ms = 1700000000000,
        .finished_ms = -1,
};

static const struct verdict min_verdict = {.v = 1, .id = "x", .verdict = SCHEMA_AC};

static void roundtrip(const struct verdict *verdict)
{
        void *buf, *buf2;
        size_t len, len2;
        struct verdict out;
        struct gv_err err = {};
        int r;

        assert_int_equal(schema_verdict_encode(verdict, &buf, &len), 0);
        r = schema_verdict_decode(buf, len, NULL, &out, &err);
        if (r < 0)
                fail_msg("decode: %s", err.msg);
        verdict_assert_equal(verdict, &out);
        assert_int_equal(schema_verdict_encode(&out, &buf2, &len2), 0);
        assert_int_equal(len, len2);
        assert_memory_equal(buf, buf2, len);
        free(buf2);
        verdict_done(&out);
        for (size_t n = 0; n < len; n++) {
                char *prefix = malloc(n ? n : 1);

                memcpy(prefix, buf, n);
                assert_int_equal(schema_verdict_decode(prefix, n, NULL, &out, NULL), -EBADMSG);
                free(prefix);
        }
        free(buf);
}

static void test_verdict_roundtrips_with_every_field(void **state)
{
        (void)state;
        roundtrip(&full_verdict);
}

static void test_verdict_roundtrips_with_required_fields_only(void **state)
{
        (void)state;
        struct verdict ce = {.v = 1, .id = "y", .verdict = SCHEMA_CE, .compile = {.present = true}};

        roundtrip(&min_verdict);
        roundtrip(&ce); /* a compile map with only "ok": false */
}

static void test_verdict_roundtrips_every_code(void **state)
{
        (void)state;
        for (int c = 0; c < _SCHEMA_CODE_MAX; c++) {
                struct verdict v = min_verdict;

                v.verdict = c;
                roundtrip(&v);
        }
}

static void fails(struct mp_buf m, int code, const char *msg)
{
        struct verdict out = {.id = (char *)"untouched"};
        struct gv_err err = {};
        int r;

        r = schema_verdict_decode(m.data, m.len, NULL, &out, &err);
        expect_err(r, &err, code, msg);
        assert_string_equal(out.id, "untouched");
        free(m.data);
}

/* a minimal valid verdict with one more pair, packed by fmt (see mp()) */
#define verdict_plus(fmt, ...) \
        mp_append(mp("m s u s s s s", 4, "v", 1, "id", "a", "verdict", "AC"), fmt, __VA_ARGS__)

static void test_verdict_decode_names_every_missing_key(void **state)
{
        (void)state;
        fails(mp("m s s s s", 2, "id", "a", "verdict", "AC"), -EBADMSG, "v: missing");
        fails(mp("m s u s s", 2, "v", 1, "verdict", "AC"), -EBADMSG, "id: missing");
        fails(mp("m s u s s", 2, "v", 1, "id", "a"), -EBADMSG, "verdict: missing");
        fails(verdict_plus("s a m s u", "tests", 1, 1, "time_ms", 5), -EBADMSG,
              "tests[0].verdict: missing");
}

static void test_verdict_decode_names_every_wrong_type(void **state)
{
        (void)state;
        fails(mp("m s u s u s s", 3, "v", 1, "id", 1, "verdict", "AC"), -EBADMSG,
              "id: expected str");
        fails(mp("m s u s s s u", 3, "v", 1, "id", "a", "verdict", 0), -EBADMSG,
              "verdict: expected str");
        fails(mp("m s u s s s s", 3, "v", 1, "id", "a", "verdict", "ac"), -EBADMSG,
              "verdict: unknown verdict code \"ac\"");
        fails(verdict_plus("s x", "reason", "r", (size_t)1), -EBADMSG, "reason: expected str");
        fails(verdict_plus("s s", "score", "1"), -EBADMSG, "score: expected a number");
        fails(verdict_plus("s t", "max_score"), -EBADMSG, "max_score: expected a number");
        fails(verdict_plus("s t", "compile"), -EBADMSG, "compile: expected a map");
        fails(verdict_plus("s m s u", "compile", 1, "ok", 1), -EBADMSG,
              "compile.ok: expected bool");
        fails(verdict_plus("s m s x", "compile", 1, "log", "l", (size_t)1), -EBADMSG,
              "compile.log: expected str");
        fails(verdict_plus("s m s i", "compile", 1, "time_ms", -3), -EBADMSG,
              "compile.time_ms: expected unsigned integer");
        fails(verdict_plus("s m s d", "compile", 1, "memory_kib", 1.5), -EBADMSG,
              "compile.memory_kib: expected unsigned integer");
        fails(verdict_plus("s m s s", "compile", 1, "cached", "yes"), -EBADMSG,
              "compile.cached: expected bool");
        fails(verdict_plus("s m", "tests", 0), -EBADMSG, "tests: expected an array");
        fails(verdict_plus("s a n", "tests", 1), -EBADMSG, "tests[0]: expected a map");
        fails(verdict_plus("s a m s s m s s s s", "tests", 2, 1, "verdict", "AC", 2, "verdict",
                           "AC", "time_ms", "1"),
              -EBADMSG, "tests[1].time_ms: expected unsigned integer");
        fails(verdict_plus("s a m s s s U", "tests", 1, 2, "verdict", "WA", "wall_ms",
                           (uint64_t)1 << 32),
              -EBADMSG, "tests[0].wall_ms: expected unsigned integer up to 4294967295");
        fails(verdict_plus("s a m s s s i", "tests", 1, 2, "verdict", "WA", "memory_kib", -1),
              -EBADMSG, "tests[0].memory_kib: expected unsigned integer");
        fails(verdict_plus("s a m s s s I", "tests", 1, 2, "verdict", "RE", "exit_code",
                           (int64_t)INT32_MIN - 1),
              -EBADMSG, "tests[0].exit_code: expected integer from -2147483648 to 2147483647");
        fails(verdict_plus("s a m s s s s", "tests", 1, 2, "verdict", "RE", "signal", "SEGV"),
              -EBADMSG, "tests[0].signal: expected integer");
        fails(verdict_plus("s a m s s s u", "tests", 1, 2, "verdict", "RE", "checker_message", 1),
              -EBADMSG, "tests[0].checker_message: expected str");
        fails(verdict_plus("s a m s s", "tests", 1, 1, "verdict", "OK"), -EBADMSG,
              "tests[0].verdict: unknown verdict code \"OK\"");
        fails(verdict_plus("s s", "time_ms", "1"), -EBADMSG, "time_ms: expected unsigned integer");
        fails(verdict_plus("s i", "memory_kib", -1), -EBADMSG,
              "memory_kib: expected unsigned integer");
        fails(verdict_plus("s u", "worker", 1), -EBADMSG, "worker: expected str");
        fails(verdict_plus("s s", "worker", ""), -EBADMSG, "worker: empty");
        fails(verdict_plus("s d", "attempt", 1.0), -EBADMSG, "attempt: expected unsigned integer");
        fails(verdict_plus("s U", "received_ms", (uint64_t)INT64_MAX + 1), -EBADMSG,
              "received_ms: expected integer from -9223372036854775808 to "
              "9223372036854775807");
        fails(verdict_plus("s n", "finished_ms"), -EBADMSG, "finished_ms: expected integer");
}

static void test_verdict_decode_accepts_integer_scores_and_empty_tests(void **state)
{
        (void)state;
        struct mp_buf m = verdict_plus("s u s i s a", "score", 3, "max_score", -2, "tests", 0);
        struct verdict out;

        /* the map header says 4 pairs: 3 + 1 expected; patch it to 3 + 3 */
        assert_int_equal((uint8_t)m.data[0], 0x84);
        m.data[0] = (char)0x86;
        assert_int_equal(schema_verdict_decode(m.data, m.len, NULL, &out, NULL), 0);
        assert_true(out.score == 3.0);
        assert_true(out.max_score == -2.0);
        assert_null(out.tests);
        assert_int_equal(out.n_tests, 0);
        verdict_done(&out);
        free(m.data);
}

static void test_verdict_decode_rejects_over_bounds(void **state)
{
        (void)state;
        char *log = filled((1 << 20) + 1, 'l');

        fails(verdict_plus("s m s s", "compile", 1, "log", log), -E2BIG,
              "compile.log: 1048577 bytes, over the limit of 1048576");
        log[129] = '\0';
        fails(verdict_plus("s s", "worker", log), -E2BIG,
              "worker: 129 bytes, over the limit of 128");
        fails(verdict_plus("s s", "id", "b"), -EBADMSG, "id: duplicate key");
        fails(mp("m s u s s s s", 3, "v", 2, "id", "a", "verdict", "AC"), -EBADMSG,
              "v: unsupported version 2 (this worker speaks 1)");
        fails(mp("a u", 1, 1), -EBADMSG, "expected a map at the root");
        free(log);
}

static void test_verdict_decode_without_err_still_returns_the_code(void **state)
{
        (void)state;
        struct mp_buf m =
                verdict_plus("s a m s s s i", "tests", 1, 2, "verdict", "WA", "memory_kib", -1);
        struct verdict out;

        assert_int_equal(schema_verdict_decode(m.data, m.len, NULL, &out, NULL), -EBADMSG);
        free(m.data);
}

static void test_verdict_decode_survives_seeded_garbage(void **state)
{
        (void)state;
        uint64_t seed = 7;
        void *valid;
        size_t valid_len;
        uint8_t *buf;

        assert_int_equal(schema_verdict_encode(&full_verdict, &valid, &valid_len), 0);
        buf = malloc(valid_len + 256);
        for (int i = 0; i < 20000; i++) {
                struct gv_err err = {};
                struct verdict out;
                size_t len;
                int r;

                if (i % 2) {
                        len = test_rand(&seed) % 256;
                        for (size_t j = 0; j < len; j++)
                                buf[j] = (uint8_t)test_rand(&seed);
                } else {
                        len = valid_len;
                        memcpy(buf, valid, len);
                        for (int k = 0; k < 3; k++)
                                buf[test_rand(&seed) % len] = (uint8_t)test_rand(&seed);
                }
                r = schema_verdict_decode(buf, len, NULL, &out, &err);
                if (r == 0)
                        verdict_done(&out);
                else if (r != -EBADMSG && r != -E2BIG)
                        fail_msg("%d: %s", r, err.msg);
        }
        free(buf);
        free(valid);
}

static void test_verdict_encode_rejects_invalid_verdicts(void **state)
{
        (void)state;
        struct verdict_test bad_test = {.verdict = _SCHEMA_CODE_INVALID};
        struct verdict v = min_verdict;
        void *buf = NULL;
        size_t len = 0;

        v.verdict = _SCHEMA_CODE_MAX;
        assert_int_equal(schema_verdict_encode(&v, &buf, &len), -EINVAL);
        v = min_verdict;
        v.id = NULL;
        assert_int_equal(schema_verdict_encode(&v, &buf, &len), -EINVAL);
        v = min_verdict;
        v.tests = &bad_test;
        v.n_tests = 1;
        assert_int_equal(schema_verdict_encode(&v, &buf, &len), -EINVAL);
        assert_null(buf);
        verdict_done(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_verdict_roundtrips_with_every_field),
                cmocka_unit_test(test_verdict_roundtrips_with_required_fields_only),
                cmocka_unit_test(test_verdict_roundtrips_every_code),
                cmocka_unit_test(test_verdict_decode_names_every_missing_key),
                cmocka_unit_test(test_verdict_decode_names_every_wrong_type),
                cmocka_unit_test(test_verdict_decode_accepts_integer_scores_and_empty_tests),
                cmocka_unit_test(test_verdict_decode_rejects_over_bounds),
                cmocka_unit_test(test_verdict_decode_without_err_still_returns_the_code),
                cmocka_unit_test(test_verdict_decode_survives_seeded_garbage),
                cmocka_unit_test(test_verdict_encode_rejects_invalid_verdicts),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
