/* SPDX-License-Identifier: MIT */
/*
 * The progress codec: round trips of every stage, errors that name each missing or mistyped
 * field, truncation at each byte, and garbage.
 */
#include "test_mp.h"

#include "schema/cleanup.h"

static void progress_assert_equal(const struct progress *a, const struct progress *b)
{
        assert_int_equal(a->v, b->v);
        assert_string_equal(a->id, b->id);
        assert_int_equal(a->stage, b->stage);
        assert_int_equal(a->test, b->test);
        assert_int_equal(a->of, b->of);
        assert_true(!a->worker == !b->worker);
        if (a->worker)
                assert_string_equal(a->worker, b->worker);
        assert_int_equal(a->ts_ms, b->ts_ms);
}

static void roundtrip(const struct progress *progress)
{
        void *buf;
        size_t len;
        struct progress out;
        struct gv_err err = {};
        int r;

        assert_int_equal(schema_progress_encode(progress, &buf, &len), 0);
        r = schema_progress_decode(buf, len, NULL, &out, &err);
        if (r < 0)
                fail_msg("decode: %s", err.msg);
        progress_assert_equal(progress, &out);
        progress_done(&out);
        for (size_t n = 0; n < len; n++) {
                char *prefix = malloc(n ? n : 1);

                memcpy(prefix, buf, n);
                assert_int_equal(schema_progress_decode(prefix, n, NULL, &out, NULL), -EBADMSG);
                free(prefix);
        }
        free(buf);
}

static void test_progress_roundtrips_with_every_field(void **state)
{
        (void)state;
        struct progress p = {
                .v = 1,
                .id = "sub-42",
                .stage = SCHEMA_STAGE_RUNNING,
                .test = 3,
                .of = UINT32_MAX,
                .worker = "judge-1",
                .ts_ms = INT64_MIN,
        };

        roundtrip(&p);
}

static void test_progress_roundtrips_every_stage_with_required_fields(void **state)
{
        (void)state;
        for (int s = 0; s < _SCHEMA_STAGE_MAX; s++) {
                struct progress p = {.v = 1, .id = "a", .stage = s};

                roundtrip(&p);
        }
}

static void fails(struct mp_buf m, int code, const char *msg)
{
        struct progress out = {.id = (char *)"untouched"};
        struct gv_err err = {};
        int r;

        r = schema_progress_decode(m.data, m.len, NULL, &out, &err);
        expect_err(r, &err, code, msg);
        assert_string_equal(out.id, "untouched");
        free(m.data);
}

#define progress_plus(fmt, ...) \
        mp_append(mp("m s u s s s s", 4, "v", 1, "id", "a", "stage", "done"), fmt, __VA_ARGS__)

static void test_progress_decode_names_missing_and_mistyped_keys(void **state)
{
        (void)state;
        fails(mp("m s s s s", 2, "id", "a", "stage", "done"), -EBADMSG, "v: missing");
        fails(mp("m s u s s", 2, "v", 1, "stage", "done"), -EBADMSG, "id: missing");
        fails(mp("m s u s s", 2, "v", 1, "id", "a"), -EBADMSG, "stage: missing");
        fails(mp("m s u s s s s", 3, "v", 1, "id", "a", "stage", "judging"), -EBADMSG,
              "stage: unknown stage \"judging\"");
        fails(mp("m s u s s s u", 3, "v", 1, "id", "a", "stage", 2), -EBADMSG,
              "stage: expected str");
        fails(mp("m s u s z s s", 3, "v", 1, "id", "\0", (size_t)1, "stage", "done"), -EBADMSG,
              "id: contains a NUL byte");
        fails(progress_plus("s i", "test", -1), -EBADMSG, "test: expected unsigned integer");
        fails(progress_plus("s U", "of", (uint64_t)1 << 32), -EBADMSG,
              "of: expected unsigned integer up to 4294967295");
        fails(progress_plus("s x", "worker", "w", (size_t)1), -EBADMSG, "worker: expected str");
        fails(progress_plus("s d", "ts_ms", 1.0), -EBADMSG, "ts_ms: expected integer");
        fails(progress_plus("s s", "stage", "done"), -EBADMSG, "stage: duplicate key");
        fails(mp("s", "done"), -EBADMSG, "expected a map at the root");
        fails(mp("m s u s s s s", 3, "v", 3, "id", "a", "stage", "done"), -EBADMSG,
              "v: unsupported version 3 (this worker speaks 1)");
}

static void test_progress_decode_survives_seeded_garbage(void **state)
{
        (void)state;
        uint64_t seed = 99;
        uint8_t buf[128];

        for (int i = 0; i < 20000; i++) {
                size_t len = test_rand(&seed) % sizeof(buf);
                struct gv_err err = {};
                struct progress out;
                int r;

                for (size_t j = 0; j < len; j++)
                        buf[j] = (uint8_t)test_rand(&seed);
                if (len > 0)
                        buf[0] = 0x80 | (buf[0] & 0x0f);
                r = schema_progress_decode(buf, len, NULL, &out, &err);
                if (r == 0)
                        progress_done(&out);
                else if (r != -EBADMSG && r != -E2BIG)
                        fail_msg("%d: %s", r, err.msg);
        }
}

static void test_progress_encode_rejects_invalid_progress(void **state)
{
        (void)state;
        struct progress p = {.v = 1, .id = "a", .stage = _SCHEMA_STAGE_MAX};
        void *buf = NULL;
        size_t len = 0;

        assert_int_equal(schema_progress_encode(&p, &buf, &len), -EINVAL);
        p.stage = SCHEMA_STAGE_DONE;
        p.id = NULL;
        assert_int_equal(schema_progress_encode(&p, &buf, &len), -EINVAL);
        assert_null(buf);
        progress_done(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_progress_roundtrips_with_every_field),
                cmocka_unit_test(test_progress_roundtrips_every_stage_with_required_fields),
                cmocka_unit_test(test_progress_decode_names_missing_and_mistyped_keys),
                cmocka_unit_test(test_progress_decode_survives_seeded_garbage),
                cmocka_unit_test(test_progress_encode_rejects_invalid_progress),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
