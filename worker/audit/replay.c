// SPDX-License-Identifier: MIT
/*
 * The pure part of `gavel replay`: comparing verdicts and rewriting jobs for a requeue.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "worker/audit/replay.h"

struct diff {
        char *buf;
        size_t size, len;
        bool same;
};

static void add(struct diff *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct diff *d, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (d->size && d->len < d->size - 1 && !d->same)
                d->len += (size_t)snprintf(d->buf + d->len, d->size - d->len, "; ");
        d->same = false;
        if (!d->size || d->len >= d->size - 1)
                return;
        va_start(ap, fmt);
        n = vsnprintf(d->buf + d->len, d->size - d->len, fmt, ap);
        va_end(ap);
        if (n > 0)
                d->len += (size_t)n;
        if (d->len >= d->size)
                d->len = d->size - 1;
}

static const char *code(enum schema_code c)
{
        const char *s = schema_code_name(c);

        return s ? s : "?";
}

bool replay_same_verdict(const struct verdict *recorded, const struct verdict *now, char *buf,
                         size_t size)
{
        struct diff d = {.buf = buf, .size = size, .same = true};
        const unsigned shown_max = 8; /* test lines, then a count */
        unsigned shown = 0, more = 0;

        if (size)
                buf[0] = '\0';
        if (recorded->verdict != now->verdict)
                add(&d, "verdict %s -> %s", code(recorded->verdict), code(now->verdict));
        if (recorded->score != now->score)
                add(&d, "score %g -> %g", recorded->score, now->score);
        if (recorded->compile.present != now->compile.present ||
            recorded->compile.ok != now->compile.ok)
                add(&d, "compile %s -> %s",
                    !recorded->compile.present ? "none"
                    : recorded->compile.ok     ? "ok"
                                               : "failed",
                    !now->compile.present ? "none"
                    : now->compile.ok     ? "ok"
                                          : "failed");
        if (recorded->n_tests != now->n_tests)
                add(&d, "tests %zu -> %zu", recorded->n_tests, now->n_tests);
        for (size_t i = 0; i < recorded->n_tests && i < now->n_tests; i++) {
                if (recorded->tests[i].verdict == now->tests[i].verdict)
                        continue;
                if (shown++ < shown_max)
                        add(&d, "test %zu: %s -> %s", i + 1, code(recorded->tests[i].verdict),
                            code(now->tests[i].verdict));
                else
                        more++;
        }
        if (more)
                add(&d, "%u more tests differ", more);
        return d.same;
}

int replay_requeue_job(const void *raw, size_t len, void **ret_buf, size_t *ret_len,
                       struct gv_err *err)
{
        struct job job;
        int r;

        r = schema_job_decode(raw, len, NULL, &job, err);
        if (r < 0)
                return r;
        job.attempt = job.attempt < UINT32_MAX ? job.attempt + 1 : job.attempt;
        job.rejudge = true;
        r = schema_job_encode(&job, ret_buf, ret_len);
        job_done(&job);
        if (r < 0)
                return gv_err_set(err, r, "encode the job again: %s", strerror(-r));
        return 0;
}
