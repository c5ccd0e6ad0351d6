/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes schema_progress_decode. Whatever it accepts must re-encode and decode again to an
 * equal progress event.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct progress progress, again;
        struct gv_err err;
        void *buf;
        size_t len;
        int r;

        r = schema_progress_decode(data, size, NULL, &progress, &err);
        if (r < 0) {
                CHECK(r == -EBADMSG || r == -E2BIG);
                return 0;
        }
        r = schema_progress_encode(&progress, &buf, &len);
        if (r == -EILSEQ) { /* a str the decoder took that is not UTF-8: never written back */
                progress_done(&progress);
                return 0;
        }
        CHECK(r == 0);
        CHECK(schema_progress_decode(buf, len, NULL, &again, &err) == 0);
        CHECK(again.v == progress.v && strcmp(again.id, progress.id) == 0);
        CHECK(again.stage == progress.stage && again.test == progress.test);
        CHECK(again.of == progress.of && again.ts_ms == progress.ts_ms);
        CHECK(!again.worker == !progress.worker);
        CHECK(!again.worker || strcmp(again.worker, progress.worker) == 0);
        free(buf);
        progress_done(&progress);
        progress_done(&again);
        return 0;
}
