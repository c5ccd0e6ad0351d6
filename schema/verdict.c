/* SPDX-License-Identifier: MIT */
/*
 * The verdict a worker publishes on gavel.verdicts: the code, the score, the compile step and
 * one entry per test. The worker encodes it; platforms, replay and the tests decode it, with the
 * same bounds as a job. "meta" is copied back verbatim from the job.
 */
#include <math.h>
#include <stdlib.h>

#include "schema/cleanup.h"
#include "schema/codec-internal.h"

enum {
        V_V,
        V_ID,
        V_VERDICT,
        V_REASON,
        V_SCORE,
        V_MAX_SCORE,
        V_COMPILE,
        V_TESTS,
        V_TIME_MS,
        V_MEMORY_KIB,
        V_META,
        V_WORKER,
        V_ATTEMPT,
        V_RECEIVED_MS,
        V_FINISHED_MS,
        _V_MAX,
};

static const char *const verdict_keys[_V_MAX] = {
        [V_V] = "v",
        [V_ID] = "id",
        [V_VERDICT] = "verdict",
        [V_REASON] = "reason",
        [V_SCORE] = "score",
        [V_MAX_SCORE] = "max_score",
        [V_COMPILE] = "compile",
        [V_TESTS] = "tests",
        [V_TIME_MS] = "time_ms",
        [V_MEMORY_KIB] = "memory_kib",
        [V_META] = "meta",
        [V_WORKER] = "worker",
        [V_ATTEMPT] = "attempt",
        [V_RECEIVED_MS] = "received_ms",
        [V_FINISHED_MS] = "finished_ms",
};

enum { C_OK, C_LOG, C_TIME_MS, C_MEMORY_KIB, C_CACHED, _C_MAX };

static const char *const compile_keys[_C_MAX] = {
        [C_OK] = "ok",           [C_LOG] = "log",
        [C_TIME_MS] = "time_ms", [C_MEMORY_KIB] = "memory_kib",
        [C_CACHED] = "cached",
};

enum {
        T_VERDICT,
        T_TIME_MS,
        T_WALL_MS,
        T_MEMORY_KIB,
        T_EXIT_CODE,
        T_SIGNAL,
        T_CHECKER_MESSAGE,
        _T_MAX,
};

static const char *const test_keys[_T_MAX] = {
        [T_VERDICT] = "verdict",
        [T_TIME_MS] = "time_ms",
        [T_WALL_MS] = "wall_ms",
        [T_MEMORY_KIB] = "memory_kib",
        [T_EXIT_CODE] = "exit_code",
        [T_SIGNAL] = "signal",
        [T_CHECKER_MESSAGE] = "checker_message",
};

static int decode_code(const msgpack_object *o, const char *name, enum schema_code *ret,
                       struct gv_err *err)
{
        int code, r;

        r = schema__enum(o, name, schema__code_names, _SCHEMA_CODE_MAX, "verdict code", &code, err);
        if (r < 0)
                return r;
        *ret = code;
        return 0;
}

static int decode_compile(const msgpack_object *o, const struct schema_limits *lim,
                          struct verdict_compile *c, struct gv_err *err)
{
        struct schema__field f[_C_MAX];
        int r;

        r = schema__fields(o, compile_keys, f, _C_MAX, err);
        if (r < 0)
                return r;
        c->present = true;
        if (f[C_OK].val) {
                r = schema__bool(f[C_OK].val, "ok", &c->ok, err);
                if (r < 0)
                        return r;
        }
        if (f[C_LOG].val) {
                r = schema__str(f[C_LOG].val, "log", lim->str_max, 0, &c->log, err);
                if (r < 0)
                        return r;
        }
        if (f[C_TIME_MS].val) {
                r = schema__u32(f[C_TIME_MS].val, "time_ms", &c->time_ms, err);
                if (r < 0)
                        return r;
        }
        if (f[C_MEMORY_KIB].val) {
                r = schema__u64(f[C_MEMORY_KIB].val, "memory_kib", &c->memory_kib, err);
                if (r < 0)
                        return r;
        }
        if (f[C_CACHED].val) {
                r = schema__bool(f[C_CACHED].val, "cached", &c->cached, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int decode_test(const msgpack_object *o, const struct schema_limits *lim,
                       struct verdict_test *t, struct gv_err *err)
{
        struct schema__field f[_T_MAX];
        int r;

        r = schema__fields(o, test_keys, f, _T_MAX, err);
        if (r < 0)
                return r;
        if (!f[T_VERDICT].val)
                return schema__missing("verdict", err);
        r = decode_code(f[T_VERDICT].val, "verdict", &t->verdict, err);
        if (r < 0)
                return r;
        if (f[T_TIME_MS].val) {
                r = schema__u32(f[T_TIME_MS].val, "time_ms", &t->time_ms, err);
                if (r < 0)
                        return r;
        }
        if (f[T_WALL_MS].val) {
                r = schema__u32(f[T_WALL_MS].val, "wall_ms", &t->wall_ms, err);
                if (r < 0)
                        return r;
        }
        if (f[T_MEMORY_KIB].val) {
                r = schema__u64(f[T_MEMORY_KIB].val, "memory_kib", &t->memory_kib, err);
                if (r < 0)
                        return r;
        }
        if (f[T_EXIT_CODE].val) {
                r = schema__i32(f[T_EXIT_CODE].val, "exit_code", &t->exit_code, err);
                if (r < 0)
                        return r;
        }
        if (f[T_SIGNAL].val) {
                r = schema__i32(f[T_SIGNAL].val, "signal", &t->signal, err);
                if (r < 0)
                        return r;
        }
        if (f[T_CHECKER_MESSAGE].val) {
                r = schema__str(f[T_CHECKER_MESSAGE].val, "checker_message", lim->str_max, 0,
                                &t->checker_message, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int decode_tests(const msgpack_object *o, const struct schema_limits *lim,
                        struct verdict *verdict, struct gv_err *err)
{
        int r;

        r = schema__want_array(o, "tests", lim->array_max, err);
        if (r < 0)
                return r;
        if (o->via.array.size == 0)
                return 0; /* e.g. a compilation error: no test ran */
        verdict->tests = xcalloc(o->via.array.size, sizeof(*verdict->tests));
        verdict->n_tests = o->via.array.size;
        for (size_t i = 0; i < verdict->n_tests; i++) {
                const msgpack_object *el = &o->via.array.ptr[i];

                if (el->type != MSGPACK_OBJECT_MAP)
                        return gv_err_set(err, -EBADMSG, "tests[%zu]: expected a map", i);
                r = decode_test(el, lim, &verdict->tests[i], err);
                if (r < 0)
                        return gv_err_prefix(err, r, "tests[%zu].", i);
        }
        return 0;
}

static int decode_verdict(const void *buf, size_t len, const msgpack_object *root,
                          const struct schema_limits *lim, void *ret, struct gv_err *err)
{
        struct verdict *verdict = ret;
        struct schema__field f[_V_MAX];
        int r;

        r = schema__fields(root, verdict_keys, f, _V_MAX, err);
        if (r < 0)
                return r;
        if (!f[V_V].val)
                return schema__missing("v", err);
        r = schema__version(f[V_V].val, &verdict->v, err);
        if (r < 0)
                return r;
        if (!f[V_ID].val)
                return schema__missing("id", err);
        r = schema__str(f[V_ID].val, "id", lim->id_max, SCHEMA__ID, &verdict->id, err);
        if (r < 0)
                return r;
        if (!f[V_VERDICT].val)
                return schema__missing("verdict", err);
        r = decode_code(f[V_VERDICT].val, "verdict", &verdict->verdict, err);
        if (r < 0)
                return r;
        if (f[V_REASON].val) {
                r = schema__str(f[V_REASON].val, "reason", lim->str_max, 0, &verdict->reason, err);
                if (r < 0)
                        return r;
        }
        if (f[V_SCORE].val) {
                r = schema__number(f[V_SCORE].val, "score", &verdict->score, err);
                if (r < 0)
                        return r;
        }
        if (f[V_MAX_SCORE].val) {
                r = schema__number(f[V_MAX_SCORE].val, "max_score", &verdict->max_score, err);
                if (r < 0)
                        return r;
        }
        if (f[V_COMPILE].val) {
                r = schema__want_map(f[V_COMPILE].val, "compile", err);
                if (r < 0)
                        return r;
                r = decode_compile(f[V_COMPILE].val, lim, &verdict->compile, err);
                if (r < 0)
                        return gv_err_prefix(err, r, "compile.");
        }
        if (f[V_TESTS].val) {
                r = decode_tests(f[V_TESTS].val, lim, verdict, err);
                if (r < 0)
                        return r;
        }
        if (f[V_TIME_MS].val) {
                r = schema__u32(f[V_TIME_MS].val, "time_ms", &verdict->time_ms, err);
                if (r < 0)
                        return r;
        }
        if (f[V_MEMORY_KIB].val) {
                r = schema__u64(f[V_MEMORY_KIB].val, "memory_kib", &verdict->memory_kib, err);
                if (r < 0)
                        return r;
        }
        if (f[V_META].val) {
                size_t off, n;

                if (schema__raw_value(buf, len, "meta", &off, &n) < 0)
                        return gv_err_set(err, -EBADMSG, "meta: not found on the wire");
                verdict->meta = schema__memdup((const uint8_t *)buf + off, n);
                verdict->meta_len = n;
        }
        if (f[V_WORKER].val) {
                r = schema__str(f[V_WORKER].val, "worker", lim->id_max, SCHEMA__ID,
                                &verdict->worker, err);
                if (r < 0)
                        return r;
        }
        if (f[V_ATTEMPT].val) {
                r = schema__u32(f[V_ATTEMPT].val, "attempt", &verdict->attempt, err);
                if (r < 0)
                        return r;
        }
        if (f[V_RECEIVED_MS].val) {
                r = schema__i64(f[V_RECEIVED_MS].val, "received_ms", &verdict->received_ms, err);
                if (r < 0)
                        return r;
        }
        if (f[V_FINISHED_MS].val) {
                r = schema__i64(f[V_FINISHED_MS].val, "finished_ms", &verdict->finished_ms, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void verdict_done_any(void *verdict)
{
        verdict_done(verdict);
}

int schema_verdict_decode(const void *buf, size_t len, const struct schema_limits *lim,
                          struct verdict *ret_verdict, struct gv_err *err)
{
        static const struct schema__type type = {sizeof(struct verdict), decode_verdict,
                                                 verdict_done_any};
        struct schema_limits dflt;

        return schema__decode(buf, len, schema__limits(lim, &dflt), &type, ret_verdict, err);
}

void verdict_done(struct verdict *verdict)
{
        if (!verdict)
                return;
        free(verdict->id);
        free(verdict->reason);
        free(verdict->compile.log);
        for (size_t i = 0; i < verdict->n_tests && verdict->tests; i++)
                free(verdict->tests[i].checker_message);
        free(verdict->tests);
        free(verdict->meta);
        free(verdict->worker);
        *verdict = (struct verdict){};
}

static int pack_compile(msgpack_packer *pk, const struct verdict_compile *c)
{
        int r = 0;

        r |= schema__pack_key(pk, "compile");
        r |= msgpack_pack_map(pk, 1 + !!c->log + !!c->time_ms + !!c->memory_kib + c->cached);
        r |= schema__kv_bool(pk, "ok", c->ok);
        if (c->log)
                r |= schema__kv_str(pk, "log", c->log);
        if (c->time_ms)
                r |= schema__kv_uint(pk, "time_ms", c->time_ms);
        if (c->memory_kib)
                r |= schema__kv_uint(pk, "memory_kib", c->memory_kib);
        if (c->cached)
                r |= schema__kv_bool(pk, "cached", true);
        return r;
}

static int pack_test(msgpack_packer *pk, const struct verdict_test *t)
{
        int r = 0;

        r |= msgpack_pack_map(pk, 1 + !!t->time_ms + !!t->wall_ms + !!t->memory_kib +
                                          !!t->exit_code + !!t->signal + !!t->checker_message);
        r |= schema__kv_str(pk, "verdict", schema__code_names[t->verdict]);
        if (t->time_ms)
                r |= schema__kv_uint(pk, "time_ms", t->time_ms);
        if (t->wall_ms)
                r |= schema__kv_uint(pk, "wall_ms", t->wall_ms);
        if (t->memory_kib)
                r |= schema__kv_uint(pk, "memory_kib", t->memory_kib);
        if (t->exit_code)
                r |= schema__kv_int(pk, "exit_code", t->exit_code);
        if (t->signal)
                r |= schema__kv_int(pk, "signal", t->signal);
        if (t->checker_message)
                r |= schema__kv_str(pk, "checker_message", t->checker_message);
        return r;
}

static int pack_verdict(msgpack_packer *pk, msgpack_sbuffer *sbuf, const struct verdict *v)
{
        int r = 0;

        r |= msgpack_pack_map(pk, 3 + !!v->reason + (v->score != 0) + (v->max_score != 0) +
                                          v->compile.present + !!v->n_tests + !!v->time_ms +
                                          !!v->memory_kib + !!v->meta + !!v->worker + !!v->attempt +
                                          !!v->received_ms + !!v->finished_ms);
        r |= schema__kv_uint(pk, "v", SCHEMA_VERSION);
        r |= schema__kv_str(pk, "id", v->id);
        r |= schema__kv_str(pk, "verdict", schema__code_names[v->verdict]);
        if (v->reason)
                r |= schema__kv_str(pk, "reason", v->reason);
        if (v->score != 0)
                r |= schema__kv_double(pk, "score", v->score);
        if (v->max_score != 0)
                r |= schema__kv_double(pk, "max_score", v->max_score);
        if (v->compile.present)
                r |= pack_compile(pk, &v->compile);
        if (v->n_tests) {
                r |= schema__pack_key(pk, "tests");
                r |= msgpack_pack_array(pk, v->n_tests);
                for (size_t i = 0; i < v->n_tests; i++)
                        r |= pack_test(pk, &v->tests[i]);
        }
        if (v->time_ms)
                r |= schema__kv_uint(pk, "time_ms", v->time_ms);
        if (v->memory_kib)
                r |= schema__kv_uint(pk, "memory_kib", v->memory_kib);
        if (v->meta) {
                r |= schema__pack_key(pk, "meta");
                r |= msgpack_sbuffer_write(sbuf, (const char *)v->meta, v->meta_len);
        }
        if (v->worker)
                r |= schema__kv_str(pk, "worker", v->worker);
        if (v->attempt)
                r |= schema__kv_uint(pk, "attempt", v->attempt);
        if (v->received_ms)
                r |= schema__kv_int(pk, "received_ms", v->received_ms);
        if (v->finished_ms)
                r |= schema__kv_int(pk, "finished_ms", v->finished_ms);
        return r;
}

int schema_verdict_encode(const struct verdict *verdict, void **ret_buf, size_t *ret_len)
{
        msgpack_sbuffer sbuf;
        msgpack_packer pk;

        if (!verdict->id || !schema__name(schema__code_names, _SCHEMA_CODE_MAX, verdict->verdict) ||
            (verdict->n_tests && !verdict->tests) || !isfinite(verdict->score) ||
            !isfinite(verdict->max_score) ||
            (verdict->meta && !schema__meta_valid(verdict->meta, verdict->meta_len)))
                return -EINVAL;
        for (size_t i = 0; i < verdict->n_tests; i++)
                if (!schema__name(schema__code_names, _SCHEMA_CODE_MAX, verdict->tests[i].verdict))
                        return -EINVAL;
        msgpack_sbuffer_init(&sbuf);
        msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
        return schema__sbuffer_finish(&sbuf, pack_verdict(&pk, &sbuf, verdict), ret_buf, ret_len);
}
