// SPDX-License-Identifier: MIT
/*
 * A bare problem folder: N.in with N.ans (or N.out) for any numbers N, run in numeric order;
 * other files are ignored. problem.yaml's `tests: FOLDER` reads a folder the same way.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schema/cleanup.h"
#include "worker/judge/problem/problem-internal.h"

/* ---- a bare folder of N.in / N.ans (or N.out) --------------------------------------------- */

static int check_pair(struct loader *l, const char *pre, const char *in, const char *ans,
                      struct gv_err *err)
{
        cleanup_free char *in_rel = NULL, *ans_rel = NULL;
        int r;

        if (asprintf(&in_rel, "%s%s", pre, in) < 0 || asprintf(&ans_rel, "%s%s", pre, ans) < 0)
                abort();
        r = problem__check_file(l, in_rel, NULL, err);
        return r < 0 ? r : problem__check_file(l, ans_rel, NULL, err);
}

enum { KIND_IN, KIND_ANS, KIND_OUT };

struct bare_file {
        unsigned long long n;
        int kind;
        char name[32];
};

static int cmp_bare(const void *a, const void *b)
{
        const struct bare_file *x = a, *y = b;

        if (x->n != y->n)
                return x->n < y->n ? -1 : 1;
        return x->kind - y->kind;
}

/* "12.in" -> 12, KIND_IN; false for any other name. */
static bool bare_name(const char *name, struct bare_file *ret)
{
        static const char *const ext[] = {[KIND_IN] = "in", [KIND_ANS] = "ans", [KIND_OUT] = "out"};
        size_t digits = strspn(name, "0123456789");

        if (!digits || digits > 18 || name[digits] != '.' || strlen(name) >= sizeof(ret->name))
                return false;
        for (int k = 0; k < (int)ARRAY_SIZE(ext); k++) {
                if (strcmp(name + digits + 1, ext[k]))
                        continue;
                ret->n = strtoull(name, NULL, 10);
                ret->kind = k;
                memcpy(ret->name, name, strlen(name) + 1);
                return true;
        }
        return false;
}

/*
 * Adds the N.in / N.ans pairs of folder sub ("" for the problem folder itself), in numeric
 * order. Errors are "sub/3.in: ..." relative to the problem folder.
 */
int problem__scan_bare(struct loader *l, const char *sub, struct gv_err *err)
{
        cleanup_free struct bare_file *files = NULL;
        size_t n = 0, cap = 0, i;
        cleanup_fd int fd = -1;
        char pre[PATH_MAX];
        struct dirent *e;
        DIR *d;
        int r;

        snprintf(pre, sizeof(pre), "%s%s", sub, sub[0] ? "/" : "");
        r = problem__open_beneath(l->dirfd, sub[0] ? sub : ".", O_RDONLY | O_DIRECTORY, &fd);
        if (r < 0)
                return gv_err_set(err, -EINVAL, "'%s': %s", sub,
                                  r == -ENOTDIR ? "not a folder" : problem__open_problem(r));
        d = fdopendir(fd);
        if (!d)
                return gv_err_errno(err, -errno, "read folder '%s'", sub[0] ? sub : l->dir);
        steal_fd(&fd);
        while ((e = readdir(d))) {
                struct bare_file f;

                if (!bare_name(e->d_name, &f))
                        continue;
                if (n == PROBLEM_TESTS_MAX * 3) {
                        closedir(d);
                        return gv_err_set(err, -EINVAL, "'%s': more than %d tests",
                                          sub[0] ? sub : l->dir, PROBLEM_TESTS_MAX);
                }
                if (n == cap) {
                        cap = cap ? 2 * cap : 32;
                        files = realloc(files, cap * sizeof(files[0]));
                        if (!files)
                                abort();
                }
                files[n++] = f;
        }
        closedir(d);
        if (!n)
                return gv_err_set(err, -EINVAL, "no tests: no N.in with N.ans (or N.out) in '%s'",
                                  sub[0] ? sub : l->dir);
        qsort(files, n, sizeof(files[0]), cmp_bare);
        for (i = 0; i < n;) {
                const struct bare_file *in = &files[i], *ans = NULL;
                size_t j = i + 1;

                for (; j < n && files[j].n == in->n; j++) {
                        if (files[j].kind == files[j - 1].kind)
                                return gv_err_set(err, -EINVAL,
                                                  "%s%s and %s%s: the same test number", pre,
                                                  files[j - 1].name, pre, files[j].name);
                        if (files[j].kind != KIND_IN && ans)
                                return gv_err_set(err, -EINVAL,
                                                  "%s%s and %s%s: two answers for one test", pre,
                                                  ans->name, pre, files[j].name);
                        if (files[j].kind != KIND_IN)
                                ans = &files[j];
                }
                if (in->kind != KIND_IN)
                        return gv_err_set(err, -EINVAL, "%s%s: no input %s%llu.in", pre, in->name,
                                          pre, in->n);
                if (!ans)
                        return gv_err_set(err, -EINVAL, "%s%s: no answer %s%llu.ans (or .out)", pre,
                                          in->name, pre, in->n);
                r = check_pair(l, pre, in->name, ans->name, err);
                if (r >= 0)
                        r = problem__add_test(l, pre, in->name, ans->name, 0, err);
                if (r < 0)
                        return r;
                i = j;
        }
        return 0;
}

static bool bare_probe(const struct problem__source *src)
{
        return src->dirfd >= 0;
}

static int bare_load(struct loader *l, const struct problem__source *src, struct gv_err *err)
{
        int r = problem__scan_bare(l, "", err);

        (void)src;
        return r < 0 ? gv_err_prefix(err, r, "%s: ", l->dir) : 0;
}

/* A folder without problem.yaml: its own N.in / N.ans pairs; the checker is tokens. */
const struct problem__format problem__bare = {
        .name = "bare",
        .hash_tag = PROBLEM_HASH_TAG_DIR,
        .probe = bare_probe,
        .load = bare_load,
};
