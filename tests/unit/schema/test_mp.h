/* SPDX-License-Identifier: MIT */
/*
 * Test helpers for the schema tests: mp() packs a msgpack message from a short format string, so
 * that a test can write exactly the (wrong) bytes it needs, and expect_err() checks a decoder's
 * error code and message. Header-only; each test program includes it once.
 */
#pragma once

#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "schema/schema.h"

struct mp_buf {
        char *data; /* malloc'ed; free() it */
        size_t len;
};

/*
 * Packs one value per format character:
 *   m N   map header of N pairs (unsigned)     a N   array header of N elements (unsigned)
 *   s S   str from a C string                  z P N str of N bytes at P (size_t N)
 *   x P N bin of N bytes at P (size_t N)       u N   unsigned int
 *   U N   uint64_t                             i N   int
 *   I N   int64_t                              d D   double
 *   t f n true, false, nil                     r P N raw bytes written as they are
 * Spaces are ignored.
 */
static inline struct mp_buf vmp(const char *fmt, va_list ap)
{
        msgpack_sbuffer sb;
        msgpack_packer pk;
        struct mp_buf out;
        const void *p;
        size_t n;

        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        for (const char *c = fmt; *c; c++) {
                switch (*c) {
                case ' ':
                        break;
                case 'm':
                        msgpack_pack_map(&pk, va_arg(ap, unsigned));
                        break;
                case 'a':
                        msgpack_pack_array(&pk, va_arg(ap, unsigned));
                        break;
                case 's':
                        p = va_arg(ap, const char *);
                        msgpack_pack_str_with_body(&pk, p, strlen(p));
                        break;
                case 'z':
                        p = va_arg(ap, const void *);
                        n = va_arg(ap, size_t);
                        msgpack_pack_str_with_body(&pk, p, n);
                        break;
                case 'x':
                        p = va_arg(ap, const void *);
                        n = va_arg(ap, size_t);
                        msgpack_pack_bin_with_body(&pk, n ? p : "", n);
                        break;
                case 'r':
                        p = va_arg(ap, const void *);
                        n = va_arg(ap, size_t);
                        msgpack_sbuffer_write(&sb, p, n);
                        break;
                case 'u':
                        msgpack_pack_unsigned_int(&pk, va_arg(ap, unsigned));
                        break;
                case 'U':
                        msgpack_pack_uint64(&pk, va_arg(ap, uint64_t));
                        break;
                case 'i':
                        msgpack_pack_int(&pk, va_arg(ap, int));
                        break;
                case 'I':
                        msgpack_pack_int64(&pk, va_arg(ap, int64_t));
                        break;
                case 'd':
                        msgpack_pack_double(&pk, va_arg(ap, double));
                        break;
                case 't':
                        msgpack_pack_true(&pk);
                        break;
                case 'f':
                        msgpack_pack_false(&pk);
                        break;
                case 'n':
                        msgpack_pack_nil(&pk);
                        break;
                default:
                        fail_msg("mp: bad format character '%c'", *c);
                }
        }
        out.len = sb.size;
        out.data = msgpack_sbuffer_release(&sb);
        if (!out.data)
                out.data = malloc(1);
        return out;
}

static inline struct mp_buf mp(const char *fmt, ...)
{
        struct mp_buf out;
        va_list ap;

        va_start(ap, fmt);
        out = vmp(fmt, ap);
        va_end(ap);
        return out;
}

/* head followed by what fmt packs; frees head */
static inline struct mp_buf mp_append(struct mp_buf head, const char *fmt, ...)
{
        struct mp_buf tail, out;
        va_list ap;

        va_start(ap, fmt);
        tail = vmp(fmt, ap);
        va_end(ap);
        out.len = head.len + tail.len;
        out.data = malloc(out.len ? out.len : 1);
        memcpy(out.data, head.data, head.len);
        memcpy(out.data + head.len, tail.data, tail.len);
        free(head.data);
        free(tail.data);
        return out;
}

/* Asserts that r and err carry code and a message equal to msg (or containing it, if partial). */
static inline void expect_err_(int r, const struct gv_err *err, int code, const char *msg,
                               bool partial, const char *file, int line)
{
        if (r != code || err->code != code ||
            (partial ? !strstr(err->msg, msg) : strcmp(err->msg, msg) != 0)) {
                fail_msg("%s:%d: got %d (%s) \"%s\", want %d (%s) \"%s\"%s", file, line, r,
                         strerror(-r), err->msg, code, strerror(-code), msg,
                         partial ? " (partial)" : "");
        }
}

#define expect_err(r, err, code, msg) expect_err_(r, err, code, msg, false, __FILE__, __LINE__)
#define expect_err_partial(r, err, code, msg) \
        expect_err_(r, err, code, msg, true, __FILE__, __LINE__)

/* a buffer of n bytes filled with c; free() it */
static inline char *filled(size_t n, char c)
{
        char *p = malloc(n + 1);

        memset(p, c, n);
        p[n] = '\0';
        return p;
}

/* xorshift64*, for seeded garbage */
static inline uint64_t test_rand(uint64_t *state)
{
        uint64_t x = *state;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *state = x;
        return x * 0x2545F4914F6CDD1DULL;
}
