/* SPDX-License-Identifier: MIT */
/*
 * Problems: a folder per problem in the worker's problem store, with problem.yaml (limits,
 * checker, tests in order, optional subtasks) and its test files; or a bare folder of N.in /
 * N.ans pairs (N numeric, in numeric order); or the inline tests of a job. Test data is read
 * lazily from files (problem_test_read) so a store with large tests costs no memory.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/err.h"
#include "schema/schema.h"

struct problem_test {
        char *in_path;           /* host path of the input, or NULL for inline data */
        char *ans_path;          /* host path of the answer, or NULL for inline data */
        const uint8_t *in, *ans; /* inline data (borrowed from the job), when the paths are NULL */
        size_t in_len, ans_len;
        double points; /* points of this test when the problem scores per test; else 0 */
};

struct problem_subtask {
        char *name;
        double points;
        size_t *tests; /* 0-based indexes into problem.tests */
        size_t n_tests;
        size_t *depends; /* 0-based indexes of subtasks that must pass too */
        size_t n_depends;
};

struct problem {
        char *id;   /* the folder's name, or the job id for inline tests */
        char *dir;  /* host path of the folder, or NULL */
        char *hash; /* hex digest of problem.yaml and every test file's bytes (version) */
        struct job_limits limits;    /* 0 fields: not set here */
        enum schema_checker checker; /* DEFAULT: not set here (and always with a custom one) */
        double checker_eps;          /* float's epsilon; 0: the checker's default */
        char *checker_source; /* host path of a custom checker's source (testlib style), or NULL;
                                 when set it is the problem's checker */
        char *checker_lang;   /* its language name in the language table (default "cpp") */
        struct problem_test *tests;
        size_t n_tests;
        struct problem_subtask *subtasks; /* NULL when scored per test */
        size_t n_subtasks;
};

/*
 * Loads the problem folder dir (the README's "Problems" section has the problem.yaml format).
 * -ENOENT when dir does not exist; -EINVAL for a broken problem: a bad problem.yaml, or a test
 * file that is missing, not a regular file, or outside the folder, with a message naming the file
 * and the field ("aplusb/problem.yaml:7: tests[2].in: 'x.in': no such file"). Reads every test
 * file once to compute hash (a file's digest is remembered by inode, size and times, so loading
 * the same problem again only stats its files).
 */
int problem_load_dir(const char *dir, struct problem **ret_problem, struct gv_err *err);

#define PROBLEM_ID_MAX 128

/* Whether id can name a problem of a store: 1 to PROBLEM_ID_MAX letters, digits, '_', '-' and
 * '.', not starting with '.'. */
bool problem_id_valid(const char *id);

/*
 * Loads problem id from the store (store/id). -ENOENT when it does not exist, -EINVAL when it is
 * not a valid id (problem_id_valid) or not a valid problem.
 */
int problem_load(const char *store, const char *id, struct problem **ret_problem,
                 struct gv_err *err);

/*
 * A problem made of the job's inline tests, its data borrowed from job (which must outlive it):
 * no limits of its own, the job's checker, and a hash of the tests' bytes and points.
 */
int problem_from_job(const struct job *job, struct problem **ret_problem, struct gv_err *err);

void problem_free(struct problem *problem); /* NULL is a no-op */

/*
 * Opens test i's input or answer for reading: a read-only file descriptor at offset 0 (for inline
 * data, a memfd sealed against any change), close-on-exec. A file is opened again beneath the
 * problem's folder, so a test file replaced by a link leading out of it is refused. -errno.
 */
int problem_test_open(const struct problem *problem, size_t i, bool answer, int *ret_fd,
                      struct gv_err *err);
