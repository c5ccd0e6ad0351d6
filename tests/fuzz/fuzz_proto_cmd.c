/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes schema_proto_cmd_decode. Whatever it accepts must encode into a PROTO_MSG_MAX buffer,
 * decode again to an equal command, and fail cleanly with -EMSGSIZE into a buffer one byte short.
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

static bool same_str(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void strv_check_equal(char *const *a, size_t a_n, char *const *b, size_t b_n)
{
        CHECK(a_n == b_n && !a == !b);
        for (size_t i = 0; i < a_n; i++)
                CHECK(same_str(a[i], b[i]));
        CHECK(!a || (!a[a_n] && !b[b_n]));
}

static void cmd_check_equal(const struct proto_cmd *a, const struct proto_cmd *b)
{
        CHECK(a->kind == b->kind && a->n_mounts == b->n_mounts);
        for (size_t i = 0; i < a->n_mounts; i++) {
                const struct proto_mount *x = &a->mounts[i], *y = &b->mounts[i];

                CHECK(x->kind == y->kind && same_str(x->src, y->src) && same_str(x->dst, y->dst));
                CHECK(x->ro == y->ro && x->optional == y->optional);
                CHECK(x->size_kib == y->size_kib);
        }
        CHECK(same_str(a->hostname, b->hostname) && same_str(a->workdir, b->workdir));
        CHECK(a->uid == b->uid && a->gid == b->gid);
        for (size_t p = 0; p < _PROTO_POLICY_MAX; p++) {
                CHECK(a->filter_len[p] == b->filter_len[p] && !a->filter[p] == !b->filter[p]);
                CHECK(!a->filter[p] || memcmp(a->filter[p], b->filter[p], a->filter_len[p]) == 0);
        }
        CHECK(a->n_files == b->n_files);
        for (size_t i = 0; i < a->n_files; i++) {
                CHECK(same_str(a->files[i].path, b->files[i].path));
                CHECK(a->files[i].flags == b->files[i].flags);
                CHECK(a->files[i].mode == b->files[i].mode);
        }
        CHECK(same_str(a->path, b->path));
        strv_check_equal(a->argv, a->n_argv, b->argv, b->n_argv);
        strv_check_equal(a->env, a->n_env, b->env, b->n_env);
        CHECK(same_str(a->dir, b->dir));
        CHECK(memcmp(a->rlimits, b->rlimits, sizeof(a->rlimits)) == 0);
        CHECK(a->policy == b->policy && a->fexecve == b->fexecve && a->sync == b->sync);
        CHECK(a->n_fds == b->n_fds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static char buf[PROTO_MSG_MAX];
        struct proto_cmd cmd, again;
        struct gv_err err;
        int n, r;

        r = schema_proto_cmd_decode(data, size, NULL, &cmd, &err);
        if (r < 0) {
                CHECK(r == -EBADMSG || r == -E2BIG);
                return 0;
        }
        CHECK(cmd.kind != PROTO_EXECVE || (cmd.argv && cmd.n_argv >= 1 && cmd.env));
        n = schema_proto_cmd_encode(&cmd, buf, sizeof(buf));
        CHECK(n > 0);
        CHECK(schema_proto_cmd_decode(buf, n, NULL, &again, &err) == 0);
        cmd_check_equal(&cmd, &again);
        CHECK(schema_proto_cmd_encode(&again, buf, n - 1) == -EMSGSIZE);
        CHECK(schema_proto_cmd_encode(&again, buf, n) == n);
        proto_cmd_done(&cmd);
        proto_cmd_done(&again);
        return 0;
}
