/* SPDX-License-Identifier: MIT */
/*
 * schema_check: a walker over the msgpack wire format that validates one message against struct
 * schema_limits before msgpack-c unpacks it. It reads headers only, allocates nothing, and keeps
 * its stack in a fixed array (nesting is capped at msgpack-c's own limit of 32), so a hostile
 * length or count is refused here and never reaches an allocator.
 */
#include <inttypes.h>
#include <limits.h>

#include "schema/codec-internal.h"

void schema_limits_default(struct schema_limits *lim)
{
        *lim = (struct schema_limits){
                .message_max = 80 << 20,
                .source_max = 256 << 10,
                .tests_max = 64 << 20,
                .id_max = 128,
                .str_max = 1 << 20,
                .array_max = 100000,
                .objects_max = 1000000,
                .depth_max = 32,
        };
}

const struct schema_limits *schema__limits(const struct schema_limits *lim,
                                           struct schema_limits *dflt)
{
        if (lim)
                return lim;
        schema_limits_default(dflt);
        return dflt;
}

/* One msgpack header, as far as the walker cares. */
struct head {
        enum { SCALAR, STR, BIN, ARRAY, MAP } kind;
        size_t hdr;     /* bytes of the type byte and its length or count */
        uint64_t body;  /* bytes after the header: a scalar's value, a str's or bin's payload */
        uint64_t count; /* elements of an array, pairs of a map */
        uint64_t items; /* objects that follow as children: count, or 2 * count for a map */
};

enum {
        HEAD_OK,
        HEAD_SHORT,   /* the header itself runs past the end (hdr says how long it is) */
        HEAD_EXT,     /* ext and fixext: not used by gavel */
        HEAD_INVALID, /* 0xc1, never used */
};

static uint64_t load_be(const uint8_t *p, size_t n)
{
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

/* Decodes the header at p[0..left); left >= 1. */
static int read_head(const uint8_t *p, size_t left, struct head *h)
{
        uint8_t b = p[0];
        size_t width; /* bytes of the length or count field */

        *h = (struct head){.kind = SCALAR, .hdr = 1};
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
                return HEAD_OK; /* fixints, nil, bools */
        if (b >= 0x80 && b <= 0x9f) {
                h->kind = b <= 0x8f ? MAP : ARRAY;
                h->count = b & 0x0f;
                h->items = h->kind == MAP ? 2 * h->count : h->count;
                return HEAD_OK;
        }
        if (b >= 0xa0 && b <= 0xbf) {
                h->kind = STR;
                h->body = b & 0x1f;
                return HEAD_OK;
        }
        switch (b) {
        case 0xc1:
                return HEAD_INVALID;
        case 0xc7 ... 0xc9:
        case 0xd4 ... 0xd8:
                return HEAD_EXT;
        case 0xca: /* float32 */
                h->body = 4;
                return HEAD_OK;
        case 0xcb: /* float64 */
                h->body = 8;
                return HEAD_OK;
        case 0xcc ... 0xcf: /* uint8..64 */
                h->body = 1u << (b - 0xcc);
                return HEAD_OK;
        case 0xd0 ... 0xd3: /* int8..64 */
                h->body = 1u << (b - 0xd0);
                return HEAD_OK;
        case 0xc4 ... 0xc6: /* bin8, 16, 32 */
                h->kind = BIN;
                width = 1u << (b - 0xc4);
                break;
        case 0xd9 ... 0xdb: /* str8, 16, 32 */
                h->kind = STR;
                width = 1u << (b - 0xd9);
                break;
        case 0xdc ... 0xdd: /* array16, 32 */
                h->kind = ARRAY;
                width = b == 0xdc ? 2 : 4;
                break;
        case 0xde ... 0xdf: /* map16, 32 */
                h->kind = MAP;
                width = b == 0xde ? 2 : 4;
                break;
        default:
                return HEAD_INVALID; /* unreachable: every byte is covered above */
        }
        h->hdr = 1 + width;
        if (left < h->hdr)
                return HEAD_SHORT;
        if (h->kind == STR || h->kind == BIN) {
                h->body = load_be(p + 1, width);
        } else {
                h->count = load_be(p + 1, width);
                h->items = h->kind == MAP ? 2 * h->count : h->count;
        }
        return HEAD_OK;
}

struct bounds {
        size_t end;         /* bytes the message may take */
        size_t len;         /* bytes of the buffer (> end when message_max cut it) */
        size_t raw_max;     /* bytes of one str or bin */
        size_t array_max;   /* elements of one array or map */
        size_t objects_max; /* objects in all */
        size_t depth_max;   /* nested arrays and maps, <= SCHEMA__DEPTH_HARD */
};

/* An object at pos needs bytes up to need (> b->end): over message_max, or truncated. */
static int short_of(const struct bounds *b, size_t pos, uint64_t need, struct gv_err *err)
{
        if (b->end < b->len && need <= b->len)
                return gv_err_set(err, -E2BIG, "message over the limit of %zu bytes", b->end);
        return gv_err_set(err, -EBADMSG, "malformed msgpack: truncated at byte %zu", pos);
}

/* Walks the one object at buf[pos..); sets *ret_end past it. */
static int walk(const uint8_t *buf, size_t pos, const struct bounds *b, size_t *ret_end,
                struct gv_err *err)
{
        uint64_t left[SCHEMA__DEPTH_HARD]; /* children still to come, per open container */
        size_t depth = 0, objects = 0;

        for (;;) {
                struct head h;
                size_t at = pos;

                if (pos >= b->end)
                        return short_of(b, pos, (uint64_t)pos + 1, err);
                if (++objects > b->objects_max)
                        return gv_err_set(err, -E2BIG, "more than %zu objects in the message",
                                          b->objects_max);
                switch (read_head(buf + pos, b->end - pos, &h)) {
                case HEAD_OK:
                        break;
                case HEAD_SHORT:
                        return short_of(b, pos, (uint64_t)pos + h.hdr, err);
                case HEAD_EXT:
                        return gv_err_set(err, -EBADMSG,
                                          "malformed msgpack: ext type at byte %zu is not "
                                          "supported",
                                          pos);
                default:
                        return gv_err_set(err, -EBADMSG,
                                          "malformed msgpack: invalid type byte 0x%02x at byte %zu",
                                          buf[pos], pos);
                }
                if ((h.kind == STR || h.kind == BIN) && h.body > b->raw_max)
                        return gv_err_set(err, -E2BIG,
                                          "str or bin of %" PRIu64
                                          " bytes at byte %zu, over the limit of %zu",
                                          h.body, at, b->raw_max);
                if (h.body > b->end - pos - h.hdr)
                        return short_of(b, at, (uint64_t)pos + h.hdr + h.body, err);
                pos += h.hdr + h.body;
                if (h.kind == ARRAY || h.kind == MAP) {
                        if (h.count > b->array_max)
                                return gv_err_set(err, -E2BIG,
                                                  "array or map of %" PRIu64
                                                  " elements at byte %zu, over the limit of %zu",
                                                  h.count, at, b->array_max);
                        if (h.items > b->end - pos)
                                return short_of(b, at, (uint64_t)pos + h.items, err);
                        if (depth >= b->depth_max)
                                return gv_err_set(err, -E2BIG,
                                                  "nesting deeper than %zu at byte %zu",
                                                  b->depth_max, at);
                        if (h.items > 0) {
                                left[depth++] = h.items;
                                continue;
                        }
                }
                /* one object complete: close every container it completes */
                while (depth > 0 && --left[depth - 1] == 0)
                        depth--;
                if (depth == 0) {
                        *ret_end = pos;
                        return 0;
                }
        }
}

int schema_check(const void *buf, size_t len, const struct schema_limits *lim, struct gv_err *err)
{
        struct schema_limits dflt;
        struct bounds b;
        size_t end;
        int r;

        lim = schema__limits(lim, &dflt);
        if (len == 0)
                return gv_err_set(err, -EBADMSG, "empty message");
        if (!buf)
                return gv_err_set(err, -EINVAL, "no buffer");

        b = (struct bounds){
                .end = len,
                .len = len,
                /*
                 * One str or bin may be as long as the largest field bound: test data is
                 * bounded by tests_max and source by source_max, not by str_max ("any other
                 * string"); each decoder then applies the bound of the field.
                 */
                .raw_max = lim->str_max,
                .array_max = lim->array_max,
                .objects_max = lim->objects_max,
                .depth_max = lim->depth_max,
        };
        if (lim->source_max > b.raw_max)
                b.raw_max = lim->source_max;
        if (lim->tests_max > b.raw_max)
                b.raw_max = lim->tests_max;
        if (b.depth_max > SCHEMA__DEPTH_HARD)
                b.depth_max = SCHEMA__DEPTH_HARD;
        if (b.end > lim->message_max)
                b.end = lim->message_max;
        if (b.end > INT_MAX)
                b.end = INT_MAX; /* the length is returned as an int */

        r = walk(buf, 0, &b, &end, err);
        if (r < 0)
                return r;
        return (int)end;
}

/* Skips the (already checked) object at buf[pos..len); returns the offset past it. */
static size_t skip(const uint8_t *buf, size_t len, size_t pos)
{
        struct bounds b = {
                .end = len,
                .len = len,
                .raw_max = SIZE_MAX,
                .array_max = SIZE_MAX,
                .objects_max = SIZE_MAX,
                .depth_max = SCHEMA__DEPTH_HARD,
        };
        size_t end = len;

        if (walk(buf, pos, &b, &end, NULL) < 0)
                return len;
        return end;
}

int schema__raw_value(const void *buf, size_t len, const char *key, size_t *ret_off,
                      size_t *ret_len)
{
        const uint8_t *p = buf;
        size_t key_len = strlen(key), pos;
        struct head h;

        if (len == 0 || read_head(p, len, &h) != HEAD_OK || h.kind != MAP)
                return -ENOENT;
        pos = h.hdr;
        for (uint64_t i = 0; i < h.count && pos < len; i++) {
                struct head k;
                size_t val;

                if (read_head(p + pos, len - pos, &k) != HEAD_OK)
                        return -ENOENT;
                val = skip(p, len, pos);
                if (k.kind == STR && k.body == key_len && pos + k.hdr + key_len <= len &&
                    memcmp(p + pos + k.hdr, key, key_len) == 0) {
                        *ret_off = val;
                        *ret_len = skip(p, len, val) - val;
                        return 0;
                }
                pos = skip(p, len, val);
        }
        return -ENOENT;
}
