// SPDX-License-Identifier: MIT
/*
 * A job's inline tests as a problem: the data borrowed from the job, hashed by content and
 * points so the same tests are the same version.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "schema/cleanup.h"
#include "worker/judge/problem/problem-internal.h"

static bool inline_probe(const struct problem__source *src)
{
        return src->job != NULL;
}

static int inline_load(struct loader *l, const struct problem__source *src, struct gv_err *err)
{
        const struct job *job = src->job;
        struct problem *p = l->problem;
        uint8_t digest[DIGEST_LEN];

        if (!job->n_tests || !job->tests)
                return gv_err_set(err, -EINVAL, "job '%s' has no inline tests", job->id);
        p->checker = job->checker;
        p->checker_eps = job->checker_eps;
        p->tests = xcalloc(job->n_tests, sizeof(p->tests[0]));
        p->n_tests = job->n_tests;
        for (size_t i = 0; i < job->n_tests; i++) {
                const struct job_test *t = &job->tests[i];
                char points[64];

                p->tests[i] = (struct problem_test){.in = t->in,
                                                    .in_len = t->in_len,
                                                    .ans = t->out,
                                                    .ans_len = t->out_len,
                                                    .points = t->points};
                problem__digest_bytes(t->in, t->in_len, digest);
                EVP_DigestUpdate(l->hash, digest, DIGEST_LEN);
                problem__digest_bytes(t->out, t->out_len, digest);
                EVP_DigestUpdate(l->hash, digest, DIGEST_LEN);
                snprintf(points, sizeof(points), "%d %.17g", t->has_points, t->points);
                EVP_DigestUpdate(l->hash, points, strlen(points) + 1);
        }
        return 0;
}

/* A job's inline tests, their data borrowed from the job; no limits of its own, its checker. */
const struct problem__format problem__inline = {
        .name = "inline",
        .hash_tag = "gavel-inline-1\n",
        .probe = inline_probe,
        .load = inline_load,
};
