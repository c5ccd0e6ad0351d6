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
#include "worker/judge/problem/problem-internal.h"
#include "worker/util/fileio.h"

/* ---- opening files beneath a folder ------------------------------------------------------ */

/*
 * Opens rel beneath dirfd: "..", absolute paths and symbolic links that lead out of the folder
 * fail with EXDEV, /proc-style magic links with ELOOP. -errno.
 */
int problem__open_beneath(int dirfd, const char *rel, int flags, int *ret_fd)
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
const char *problem__open_problem(int r)
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

void problem__digest_bytes(const void *buf, size_t len, uint8_t digest[DIGEST_LEN])
{
        EVP_Digest(buf, len, digest, NULL, EVP_sha256(), NULL);
}

char *problem__hex(const uint8_t *bytes, size_t n)
{
        char *s = xmalloc(2 * n + 1);

        for (size_t i = 0; i < n; i++)
                snprintf(s + 2 * i, 3, "%02x", bytes[i]);
        return s;
}

/* ---- the loader -------------------------------------------------------------------------- */

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
void problem__hash_file(struct loader *l, const char *rel, const uint8_t digest[DIGEST_LEN])
{
        EVP_DigestUpdate(l->hash, rel, strlen(rel) + 1);
        EVP_DigestUpdate(l->hash, digest, DIGEST_LEN);
}

/*
 * Checks that rel is a regular file beneath the folder and hashes it; hands out the descriptor
 * when ret_fd is not NULL. On failure the message is "'rel': why" (the caller adds where it was
 * named).
 */
int problem__check_file(struct loader *l, const char *rel, int *ret_fd, struct gv_err *err)
{
        uint8_t digest[DIGEST_LEN];
        cleanup_fd int fd = -1;
        struct stat st;
        int r;

        r = problem__open_beneath(l->dirfd, rel, O_RDONLY | O_NONBLOCK, &fd);
        if (r < 0)
                return gv_err_set(err, -EINVAL, "'%s': %s", rel, problem__open_problem(r));
        if (fstat(fd, &st) < 0)
                return gv_err_errno(err, -errno, "'%s'", rel);
        if (!S_ISREG(st.st_mode))
                return gv_err_set(err, -EINVAL, "'%s': not a regular file", rel);
        r = file_digest(fd, &st, digest);
        if (r < 0)
                return gv_err_errno(err, r, "read '%s'", rel);
        problem__hash_file(l, rel, digest);
        if (ret_fd)
                *ret_fd = steal_fd(&fd);
        return 0;
}

/* dir/pre+rel: pre is the subfolder ("" or "tests/") of a scanned test. */
char *problem__host_path(const struct loader *l, const char *pre, const char *rel)
{
        char *path;

        if (asprintf(&path, "%s/%s%s", l->dir, pre, rel) < 0)
                abort();
        return path;
}

/* Adds a test (paths pre+in, pre+ans in the folder); the files are checked by the caller. */
int problem__add_test(struct loader *l, const char *pre, const char *in, const char *ans,
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
        p->tests[p->n_tests++] = (struct problem_test){.in_path = problem__host_path(l, pre, in),
                                                       .ans_path = problem__host_path(l, pre, ans),
                                                       .points = points};
        return 0;
}

/* ---- the formats ------------------------------------------------------------------------- */

/* The first whose probe says yes loads the problem: a new format is one file and one row. */
static const struct problem__format *const formats[] = {
        &problem__inline,
        &problem__yaml,
        &problem__bare,
};

/* Loads l->problem from src with the first format that recognises it, and its version hash. */
static int load_with_format(struct loader *l, const struct problem__source *src, struct gv_err *err)
{
        const struct problem__format *f = NULL;
        uint8_t digest[DIGEST_LEN];
        int r;

        for (size_t i = 0; i < ARRAY_SIZE(formats) && !f; i++)
                if (formats[i]->probe(src))
                        f = formats[i];
        if (!f)
                return gv_err_set(err, -EINVAL, "%s: not a problem of any known format",
                                  l->dir ? l->dir : "");
        l->hash = EVP_MD_CTX_new();
        if (!l->hash || !EVP_DigestInit_ex(l->hash, EVP_sha256(), NULL))
                abort();
        EVP_DigestUpdate(l->hash, f->hash_tag, strlen(f->hash_tag));
        r = f->load(l, src, err);
        if (r >= 0) {
                EVP_DigestFinal_ex(l->hash, digest, NULL);
                l->problem->hash = problem__hex(digest, DIGEST_LEN);
        }
        EVP_MD_CTX_free(l->hash);
        l->hash = NULL;
        return r;
}

int problem_load_dir(const char *dir, struct problem **ret_problem, struct gv_err *err)
{
        struct loader l = {.dirfd = -1};
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
        r = load_with_format(&l, &(struct problem__source){.dirfd = l.dirfd, .dir = path}, err);
        close(l.dirfd);
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
        struct loader l = {.dirfd = -1};
        int r;

        l.problem = xcalloc(1, sizeof(*l.problem));
        l.problem->id = xstrdup(job->id);
        r = load_with_format(&l, &(struct problem__source){.dirfd = -1, .job = job}, err);
        if (r < 0) {
                problem_free(l.problem);
                return r;
        }
        *ret_problem = l.problem;
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
                return fileio_memfd_sealed(answer ? "test-ans" : "test-in", false,
                                           answer ? t->ans : t->in, answer ? t->ans_len : t->in_len,
                                           -1, ret_fd, err);
        skip = problem->dir ? strlen(problem->dir) : 0;
        if (!problem->dir || strncmp(path, problem->dir, skip) || path[skip] != '/')
                return gv_err_set(err, -EINVAL, "test %zu %s '%s' is outside the problem folder",
                                  i + 1, what, path);
        dirfd = open(problem->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return gv_err_errno(err, -errno, "problem folder '%s'", problem->dir);
        r = problem__open_beneath(dirfd, path + skip + 1, O_RDONLY | O_NONBLOCK, &fd);
        if (r < 0)
                return gv_err_set(err, r, "test %zu %s '%s': %s", i + 1, what, path,
                                  problem__open_problem(r));
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
