/* SPDX-License-Identifier: MIT */
/*
 * What every message's decoder and encoder share: the checked unpack, typed readers of one field
 * that put its name in their error, and packing helpers. A reader never keeps a pointer into the
 * msgpack object: strings and bytes are copied out.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "schema/cleanup.h"
#include "schema/codec-internal.h"

int schema__unpack(const void *buf, size_t len, const struct schema_limits *lim,
                   msgpack_unpacked *u, struct gv_err *err)
{
        size_t off = 0;
        int r;

        r = schema_check(buf, len, lim, err);
        if (r < 0)
                return r;
        if ((size_t)r != len)
                return gv_err_set(err, -EBADMSG, "trailing bytes after message");
        switch (msgpack_unpack_next(u, buf, len, &off)) {
        case MSGPACK_UNPACK_SUCCESS:
        case MSGPACK_UNPACK_EXTRA_BYTES:
                break;
        case MSGPACK_UNPACK_NOMEM_ERROR:
                return gv_err_set(err, -ENOMEM, "out of memory unpacking the message");
        case MSGPACK_UNPACK_CONTINUE:
        case MSGPACK_UNPACK_PARSE_ERROR:
        default:
                return gv_err_set(err, -EBADMSG, "malformed msgpack");
        }
        if (u->data.type != MSGPACK_OBJECT_MAP)
                return gv_err_set(err, -EBADMSG, "expected a map at the root");
        return 0;
}

int schema__decode(const void *buf, size_t len, const struct schema_limits *lim,
                   const struct schema__type *type, void *ret, struct gv_err *err)
{
        cleanup_free void *value = NULL;
        msgpack_unpacked u;
        struct gv_err local;
        int r;

        if (!err)
                err = &local;          /* gv_err_prefix needs one to return the code */
        value = calloc(1, type->size); /* *ret stays untouched unless all goes well */
        if (!value)
                return gv_err_set(err, -ENOMEM, "out of memory decoding the message");
        msgpack_unpacked_init(&u);
        r = schema__unpack(buf, len, lim, &u, err);
        if (r >= 0)
                r = type->decode(buf, len, &u.data, lim, value, err);
        msgpack_unpacked_destroy(&u);
        if (r < 0) {
                type->done(value);
                return r;
        }
        memcpy(ret, value, type->size);
        return 0;
}

int schema__fields(const msgpack_object *o, const char *const *keys, struct schema__field *fields,
                   size_t n, struct gv_err *err)
{
        const msgpack_object_map *map = &o->via.map;

        for (size_t i = 0; i < n; i++)
                fields[i] = (struct schema__field){.name = keys[i]};
        for (uint32_t i = 0; i < map->size; i++) {
                const msgpack_object *key = &map->ptr[i].key;

                if (key->type != MSGPACK_OBJECT_STR)
                        continue;
                for (size_t j = 0; j < n; j++) {
                        if (strlen(fields[j].name) != key->via.str.size ||
                            memcmp(fields[j].name, key->via.str.ptr, key->via.str.size) != 0)
                                continue;
                        if (fields[j].val)
                                return gv_err_set(err, -EBADMSG, "%s: duplicate key",
                                                  fields[j].name);
                        fields[j].val = &map->ptr[i].val;
                        break;
                }
        }
        return 0;
}

int schema__missing(const char *name, struct gv_err *err)
{
        return gv_err_set(err, -EBADMSG, "%s: missing", name);
}

int schema__want_map(const msgpack_object *o, const char *name, struct gv_err *err)
{
        if (o->type != MSGPACK_OBJECT_MAP)
                return gv_err_set(err, -EBADMSG, "%s: expected a map", name);
        return 0;
}

int schema__want_array(const msgpack_object *o, const char *name, size_t max, struct gv_err *err)
{
        if (o->type != MSGPACK_OBJECT_ARRAY)
                return gv_err_set(err, -EBADMSG, "%s: expected an array", name);
        if (o->via.array.size > max)
                return gv_err_set(err, -E2BIG, "%s: %" PRIu32 " elements, over the limit of %zu",
                                  name, o->via.array.size, max);
        return 0;
}

int schema__version(const msgpack_object *o, uint32_t *ret_v, struct gv_err *err)
{
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 == 0)
                return gv_err_set(err, -EBADMSG, "v: expected a positive integer");
        if (o->via.u64 > SCHEMA_VERSION)
                return gv_err_set(err, -EBADMSG,
                                  "v: unsupported version %" PRIu64 " (this worker speaks %d)",
                                  o->via.u64, SCHEMA_VERSION);
        *ret_v = (uint32_t)o->via.u64;
        return 0;
}

int schema__uint(const msgpack_object *o, const char *name, uint64_t max, uint64_t *ret,
                 struct gv_err *err)
{
        /* msgpack-c unpacks every integer >= 0 as positive, whatever its wire type */
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return gv_err_set(err, -EBADMSG, "%s: expected unsigned integer", name);
        if (o->via.u64 > max)
                return gv_err_set(err, -EBADMSG, "%s: expected unsigned integer up to %" PRIu64,
                                  name, max);
        *ret = o->via.u64;
        return 0;
}

int schema__u32(const msgpack_object *o, const char *name, uint32_t *ret, struct gv_err *err)
{
        uint64_t v = 0;
        int r;

        r = schema__uint(o, name, UINT32_MAX, &v, err);
        if (r < 0)
                return r;
        *ret = (uint32_t)v;
        return 0;
}

int schema__u64(const msgpack_object *o, const char *name, uint64_t *ret, struct gv_err *err)
{
        return schema__uint(o, name, UINT64_MAX, ret, err);
}

static int sint(const msgpack_object *o, const char *name, int64_t min, int64_t max, int64_t *ret,
                struct gv_err *err)
{
        bool in_range;

        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                in_range = o->via.u64 <= (uint64_t)max;
        else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                in_range = o->via.i64 >= min;
        else
                return gv_err_set(err, -EBADMSG, "%s: expected integer", name);
        if (!in_range)
                return gv_err_set(err, -EBADMSG,
                                  "%s: expected integer from %" PRId64 " to %" PRId64, name, min,
                                  max);
        *ret = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)o->via.u64 : o->via.i64;
        return 0;
}

int schema__i32(const msgpack_object *o, const char *name, int32_t *ret, struct gv_err *err)
{
        int64_t v = 0;
        int r;

        r = sint(o, name, INT32_MIN, INT32_MAX, &v, err);
        if (r < 0)
                return r;
        *ret = (int32_t)v;
        return 0;
}

int schema__i64(const msgpack_object *o, const char *name, int64_t *ret, struct gv_err *err)
{
        return sint(o, name, INT64_MIN, INT64_MAX, ret, err);
}

int schema__number(const msgpack_object *o, const char *name, double *ret, struct gv_err *err)
{
        double v;

        switch (o->type) {
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
                v = o->via.f64;
                break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
                v = (double)o->via.u64;
                break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                v = (double)o->via.i64;
                break;
        case MSGPACK_OBJECT_NIL:
        case MSGPACK_OBJECT_BOOLEAN:
        case MSGPACK_OBJECT_STR:
        case MSGPACK_OBJECT_ARRAY:
        case MSGPACK_OBJECT_MAP:
        case MSGPACK_OBJECT_BIN:
        case MSGPACK_OBJECT_EXT:
        default:
                return gv_err_set(err, -EBADMSG, "%s: expected a number", name);
        }
        if (!isfinite(v))
                return gv_err_set(err, -EBADMSG, "%s: expected a finite number", name);
        *ret = v;
        return 0;
}

int schema__bool(const msgpack_object *o, const char *name, bool *ret, struct gv_err *err)
{
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
                return gv_err_set(err, -EBADMSG, "%s: expected bool", name);
        *ret = o->via.boolean;
        return 0;
}

void *schema__memdup(const void *src, size_t n)
{
        char *p = xmalloc(n + 1);

        if (n > 0)
                memcpy(p, src, n);
        p[n] = '\0';
        return p;
}

void schema__quote(const void *p, size_t n, char *out, size_t size)
{
        const unsigned char *s = p;
        size_t o = 0, shown = n > 32 ? 32 : n;

        if (size < 8) {
                if (size > 0)
                        out[0] = '\0';
                return;
        }
        out[o++] = '"';
        for (size_t i = 0; i < shown && o + 5 < size; i++)
                out[o++] = isprint(s[i]) && s[i] != '"' && s[i] != '\\' ? (char)s[i] : '?';
        out[o++] = '"';
        if (shown < n && o + 4 < size) {
                memcpy(out + o, "...", 3);
                o += 3;
        }
        out[o] = '\0';
}

/* the bytes and length of a str or bin */
static int check_len(const char *name, size_t n, size_t max, struct gv_err *err)
{
        if (n > max)
                return gv_err_set(err, -E2BIG, "%s: %zu bytes, over the limit of %zu", name, n,
                                  max);
        return 0;
}

int schema__str(const msgpack_object *o, const char *name, size_t max, unsigned flags, char **ret,
                struct gv_err *err)
{
        const char *p;
        size_t n;
        int r;

        if (o->type != MSGPACK_OBJECT_STR)
                return gv_err_set(err, -EBADMSG, "%s: expected str", name);
        p = o->via.str.ptr;
        n = o->via.str.size;
        r = check_len(name, n, max, err);
        if (r < 0)
                return r;
        if ((flags & SCHEMA__NONEMPTY) && n == 0)
                return gv_err_set(err, -EBADMSG, "%s: empty", name);
        if ((flags & SCHEMA__NO_NUL) && n > 0 && memchr(p, '\0', n))
                return gv_err_set(err, -EBADMSG, "%s: contains a NUL byte", name);
        if ((flags & SCHEMA__ABSOLUTE) && (n == 0 || p[0] != '/'))
                return gv_err_set(err, -EBADMSG, "%s: expected an absolute path", name);
        *ret = schema__memdup(p, n);
        return 0;
}

int schema__bytes(const msgpack_object *o, const char *name, size_t max, uint8_t **ret,
                  size_t *ret_len, struct gv_err *err)
{
        const char *p;
        size_t n;
        int r;

        if (o->type == MSGPACK_OBJECT_BIN) {
                p = o->via.bin.ptr;
                n = o->via.bin.size;
        } else if (o->type == MSGPACK_OBJECT_STR) {
                p = o->via.str.ptr;
                n = o->via.str.size;
        } else {
                return gv_err_set(err, -EBADMSG, "%s: expected bin or str", name);
        }
        r = check_len(name, n, max, err);
        if (r < 0)
                return r;
        *ret = schema__memdup(p, n);
        *ret_len = n;
        return 0;
}

int schema__enum(const msgpack_object *o, const char *name, const char *const *names, size_t n,
                 const char *what, int *ret, struct gv_err *err)
{
        char quoted[48];
        int i;

        if (o->type != MSGPACK_OBJECT_STR)
                return gv_err_set(err, -EBADMSG, "%s: expected str", name);
        i = schema__index(names, n, o->via.str.ptr, o->via.str.size);
        if (i < 0) {
                schema__quote(o->via.str.ptr, o->via.str.size, quoted, sizeof(quoted));
                return gv_err_set(err, -EBADMSG, "%s: unknown %s %s", name, what, quoted);
        }
        *ret = i;
        return 0;
}

bool schema__meta_valid(const void *meta, size_t len)
{
        struct schema_limits lim;

        schema_limits_default(&lim);
        return meta && len <= lim.message_max && schema_check(meta, len, &lim, NULL) == (int)len;
}

int schema__fixbuf_write(void *data, const char *p, size_t n)
{
        struct schema__fixbuf *fb = data;

        if (n > fb->size - fb->len)
                return -1;
        if (n > 0)
                memcpy(fb->buf + fb->len, p, n);
        fb->len += n;
        return 0;
}

int schema__pack_cstr(msgpack_packer *pk, const char *s)
{
        size_t n = strlen(s);

        if (!schema_utf8_valid(s, n))
                return SCHEMA__PACK_ILSEQ;
        return msgpack_pack_str_with_body(pk, s, n);
}

int schema__pack_rawcstr(msgpack_packer *pk, const char *s)
{
        return msgpack_pack_str_with_body(pk, s, strlen(s));
}

int schema__pack_key(msgpack_packer *pk, const char *key)
{
        return schema__pack_cstr(pk, key);
}

int schema__kv_rawstr(msgpack_packer *pk, const char *key, const char *s)
{
        int r = 0;

        r |= schema__pack_key(pk, key);
        r |= schema__pack_rawcstr(pk, s);
        return r;
}

int schema__pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
        return msgpack_pack_bin_with_body(pk, n > 0 ? p : "", n);
}

int schema__kv_str(msgpack_packer *pk, const char *key, const char *s)
{
        int r = 0;

        r |= schema__pack_key(pk, key);
        r |= schema__pack_cstr(pk, s);
        return r;
}

int schema__kv_bin(msgpack_packer *pk, const char *key, const void *p, size_t n)
{
        int r = 0;

        r |= schema__pack_key(pk, key);
        r |= schema__pack_bin(pk, p, n);
        return r;
}

int schema__kv_uint(msgpack_packer *pk, const char *key, uint64_t v)
{
        int r = 0;

        r |= schema__pack_key(pk, key);
        r |= msgpack_pack_uint64(pk, v);
        return r;
}

int schema__kv_int(msgpack_packer *pk, const char *key, int64_t v)
{
        int r = 0;

        r |= schema__pack_key(pk, key);
        r |= msgpack_pack_int64(pk, v);
        return r;
}

int schema__kv_double(msgpack_packer *pk, const char *key, double v)
{
        int r = 0;

        r |= schema__pack_key(pk, key);
        r |= msgpack_pack_double(pk, v);
        return r;
}

int schema__kv_bool(msgpack_packer *pk, const char *key, bool v)
{
        int r = 0;

        r |= schema__pack_key(pk, key);
        r |= v ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        return r;
}

int schema__sbuffer_finish(msgpack_sbuffer *sbuf, int r, void **ret_buf, size_t *ret_len)
{
        if (r != 0) {
                msgpack_sbuffer_destroy(sbuf);
                /* a str that is not UTF-8, or else the only way an sbuffer write fails */
                return r == SCHEMA__PACK_ILSEQ ? -EILSEQ : -ENOMEM;
        }
        *ret_len = sbuf->size;
        *ret_buf = msgpack_sbuffer_release(sbuf);
        if (!*ret_buf)
                *ret_buf = xmalloc(1); /* an encoder always writes something; be safe */
        return 0;
}
