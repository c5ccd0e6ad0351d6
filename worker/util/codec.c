/* SPDX-License-Identifier: MIT */
/*
 * The msgpack <-> JSON codec of gavel's messages (codec.h): framing a msgpack stream, checking
 * and converting a message to JSON, and building a job, verdict or progress event from its JSON
 * description, checked again with the decoder a worker uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schema/cleanup.h"
#include "schema/schema.h"
#include "worker/util/codec.h"
#include "worker/util/json.h"

/* ---- framing: where one message ends in a stream ---------------------------------------- */

void codec_frame_reset(struct codec_frame *fr)
{
        fr->pos = 0;
        fr->depth = 0;
        fr->objects = 0;
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

/*
 * Walks on through buf[0..len), the bytes of the message so far. Returns the message's size once
 * it is complete, 0 when more bytes are needed, or -EBADMSG / -E2BIG with err set.
 */
ssize_t codec_frame_next(struct codec_frame *fr, const uint8_t *buf, size_t len,
                         const struct schema_limits *lim, struct gv_err *err)
{
        size_t raw_max = lim->str_max; /* one str or bin: the largest field bound, as in check.c */

        if (lim->source_max > raw_max)
                raw_max = lim->source_max;
        if (lim->tests_max > raw_max)
                raw_max = lim->tests_max;
        for (;;) {
                size_t pos = fr->pos, hdr = 1, width = 0;
                uint64_t body = 0, count = 0, items = 0, rest = 0;
                bool container = false, raw = false;
                uint8_t b;

                if (pos >= len)
                        return 0;
                b = buf[pos];
                if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
                        ; /* fixints, nil, bools */
                else if (b <= 0x8f) {
                        container = true;
                        count = b & 0x0f;
                        items = 2 * count;
                } else if (b <= 0x9f) {
                        container = true;
                        count = items = b & 0x0f;
                } else if (b <= 0xbf)
                        body = b & 0x1f;
                else if (b == 0xc1)
                        return gv_err_set(err, -EBADMSG,
                                          "invalid type byte 0xc1 at byte %zu of the message", pos);
                else if ((b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8))
                        return gv_err_set(err, -EBADMSG,
                                          "ext type 0x%02x at byte %zu of the message is not "
                                          "supported",
                                          b, pos);
                else if (b == 0xca || b == 0xcb)
                        body = b == 0xca ? 4 : 8;
                else if (b >= 0xcc && b <= 0xcf)
                        body = 1u << (b - 0xcc);
                else if (b >= 0xd0 && b <= 0xd3)
                        body = 1u << (b - 0xd0);
                else if (b >= 0xc4 && b <= 0xc6) {
                        raw = true;
                        width = 1u << (b - 0xc4);
                } else if (b >= 0xd9 && b <= 0xdb) {
                        raw = true;
                        width = 1u << (b - 0xd9);
                } else {
                        container = true; /* 0xdc..0xdf: array16, array32, map16, map32 */
                        width = b == 0xdc || b == 0xde ? 2 : 4;
                }
                if (width) {
                        hdr += width;
                        if (len - pos < hdr)
                                return 0;
                        if (raw)
                                body = load_be(buf + pos + 1, width);
                        else {
                                count = load_be(buf + pos + 1, width);
                                items = b >= 0xde ? 2 * count : count;
                        }
                }
                if (container && count > lim->array_max)
                        return gv_err_set(err, -E2BIG,
                                          "array or map of %" PRIu64
                                          " elements at byte %zu of the message, over the "
                                          "limit of %zu",
                                          count, pos, lim->array_max);
                if (raw && body > raw_max)
                        return gv_err_set(err, -E2BIG,
                                          "str or bin of %" PRIu64
                                          " bytes at byte %zu of the message, over the limit of "
                                          "%zu",
                                          body, pos, raw_max);
                /* every object still to come takes at least one byte */
                for (size_t d = 0; d < fr->depth; d++)
                        rest += fr->left[d];
                if (rest > 0)
                        rest--; /* this object is one of them */
                if (hdr + body + items + rest > lim->message_max - pos)
                        return gv_err_set(err, -E2BIG,
                                          "%s at byte %zu of the message needs more than the "
                                          "limit of %zu bytes",
                                          raw         ? "str or bin"
                                          : container ? "array or map"
                                                      : "value",
                                          pos, lim->message_max);
                if (fr->objects + 1 + items + rest > lim->objects_max)
                        return gv_err_set(err, -E2BIG, "more than %zu objects in the message",
                                          lim->objects_max);
                if (body > len - pos - hdr)
                        return 0;

                /* the object is here: consume it */
                fr->pos = pos + hdr + body;
                fr->objects++;
                if (container && items > 0) {
                        if (fr->depth >= FRAME_DEPTH || fr->depth >= lim->depth_max)
                                return gv_err_set(err, -E2BIG,
                                                  "nesting deeper than %zu at byte %zu of the "
                                                  "message",
                                                  lim->depth_max, pos);
                        fr->left[fr->depth++] = items;
                        continue;
                }
                while (fr->depth > 0 && --fr->left[fr->depth - 1] == 0)
                        fr->depth--;
                if (fr->depth == 0)
                        return (ssize_t)fr->pos;
        }
}

/* ---- message types ---------------------------------------------------------------------- */

static const char *const msg_type_names[_CODEC_TYPE_MAX] = {
        [CODEC_ANY] = "any",           [CODEC_JOB] = "job",   [CODEC_VERDICT] = "verdict",
        [CODEC_PROGRESS] = "progress", [CODEC_AUTO] = "auto",
};

enum codec_type codec_type_from_name(const char *s)
{
        for (size_t i = 0; i < ARRAY_SIZE(msg_type_names); i++)
                if (!strcmp(s, msg_type_names[i]))
                        return (enum codec_type)i;
        return _CODEC_TYPE_INVALID;
}

const char *codec_type_name(enum codec_type type)
{
        return type >= 0 && type < _CODEC_TYPE_MAX ? msg_type_names[type] : NULL;
}

static const char *msgpack_type_name(msgpack_object_type type)
{
        switch (type) {
        case MSGPACK_OBJECT_NIL:
                return "nil";
        case MSGPACK_OBJECT_BOOLEAN:
                return "a bool";
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                return "an int";
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
                return "a float";
        case MSGPACK_OBJECT_STR:
                return "a str";
        case MSGPACK_OBJECT_BIN:
                return "a bin";
        case MSGPACK_OBJECT_ARRAY:
                return "an array";
        case MSGPACK_OBJECT_MAP:
                return "a map";
        case MSGPACK_OBJECT_EXT:
                return "an ext";
        }
        return "unknown";
}

static bool map_has_key(const msgpack_object *o, const char *key)
{
        size_t len = strlen(key);

        if (o->type != MSGPACK_OBJECT_MAP)
                return false;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
                const msgpack_object *k = &o->via.map.ptr[i].key;

                if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
                    !memcmp(k->via.str.ptr, key, len))
                        return true;
        }
        return false;
}

static enum codec_type guess_type(const msgpack_object *o)
{
        if (map_has_key(o, "verdict"))
                return CODEC_VERDICT;
        if (map_has_key(o, "stage"))
                return CODEC_PROGRESS;
        if (map_has_key(o, "lang"))
                return CODEC_JOB;
        return CODEC_ANY;
}

/* Runs the typed decoder of type on buf[0..len); returns 0 or its error. */
static int decode_typed(enum codec_type type, const void *buf, size_t len,
                        const struct schema_limits *lim, struct gv_err *err)
{
        struct job job;
        struct verdict verdict;
        struct progress progress;
        int r = 0;

        switch (type) {
        case CODEC_JOB:
                r = schema_job_decode(buf, len, lim, &job, err);
                if (r == 0)
                        job_done(&job);
                break;
        case CODEC_VERDICT:
                r = schema_verdict_decode(buf, len, lim, &verdict, err);
                if (r == 0)
                        verdict_done(&verdict);
                break;
        case CODEC_PROGRESS:
                r = schema_progress_decode(buf, len, lim, &progress, err);
                if (r == 0)
                        progress_done(&progress);
                break;
        case CODEC_ANY:
        case CODEC_AUTO:
        case _CODEC_TYPE_MAX:
        case _CODEC_TYPE_INVALID:
                break;
        }
        if (r < 0)
                return gv_err_prefix(err, r, "not a valid %s: ", msg_type_names[type]);
        return 0;
}

/* ---- msgpack to JSON ---------------------------------------------------------------------- */

int codec_to_json(enum codec_type type, const uint8_t *buf, size_t len,
                  const struct schema_limits *lim, msgpack_unpacked *unpacked, json_t **ret_json,
                  struct gv_err *err)
{
        size_t off = 0;
        int r;

        r = schema_check(buf, len, lim, err);
        if (r < 0)
                return r;
        if ((size_t)r != len)
                return gv_err_set(err, -EBADMSG, "schema_check took %d of the %zu bytes", r, len);
        if (msgpack_unpack_next(unpacked, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
            off != len)
                return gv_err_set(err, -EBADMSG, "msgpack-c cannot unpack it");
        if (unpacked->data.type != MSGPACK_OBJECT_MAP)
                return gv_err_set(err, -EBADMSG, "the root is %s; every gavel message is a map",
                                  msgpack_type_name(unpacked->data.type));
        if (type == CODEC_AUTO)
                type = guess_type(&unpacked->data);
        r = decode_typed(type, buf, len, lim, err);
        if (r < 0)
                return r;
        return json_from_msgpack(&unpacked->data, ret_json, err);
}

/* ---- JSON to msgpack: reading the JSON description -------------------------------------- */

struct encode {
        int dirfd; /* where relative paths in *_file keys start */
        struct schema_limits lim;
        size_t tests_bytes; /* inline test data so far, in + out of all tests */
};

/* "<key>: unknown key" for the first key of obj that is not in names[0..n). */
static int check_keys(const json_t *obj, const char *const *names, size_t n, struct gv_err *err)
{
        const char *key;
        json_t *val;

        json_object_foreach((json_t *)obj, key, val)
        {
                size_t i;

                for (i = 0; i < n; i++)
                        if (!strcmp(key, names[i]))
                                break;
                if (i == n)
                        return gv_err_set(err, -EINVAL, "%s: unknown key", key);
        }
        return 0;
}

static int want_object(const json_t *val, const char *key, struct gv_err *err)
{
        if (!json_is_object(val))
                return gv_err_set(err, -EINVAL, "%s: expected an object", key);
        return 0;
}

/* A string without NUL bytes; NULL when absent and not required. */
static int get_str(const json_t *obj, const char *key, bool required, char **ret,
                   struct gv_err *err)
{
        const json_t *val = json_object_get(obj, key);

        if (!val) {
                if (required)
                        return gv_err_set(err, -EINVAL, "%s: missing", key);
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(val))
                return gv_err_set(err, -EINVAL, "%s: expected a string", key);
        if (strlen(json_string_value(val)) != json_string_length(val))
                return gv_err_set(err, -EINVAL, "%s: contains a NUL byte", key);
        *ret = xstrdup(json_string_value(val));
        return 0;
}

/* An integer in min..max; *ret is left alone when the key is absent. */
static int get_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *ret,
                   struct gv_err *err)
{
        const json_t *val = json_object_get(obj, key);

        if (!val)
                return 0;
        if (!json_is_integer(val) || json_integer_value(val) < min || json_integer_value(val) > max)
                return gv_err_set(err, -EINVAL, "%s: expected an integer in %" PRId64 "..%" PRId64,
                                  key, min, max);
        *ret = json_integer_value(val);
        return 0;
}

static int get_u32(const json_t *obj, const char *key, uint32_t *ret, struct gv_err *err)
{
        int64_t v = *ret;
        int r = get_int(obj, key, 0, UINT32_MAX, &v, err);

        if (r == 0)
                *ret = (uint32_t)v;
        return r;
}

static int get_u64(const json_t *obj, const char *key, uint64_t *ret, struct gv_err *err)
{
        int64_t v = (int64_t)*ret;
        int r = get_int(obj, key, 0, INT64_MAX, &v, err);

        if (r == 0)
                *ret = (uint64_t)v;
        return r;
}

static int get_i32(const json_t *obj, const char *key, int32_t *ret, struct gv_err *err)
{
        int64_t v = *ret;
        int r = get_int(obj, key, INT32_MIN, INT32_MAX, &v, err);

        if (r == 0)
                *ret = (int32_t)v;
        return r;
}

static int get_number(const json_t *obj, const char *key, double *ret, bool *ret_present,
                      struct gv_err *err)
{
        const json_t *val = json_object_get(obj, key);

        if (ret_present)
                *ret_present = val != NULL;
        if (!val)
                return 0;
        if (!json_is_number(val))
                return gv_err_set(err, -EINVAL, "%s: expected a number", key);
        *ret = json_number_value(val);
        return 0;
}

static int get_bool(const json_t *obj, const char *key, bool *ret, struct gv_err *err)
{
        const json_t *val = json_object_get(obj, key);

        if (!val)
                return 0;
        if (!json_is_boolean(val))
                return gv_err_set(err, -EINVAL, "%s: expected true or false", key);
        *ret = json_is_true(val);
        return 0;
}

/* An enum given by name: names(i) for each i < n. */
static int get_name(const json_t *obj, const char *key, bool required, const char *(*name)(int i),
                    int n, int *ret, struct gv_err *err)
{
        const json_t *val = json_object_get(obj, key);
        char list[160] = "";
        size_t len = 0;

        if (!val) {
                if (required)
                        return gv_err_set(err, -EINVAL, "%s: missing", key);
                return 0;
        }
        if (json_is_string(val))
                for (int i = 0; i < n; i++)
                        if (!strcmp(json_string_value(val), name(i))) {
                                *ret = i;
                                return 0;
                        }
        for (int i = 0; i < n && len < sizeof(list); i++)
                len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
                                        name(i));
        return gv_err_set(err, -EINVAL, "%s: expected one of %s", key, list);
}

/* Reads path (relative to dirfd) whole, refusing more than max bytes. */
static int read_file(int dirfd, const char *path, size_t max, uint8_t **ret_buf, size_t *ret_len,
                     struct gv_err *err)
{
        cleanup_fd int fd = -1;
        cleanup_free uint8_t *buf = NULL;
        size_t len = 0, cap = 4096;
        struct stat st;
        ssize_t n;

        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return gv_err_errno(err, -errno, "cannot open '%s'", path);
        if (fstat(fd, &st) < 0)
                return gv_err_errno(err, -errno, "cannot stat '%s'", path);
        if (S_ISDIR(st.st_mode))
                return gv_err_errno(err, -EISDIR, "cannot read '%s'", path);
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max)
                return gv_err_set(err, -E2BIG, "'%s' has %jd bytes, over the limit of %zu", path,
                                  (intmax_t)st.st_size, max);
        buf = xmalloc(cap + 1);
        for (;;) {
                if (len == cap) {
                        uint8_t *p;

                        if (cap > max)
                                return gv_err_set(err, -E2BIG,
                                                  "'%s' has more than the limit of %zu bytes", path,
                                                  max);
                        cap *= 2;
                        p = realloc(buf, cap + 1);
                        if (!p)
                                return gv_err_set(err, -ENOMEM, "out of memory");
                        buf = p;
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return gv_err_errno(err, -errno, "cannot read '%s'", path);
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (len > max)
                return gv_err_set(err, -E2BIG, "'%s' has %zu bytes, over the limit of %zu", path,
                                  len, max);
        buf[len] = '\0';
        *ret_buf = steal_pointer(&buf);
        *ret_len = len;
        return 0;
}

/*
 * Bytes given inline under key (a string or {"base64": ...}) or read from the file named under
 * file_key; exactly one of the two. At most max bytes: what, with its limit, names the bound in
 * the error ("the source", the limit of 262144 bytes).
 */
static int get_bytes(const struct encode *enc, const json_t *obj, const char *key,
                     const char *file_key, size_t max, const char *what, size_t limit,
                     uint8_t **ret_buf, size_t *ret_len, struct gv_err *err)
{
        const json_t *val = json_object_get(obj, key), *file = json_object_get(obj, file_key);
        const char *path;
        int r;

        if (val && file)
                return gv_err_set(err, -EINVAL, "%s: cannot be given together with %s", file_key,
                                  key);
        if (!val && !file)
                return gv_err_set(err, -EINVAL, "%s: missing (or %s)", key, file_key);
        if (file) {
                path = json_string_value(file);
                if (!path || strlen(path) != json_string_length(file))
                        return gv_err_set(err, -EINVAL, "%s: expected a path", file_key);
                r = read_file(enc->dirfd, path, max, ret_buf, ret_len, err);
                if (r == -E2BIG)
                        return gv_err_set(err, r, "%s: '%s' takes %s over the limit of %zu bytes",
                                          file_key, path, what, limit);
                if (r < 0)
                        return gv_err_prefix(err, r, "%s: ", file_key);
                return 0;
        }
        r = json_get_bytes(val, ret_buf, ret_len, err);
        if (r < 0)
                return gv_err_prefix(err, r, "%s: ", key);
        if (*ret_len > max) {
                free(steal_pointer(ret_buf));
                return gv_err_set(err, -E2BIG, "%s: takes %s over the limit of %zu bytes", key,
                                  what, limit);
        }
        return 0;
}

/* "meta": any JSON value, packed as msgpack into a new buffer. */
static int get_meta(const struct encode *enc, const json_t *obj, uint8_t **ret_buf, size_t *ret_len,
                    struct gv_err *err)
{
        const json_t *val = json_object_get(obj, "meta");
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        int r;

        if (!val)
                return 0;
        msgpack_sbuffer_init(&sbuf);
        msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
        /* meta sits one level below the message's root map */
        r = json_to_msgpack(val, &pk, enc->lim.depth_max - 1, err);
        if (r < 0) {
                msgpack_sbuffer_destroy(&sbuf);
                return gv_err_prefix(err, r, "meta");
        }
        *ret_buf = xmemdup(sbuf.data, sbuf.size);
        *ret_len = sbuf.size;
        msgpack_sbuffer_destroy(&sbuf);
        return 0;
}

static int get_version(const json_t *obj, uint32_t *ret_v, struct gv_err *err)
{
        int64_t v = SCHEMA_VERSION;
        int r = get_int(obj, "v", 1, SCHEMA_VERSION, &v, err);

        if (r < 0)
                return gv_err_set(err, -EINVAL, "v: expected an integer in 1..%d", SCHEMA_VERSION);
        *ret_v = (uint32_t)v;
        return 0;
}

/* "attempt": 1 for a first judging, so 0 is refused rather than dropped */
static int get_attempt(const json_t *obj, uint32_t *ret, struct gv_err *err)
{
        int64_t v = *ret;
        int r = get_int(obj, "attempt", 1, UINT32_MAX, &v, err);

        if (r == 0)
                *ret = (uint32_t)v;
        return r;
}

static const char *checker_name(int i)
{
        return schema_checker_name((enum schema_checker)i);
}

static int job_checker(const json_t *obj, struct job *job, struct gv_err *err)
{
        static const char *const keys[] = {"name", "eps"};
        const json_t *val = json_object_get(obj, "checker");
        int i = 0, r;

        if (!val)
                return 0;
        if (json_is_string(val))
                r = get_name(obj, "checker", true, checker_name, _SCHEMA_CHECKER_MAX, &i, err);
        else if (json_is_object(val)) {
                r = check_keys(val, keys, ARRAY_SIZE(keys), err);
                if (r == 0)
                        r = get_name(val, "name", true, checker_name, _SCHEMA_CHECKER_MAX, &i, err);
                if (r == 0)
                        r = get_number(val, "eps", &job->checker_eps, NULL, err);
                if (r == 0 && job->checker_eps < 0)
                        r = gv_err_set(err, -EINVAL, "eps: expected a number >= 0");
                if (r < 0)
                        return gv_err_prefix(err, r, "checker.");
        } else
                return gv_err_set(err, -EINVAL,
                                  "checker: expected a name or {\"name\": ..., \"eps\": ...}");
        if (r < 0)
                return r;
        job->checker = (enum schema_checker)i;
        return 0;
}

static int job_limits(const json_t *obj, struct job_limits *limits, struct gv_err *err)
{
        static const char *const keys[] = {"time_ms", "wall_ms", "memory_kib", "output_kib"};
        const json_t *val = json_object_get(obj, "limits");
        int r;

        if (!val)
                return 0;
        r = want_object(val, "limits", err);
        if (r < 0)
                return r;
        r = check_keys(val, keys, ARRAY_SIZE(keys), err);
        if (r == 0)
                r = get_u32(val, "time_ms", &limits->time_ms, err);
        if (r == 0)
                r = get_u32(val, "wall_ms", &limits->wall_ms, err);
        if (r == 0)
                r = get_u64(val, "memory_kib", &limits->memory_kib, err);
        if (r == 0)
                r = get_u64(val, "output_kib", &limits->output_kib, err);
        return r < 0 ? gv_err_prefix(err, r, "limits.") : 0;
}

static int job_test(struct encode *enc, const json_t *val, struct job_test *test,
                    struct gv_err *err)
{
        static const char *const keys[] = {"in", "in_file", "out", "out_file", "points"};
        static const char what[] = "the inline test data (in and out of all tests)";
        int r;

        r = check_keys(val, keys, ARRAY_SIZE(keys), err);
        if (r < 0)
                return r;
        r = get_bytes(enc, val, "in", "in_file", enc->lim.tests_max - enc->tests_bytes, what,
                      enc->lim.tests_max, &test->in, &test->in_len, err);
        if (r < 0)
                return r;
        enc->tests_bytes += test->in_len;
        r = get_bytes(enc, val, "out", "out_file", enc->lim.tests_max - enc->tests_bytes, what,
                      enc->lim.tests_max, &test->out, &test->out_len, err);
        if (r < 0)
                return r;
        enc->tests_bytes += test->out_len;
        return get_number(val, "points", &test->points, &test->has_points, err);
}

static int job_tests(struct encode *enc, const json_t *obj, struct job *job, struct gv_err *err)
{
        const json_t *val = json_object_get(obj, "tests");
        size_t i;
        int r;

        if (!json_is_array(val) || json_array_size(val) == 0)
                return gv_err_set(err, -EINVAL, "tests: expected an array of at least one test");
        if (json_array_size(val) > enc->lim.array_max)
                return gv_err_set(err, -E2BIG, "tests: %zu tests, over the limit of %zu",
                                  json_array_size(val), enc->lim.array_max);
        job->tests = xcalloc(json_array_size(val), sizeof(*job->tests));
        job->n_tests = json_array_size(val);
        for (i = 0; i < job->n_tests; i++) {
                const json_t *test = json_array_get(val, i);

                if (!json_is_object(test))
                        return gv_err_set(err, -EINVAL, "tests[%zu]: expected an object", i);
                r = job_test(enc, test, &job->tests[i], err);
                if (r < 0)
                        return gv_err_prefix(err, r, "tests[%zu].", i);
        }
        return 0;
}

static int job_from_json(struct encode *enc, const json_t *obj, struct job *job, struct gv_err *err)
{
        static const char *const keys[] = {
                "v",       "id",      "lang",    "source",  "source_file",
                "problem", "tests",   "limits",  "checker", "stop_on_failure",
                "meta",    "attempt", "rejudge",
        };
        int r;

        job->attempt = 1;
        r = check_keys(obj, keys, ARRAY_SIZE(keys), err);
        if (r == 0)
                r = get_version(obj, &job->v, err);
        if (r == 0)
                r = get_str(obj, "id", true, &job->id, err);
        if (r == 0)
                r = get_str(obj, "lang", true, &job->lang, err);
        if (r == 0)
                r = get_bytes(enc, obj, "source", "source_file", enc->lim.source_max, "the source",
                              enc->lim.source_max, &job->source, &job->source_len, err);
        if (r < 0)
                return r;
        if (json_object_get(obj, "problem") && json_object_get(obj, "tests"))
                return gv_err_set(err, -EINVAL, "tests: cannot be given together with problem");
        if (!json_object_get(obj, "problem") && !json_object_get(obj, "tests"))
                return gv_err_set(err, -EINVAL, "problem: missing (or tests)");
        if (json_object_get(obj, "problem"))
                r = get_str(obj, "problem", true, &job->problem, err);
        else
                r = job_tests(enc, obj, job, err);
        if (r == 0)
                r = job_limits(obj, &job->limits, err);
        if (r == 0)
                r = job_checker(obj, job, err);
        if (r == 0)
                r = get_bool(obj, "stop_on_failure", &job->stop_on_failure, err);
        if (r == 0)
                r = get_meta(enc, obj, &job->meta, &job->meta_len, err);
        if (r == 0)
                r = get_attempt(obj, &job->attempt, err);
        if (r == 0)
                r = get_bool(obj, "rejudge", &job->rejudge, err);
        return r;
}

static const char *code_name(int i)
{
        return schema_code_name((enum schema_code)i);
}

static const char *stage_name(int i)
{
        return schema_stage_name((enum schema_stage)i);
}

static int verdict_compile(const json_t *obj, struct verdict_compile *compile, struct gv_err *err)
{
        static const char *const keys[] = {"ok", "log", "time_ms", "memory_kib", "cached"};
        const json_t *val = json_object_get(obj, "compile");
        int r;

        if (!val)
                return 0;
        r = want_object(val, "compile", err);
        if (r < 0)
                return r;
        compile->present = true;
        r = check_keys(val, keys, ARRAY_SIZE(keys), err);
        if (r == 0)
                r = get_bool(val, "ok", &compile->ok, err);
        if (r == 0)
                r = get_str(val, "log", false, &compile->log, err);
        if (r == 0)
                r = get_u32(val, "time_ms", &compile->time_ms, err);
        if (r == 0)
                r = get_u64(val, "memory_kib", &compile->memory_kib, err);
        if (r == 0)
                r = get_bool(val, "cached", &compile->cached, err);
        return r < 0 ? gv_err_prefix(err, r, "compile.") : 0;
}

static int verdict_test(const json_t *val, struct verdict_test *test, struct gv_err *err)
{
        static const char *const keys[] = {"verdict",   "time_ms", "wall_ms",        "memory_kib",
                                           "exit_code", "signal",  "checker_message"};
        int code = 0, r;

        r = check_keys(val, keys, ARRAY_SIZE(keys), err);
        if (r == 0)
                r = get_name(val, "verdict", true, code_name, _SCHEMA_CODE_MAX, &code, err);
        if (r == 0)
                r = get_u32(val, "time_ms", &test->time_ms, err);
        if (r == 0)
                r = get_u32(val, "wall_ms", &test->wall_ms, err);
        if (r == 0)
                r = get_u64(val, "memory_kib", &test->memory_kib, err);
        if (r == 0)
                r = get_i32(val, "exit_code", &test->exit_code, err);
        if (r == 0)
                r = get_i32(val, "signal", &test->signal, err);
        if (r == 0)
                r = get_str(val, "checker_message", false, &test->checker_message, err);
        test->verdict = (enum schema_code)code;
        return r;
}

static int verdict_from_json(struct encode *enc, const json_t *obj, struct verdict *verdict,
                             struct gv_err *err)
{
        static const char *const keys[] = {
                "v",         "id",      "verdict", "reason",      "score",
                "max_score", "compile", "tests",   "time_ms",     "memory_kib",
                "meta",      "worker",  "attempt", "received_ms", "finished_ms",
        };
        const json_t *tests = json_object_get(obj, "tests");
        int code = 0, r;

        verdict->attempt = 1;
        r = check_keys(obj, keys, ARRAY_SIZE(keys), err);
        if (r == 0)
                r = get_version(obj, &verdict->v, err);
        if (r == 0)
                r = get_str(obj, "id", true, &verdict->id, err);
        if (r == 0)
                r = get_name(obj, "verdict", true, code_name, _SCHEMA_CODE_MAX, &code, err);
        verdict->verdict = (enum schema_code)code;
        if (r == 0)
                r = get_str(obj, "reason", false, &verdict->reason, err);
        if (r == 0)
                r = get_number(obj, "score", &verdict->score, NULL, err);
        if (r == 0)
                r = get_number(obj, "max_score", &verdict->max_score, NULL, err);
        if (r == 0)
                r = verdict_compile(obj, &verdict->compile, err);
        if (r == 0 && tests) {
                if (!json_is_array(tests) || json_array_size(tests) > enc->lim.array_max)
                        return gv_err_set(err, -EINVAL, "tests: expected an array of at most %zu",
                                          enc->lim.array_max);
                verdict->tests = xcalloc(json_array_size(tests), sizeof(*verdict->tests));
                verdict->n_tests = json_array_size(tests);
                for (size_t i = 0; i < verdict->n_tests && r == 0; i++) {
                        const json_t *test = json_array_get(tests, i);

                        if (!json_is_object(test))
                                return gv_err_set(err, -EINVAL, "tests[%zu]: expected an object",
                                                  i);
                        r = verdict_test(test, &verdict->tests[i], err);
                        if (r < 0)
                                return gv_err_prefix(err, r, "tests[%zu].", i);
                }
        }
        if (r == 0)
                r = get_u32(obj, "time_ms", &verdict->time_ms, err);
        if (r == 0)
                r = get_u64(obj, "memory_kib", &verdict->memory_kib, err);
        if (r == 0)
                r = get_meta(enc, obj, &verdict->meta, &verdict->meta_len, err);
        if (r == 0)
                r = get_str(obj, "worker", false, &verdict->worker, err);
        if (r == 0)
                r = get_attempt(obj, &verdict->attempt, err);
        if (r == 0)
                r = get_int(obj, "received_ms", 0, INT64_MAX, &verdict->received_ms, err);
        if (r == 0)
                r = get_int(obj, "finished_ms", 0, INT64_MAX, &verdict->finished_ms, err);
        return r;
}

static int progress_from_json(const json_t *obj, struct progress *progress, struct gv_err *err)
{
        static const char *const keys[] = {"v", "id", "stage", "test", "of", "worker", "ts_ms"};
        int stage = 0, r;

        r = check_keys(obj, keys, ARRAY_SIZE(keys), err);
        if (r == 0)
                r = get_version(obj, &progress->v, err);
        if (r == 0)
                r = get_str(obj, "id", true, &progress->id, err);
        if (r == 0)
                r = get_name(obj, "stage", true, stage_name, _SCHEMA_STAGE_MAX, &stage, err);
        progress->stage = (enum schema_stage)stage;
        if (r == 0)
                r = get_u32(obj, "test", &progress->test, err);
        if (r == 0)
                r = get_u32(obj, "of", &progress->of, err);
        if (r == 0)
                r = get_str(obj, "worker", false, &progress->worker, err);
        if (r == 0)
                r = get_int(obj, "ts_ms", 0, INT64_MAX, &progress->ts_ms, err);
        return r;
}

/* ---- JSON to msgpack ---------------------------------------------------------------------- */

int codec_from_json(enum codec_type type, const json_t *obj, int dirfd, void **ret_buf,
                    size_t *ret_len, struct gv_err *err)
{
        struct encode real_enc = {.dirfd = dirfd}, *enc = &real_enc;
        cleanup_free void *buf = NULL;
        struct job job = {0};
        struct verdict verdict = {0};
        struct progress progress = {0};
        size_t len = 0;
        int r = -EINVAL;

        schema_limits_default(&enc->lim);

        switch (type) {
        case CODEC_JOB:
                r = job_from_json(enc, obj, &job, err);
                if (r == 0 && (r = schema_job_encode(&job, &buf, &len)) < 0)
                        gv_err_errno(err, r, "cannot encode the job");
                job_done(&job);
                break;
        case CODEC_VERDICT:
                r = verdict_from_json(enc, obj, &verdict, err);
                if (r == 0 && (r = schema_verdict_encode(&verdict, &buf, &len)) < 0)
                        gv_err_errno(err, r, "cannot encode the verdict");
                verdict_done(&verdict);
                break;
        case CODEC_PROGRESS:
                r = progress_from_json(obj, &progress, err);
                if (r == 0 && (r = schema_progress_encode(&progress, &buf, &len)) < 0)
                        gv_err_errno(err, r, "cannot encode the progress event");
                progress_done(&progress);
                break;
        case CODEC_ANY:
        case CODEC_AUTO:
        case _CODEC_TYPE_MAX:
        case _CODEC_TYPE_INVALID:
                break;
        }
        if (r < 0)
                return r;
        /* the decoder's error names the key path, which is the JSON's path too */
        r = decode_typed(type, buf, len, &enc->lim, err);
        if (r < 0)
                return r;
        *ret_buf = steal_pointer(&buf);
        *ret_len = len;
        return 0;
}
