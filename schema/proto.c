/* SPDX-License-Identifier: MIT */
/*
 * The container protocol: commands from the host to a container's init and the init's replies.
 * Decoders read only the keys of the command or reply kind at hand (others are ignored, like
 * unknown keys) and apply the fixed PROTO_*_MAX bounds on top of the caller's limits. Encoders
 * write into the caller's buffer through a packer that never allocates: the container init and
 * the exec path use them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "schema/cleanup.h"
#include "schema/codec-internal.h"

static size_t min_size(size_t a, size_t b)
{
        return a < b ? a : b;
}

/* the caller's limits, capped by PROTO_MSG_MAX */
static void proto_limits(const struct schema_limits *lim, struct schema_limits *out)
{
        struct schema_limits dflt;

        *out = *schema__limits(lim, &dflt);
        out->message_max = min_size(out->message_max, PROTO_MSG_MAX);
}

/* ---- commands: decoding ---- */

enum {
        C_V,
        C_CMD,
        C_MOUNTS,
        C_HOSTNAME,
        C_WORKDIR,
        C_UID,
        C_GID,
        C_FILTERS,
        C_FILES,
        C_PATH,
        C_ARGV,
        C_ENV,
        C_DIR,
        C_RLIMITS,
        C_POLICY,
        C_FEXECVE,
        C_SYNC,
        C_N_FDS,
        _C_MAX,
};

static const char *const cmd_keys[_C_MAX] = {
        [C_V] = "v",
        [C_CMD] = "cmd",
        [C_MOUNTS] = "mounts",
        [C_HOSTNAME] = "hostname",
        [C_WORKDIR] = "workdir",
        [C_UID] = "uid",
        [C_GID] = "gid",
        [C_FILTERS] = "filters",
        [C_FILES] = "files",
        [C_PATH] = "path",
        [C_ARGV] = "argv",
        [C_ENV] = "env",
        [C_DIR] = "dir",
        [C_RLIMITS] = "rlimits",
        [C_POLICY] = "policy",
        [C_FEXECVE] = "fexecve",
        [C_SYNC] = "sync",
        [C_N_FDS] = "n_fds",
};

static int decode_n_fds(const msgpack_object *o, uint32_t *ret, struct gv_err *err)
{
        uint32_t n;
        int r;

        r = schema__u32(o, "n_fds", &n, err);
        if (r < 0)
                return r;
        if (n > PROTO_FDS_MAX)
                return gv_err_set(err, -E2BIG, "n_fds: %" PRIu32 ", over the limit of %d", n,
                                  PROTO_FDS_MAX);
        *ret = n;
        return 0;
}

enum { M_KIND, M_SRC, M_DST, M_RO, M_OPTIONAL, M_SIZE_KIB, _M_MAX };

static const char *const mount_keys[_M_MAX] = {
        [M_KIND] = "kind", [M_SRC] = "src",           [M_DST] = "dst",
        [M_RO] = "ro",     [M_OPTIONAL] = "optional", [M_SIZE_KIB] = "size_kib",
};

static int decode_mount(const msgpack_object *o, size_t path_max, struct proto_mount *m,
                        struct gv_err *err)
{
        struct schema__field f[_M_MAX];
        int kind, r;

        r = schema__fields(o, mount_keys, f, _M_MAX, err);
        if (r < 0)
                return r;
        if (!f[M_KIND].val)
                return schema__missing("kind", err);
        r = schema__enum(f[M_KIND].val, "kind", schema__mount_names, _PROTO_MOUNT_MAX, "mount kind",
                         &kind, err);
        if (r < 0)
                return r;
        m->kind = kind;
        switch (m->kind) {
        case PROTO_MOUNT_BIND:
        case PROTO_MOUNT_SYMLINK:
                if (!f[M_SRC].val)
                        return schema__missing("src", err);
                /* a bind source is a host path; a symlink target may be relative */
                r = schema__str(f[M_SRC].val, "src", path_max,
                                SCHEMA__ID | (m->kind == PROTO_MOUNT_BIND ? SCHEMA__ABSOLUTE : 0),
                                &m->src, err);
                if (r < 0)
                        return r;
                break;
        case PROTO_MOUNT_TMPFS:
        case PROTO_MOUNT_PROC:
        case _PROTO_MOUNT_MAX:
        case _PROTO_MOUNT_INVALID:
                break;
        }
        if (!f[M_DST].val)
                return schema__missing("dst", err);
        r = schema__str(f[M_DST].val, "dst", path_max, SCHEMA__ID | SCHEMA__ABSOLUTE, &m->dst, err);
        if (r < 0)
                return r;
        if (f[M_RO].val) {
                r = schema__bool(f[M_RO].val, "ro", &m->ro, err);
                if (r < 0)
                        return r;
        }
        if (f[M_OPTIONAL].val) {
                r = schema__bool(f[M_OPTIONAL].val, "optional", &m->optional, err);
                if (r < 0)
                        return r;
        }
        if (f[M_SIZE_KIB].val) {
                r = schema__u64(f[M_SIZE_KIB].val, "size_kib", &m->size_kib, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int decode_filters(const msgpack_object *o, struct proto_cmd *cmd, struct gv_err *err)
{
        const msgpack_object_map *map;
        int r;

        r = schema__want_map(o, "filters", err);
        if (r < 0)
                return r;
        map = &o->via.map;
        for (uint32_t i = 0; i < map->size; i++) {
                const msgpack_object *key = &map->ptr[i].key, *val = &map->ptr[i].val;
                char quoted[48];
                const char *name;
                int p;

                if (key->type != MSGPACK_OBJECT_STR)
                        continue;
                p = schema__index(schema__policy_names, _PROTO_POLICY_MAX, key->via.str.ptr,
                                  key->via.str.size);
                if (p < 0 || p == PROTO_POLICY_NONE) {
                        schema__quote(key->via.str.ptr, key->via.str.size, quoted, sizeof(quoted));
                        return gv_err_set(err, -EBADMSG, "filters: unknown policy %s", quoted);
                }
                name = schema__policy_names[p];
                if (cmd->filter[p])
                        return gv_err_set(err, -EBADMSG, "filters.%s: duplicate key", name);
                if (val->type != MSGPACK_OBJECT_BIN)
                        return gv_err_set(err, -EBADMSG, "filters.%s: expected bin", name);
                if (val->via.bin.size == 0)
                        return gv_err_set(err, -EBADMSG, "filters.%s: empty", name);
                if (val->via.bin.size > PROTO_FILTER_MAX)
                        return gv_err_set(err, -E2BIG,
                                          "filters.%s: %" PRIu32 " bytes, over the limit of %d",
                                          name, val->via.bin.size, PROTO_FILTER_MAX);
                if (val->via.bin.size % 8 != 0)
                        return gv_err_set(err, -EBADMSG,
                                          "filters.%s: %" PRIu32 " bytes, not a multiple of 8",
                                          name, val->via.bin.size);
                cmd->filter[p] = schema__memdup(val->via.bin.ptr, val->via.bin.size);
                cmd->filter_len[p] = val->via.bin.size;
        }
        return 0;
}

static int decode_conf(struct schema__field *f, const struct schema_limits *lim, size_t path_max,
                       struct proto_cmd *cmd, struct gv_err *err)
{
        int r;

        if (f[C_MOUNTS].val) {
                const msgpack_object *o = f[C_MOUNTS].val;

                r = schema__want_array(o, "mounts", min_size(lim->array_max, PROTO_MOUNTS_MAX),
                                       err);
                if (r < 0)
                        return r;
                if (o->via.array.size > 0) {
                        cmd->mounts = xcalloc(o->via.array.size, sizeof(*cmd->mounts));
                        cmd->n_mounts = o->via.array.size;
                }
                for (size_t i = 0; i < cmd->n_mounts; i++) {
                        const msgpack_object *el = &o->via.array.ptr[i];

                        if (el->type != MSGPACK_OBJECT_MAP)
                                return gv_err_set(err, -EBADMSG, "mounts[%zu]: expected a map", i);
                        r = decode_mount(el, path_max, &cmd->mounts[i], err);
                        if (r < 0)
                                return gv_err_prefix(err, r, "mounts[%zu].", i);
                }
        }
        if (f[C_HOSTNAME].val) {
                r = schema__str(f[C_HOSTNAME].val, "hostname", SCHEMA__HOST_MAX, SCHEMA__ID,
                                &cmd->hostname, err);
                if (r < 0)
                        return r;
        }
        if (f[C_WORKDIR].val) {
                r = schema__str(f[C_WORKDIR].val, "workdir", path_max,
                                SCHEMA__ID | SCHEMA__ABSOLUTE, &cmd->workdir, err);
                if (r < 0)
                        return r;
        }
        if (f[C_UID].val) {
                r = schema__u32(f[C_UID].val, "uid", &cmd->uid, err);
                if (r < 0)
                        return r;
        }
        if (f[C_GID].val) {
                r = schema__u32(f[C_GID].val, "gid", &cmd->gid, err);
                if (r < 0)
                        return r;
        }
        if (f[C_FILTERS].val) {
                r = decode_filters(f[C_FILTERS].val, cmd, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

enum { F_PATH, F_FLAGS, F_MODE, _F_MAX };

static const char *const file_keys[_F_MAX] = {
        [F_PATH] = "path",
        [F_FLAGS] = "flags",
        [F_MODE] = "mode",
};

static int decode_file(const msgpack_object *o, size_t path_max, struct proto_open_file *file,
                       struct gv_err *err)
{
        struct schema__field f[_F_MAX];
        int r;

        r = schema__fields(o, file_keys, f, _F_MAX, err);
        if (r < 0)
                return r;
        if (!f[F_PATH].val)
                return schema__missing("path", err);
        r = schema__str(f[F_PATH].val, "path", path_max, SCHEMA__ID, &file->path, err);
        if (r < 0)
                return r;
        if (f[F_FLAGS].val) {
                r = schema__i32(f[F_FLAGS].val, "flags", &file->flags, err);
                if (r < 0)
                        return r;
        }
        if (f[F_MODE].val) {
                r = schema__u32(f[F_MODE].val, "mode", &file->mode, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int decode_open(struct schema__field *f, const struct schema_limits *lim, size_t path_max,
                       struct proto_cmd *cmd, struct gv_err *err)
{
        const msgpack_object *o = f[C_FILES].val;
        int r;

        if (!o)
                return 0;
        r = schema__want_array(o, "files", min_size(lim->array_max, PROTO_OPEN_MAX), err);
        if (r < 0)
                return r;
        if (o->via.array.size > 0) {
                cmd->files = xcalloc(o->via.array.size, sizeof(*cmd->files));
                cmd->n_files = o->via.array.size;
        }
        for (size_t i = 0; i < cmd->n_files; i++) {
                const msgpack_object *el = &o->via.array.ptr[i];

                if (el->type != MSGPACK_OBJECT_MAP)
                        return gv_err_set(err, -EBADMSG, "files[%zu]: expected a map", i);
                r = decode_file(el, path_max, &cmd->files[i], err);
                if (r < 0)
                        return gv_err_prefix(err, r, "files[%zu].", i);
        }
        return 0;
}

/* An array of str into a NULL-terminated vector (always allocated, even when empty). */
static int decode_strv(const msgpack_object *o, const char *name, size_t max, size_t str_max,
                       char ***ret_v, size_t *ret_n, struct gv_err *err)
{
        char **v;
        size_t n;
        int r;

        r = schema__want_array(o, name, max, err);
        if (r < 0)
                return r;
        n = o->via.array.size;
        v = xcalloc(n + 1, sizeof(*v));
        *ret_v = v; /* owned by the command from here on, so a failure below frees it */
        *ret_n = n;
        for (size_t i = 0; i < n; i++) {
                char el[32];

                snprintf(el, sizeof(el), "%s[%zu]", name, i);
                r = schema__str(&o->via.array.ptr[i], el, str_max, SCHEMA__NO_NUL, &v[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int decode_rlimits(const msgpack_object *o, struct proto_cmd *cmd, struct gv_err *err)
{
        const msgpack_object_map *map;
        unsigned seen = 0;
        int r;

        r = schema__want_map(o, "rlimits", err);
        if (r < 0)
                return r;
        map = &o->via.map;
        for (uint32_t i = 0; i < map->size; i++) {
                const msgpack_object *key = &map->ptr[i].key;
                char quoted[48], name[32];
                int res;

                if (key->type != MSGPACK_OBJECT_STR)
                        continue;
                res = schema__index(schema__rlimit_names, _PROTO_RLIMIT_MAX, key->via.str.ptr,
                                    key->via.str.size);
                if (res < 0) {
                        schema__quote(key->via.str.ptr, key->via.str.size, quoted, sizeof(quoted));
                        return gv_err_set(err, -EBADMSG, "rlimits: unknown resource %s", quoted);
                }
                snprintf(name, sizeof(name), "rlimits.%s", schema__rlimit_names[res]);
                if (seen & (1u << res))
                        return gv_err_set(err, -EBADMSG, "%s: duplicate key", name);
                seen |= 1u << res;
                r = schema__u64(&map->ptr[i].val, name, &cmd->rlimits[res], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int decode_execve(struct schema__field *f, const struct schema_limits *lim, size_t path_max,
                         struct proto_cmd *cmd, struct gv_err *err)
{
        size_t argv_max = min_size(lim->array_max, PROTO_ARGV_MAX);
        int policy, r;

        if (!f[C_ARGV].val)
                return schema__missing("argv", err);
        r = decode_strv(f[C_ARGV].val, "argv", argv_max, path_max, &cmd->argv, &cmd->n_argv, err);
        if (r < 0)
                return r;
        if (cmd->n_argv == 0)
                return gv_err_set(err, -EBADMSG, "argv: empty");
        if (f[C_ENV].val)
                r = decode_strv(f[C_ENV].val, "env", argv_max, path_max, &cmd->env, &cmd->n_env,
                                err);
        else
                cmd->env = xcalloc(1, sizeof(*cmd->env));
        if (r < 0)
                return r;
        if (f[C_DIR].val) {
                r = schema__str(f[C_DIR].val, "dir", path_max, SCHEMA__ID, &cmd->dir, err);
                if (r < 0)
                        return r;
        }
        if (f[C_RLIMITS].val) {
                r = decode_rlimits(f[C_RLIMITS].val, cmd, err);
                if (r < 0)
                        return r;
        }
        if (f[C_POLICY].val) {
                r = schema__enum(f[C_POLICY].val, "policy", schema__policy_names, _PROTO_POLICY_MAX,
                                 "policy", &policy, err);
                if (r < 0)
                        return r;
                cmd->policy = policy;
        }
        if (f[C_FEXECVE].val) {
                r = schema__bool(f[C_FEXECVE].val, "fexecve", &cmd->fexecve, err);
                if (r < 0)
                        return r;
        }
        if (f[C_SYNC].val) {
                r = schema__bool(f[C_SYNC].val, "sync", &cmd->sync, err);
                if (r < 0)
                        return r;
        }
        if (f[C_N_FDS].val) {
                r = decode_n_fds(f[C_N_FDS].val, &cmd->n_fds, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int decode_cmd(const void *buf, size_t len, const msgpack_object *root,
                      const struct schema_limits *lim, void *ret, struct gv_err *err)
{
        struct proto_cmd *cmd = ret;
        size_t path_max = min_size(lim->str_max, SCHEMA__PATH_MAX);
        struct schema__field f[_C_MAX];
        uint32_t v;
        int kind, r;

        (void)buf;
        (void)len;
        for (size_t i = 0; i < _PROTO_RLIMIT_MAX; i++)
                cmd->rlimits[i] = UINT64_MAX; /* "not set" unless the command says */
        r = schema__fields(root, cmd_keys, f, _C_MAX, err);
        if (r < 0)
                return r;
        if (!f[C_V].val)
                return schema__missing("v", err);
        r = schema__version(f[C_V].val, &v, err);
        if (r < 0)
                return r;
        if (!f[C_CMD].val)
                return schema__missing("cmd", err);
        r = schema__enum(f[C_CMD].val, "cmd", schema__cmd_names, _PROTO_CMD_MAX, "command", &kind,
                         err);
        if (r < 0)
                return r;
        cmd->kind = kind;
        switch (cmd->kind) {
        case PROTO_CONF:
                return decode_conf(f, lim, path_max, cmd, err);
        case PROTO_OPEN:
                return decode_open(f, lim, path_max, cmd, err);
        case PROTO_DELETE:
                if (!f[C_PATH].val)
                        return schema__missing("path", err);
                return schema__str(f[C_PATH].val, "path", path_max, SCHEMA__ID, &cmd->path, err);
        case PROTO_EXECVE:
                return decode_execve(f, lim, path_max, cmd, err);
        case PROTO_PING:
        case PROTO_RESET:
        case PROTO_INIT_FINISHED:
        case PROTO_KILL:
        case _PROTO_CMD_MAX:
        case _PROTO_CMD_INVALID:
                break;
        }
        return 0;
}

static void cmd_done_any(void *cmd)
{
        proto_cmd_done(cmd);
}

int schema_proto_cmd_decode(const void *buf, size_t len, const struct schema_limits *lim,
                            struct proto_cmd *ret_cmd, struct gv_err *err)
{
        static const struct schema__type type = {sizeof(struct proto_cmd), decode_cmd,
                                                 cmd_done_any};
        struct schema_limits plim;

        proto_limits(lim, &plim);
        return schema__decode(buf, len, &plim, &type, ret_cmd, err);
}

static void strv_free(char **v, size_t n)
{
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

void proto_cmd_done(struct proto_cmd *cmd)
{
        if (!cmd)
                return;
        for (size_t i = 0; i < cmd->n_mounts && cmd->mounts; i++) {
                free(cmd->mounts[i].src);
                free(cmd->mounts[i].dst);
        }
        free(cmd->mounts);
        free(cmd->hostname);
        free(cmd->workdir);
        for (size_t i = 0; i < _PROTO_POLICY_MAX; i++)
                free(cmd->filter[i]);
        for (size_t i = 0; i < cmd->n_files && cmd->files; i++)
                free(cmd->files[i].path);
        free(cmd->files);
        free(cmd->path);
        strv_free(cmd->argv, cmd->n_argv);
        strv_free(cmd->env, cmd->n_env);
        free(cmd->dir);
        *cmd = (struct proto_cmd){};
}

/* ---- commands: encoding ---- */

static bool valid_path(const char *s)
{
        return s && s[0] && strlen(s) <= SCHEMA__PATH_MAX;
}

/* Refuses what the decoder would refuse in a way the encoder can see cheaply. */
static int cmd_valid(const struct proto_cmd *cmd)
{
        switch (cmd->kind) {
        case PROTO_CONF:
                if (cmd->n_mounts > PROTO_MOUNTS_MAX || (cmd->n_mounts && !cmd->mounts))
                        return -EINVAL;
                for (size_t i = 0; i < cmd->n_mounts; i++) {
                        const struct proto_mount *m = &cmd->mounts[i];

                        if (!schema__name(schema__mount_names, _PROTO_MOUNT_MAX, m->kind) ||
                            !valid_path(m->dst))
                                return -EINVAL;
                        if ((m->kind == PROTO_MOUNT_BIND || m->kind == PROTO_MOUNT_SYMLINK) &&
                            !valid_path(m->src))
                                return -EINVAL;
                }
                for (size_t p = 0; p < _PROTO_POLICY_MAX; p++)
                        if (cmd->filter[p] &&
                            (p == PROTO_POLICY_NONE || !cmd->filter_len[p] ||
                             cmd->filter_len[p] % 8 || cmd->filter_len[p] > PROTO_FILTER_MAX))
                                return -EINVAL;
                return 0;
        case PROTO_OPEN:
                if (cmd->n_files > PROTO_OPEN_MAX || (cmd->n_files && !cmd->files))
                        return -EINVAL;
                for (size_t i = 0; i < cmd->n_files; i++)
                        if (!valid_path(cmd->files[i].path))
                                return -EINVAL;
                return 0;
        case PROTO_DELETE:
                return valid_path(cmd->path) ? 0 : -EINVAL;
        case PROTO_EXECVE:
                if (!cmd->argv || cmd->n_argv == 0 || cmd->n_argv > PROTO_ARGV_MAX ||
                    cmd->n_env > PROTO_ARGV_MAX || (cmd->n_env && !cmd->env) ||
                    cmd->n_fds > PROTO_FDS_MAX ||
                    !schema__name(schema__policy_names, _PROTO_POLICY_MAX, cmd->policy))
                        return -EINVAL;
                for (size_t i = 0; i < cmd->n_argv; i++)
                        if (!cmd->argv[i])
                                return -EINVAL;
                for (size_t i = 0; i < cmd->n_env; i++)
                        if (!cmd->env[i])
                                return -EINVAL;
                return 0;
        case PROTO_PING:
        case PROTO_RESET:
        case PROTO_INIT_FINISHED:
        case PROTO_KILL:
                return 0;
        case _PROTO_CMD_MAX:
        case _PROTO_CMD_INVALID:
        default:
                return -EINVAL;
        }
}

static int pack_mount(msgpack_packer *pk, const struct proto_mount *m)
{
        bool has_src = m->kind == PROTO_MOUNT_BIND || m->kind == PROTO_MOUNT_SYMLINK;
        int r = 0;

        r |= msgpack_pack_map(pk, 2 + has_src + m->ro + m->optional + !!m->size_kib);
        r |= schema__kv_rawstr(pk, "kind", schema__mount_names[m->kind]);
        if (has_src)
                r |= schema__kv_rawstr(pk, "src", m->src);
        r |= schema__kv_rawstr(pk, "dst", m->dst);
        if (m->ro)
                r |= schema__kv_bool(pk, "ro", true);
        if (m->optional)
                r |= schema__kv_bool(pk, "optional", true);
        if (m->size_kib)
                r |= schema__kv_uint(pk, "size_kib", m->size_kib);
        return r;
}

static int pack_conf(msgpack_packer *pk, const struct proto_cmd *cmd)
{
        size_t n_filters = 0;
        int r = 0;

        for (size_t p = 0; p < _PROTO_POLICY_MAX; p++)
                n_filters += !!cmd->filter[p];
        r |= msgpack_pack_map(pk, 2 + !!cmd->n_mounts + !!cmd->hostname + !!cmd->workdir +
                                          !!cmd->uid + !!cmd->gid + !!n_filters);
        r |= schema__kv_uint(pk, "v", SCHEMA_VERSION);
        r |= schema__kv_rawstr(pk, "cmd", "conf");
        if (cmd->n_mounts) {
                r |= schema__pack_key(pk, "mounts");
                r |= msgpack_pack_array(pk, cmd->n_mounts);
                for (size_t i = 0; i < cmd->n_mounts; i++)
                        r |= pack_mount(pk, &cmd->mounts[i]);
        }
        if (cmd->hostname)
                r |= schema__kv_rawstr(pk, "hostname", cmd->hostname);
        if (cmd->workdir)
                r |= schema__kv_rawstr(pk, "workdir", cmd->workdir);
        if (cmd->uid)
                r |= schema__kv_uint(pk, "uid", cmd->uid);
        if (cmd->gid)
                r |= schema__kv_uint(pk, "gid", cmd->gid);
        if (n_filters) {
                r |= schema__pack_key(pk, "filters");
                r |= msgpack_pack_map(pk, n_filters);
                for (size_t p = 0; p < _PROTO_POLICY_MAX; p++)
                        if (cmd->filter[p])
                                r |= schema__kv_bin(pk, schema__policy_names[p], cmd->filter[p],
                                                    cmd->filter_len[p]);
        }
        return r;
}

static int pack_open(msgpack_packer *pk, const struct proto_cmd *cmd)
{
        int r = 0;

        r |= msgpack_pack_map(pk, 2 + !!cmd->n_files);
        r |= schema__kv_uint(pk, "v", SCHEMA_VERSION);
        r |= schema__kv_rawstr(pk, "cmd", "open");
        if (cmd->n_files) {
                r |= schema__pack_key(pk, "files");
                r |= msgpack_pack_array(pk, cmd->n_files);
                for (size_t i = 0; i < cmd->n_files; i++) {
                        const struct proto_open_file *file = &cmd->files[i];

                        r |= msgpack_pack_map(pk, 1 + !!file->flags + !!file->mode);
                        r |= schema__kv_rawstr(pk, "path", file->path);
                        if (file->flags)
                                r |= schema__kv_int(pk, "flags", file->flags);
                        if (file->mode)
                                r |= schema__kv_uint(pk, "mode", file->mode);
                }
        }
        return r;
}

static int pack_strv(msgpack_packer *pk, const char *key, char *const *v, size_t n)
{
        int r = 0;

        r |= schema__pack_key(pk, key);
        r |= msgpack_pack_array(pk, n);
        for (size_t i = 0; i < n; i++)
                r |= schema__pack_rawcstr(pk, v[i]);
        return r;
}

static int pack_execve(msgpack_packer *pk, const struct proto_cmd *cmd)
{
        size_t n_rlimits = 0;
        int r = 0;

        for (size_t i = 0; i < _PROTO_RLIMIT_MAX; i++)
                n_rlimits += cmd->rlimits[i] != UINT64_MAX;
        r |= msgpack_pack_map(pk, 3 + !!cmd->n_env + !!cmd->dir + !!n_rlimits +
                                          (cmd->policy != PROTO_POLICY_NONE) + cmd->fexecve +
                                          cmd->sync + !!cmd->n_fds);
        r |= schema__kv_uint(pk, "v", SCHEMA_VERSION);
        r |= schema__kv_rawstr(pk, "cmd", "execve");
        r |= pack_strv(pk, "argv", cmd->argv, cmd->n_argv);
        if (cmd->n_env)
                r |= pack_strv(pk, "env", cmd->env, cmd->n_env);
        if (cmd->dir)
                r |= schema__kv_rawstr(pk, "dir", cmd->dir);
        if (n_rlimits) {
                r |= schema__pack_key(pk, "rlimits");
                r |= msgpack_pack_map(pk, n_rlimits);
                for (size_t i = 0; i < _PROTO_RLIMIT_MAX; i++)
                        if (cmd->rlimits[i] != UINT64_MAX)
                                r |= schema__kv_uint(pk, schema__rlimit_names[i], cmd->rlimits[i]);
        }
        if (cmd->policy != PROTO_POLICY_NONE)
                r |= schema__kv_rawstr(pk, "policy", schema__policy_names[cmd->policy]);
        if (cmd->fexecve)
                r |= schema__kv_bool(pk, "fexecve", true);
        if (cmd->sync)
                r |= schema__kv_bool(pk, "sync", true);
        if (cmd->n_fds)
                r |= schema__kv_uint(pk, "n_fds", cmd->n_fds);
        return r;
}

int schema_proto_cmd_encode(const struct proto_cmd *cmd, void *buf, size_t size)
{
        struct schema__fixbuf fb = {.buf = buf, .size = min_size(size, PROTO_MSG_MAX)};
        msgpack_packer pk;
        int r;

        r = cmd_valid(cmd);
        if (r < 0)
                return r;
        msgpack_packer_init(&pk, &fb, schema__fixbuf_write);
        switch (cmd->kind) {
        case PROTO_CONF:
                r = pack_conf(&pk, cmd);
                break;
        case PROTO_OPEN:
                r = pack_open(&pk, cmd);
                break;
        case PROTO_DELETE:
                r |= msgpack_pack_map(&pk, 3);
                r |= schema__kv_uint(&pk, "v", SCHEMA_VERSION);
                r |= schema__kv_rawstr(&pk, "cmd", "delete");
                r |= schema__kv_rawstr(&pk, "path", cmd->path);
                break;
        case PROTO_EXECVE:
                r = pack_execve(&pk, cmd);
                break;
        case PROTO_PING:
        case PROTO_RESET:
        case PROTO_INIT_FINISHED:
        case PROTO_KILL:
        case _PROTO_CMD_MAX:
        case _PROTO_CMD_INVALID:
        default:
                r |= msgpack_pack_map(&pk, 2);
                r |= schema__kv_uint(&pk, "v", SCHEMA_VERSION);
                r |= schema__kv_rawstr(&pk, "cmd", schema__cmd_names[cmd->kind]);
                break;
        }
        if (r != 0)
                return -EMSGSIZE;
        return (int)fb.len;
}

/* ---- replies ---- */

enum {
        R_V,
        R_KIND,
        R_CODE,
        R_MESSAGE,
        R_N_FDS,
        R_STATUS,
        R_EXIT_CODE,
        R_SIGNAL,
        R_USER_US,
        R_SYS_US,
        R_MAXRSS_KIB,
        R_WALL_US,
        _R_MAX,
};

static const char *const reply_keys[_R_MAX] = {
        [R_V] = "v",
        [R_KIND] = "kind",
        [R_CODE] = "code",
        [R_MESSAGE] = "message",
        [R_N_FDS] = "n_fds",
        [R_STATUS] = "status",
        [R_EXIT_CODE] = "exit_code",
        [R_SIGNAL] = "signal",
        [R_USER_US] = "user_us",
        [R_SYS_US] = "sys_us",
        [R_MAXRSS_KIB] = "maxrss_kib",
        [R_WALL_US] = "wall_us",
};

static int decode_reply(const void *buf, size_t len, const msgpack_object *root,
                        const struct schema_limits *lim, void *ret, struct gv_err *err)
{
        struct proto_reply *reply = ret;
        struct {
                int key;
                uint64_t *val;
        } u64s[] = {
                {R_USER_US, &reply->user_us},
                {R_SYS_US, &reply->sys_us},
                {R_MAXRSS_KIB, &reply->maxrss_kib},
                {R_WALL_US, &reply->wall_us},
        };
        struct schema__field f[_R_MAX];
        uint32_t v;
        int kind, status, r;

        (void)buf;
        (void)len;
        r = schema__fields(root, reply_keys, f, _R_MAX, err);
        if (r < 0)
                return r;
        if (!f[R_V].val)
                return schema__missing("v", err);
        r = schema__version(f[R_V].val, &v, err);
        if (r < 0)
                return r;
        if (!f[R_KIND].val)
                return schema__missing("kind", err);
        r = schema__enum(f[R_KIND].val, "kind", schema__reply_names, _PROTO_R_MAX, "reply kind",
                         &kind, err);
        if (r < 0)
                return r;
        reply->kind = kind;
        if (f[R_CODE].val) {
                r = schema__i32(f[R_CODE].val, "code", &reply->code, err);
                if (r < 0)
                        return r;
        }
        if (f[R_MESSAGE].val) {
                r = schema__str(f[R_MESSAGE].val, "message",
                                min_size(lim->str_max, SCHEMA__TEXT_MAX), 0, &reply->message, err);
                if (r < 0)
                        return r;
        }
        if (f[R_N_FDS].val) {
                r = decode_n_fds(f[R_N_FDS].val, &reply->n_fds, err);
                if (r < 0)
                        return r;
        }
        /* the status means something only for finished (else it stays PROTO_EXITED, 0) */
        if (reply->kind == PROTO_R_FINISHED) {
                if (!f[R_STATUS].val)
                        return schema__missing("status", err);
                r = schema__enum(f[R_STATUS].val, "status", schema__status_names, _PROTO_STATUS_MAX,
                                 "status", &status, err);
                if (r < 0)
                        return r;
                reply->status = status;
        }
        if (f[R_EXIT_CODE].val) {
                r = schema__i32(f[R_EXIT_CODE].val, "exit_code", &reply->exit_code, err);
                if (r < 0)
                        return r;
        }
        if (f[R_SIGNAL].val) {
                r = schema__i32(f[R_SIGNAL].val, "signal", &reply->signal, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ARRAY_SIZE(u64s); i++) {
                if (!f[u64s[i].key].val)
                        continue;
                r = schema__u64(f[u64s[i].key].val, reply_keys[u64s[i].key], u64s[i].val, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void reply_done_any(void *reply)
{
        proto_reply_done(reply);
}

int schema_proto_reply_decode(const void *buf, size_t len, const struct schema_limits *lim,
                              struct proto_reply *ret_reply, struct gv_err *err)
{
        static const struct schema__type type = {sizeof(struct proto_reply), decode_reply,
                                                 reply_done_any};
        struct schema_limits plim;

        proto_limits(lim, &plim);
        return schema__decode(buf, len, &plim, &type, ret_reply, err);
}

void proto_reply_done(struct proto_reply *reply)
{
        if (!reply)
                return;
        free(reply->message);
        *reply = (struct proto_reply){};
}

int schema_proto_reply_encode(const struct proto_reply *reply, void *buf, size_t size)
{
        struct schema__fixbuf fb = {.buf = buf, .size = min_size(size, PROTO_MSG_MAX)};
        bool finished = reply->kind == PROTO_R_FINISHED;
        msgpack_packer pk;
        int r = 0;

        if (!schema__name(schema__reply_names, _PROTO_R_MAX, reply->kind) ||
            (finished && !schema__name(schema__status_names, _PROTO_STATUS_MAX, reply->status)) ||
            reply->n_fds > PROTO_FDS_MAX ||
            (reply->message && strlen(reply->message) > SCHEMA__TEXT_MAX))
                return -EINVAL;
        msgpack_packer_init(&pk, &fb, schema__fixbuf_write);
        r |= msgpack_pack_map(&pk, 2 + !!reply->code + !!reply->message + !!reply->n_fds +
                                           finished + !!reply->exit_code + !!reply->signal +
                                           !!reply->user_us + !!reply->sys_us +
                                           !!reply->maxrss_kib + !!reply->wall_us);
        r |= schema__kv_uint(&pk, "v", SCHEMA_VERSION);
        r |= schema__kv_rawstr(&pk, "kind", schema__reply_names[reply->kind]);
        if (reply->code)
                r |= schema__kv_int(&pk, "code", reply->code);
        if (reply->message)
                r |= schema__kv_rawstr(&pk, "message", reply->message);
        if (reply->n_fds)
                r |= schema__kv_uint(&pk, "n_fds", reply->n_fds);
        if (finished)
                r |= schema__kv_rawstr(&pk, "status", schema__status_names[reply->status]);
        if (reply->exit_code)
                r |= schema__kv_int(&pk, "exit_code", reply->exit_code);
        if (reply->signal)
                r |= schema__kv_int(&pk, "signal", reply->signal);
        if (reply->user_us)
                r |= schema__kv_uint(&pk, "user_us", reply->user_us);
        if (reply->sys_us)
                r |= schema__kv_uint(&pk, "sys_us", reply->sys_us);
        if (reply->maxrss_kib)
                r |= schema__kv_uint(&pk, "maxrss_kib", reply->maxrss_kib);
        if (reply->wall_us)
                r |= schema__kv_uint(&pk, "wall_us", reply->wall_us);
        if (r != 0)
                return -EMSGSIZE;
        return (int)fb.len;
}
