// SPDX-License-Identifier: MIT
/*
 * The problem store (see problem.h and the README's "Problems" section): problem.yaml or a bare
 * folder of N.in / N.ans pairs, or a job's inline tests. Every file is opened beneath the
 * problem's folder (openat2 RESOLVE_BENEATH), so neither a "../" path nor a symbolic link can make
 * the judge read the host's files as test data. The version hash is SHA-256 over problem.yaml and
 * every test file, each file's digest remembered by inode and times so reloads cost only stats.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "schema/cleanup.h"
#include "worker/judge/problem/problem.h"
#include "worker/util/yml.h"

#define PROBLEM_TESTS_MAX 100000 /* the schema's array_max: a verdict has a row per test */
#define SUBTASKS_MAX      1000
#define DIGEST_LEN        32

/* ---- opening files beneath a folder ------------------------------------------------------ */

/*
 * Opens rel beneath dirfd: "..", absolute paths and symbolic links that lead out of the folder
 * fail with EXDEV, /proc-style magic links with ELOOP. -errno.
 */
static int open_beneath(int dirfd, const char *rel, int flags, int *ret_fd)
{
        struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC | O_NOCTTY),
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
        long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));

        if (fd < 0)
                return -errno;
        *ret_fd = (int)fd;
        return 0;
}

/* What a failed open means, for messages. */
static const char *open_problem(int r)
{
        switch (r) {
        case -EXDEV:
        case -ELOOP:
                return "leads outside the problem folder";
        case -ENOENT:
                return "no such file";
        default:
                return strerror(-r);
        }
}

/* ---- file digests, remembered ------------------------------------------------------------ */

struct digest_memo {
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime, ctime;
        uint8_t digest[DIGEST_LEN];
        bool used;
};

/* Direct-mapped by inode: a bounded memo needs no eviction policy and no allocation. */
static struct digest_memo memo[1024];
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

static bool memo_matches(const struct digest_memo *m, const struct stat *st)
{
        return m->used && m->dev == st->st_dev && m->ino == st->st_ino && m->size == st->st_size &&
               m->mtime.tv_sec == st->st_mtim.tv_sec && m->mtime.tv_nsec == st->st_mtim.tv_nsec &&
               m->ctime.tv_sec == st->st_ctim.tv_sec && m->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* SHA-256 of fd's whole content (a regular file described by st). -errno. */
static int file_digest(int fd, const struct stat *st, uint8_t digest[DIGEST_LEN])
{
        struct digest_memo *m = &memo[(st->st_ino ^ st->st_dev) % ARRAY_SIZE(memo)];
        cleanup_free uint8_t *buf = NULL;
        EVP_MD_CTX *ctx;
        off_t off = 0;
        ssize_t n;
        int r = 0;

        pthread_mutex_lock(&memo_lock);
        if (memo_matches(m, st)) {
                memcpy(digest, m->digest, DIGEST_LEN);
                pthread_mutex_unlock(&memo_lock);
                return 0;
        }
        pthread_mutex_unlock(&memo_lock);
        ctx = EVP_MD_CTX_new();
        if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
                EVP_MD_CTX_free(ctx);
                return -ENOMEM;
        }
        buf = xmalloc(1 << 16);
        while ((n = pread(fd, buf, 1 << 16, off)) > 0) {
                EVP_DigestUpdate(ctx, buf, (size_t)n);
                off += n;
        }
        if (n < 0)
                r = -errno;
        else
                EVP_DigestFinal_ex(ctx, digest, NULL);
        EVP_MD_CTX_free(ctx);
        if (r < 0)
                return r;
        pthread_mutex_lock(&memo_lock);
        *m = (struct digest_memo){.dev = st->st_dev,
                                  .ino = st->st_ino,
                                  .size = st->st_size,
                                  .mtime = st->st_mtim,
                                  .ctime = st->st_ctim,
                                  .used = true};
        memcpy(m->digest, digest, DIGEST_LEN);
        pthread_mutex_unlock(&memo_lock);
        return 0;
}

static void digest_bytes(const void *buf, size_t len, uint8_t digest[DIGEST_LEN])
{
        EVP_Digest(buf, len, digest, NULL, EVP_sha256(), NULL);
}

static char *hex(const uint8_t *bytes, size_t n)
{
        char *s = xmalloc(2 * n + 1);

        for (size_t i = 0; i < n; i++)
                snprintf(s + 2 * i, 3, "%02x", bytes[i]);
        return s;
}

/* ---- the loader -------------------------------------------------------------------------- */

struct loader {
        const char *dir; /* as given, for messages */
        int dirfd;
        struct problem *problem;
        EVP_MD_CTX *hash;
        size_t cap_tests;
};

void problem_free(struct problem *problem)
{
        if (!problem)
                return;
        free(problem->id);
        free(problem->dir);
        free(problem->hash);
        free(problem->checker_source);
        free(problem->checker_lang);
        for (size_t i = 0; i < problem->n_tests; i++) {
                free(problem->tests[i].in_path);
                free(problem->tests[i].ans_path);
        }
        free(problem->tests);
        for (size_t i = 0; i < problem->n_subtasks; i++) {
                free(problem->subtasks[i].name);
                free(problem->subtasks[i].tests);
                free(problem->subtasks[i].depends);
        }
        free(problem->subtasks);
        free(problem);
}

/* Adds a file to the version hash: its path in the folder and its content's digest. */
static void hash_file(struct loader *l, const char *rel, const uint8_t digest[DIGEST_LEN])
{
        EVP_DigestUpdate(l->hash, rel, strlen(rel) + 1);
        EVP_DigestUpdate(l->hash, digest, DIGEST_LEN);
}

/*
 * Checks that rel is a regular file beneath the folder and hashes it; hands out the descriptor
 * when ret_fd is not NULL. On failure the message is "'rel': why" (the caller adds where it was
 * named).
 */
static int check_file(struct loader *l, const char *rel, int *ret_fd, struct gv_err *err)
{
        uint8_t digest[DIGEST_LEN];
        cleanup_fd int fd = -1;
        struct stat st;
        int r;

        r = open_beneath(l->dirfd, rel, O_RDONLY | O_NONBLOCK, &fd);
        if (r < 0)
                return gv_err_set(err, -EINVAL, "'%s': %s", rel, open_problem(r));
        if (fstat(fd, &st) < 0)
                return gv_err_errno(err, -errno, "'%s'", rel);
        if (!S_ISREG(st.st_mode))
                return gv_err_set(err, -EINVAL, "'%s': not a regular file", rel);
        r = file_digest(fd, &st, digest);
        if (r < 0)
                return gv_err_errno(err, r, "read '%s'", rel);
        hash_file(l, rel, digest);
        if (ret_fd)
                *ret_fd = steal_fd(&fd);
        return 0;
}

/* dir/pre+rel: pre is the subfolder ("" or "tests/") of a scanned test. */
static char *host_path(const struct loader *l, const char *pre, const char *rel)
{
        char *path;

        if (asprintf(&path, "%s/%s%s", l->dir, pre, rel) < 0)
                abort();
        return path;
}

/* Adds a test (paths pre+in, pre+ans in the folder); the files are checked by the caller. */
static int add_test(struct loader *l, const char *pre, const char *in, const char *ans,
                    double points, struct gv_err *err)
{
        struct problem *p = l->problem;

        if (p->n_tests == PROBLEM_TESTS_MAX)
                return gv_err_set(err, -EINVAL, "more than %d tests", PROBLEM_TESTS_MAX);
        if (p->n_tests == l->cap_tests) {
                l->cap_tests = l->cap_tests ? 2 * l->cap_tests : 16;
                p->tests = realloc(p->tests, l->cap_tests * sizeof(p->tests[0]));
                if (!p->tests)
                        abort();
        }
        p->tests[p->n_tests++] = (struct problem_test){.in_path = host_path(l, pre, in),
                                                       .ans_path = host_path(l, pre, ans),
                                                       .points = points};
        return 0;
}

/* ---- a bare folder of N.in / N.ans (or N.out) --------------------------------------------- */

static int check_pair(struct loader *l, const char *pre, const char *in, const char *ans,
                      struct gv_err *err)
{
        cleanup_free char *in_rel = NULL, *ans_rel = NULL;
        int r;

        if (asprintf(&in_rel, "%s%s", pre, in) < 0 || asprintf(&ans_rel, "%s%s", pre, ans) < 0)
                abort();
        r = check_file(l, in_rel, NULL, err);
        return r < 0 ? r : check_file(l, ans_rel, NULL, err);
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
static int scan_bare(struct loader *l, const char *sub, struct gv_err *err)
{
        cleanup_free struct bare_file *files = NULL;
        size_t n = 0, cap = 0, i;
        cleanup_fd int fd = -1;
        char pre[PATH_MAX];
        struct dirent *e;
        DIR *d;
        int r;

        snprintf(pre, sizeof(pre), "%s%s", sub, sub[0] ? "/" : "");
        r = open_beneath(l->dirfd, sub[0] ? sub : ".", O_RDONLY | O_DIRECTORY, &fd);
        if (r < 0)
                return gv_err_set(err, -EINVAL, "'%s': %s", sub,
                                  r == -ENOTDIR ? "not a folder" : open_problem(r));
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
                        r = add_test(l, pre, in->name, ans->name, 0, err);
                if (r < 0)
                        return r;
                i = j;
        }
        return 0;
}

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
        r = check_file(l, *ret, NULL, err);
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
                p->checker_source = host_path(l, "", rel);
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
                r = scan_bare(l, "", err);
                return r < 0 ? gv_err_prefix(err, r, "%s: ", l->dir) : 0;
        }
        if (yml_is_scalar(&tests)) { /* a folder of N.in / N.ans */
                r = yml_as_str(&tests, &sub, err);
                if (r < 0)
                        return r;
                if (sub[0] == '/')
                        return yml_error(&tests, err, -EINVAL,
                                         "expected a folder relative to the problem folder");
                r = scan_bare(l, sub, err);
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
                        r = add_test(l, "", in, ans, points, err);
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

static int load(struct loader *l, struct gv_err *err)
{
        struct yml_doc *doc = NULL;
        cleanup_fd int fd = -1;
        char name[PATH_MAX];
        int r;

        if (faccessat(l->dirfd, "problem.yaml", F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
            errno == ENOENT) { /* a bare folder */
                r = scan_bare(l, "", err);
                return r < 0 ? gv_err_prefix(err, r, "%s: ", l->dir) : 0;
        }
        r = check_file(l, "problem.yaml", &fd, err);
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

int problem_load_dir(const char *dir, struct problem **ret_problem, struct gv_err *err)
{
        struct loader l = {.dirfd = -1};
        uint8_t digest[DIGEST_LEN];
        cleanup_free char *path = xstrdup(dir);
        size_t len = strlen(path);
        const char *base;
        int r;

        while (len > 1 && path[len - 1] == '/')
                path[--len] = '\0';
        l.dir = path;
        l.dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (l.dirfd < 0) {
                r = -errno;
                if (r == -ENOENT)
                        return gv_err_set(err, -ENOENT, "problem folder '%s': no such folder",
                                          path);
                return gv_err_errno(err, r == -ENOTDIR ? -EINVAL : r, "problem folder '%s'", path);
        }
        l.problem = xcalloc(1, sizeof(*l.problem));
        base = strrchr(path, '/');
        l.problem->id = xstrdup(base && base[1] ? base + 1 : path);
        l.problem->dir = xstrdup(path);
        l.hash = EVP_MD_CTX_new();
        if (!l.hash || !EVP_DigestInit_ex(l.hash, EVP_sha256(), NULL))
                abort();
        EVP_DigestUpdate(l.hash, "gavel-problem-1\n", 16);
        r = load(&l, err);
        close(l.dirfd);
        if (r >= 0) {
                EVP_DigestFinal_ex(l.hash, digest, NULL);
                l.problem->hash = hex(digest, DIGEST_LEN);
        }
        EVP_MD_CTX_free(l.hash);
        if (r < 0) {
                problem_free(l.problem);
                return r;
        }
        *ret_problem = l.problem;
        return 0;
}

bool problem_id_valid(const char *id)
{
        size_t n = strlen(id);

        return n && n <= PROBLEM_ID_MAX && id[0] != '.' &&
               strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

int problem_load(const char *store, const char *id, struct problem **ret_problem,
                 struct gv_err *err)
{
        cleanup_free char *path = NULL;
        struct stat st;

        if (!problem_id_valid(id))
                return gv_err_set(err, -EINVAL,
                                  "problem id '%.*s' is not a plain name (letters, digits, _ - ., "
                                  "not starting with '.')",
                                  PROBLEM_ID_MAX, id);
        path = xasprintf("%s/%s", store, id);
        if (stat(path, &st) < 0 && errno == ENOENT)
                return gv_err_set(err, -ENOENT, "problem '%s' is not in the store '%s'", id, store);
        return problem_load_dir(path, ret_problem, err);
}

int problem_from_job(const struct job *job, struct problem **ret_problem, struct gv_err *err)
{
        uint8_t digest[DIGEST_LEN];
        struct problem *p;
        EVP_MD_CTX *ctx;

        if (!job->n_tests || !job->tests)
                return gv_err_set(err, -EINVAL, "job '%s' has no inline tests", job->id);
        ctx = EVP_MD_CTX_new();
        if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
                abort();
        p = xcalloc(1, sizeof(*p));
        p->id = xstrdup(job->id);
        p->checker = job->checker;
        p->checker_eps = job->checker_eps;
        p->tests = xcalloc(job->n_tests, sizeof(p->tests[0]));
        p->n_tests = job->n_tests;
        EVP_DigestUpdate(ctx, "gavel-inline-1\n", 15);
        for (size_t i = 0; i < job->n_tests; i++) {
                const struct job_test *t = &job->tests[i];
                char points[64];

                p->tests[i] = (struct problem_test){.in = t->in,
                                                    .in_len = t->in_len,
                                                    .ans = t->out,
                                                    .ans_len = t->out_len,
                                                    .points = t->points};
                digest_bytes(t->in, t->in_len, digest);
                EVP_DigestUpdate(ctx, digest, DIGEST_LEN);
                digest_bytes(t->out, t->out_len, digest);
                EVP_DigestUpdate(ctx, digest, DIGEST_LEN);
                snprintf(points, sizeof(points), "%d %.17g", t->has_points, t->points);
                EVP_DigestUpdate(ctx, points, strlen(points) + 1);
        }
        EVP_DigestFinal_ex(ctx, digest, NULL);
        EVP_MD_CTX_free(ctx);
        p->hash = hex(digest, DIGEST_LEN);
        *ret_problem = p;
        return 0;
}

/* A memfd holding buf, sealed so neither the judge nor a program handed it can change it. */
static int sealed_memfd(const char *name, const uint8_t *buf, size_t len, int *ret_fd,
                        struct gv_err *err)
{
        cleanup_fd int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        size_t off = 0;
        ssize_t n;

        if (fd < 0)
                return gv_err_errno(err, -errno, "memfd_create");
        while (off < len) {
                n = write(fd, buf + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return gv_err_errno(err, -errno, "write %s", name);
                off += (size_t)n;
        }
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return gv_err_errno(err, -errno, "seal %s", name);
        if (lseek(fd, 0, SEEK_SET) < 0)
                return gv_err_errno(err, -errno, "seek %s", name);
        *ret_fd = steal_fd(&fd);
        return 0;
}

int problem_test_open(const struct problem *problem, size_t i, bool answer, int *ret_fd,
                      struct gv_err *err)
{
        const struct problem_test *t;
        cleanup_fd int dirfd = -1, fd = -1;
        const char *path, *what = answer ? "answer" : "input";
        size_t skip;
        struct stat st;
        int r;

        if (i >= problem->n_tests)
                return gv_err_set(err, -EINVAL, "test %zu of %zu does not exist", i + 1,
                                  problem->n_tests);
        t = &problem->tests[i];
        path = answer ? t->ans_path : t->in_path;
        if (!path)
                return sealed_memfd(answer ? "test-ans" : "test-in", answer ? t->ans : t->in,
                                    answer ? t->ans_len : t->in_len, ret_fd, err);
        skip = problem->dir ? strlen(problem->dir) : 0;
        if (!problem->dir || strncmp(path, problem->dir, skip) || path[skip] != '/')
                return gv_err_set(err, -EINVAL, "test %zu %s '%s' is outside the problem folder",
                                  i + 1, what, path);
        dirfd = open(problem->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return gv_err_errno(err, -errno, "problem folder '%s'", problem->dir);
        r = open_beneath(dirfd, path + skip + 1, O_RDONLY | O_NONBLOCK, &fd);
        if (r < 0)
                return gv_err_set(err, r, "test %zu %s '%s': %s", i + 1, what, path,
                                  open_problem(r));
        if (fstat(fd, &st) < 0)
                return gv_err_errno(err, -errno, "test %zu %s '%s'", i + 1, what, path);
        if (!S_ISREG(st.st_mode))
                return gv_err_set(err, -EINVAL, "test %zu %s '%s': not a regular file", i + 1, what,
                                  path);
        /* O_NONBLOCK only kept a planted fifo from blocking the open; readers expect blocking. */
        fcntl(fd, F_SETFL, 0);
        *ret_fd = steal_fd(&fd);
        return 0;
}
