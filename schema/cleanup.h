/* SPDX-License-Identifier: MIT */
/*
 * Scope-bound cleanup for locals (bubblewrap's and systemd's form): a variable declared with
 * cleanup_free or cleanup_fd is released when it goes out of scope; steal_pointer/steal_fd hand
 * it out and disarm the cleanup. Plus xmalloc and friends for small fixed allocations, which abort
 * on out-of-memory; input-sized allocations are bounded by their callers and checked instead.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define cleanup(fn) __attribute__((cleanup(fn)))

static inline void freep(void *p)
{
        free(*(void **)p);
}

static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;

                close(*fd);
                errno = saved;
        }
}

#define cleanup_free cleanup(freep)
#define cleanup_fd   cleanup(closep)

#define steal_pointer(pp)                 \
        ({                                \
                typeof(*(pp)) _p = *(pp); \
                *(pp) = NULL;             \
                _p;                       \
        })

static inline int steal_fd(int *fd)
{
        int r = *fd;

        *fd = -1;
        return r;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);

        if (!p)
                abort();
        return p;
}

static inline void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);

        if (!p)
                abort();
        return p;
}

static inline char *xstrdup(const char *s)
{
        char *p = strdup(s);

        if (!p)
                abort();
        return p;
}

/* A malloc'ed formatted string (small, bounded messages and paths only). */
__attribute__((format(printf, 1, 2))) static inline char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *s;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                abort();
        return s;
}

static inline void *xmemdup(const void *src, size_t n)
{
        void *p = xmalloc(n + 1);

        memcpy(p, src, n);
        ((char *)p)[n] = '\0'; /* so str and bin copies can be used as C strings too */
        return p;
}
