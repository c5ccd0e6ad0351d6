// SPDX-License-Identifier: MIT
/*
 * problem.yaml: limits, checker, tests in order, optional subtasks (the README's "Problems"
 * section). Errors name the file, the line and the field.
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
#include "worker/util/yml.h"

/* ---- problem.yaml ------------------------------------------------------------------------- */

/* Prefixes err's message with where y is in problem.yaml ("file:line: path: "). */
static int locate(const struct yml *y, struct gv_err *err, int r)
{
        return err ? yml_error(y, err, r, "%s", err->msg) : r;
}

/* A file path relative to the problem folder, read at map[key] and checked. */
static int get_rel_path(struct loader *l, const struct yml *map, const char *key, char **ret,
                        struct gv_err *err)
{
        struct yml y;
        int r;

        r = yml_get(map, key, &y, err);
        if (r < 0)
                return r;
        if (!r)
                return yml_error(&y, err, -EINVAL, "missing (a file in the problem folder)");
        r = yml_as_str(&y, ret, err);
        if (r < 0)
                return r;
        if ((*ret)[0] == '/' || !(*ret)[0]) {
                free(steal_pointer(ret));
                return yml_error(&y, err, -EINVAL,
                                 "expected a path relative to the problem folder");
        }
        r = problem__check_file(l, *ret, NULL, err);
        if (r < 0) {
                free(steal_pointer(ret));
                return locate(&y, err, r);
        }
        return 0;
}

static int parse_checker(struct loader *l, const struct yml *root, struct gv_err *err)
{
        static const char *const keys[] = {"name", "eps", "source", "lang", NULL};
        struct problem *p = l->problem;
        cleanup_free char *name = NULL, *rel = NULL;
        struct yml y, v;
        int r;

        r = yml_get(root, "checker", &y, err);
        if (r <= 0)
                return r;
        if (yml_is_scalar(&y)) {
                r = yml_as_str(&y, &name, err);
                v = y;
        } else {
                if (!yml_is_map(&y))
                        return yml_error(&y, err, -EINVAL,
                                         "expected a checker name or a mapping with 'name'");
                r = yml_check_keys(&y, keys, err);
                if (r >= 0 && (r = yml_get(&y, "name", &v, err)) == 0)
                        return yml_error(&v, err, -EINVAL,
                                         "missing (tokens, exact, lines, float or custom)");
                if (r > 0)
                        r = yml_as_str(&v, &name, err);
        }
        if (r < 0)
                return r;
        if (!strcmp(name, "custom")) {
                if (!yml_is_map(&y))
                        return yml_error(&y, err, -EINVAL,
                                         "custom: expected a mapping with 'source' (and 'lang')");
                r = get_rel_path(l, &y, "source", &p->checker_source, err);
                if (r < 0)
                        return r;
                /* The path as the judge opens it (check_file hashed the bytes). */
                rel = steal_pointer(&p->checker_source);
                p->checker_source = problem__host_path(l, "", rel);
                r = yml_get_str(&y, "lang", &p->checker_lang, err);
                if (r < 0)
                        return r;
                if (!r)
                        p->checker_lang = xstrdup("cpp");
                if (yml_get(&y, "eps", &v, NULL) > 0)
                        return yml_error(&v, err, -EINVAL, "only for the float checker");
                return 0;
        }
        p->checker = schema_checker_from_name(name);
        if (p->checker == _SCHEMA_CHECKER_INVALID || p->checker == SCHEMA_CHECKER_DEFAULT)
                return yml_error(&v, err, -EINVAL,
                                 "unknown checker '%s' (tokens, exact, lines, float or custom)",
                                 name);
        if (yml_is_map(&y)) {
                if (yml_get(&y, "source", &v, NULL) > 0 || yml_get(&y, "lang", &v, NULL) > 0)
                        return yml_error(&v, err, -EINVAL, "only for a custom checker");
                r = yml_get_double(&y, "eps", 0, 1, &p->checker_eps, err);
                if (r < 0)
                        return r;
                if (r > 0 && p->checker != SCHEMA_CHECKER_FLOAT) {
                        yml_get(&y, "eps", &v, NULL);
                        return yml_error(&v, err, -EINVAL, "only for the float checker");
                }
        }
        return 0;
}

static int parse_limits(const struct yml *root, struct job_limits *lim, struct gv_err *err)
{
        uint64_t v;
        int r;

        r = yml_get_ms(root, "time", 1, 600000, &v, err);
        if (r > 0)
                lim->time_ms = (uint32_t)v;
        if (r >= 0 && (r = yml_get_ms(root, "wall", 1, 1200000, &v, err)) > 0)
                lim->wall_ms = (uint32_t)v;
        if (r >= 0)
                r = yml_get_kib(root, "memory", 1024, 64ull << 20, &lim->memory_kib, err);
        if (r >= 0)
                r = yml_get_kib(root, "output", 1, 16ull << 20, &lim->output_kib, err);
        return r < 0 ? r : 0;
}

static int parse_tests(struct loader *l, const struct yml *root, bool subtasks, struct gv_err *err)
{
        static const char *const keys[] = {"in", "ans", "points", NULL};
        cleanup_free char *sub = NULL;
        struct yml tests;
        size_t n;
        int r;

        r = yml_get(root, "tests", &tests, err);
        if (r < 0)
                return r;
        if (!r) { /* the problem folder's own N.in / N.ans */
                r = problem__scan_bare(l, "", err);
                return r < 0 ? gv_err_prefix(err, r, "%s: ", l->dir) : 0;
        }
        if (yml_is_scalar(&tests)) { /* a folder of N.in / N.ans */
                r = yml_as_str(&tests, &sub, err);
                if (r < 0)
                        return r;
                if (sub[0] == '/')
                        return yml_error(&tests, err, -EINVAL,
                                         "expected a folder relative to the problem folder");
                r = problem__scan_bare(l, sub, err);
                return r < 0 ? locate(&tests, err, r) : 0;
        }
        if (!yml_is_seq(&tests))
                return yml_error(&tests, err, -EINVAL,
                                 "expected a list of {in, ans} or a folder of N.in/N.ans files");
        n = yml_seq_len(&tests);
        if (!n)
                return yml_error(&tests, err, -EINVAL, "expected at least one test");
        for (size_t i = 0; i < n; i++) {
                cleanup_free char *in = NULL, *ans = NULL;
                double points = 0;
                struct yml t;

                yml_seq_at(&tests, i, &t);
                if (!yml_is_map(&t))
                        return yml_error(&t, err, -EINVAL, "expected a mapping {in, ans}");
                r = yml_check_keys(&t, keys, err);
                if (r >= 0)
                        r = get_rel_path(l, &t, "in", &in, err);
                if (r >= 0)
                        r = get_rel_path(l, &t, "ans", &ans, err);
                if (r >= 0)
                        r = yml_get_double(&t, "points", 0, 1e9, &points, err);
                if (r > 0 && subtasks) {
                        yml_get(&t, "points", &t, NULL);
                        return yml_error(&t, err, -EINVAL,
                                         "a problem with subtasks scores by subtask");
                }
                if (r >= 0)
                        r = problem__add_test(l, "", in, ans, points, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "3" or "2-5" (1-based, inclusive) into 0-based *lo..*hi. */
static int parse_range(const struct yml *y, size_t n_tests, size_t *lo, size_t *hi,
                       struct gv_err *err)
{
        cleanup_free char *s = NULL;
        unsigned long long a, b;
        char *end;

        if (!yml_is_scalar(y) || yml_is_null(y) || yml_as_str(y, &s, NULL) < 0)
                return yml_error(y, err, -EINVAL, "expected a test number or a range \"a-b\"");
        if (s[0] < '0' || s[0] > '9')
                goto bad;
        errno = 0;
        a = b = strtoull(s, &end, 10);
        if (*end == '-') {
                if (end[1] < '0' || end[1] > '9')
                        goto bad;
                b = strtoull(end + 1, &end, 10);
        }
        if (*end || errno)
                goto bad;
        if (a > b)
                return yml_error(y, err, -EINVAL, "range '%s' is backwards", s);
        if (a < 1 || b > n_tests)
                return yml_error(y, err, -EINVAL, "test %llu does not exist (tests are 1..%zu)",
                                 a < 1 ? a : b, n_tests);
        *lo = (size_t)a - 1;
        *hi = (size_t)b - 1;
        return 0;
bad:
        return yml_error(y, err, -EINVAL, "expected a test number or a range \"a-b\", found '%s'",
                         s);
}

/* A subtask's tests: one number or range, or a list of them; each test at most once. */
static int parse_subtask_tests(const struct yml *sub, size_t n_tests, struct problem_subtask *st,
                               struct gv_err *err)
{
        cleanup_free uint8_t *seen = NULL;
        struct yml tests, item;
        size_t n, lo = 0, hi = 0;
        int r;

        r = yml_get(sub, "tests", &tests, err);
        if (r < 0)
                return r;
        if (!r)
                return yml_error(&tests, err, -EINVAL, "missing (test numbers, from 1)");
        n = yml_is_seq(&tests) ? yml_seq_len(&tests) : 1;
        if (!n)
                return yml_error(&tests, err, -EINVAL, "expected at least one test");
        seen = xcalloc(n_tests, 1);
        st->tests = xcalloc(n_tests, sizeof(st->tests[0]));
        for (size_t i = 0; i < n; i++) {
                if (yml_is_seq(&tests))
                        yml_seq_at(&tests, i, &item);
                else
                        item = tests;
                r = parse_range(&item, n_tests, &lo, &hi, err);
                if (r < 0)
                        return r;
                for (size_t t = lo; t <= hi; t++) {
                        if (seen[t])
                                return yml_error(&item, err, -EINVAL, "test %zu listed twice",
                                                 t + 1);
                        seen[t] = 1;
                        st->tests[st->n_tests++] = t;
                }
        }
        return 0;
}

static ssize_t subtask_index(const struct problem *p, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(p->subtasks[i].name, name))
                        return (ssize_t)i;
        return -1;
}

static int parse_depends(const struct yml *sub, struct problem *p, size_t self, struct gv_err *err)
{
        struct problem_subtask *st = &p->subtasks[self];
        cleanup_free char *name = NULL;
        struct yml deps, item;
        size_t n;
        int r;

        r = yml_get(sub, "depends", &deps, err);
        if (r <= 0)
                return r;
        n = yml_is_seq(&deps) ? yml_seq_len(&deps) : 1;
        st->depends = xcalloc(n ? n : 1, sizeof(st->depends[0]));
        for (size_t i = 0; i < n; i++) {
                ssize_t k;

                if (yml_is_seq(&deps))
                        yml_seq_at(&deps, i, &item);
                else
                        item = deps;
                free(steal_pointer(&name));
                r = yml_as_str(&item, &name, err);
                if (r < 0)
                        return r;
                k = subtask_index(p, p->n_subtasks, name);
                if (k < 0)
                        return yml_error(&item, err, -EINVAL, "no subtask named '%s'", name);
                for (size_t j = 0; j < st->n_depends; j++)
                        if (st->depends[j] == (size_t)k)
                                return yml_error(&item, err, -EINVAL, "'%s' listed twice", name);
                st->depends[st->n_depends++] = (size_t)k;
        }
        return 0;
}

/*
 * Depth-first search for a cycle through the dependencies: colour 1 on the stack, 2 done. On a
 * cycle, path[] holds it and the return is its length.
 */
static size_t find_cycle(const struct problem *p, size_t u, uint8_t *colour, size_t *path,
                         size_t depth)
{
        const struct problem_subtask *st = &p->subtasks[u];

        colour[u] = 1;
        path[depth] = u;
        for (size_t i = 0; i < st->n_depends; i++) {
                size_t v = st->depends[i], len;

                if (colour[v] == 1) { /* back to v: the cycle is path[from v] .. u, v */
                        size_t from = depth;

                        while (path[from] != v)
                                from--;
                        memmove(path, path + from, (depth - from + 1) * sizeof(path[0]));
                        return depth - from + 1;
                }
                if (!colour[v] && (len = find_cycle(p, v, colour, path, depth + 1)))
                        return len;
        }
        colour[u] = 2;
        return 0;
}

static int check_cycles(const struct yml *subs, const struct problem *p, struct gv_err *err)
{
        cleanup_free uint8_t *colour = xcalloc(p->n_subtasks, 1);
        cleanup_free size_t *path = xcalloc(p->n_subtasks, sizeof(size_t));

        for (size_t u = 0; u < p->n_subtasks; u++) {
                char text[200] = "";
                struct yml sub, deps;
                size_t len, at = 0;

                if (colour[u] || !(len = find_cycle(p, u, colour, path, 0)))
                        continue;
                for (size_t i = 0; i <= len && at < sizeof(text); i++)
                        at += (size_t)snprintf(text + at, sizeof(text) - at, "%s%s",
                                               i ? " -> " : "", p->subtasks[path[i % len]].name);
                yml_seq_at(subs, path[0], &sub);
                yml_get(&sub, "depends", &deps, NULL);
                return yml_error(&deps, err, -EINVAL, "dependency cycle: %s", text);
        }
        return 0;
}

static int parse_subtasks(const struct yml *root, struct problem *p, struct gv_err *err)
{
        static const char *const keys[] = {"name", "points", "tests", "depends", NULL};
        struct yml subs, sub;
        size_t n;
        int r;

        r = yml_get(root, "subtasks", &subs, err);
        if (r <= 0)
                return r;
        if (!yml_is_seq(&subs))
                return yml_error(&subs, err, -EINVAL, "expected a list of subtasks");
        n = yml_seq_len(&subs);
        if (!n || n > SUBTASKS_MAX)
                return yml_error(&subs, err, -EINVAL, "expected 1 to %d subtasks", SUBTASKS_MAX);
        p->subtasks = xcalloc(n, sizeof(p->subtasks[0]));
        for (size_t i = 0; i < n; i++) {
                struct problem_subtask *st = &p->subtasks[i];
                struct yml name;

                yml_seq_at(&subs, i, &sub);
                if (!yml_is_map(&sub))
                        return yml_error(&sub, err, -EINVAL,
                                         "expected a mapping {name, points, tests}");
                p->n_subtasks = i + 1; /* so problem_free frees what is there */
                r = yml_check_keys(&sub, keys, err);
                if (r >= 0)
                        r = yml_get_str(&sub, "name", &st->name, err);
                if (r == 0)
                        return yml_error(&sub, err, -EINVAL, "name: missing");
                if (r >= 0 && subtask_index(p, i, st->name) >= 0) {
                        yml_get(&sub, "name", &name, NULL);
                        return yml_error(&name, err, -EINVAL, "'%s' given twice", st->name);
                }
                if (r >= 0)
                        r = yml_get_double(&sub, "points", 0, 1e9, &st->points, err);
                if (r == 0)
                        return yml_error(&sub, err, -EINVAL, "points: missing");
                if (r >= 0)
                        r = parse_subtask_tests(&sub, p->n_tests, st, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                yml_seq_at(&subs, i, &sub);
                r = parse_depends(&sub, p, i, err);
                if (r < 0)
                        return r;
        }
        return check_cycles(&subs, p, err);
}

static int parse_yaml(struct loader *l, struct yml_doc *doc, struct gv_err *err)
{
        static const char *const keys[] = {YML_MS_KEYS("time"),
                                           YML_MS_KEYS("wall"),
                                           YML_KIB_KEYS("memory"),
                                           YML_KIB_KEYS("output"),
                                           "checker",
                                           "tests",
                                           "subtasks",
                                           NULL};
        struct yml root, subs;
        int r;

        yml_root(doc, &root);
        r = yml_want_map(&root, err);
        if (r >= 0)
                r = yml_check_keys(&root, keys, err);
        if (r >= 0)
                r = parse_limits(&root, &l->problem->limits, err);
        if (r >= 0)
                r = parse_checker(l, &root, err);
        if (r >= 0)
                r = parse_tests(l, &root, yml_get(&root, "subtasks", &subs, NULL) > 0, err);
        if (r >= 0)
                r = parse_subtasks(&root, l->problem, err);
        return r;
}

static bool yaml_probe(const struct problem__source *src)
{
        return src->dirfd >= 0 &&
               !(faccessat(src->dirfd, "problem.yaml", F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
                 errno == ENOENT);
}

static int yaml_load(struct loader *l, const struct problem__source *src, struct gv_err *err)
{
        struct yml_doc *doc = NULL;
        cleanup_fd int fd = -1;
        char name[PATH_MAX];
        int r;

        (void)src;
        r = problem__check_file(l, "problem.yaml", &fd, err);
        if (r < 0)
                return gv_err_prefix(err, r, "%s: ", l->dir);
        snprintf(name, sizeof(name), "%s/problem.yaml", l->dir);
        r = yml_load_fd(fd, name, &doc, err);
        if (r < 0)
                return r == -E2BIG ? -EINVAL : r;
        r = parse_yaml(l, doc, err);
        yml_doc_free(doc);
        return r;
}

/* A folder with problem.yaml (the README's "Problems" section). */
const struct problem__format problem__yaml = {
        .name = "yaml",
        .hash_tag = PROBLEM_HASH_TAG_DIR,
        .probe = yaml_probe,
        .load = yaml_load,
};
