/* SPDX-License-Identifier: MIT */
/*
 * msgpack <-> JSON with jansson, for gavel decode and gavel encode. Recursion is bounded by
 * JSON_DEPTH_MAX; the input of json_from_msgpack has already passed schema_check, which bounds
 * its depth and sizes far lower. What JSON cannot carry is mapped as worker/json.h documents.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/cleanup.h"
#include "worker/util/json.h"

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Length of the well-formed UTF-8 sequence at p[0..left), or 0 when it is not one. */
static size_t utf8_seq_len(const uint8_t *p, size_t left)
{
        uint8_t c = p[0], lo = 0x80, hi = 0xbf;
        size_t n;

        if (c < 0x80)
                return 1;
        if (c < 0xc2) /* a continuation byte, or an overlong 2-byte form */
                return 0;
        if (c < 0xe0)
                n = 2;
        else if (c < 0xf0) {
                n = 3;
                if (c == 0xe0)
                        lo = 0xa0; /* overlong */
                else if (c == 0xed)
                        hi = 0x9f; /* surrogates */
        } else if (c < 0xf5) {
                n = 4;
                if (c == 0xf0)
                        lo = 0x90; /* overlong */
                else if (c == 0xf4)
                        hi = 0x8f; /* above U+10FFFF */
        } else
                return 0;
        if (left < n || p[1] < lo || p[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
        return n;
}

bool json_utf8_valid(const void *buf, size_t len)
{
        const uint8_t *p = buf;
        size_t i = 0, n;

        while (i < len) {
                n = utf8_seq_len(p + i, len - i);
                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}

json_t *json_string_lossy(const void *buf, size_t len)
{
        static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
        const uint8_t *p = buf;
        cleanup_free char *out = NULL;
        size_t i = 0, o = 0, n;

        if (json_utf8_valid(buf, len))
                return json_stringn(buf, len);
        if (len > (SIZE_MAX - 1) / 3)
                return NULL;
        out = malloc(len * 3 + 1);
        if (!out)
                return NULL;
        while (i < len) {
                n = utf8_seq_len(p + i, len - i);
                if (n == 0) {
                        memcpy(out + o, replacement, 3);
                        o += 3;
                        i++;
                } else {
                        memcpy(out + o, p + i, n);
                        o += n;
                        i += n;
                }
        }
        return json_stringn(out, o);
}

static json_t *base64_string(const void *buf, size_t len)
{
        const uint8_t *p = buf;
        cleanup_free char *out = NULL;
        size_t i, o = 0;
        uint32_t v;

        if (len > (SIZE_MAX / 4 - 1) * 3)
                return NULL;
        out = malloc((len + 2) / 3 * 4 + 1);
        if (!out)
                return NULL;
        for (i = 0; i + 2 < len; i += 3) {
                v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
                out[o++] = b64_alphabet[v >> 18];
                out[o++] = b64_alphabet[(v >> 12) & 63];
                out[o++] = b64_alphabet[(v >> 6) & 63];
                out[o++] = b64_alphabet[v & 63];
        }
        if (i < len) {
                v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
                out[o++] = b64_alphabet[v >> 18];
                out[o++] = b64_alphabet[(v >> 12) & 63];
                out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
                out[o++] = '=';
        }
        return json_stringn(out, o);
}

static int base64_value(char c)
{
        const char *p = c ? strchr(b64_alphabet, c) : NULL;

        return p ? (int)(p - b64_alphabet) : -1;
}

/* Strict base64 (RFC 4648 alphabet, padding optional, no whitespace) into a new buffer. */
static int base64_decode(const char *s, size_t len, uint8_t **ret_buf, size_t *ret_len,
                         struct gv_err *err)
{
        cleanup_free uint8_t *out = NULL;
        size_t o = 0, i, n = len;
        uint32_t v = 0;
        int d;

        while (n > 0 && len - n < 2 && s[n - 1] == '=')
                n--;
        if (n % 4 == 1 || (n < len && len % 4 != 0))
                return gv_err_set(err, -EINVAL, "invalid base64: wrong length or padding");
        out = malloc(n / 4 * 3 + 3);
        if (!out)
                return gv_err_set(err, -ENOMEM, "out of memory");
        for (i = 0; i < n; i++) {
                d = base64_value(s[i]);
                if (d < 0)
                        return gv_err_set(err, -EINVAL, "invalid base64: bad character at %zu", i);
                v = v << 6 | (uint32_t)d;
                if (i % 4 == 3) {
                        out[o++] = (uint8_t)(v >> 16);
                        out[o++] = (uint8_t)(v >> 8);
                        out[o++] = (uint8_t)v;
                }
        }
        if (n % 4 == 2) {
                if (v & 0xf)
                        return gv_err_set(err, -EINVAL, "invalid base64: non-zero padding bits");
                out[o++] = (uint8_t)(v >> 4);
        } else if (n % 4 == 3) {
                if (v & 0x3)
                        return gv_err_set(err, -EINVAL, "invalid base64: non-zero padding bits");
                out[o++] = (uint8_t)(v >> 10);
                out[o++] = (uint8_t)(v >> 2);
        }
        out[o] = '\0';
        *ret_buf = steal_pointer(&out);
        *ret_len = o;
        return 0;
}

static json_t *base64_object(const void *buf, size_t len)
{
        json_t *b64 = base64_string(buf, len);

        if (!b64)
                return NULL;
        return json_pack("{so}", "base64", b64);
}

json_t *json_bytes(const void *buf, size_t len)
{
        if (json_utf8_valid(buf, len))
                return json_stringn(buf, len);
        return base64_object(buf, len);
}

int json_get_bytes(const json_t *json, uint8_t **ret_buf, size_t *ret_len, struct gv_err *err)
{
        const json_t *b64;

        if (json_is_string(json)) {
                *ret_len = json_string_length(json);
                *ret_buf = xmemdup(json_string_value(json), *ret_len);
                return 0;
        }
        b64 = json_object_get(json, "base64");
        if (!json_is_object(json) || json_object_size(json) != 1 || !json_is_string(b64))
                return gv_err_set(err, -EINVAL, "expected a string or {\"base64\": \"...\"}");
        return base64_decode(json_string_value(b64), json_string_length(b64), ret_buf, ret_len,
                             err);
}

/* A float32 as the double with the fewest decimal digits that still reads back as it. */
static double float32_shortest(float f)
{
        char buf[32];

        if (!isfinite(f))
                return f;
        for (int p = 1; p < 9; p++) {
                snprintf(buf, sizeof(buf), "%.*g", p, (double)f);
                if (strtof(buf, NULL) == f)
                        return strtod(buf, NULL);
        }
        return f;
}

static json_t *real_or_name(double d)
{
        if (isnan(d))
                return json_string("NaN");
        if (isinf(d))
                return json_string(d > 0 ? "Infinity" : "-Infinity");
        return json_real(d);
}

static bool is_bytes_key(const msgpack_object *key)
{
        static const char *const names[] = {"source", "in", "out"};

        if (key->type != MSGPACK_OBJECT_STR)
                return false;
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (key->via.str.size == strlen(names[i]) &&
                    !memcmp(key->via.str.ptr, names[i], key->via.str.size))
                        return true;
        return false;
}

static int from_msgpack(const msgpack_object *obj, bool bytes, size_t depth, json_t **ret_json,
                        struct gv_err *err);

static int map_key(const msgpack_object *key, size_t depth, json_t **ret_key, struct gv_err *err)
{
        json_t *json = NULL;
        char *text;
        int r;

        if (key->type == MSGPACK_OBJECT_STR) {
                *ret_key = json_string_lossy(key->via.str.ptr, key->via.str.size);
                return *ret_key ? 0 : gv_err_set(err, -ENOMEM, "out of memory");
        }
        r = from_msgpack(key, false, depth, &json, err);
        if (r < 0)
                return r;
        text = json_dumps_exact(json, JSON_COMPACT);
        json_decref(json);
        if (!text)
                return gv_err_set(err, -ENOMEM, "out of memory");
        *ret_key = json_string(text);
        free(text);
        return *ret_key ? 0 : gv_err_set(err, -ENOMEM, "out of memory");
}

static int from_map(const msgpack_object_map *map, size_t depth, json_t **ret_json,
                    struct gv_err *err)
{
        json_t *obj = json_object();
        int r;

        if (!obj)
                return gv_err_set(err, -ENOMEM, "out of memory");
        for (uint32_t i = 0; i < map->size; i++) {
                const msgpack_object_kv *kv = &map->ptr[i];
                json_t *key = NULL, *val = NULL;

                r = map_key(&kv->key, depth + 1, &key, err);
                if (r < 0) {
                        json_decref(obj);
                        return gv_err_prefix(err, r, "{key %" PRIu32 "}", i);
                }
                r = from_msgpack(&kv->val, is_bytes_key(&kv->key), depth + 1, &val, err);
                if (r < 0) {
                        gv_err_prefix(err, r, "%s%s", depth > 0 ? "." : "", json_string_value(key));
                        json_decref(key);
                        json_decref(obj);
                        return r;
                }
                r = json_object_setn_new(obj, json_string_value(key), json_string_length(key), val);
                json_decref(key);
                if (r < 0) {
                        json_decref(obj);
                        return gv_err_set(err, -ENOMEM, "out of memory");
                }
        }
        *ret_json = obj;
        return 0;
}

static int from_array(const msgpack_object_array *array, size_t depth, json_t **ret_json,
                      struct gv_err *err)
{
        json_t *arr = json_array();
        int r;

        if (!arr)
                return gv_err_set(err, -ENOMEM, "out of memory");
        for (uint32_t i = 0; i < array->size; i++) {
                json_t *val = NULL;

                r = from_msgpack(&array->ptr[i], false, depth + 1, &val, err);
                if (r < 0) {
                        json_decref(arr);
                        return gv_err_prefix(err, r, "[%" PRIu32 "]", i);
                }
                if (json_array_append_new(arr, val) < 0) {
                        json_decref(arr);
                        return gv_err_set(err, -ENOMEM, "out of memory");
                }
        }
        *ret_json = arr;
        return 0;
}

static int from_msgpack(const msgpack_object *obj, bool bytes, size_t depth, json_t **ret_json,
                        struct gv_err *err)
{
        char digits[24];
        json_t *json;

        if (depth >= JSON_DEPTH_MAX)
                return gv_err_set(err, -E2BIG, ": nested deeper than %d levels", JSON_DEPTH_MAX);
        switch (obj->type) {
        case MSGPACK_OBJECT_NIL:
                json = json_null();
                break;
        case MSGPACK_OBJECT_BOOLEAN:
                json = json_boolean(obj->via.boolean);
                break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
                if (obj->via.u64 <= INT64_MAX)
                        json = json_integer((json_int_t)obj->via.u64);
                else {
                        snprintf(digits, sizeof(digits), "%" PRIu64, obj->via.u64);
                        json = json_string(digits);
                }
                break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                json = json_integer((json_int_t)obj->via.i64);
                break;
        case MSGPACK_OBJECT_FLOAT32:
                json = real_or_name(float32_shortest((float)obj->via.f64));
                break;
        case MSGPACK_OBJECT_FLOAT64:
                json = real_or_name(obj->via.f64);
                break;
        case MSGPACK_OBJECT_STR:
                if (bytes)
                        json = json_bytes(obj->via.str.ptr, obj->via.str.size);
                else
                        json = json_string_lossy(obj->via.str.ptr, obj->via.str.size);
                break;
        case MSGPACK_OBJECT_BIN:
                if (bytes)
                        json = json_bytes(obj->via.bin.ptr, obj->via.bin.size);
                else
                        json = base64_object(obj->via.bin.ptr, obj->via.bin.size);
                break;
        case MSGPACK_OBJECT_EXT:
                json = base64_string(obj->via.ext.ptr, obj->via.ext.size);
                if (json)
                        json = json_pack("{siso}", "ext", (int)obj->via.ext.type, "base64", json);
                break;
        case MSGPACK_OBJECT_ARRAY:
                return from_array(&obj->via.array, depth, ret_json, err);
        case MSGPACK_OBJECT_MAP:
                return from_map(&obj->via.map, depth, ret_json, err);
        default:
                return gv_err_set(err, -EINVAL, ": unknown msgpack type %d", (int)obj->type);
        }
        if (!json)
                return gv_err_set(err, -ENOMEM, "out of memory");
        *ret_json = json;
        return 0;
}

int json_from_msgpack(const msgpack_object *obj, json_t **ret_json, struct gv_err *err)
{
        return from_msgpack(obj, false, 0, ret_json, err);
}

static int pack_object(const json_t *json, msgpack_packer *pk, size_t depth_max, struct gv_err *err)
{
        const char *key;
        size_t key_len;
        json_t *val;
        int r;

        if (msgpack_pack_map(pk, json_object_size(json)) < 0)
                return gv_err_set(err, -ENOMEM, "out of memory");
        json_object_keylen_foreach((json_t *)json, key, key_len, val)
        {
                if (msgpack_pack_str_with_body(pk, key, key_len) < 0)
                        return gv_err_set(err, -ENOMEM, "out of memory");
                r = json_to_msgpack(val, pk, depth_max - 1, err);
                if (r < 0)
                        return gv_err_prefix(err, r, ".%s", key);
        }
        return 0;
}

int json_to_msgpack(const json_t *json, msgpack_packer *pk, size_t depth_max, struct gv_err *err)
{
        size_t i;
        int r = 0;

        if (depth_max > JSON_DEPTH_MAX)
                depth_max = JSON_DEPTH_MAX;
        switch (json_typeof(json)) {
        case JSON_OBJECT:
                if (depth_max == 0)
                        return gv_err_set(err, -E2BIG, ": nested too deeply");
                return pack_object(json, pk, depth_max, err);
        case JSON_ARRAY:
                if (depth_max == 0)
                        return gv_err_set(err, -E2BIG, ": nested too deeply");
                if (msgpack_pack_array(pk, json_array_size(json)) < 0)
                        return gv_err_set(err, -ENOMEM, "out of memory");
                for (i = 0; i < json_array_size(json); i++) {
                        r = json_to_msgpack(json_array_get(json, i), pk, depth_max - 1, err);
                        if (r < 0)
                                return gv_err_prefix(err, r, "[%zu]", i);
                }
                return 0;
        case JSON_STRING:
                r = msgpack_pack_str_with_body(pk, json_string_value(json),
                                               json_string_length(json));
                break;
        case JSON_INTEGER:
                r = msgpack_pack_int64(pk, json_integer_value(json));
                break;
        case JSON_REAL:
                r = msgpack_pack_double(pk, json_real_value(json));
                break;
        case JSON_TRUE:
                r = msgpack_pack_true(pk);
                break;
        case JSON_FALSE:
                r = msgpack_pack_false(pk);
                break;
        case JSON_NULL:
                r = msgpack_pack_nil(pk);
                break;
        }
        return r < 0 ? gv_err_set(err, -ENOMEM, "out of memory") : 0;
}

/*
 * The fewest %.*g digits (1..17) that read back as d, and at least as many as d has integer
 * digits, so that 100.0 is not printed as 1e2.
 */
static int shortest_precision(double d)
{
        char buf[40];
        int p = 1;

        if (isfinite(d))
                for (double m = fabs(d); m >= 10 && p < 17; m /= 10)
                        p++;
        for (; p < 17; p++) {
                snprintf(buf, sizeof(buf), "%.*g", p, d);
                if (strtod(buf, NULL) == d)
                        return p;
        }
        return 17;
}

static int max_precision(const json_t *json)
{
        const char *key;
        json_t *val;
        size_t i;
        int p = 1, q;

        switch (json_typeof(json)) {
        case JSON_REAL:
                return shortest_precision(json_real_value(json));
        case JSON_OBJECT:
                json_object_foreach((json_t *)json, key, val)
                {
                        q = max_precision(val);
                        p = q > p ? q : p;
                }
                return p;
        case JSON_ARRAY:
                json_array_foreach(json, i, val)
                {
                        q = max_precision(val);
                        p = q > p ? q : p;
                }
                return p;
        case JSON_STRING:
        case JSON_INTEGER:
        case JSON_TRUE:
        case JSON_FALSE:
        case JSON_NULL:
                return p;
        }
        return p;
}

char *json_dumps_exact(const json_t *json, size_t flags)
{
        int p = max_precision(json);

        return json_dumps(json, flags | JSON_ENCODE_ANY | JSON_REAL_PRECISION(p));
}

int json_from_verdict(const struct verdict *verdict, json_t **ret_json, struct gv_err *err)
{
        cleanup_free void *buf = NULL;
        msgpack_unpacked unpacked;
        size_t len, off = 0;
        int r;

        r = schema_verdict_encode(verdict, &buf, &len);
        if (r < 0)
                return gv_err_errno(err, r, "cannot encode the verdict");
        msgpack_unpacked_init(&unpacked);
        if (msgpack_unpack_next(&unpacked, buf, len, &off) != MSGPACK_UNPACK_SUCCESS)
                r = gv_err_set(err, -EBADMSG, "cannot unpack the encoded verdict");
        else
                r = json_from_msgpack(&unpacked.data, ret_json, err);
        msgpack_unpacked_destroy(&unpacked);
        return r;
}
