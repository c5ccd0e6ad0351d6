/* SPDX-License-Identifier: MIT */
/*
 * The container protocol codec: every command and reply round-trips through the fixed-buffer
 * encoder, the encoder reports a short buffer instead of writing past it, and the decoders name
 * the key of every missing, mistyped or over-bound field.
 */
#include "test_mp.h"

#include "schema/cleanup.h"
#include "schema/proto.h"

static void cmd_assert_equal(const struct proto_cmd *a, const struct proto_cmd *b)
{
        assert_int_equal(a->kind, b->kind);
        assert_int_equal(a->n_mounts, b->n_mounts);
        for (size_t i = 0; i < a->n_mounts; i++) {
                const struct proto_mount *x = &a->mounts[i], *y = &b->mounts[i];

                assert_int_equal(x->kind, y->kind);
                if (x->src || y->src)
                        assert_string_equal(x->src, y->src);
                assert_string_equal(x->dst, y->dst);
                assert_int_equal(x->ro, y->ro);
                assert_int_equal(x->optional, y->optional);
                assert_int_equal(x->size_kib, y->size_kib);
        }
        assert_true(!a->hostname == !b->hostname);
        if (a->hostname)
                assert_string_equal(a->hostname, b->hostname);
        assert_true(!a->workdir == !b->workdir);
        if (a->workdir)
                assert_string_equal(a->workdir, b->workdir);
        assert_int_equal(a->uid, b->uid);
        assert_int_equal(a->gid, b->gid);
        for (size_t p = 0; p < _PROTO_POLICY_MAX; p++) {
                assert_int_equal(a->filter_len[p], b->filter_len[p]);
                assert_true(!a->filter[p] == !b->filter[p]);
                if (a->filter[p])
                        assert_memory_equal(a->filter[p], b->filter[p], a->filter_len[p]);
        }
        assert_int_equal(a->n_files, b->n_files);
        for (size_t i = 0; i < a->n_files; i++) {
                assert_string_equal(a->files[i].path, b->files[i].path);
                assert_int_equal(a->files[i].flags, b->files[i].flags);
                assert_int_equal(a->files[i].mode, b->files[i].mode);
        }
        assert_true(!a->path == !b->path);
        if (a->path)
                assert_string_equal(a->path, b->path);
        assert_int_equal(a->n_argv, b->n_argv);
        for (size_t i = 0; i < a->n_argv; i++)
                assert_string_equal(a->argv[i], b->argv[i]);
        assert_int_equal(a->n_env, b->n_env);
        for (size_t i = 0; i < a->n_env; i++)
                assert_string_equal(a->env[i], b->env[i]);
        assert_true(!a->dir == !b->dir);
        if (a->dir)
                assert_string_equal(a->dir, b->dir);
        for (size_t i = 0; i < _PROTO_RLIMIT_MAX; i++)
                assert_int_equal(a->rlimits[i], b->rlimits[i]);
        assert_int_equal(a->policy, b->policy);
        assert_int_equal(a->fexecve, b->fexecve);
        assert_int_equal(a->sync, b->sync);
        assert_int_equal(a->n_fds, b->n_fds);
}

static void reply_assert_equal(const struct proto_reply *a, const struct proto_reply *b)
{
        assert_int_equal(a->kind, b->kind);
        assert_int_equal(a->code, b->code);
        assert_true(!a->message == !b->message);
        if (a->message)
                assert_string_equal(a->message, b->message);
        assert_int_equal(a->n_fds, b->n_fds);
        assert_int_equal(a->status, b->status);
        assert_int_equal(a->exit_code, b->exit_code);
        assert_int_equal(a->signal, b->signal);
        assert_int_equal(a->user_us, b->user_us);
        assert_int_equal(a->sys_us, b->sys_us);
        assert_int_equal(a->maxrss_kib, b->maxrss_kib);
        assert_int_equal(a->wall_us, b->wall_us);
}

/* rlimits all "not set", as the decoder leaves them */
static void rlimits_unset(struct proto_cmd *cmd)
{
        for (size_t i = 0; i < _PROTO_RLIMIT_MAX; i++)
                cmd->rlimits[i] = UINT64_MAX;
}

/* encodes, decodes, compares; then every shorter buffer must give -EMSGSIZE */
static void cmd_roundtrip(const struct proto_cmd *cmd)
{
        static char buf[PROTO_MSG_MAX];
        struct proto_cmd out;
        struct gv_err err = {};
        int n, r;

        n = schema_proto_cmd_encode(cmd, buf, sizeof(buf));
        assert_true(n > 0);
        r = schema_proto_cmd_decode(buf, n, NULL, &out, &err);
        if (r < 0)
                fail_msg("decode: %s", err.msg);
        cmd_assert_equal(cmd, &out);
        proto_cmd_done(&out);

        for (int size = 0; size < n; size++) {
                char *small = malloc(size ? size : 1); /* ASan catches a write past it */

                assert_int_equal(schema_proto_cmd_encode(cmd, small, size), -EMSGSIZE);
                free(small);
        }
        for (int len = 0; len < n; len++) {
                char *prefix = malloc(len ? len : 1);

                memcpy(prefix, buf, len);
                r = schema_proto_cmd_decode(prefix, len, NULL, &out, &err);
                assert_true(r == -EBADMSG);
                free(prefix);
        }
}

static void reply_roundtrip(const struct proto_reply *reply)
{
        char buf[8192];
        struct proto_reply out;
        struct gv_err err = {};
        int n, r;

        n = schema_proto_reply_encode(reply, buf, sizeof(buf));
        assert_true(n > 0);
        r = schema_proto_reply_decode(buf, n, NULL, &out, &err);
        if (r < 0)
                fail_msg("decode: %s", err.msg);
        reply_assert_equal(reply, &out);
        proto_reply_done(&out);
        for (int size = 0; size < n; size++) {
                char *small = malloc(size ? size : 1);

                assert_int_equal(schema_proto_reply_encode(reply, small, size), -EMSGSIZE);
                free(small);
        }
        for (int len = 0; len < n; len++) {
                char *prefix = malloc(len ? len : 1);

                memcpy(prefix, buf, len);
                assert_int_equal(schema_proto_reply_decode(prefix, len, NULL, &out, &err),
                                 -EBADMSG);
                free(prefix);
        }
}

static void test_proto_cmd_roundtrips_kinds_without_fields(void **state)
{
        (void)state;
        enum proto_cmd_kind kinds[] = {PROTO_PING, PROTO_RESET, PROTO_INIT_FINISHED,
                                       PROTO_KILL, PROTO_CONF,  PROTO_OPEN};

        for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
                struct proto_cmd cmd = {.kind = kinds[i]};

                rlimits_unset(&cmd);
                cmd_roundtrip(&cmd);
        }
}

static void test_proto_cmd_roundtrips_conf_with_every_field(void **state)
{
        (void)state;
        uint8_t filter[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        struct proto_mount mounts[] = {
                {.kind = PROTO_MOUNT_BIND, .src = "/usr", .dst = "/usr", .ro = true},
                {.kind = PROTO_MOUNT_BIND, .src = "/lib64", .dst = "/lib64", .optional = true},
                {.kind = PROTO_MOUNT_TMPFS, .dst = "/tmp", .size_kib = 65536},
                {.kind = PROTO_MOUNT_PROC, .dst = "/proc"},
                {.kind = PROTO_MOUNT_SYMLINK, .src = "usr/bin", .dst = "/bin"},
        };
        struct proto_cmd cmd = {
                .kind = PROTO_CONF,
                .mounts = mounts,
                .n_mounts = ARRAY_SIZE(mounts),
                .hostname = "gavel",
                .workdir = "/w",
                .uid = 65534,
                .gid = 65534,
                .filter = {[PROTO_POLICY_COMPILE] = filter, [PROTO_POLICY_RUN] = filter},
                .filter_len = {[PROTO_POLICY_COMPILE] = 8, [PROTO_POLICY_RUN] = 16},
        };

        rlimits_unset(&cmd);
        cmd_roundtrip(&cmd);
}

static void test_proto_cmd_roundtrips_open_and_delete(void **state)
{
        (void)state;
        struct proto_open_file files[] = {
                {.path = "/w/input.txt", .flags = 0, .mode = 0},
                {.path = "/w/output.txt", .flags = 01101, .mode = 0644},
                {.path = "rel", .flags = -1, .mode = UINT32_MAX},
        };
        struct proto_cmd cmd = {.kind = PROTO_OPEN, .files = files, .n_files = 3};
        struct proto_cmd del = {.kind = PROTO_DELETE, .path = "/w/a.out"};

        rlimits_unset(&cmd);
        cmd_roundtrip(&cmd);
        rlimits_unset(&del);
        cmd_roundtrip(&del);
}

static void test_proto_cmd_roundtrips_execve_with_every_field(void **state)
{
        (void)state;
        char *argv[] = {"/usr/bin/g++", "-O2", "", "main.cpp", NULL};
        char *env[] = {"PATH=/usr/bin", "LANG=C", NULL};
        struct proto_cmd cmd = {
                .kind = PROTO_EXECVE,
                .argv = argv,
                .n_argv = 4,
                .env = env,
                .n_env = 2,
                .dir = "/w",
                .policy = PROTO_POLICY_COMPILE,
                .fexecve = true,
                .sync = true,
                .n_fds = PROTO_FDS_MAX,
        };
        struct proto_cmd min = {.kind = PROTO_EXECVE, .argv = argv, .n_argv = 1};

        for (size_t i = 0; i < _PROTO_RLIMIT_MAX; i++)
                cmd.rlimits[i] = i * 1000;
        cmd.rlimits[PROTO_RLIMIT_CORE] = UINT64_MAX;
        cmd.rlimits[PROTO_RLIMIT_AS] = UINT64_MAX - 1;
        cmd_roundtrip(&cmd);
        rlimits_unset(&min);
        cmd_roundtrip(&min);
}

static void test_proto_cmd_decode_gives_execve_an_empty_env(void **state)
{
        (void)state;
        struct mp_buf m = mp("m s u s s s a s", 3, "v", 1, "cmd", "execve", "argv", 1, "/bin/true");
        struct proto_cmd cmd;
        struct gv_err err = {};

        assert_int_equal(schema_proto_cmd_decode(m.data, m.len, NULL, &cmd, &err), 0);
        assert_non_null(cmd.env);
        assert_null(cmd.env[0]);
        assert_int_equal(cmd.n_env, 0);
        assert_null(cmd.argv[1]);
        assert_int_equal(cmd.policy, PROTO_POLICY_NONE);
        for (size_t i = 0; i < _PROTO_RLIMIT_MAX; i++)
                assert_true(cmd.rlimits[i] == UINT64_MAX);
        proto_cmd_done(&cmd);
        free(m.data);
}

static void test_proto_reply_roundtrips_every_kind(void **state)
{
        (void)state;
        struct proto_reply replies[] = {
                {.kind = PROTO_R_OK},
                {.kind = PROTO_R_OK, .n_fds = 3},
                {.kind = PROTO_R_ERROR, .code = -ENOENT, .message = "open \"/w/x\": no such file"},
                {.kind = PROTO_R_PID},
                {.kind = PROTO_R_FINISHED, .status = PROTO_EXITED},
                {.kind = PROTO_R_FINISHED,
                 .status = PROTO_SIGNALED,
                 .exit_code = -1,
                 .signal = 9,
                 .user_us = 1234567,
                 .sys_us = 89,
                 .maxrss_kib = 1 << 20,
                 .wall_us = UINT64_MAX},
                {.kind = PROTO_R_FINISHED, .status = PROTO_KILLED},
                {.kind = PROTO_R_FINISHED,
                 .status = PROTO_EXEC_FAILED,
                 .code = -EACCES,
                 .message = "execve: permission denied"},
        };

        for (size_t i = 0; i < ARRAY_SIZE(replies); i++)
                reply_roundtrip(&replies[i]);
}

static void test_proto_encode_rejects_invalid_structs(void **state)
{
        (void)state;
        char buf[256];
        struct proto_cmd bad_kind = {.kind = _PROTO_CMD_MAX};
        struct proto_cmd no_argv = {.kind = PROTO_EXECVE};
        struct proto_cmd no_path = {.kind = PROTO_DELETE};
        struct proto_reply bad_reply = {.kind = PROTO_R_FINISHED, .status = _PROTO_STATUS_MAX};

        assert_int_equal(schema_proto_cmd_encode(&bad_kind, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(schema_proto_cmd_encode(&no_argv, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(schema_proto_cmd_encode(&no_path, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(schema_proto_reply_encode(&bad_reply, buf, sizeof(buf)), -EINVAL);
}

/* decodes m as a command, expects code and msg, frees m */
static void cmd_fails(struct mp_buf m, int code, const char *msg)
{
        struct proto_cmd cmd = {.kind = PROTO_PING, .hostname = (char *)"untouched"};
        struct gv_err err = {};
        int r;

        r = schema_proto_cmd_decode(m.data, m.len, NULL, &cmd, &err);
        expect_err(r, &err, code, msg);
        /* never written on failure */
        assert_string_equal(cmd.hostname, "untouched");
        free(m.data);
}

static void reply_fails(struct mp_buf m, int code, const char *msg)
{
        struct proto_reply reply = {.message = (char *)"untouched"};
        struct gv_err err = {};
        int r;

        r = schema_proto_reply_decode(m.data, m.len, NULL, &reply, &err);
        expect_err(r, &err, code, msg);
        assert_string_equal(reply.message, "untouched");
        free(m.data);
}

static void test_proto_cmd_decode_names_missing_keys(void **state)
{
        (void)state;
        cmd_fails(mp("m s s", 1, "cmd", "ping"), -EBADMSG, "v: missing");
        cmd_fails(mp("m s u", 1, "v", 1), -EBADMSG, "cmd: missing");
        cmd_fails(mp("m s u s s", 2, "v", 1, "cmd", "delete"), -EBADMSG, "path: missing");
        cmd_fails(mp("m s u s s", 2, "v", 1, "cmd", "execve"), -EBADMSG, "argv: missing");
        cmd_fails(mp("m s u s s s a m s s", 3, "v", 1, "cmd", "conf", "mounts", 1, 1, "kind",
                     "tmpfs"),
                  -EBADMSG, "mounts[0].dst: missing");
        cmd_fails(mp("m s u s s s a m s s", 3, "v", 1, "cmd", "conf", "mounts", 1, 1, "dst", "/x"),
                  -EBADMSG, "mounts[0].kind: missing");
        cmd_fails(mp("m s u s s s a m s s s s", 3, "v", 1, "cmd", "conf", "mounts", 1, 2, "kind",
                     "bind", "dst", "/x"),
                  -EBADMSG, "mounts[0].src: missing");
        cmd_fails(mp("m s u s s s a m s s", 3, "v", 1, "cmd", "open", "files", 1, 1, "mode", "x"),
                  -EBADMSG, "files[0].path: missing");
}

static void test_proto_cmd_decode_names_wrong_types(void **state)
{
        (void)state;
        cmd_fails(mp("m s s s s", 2, "v", "1", "cmd", "ping"), -EBADMSG,
                  "v: expected a positive integer");
        cmd_fails(mp("m s u s u", 2, "v", 1, "cmd", 3), -EBADMSG, "cmd: expected str");
        cmd_fails(mp("m s u s s", 2, "v", 1, "cmd", "reboot"), -EBADMSG,
                  "cmd: unknown command \"reboot\"");
        cmd_fails(mp("m s u s s s s", 3, "v", 1, "cmd", "conf", "mounts", "/"), -EBADMSG,
                  "mounts: expected an array");
        cmd_fails(mp("m s u s s s a s", 3, "v", 1, "cmd", "conf", "mounts", 1, "/"), -EBADMSG,
                  "mounts[0]: expected a map");
        cmd_fails(mp("m s u s s s a m s s s s s s", 3, "v", 1, "cmd", "conf", "mounts", 1, 3,
                     "kind", "tmpfs", "dst", "/t", "ro", "yes"),
                  -EBADMSG, "mounts[0].ro: expected bool");
        cmd_fails(mp("m s u s s s a m s s s s s i", 3, "v", 1, "cmd", "conf", "mounts", 1, 3,
                     "kind", "tmpfs", "dst", "/t", "size_kib", -1),
                  -EBADMSG, "mounts[0].size_kib: expected unsigned integer");
        cmd_fails(mp("m s u s s s a m s s s s", 3, "v", 1, "cmd", "conf", "mounts", 1, 2, "kind",
                     "nfs", "dst", "/t"),
                  -EBADMSG, "mounts[0].kind: unknown mount kind \"nfs\"");
        cmd_fails(mp("m s u s s s a m s s s s", 3, "v", 1, "cmd", "conf", "mounts", 1, 2, "kind",
                     "tmpfs", "dst", "t"),
                  -EBADMSG, "mounts[0].dst: expected an absolute path");
        cmd_fails(mp("m s u s s s U", 3, "v", 1, "cmd", "conf", "uid", (uint64_t)1 << 32), -EBADMSG,
                  "uid: expected unsigned integer up to 4294967295");
        cmd_fails(mp("m s u s s s i", 3, "v", 1, "cmd", "conf", "gid", -5), -EBADMSG,
                  "gid: expected unsigned integer");
        cmd_fails(mp("m s u s s s u", 3, "v", 1, "cmd", "conf", "hostname", 5), -EBADMSG,
                  "hostname: expected str");
        cmd_fails(mp("m s u s s s a", 3, "v", 1, "cmd", "conf", "filters", 0), -EBADMSG,
                  "filters: expected a map");
        cmd_fails(mp("m s u s s s m s s", 3, "v", 1, "cmd", "conf", "filters", 1, "run", "x"),
                  -EBADMSG, "filters.run: expected bin");
        cmd_fails(mp("m s u s s s m s x", 3, "v", 1, "cmd", "conf", "filters", 1, "run",
                     "123456789", (size_t)9),
                  -EBADMSG, "filters.run: 9 bytes, not a multiple of 8");
        cmd_fails(mp("m s u s s s m s x", 3, "v", 1, "cmd", "conf", "filters", 1, "run", "",
                     (size_t)0),
                  -EBADMSG, "filters.run: empty");
        cmd_fails(mp("m s u s s s m s x", 3, "v", 1, "cmd", "conf", "filters", 1, "none",
                     "12345678", (size_t)8),
                  -EBADMSG, "filters: unknown policy \"none\"");
        cmd_fails(mp("m s u s s s a m s i", 3, "v", 1, "cmd", "open", "files", 1, 1, "path", 1),
                  -EBADMSG, "files[0].path: expected str");
        cmd_fails(mp("m s u s s s a m s s s U", 3, "v", 1, "cmd", "open", "files", 1, 2, "path",
                     "/x", "flags", (uint64_t)1 << 31),
                  -EBADMSG, "files[0].flags: expected integer from -2147483648 to 2147483647");
        cmd_fails(mp("m s u s s s a u", 3, "v", 1, "cmd", "execve", "argv", 1, 7), -EBADMSG,
                  "argv[0]: expected str");
        cmd_fails(mp("m s u s s s a", 3, "v", 1, "cmd", "execve", "argv", 0), -EBADMSG,
                  "argv: empty");
        cmd_fails(mp("m s u s s s a s s a s n", 4, "v", 1, "cmd", "execve", "argv", 1, "/bin/sh",
                     "env", 2, "A=1"),
                  -EBADMSG, "env[1]: expected str");
        cmd_fails(mp("m s u s s s a s s m s s", 4, "v", 1, "cmd", "execve", "argv", 1, "/bin/sh",
                     "rlimits", 1, "cpu", "1"),
                  -EBADMSG, "rlimits.cpu: expected unsigned integer");
        cmd_fails(mp("m s u s s s a s s m s u", 4, "v", 1, "cmd", "execve", "argv", 1, "/bin/sh",
                     "rlimits", 1, "rss", 1),
                  -EBADMSG, "rlimits: unknown resource \"rss\"");
        cmd_fails(mp("m s u s s s a s s s", 4, "v", 1, "cmd", "execve", "argv", 1, "/bin/sh",
                     "policy", "strict"),
                  -EBADMSG, "policy: unknown policy \"strict\"");
        cmd_fails(mp("m s u s s s a s s u", 4, "v", 1, "cmd", "execve", "argv", 1, "/bin/sh",
                     "sync", 1),
                  -EBADMSG, "sync: expected bool");
        cmd_fails(mp("m s u s s s a s s i", 4, "v", 1, "cmd", "execve", "argv", 1, "/bin/sh",
                     "n_fds", -1),
                  -EBADMSG, "n_fds: expected unsigned integer");
}

static void test_proto_cmd_decode_rejects_nul_and_long_strings(void **state)
{
        (void)state;
        char *long_path = filled(4097, 'a');

        long_path[0] = '/';
        cmd_fails(mp("m s u s s s a z", 3, "v", 1, "cmd", "execve", "argv", 1, "a\0b", (size_t)3),
                  -EBADMSG, "argv[0]: contains a NUL byte");
        cmd_fails(mp("m s u s s s z", 3, "v", 1, "cmd", "delete", "path", "/a\0", (size_t)3),
                  -EBADMSG, "path: contains a NUL byte");
        cmd_fails(mp("m s u s s s s", 3, "v", 1, "cmd", "delete", "path", ""), -EBADMSG,
                  "path: empty");
        cmd_fails(mp("m s u s s s s", 3, "v", 1, "cmd", "delete", "path", long_path), -E2BIG,
                  "path: 4097 bytes, over the limit of 4096");
        cmd_fails(mp("m s u s s s s", 3, "v", 1, "cmd", "conf", "hostname", long_path), -E2BIG,
                  "hostname: 4097 bytes, over the limit of 64");
        long_path[4096] = '\0';
        {
                struct mp_buf m =
                        mp("m s u s s s s", 3, "v", 1, "cmd", "delete", "path", long_path);
                struct proto_cmd cmd;
                struct gv_err err = {};

                assert_int_equal(schema_proto_cmd_decode(m.data, m.len, NULL, &cmd, &err), 0);
                assert_int_equal(strlen(cmd.path), 4096);
                proto_cmd_done(&cmd);
                free(m.data);
        }
        free(long_path);
}

static void test_proto_cmd_decode_rejects_counts_over_bounds(void **state)
{
        (void)state;
        char filter[PROTO_FILTER_MAX + 8] = {0};
        struct mp_buf m;
        msgpack_sbuffer sb;
        msgpack_packer pk;

        /* 257 argv entries */
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 3);
        msgpack_pack_str_with_body(&pk, "v", 1);
        msgpack_pack_uint8(&pk, 1);
        msgpack_pack_str_with_body(&pk, "cmd", 3);
        msgpack_pack_str_with_body(&pk, "execve", 6);
        msgpack_pack_str_with_body(&pk, "argv", 4);
        msgpack_pack_array(&pk, PROTO_ARGV_MAX + 1);
        for (int i = 0; i < PROTO_ARGV_MAX + 1; i++)
                msgpack_pack_str_with_body(&pk, "x", 1);
        m.len = sb.size;
        m.data = msgpack_sbuffer_release(&sb);
        cmd_fails(m, -E2BIG, "argv: 257 elements, over the limit of 256");

        cmd_fails(mp("m s u s s s a m m m m m m m m m m m m m m m m m", 3, "v", 1, "cmd", "open",
                     "files", 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
                  -E2BIG, "files: 17 elements, over the limit of 16");
        cmd_fails(mp("m s u s s s a s s u", 4, "v", 1, "cmd", "execve", "argv", 1, "/bin/sh",
                     "n_fds", 17),
                  -E2BIG, "n_fds: 17, over the limit of 16");
        cmd_fails(mp("m s u s s s m s x", 3, "v", 1, "cmd", "conf", "filters", 1, "run", filter,
                     sizeof(filter)),
                  -E2BIG, "filters.run: 32776 bytes, over the limit of 32768");
}

static void test_proto_cmd_decode_rejects_duplicate_keys(void **state)
{
        (void)state;
        cmd_fails(mp("m s u s s s s", 3, "v", 1, "cmd", "ping", "cmd", "kill"), -EBADMSG,
                  "cmd: duplicate key");
        cmd_fails(mp("m s u s s s a s s m s u s u", 4, "v", 1, "cmd", "execve", "argv", 1, "/b",
                     "rlimits", 2, "cpu", 1, "cpu", 2),
                  -EBADMSG, "rlimits.cpu: duplicate key");
}

static void test_proto_cmd_decode_rejects_newer_version(void **state)
{
        (void)state;
        cmd_fails(mp("m s u s s", 2, "v", 2, "cmd", "ping"), -EBADMSG,
                  "v: unsupported version 2 (this worker speaks 1)");
        cmd_fails(mp("m s u s s", 2, "v", 0, "cmd", "ping"), -EBADMSG,
                  "v: expected a positive integer");
}

static void test_proto_cmd_decode_ignores_unknown_and_non_str_keys(void **state)
{
        (void)state;
        struct mp_buf m = mp("m s u s s s a u s u s s s", 6, "v", 1, "cmd", "delete", "extra", 0, 7,
                             "x", 9, "path", "path", "/a");
        struct proto_cmd cmd;
        struct gv_err err = {};

        assert_int_equal(schema_proto_cmd_decode(m.data, m.len, NULL, &cmd, &err), 0);
        assert_int_equal(cmd.kind, PROTO_DELETE);
        assert_string_equal(cmd.path, "/a");
        proto_cmd_done(&cmd);
        free(m.data);
}

static void test_proto_decode_rejects_non_map_roots_and_trailing_bytes(void **state)
{
        (void)state;
        struct mp_buf m = mp("m s u s s u", 2, "v", 1, "cmd", "ping", 0);

        cmd_fails(mp("a s", 1, "ping"), -EBADMSG, "expected a map at the root");
        cmd_fails(mp("s", "ping"), -EBADMSG, "expected a map at the root");
        reply_fails(mp("n"), -EBADMSG, "expected a map at the root");
        cmd_fails(m, -EBADMSG, "trailing bytes after message");
        cmd_fails(mp(""), -EBADMSG, "empty message");
}

static void test_proto_decode_rejects_message_over_proto_msg_max(void **state)
{
        (void)state;
        char *big = filled(PROTO_MSG_MAX, 'x');

        cmd_fails(mp("m s u s s s s", 3, "v", 1, "cmd", "ping", "pad", big), -E2BIG,
                  "message over the limit of 262144 bytes");
        free(big);
}

static void test_proto_reply_decode_names_bad_fields(void **state)
{
        (void)state;
        char *long_msg = filled(4097, 'm');

        reply_fails(mp("m s u", 1, "v", 1), -EBADMSG, "kind: missing");
        reply_fails(mp("m s u s s", 2, "v", 1, "kind", "finished"), -EBADMSG, "status: missing");
        reply_fails(mp("m s u s s s s", 3, "v", 1, "kind", "finished", "status", "dumped"),
                    -EBADMSG, "status: unknown status \"dumped\"");
        reply_fails(mp("m s u s s", 2, "v", 1, "kind", "okay"), -EBADMSG,
                    "kind: unknown reply kind \"okay\"");
        reply_fails(mp("m s u s s s d", 3, "v", 1, "kind", "error", "code", -2.0), -EBADMSG,
                    "code: expected integer");
        reply_fails(mp("m s u s s s u", 3, "v", 1, "kind", "error", "message", 1), -EBADMSG,
                    "message: expected str");
        reply_fails(mp("m s u s s s s", 3, "v", 1, "kind", "error", "message", long_msg), -E2BIG,
                    "message: 4097 bytes, over the limit of 4096");
        reply_fails(mp("m s u s s s u", 3, "v", 1, "kind", "ok", "n_fds", 17), -E2BIG,
                    "n_fds: 17, over the limit of 16");
        reply_fails(mp("m s u s s s s s i", 4, "v", 1, "kind", "finished", "status", "exited",
                       "wall_us", -1),
                    -EBADMSG, "wall_us: expected unsigned integer");
        reply_fails(mp("m s u s s s s s U", 4, "v", 1, "kind", "finished", "status", "exited",
                       "exit_code", (uint64_t)UINT32_MAX),
                    -EBADMSG, "exit_code: expected integer from -2147483648 to 2147483647");
        free(long_msg);
}

static void test_proto_decode_survives_seeded_garbage(void **state)
{
        (void)state;
        uint64_t seed = 0x9e3779b97f4a7c15ULL;
        uint8_t buf[256];

        for (int i = 0; i < 20000; i++) {
                size_t len = test_rand(&seed) % sizeof(buf);
                struct proto_cmd cmd;
                struct proto_reply reply;
                struct gv_err err = {};
                int r;

                for (size_t j = 0; j < len; j++)
                        buf[j] = (uint8_t)test_rand(&seed);
                if (len > 0 && i % 2)
                        buf[0] = 0x80 | (buf[0] & 0x0f); /* a fixmap, to go further in */
                r = schema_proto_cmd_decode(buf, len, NULL, &cmd, &err);
                if (r == 0)
                        proto_cmd_done(&cmd);
                else
                        assert_true(r == -EBADMSG || r == -E2BIG);
                r = schema_proto_reply_decode(buf, len, NULL, &reply, &err);
                if (r == 0)
                        proto_reply_done(&reply);
                else
                        assert_true(r == -EBADMSG || r == -E2BIG);
        }
}

static void test_proto_policy_names_roundtrip(void **state)
{
        (void)state;
        for (int p = 0; p < _PROTO_POLICY_MAX; p++) {
                assert_non_null(proto_policy_name(p));
                assert_int_equal(proto_policy_from_name(proto_policy_name(p)), p);
        }
        assert_null(proto_policy_name(_PROTO_POLICY_MAX));
        assert_null(proto_policy_name(-1));
        assert_int_equal(proto_policy_from_name("strict"), _PROTO_POLICY_INVALID);
        assert_int_equal(proto_policy_from_name(NULL), _PROTO_POLICY_INVALID);
        assert_string_equal(proto_policy_name(PROTO_POLICY_RUN), "run");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_proto_cmd_roundtrips_kinds_without_fields),
                cmocka_unit_test(test_proto_cmd_roundtrips_conf_with_every_field),
                cmocka_unit_test(test_proto_cmd_roundtrips_open_and_delete),
                cmocka_unit_test(test_proto_cmd_roundtrips_execve_with_every_field),
                cmocka_unit_test(test_proto_cmd_decode_gives_execve_an_empty_env),
                cmocka_unit_test(test_proto_reply_roundtrips_every_kind),
                cmocka_unit_test(test_proto_encode_rejects_invalid_structs),
                cmocka_unit_test(test_proto_cmd_decode_names_missing_keys),
                cmocka_unit_test(test_proto_cmd_decode_names_wrong_types),
                cmocka_unit_test(test_proto_cmd_decode_rejects_nul_and_long_strings),
                cmocka_unit_test(test_proto_cmd_decode_rejects_counts_over_bounds),
                cmocka_unit_test(test_proto_cmd_decode_rejects_duplicate_keys),
                cmocka_unit_test(test_proto_cmd_decode_rejects_newer_version),
                cmocka_unit_test(test_proto_cmd_decode_ignores_unknown_and_non_str_keys),
                cmocka_unit_test(test_proto_decode_rejects_non_map_roots_and_trailing_bytes),
                cmocka_unit_test(test_proto_decode_rejects_message_over_proto_msg_max),
                cmocka_unit_test(test_proto_reply_decode_names_bad_fields),
                cmocka_unit_test(test_proto_decode_survives_seeded_garbage),
                cmocka_unit_test(test_proto_policy_names_roundtrip),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
