/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes schema_job_decode. Whatever it accepts must re-encode, decode again to an equal job,
 * and re-encode to the same bytes (the encoding of a decoded job is a fixed point).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
        do {                     \
                if (!(x))        \
                        abort(); \
        } while (0)

static bool same_str(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_bytes(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
        return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static void job_check_equal(const struct job *a, const struct job *b)
{
        CHECK(a->v == b->v);
        CHECK(same_str(a->id, b->id) && same_str(a->lang, b->lang));
        CHECK(same_bytes(a->source, a->source_len, b->source, b->source_len));
        CHECK(same_str(a->problem, b->problem));
        CHECK(a->n_tests == b->n_tests);
        for (size_t i = 0; i < a->n_tests; i++) {
                const struct job_test *x = &a->tests[i], *y = &b->tests[i];

                CHECK(same_bytes(x->in, x->in_len, y->in, y->in_len));
                CHECK(same_bytes(x->out, x->out_len, y->out, y->out_len));
                CHECK(x->points == y->points && x->has_points == y->has_points);
        }
        CHECK(memcmp(&a->limits, &b->limits, sizeof(a->limits)) == 0);
        CHECK(a->checker == b->checker && a->checker_eps == b->checker_eps);
        CHECK(a->stop_on_failure == b->stop_on_failure);
        CHECK(same_bytes(a->meta, a->meta_len, b->meta, b->meta_len) && !a->meta == !b->meta);
        CHECK(a->attempt == b->attempt && a->rejudge == b->rejudge);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct job job, again;
        struct gv_err err;
        void *buf, *buf2;
        size_t len, len2;
        int r;

        r = schema_job_decode(data, size, NULL, &job, &err);
        if (r < 0) {
                CHECK(r == -EBADMSG || r == -E2BIG);
                return 0;
        }
        CHECK(job.source[job.source_len] == '\0');
        r = schema_job_encode(&job, &buf, &len);
        if (r == -EILSEQ) { /* a str the decoder took that is not UTF-8: never written back */
                job_done(&job);
                return 0;
        }
        CHECK(r == 0);
        CHECK(schema_job_decode(buf, len, NULL, &again, &err) == 0);
        job_check_equal(&job, &again);
        CHECK(schema_job_encode(&again, &buf2, &len2) == 0);
        CHECK(same_bytes(buf, len, buf2, len2));
        free(buf);
        free(buf2);
        job_done(&job);
        job_done(&again);
        return 0;
}
