/* SPDX-License-Identifier: MIT */
/*
 * What the problem store's files share: the loader every format fills, the helpers that open
 * and hash files beneath a problem's folder, and the table row a format is (store.c holds the
 * table; bare.c, yaml.c and inline.c are its rows).
 */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/err.h"
#include "worker/judge/problem/problem.h"

#define PROBLEM_TESTS_MAX    100000 /* the schema's array_max: a verdict has a row per test */
#define SUBTASKS_MAX         1000
#define DIGEST_LEN           32
#define PROBLEM_HASH_TAG_DIR "gavel-problem-1\n" /* first bytes hashed of a folder's problem */

/* A problem being loaded. */
struct loader {
        const char *dir; /* as given, for messages */
        int dirfd;
        struct problem *problem;
        EVP_MD_CTX *hash;
        size_t cap_tests;
};

/* What a problem is loaded from: a folder (dirfd >= 0) or a job's inline tests. */
struct problem__source {
        int dirfd;             /* the problem folder, or -1 */
        const char *dir;       /* its path, for messages; or NULL */
        const struct job *job; /* a job with inline tests, or NULL */
};

/* One package format: a row of the store's table. */
struct problem__format {
        const char *name;
        const char *hash_tag; /* hashed first: the version's namespace */
        bool (*probe)(const struct problem__source *src); /* whether src is of this format */
        /* fills l->problem (tests, limits, checker, subtasks), hashing what it reads */
        int (*load)(struct loader *l, const struct problem__source *src, struct gv_err *err);
};

extern const struct problem__format problem__bare, problem__yaml, problem__inline;

/*
 * Opens rel beneath dirfd: "..", absolute paths and symbolic links that lead out of the folder
 * fail with EXDEV, /proc-style magic links with ELOOP. -errno.
 */
int problem__open_beneath(int dirfd, const char *rel, int flags, int *ret_fd);
/* What a failed open means, for messages. */
const char *problem__open_problem(int r);
/* Adds a file to the version hash: its path in the folder and its content's digest. */
void problem__hash_file(struct loader *l, const char *rel, const uint8_t digest[DIGEST_LEN]);
/*
 * Checks that rel is a regular file beneath the folder and hashes it; hands out the descriptor
 * when ret_fd is not NULL. On failure the message is "'rel': why" (the caller adds where it was
 * named).
 */
int problem__check_file(struct loader *l, const char *rel, int *ret_fd, struct gv_err *err);
/* dir/pre+rel: pre is the subfolder ("" or "tests/") of a scanned test; malloc'ed. */
char *problem__host_path(const struct loader *l, const char *pre, const char *rel);
/* Adds a test (paths pre+in, pre+ans in the folder); the files are checked by the caller. */
int problem__add_test(struct loader *l, const char *pre, const char *in, const char *ans,
                      double points, struct gv_err *err);
/* Adds the N.in / N.ans pairs of folder sub ("" for the problem folder itself), in order. */
int problem__scan_bare(struct loader *l, const char *sub, struct gv_err *err);
/* SHA-256 of buf[0..len). */
void problem__digest_bytes(const void *buf, size_t len, uint8_t digest[DIGEST_LEN]);
/* n bytes as lower-case hex; malloc'ed. */
char *problem__hex(const uint8_t *bytes, size_t n);
