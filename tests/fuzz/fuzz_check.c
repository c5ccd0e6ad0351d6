/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes schema_check, and checks it against msgpack-c: whatever length the walker accepts,
 * msgpack_unpack_next must parse as one object of exactly that length. That is the promise the
 * decoders rely on when they unpack only after the walker said yes.
 */
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>

#include "schema/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void against_msgpack_c(const uint8_t *data, int n)
{
        msgpack_unpacked u;
        size_t off = 0;

        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, (const char *)data, n, &off) != MSGPACK_UNPACK_SUCCESS ||
            off != (size_t)n)
                abort();
        msgpack_unpacked_destroy(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct schema_limits lim;
        struct gv_err err;
        int n;

        n = schema_check(data, size, NULL, &err);
        if (n > 0) {
                if ((size_t)n > size)
                        abort();
                against_msgpack_c(data, n);
        } else if (n != -EBADMSG && n != -E2BIG) {
                abort();
        }

        /* tight bounds exercise the limit paths; a stream is walked message by message */
        schema_limits_default(&lim);
        lim.array_max = 8;
        lim.objects_max = 32;
        lim.depth_max = 4;
        lim.str_max = lim.source_max = lim.tests_max = 16;
        lim.message_max = 64;
        for (size_t off = 0; off < size; off += n) {
                n = schema_check(data + off, size - off, &lim, NULL);
                if (n == -EBADMSG || n == -E2BIG)
                        break;
                if (n <= 0 || (size_t)n > size - off || n > 64)
                        abort();
                against_msgpack_c(data + off, n);
        }
        return 0;
}
