/* SPDX-License-Identifier: MIT */
/*
 * The job a platform enqueues on gavel.jobs: what to compile, what to run it on, and the limits.
 * It comes from outside the worker, so every field is bounded and typed before it is copied; the
 * "meta" value is kept as the raw msgpack bytes it had on the wire, to be echoed in the verdict.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "schema/cleanup.h"
#include "schema/codec-internal.h"

enum {
        J_V,
        J_ID,
        J_LANG,
        J_SOURCE,
        J_PROBLEM,
        J_TESTS,
        J_LIMITS,
        J_CHECKER,
        J_STOP_ON_FAILURE,
        J_META,
        J_ATTEMPT,
        J_REJUDGE,
        _J_MAX,
};

static const char *const job_keys[_J_MAX] = {
        [J_V] = "v",           [J_ID] = "id",           [J_LANG] = "lang",
        [J_SOURCE] = "source", [J_PROBLEM] = "problem", [J_TESTS] = "tests",
        [J_LIMITS] = "limits", [J_CHECKER] = "checker", [J_STOP_ON_FAILURE] = "stop_on_failure",
        [J_META] = "meta",     [J_ATTEMPT] = "attempt", [J_REJUDGE] = "rejudge",
};

enum { T_IN, T_OUT, T_POINTS, _T_MAX };

static const char *const test_keys[_T_MAX] = {
        [T_IN] = "in",
        [T_OUT] = "out",
        [T_POINTS] = "points",
};

/*
 * One test's in or out, taken from *budget: the bytes of inline test data (in and out of all
 * tests) still allowed by tests_max. The length is checked before anything is copied.
 */
static int decode_data(const msgpack_object *o, const char *name, size_t *budget, size_t tests_max,
                       uint8_t **ret, size_t *ret_len, struct gv_err *err)
{
        size_t n = 0;
        int r;

        if (o->type == MSGPACK_OBJECT_BIN)
                n = o->via.bin.size;
        else if (o->type == MSGPACK_OBJECT_STR)
                n = o->via.str.size;
        if (n > *budget)
                return gv_err_set(err, -E2BIG,
                                  "%s: inline test data (in and out of all tests) over the limit "
                                  "of %zu bytes",
                                  name, tests_max);
        r = schema__bytes(o, name, n, ret, ret_len, err);
        if (r < 0)
                return r;
        *budget -= *ret_len;
        return 0;
}

static int decode_test(const msgpack_object *o, size_t *budget, size_t tests_max,
                       struct job_test *test, struct gv_err *err)
{
        struct schema__field f[_T_MAX];
        int r;

        r = schema__fields(o, test_keys, f, _T_MAX, err);
        if (r < 0)
                return r;
        if (!f[T_IN].val)
                return schema__missing("in", err);
        if (!f[T_OUT].val)
                return schema__missing("out", err);
        r = decode_data(f[T_IN].val, "in", budget, tests_max, &test->in, &test->in_len, err);
        if (r < 0)
                return r;
        r = decode_data(f[T_OUT].val, "out", budget, tests_max, &test->out, &test->out_len, err);
        if (r < 0)
                return r;
        if (f[T_POINTS].val) {
                r = schema__number(f[T_POINTS].val, "points", &test->points, err);
                if (r < 0)
                        return r;
                test->has_points = true;
        }
        return 0;
}

static int decode_tests(const msgpack_object *o, const struct schema_limits *lim, struct job *job,
                        struct gv_err *err)
{
        size_t budget = lim->tests_max;
        int r;

        r = schema__want_array(o, "tests", lim->array_max, err);
        if (r < 0)
                return r;
        if (o->via.array.size == 0)
                return gv_err_set(err, -EBADMSG, "tests: empty");
        job->tests = xcalloc(o->via.array.size, sizeof(*job->tests));
        job->n_tests = o->via.array.size;
        for (size_t i = 0; i < job->n_tests; i++) {
                const msgpack_object *el = &o->via.array.ptr[i];

                if (el->type != MSGPACK_OBJECT_MAP)
                        return gv_err_set(err, -EBADMSG, "tests[%zu]: expected a map", i);
                r = decode_test(el, &budget, lim->tests_max, &job->tests[i], err);
                if (r < 0)
                        return gv_err_prefix(err, r, "tests[%zu].", i);
        }
        return 0;
}

enum { L_TIME_MS, L_WALL_MS, L_MEMORY_KIB, L_OUTPUT_KIB, _L_MAX };

static const char *const limit_keys[_L_MAX] = {
        [L_TIME_MS] = "time_ms",
        [L_WALL_MS] = "wall_ms",
        [L_MEMORY_KIB] = "memory_kib",
        [L_OUTPUT_KIB] = "output_kib",
};

static int decode_limits(const msgpack_object *o, struct job_limits *limits, struct gv_err *err)
{
        struct schema__field f[_L_MAX];
        int r;

        r = schema__fields(o, limit_keys, f, _L_MAX, err);
        if (r < 0)
                return r;
        if (f[L_TIME_MS].val) {
                r = schema__u32(f[L_TIME_MS].val, "time_ms", &limits->time_ms, err);
                if (r < 0)
                        return r;
        }
        if (f[L_WALL_MS].val) {
                r = schema__u32(f[L_WALL_MS].val, "wall_ms", &limits->wall_ms, err);
                if (r < 0)
                        return r;
        }
        if (f[L_MEMORY_KIB].val) {
                r = schema__u64(f[L_MEMORY_KIB].val, "memory_kib", &limits->memory_kib, err);
                if (r < 0)
                        return r;
        }
        if (f[L_OUTPUT_KIB].val) {
                r = schema__u64(f[L_OUTPUT_KIB].val, "output_kib", &limits->output_kib, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

enum { K_NAME, K_EPS, _K_MAX };

static const char *const checker_keys[_K_MAX] = {
        [K_NAME] = "name",
        [K_EPS] = "eps",
};

static int decode_checker_name(const msgpack_object *o, const char *name, struct job *job,
                               struct gv_err *err)
{
        int checker, r;

        r = schema__enum(o, name, schema__checker_names, _SCHEMA_CHECKER_MAX, "checker", &checker,
                         err);
        if (r < 0)
                return r;
        job->checker = checker;
        return 0;
}

/* "checker": a name, or a map {name, eps} */
static int decode_checker(const msgpack_object *o, struct job *job, struct gv_err *err)
{
        struct schema__field f[_K_MAX];
        int r;

        if (o->type == MSGPACK_OBJECT_STR)
                return decode_checker_name(o, "checker", job, err);
        if (o->type != MSGPACK_OBJECT_MAP)
                return gv_err_set(err, -EBADMSG, "checker: expected str or map");
        r = schema__fields(o, checker_keys, f, _K_MAX, err);
        if (r < 0)
                return gv_err_prefix(err, r, "checker.");
        if (!f[K_NAME].val)
                return schema__missing("checker.name", err);
        r = decode_checker_name(f[K_NAME].val, "checker.name", job, err);
        if (r < 0)
                return r;
        if (f[K_EPS].val) {
                r = schema__number(f[K_EPS].val, "checker.eps", &job->checker_eps, err);
                if (r < 0)
                        return r;
                if (job->checker_eps < 0)
                        return gv_err_set(err, -EBADMSG, "checker.eps: expected a number >= 0");
        }
        return 0;
}

static int decode_job(const void *buf, size_t len, const msgpack_object *root,
                      const struct schema_limits *lim, void *ret, struct gv_err *err)
{
        struct job *job = ret;
        struct schema__field f[_J_MAX];
        int r;

        r = schema__fields(root, job_keys, f, _J_MAX, err);
        if (r < 0)
                return r;
        if (!f[J_V].val)
                return schema__missing("v", err);
        r = schema__version(f[J_V].val, &job->v, err);
        if (r < 0)
                return r;
        if (!f[J_ID].val)
                return schema__missing("id", err);
        r = schema__str(f[J_ID].val, "id", lim->id_max, SCHEMA__ID, &job->id, err);
        if (r < 0)
                return r;
        if (!f[J_LANG].val)
                return schema__missing("lang", err);
        r = schema__str(f[J_LANG].val, "lang", lim->id_max, SCHEMA__ID, &job->lang, err);
        if (r < 0)
                return r;
        if (!f[J_SOURCE].val)
                return schema__missing("source", err);
        r = schema__bytes(f[J_SOURCE].val, "source", lim->source_max, &job->source,
                          &job->source_len, err);
        if (r < 0)
                return r;
        if (!f[J_PROBLEM].val == !f[J_TESTS].val)
                return gv_err_set(err, -EBADMSG, "problem or tests: exactly one is required");
        if (f[J_PROBLEM].val) {
                r = schema__str(f[J_PROBLEM].val, "problem", lim->id_max, SCHEMA__ID, &job->problem,
                                err);
                if (r < 0)
                        return r;
        } else {
                r = decode_tests(f[J_TESTS].val, lim, job, err);
                if (r < 0)
                        return r;
        }
        if (f[J_LIMITS].val) {
                r = schema__want_map(f[J_LIMITS].val, "limits", err);
                if (r < 0)
                        return r;
                r = decode_limits(f[J_LIMITS].val, &job->limits, err);
                if (r < 0)
                        return gv_err_prefix(err, r, "limits.");
        }
        if (f[J_CHECKER].val) {
                r = decode_checker(f[J_CHECKER].val, job, err);
                if (r < 0)
                        return r;
        }
        if (f[J_STOP_ON_FAILURE].val) {
                r = schema__bool(f[J_STOP_ON_FAILURE].val, "stop_on_failure", &job->stop_on_failure,
                                 err);
                if (r < 0)
                        return r;
        }
        if (f[J_META].val) {
                size_t off, n;

                if (schema__raw_value(buf, len, "meta", &off, &n) < 0)
                        return gv_err_set(err, -EBADMSG, "meta: not found on the wire");
                job->meta = schema__memdup((const uint8_t *)buf + off, n);
                job->meta_len = n;
        }
        job->attempt = 1;
        if (f[J_ATTEMPT].val) {
                r = schema__u32(f[J_ATTEMPT].val, "attempt", &job->attempt, err);
                if (r < 0)
                        return r;
                if (job->attempt == 0)
                        return gv_err_set(err, -EBADMSG, "attempt: expected a positive integer");
        }
        if (f[J_REJUDGE].val) {
                r = schema__bool(f[J_REJUDGE].val, "rejudge", &job->rejudge, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void job_done_any(void *job)
{
        job_done(job);
}

int schema_job_decode(const void *buf, size_t len, const struct schema_limits *lim,
                      struct job *ret_job, struct gv_err *err)
{
        static const struct schema__type type = {sizeof(struct job), decode_job, job_done_any};
        struct schema_limits dflt;

        return schema__decode(buf, len, schema__limits(lim, &dflt), &type, ret_job, err);
}

void job_done(struct job *job)
{
        if (!job)
                return;
        free(job->id);
        free(job->lang);
        free(job->source);
        free(job->problem);
        for (size_t i = 0; i < job->n_tests && job->tests; i++) {
                free(job->tests[i].in);
                free(job->tests[i].out);
        }
        free(job->tests);
        free(job->meta);
        *job = (struct job){};
}

static int pack_checker(msgpack_packer *pk, const struct job *job)
{
        const char *name = schema__checker_names[job->checker];
        int r = 0;

        r |= schema__pack_key(pk, "checker");
        if (job->checker_eps == 0) {
                r |= schema__pack_cstr(pk, name);
                return r;
        }
        r |= msgpack_pack_map(pk, 2);
        r |= schema__kv_str(pk, "name", name);
        r |= schema__kv_double(pk, "eps", job->checker_eps);
        return r;
}

static int pack_job(msgpack_packer *pk, msgpack_sbuffer *sbuf, const struct job *job)
{
        const struct job_limits *l = &job->limits;
        size_t n_limits = !!l->time_ms + !!l->wall_ms + !!l->memory_kib + !!l->output_kib;
        bool checker = job->checker != SCHEMA_CHECKER_DEFAULT || job->checker_eps != 0;
        int r = 0;

        r |= msgpack_pack_map(pk, 4 + !!job->problem + !!job->n_tests + !!n_limits + checker +
                                          job->stop_on_failure + !!job->meta + !!job->attempt +
                                          job->rejudge);
        r |= schema__kv_uint(pk, "v", SCHEMA_VERSION);
        r |= schema__kv_str(pk, "id", job->id);
        r |= schema__kv_str(pk, "lang", job->lang);
        r |= schema__kv_bin(pk, "source", job->source, job->source_len);
        if (job->problem)
                r |= schema__kv_str(pk, "problem", job->problem);
        if (job->n_tests) {
                r |= schema__pack_key(pk, "tests");
                r |= msgpack_pack_array(pk, job->n_tests);
                for (size_t i = 0; i < job->n_tests; i++) {
                        const struct job_test *t = &job->tests[i];

                        r |= msgpack_pack_map(pk, 2 + t->has_points);
                        r |= schema__kv_bin(pk, "in", t->in, t->in_len);
                        r |= schema__kv_bin(pk, "out", t->out, t->out_len);
                        if (t->has_points)
                                r |= schema__kv_double(pk, "points", t->points);
                }
        }
        if (n_limits) {
                r |= schema__pack_key(pk, "limits");
                r |= msgpack_pack_map(pk, n_limits);
                if (l->time_ms)
                        r |= schema__kv_uint(pk, "time_ms", l->time_ms);
                if (l->wall_ms)
                        r |= schema__kv_uint(pk, "wall_ms", l->wall_ms);
                if (l->memory_kib)
                        r |= schema__kv_uint(pk, "memory_kib", l->memory_kib);
                if (l->output_kib)
                        r |= schema__kv_uint(pk, "output_kib", l->output_kib);
        }
        if (checker)
                r |= pack_checker(pk, job);
        if (job->stop_on_failure)
                r |= schema__kv_bool(pk, "stop_on_failure", true);
        if (job->meta) {
                r |= schema__pack_key(pk, "meta");
                r |= msgpack_sbuffer_write(sbuf, (const char *)job->meta, job->meta_len);
        }
        if (job->attempt)
                r |= schema__kv_uint(pk, "attempt", job->attempt);
        if (job->rejudge)
                r |= schema__kv_bool(pk, "rejudge", true);
        return r;
}

int schema_job_encode(const struct job *job, void **ret_buf, size_t *ret_len)
{
        msgpack_sbuffer sbuf;
        msgpack_packer pk;

        if (!job->id || !job->lang || (!job->source && job->source_len) ||
            !job->problem == !job->n_tests || (job->n_tests && !job->tests) ||
            !schema__name(schema__checker_names, _SCHEMA_CHECKER_MAX, job->checker) ||
            !isfinite(job->checker_eps) || job->checker_eps < 0 ||
            (job->meta && !schema__meta_valid(job->meta, job->meta_len)))
                return -EINVAL;
        for (size_t i = 0; i < job->n_tests; i++)
                if ((!job->tests[i].in && job->tests[i].in_len) ||
                    (!job->tests[i].out && job->tests[i].out_len) ||
                    !isfinite(job->tests[i].points))
                        return -EINVAL;
        msgpack_sbuffer_init(&sbuf);
        msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
        return schema__sbuffer_finish(&sbuf, pack_job(&pk, &sbuf, job), ret_buf, ret_len);
}
