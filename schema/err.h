/* SPDX-License-Identifier: MIT */
/*
 * The one error convention of gavel: an action returns 0 or -errno and fills a caller-owned
 * struct gv_err with a message. The buffer is fixed so that error paths never allocate; it works
 * in a post-fork child and can be sent over a socket as is. Header-only: every module uses it.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct gv_err {
        int code;      /* -errno, 0 when unset */
        char msg[256]; /* lower-case message, no trailing newline */
};

/* Sets err (may be NULL) to code and the formatted message; returns code. */
__attribute__((format(printf, 3, 4))) static inline int gv_err_set(struct gv_err *err, int code,
                                                                   const char *fmt, ...)
{
        va_list ap;

        if (!err)
                return code;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        return code;
}

/*
 * Prepends the formatted text verbatim to err's message (no separator added) and makes code its
 * code; returns code, also when err is NULL, so that `return gv_err_prefix(err, r, "x: ");` passes
 * the caller's error on either way.
 */
__attribute__((format(printf, 3, 4))) static inline int gv_err_prefix(struct gv_err *err, int code,
                                                                      const char *fmt, ...)
{
        char pre[sizeof(err->msg)];
        size_t n, old;
        va_list ap;
        int k;

        if (!err)
                return code;
        va_start(ap, fmt);
        k = vsnprintf(pre, sizeof(pre), fmt, ap);
        va_end(ap);
        n = k < 0 ? 0 : (size_t)k < sizeof(pre) ? (size_t)k : sizeof(pre) - 1;
        old = strnlen(err->msg, sizeof(err->msg) - 1);
        if (n + old > sizeof(err->msg) - 1)
                old = sizeof(err->msg) - 1 - n;
        memmove(err->msg + n, err->msg, old);
        memcpy(err->msg, pre, n);
        err->msg[n + old] = '\0';
        err->code = code;
        return code;
}

/* Like gv_err_set, with ": strerror(-code)" appended. */
__attribute__((format(printf, 3, 4))) static inline int gv_err_errno(struct gv_err *err, int code,
                                                                     const char *fmt, ...)
{
        size_t n;
        va_list ap;

        if (!err)
                return code;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        n = strlen(err->msg);
        snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(-code));
        return code;
}
