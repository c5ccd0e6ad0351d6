/* SPDX-License-Identifier: MIT */
/*
 * gavel decode and gavel encode: the operator's view of the wire. decode frames a msgpack stream
 * as it arrives (a kcat pipe never ends), checks each message with schema_check and prints it as
 * one JSON line; encode turns a JSON job (or verdict, progress) into msgpack and decodes the
 * result again as a worker would, so it never emits a message a worker rejects as malformed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schema/cleanup.h"
#include "schema/schema.h"
#include "worker/cmd.h"
#include "worker/util/json.h"

#define READ_CHUNK (64 * 1024)

/* ---- framing: where one message ends in a stream ---------------------------------------- */

#define FRAME_DEPTH 64 /* open containers the framer tracks; schema_check's bound is lower */

/*
 * A resumable walk over msgpack headers that finds the end of the first object in a growing
 * buffer. Unlike schema_check it tells "need more bytes" apart from "malformed", and resumes
 * where it stopped, so a large message arriving in pieces costs O(n). It enforces the bounds
 * that must fail before the bytes arrive (a str or array claiming more than message_max);
 * schema_check remains the judge of a complete message.
 */
struct frame {
        size_t pos;                 /* bytes of the message walked so far */
        size_t depth;               /* open containers */
        uint64_t left[FRAME_DEPTH]; /* objects still to come in each open container */
        uint64_t objects;           /* objects walked */
};

static void frame_reset(struct frame *fr)
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
static ssize_t frame_next(struct frame *fr, const uint8_t *buf, size_t len,
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

/* ---- gavel decode ----------------------------------------------------------------------- */

enum msg_type {
        MSG_ANY, /* generic: schema_check only */
        MSG_JOB,
        MSG_VERDICT,
        MSG_PROGRESS,
        MSG_AUTO, /* guess from the keys; generic when nothing fits */
        _MSG_TYPE_MAX,
        _MSG_TYPE_INVALID = -EINVAL,
};

static const char *const msg_type_names[_MSG_TYPE_MAX] = {
        [MSG_ANY] = "any",           [MSG_JOB] = "job",   [MSG_VERDICT] = "verdict",
        [MSG_PROGRESS] = "progress", [MSG_AUTO] = "auto",
};

static enum msg_type msg_type_from_name(const char *s)
{
        for (size_t i = 0; i < ARRAY_SIZE(msg_type_names); i++)
                if (!strcmp(s, msg_type_names[i]))
                        return (enum msg_type)i;
        return _MSG_TYPE_INVALID;
}

struct decode {
        enum msg_type type;
        size_t dump_flags;
        struct schema_limits lim;
        msgpack_unpacked unpacked;
        uint64_t n_messages; /* messages printed */
        uint64_t offset;     /* stream offset of the message being read */
};

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

static enum msg_type guess_type(const msgpack_object *o)
{
        if (map_has_key(o, "verdict"))
                return MSG_VERDICT;
        if (map_has_key(o, "stage"))
                return MSG_PROGRESS;
        if (map_has_key(o, "lang"))
                return MSG_JOB;
        return MSG_ANY;
}

/* Runs the typed decoder of type on buf[0..len); returns 0 or its error. */
static int decode_typed(enum msg_type type, const void *buf, size_t len,
                        const struct schema_limits *lim, struct gv_err *err)
{
        struct job job;
        struct verdict verdict;
        struct progress progress;
        int r = 0;

        switch (type) {
        case MSG_JOB:
                r = schema_job_decode(buf, len, lim, &job, err);
                if (r == 0)
                        job_done(&job);
                break;
        case MSG_VERDICT:
                r = schema_verdict_decode(buf, len, lim, &verdict, err);
                if (r == 0)
                        verdict_done(&verdict);
                break;
        case MSG_PROGRESS:
                r = schema_progress_decode(buf, len, lim, &progress, err);
                if (r == 0)
                        progress_done(&progress);
                break;
        case MSG_ANY:
        case MSG_AUTO:
        case _MSG_TYPE_MAX:
        case _MSG_TYPE_INVALID:
                break;
        }
        if (r < 0)
                return gv_err_prefix(err, r, "not a valid %s: ", msg_type_names[type]);
        return 0;
}

/*
 * Checks, converts and prints the complete message buf[0..len). Returns 0, -EBADMSG / -E2BIG
 * for a bad message (err set), or another -errno for a failure of our own (err set).
 */
static int decode_message(struct decode *dec, const uint8_t *buf, size_t len, struct gv_err *err)
{
        enum msg_type type = dec->type;
        json_t *json = NULL;
        char *text;
        size_t off = 0;
        int r;

        r = schema_check(buf, len, &dec->lim, err);
        if (r < 0)
                return r;
        if ((size_t)r != len)
                return gv_err_set(err, -EBADMSG, "schema_check took %d of the %zu bytes", r, len);
        if (msgpack_unpack_next(&dec->unpacked, (const char *)buf, len, &off) !=
                    MSGPACK_UNPACK_SUCCESS ||
            off != len)
                return gv_err_set(err, -EBADMSG, "msgpack-c cannot unpack it");
        if (dec->unpacked.data.type != MSGPACK_OBJECT_MAP)
                return gv_err_set(err, -EBADMSG, "the root is %s; every gavel message is a map",
                                  msgpack_type_name(dec->unpacked.data.type));
        if (type == MSG_AUTO)
                type = guess_type(&dec->unpacked.data);
        r = decode_typed(type, buf, len, &dec->lim, err);
        if (r < 0)
                return r;
        r = json_from_msgpack(&dec->unpacked.data, &json, err);
        if (r < 0)
                return r;
        text = json_dumps_exact(json, dec->dump_flags);
        json_decref(json);
        if (!text)
                return gv_err_set(err, -ENOMEM, "out of memory");
        r = fputs(text, stdout) < 0 || putchar('\n') < 0 || fflush(stdout) != 0 ? -errno : 0;
        free(text);
        if (r < 0)
                return gv_err_errno(err, r, "cannot write to stdout");
        dec->n_messages++;
        return 0;
}

static void decode_usage(FILE *f)
{
        fprintf(f,
                "usage: gavel decode [--type job|verdict|progress|auto] [--pretty]\n"
                "\n"
                "Reads msgpack messages on stdin, one or a stream of them back to back, and\n"
                "prints each as one line of JSON as soon as it is complete. A newline byte\n"
                "between messages (kcat's default delimiter) is skipped.\n"
                "\n"
                "  -t, --type TYPE  also decode each message as a job, verdict or progress\n"
                "                   (auto: guess from its keys; any, the default: check only\n"
                "                   the bounds) and stop at the first one that is invalid\n"
                "  -p, --pretty     indent the JSON\n"
                "  -h, --help       show this help\n"
                "\n"
                "bin shows as {\"base64\": \"...\"}, except source, in and out, which show as\n"
                "text when they are UTF-8. Invalid UTF-8 in a str shows as U+FFFD.\n"
                "\n"
                "Exit status: 0 every message printed; 2 bad input: one line on stderr names the\n"
                "message, its byte offset in the stream and what is wrong; 3 a system error.\n"
                "\n"
                "  kcat -C -b BROKER -t gavel.verdicts -u -f '%%s' | gavel decode\n");
}

static int decode_fail(const struct decode *dec, const struct gv_err *err, int code)
{
        fprintf(stderr, "gavel decode: message %" PRIu64 " at byte %" PRIu64 ": %s\n",
                dec->n_messages + 1, dec->offset, err->msg);
        return code == -EBADMSG || code == -E2BIG ? EXIT_USAGE : EXIT_FAILURE_SYSTEM;
}

/* Reads stdin to its end, printing each message once it is complete; returns the exit status. */
static int decode_stream(struct decode *dec)
{
        cleanup_free uint8_t *buf = NULL;
        size_t cap = READ_CHUNK, start = 0, end = 0;
        struct gv_err err = {0};
        struct frame fr;
        bool eof = false;
        ssize_t n;

        buf = xmalloc(cap);
        frame_reset(&fr);
        for (;;) {
                while (start < end) {
                        if (fr.pos == 0 && buf[start] == '\n') { /* kcat's delimiter */
                                start++;
                                dec->offset++;
                                continue;
                        }
                        n = frame_next(&fr, buf + start, end - start, &dec->lim, &err);
                        if (n < 0)
                                return decode_fail(dec, &err, (int)n);
                        if (n == 0)
                                break;
                        n = decode_message(dec, buf + start, (size_t)n, &err);
                        if (n < 0)
                                return decode_fail(dec, &err, (int)n);
                        start += fr.pos;
                        dec->offset += fr.pos;
                        frame_reset(&fr);
                }
                if (eof) {
                        if (start == end)
                                return 0;
                        gv_err_set(&err, -EBADMSG,
                                   "truncated: the input ends %zu bytes into the message",
                                   end - start);
                        return decode_fail(dec, &err, -EBADMSG);
                }
                if (start > 0) { /* keep only the message being read, at the front */
                        memmove(buf, buf + start, end - start);
                        end -= start;
                        start = 0;
                }
                if (cap - end < READ_CHUNK / 4) {
                        uint8_t *p;

                        cap *= 2; /* the framer bounds what stays to message_max */
                        p = realloc(buf, cap);
                        if (!p) {
                                gv_err_set(&err, -ENOMEM, "out of memory");
                                return decode_fail(dec, &err, -ENOMEM);
                        }
                        buf = p;
                }
                n = read(STDIN_FILENO, buf + end, cap - end);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        gv_err_errno(&err, -errno, "cannot read stdin");
                        return decode_fail(dec, &err, err.code);
                }
                if (n == 0)
                        eof = true;
                end += (size_t)n;
        }
}

int cmd_decode(int argc, char **argv)
{
        static const struct option options[] = {
                {"type", required_argument, NULL, 't'},
                {"pretty", no_argument, NULL, 'p'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        struct decode dec = {.type = MSG_ANY, .dump_flags = JSON_COMPACT};
        int c, status;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+t:ph", options, NULL)) != -1) {
                switch (c) {
                case 't':
                        dec.type = msg_type_from_name(optarg);
                        if (dec.type < 0) {
                                fprintf(stderr,
                                        "gavel decode: --type: unknown type '%s' (job, verdict, "
                                        "progress, auto, any)\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'p':
                        dec.dump_flags = JSON_INDENT(2);
                        break;
                case 'h':
                        decode_usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "gavel decode: unknown option or missing value: '%s'\n",
                                argv[optind - 1]);
                        decode_usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "gavel decode: unexpected argument '%s' (input comes on stdin)\n",
                        argv[optind]);
                return EXIT_USAGE;
        }
        schema_limits_default(&dec.lim);
        msgpack_unpacked_init(&dec.unpacked);
        status = decode_stream(&dec);
        msgpack_unpacked_destroy(&dec.unpacked);
        return status;
}

/* ---- gavel encode: reading the JSON description ----------------------------------------- */

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

/* ---- gavel encode ----------------------------------------------------------------------- */

/*
 * Builds the message of type from obj, encodes it and decodes the bytes again with the decoder
 * a worker uses. On success hands out the encoded bytes.
 */
static int encode_message(struct encode *enc, enum msg_type type, const json_t *obj, void **ret_buf,
                          size_t *ret_len, struct gv_err *err)
{
        cleanup_free void *buf = NULL;
        struct job job = {0};
        struct verdict verdict = {0};
        struct progress progress = {0};
        size_t len = 0;
        int r = -EINVAL;

        switch (type) {
        case MSG_JOB:
                r = job_from_json(enc, obj, &job, err);
                if (r == 0 && (r = schema_job_encode(&job, &buf, &len)) < 0)
                        gv_err_errno(err, r, "cannot encode the job");
                job_done(&job);
                break;
        case MSG_VERDICT:
                r = verdict_from_json(enc, obj, &verdict, err);
                if (r == 0 && (r = schema_verdict_encode(&verdict, &buf, &len)) < 0)
                        gv_err_errno(err, r, "cannot encode the verdict");
                verdict_done(&verdict);
                break;
        case MSG_PROGRESS:
                r = progress_from_json(obj, &progress, err);
                if (r == 0 && (r = schema_progress_encode(&progress, &buf, &len)) < 0)
                        gv_err_errno(err, r, "cannot encode the progress event");
                progress_done(&progress);
                break;
        case MSG_ANY:
        case MSG_AUTO:
        case _MSG_TYPE_MAX:
        case _MSG_TYPE_INVALID:
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

static void encode_usage(FILE *f)
{
        fprintf(f,
                "usage: gavel encode job [--in FILE]\n"
                "       gavel encode verdict|progress [--in FILE]\n"
                "\n"
                "Reads a JSON description on stdin (or FILE) and writes the msgpack message to\n"
                "stdout, after decoding it again exactly as a worker would. Unknown keys are\n"
                "refused (a typo would otherwise be dropped).\n"
                "\n"
                "  -i, --in FILE  read FILE instead of stdin; relative paths in source_file,\n"
                "                 in_file and out_file start at FILE's directory (else at the\n"
                "                 current directory)\n"
                "  -h, --help     show this help\n"
                "\n"
                "A job: {\"id\": \"42\", \"lang\": \"cpp\", \"source_file\": \"a.cpp\",\n"
                "        \"tests\": [{\"in\": \"1 2\\n\", \"out\": \"3\\n\"}, {\"in_file\": "
                "\"2.in\",\n"
                "        \"out_file\": \"2.out\", \"points\": 2}],\n"
                "        \"limits\": {\"time_ms\": 1000, \"memory_kib\": 262144},\n"
                "        \"checker\": {\"name\": \"float\", \"eps\": 1e-6}, \"meta\": {\"any\": "
                "1}}\n"
                "with \"problem\": \"aplusb\" instead of tests for a problem in the worker's\n"
                "store; bytes as a string or {\"base64\": \"...\"}. schema/README.md has every "
                "field.\n"
                "\n"
                "Exit status: 0 written; 2 invalid input: one line on stderr names the key path\n"
                "(tests[2].out_file: cannot open '2.out': No such file or directory).\n"
                "\n"
                "  gavel encode job --in job.json > job.msgpack\n"
                "  kcat -P -b BROKER -t gavel.jobs -k 42 job.msgpack  # a file is one message\n");
}

static int write_all(int fd, const void *buf, size_t len)
{
        const uint8_t *p = buf;
        ssize_t n;

        while (len > 0) {
                n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static json_t *load_json(const char *path, struct gv_err *err)
{
        const size_t flags = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
        json_error_t jerr;
        json_t *json;
        FILE *f = stdin;

        if (path) {
                f = fopen(path, "re");
                if (!f) {
                        gv_err_errno(err, -errno, "--in: cannot open '%s'", path);
                        return NULL;
                }
        }
        json = json_loadf(f, flags, &jerr);
        if (path)
                fclose(f);
        if (!json)
                gv_err_set(err, -EINVAL, "%s:%d:%d: %s", path ? path : "stdin", jerr.line,
                           jerr.column, jerr.text);
        else if (!json_is_object(json)) {
                gv_err_set(err, -EINVAL, "%s: expected a JSON object", path ? path : "stdin");
                json_decref(steal_pointer(&json));
        }
        return json;
}

int cmd_encode(int argc, char **argv)
{
        static const struct option options[] = {
                {"in", required_argument, NULL, 'i'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        struct encode enc = {.dirfd = AT_FDCWD};
        cleanup_free char *dir = NULL;
        cleanup_free void *buf = NULL;
        cleanup_fd int dirfd = -1;
        struct gv_err err = {0};
        const char *in = NULL;
        enum msg_type type;
        json_t *json;
        size_t len = 0;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+i:h", options, NULL)) != -1) {
                switch (c) {
                case 'i':
                        in = optarg;
                        break;
                case 'h':
                        encode_usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "gavel encode: unknown option or missing value: '%s'\n",
                                argv[optind - 1]);
                        encode_usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                encode_usage(stderr);
                return EXIT_USAGE;
        }
        type = msg_type_from_name(argv[optind]);
        if (type != MSG_JOB && type != MSG_VERDICT && type != MSG_PROGRESS) {
                fprintf(stderr,
                        "gavel encode: unknown message type '%s' (job, verdict, progress)\n",
                        argv[optind]);
                return EXIT_USAGE;
        }
        /* options may follow the type too: gavel encode job --in job.json */
        optind++;
        while ((c = getopt_long(argc, argv, "+i:h", options, NULL)) != -1) {
                switch (c) {
                case 'i':
                        in = optarg;
                        break;
                case 'h':
                        encode_usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "gavel encode: unknown option or missing value: '%s'\n",
                                argv[optind - 1]);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "gavel encode: unexpected argument '%s'\n", argv[optind]);
                return EXIT_USAGE;
        }
        if (isatty(STDOUT_FILENO)) {
                fprintf(stderr, "gavel encode: stdout is a terminal; redirect the msgpack to a "
                                "file or a pipe\n");
                return EXIT_USAGE;
        }
        if (in) {
                dir = xstrdup(in);
                dirfd = open(dirname(dir), O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (dirfd < 0) {
                        fprintf(stderr,
                                "gavel encode: --in: cannot open the directory of '%s': %s\n", in,
                                strerror(errno));
                        return EXIT_USAGE;
                }
                enc.dirfd = dirfd;
        }
        schema_limits_default(&enc.lim);
        json = load_json(in, &err);
        if (!json) {
                fprintf(stderr, "gavel encode: %s\n", err.msg);
                return EXIT_USAGE;
        }
        r = encode_message(&enc, type, json, &buf, &len, &err);
        json_decref(json);
        if (r < 0) {
                fprintf(stderr, "gavel encode: %s\n", err.msg);
                return r == -ENOMEM ? EXIT_FAILURE_SYSTEM : EXIT_USAGE;
        }
        r = write_all(STDOUT_FILENO, buf, len);
        if (r < 0) {
                fprintf(stderr, "gavel encode: cannot write to stdout: %s\n", strerror(-r));
                return EXIT_FAILURE_SYSTEM;
        }
        return 0;
}
