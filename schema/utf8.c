/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 for every str gavel writes: msgpack's str is UTF-8, and clients in Python, Go and JS
 * decode it as such by default, so one stray byte of a compiler's echo of a hostile source would
 * stop every reader of the verdicts topic. A checker and a sanitiser that replaces each
 * ill-formed sequence with U+FFFD, as Unicode recommends (its maximal subpart, one each).
 */
#include <string.h>

#include "schema/cleanup.h"
#include "schema/schema.h"

/* The length of the well-formed character at p[0..n), or 0 when none starts there (then *bad
 * is how many bytes make the maximal subpart to replace: at least 1). Table 3-7 of Unicode. */
static size_t char_len(const unsigned char *p, size_t n, size_t *bad)
{
        unsigned char c = p[0], lo = 0x80, hi = 0xbf;
        size_t len, i;

        if (c >= 0x01 && c <= 0x7f)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
                hi = c == 0xed ? 0x9f : 0xbf; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                lo = c == 0xf0 ? 0x90 : 0x80;
                hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing above U+10FFFF */
        } else {
                *bad = 1; /* NUL (a C string would end there), a continuation byte, C0, C1, F5.. */
                return 0;
        }
        for (i = 1; i < len; i++) {
                if (i >= n || p[i] < lo || p[i] > hi) {
                        *bad = i;
                        return 0;
                }
                lo = 0x80;
                hi = 0xbf;
        }
        return len;
}

bool schema_utf8_valid(const void *buf, size_t len)
{
        const unsigned char *p = buf;
        size_t bad, k;

        for (size_t i = 0; i < len; i += k) {
                k = char_len(p + i, len - i, &bad);
                if (!k)
                        return false;
        }
        return true;
}

char *schema_utf8_dup(const void *buf, size_t len, size_t max)
{
        static const char fffd[] = "\xef\xbf\xbd";
        const unsigned char *p = buf;
        char *out = xmalloc(max + 1);
        size_t o = 0, bad, k;

        for (size_t i = 0; i < len;) {
                k = char_len(p + i, len - i, &bad);
                if (k) {
                        if (o + k > max)
                                break;
                        memcpy(out + o, p + i, k);
                        o += k;
                        i += k;
                } else {
                        if (o + 3 > max)
                                break;
                        memcpy(out + o, fffd, 3);
                        o += 3;
                        i += bad;
                }
        }
        out[o] = '\0';
        return out;
}

void schema_utf8_fix(char **s)
{
        char *fixed;
        size_t n;

        if (!*s)
                return;
        n = strlen(*s);
        if (schema_utf8_valid(*s, n))
                return;
        fixed = schema_utf8_dup(*s, n, 3 * n);

        free(*s);
        *s = fixed;
}
