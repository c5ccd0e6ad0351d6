/* SPDX-License-Identifier: MIT */
/*
 * Every language of the built-in table, for real: its A+B solution from ops/examples is compiled
 * in a container under the language's compile limits and policy, the artifact is taken out (as
 * the compile cache would), and it runs on every test of ops/examples/problems/aplusb in a fresh
 * container, as the judge would. Then every example solution must behave as its name says (WA,
 * TLE, MLE, RE, CE, OLE in C, C++ and Python), and the float and custom-checker examples too.
 * The judge engine is not used: this checks the language table and the examples themselves.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/sandbox.h"
#include "schema/cleanup.h"
#include "worker/judge/lang.h"
#include "worker/judge/problem/problem.h"

#define EXAMPLES GAVEL_SOURCE_DIR "/ops/examples"

static struct sandbox_pool *pool;
static struct lang_table *langs;

/* ---- files and descriptors ---------------------------------------------------------------- */

static int memfd_with(const void *buf, size_t len)
{
        int fd = memfd_create("data", MFD_CLOEXEC);

        assert_true(fd >= 0);
        if (len)
                assert_int_equal(write(fd, buf, len), (ssize_t)len);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

/* The whole content of fd from offset 0, NUL-terminated, malloc'ed (at most 64 MiB kept). */
static char *slurp(int fd, size_t *ret_len)
{
        size_t cap = 1 << 16, len = 0;
        char *buf = xmalloc(cap + 1);
        ssize_t n;

        while ((n = pread(fd, buf + len, cap - len, (off_t)len)) > 0) {
                len += (size_t)n;
                if (len == cap && cap < (64u << 20)) {
                        cap *= 2;
                        buf = realloc(buf, cap + 1);
                        assert_non_null(buf);
                }
        }
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        return buf;
}

static char *read_file(const char *path, size_t *ret_len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        char *buf;

        if (fd < 0)
                fail_msg("open %s: %s", path, strerror(errno));
        buf = slurp(fd, ret_len);
        close(fd);
        return buf;
}

/* Copies fd (from offset 0) to path inside the container. */
static void put_in(struct sandbox *sb, const char *path, int fd)
{
        struct gv_err err = {0};
        int out = -1;
        size_t len;
        char *buf = slurp(fd, &len);

        if (sandbox_open(sb, path, O_WRONLY | O_CREAT | O_TRUNC, 0644, &out, &err) < 0)
                fail_msg("sandbox_open %s: %s", path, err.msg);
        assert_int_equal(write(out, buf, len), (ssize_t)len);
        close(out);
        free(buf);
}

static bool same_tokens(const char *a, const char *b)
{
        static const char ws[] = " \t\r\n";

        for (;;) {
                size_t na, nb;

                a += strspn(a, ws);
                b += strspn(b, ws);
                na = strcspn(a, ws);
                nb = strcspn(b, ws);
                if (na != nb || memcmp(a, b, na))
                        return false;
                if (!na)
                        return true;
                a += na;
                b += nb;
        }
}

/* ---- compile and run, as the judge does ------------------------------------------------- */

struct compiled {
        bool ok;
        struct sandbox_result res;
        char *log;    /* compiler's stdout and stderr */
        int artifact; /* a memfd with the artifact, or -1 */
};

static void compiled_done(struct compiled *c)
{
        free(c->log);
        if (c->artifact >= 0)
                close(c->artifact);
}

static void compile(const struct lang *lang, const char *source_path, struct compiled *ret)
{
        const struct lang_limits *cl = &lang->compile_limits;
        struct sandbox_run run = {.stdin_fd = -1,
                                  .exe_fd = -1,
                                  .policy = PROTO_POLICY_COMPILE,
                                  .limits = {.time_ms = cl->time_ms,
                                             .wall_ms = cl->wall_ms,
                                             .memory_kib = cl->memory_kib,
                                             .output_kib = cl->output_kib,
                                             .pids = cl->pids}};
        char path[PATH_MAX], **argv = lang_expand(lang, lang->compile);
        int src = open(source_path, O_RDONLY | O_CLOEXEC), log = memfd_with("", 0), art = -1;
        struct gv_err err = {0};
        struct sandbox *sb;

        assert_non_null(argv);
        if (src < 0)
                fail_msg("open %s: %s", source_path, strerror(errno));
        if (sandbox_pool_acquire(pool, 30000, &sb, &err) < 0)
                fail_msg("acquire: %s", err.msg);
        snprintf(path, sizeof(path), "/w/%s", lang->source_name);
        put_in(sb, path, src);
        run.argv = (const char *const *)argv;
        run.env = (const char *const *)lang->env;
        run.stdout_fd = run.stderr_fd = log;
        if (sandbox_exec(sb, &run, &ret->res, &err) < 0)
                fail_msg("compile %s: %s", source_path, err.msg);
        ret->ok = ret->res.status == SANDBOX_OK;
        ret->artifact = -1;
        if (ret->ok) {
                snprintf(path, sizeof(path), "/w/%s", lang->artifact);
                if (sandbox_open(sb, path, O_RDONLY, 0, &art, &err) < 0)
                        fail_msg("no artifact %s after compiling %s: %s", path, source_path,
                                 err.msg);
                /* Out of the container into a memory file, as the compile cache keeps it. */
                {
                        size_t len;
                        char *buf = slurp(art, &len);

                        ret->artifact = memfd_create("artifact", MFD_CLOEXEC);
                        assert_int_equal(write(ret->artifact, buf, len), (ssize_t)len);
                        free(buf);
                }
                close(art);
        }
        sandbox_pool_release(pool, sb);
        ret->log = slurp(log, NULL);
        close(log);
        close(src);
        lang_argv_free(argv);
}

struct ran {
        struct sandbox_result res;
        char *out;
        size_t out_len;
};

/* Runs a compiled program on input under the problem's limits plus the language's allowances. */
static void run_one(const struct lang *lang, const struct compiled *c, const struct job_limits *l,
                    int in_fd, struct ran *ret)
{
        struct sandbox_run run = {.stdin_fd = in_fd,
                                  .exe_fd = -1,
                                  .policy = PROTO_POLICY_RUN,
                                  .limits = {.time_ms = (uint32_t)(l->time_ms * lang->time_factor),
                                             .memory_kib = l->memory_kib + lang->extra_memory_kib,
                                             .output_kib = l->output_kib,
                                             .pids = 64 + lang->extra_pids}};
        char path[PATH_MAX], **argv = lang_expand(lang, lang->run);
        int out = memfd_with("", 0), errfd = memfd_with("", 0);
        struct gv_err err = {0};
        struct sandbox *sb;

        assert_non_null(argv);
        if (sandbox_pool_acquire(pool, 30000, &sb, &err) < 0)
                fail_msg("acquire: %s", err.msg);
        if (lang->artifact_exec) {
                run.exe_fd = c->artifact;
        } else {
                snprintf(path, sizeof(path), "/w/%s", lang->artifact);
                put_in(sb, path, c->artifact);
        }
        run.argv = (const char *const *)argv;
        run.env = (const char *const *)lang->env;
        run.stdout_fd = out;
        run.stderr_fd = errfd;
        if (sandbox_exec(sb, &run, &ret->res, &err) < 0)
                fail_msg("run: %s", err.msg);
        sandbox_pool_release(pool, sb);
        ret->out = slurp(out, &ret->out_len);
        if (ret->res.status != SANDBOX_OK) {
                char *e = slurp(errfd, NULL);

                fprintf(stderr, "  %s: %s exit %d signal %d, stderr: %.300s\n", lang->name,
                        sandbox_status_name(ret->res.status), ret->res.exit_code, ret->res.signal,
                        e);
                free(e);
        }
        close(out);
        close(errfd);
        lang_argv_free(argv);
}

/* Compiles ops/examples/solutions/<problem>/<file>, which must compile. */
static void compile_example(const struct lang *lang, const char *problem, const char *file,
                            struct compiled *ret)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/solutions/%s/%s", EXAMPLES, problem, file);
        compile(lang, path, ret);
        if (!ret->ok)
                fail_msg("%s/%s does not compile: %s", problem, file, ret->log);
}

static void load_problem(const char *name, struct problem **ret)
{
        struct gv_err err = {0};
        char dir[PATH_MAX];

        snprintf(dir, sizeof(dir), "%s/problems/%s", EXAMPLES, name);
        if (problem_load_dir(dir, ret, &err) < 0)
                fail_msg("%s", err.msg);
}

/* Runs c on every test of problem: how many outputs matched the answers (token by token). */
static size_t run_all(const struct lang *lang, const struct compiled *c,
                      const struct problem *problem, size_t *ret_ok_runs, uint32_t *ret_max_ms)
{
        size_t right = 0, ok_runs = 0;

        *ret_max_ms = 0;
        for (size_t i = 0; i < problem->n_tests; i++) {
                struct gv_err err = {0};
                int in = -1, ans = -1;
                struct ran r;
                char *expect;

                if (problem_test_open(problem, i, false, &in, &err) < 0 ||
                    problem_test_open(problem, i, true, &ans, &err) < 0)
                        fail_msg("test %zu: %s", i + 1, err.msg);
                run_one(lang, c, &problem->limits, in, &r);
                expect = slurp(ans, NULL);
                ok_runs += r.res.status == SANDBOX_OK;
                right += r.res.status == SANDBOX_OK && same_tokens(r.out, expect);
                if (r.res.time_ms > *ret_max_ms)
                        *ret_max_ms = r.res.time_ms;
                free(expect);
                free(r.out);
                close(in);
                close(ans);
        }
        *ret_ok_runs = ok_runs;
        return right;
}

/* ---- the languages ------------------------------------------------------------------------ */

static const char *aplusb_solution(const char *lang)
{
        static const char *const map[][2] = {
                {"c", "ac.c"},        {"cpp", "ac.cpp"},   {"cpp20", "ac.cpp20.cpp"},
                {"python3", "ac.py"}, {"java", "ac.java"}, {"pascal", "ac.pas"},
                {"rust", "ac.rs"},
        };

        for (size_t i = 0; i < ARRAY_SIZE(map); i++)
                if (!strcmp(map[i][0], lang))
                        return map[i][1];
        return NULL;
}

static void test_every_language_compiles_and_runs_aplusb(void **state)
{
        struct problem *problem = NULL;

        (void)state;
        load_problem("aplusb", &problem);
        assert_int_equal(problem->n_tests, 8);
        for (size_t i = 0; i < langs->n; i++) {
                const struct lang *lang = &langs->langs[i];
                const char *sol = aplusb_solution(lang->name);
                char path[PATH_MAX];
                struct compiled c;
                size_t right, ok_runs;
                uint32_t max_ms;

                if (!sol)
                        fail_msg("language %s has no A+B solution in ops/examples: add one",
                                 lang->name);
                snprintf(path, sizeof(path), "%s/solutions/aplusb/%s", EXAMPLES, sol);
                compile(lang, path, &c);
                if (!c.ok)
                        fail_msg("%s: compiling %s: %s (exit %d)\n%s", lang->name, sol,
                                 sandbox_status_name(c.res.status), c.res.exit_code, c.log);
                right = run_all(lang, &c, problem, &ok_runs, &max_ms);
                fprintf(stderr,
                        "%-8s compile %5u ms cpu %5u ms wall %7" PRIu64 " KiB; %zu/%zu tests "
                        "right, slowest %u ms\n",
                        lang->name, c.res.time_ms, c.res.wall_ms, c.res.memory_kib, right,
                        problem->n_tests, max_ms);
                assert_int_equal(right, problem->n_tests);
                compiled_done(&c);
        }
        problem_free(problem);
}

/* ---- the example solutions ---------------------------------------------------------------- */

enum expect { E_WA, E_TLE, E_MLE, E_RE, E_OLE };

static void check_named(const char *lang_name, const char *file, enum expect expect)
{
        const struct lang *lang = lang_find(langs, lang_name);
        struct problem *problem = NULL;
        struct compiled c;
        struct gv_err err = {0};
        int in = -1;
        struct ran r;

        assert_non_null(lang);
        load_problem("aplusb", &problem);
        compile_example(lang, "aplusb", file, &c);
        if (expect == E_WA) {
                size_t ok_runs;
                uint32_t max_ms;
                size_t right = run_all(lang, &c, problem, &ok_runs, &max_ms);

                /* Runs cleanly everywhere, right on the small tests, wrong on a big one. */
                assert_int_equal(ok_runs, problem->n_tests);
                assert_true(right >= 2);
                assert_true(right < problem->n_tests);
        } else {
                assert_int_equal(problem_test_open(problem, 0, false, &in, &err), 0);
                run_one(lang, &c, &problem->limits, in, &r);
                close(in);
                switch (expect) {
                case E_TLE: /* on a loaded machine the wall clock may end it first */
                        assert_true(r.res.status == SANDBOX_TIME || r.res.status == SANDBOX_WALL);
                        if (r.res.status == SANDBOX_TIME)
                                assert_true(r.res.time_ms >= problem->limits.time_ms);
                        break;
                case E_MLE:
                        assert_int_equal(r.res.status, SANDBOX_MEMORY);
                        break;
                case E_RE:
                        assert_true(r.res.status == SANDBOX_NONZERO ||
                                    r.res.status == SANDBOX_SIGNAL);
                        break;
                case E_OLE:
                        assert_int_equal(r.res.status, SANDBOX_OUTPUT);
                        assert_true(r.out_len <= problem->limits.output_kib * 1024);
                        break;
                case E_WA:
                        break;
                }
                fprintf(stderr, "%-8s %-7s %s, %u ms, %" PRIu64 " KiB\n", lang_name, file,
                        sandbox_status_name(r.res.status), r.res.time_ms, r.res.memory_kib);
                free(r.out);
        }
        compiled_done(&c);
        problem_free(problem);
}

static void check_ce(const char *lang_name, const char *file)
{
        const struct lang *lang = lang_find(langs, lang_name);
        char path[PATH_MAX];
        struct compiled c;

        snprintf(path, sizeof(path), "%s/solutions/aplusb/%s", EXAMPLES, file);
        compile(lang, path, &c);
        assert_false(c.ok);
        assert_int_equal(c.res.status, SANDBOX_NONZERO);
        assert_true(strlen(c.log) > 0);
        /* The compiler's message names the source as the container sees it. */
        assert_non_null(strstr(c.log, lang->source_name));
        compiled_done(&c);
}

/* wa, tle, mle, re, ole and ce in one language: each must get what its name says. */
static void check_all_named(const char *lang_name, const char *ext)
{
        static const struct {
                const char *name;
                enum expect expect;
        } kinds[] = {{"wa", E_WA}, {"tle", E_TLE}, {"mle", E_MLE}, {"re", E_RE}, {"ole", E_OLE}};
        char file[32];

        for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
                snprintf(file, sizeof(file), "%s.%s", kinds[i].name, ext);
                check_named(lang_name, file, kinds[i].expect);
        }
        snprintf(file, sizeof(file), "ce.%s", ext);
        check_ce(lang_name, file);
}

/* ---- the dialect contestants expect -------------------------------------------------------- */

/* An ordinary program of tests/integration/worker/dialect/ compiles in lang (GNU dialect,
 * ONLINE_JUDGE defined) and prints "ok 3..." for the input "1 2". */
static void check_dialect(const char *lang_name, const char *file)
{
        const struct lang *lang = lang_find(langs, lang_name);
        struct job_limits limits = {.time_ms = 2000, .memory_kib = 64 * 1024, .output_kib = 64};
        char path[PATH_MAX];
        struct compiled c;
        struct ran r;
        int in = memfd_with("1 2\n", 4);

        assert_non_null(lang);
        snprintf(path, sizeof(path), "%s/tests/integration/worker/dialect/%s", GAVEL_SOURCE_DIR,
                 file);
        compile(lang, path, &c);
        if (!c.ok)
                fail_msg("%s: %s does not compile:\n%s", lang_name, file, c.log);
        run_one(lang, &c, &limits, in, &r);
        close(in);
        assert_int_equal(r.res.status, SANDBOX_OK);
        if (strncmp(r.out, "ok 3", 4) != 0)
                fail_msg("%s: %s printed '%s'", lang_name, file, r.out);
        free(r.out);
        compiled_done(&c);
}

static void test_c_and_cpp_are_the_gnu_dialect_with_online_judge(void **state)
{
        (void)state;
        check_dialect("c", "posix.c");
        check_dialect("cpp", "posix.cpp");
        check_dialect("cpp20", "posix.cpp");
        check_dialect("pascal", "online.pas");
}

static void test_c_examples_behave_as_named(void **state)
{
        (void)state;
        check_all_named("c", "c");
}

static void test_cpp_examples_behave_as_named(void **state)
{
        (void)state;
        check_all_named("cpp", "cpp");
}

static void test_python_examples_behave_as_named(void **state)
{
        (void)state;
        check_all_named("python3", "py");
}

static void test_bare_folder_example_runs_in_numeric_order(void **state)
{
        const struct lang *lang = lang_find(langs, "c");
        struct problem *problem = NULL;
        struct compiled c;
        size_t ok_runs;
        uint32_t max_ms;
        char *in;

        (void)state;
        load_problem("aplusb-bare", &problem);
        assert_int_equal(problem->n_tests, 4);
        in = read_file(problem->tests[3].in_path, NULL);
        assert_string_equal(in, "-1 -1\n"); /* 10.in comes last */
        free(in);
        assert_int_equal(problem->limits.time_ms, 0);
        problem->limits = (struct job_limits){.time_ms = 1000, .memory_kib = 65536};
        compile_example(lang, "aplusb", "ac.c", &c);
        assert_int_equal(run_all(lang, &c, problem, &ok_runs, &max_ms), 4);
        compiled_done(&c);
        problem_free(problem);
}

/* Float checker by hand: every number within eps, absolute or relative. */
static bool close_enough(const char *out, const char *ans, double eps)
{
        char *end;
        double x = strtod(out, &end), y = strtod(ans, NULL);

        if (end == out)
                return false;
        return fabs(x - y) <= eps || fabs(x - y) <= eps * fabs(y);
}

static void test_circle_example_needs_the_float_checker(void **state)
{
        static const struct {
                const char *lang, *file;
                bool ac;
        } sols[] = {{"c", "ac.c", true}, {"python3", "ac.py", true}, {"c", "wa.c", false}};
        struct problem *problem = NULL;

        (void)state;
        load_problem("circle", &problem);
        assert_int_equal(problem->checker, SCHEMA_CHECKER_FLOAT);
        assert_true(problem->checker_eps == 1e-6);
        for (size_t s = 0; s < ARRAY_SIZE(sols); s++) {
                const struct lang *lang = lang_find(langs, sols[s].lang);
                size_t good = 0;
                struct compiled c;

                compile_example(lang, "circle", sols[s].file, &c);
                for (size_t i = 0; i < problem->n_tests; i++) {
                        int in = -1;
                        struct ran r;
                        char *ans = read_file(problem->tests[i].ans_path, NULL);

                        assert_int_equal(problem_test_open(problem, i, false, &in, NULL), 0);
                        run_one(lang, &c, &problem->limits, in, &r);
                        assert_int_equal(r.res.status, SANDBOX_OK);
                        good += close_enough(r.out, ans, problem->checker_eps);
                        free(r.out);
                        free(ans);
                        close(in);
                }
                if (sols[s].ac)
                        assert_int_equal(good, problem->n_tests);
                else
                        assert_true(good < problem->n_tests);
                compiled_done(&c);
        }
        problem_free(problem);
}

/* Runs the split checker in a container: its exit code for (input, output, answer). */
static int run_checker(const struct compiled *checker, int in, const char *out, int ans)
{
        static const char *const argv[] = {"checker", "input.txt", "output.txt", "answer.txt",
                                           NULL};
        struct sandbox_run run = {.argv = argv,
                                  .stdin_fd = -1,
                                  .stdout_fd = -1,
                                  .stderr_fd = -1,
                                  .exe_fd = checker->artifact,
                                  .policy = PROTO_POLICY_RUN,
                                  .limits = {.time_ms = 5000, .memory_kib = 256 * 1024}};
        int out_fd = memfd_with(out, strlen(out));
        struct sandbox_result res;
        struct gv_err err = {0};
        struct sandbox *sb;

        if (sandbox_pool_acquire(pool, 30000, &sb, &err) < 0)
                fail_msg("acquire: %s", err.msg);
        put_in(sb, "/w/input.txt", in);
        put_in(sb, "/w/output.txt", out_fd);
        put_in(sb, "/w/answer.txt", ans);
        if (sandbox_exec(sb, &run, &res, &err) < 0)
                fail_msg("checker: %s", err.msg);
        sandbox_pool_release(pool, sb);
        close(out_fd);
        return res.status == SANDBOX_OK ? 0 : res.status == SANDBOX_NONZERO ? res.exit_code : -1;
}

static void test_split_example_with_subtasks_and_custom_checker(void **state)
{
        static const struct {
                const char *lang, *file;
                int codes[6]; /* the checker's exit code per test */
        } sols[] = {{"cpp", "ac.cpp", {0, 0, 0, 0, 0, 0}},
                    {"python3", "ac.py", {0, 0, 0, 0, 0, 0}},
                    {"cpp", "wa.cpp", {0, 0, 0, 0, 1, 1}}};
        const struct lang *cpp = lang_find(langs, "cpp");
        struct problem *problem = NULL;
        struct compiled checker;
        int in = -1, ans = -1;

        (void)state;
        load_problem("split", &problem);
        assert_non_null(problem->checker_source);
        assert_string_equal(problem->checker_lang, "cpp");
        assert_int_equal(problem->n_tests, 6);
        assert_int_equal(problem->n_subtasks, 2);
        assert_string_equal(problem->subtasks[1].name, "large");
        assert_int_equal(problem->subtasks[1].n_tests, 3);
        assert_int_equal(problem->subtasks[1].n_depends, 1);
        assert_int_equal(problem->subtasks[1].depends[0], 0);
        compile(cpp, problem->checker_source, &checker);
        if (!checker.ok)
                fail_msg("checker.cpp: %s", checker.log);
        /* Its own conventions: PE for a malformed output, 3 for a broken answer file. */
        assert_int_equal(problem_test_open(problem, 1, false, &in, NULL), 0);
        assert_int_equal(problem_test_open(problem, 1, true, &ans, NULL), 0);
        assert_int_equal(run_checker(&checker, in, "1 9\n", ans), 0);
        assert_int_equal(run_checker(&checker, in, "5 4\n", ans), 1);
        assert_int_equal(run_checker(&checker, in, "ten\n", ans), 2);
        assert_int_equal(run_checker(&checker, in, "1 9\n", in), 3);
        close(in);
        close(ans);
        for (size_t s = 0; s < ARRAY_SIZE(sols); s++) {
                const struct lang *lang = lang_find(langs, sols[s].lang);
                struct compiled c;

                compile_example(lang, "split", sols[s].file, &c);
                for (size_t i = 0; i < problem->n_tests; i++) {
                        struct ran r;

                        assert_int_equal(problem_test_open(problem, i, false, &in, NULL), 0);
                        assert_int_equal(problem_test_open(problem, i, true, &ans, NULL), 0);
                        run_one(lang, &c, &problem->limits, in, &r);
                        assert_int_equal(r.res.status, SANDBOX_OK);
                        if (run_checker(&checker, in, r.out, ans) != sols[s].codes[i])
                                fail_msg("%s test %zu: output '%s', checker exit not %d",
                                         sols[s].file, i + 1, r.out, sols[s].codes[i]);
                        free(r.out);
                        close(in);
                        close(ans);
                }
                compiled_done(&c);
        }
        compiled_done(&checker);
        problem_free(problem);
}

static int setup(void **state)
{
        struct sandbox_conf conf;
        struct gv_err err = {0};

        (void)state;
        if (lang_table_load(NULL, &langs, &err) < 0) {
                fprintf(stderr, "lang_table_load: %s\n", err.msg);
                return -1;
        }
        sandbox_conf_default(&conf);
        conf.pool_size = 2;
        if (sandbox_pool_new(&conf, &pool, &err) < 0) {
                fprintf(stderr, "sandbox_pool_new: %s\n", err.msg);
                return -1;
        }
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        sandbox_pool_free(pool);
        lang_table_free(langs);
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_language_compiles_and_runs_aplusb),
                cmocka_unit_test(test_c_and_cpp_are_the_gnu_dialect_with_online_judge),
                cmocka_unit_test(test_c_examples_behave_as_named),
                cmocka_unit_test(test_cpp_examples_behave_as_named),
                cmocka_unit_test(test_python_examples_behave_as_named),
                cmocka_unit_test(test_bare_folder_example_runs_in_numeric_order),
                cmocka_unit_test(test_circle_example_needs_the_float_checker),
                cmocka_unit_test(test_split_example_with_subtasks_and_custom_checker),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
