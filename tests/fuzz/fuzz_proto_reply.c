/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes schema_proto_reply_decode. Whatever it accepts must encode, decode again to an equal
 * reply, and fail cleanly with -EMSGSIZE into a buffer one byte short.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema/proto.h"
#include "schema/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
        do {                     \
                if (!(x))        \
                        abort(); \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static char buf[PROTO_MSG_MAX];
        struct proto_reply reply, again;
        struct gv_err err;
        int n, r;

        r = schema_proto_reply_decode(data, size, NULL, &reply, &err);
        if (r < 0) {
                CHECK(r == -EBADMSG || r == -E2BIG);
                return 0;
        }
        n = schema_proto_reply_encode(&reply, buf, sizeof(buf));
        CHECK(n > 0);
        CHECK(schema_proto_reply_decode(buf, n, NULL, &again, &err) == 0);
        CHECK(again.kind == reply.kind && again.code == reply.code);
        CHECK(!again.message == !reply.message);
        CHECK(!again.message || strcmp(again.message, reply.message) == 0);
        CHECK(again.n_fds == reply.n_fds && again.status == reply.status);
        CHECK(again.exit_code == reply.exit_code && again.signal == reply.signal);
        CHECK(again.user_us == reply.user_us && again.sys_us == reply.sys_us);
        CHECK(again.maxrss_kib == reply.maxrss_kib && again.wall_us == reply.wall_us);
        CHECK(schema_proto_reply_encode(&again, buf, n - 1) == -EMSGSIZE);
        proto_reply_done(&reply);
        proto_reply_done(&again);
        return 0;
}
