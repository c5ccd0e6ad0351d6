/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes schema_verdict_decode. Whatever it accepts must re-encode, decode again to an equal
 * verdict, and re-encode to the same bytes.
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

static void verdict_check_equal(const struct verdict *a, const struct verdict *b)
{
        CHECK(a->v == b->v && same_str(a->id, b->id) && a->verdict == b->verdict);
        CHECK(same_str(a->reason, b->reason));
        CHECK(a->score == b->score && a->max_score == b->max_score);
        CHECK(a->compile.present == b->compile.present && a->compile.ok == b->compile.ok);
        CHECK(same_str(a->compile.log, b->compile.log));
        CHECK(a->compile.time_ms == b->compile.time_ms);
        CHECK(a->compile.memory_kib == b->compile.memory_kib);
        CHECK(a->compile.cached == b->compile.cached);
        CHECK(a->n_tests == b->n_tests);
        for (size_t i = 0; i < a->n_tests; i++) {
                const struct verdict_test *x = &a->tests[i], *y = &b->tests[i];

                CHECK(x->verdict == y->verdict && x->time_ms == y->time_ms);
                CHECK(x->wall_ms == y->wall_ms && x->memory_kib == y->memory_kib);
                CHECK(x->exit_code == y->exit_code && x->signal == y->signal);
                CHECK(same_str(x->checker_message, y->checker_message));
        }
        CHECK(a->time_ms == b->time_ms && a->memory_kib == b->memory_kib);
        CHECK(a->meta_len == b->meta_len && !a->meta == !b->meta);
        CHECK(a->meta_len == 0 || memcmp(a->meta, b->meta, a->meta_len) == 0);
        CHECK(same_str(a->worker, b->worker) && a->attempt == b->attempt);
        CHECK(a->received_ms == b->received_ms && a->finished_ms == b->finished_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct verdict verdict, again;
        struct gv_err err;
        void *buf, *buf2;
        size_t len, len2;
        int r;

        r = schema_verdict_decode(data, size, NULL, &verdict, &err);
        if (r < 0) {
                CHECK(r == -EBADMSG || r == -E2BIG);
                return 0;
        }
        r = schema_verdict_encode(&verdict, &buf, &len);
        if (r == -EILSEQ) { /* a str the decoder took that is not UTF-8: never written back */
                verdict_done(&verdict);
                return 0;
        }
        CHECK(r == 0);
        CHECK(schema_verdict_decode(buf, len, NULL, &again, &err) == 0);
        verdict_check_equal(&verdict, &again);
        CHECK(schema_verdict_encode(&again, &buf2, &len2) == 0);
        CHECK(len == len2 && memcmp(buf, buf2, len) == 0);
        free(buf);
        free(buf2);
        verdict_done(&verdict);
        verdict_done(&again);
        return 0;
}
