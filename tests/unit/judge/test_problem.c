/* SPDX-License-Identifier: MIT */
/*
 * worker/judge/problem/: problem.yaml in every form (limits, checkers, test lists, folder
 * shortcuts, subtasks with ranges and dependencies), bare folders of N.in / N.ans, inline tests,
 * the version hash, and every malformed problem failing with its file, line and field. Also the
 * folder's fence: no path or symbolic link may lead the judge to read a file outside the problem.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker/judge/problem/problem.h"

struct fixture {
        int fds;            /* open at the start: the same number must be open at the end */
        char root[64];      /* the store */
        char dir[PATH_MAX]; /* root/p: the problem */
        struct problem *problem;
        struct gv_err err;
};

static void put(struct fixture *f, const char *rel, const char *text)
{
        char path[PATH_MAX * 2];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                fail_msg("create %s: %s", path, strerror(errno));
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static void mkdir_in(struct fixture *f, const char *rel)
{
        char path[PATH_MAX * 2];

        snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
        assert_int_equal(mkdir(path, 0755), 0);
}

static void link_in(struct fixture *f, const char *target, const char *rel)
{
        char path[PATH_MAX * 2];

        snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
        assert_int_equal(symlink(target, path), 0);
}

static int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        int n = 0;

        while (d && readdir(d))
                n++;
        if (d)
                closedir(d);
        return n;
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        f->fds = count_fds();
        snprintf(f->root, sizeof(f->root), "/tmp/gavel-problem-XXXXXX");
        if (!mkdtemp(f->root))
                return -1;
        snprintf(f->dir, sizeof(f->dir), "%s/p", f->root);
        if (mkdir(f->dir, 0755) < 0)
                return -1;
        *state = f;
        return 0;
}

static int rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st, (void)flag, (void)ftw;
        return remove(path);
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        int leaked;

        problem_free(f->problem);
        nftw(f->root, rm, 16, FTW_DEPTH | FTW_PHYS);
        leaked = count_fds() - f->fds;
        free(f);
        if (leaked)
                fprintf(stderr, "%d file descriptors leaked\n", leaked);
        return leaked ? -1 : 0;
}

static int load(struct fixture *f)
{
        problem_free(f->problem);
        f->problem = NULL;
        return problem_load_dir(f->dir, &f->problem, &f->err);
}

static void load_ok(struct fixture *f)
{
        if (load(f) < 0)
                fail_msg("load: %s", f->err.msg);
}

/* Writes problem.yaml and asserts that loading fails with "<dir>/<suffix>". */
static void assert_yaml_fails(struct fixture *f, const char *yaml, const char *suffix)
{
        char expect[PATH_MAX + 512];

        put(f, "problem.yaml", yaml);
        assert_int_equal(load(f), -EINVAL);
        assert_null(f->problem);
        snprintf(expect, sizeof(expect), "%s/%s", f->dir, suffix);
        if (strcmp(f->err.msg, expect))
                fail_msg("got      '%s'\nexpected '%s'", f->err.msg, expect);
}

/* The whole content of test i's input or answer, through problem_test_open. */
static char *read_test(struct fixture *f, size_t i, bool answer)
{
        static char buf[4096];
        int fd = -1;
        ssize_t n;

        if (problem_test_open(f->problem, i, answer, &fd, &f->err) < 0)
                fail_msg("open test %zu: %s", i, f->err.msg);
        n = read(fd, buf, sizeof(buf) - 1);
        assert_true(n >= 0);
        buf[n] = '\0';
        close(fd);
        return buf;
}

static void put_pairs(struct fixture *f, int n)
{
        for (int i = 1; i <= n; i++) {
                char name[32], text[32];

                snprintf(name, sizeof(name), "%d.in", i);
                snprintf(text, sizeof(text), "in %d\n", i);
                put(f, name, text);
                snprintf(name, sizeof(name), "%d.ans", i);
                snprintf(text, sizeof(text), "ans %d\n", i);
                put(f, name, text);
        }
}

static void test_problem_yaml_full_form(void **state)
{
        struct fixture *f = *state;
        char path[PATH_MAX * 2];

        mkdir_in(f, "t");
        put(f, "t/a.in", "1 2\n");
        put(f, "t/a.ans", "3\n");
        put(f, "t/b.in", "5 5\n");
        put(f, "t/b.ans", "10\n");
        put(f, "problem.yaml",
            "# A+B\n"
            "time_ms: 1500\n"
            "wall_ms: 4000\n"
            "memory_mib: 64\n"
            "output_kib: 1024\n"
            "checker: {name: float, eps: 1e-4}\n"
            "tests:\n"
            "  - {in: t/a.in, ans: t/a.ans, points: 40}\n"
            "  - in: t/b.in\n"
            "    ans: t/b.ans\n"
            "    points: 60\n");
        load_ok(f);
        assert_string_equal(f->problem->id, "p");
        assert_string_equal(f->problem->dir, f->dir);
        assert_int_equal(f->problem->limits.time_ms, 1500);
        assert_int_equal(f->problem->limits.wall_ms, 4000);
        assert_int_equal(f->problem->limits.memory_kib, 65536);
        assert_int_equal(f->problem->limits.output_kib, 1024);
        assert_int_equal(f->problem->checker, SCHEMA_CHECKER_FLOAT);
        assert_true(f->problem->checker_eps == 1e-4);
        assert_null(f->problem->checker_source);
        assert_int_equal(f->problem->n_tests, 2);
        assert_null(f->problem->subtasks);
        snprintf(path, sizeof(path), "%s/t/b.ans", f->dir);
        assert_string_equal(f->problem->tests[1].ans_path, path);
        assert_true(f->problem->tests[0].points == 40);
        assert_true(f->problem->tests[1].points == 60);
        assert_string_equal(read_test(f, 0, false), "1 2\n");
        assert_string_equal(read_test(f, 1, true), "10\n");
        assert_int_equal(strlen(f->problem->hash), 64);
        assert_int_equal(strspn(f->problem->hash, "0123456789abcdef"), 64);
}

static void test_problem_scalar_checkers_and_units(void **state)
{
        static const char *const names[] = {"tokens", "exact", "lines", "float"};
        static const enum schema_checker kinds[] = {SCHEMA_CHECKER_TOKENS, SCHEMA_CHECKER_EXACT,
                                                    SCHEMA_CHECKER_LINES, SCHEMA_CHECKER_FLOAT};
        struct fixture *f = *state;
        char yaml[256];

        put_pairs(f, 1);
        for (size_t i = 0; i < 4; i++) {
                snprintf(yaml, sizeof(yaml), "checker: %s\ntime_s: 2\nmemory_kib: 2048\n",
                         names[i]);
                put(f, "problem.yaml", yaml);
                load_ok(f);
                assert_int_equal(f->problem->checker, kinds[i]);
                assert_true(f->problem->checker_eps == 0);
                assert_int_equal(f->problem->limits.time_ms, 2000);
                assert_int_equal(f->problem->limits.memory_kib, 2048);
                assert_int_equal(f->problem->limits.wall_ms, 0);
                /* No tests key: the folder's own N.in / N.ans. */
                assert_int_equal(f->problem->n_tests, 1);
        }
}

static void test_problem_custom_checker(void **state)
{
        struct fixture *f = *state;
        char path[PATH_MAX * 2];

        put_pairs(f, 1);
        put(f, "check.cpp", "int main() {}\n");
        put(f, "problem.yaml", "checker: {name: custom, source: check.cpp}\n");
        load_ok(f);
        snprintf(path, sizeof(path), "%s/check.cpp", f->dir);
        assert_string_equal(f->problem->checker_source, path);
        assert_string_equal(f->problem->checker_lang, "cpp");
        assert_int_equal(f->problem->checker, SCHEMA_CHECKER_DEFAULT);
        put(f, "problem.yaml", "checker: {name: custom, source: check.cpp, lang: cpp20}\n");
        load_ok(f);
        assert_string_equal(f->problem->checker_lang, "cpp20");
}

static void test_problem_bare_folder_in_numeric_order(void **state)
{
        struct fixture *f = *state;

        put(f, "1.in", "a");
        put(f, "1.ans", "A");
        put(f, "2.in", "b");
        put(f, "2.out", "B"); /* .out is an answer too */
        put(f, "10.in", "c");
        put(f, "10.ans", "C");
        put(f, "notes.txt", "ignored");
        put(f, "3.txt", "ignored");
        load_ok(f);
        assert_int_equal(f->problem->n_tests, 3);
        assert_string_equal(read_test(f, 0, false), "a");
        assert_string_equal(read_test(f, 1, true), "B");
        assert_string_equal(read_test(f, 2, false), "c");
        assert_string_equal(read_test(f, 2, true), "C");
        assert_int_equal(f->problem->limits.time_ms, 0);
        assert_int_equal(f->problem->limits.memory_kib, 0);
        assert_int_equal(f->problem->checker, SCHEMA_CHECKER_DEFAULT);
        assert_null(f->problem->subtasks);
        assert_int_equal(strlen(f->problem->hash), 64);
}

static void assert_bare_fails(struct fixture *f, const char *suffix)
{
        char expect[PATH_MAX + 256];

        assert_int_equal(load(f), -EINVAL);
        snprintf(expect, sizeof(expect), "%.*s: %.200s", PATH_MAX - 1, f->dir, suffix);
        if (strcmp(f->err.msg, expect))
                fail_msg("got      '%s'\nexpected '%s'", f->err.msg, expect);
}

static void test_problem_bare_folder_without_tests(void **state)
{
        struct fixture *f = *state;
        char expect[PATH_MAX * 2];

        put(f, "x.txt", "");
        snprintf(expect, sizeof(expect), "no tests: no N.in with N.ans (or N.out) in '%s'", f->dir);
        assert_bare_fails(f, expect);
}

static void test_problem_bare_folder_missing_answer(void **state)
{
        struct fixture *f = *state;

        put_pairs(f, 2);
        put(f, "3.in", "x");
        assert_bare_fails(f, "3.in: no answer 3.ans (or .out)");
}

static void test_problem_bare_folder_answer_without_input(void **state)
{
        struct fixture *f = *state;

        put_pairs(f, 1);
        put(f, "2.out", "x");
        assert_bare_fails(f, "2.out: no input 2.in");
}

static void test_problem_bare_folder_two_answers_or_numbers(void **state)
{
        struct fixture *f = *state;
        char path[PATH_MAX * 2];

        put_pairs(f, 1);
        put(f, "1.out", "x");
        assert_bare_fails(f, "1.ans and 1.out: two answers for one test");
        snprintf(path, sizeof(path), "%s/1.out", f->dir);
        unlink(path);
        put(f, "01.in", "x");
        assert_int_equal(load(f), -EINVAL);
        assert_non_null(strstr(f->err.msg, ": the same test number"));
}

static void test_problem_bare_folder_refuses_a_folder_as_test(void **state)
{
        struct fixture *f = *state;

        put(f, "1.ans", "x");
        mkdir_in(f, "1.in");
        assert_bare_fails(f, "'1.in': not a regular file");
}

static void test_problem_tests_folder_shortcut(void **state)
{
        struct fixture *f = *state;

        mkdir_in(f, "tests");
        put(f, "tests/2.in", "two");
        put(f, "tests/2.ans", "TWO");
        put(f, "tests/1.in", "one");
        put(f, "tests/1.ans", "ONE");
        put(f, "problem.yaml", "tests: tests\n");
        load_ok(f);
        assert_int_equal(f->problem->n_tests, 2);
        assert_string_equal(read_test(f, 0, false), "one");
        assert_string_equal(read_test(f, 1, true), "TWO");
        assert_yaml_fails(f, "tests: nothere\n", "problem.yaml:1: tests: 'nothere': no such file");
        put(f, "tests/3.in", "x");
        assert_yaml_fails(f, "tests: tests\n",
                          "problem.yaml:1: tests: tests/3.in: no answer tests/3.ans (or .out)");
        assert_yaml_fails(f, "tests: ../..\n",
                          "problem.yaml:1: tests: '../..': leads outside the problem folder");
}

static void test_problem_hash_follows_every_file(void **state)
{
        struct fixture *f = *state;
        char first[65], second[65];

        put_pairs(f, 2);
        put(f, "problem.yaml", "time_ms: 1000\n");
        load_ok(f);
        snprintf(first, sizeof(first), "%s", f->problem->hash);
        load_ok(f);
        assert_string_equal(f->problem->hash, first); /* stable */
        put(f, "2.ans", "ans 3\n");                   /* same size, other bytes */
        load_ok(f);
        assert_string_not_equal(f->problem->hash, first);
        snprintf(second, sizeof(second), "%s", f->problem->hash);
        put(f, "problem.yaml", "time_ms: 1001\n");
        load_ok(f);
        assert_string_not_equal(f->problem->hash, second);
        assert_string_not_equal(f->problem->hash, first);
        /* Putting everything back gives the first version again. */
        put(f, "2.ans", "ans 2\n");
        put(f, "problem.yaml", "time_ms: 1000\n");
        load_ok(f);
        assert_string_equal(f->problem->hash, first);
}

static void test_problem_subtasks(void **state)
{
        struct fixture *f = *state;
        const struct problem_subtask *st;

        put_pairs(f, 6);
        put(f, "problem.yaml",
            "subtasks:\n"
            "  - {name: samples, points: 0, tests: 1}\n"
            "  - {name: small, points: 30, tests: [\"2-3\", 1]}\n"
            "  - name: large\n"
            "    points: 70\n"
            "    tests: \"4-6\"\n"
            "    depends: [small, samples]\n"
            "  - {name: all, points: 0, tests: [6], depends: large}\n");
        load_ok(f);
        assert_int_equal(f->problem->n_tests, 6);
        assert_int_equal(f->problem->n_subtasks, 4);
        st = &f->problem->subtasks[1];
        assert_string_equal(st->name, "small");
        assert_true(st->points == 30);
        assert_int_equal(st->n_tests, 3);
        assert_int_equal(st->tests[0], 1);
        assert_int_equal(st->tests[1], 2);
        assert_int_equal(st->tests[2], 0);
        assert_int_equal(st->n_depends, 0);
        st = &f->problem->subtasks[2];
        assert_int_equal(st->n_tests, 3);
        assert_int_equal(st->tests[2], 5);
        assert_int_equal(st->n_depends, 2);
        assert_int_equal(st->depends[0], 1);
        assert_int_equal(st->depends[1], 0);
        st = &f->problem->subtasks[3];
        assert_int_equal(st->n_depends, 1);
        assert_int_equal(st->depends[0], 2);
}

static void test_problem_subtask_errors(void **state)
{
        struct fixture *f = *state;

        put_pairs(f, 4);
        assert_yaml_fails(f, "subtasks:\n  - {name: a, points: 1, tests: [1, 5]}\n",
                          "problem.yaml:2: subtasks[0].tests[1]: test 5 does not exist (tests are "
                          "1..4)");
        assert_yaml_fails(f, "subtasks:\n  - {name: a, points: 1, tests: \"0-2\"}\n",
                          "problem.yaml:2: subtasks[0].tests: test 0 does not exist (tests are "
                          "1..4)");
        assert_yaml_fails(f, "subtasks:\n  - {name: a, points: 1, tests: \"3-2\"}\n",
                          "problem.yaml:2: subtasks[0].tests: range '3-2' is backwards");
        assert_yaml_fails(f, "subtasks:\n  - {name: a, points: 1, tests: \"1..2\"}\n",
                          "problem.yaml:2: subtasks[0].tests: expected a test number or a range "
                          "\"a-b\", found '1..2'");
        assert_yaml_fails(f, "subtasks:\n  - {name: a, points: 1, tests: [\"1-3\", 2]}\n",
                          "problem.yaml:2: subtasks[0].tests[1]: test 2 listed twice");
        assert_yaml_fails(f, "subtasks:\n  - {name: a, points: 1, tests: []}\n",
                          "problem.yaml:2: subtasks[0].tests: expected at least one test");
        assert_yaml_fails(f, "subtasks:\n  - {name: a, points: 1}\n",
                          "problem.yaml:2: subtasks[0].tests: missing (test numbers, from 1)");
        assert_yaml_fails(f, "subtasks:\n  - {name: a, tests: 1}\n",
                          "problem.yaml:2: subtasks[0]: points: missing");
        assert_yaml_fails(f, "subtasks:\n  - {points: 1, tests: 1}\n",
                          "problem.yaml:2: subtasks[0]: name: missing");
        assert_yaml_fails(f, "subtasks:\n  - {name: a, points: -1, tests: 1}\n",
                          "problem.yaml:2: subtasks[0].points: -1 is out of range (0..1e+09)");
        assert_yaml_fails(f, "subtasks:\n  - {name: a, points: 1, tests: 1, weight: 2}\n",
                          "problem.yaml:2: subtasks[0].weight: unknown key");
        assert_yaml_fails(f,
                          "subtasks:\n  - {name: a, points: 1, tests: 1}\n"
                          "  - {name: a, points: 1, tests: 2}\n",
                          "problem.yaml:3: subtasks[1].name: 'a' given twice");
        assert_yaml_fails(f, "subtasks:\n  - {name: a, points: 1, tests: 1, depends: [b]}\n",
                          "problem.yaml:2: subtasks[0].depends[0]: no subtask named 'b'");
        assert_yaml_fails(f, "subtasks:\n  - {name: a, points: 1, tests: 1, depends: a}\n",
                          "problem.yaml:2: subtasks[0].depends: dependency cycle: a -> a");
        assert_yaml_fails(f,
                          "subtasks:\n"
                          "  - {name: a, points: 1, tests: 1, depends: [c]}\n"
                          "  - {name: b, points: 1, tests: 2, depends: [a]}\n"
                          "  - {name: c, points: 1, tests: 3, depends: [b]}\n",
                          "problem.yaml:2: subtasks[0].depends: dependency cycle: a -> c -> b -> "
                          "a");
        assert_yaml_fails(f, "subtasks: {a: 1}\n",
                          "problem.yaml:1: subtasks: expected a list of subtasks");
        assert_yaml_fails(f, "subtasks: []\n",
                          "problem.yaml:1: subtasks: expected 1 to 1000 "
                          "subtasks");
        assert_yaml_fails(f, "subtasks:\n  - 3\n",
                          "problem.yaml:2: subtasks[0]: expected a mapping {name, points, tests}");
        assert_yaml_fails(f,
                          "tests:\n  - {in: 1.in, ans: 1.ans, points: 5}\n"
                          "subtasks:\n  - {name: a, points: 1, tests: 1}\n",
                          "problem.yaml:2: tests[0].points: a problem with subtasks scores by "
                          "subtask");
}

static void test_problem_malformed_yaml_names_file_line_and_field(void **state)
{
        struct fixture *f = *state;

        put_pairs(f, 1);
        assert_yaml_fails(f, "- 1\n", "problem.yaml:1: expected a mapping, found a list");
        assert_yaml_fails(f, "time_ms: 1\ntimelimit: 2\n",
                          "problem.yaml:2: timelimit: unknown key");
        assert_yaml_fails(f, "time_ms: fast\n",
                          "problem.yaml:1: time_ms: expected an integer, found 'fast'");
        assert_yaml_fails(f, "time_ms: 0\n",
                          "problem.yaml:1: time_ms: 0 is out of range "
                          "(1..600000)");
        assert_yaml_fails(f, "memory_mib: 64\nmemory_kib: 65536\n",
                          "problem.yaml:1: memory_mib: give only one of memory_kib and "
                          "memory_mib");
        assert_yaml_fails(f, "memory_kib: 10\n",
                          "problem.yaml:1: memory_kib: 10 is out of range "
                          "(1024..67108864)");
        assert_yaml_fails(f, "checker: fuzzy\n",
                          "problem.yaml:1: checker: unknown checker 'fuzzy' (tokens, exact, "
                          "lines, float or custom)");
        assert_yaml_fails(f, "checker: default\n",
                          "problem.yaml:1: checker: unknown checker 'default' (tokens, exact, "
                          "lines, float or custom)");
        assert_yaml_fails(f, "checker: [tokens]\n",
                          "problem.yaml:1: checker: expected a checker name or a mapping with "
                          "'name'");
        assert_yaml_fails(f, "checker: {eps: 1}\n",
                          "problem.yaml:1: checker.name: missing (tokens, exact, lines, float or "
                          "custom)");
        assert_yaml_fails(f, "checker: {name: float, eps: 2}\n",
                          "problem.yaml:1: checker.eps: 2 is out of range (0..1)");
        assert_yaml_fails(f, "checker: {name: tokens, eps: 0.1}\n",
                          "problem.yaml:1: checker.eps: only for the float checker");
        assert_yaml_fails(f, "checker: {name: float, source: x.cpp}\n",
                          "problem.yaml:1: checker.source: only for a custom checker");
        assert_yaml_fails(f, "checker: custom\n",
                          "problem.yaml:1: checker: custom: expected a mapping with 'source' (and "
                          "'lang')");
        assert_yaml_fails(f, "checker: {name: custom}\n",
                          "problem.yaml:1: checker.source: missing (a file in the problem folder)");
        assert_yaml_fails(f, "checker: {name: custom, source: nope.cpp}\n",
                          "problem.yaml:1: checker.source: 'nope.cpp': no such file");
        assert_yaml_fails(f, "checker: {name: custom, source: 1.in, eps: 1}\n",
                          "problem.yaml:1: checker.eps: only for the float checker");
        assert_yaml_fails(f, "checker: {name: custom, source: 1.in, lang: [cpp]}\n",
                          "problem.yaml:1: checker.lang: expected a string, found a list");
        assert_yaml_fails(f, "checker: {nme: float}\n", "problem.yaml:1: checker.nme: unknown key");
        assert_yaml_fails(f, "tests: []\n", "problem.yaml:1: tests: expected at least one test");
        assert_yaml_fails(f, "tests: {in: 1.in}\n",
                          "problem.yaml:1: tests: expected a list of {in, ans} or a folder of "
                          "N.in/N.ans files");
        assert_yaml_fails(f, "tests:\n  - 1.in\n",
                          "problem.yaml:2: tests[0]: expected a mapping {in, ans}");
        assert_yaml_fails(f, "tests:\n  - {in: 1.in}\n",
                          "problem.yaml:2: tests[0].ans: missing (a file in the problem folder)");
        assert_yaml_fails(f, "tests:\n  - {in: 1.in, ans: 1.ans, out: 1.out}\n",
                          "problem.yaml:2: tests[0].out: unknown key");
        assert_yaml_fails(f, "tests:\n  - {in: 1.in, ans: 2.ans}\n",
                          "problem.yaml:2: tests[0].ans: '2.ans': no such file");
        assert_yaml_fails(f, "tests:\n  - {in: /etc/passwd, ans: 1.ans}\n",
                          "problem.yaml:2: tests[0].in: expected a path relative to the problem "
                          "folder");
        assert_yaml_fails(f, "tests:\n  - {in: ../../../etc/passwd, ans: 1.ans}\n",
                          "problem.yaml:2: tests[0].in: '../../../etc/passwd': leads outside the "
                          "problem folder");
        assert_yaml_fails(f, "tests:\n  - {in: 1.in, ans: 1.ans, points: lots}\n",
                          "problem.yaml:2: tests[0].points: expected a number, found 'lots'");
        assert_yaml_fails(f, "tests:\n  - {in: 1.in, ans: .}\n",
                          "problem.yaml:2: tests[0].ans: '.': not a regular file");
        assert_yaml_fails(f, "time_ms: [1\n",
                          "problem.yaml:2: did not find expected ',' or ']' "
                          "while parsing a flow sequence");
}

static void test_problem_symlinks_may_not_leave_the_folder(void **state)
{
        struct fixture *f = *state;
        char outside[PATH_MAX * 2];
        int fd = -1;

        put_pairs(f, 1);
        snprintf(outside, sizeof(outside), "%s/secret", f->root);
        fd = open(outside, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
        link_in(f, outside, "abs.ans");
        link_in(f, "../secret", "rel.ans");
        link_in(f, "/proc/self/root/etc/passwd", "proc.ans");
        link_in(f, "1.ans", "inside.ans"); /* a link within the folder is fine */
        assert_yaml_fails(f, "tests:\n  - {in: 1.in, ans: abs.ans}\n",
                          "problem.yaml:2: tests[0].ans: 'abs.ans': leads outside the problem "
                          "folder");
        assert_yaml_fails(f, "tests:\n  - {in: 1.in, ans: rel.ans}\n",
                          "problem.yaml:2: tests[0].ans: 'rel.ans': leads outside the problem "
                          "folder");
        assert_yaml_fails(f, "tests:\n  - {in: 1.in, ans: proc.ans}\n",
                          "problem.yaml:2: tests[0].ans: 'proc.ans': leads outside the problem "
                          "folder");
        put(f, "problem.yaml", "tests:\n  - {in: 1.in, ans: inside.ans}\n");
        load_ok(f);
        assert_string_equal(read_test(f, 0, true), "ans 1\n");
        /* problem.yaml itself may not lead out either. */
        put(f, "x.in", "");
        {
                char path[PATH_MAX * 2];

                snprintf(path, sizeof(path), "%s/problem.yaml", f->dir);
                unlink(path);
        }
        link_in(f, outside, "problem.yaml");
        assert_int_equal(load(f), -EINVAL);
        assert_non_null(strstr(f->err.msg, "p: 'problem.yaml': leads outside the problem folder"));
}

static void test_problem_test_open_refuses_a_file_swapped_for_a_link(void **state)
{
        struct fixture *f = *state;
        char path[PATH_MAX * 2];
        int fd = -1;

        put_pairs(f, 2);
        load_ok(f);
        snprintf(path, sizeof(path), "%s/2.in", f->dir);
        unlink(path);
        assert_int_equal(symlink("/etc/passwd", path), 0);
        assert_int_equal(problem_test_open(f->problem, 1, false, &fd, &f->err), -EXDEV);
        assert_non_null(strstr(f->err.msg, "leads outside the problem folder"));
        assert_int_equal(fd, -1);
        assert_int_equal(problem_test_open(f->problem, 2, false, &fd, &f->err), -EINVAL);
        assert_string_equal(f->err.msg, "test 3 of 2 does not exist");
        assert_string_equal(read_test(f, 0, false), "in 1\n");
}

static void test_problem_load_from_store_checks_the_id(void **state)
{
        static const char *const bad[] = {"",    ".",       "..",  "../p", "p/",
                                          "a/b", ".hidden", "a b", "x\n"};
        struct fixture *f = *state;
        char long_id[200];

        put_pairs(f, 1);
        assert_int_equal(problem_load(f->root, "p", &f->problem, &f->err), 0);
        assert_string_equal(f->problem->id, "p");
        assert_int_equal(f->problem->n_tests, 1);
        problem_free(f->problem);
        f->problem = NULL;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(problem_load(f->root, bad[i], &f->problem, &f->err), -EINVAL);
                assert_non_null(strstr(f->err.msg, "is not a plain name"));
        }
        memset(long_id, 'a', sizeof(long_id) - 1);
        long_id[sizeof(long_id) - 1] = '\0';
        assert_int_equal(problem_load(f->root, long_id, &f->problem, &f->err), -EINVAL);
        assert_int_equal(problem_load(f->root, "nothere", &f->problem, &f->err), -ENOENT);
        assert_non_null(strstr(f->err.msg, "problem 'nothere' is not in the store"));
        assert_null(f->problem);
        assert_int_equal(problem_load_dir("/nonexistent/gavel", &f->problem, &f->err), -ENOENT);
        assert_int_equal(problem_load_dir("/etc/passwd", &f->problem, &f->err), -EINVAL);
}

static void test_problem_errors_without_an_err_buffer(void **state)
{
        struct fixture *f = *state;

        put_pairs(f, 1);
        put(f, "problem.yaml", "tests:\n  - {in: 1.in, ans: 2.ans}\n");
        assert_int_equal(problem_load_dir(f->dir, &f->problem, NULL), -EINVAL);
        put(f, "problem.yaml", "tests: nothere\n");
        assert_int_equal(problem_load_dir(f->dir, &f->problem, NULL), -EINVAL);
        put(f, "problem.yaml", "time_ms: x\n");
        assert_int_equal(problem_load_dir(f->dir, &f->problem, NULL), -EINVAL);
        assert_null(f->problem);
}

static void test_problem_trailing_slash_and_empty_yaml(void **state)
{
        struct fixture *f = *state;
        char dir[PATH_MAX * 2];

        put_pairs(f, 3);
        put(f, "problem.yaml", "# nothing but defaults\n");
        snprintf(dir, sizeof(dir), "%s//", f->dir);
        assert_int_equal(problem_load_dir(dir, &f->problem, &f->err), 0);
        assert_string_equal(f->problem->id, "p");
        assert_string_equal(f->problem->dir, f->dir);
        assert_int_equal(f->problem->n_tests, 3);
}

static void test_problem_from_job_uses_sealed_memfds(void **state)
{
        struct fixture *f = *state;
        uint8_t in0[] = "1 2\n", out0[] = "3\n", in1[] = "", out1[] = "0\n";
        struct job_test tests[2] = {
                {.in = in0,
                 .in_len = 4,
                 .out = out0,
                 .out_len = 2,
                 .points = 5,
                 .has_points = true},
                {.in = in1, .in_len = 0, .out = out1, .out_len = 2},
        };
        struct job job = {.id = "s-1",
                          .tests = tests,
                          .n_tests = 2,
                          .checker = SCHEMA_CHECKER_LINES,
                          .checker_eps = 0};
        char first[65];
        int fd = -1;

        assert_int_equal(problem_from_job(&job, &f->problem, &f->err), 0);
        assert_string_equal(f->problem->id, "s-1");
        assert_null(f->problem->dir);
        assert_int_equal(f->problem->n_tests, 2);
        assert_int_equal(f->problem->checker, SCHEMA_CHECKER_LINES);
        assert_true(f->problem->tests[0].points == 5);
        assert_ptr_equal(f->problem->tests[0].in, in0); /* borrowed */
        assert_string_equal(read_test(f, 0, false), "1 2\n");
        assert_string_equal(read_test(f, 0, true), "3\n");
        assert_string_equal(read_test(f, 1, false), "");
        assert_int_equal(problem_test_open(f->problem, 1, true, &fd, &f->err), 0);
        assert_int_equal(write(fd, "x", 1), -1); /* read-only, and sealed against any change */
        assert_int_equal(ftruncate(fd, 0), -1);
        assert_int_equal(fcntl(fd, F_GET_SEALS) & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW),
                         F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW);
        close(fd);
        assert_int_equal(strlen(f->problem->hash), 64);
        snprintf(first, sizeof(first), "%s", f->problem->hash);
        problem_free(f->problem);
        out1[0] = '1';
        assert_int_equal(problem_from_job(&job, &f->problem, &f->err), 0);
        assert_string_not_equal(f->problem->hash, first);
        problem_free(f->problem);
        f->problem = NULL;
        job.n_tests = 0;
        job.tests = NULL;
        assert_int_equal(problem_from_job(&job, &f->problem, &f->err), -EINVAL);
        assert_string_equal(f->err.msg, "job 's-1' has no inline tests");
        assert_null(f->problem);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_problem_yaml_full_form),
                T(test_problem_scalar_checkers_and_units),
                T(test_problem_custom_checker),
                T(test_problem_bare_folder_in_numeric_order),
                T(test_problem_bare_folder_without_tests),
                T(test_problem_bare_folder_missing_answer),
                T(test_problem_bare_folder_answer_without_input),
                T(test_problem_bare_folder_two_answers_or_numbers),
                T(test_problem_bare_folder_refuses_a_folder_as_test),
                T(test_problem_tests_folder_shortcut),
                T(test_problem_hash_follows_every_file),
                T(test_problem_subtasks),
                T(test_problem_subtask_errors),
                T(test_problem_malformed_yaml_names_file_line_and_field),
                T(test_problem_symlinks_may_not_leave_the_folder),
                T(test_problem_test_open_refuses_a_file_swapped_for_a_link),
                T(test_problem_load_from_store_checks_the_id),
                T(test_problem_errors_without_an_err_buffer),
                T(test_problem_trailing_slash_and_empty_yaml),
                T(test_problem_from_job_uses_sealed_memfds),
        };
#undef T

        return cmocka_run_group_tests(tests, NULL, NULL);
}
