/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the UTF-8 sanitiser: whatever the bytes, its output is valid, within its bound, and
 * the text of well-formed input unchanged; a verdict carrying it as compile log and checker
 * message encodes, and decodes back to the same strings.
 */
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
        struct verdict_test t = {.verdict = SCHEMA_WA};
        struct verdict v = {.v = SCHEMA_VERSION,
                            .id = (char *)"fuzz",
                            .verdict = SCHEMA_WA,
                            .tests = &t,
                            .n_tests = 1};
        struct verdict back;
        char *whole = schema_utf8_dup(data, size, 3 * size);
        char *half = schema_utf8_dup(data, size, size / 2);
        void *buf;
        size_t len;

        CHECK(schema_utf8_valid(whole, strlen(whole)));
        CHECK(schema_utf8_valid(half, strlen(half)) && strlen(half) <= size / 2);
        CHECK(strncmp(whole, half, strlen(half)) == 0); /* the bound only cuts */
        if (schema_utf8_valid(data, size))
                CHECK(strlen(whole) == size && memcmp(whole, data, size) == 0);
        v.compile.present = true;
        v.compile.log = whole;
        t.checker_message = half;
        CHECK(schema_verdict_encode(&v, &buf, &len) == 0);
        CHECK(schema_verdict_decode(buf, len, NULL, &back, NULL) == 0);
        CHECK(strcmp(back.compile.log, whole) == 0);
        CHECK(back.n_tests == 1);
        CHECK(strcmp(back.tests[0].checker_message ? back.tests[0].checker_message : "", half) ==
              0);
        verdict_done(&back);
        free(buf);
        free(whole);
        free(half);
        return 0;
}
