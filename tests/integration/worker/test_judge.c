/* SPDX-License-Identifier: MIT */
/*
 * The judging engine with real containers, compilers and the built-in language table: what each
 * kind of job becomes (REJECTED, CE with a capped log, SE, the per-test verdicts), the compile
 * limits against hostile sources, the compile cache, stop_on_failure, subtask scoring, custom
 * checkers, a container killed mid-run, cancellation, and several jobs judged at once on every
 * slot.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "schema/cleanup.h"
#include "worker/judge/judge.h"
#include "worker/judge/lang.h"
#include "worker/judge/problem/problem.h"

#define SLOTS    2
#define LOG_MAX  (64 * 1024)
#define EXAMPLES GAVEL_SOURCE_DIR "/ops/examples/problems"

static struct lang_table *langs;
static struct judge *judge;
static char tmp[] = "/tmp/gavel-test-judge-XXXXXX";

static const char ac_c[] = "#include <stdio.h>\n"
                           "int main(void)\n"
                           "{\n"
                           "        long a, b;\n"
                           "        if (scanf(\"%ld %ld\", &a, &b) != 2)\n"
                           "                return 1;\n"
                           "        printf(\"%ld\\n\", a + b);\n"
                           "        return 0;\n"
                           "}\n";

/* Spins until its own cpu clock passes 0.3 s, then answers like ac_c. */
static const char spin_c[] = "#define _POSIX_C_SOURCE 200809L\n"
                             "#include <stdio.h>\n"
                             "#include <time.h>\n"
                             "int main(void)\n"
                             "{\n"
                             "        struct timespec t;\n"
                             "        long a, b;\n"
                             "        do\n"
                             "                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);\n"
                             "        while (t.tv_sec * 1000000000L + t.tv_nsec < 300000000L);\n"
                             "        if (scanf(\"%ld %ld\", &a, &b) != 2)\n"
                             "                return 1;\n"
                             "        printf(\"%ld\\n\", a + b);\n"
                             "        return 0;\n"
                             "}\n";

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

/* A job of inline tests "a b" -> "a+b"; add tests with add_test. */
static void job_init(struct job *job, const char *id, const char *lang, const char *src)
{
        *job = (struct job){
                .v = SCHEMA_VERSION,
                .id = xstrdup(id),
                .lang = xstrdup(lang),
                .source = xmemdup(src, strlen(src)),
                .source_len = strlen(src),
                .attempt = 1,
        };
}

static void add_test(struct job *job, const char *in, const char *out, double points)
{
        struct job_test *t;

        job->tests = realloc(job->tests, (job->n_tests + 1) * sizeof(*job->tests));
        assert_non_null(job->tests);
        t = &job->tests[job->n_tests++];
        *t = (struct job_test){
                .in = xmemdup(in, strlen(in)),
                .in_len = strlen(in),
                .out = xmemdup(out, strlen(out)),
                .out_len = strlen(out),
                .points = points,
                .has_points = points > 0,
        };
}

static void add_sums(struct job *job, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                char in[32], out[32];

                snprintf(in, sizeof(in), "%zu %zu\n", i, 2 * i);
                snprintf(out, sizeof(out), "%zu\n", 3 * i);
                add_test(job, in, out, 0);
        }
}

/* Judges job and checks the overall code; the caller releases *v. */
static void judge_expect(struct job *job, enum schema_code code, struct verdict *v)
{
        struct gv_err err = {0};

        assert_int_equal(judge_run(judge, job, NULL, NULL, v, &err), 0);
        if (v->verdict != code)
                fail_msg("job %s: expected %s, got %s (%s)", job->id, schema_code_name(code),
                         schema_code_name(v->verdict), v->reason ? v->reason : "");
}

static void expect_reason(const struct verdict *v, const char *part)
{
        assert_non_null(v->reason);
        if (!strstr(v->reason, part))
                fail_msg("reason '%s' lacks '%s'", v->reason, part);
}

static int setup(void **state)
{
        struct judge_conf conf;
        struct gv_err err = {0};
        int r;

        (void)state;
        if (!mkdtemp(tmp))
                return -1;
        r = lang_table_load(NULL, &langs, &err);
        if (r < 0) {
                fprintf(stderr, "languages: %s\n", err.msg);
                return -1;
        }
        /* the exponential template must end at the compile limit without taking 10 s */
        for (size_t i = 0; i < langs->n; i++)
                if (!strcmp(langs->langs[i].name, "cpp")) {
                        langs->langs[i].compile_limits.time_ms = 5000;
                        langs->langs[i].compile_limits.wall_ms = 8000;
                }
        judge_conf_default(&conf);
        conf.slots = SLOTS;
        conf.langs = langs;
        conf.cache_dir = tmp;
        conf.problem_store = EXAMPLES;
        conf.worker_id = "test-worker";
        r = judge_new(&conf, &judge, &err);
        if (r < 0) {
                fprintf(stderr, "judge: %s\n", err.msg);
                return -1;
        }
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        judge_free(judge);
        lang_table_free(langs);
        judge = NULL;
        langs = NULL;
        nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 0;
}

/* ---- rejected and system errors --------------------------------------------------------- */

static void test_unknown_language_is_rejected(void **state)
{
        struct verdict v;
        struct job job;

        (void)state;
        job_init(&job, "unknown-lang", "cobol", ac_c);
        add_sums(&job, 1);
        judge_expect(&job, SCHEMA_REJECTED, &v);
        expect_reason(&v, "unknown language 'cobol'");
        assert_string_equal(v.id, "unknown-lang");
        assert_string_equal(v.worker, "test-worker");
        assert_int_equal(v.n_tests, 0);
        verdict_done(&v);
        job_done(&job);
}

static void test_missing_problem_is_rejected(void **state)
{
        /* a 300-character id, and a hidden folder a store kept in git has: REJECTED, not SE */
        static const char *const ids[] = {"no-such-problem", "..", "a/../aplusb", ".git",
                                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
        struct verdict v;
        struct job job;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
                job_init(&job, "missing-problem", "c", ac_c);
                job.problem = xstrdup(ids[i]);
                judge_expect(&job, SCHEMA_REJECTED, &v);
                if (strlen(ids[i]) <= 128)
                        expect_reason(&v, ids[i]);
                verdict_done(&v);
                job_done(&job);
        }
        job_init(&job, "no-tests", "c", ac_c);
        judge_expect(&job, SCHEMA_REJECTED, &v);
        expect_reason(&v, "neither problem nor tests");
        verdict_done(&v);
        job_done(&job);
}

static void test_limits_over_the_maximum_are_rejected(void **state)
{
        struct verdict v;
        struct job job;

        (void)state;
        job_init(&job, "greedy", "c", ac_c);
        add_sums(&job, 1);
        job.limits.memory_kib = 64ull * 1024 * 1024;
        judge_expect(&job, SCHEMA_REJECTED, &v);
        expect_reason(&v, "limits.memory_kib");
        verdict_done(&v);
        job_done(&job);
}

static void test_missing_compiler_is_a_system_error(void **state)
{
        static const char yaml[] = "nocc:\n"
                                   "  title: no compiler\n"
                                   "  source: main.c\n"
                                   "  compile: [no-such-compiler, \"{src}\"]\n"
                                   "  artifact: main\n"
                                   "  exec: true\n"
                                   "  run: [\"{exe}\"]\n"
                                   "  version: [no-such-compiler, --version]\n";
        struct lang_table *table = NULL;
        struct judge *j = NULL;
        struct judge_conf conf;
        struct gv_err err = {0};
        struct verdict v;
        struct job job;
        char path[128];
        FILE *f;

        (void)state;
        snprintf(path, sizeof(path), "%s/langs.yaml", tmp);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(yaml, f);
        fclose(f);
        assert_int_equal(lang_table_load(path, &table, &err), 0);
        judge_conf_default(&conf);
        conf.slots = 1;
        conf.langs = table;
        conf.cache_dir = tmp;
        assert_int_equal(judge_new(&conf, &j, &err), 0);
        job_init(&job, "nocc", "nocc", ac_c);
        add_sums(&job, 1);
        assert_int_equal(judge_run(j, &job, NULL, NULL, &v, &err), 0);
        assert_int_equal(v.verdict, SCHEMA_SE);
        expect_reason(&v, "compiler");
        verdict_done(&v);
        job_done(&job);
        judge_free(j);
        lang_table_free(table);
}

/* ---- compile stage ---------------------------------------------------------------------- */

/* Judges a hostile source: CE, a log of at most LOG_MAX bytes, within max_ms. */
/* src must be CE within max_ms, its reason and log holding these parts (NULL: any). */
static void expect_ce(const char *lang, const char *src, const char *reason, const char *log_part,
                      int64_t max_ms)
{
        struct verdict v;
        struct job job;
        int64_t t0 = now_ms(), took;

        job_init(&job, "hostile", lang, src);
        add_sums(&job, 1);
        judge_expect(&job, SCHEMA_CE, &v);
        took = now_ms() - t0;
        if (took > max_ms)
                fail_msg("%s: CE after %lld ms (at most %lld)", reason, (long long)took,
                         (long long)max_ms);
        if (reason)
                expect_reason(&v, reason);
        if (log_part && (!v.compile.log || !strstr(v.compile.log, log_part)))
                fail_msg("compile log lacks '%s':\n%.2000s", log_part,
                         v.compile.log ? v.compile.log : "(none)");
        assert_true(v.compile.present);
        assert_false(v.compile.ok);
        assert_int_equal(v.n_tests, 0);
        if (v.compile.log)
                assert_true(strlen(v.compile.log) <= LOG_MAX);
        verdict_done(&v);
        job_done(&job);
}

static void test_compile_error_gives_the_log(void **state)
{
        struct verdict v, again;
        struct job job;

        (void)state;
        job_init(&job, "ce", "c", "int main(void) { return undeclared_x; }\n");
        add_sums(&job, 1);
        judge_expect(&job, SCHEMA_CE, &v);
        expect_reason(&v, "compilation error (exit code 1)");
        assert_false(v.compile.cached);
        assert_non_null(v.compile.log);
        assert_non_null(strstr(v.compile.log, "undeclared_x"));
        /* a rejudge does not compile again: the same CE, log and figures from the cache */
        judge_expect(&job, SCHEMA_CE, &again);
        assert_true(again.compile.cached);
        assert_false(again.compile.ok);
        assert_string_equal(again.reason, v.reason);
        assert_string_equal(again.compile.log, v.compile.log);
        assert_int_equal(again.compile.time_ms, v.compile.time_ms);
        assert_int_equal(again.compile.memory_kib, v.compile.memory_kib);
        verdict_done(&again);
        verdict_done(&v);
        job_done(&job);
}

/* A compiler echoing a hostile line: the log in the verdict is UTF-8 every client decodes. */
static void test_compile_log_of_bytes_that_are_not_utf8_is_utf8(void **state)
{
        struct verdict v;
        struct job job;
        void *buf;
        size_t len;

        (void)state;
        job_init(&job, "ce-bytes", "c", "#error \xff\xfe\nint main(void) { return 0; }\n");
        add_sums(&job, 1);
        judge_expect(&job, SCHEMA_CE, &v);
        assert_non_null(v.compile.log);
        if (!schema_utf8_valid(v.compile.log, strlen(v.compile.log)))
                fail_msg("compile log is not UTF-8:\n%s", v.compile.log);
        assert_non_null(strstr(v.compile.log, "#error \xef\xbf\xbd\xef\xbf\xbd"));
        assert_int_equal(schema_verdict_encode(&v, &buf, &len), 0);
        free(buf);
        verdict_done(&v);
        job_done(&job);
}

static void test_megabytes_of_errors_end_with_a_capped_log(void **state)
{
        size_t n = 20000, off = 0;
        char *src = xmalloc(n * 12 + 1);

        (void)state;
        /* every error quotes the whole 170 KB line: gigabytes unless stopped */
        for (size_t i = 0; i < n; i++)
                off += (size_t)sprintf(src + off, "t%zu v;", i);
        expect_ce("c", src, "compilation output limit exceeded", NULL, 15000);
        free(src);
}

static void test_include_dev_random_is_ce(void **state)
{
        (void)state;
        /* the container's /dev has no random: gcc says so at once */
        expect_ce("c", "#include \"/dev/random\"\nint main(void) { return 0; }\n",
                  "compilation error (exit code 1)", "/dev/random: No such file", 5000);
}

static void test_one_gib_initialised_array_is_ce(void **state)
{
        (void)state;
        /* the assembler's 1 GiB object file hits the file size limit */
        expect_ce("c", "char a[1 << 30] = {1};\nint main(void) { return a[5]; }\n",
                  "compilation error", "File size limit exceeded", 5000);
}

/* Compiles until the compile limit: 2^40 pairs. */
static const char exponential_template_cpp[] =
        "#include <utility>\n"
        "template <int N, class T> struct E {\n"
        "        using type = typename E<N - 1, std::pair<T, T>>::type;\n"
        "};\n"
        "template <class T> struct E<0, T> { using type = T; };\n"
        "int main() { E<40, int>::type x = 0; return 0; }\n";

static void test_exponential_template_is_ce(void **state)
{
        (void)state;
        expect_ce("cpp", exponential_template_cpp, "compilation time limit exceeded", NULL, 20000);
}

static void test_compile_log_shows_no_host_file_or_test_data(void **state)
{
        /* a host file by its path; the test data where a run finds it; stdin */
        const char *includes[] = {NULL, "/w/input.txt", "/proc/self/fd/0"};
        char path[128], src[256];
        struct verdict v;
        struct job job;
        FILE *f;

        (void)state;
        snprintf(path, sizeof(path), "%s/secret.h", tmp);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs("host-secret-7d1f\n", f);
        fclose(f);
        includes[0] = path;
        for (size_t i = 0; i < ARRAY_SIZE(includes); i++) {
                snprintf(src, sizeof(src), "#include \"%s\"\nint main(void) { return 0; }\n",
                         includes[i]);
                job_init(&job, "peek", "c", src);
                add_test(&job, "test-secret-9c2e\n", "x\n", 0);
                /* neither exists in the compile container; the compiler's stdin is empty */
                judge_expect(&job, i < 2 ? SCHEMA_CE : SCHEMA_WA, &v);
                assert_true(i == 2 || v.compile.log);
                assert_null(strstr(v.compile.log ? v.compile.log : "", "host-secret-7d1f"));
                assert_null(strstr(v.compile.log ? v.compile.log : "", "test-secret-9c2e"));
                verdict_done(&v);
                job_done(&job);
        }
}

static void test_second_compile_comes_from_the_cache(void **state)
{
        static const char src[] = "#include <stdio.h>\n"
                                  "int main(void) { long a, b; scanf(\"%ld %ld\", &a, &b);\n"
                                  "        printf(\"%ld\\n\", a + b); return 0; } /* cache */\n";
        struct verdict v1, v2;
        struct job job;
        int64_t t0, first, second;

        (void)state;
        job_init(&job, "cache-1", "c", src);
        add_sums(&job, 1);
        t0 = now_ms();
        judge_expect(&job, SCHEMA_AC, &v1);
        first = now_ms() - t0;
        t0 = now_ms();
        judge_expect(&job, SCHEMA_AC, &v2);
        second = now_ms() - t0;
        assert_false(v1.compile.cached);
        assert_true(v2.compile.cached);
        assert_true(v2.compile.ok);
        /* the record of the first compile comes back with the artifact */
        assert_int_equal(v2.compile.time_ms, v1.compile.time_ms);
        assert_int_equal(v2.compile.memory_kib, v1.compile.memory_kib);
        if (second >= first)
                fail_msg("cached judging took %lld ms, the first %lld ms", (long long)second,
                         (long long)first);
        verdict_done(&v1);
        verdict_done(&v2);
        job_done(&job);
}

/* ---- tests and verdicts ----------------------------------------------------------------- */

static void progress_stages(const struct progress *p, void *userdata)
{
        char *log = userdata;
        size_t n = strlen(log);

        snprintf(log + n, 256 - n, "%s%s", n ? "," : "", schema_stage_name(p->stage));
        if (p->stage == SCHEMA_STAGE_RUNNING) {
                n = strlen(log);
                snprintf(log + n, 256 - n, "%u/%u", p->test, p->of);
        }
}

static void test_verdict_carries_the_job_and_the_maxima(void **state)
{
        static const uint8_t meta[] = {0x81, 0xa1, 'u', 0x2a}; /* {"u": 42} */
        char stages[256] = "";
        struct gv_err err = {0};
        struct verdict v;
        struct job job;

        (void)state;
        job_init(&job, "fields", "c", ac_c);
        add_test(&job, "1 2\n", "3\n", 40);
        add_test(&job, "5 5\n", "11\n", 60);
        job.meta = xmemdup(meta, sizeof(meta));
        job.meta_len = sizeof(meta);
        job.attempt = 3;
        assert_int_equal(judge_run(judge, &job, progress_stages, stages, &v, &err), 0);
        assert_int_equal(v.verdict, SCHEMA_WA);
        assert_int_equal(v.n_tests, 2);
        assert_int_equal(v.tests[0].verdict, SCHEMA_AC);
        assert_int_equal(v.tests[1].verdict, SCHEMA_WA);
        assert_non_null(v.tests[1].checker_message);
        assert_true(v.score == 40 && v.max_score == 100);
        assert_int_equal(v.attempt, 3);
        assert_int_equal(v.meta_len, sizeof(meta));
        assert_memory_equal(v.meta, meta, sizeof(meta));
        assert_true(v.received_ms > 0 && v.finished_ms >= v.received_ms);
        assert_true(v.memory_kib > 0);
        assert_int_equal(v.memory_kib, v.tests[0].memory_kib > v.tests[1].memory_kib
                                               ? v.tests[0].memory_kib
                                               : v.tests[1].memory_kib);
        assert_string_equal(stages, "received,compiling,running1/2,running2/2,done");
        verdict_done(&v);
        job_done(&job);
}

static void test_run_limits_give_their_verdicts(void **state)
{
        static const struct {
                const char *src;
                enum schema_code code;
        } cases[] = {
                {"int main(void) { volatile unsigned long x = 0; for (;;) x++; }\n", SCHEMA_TLE},
                {"#include <unistd.h>\nint main(void) { sleep(100); return 0; }\n", SCHEMA_TLE},
                {"#include <stdlib.h>\n#include <string.h>\nint main(void) { for (;;) {\n"
                 "char *p = malloc(1 << 20); if (!p) return 1; memset(p, 1, 1 << 20); } }\n",
                 SCHEMA_MLE},
                {"#include <stdio.h>\nint main(void) { for (;;) fputs(\"xxxxxxxxxxxxxxx\\n\", "
                 "stdout); }\n",
                 SCHEMA_OLE},
                {"int main(void) { int *p = 0; return *p; }\n", SCHEMA_RE},
                {"int main(void) { return 3; }\n", SCHEMA_RE},
        };
        struct verdict v;
        struct job job;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                job_init(&job, "limits", "c", cases[i].src);
                add_sums(&job, 1);
                /* tight for the TLE cases; room for the others: touching 64 MiB alone costs
                 * about 270 ms of cpu in this VM */
                job.limits =
                        (struct job_limits){.time_ms = cases[i].code == SCHEMA_TLE ? 300 : 3000,
                                            .wall_ms = cases[i].code == SCHEMA_TLE ? 1000 : 6000,
                                            .memory_kib = 64 * 1024,
                                            .output_kib = 1024};
                judge_expect(&job, cases[i].code, &v);
                if (i == 4)
                        assert_int_equal(v.tests[0].signal, 11);
                if (i == 5)
                        assert_int_equal(v.tests[0].exit_code, 3);
                verdict_done(&v);
                job_done(&job);
        }
}

static void test_python_runs_from_a_copied_script(void **state)
{
        struct verdict v;
        struct job job;

        (void)state;
        job_init(&job, "py", "python3", "a, b = map(int, input().split())\nprint(a + b)\n");
        add_sums(&job, 3);
        judge_expect(&job, SCHEMA_AC, &v);
        verdict_done(&v);
        job_done(&job);
        job_init(&job, "py-re", "python3", "import sys\nsys.exit(4)\n");
        add_sums(&job, 1);
        judge_expect(&job, SCHEMA_RE, &v);
        assert_int_equal(v.tests[0].exit_code, 4);
        verdict_done(&v);
        job_done(&job);
}

static void test_stop_on_failure_skips_the_rest(void **state)
{
        struct verdict v;
        struct job job;

        (void)state;
        for (int stop = 0; stop <= 1; stop++) {
                job_init(&job, "stop", "c", ac_c);
                add_test(&job, "1 1\n", "2\n", 0);
                add_test(&job, "1 1\n", "3\n", 0);
                add_test(&job, "2 2\n", "4\n", 0);
                job.stop_on_failure = stop;
                judge_expect(&job, SCHEMA_WA, &v);
                assert_int_equal(v.n_tests, 3);
                assert_int_equal(v.tests[1].verdict, SCHEMA_WA);
                assert_int_equal(v.tests[2].verdict, stop ? SCHEMA_SKIPPED : SCHEMA_AC);
                assert_true(v.score == (stop ? 1 : 2) && v.max_score == 3);
                verdict_done(&v);
                job_done(&job);
        }
}

/* A problem of five inline tests and three subtasks: A (tests 0, 1) 20 points, B (2, 3) 30
 * points depending on A, C (4) 50 points. */
static void subtask_problem(struct problem *p, const char *const *ins, const char *const *anss)
{
        static size_t a_tests[] = {0, 1}, b_tests[] = {2, 3}, c_tests[] = {4}, b_deps[] = {0};

        *p = (struct problem){.id = "subtasks", .hash = "h", .checker = SCHEMA_CHECKER_TOKENS};
        p->tests = xcalloc(5, sizeof(*p->tests));
        p->n_tests = 5;
        for (size_t i = 0; i < 5; i++)
                p->tests[i] = (struct problem_test){.in = (const uint8_t *)ins[i],
                                                    .in_len = strlen(ins[i]),
                                                    .ans = (const uint8_t *)anss[i],
                                                    .ans_len = strlen(anss[i])};
        p->subtasks = xcalloc(3, sizeof(*p->subtasks));
        p->n_subtasks = 3;
        p->subtasks[0] = (struct problem_subtask){"A", 20, a_tests, 2, NULL, 0};
        p->subtasks[1] = (struct problem_subtask){"B", 30, b_tests, 2, b_deps, 1};
        p->subtasks[2] = (struct problem_subtask){"C", 50, c_tests, 1, NULL, 0};
}

static void test_subtasks_score_with_their_dependencies(void **state)
{
        static const char *const ins[] = {"1 1\n", "2 2\n", "3 3\n", "4 4\n", "5 5\n"};
        static const char *const right[] = {"2\n", "4\n", "6\n", "8\n", "10\n"};
        static const char *const a_wrong[] = {"2\n", "5\n", "6\n", "8\n", "10\n"};
        static const char *const c_wrong[] = {"2\n", "4\n", "6\n", "8\n", "11\n"};
        struct {
                const char *const *ans;
                enum schema_code code;
                double score;
                enum schema_code b_test; /* test 2's verdict */
        } cases[] = {
                {right, SCHEMA_AC, 100, SCHEMA_AC},
                /* A fails: B scores nothing and is not even run; C still counts */
                {a_wrong, SCHEMA_WA, 50, SCHEMA_SKIPPED},
                {c_wrong, SCHEMA_WA, 50, SCHEMA_AC},
        };
        struct gv_err err = {0};

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct problem p;
                struct verdict v;
                struct job job;
                struct judge_request req = {.job = &job};

                subtask_problem(&p, ins, cases[i].ans);
                req.problem = &p;
                job_init(&job, "subtasks", "c", ac_c);
                assert_int_equal(judge_run_request(judge, &req, &v, &err), 0);
                assert_int_equal(v.verdict, cases[i].code);
                assert_true(v.score == cases[i].score);
                assert_true(v.max_score == 100);
                assert_int_equal(v.tests[2].verdict, cases[i].b_test);
                assert_int_equal(v.tests[4].verdict, i == 2 ? SCHEMA_WA : SCHEMA_AC);
                verdict_done(&v);
                job_done(&job);
                free(p.tests);
                free(p.subtasks);
        }
}

/* ---- custom checkers -------------------------------------------------------------------- */

static void test_custom_checker_of_the_store_judges(void **state)
{
        static const char wa[] = "#include <stdio.h>\n"
                                 "int main(void) { long long n; scanf(\"%lld\", &n);\n"
                                 "        printf(\"%lld %lld\\n\", n / 2, n / 2); return 0; }\n";
        static const char ac[] = "#include <stdio.h>\n"
                                 "int main(void) { long long n; scanf(\"%lld\", &n);\n"
                                 "        printf(\"1 %lld\\n\", n - 1); return 0; }\n";
        struct verdict v;
        struct job job;

        (void)state;
        job_init(&job, "split-ac", "c", ac);
        job.problem = xstrdup("split");
        judge_expect(&job, SCHEMA_AC, &v);
        assert_true(v.score == 100);
        verdict_done(&v);
        job_done(&job);
        /* right on even n only: subtask small (30 points) */
        job_init(&job, "split-wa", "c", wa);
        job.problem = xstrdup("split");
        judge_expect(&job, SCHEMA_WA, &v);
        assert_true(v.score == 30);
        verdict_done(&v);
        job_done(&job);
}

/* The store's test file never becomes a program's stdin: its descriptor would tell the store's
 * host path (readlink /proc/self/fd/0) and let it flock the file. */
static void test_stdin_of_a_store_test_is_a_memory_copy(void **state)
{
        static const char src[] =
                "#include <stdio.h>\n#include <string.h>\n#include <unistd.h>\n"
                "int main(void) { char p[4096] = \"\"; long long a, b;\n"
                "        if (readlink(\"/proc/self/fd/0\", p, sizeof(p) - 1) < 0 ||\n"
                "            strncmp(p, \"/memfd:\", 7)) { puts(p); return 0; }\n"
                "        if (scanf(\"%lld %lld\", &a, &b) == 2) printf(\"%lld\\n\", a + b);\n"
                "        return 0; }\n";
        struct verdict v;
        struct job job;

        (void)state;
        job_init(&job, "stdin-memfd", "c", src);
        job.problem = xstrdup("aplusb");
        judge_expect(&job, SCHEMA_AC, &v);
        verdict_done(&v);
        job_done(&job);
}

static void test_failing_custom_checker_is_a_system_error(void **state)
{
        static const char *const ins[] = {"1 1\n", "2 2\n", "3 3\n", "4 4\n", "5 5\n"};
        static const char *const anss[] = {"2\n", "4\n", "6\n", "8\n", "10\n"};
        static const char checker[] = "#include <cstdio>\n"
                                      "int main() { std::fputs(\"broken checker\", stderr);\n"
                                      "        return 3; }\n";
        struct gv_err err = {0};
        char path[128];
        struct problem p;
        struct verdict v;
        struct job job;
        struct judge_request req = {.job = &job, .problem = &p};
        FILE *f;

        (void)state;
        snprintf(path, sizeof(path), "%s/checker.cpp", tmp);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(checker, f);
        fclose(f);
        subtask_problem(&p, ins, anss);
        p.checker_source = path;
        p.checker_lang = "cpp";
        job_init(&job, "bad-checker", "c", ac_c);
        assert_int_equal(judge_run_request(judge, &req, &v, &err), 0);
        assert_int_equal(v.verdict, SCHEMA_SE);
        expect_reason(&v, "broken checker");
        assert_int_equal(v.tests[0].verdict, SCHEMA_SE);
        assert_true(v.score == 0);
        verdict_done(&v);
        job_done(&job);
        free(p.tests);
        free(p.subtasks);
}

/* ---- memory figures ---------------------------------------------------------------------- */

static void test_a_large_input_is_not_the_programs_memory(void **state)
{
        /* reads all of stdin through a small buffer: its own memory stays small */
        static const char read_all_c[] = "#include <stdio.h>\n"
                                         "int main(void)\n"
                                         "{\n"
                                         "        static char buf[1 << 16];\n"
                                         "        unsigned long n = 0, k;\n"
                                         "        while ((k = fread(buf, 1, sizeof(buf), stdin)))\n"
                                         "                n += k;\n"
                                         "        printf(\"%lu\\n\", n);\n"
                                         "        return 0;\n"
                                         "}\n";
        char dir[256], path[300], line[1 << 12], ans[32];
        struct gv_err err = {0};
        struct problem *p = NULL;
        struct verdict v;
        struct job job;
        struct judge_request req = {.job = &job};
        size_t size = 0;
        int fd;

        (void)state;
        snprintf(dir, sizeof(dir), "%s/big-input", tmp);
        assert_int_equal(mkdir(dir, 0755), 0);
        snprintf(path, sizeof(path), "%s/1.in", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        memset(line, '7', sizeof(line));
        for (int i = 0; i < 32 * 256; i++) /* 32 MiB */
                size += (size_t)write(fd, line, sizeof(line));
        assert_int_equal(fsync(fd), 0);
        close(fd);
        snprintf(path, sizeof(path), "%s/1.ans", dir);
        snprintf(ans, sizeof(ans), "%zu\n", size);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_int_equal(write(fd, ans, strlen(ans)), (ssize_t)strlen(ans));
        close(fd);
        assert_int_equal(problem_load_dir(dir, &p, &err), 0);
        req.problem = p;
        /* loading read (hashed) the input: now on disk only again, as after the host evicted
         * it during a long contest (the hash is not computed again) */
        snprintf(path, sizeof(path), "%s/1.in", dir);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
        {
                /* evicted for real (a tmpfs would keep it, and the test would prove nothing) */
                size_t pages = size / 4096, in = 0;
                unsigned char *vec = xmalloc(pages);
                void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

                assert_true(map != MAP_FAILED);
                assert_int_equal(mincore(map, size, vec), 0);
                for (size_t k = 0; k < pages; k++)
                        in += vec[k] & 1;
                munmap(map, size);
                free(vec);
                assert_true(in < pages / 2);
        }
        close(fd);
        job_init(&job, "big-input", "c", read_all_c);
        job.limits =
                (struct job_limits){.time_ms = 5000, .memory_kib = 256 * 1024, .output_kib = 1024};
        assert_int_equal(judge_run_request(judge, &req, &v, &err), 0);
        fprintf(stderr, "reading a 32 MiB input out of the page cache: peak %" PRIu64 " KiB\n",
                v.memory_kib);
        assert_int_equal(v.verdict, SCHEMA_AC);
        assert_true(v.memory_kib < 8 * 1024);
        verdict_done(&v);
        job_done(&job);
        problem_free(p);
}

static void test_debug_output_on_stderr_is_no_verdict(void **state)
{
        /* 10 MiB on stderr under a 1 MiB output limit, then the right answer */
        static const char chatty_c[] = "#include <stdio.h>\n"
                                       "#include <string.h>\n"
                                       "int main(void)\n"
                                       "{\n"
                                       "        static char line[1 << 16];\n"
                                       "        long a, b;\n"
                                       "        memset(line, 'd', sizeof(line));\n"
                                       "        for (int i = 0; i < 160; i++)\n"
                                       "                fwrite(line, 1, sizeof(line), stderr);\n"
                                       "        if (scanf(\"%ld %ld\", &a, &b) != 2)\n"
                                       "                return 1;\n"
                                       "        printf(\"%ld\\n\", a + b);\n"
                                       "        return 0;\n"
                                       "}\n";
        struct verdict v;
        struct job job;

        (void)state;
        job_init(&job, "chatty", "c", chatty_c);
        add_sums(&job, 2);
        job.limits =
                (struct job_limits){.time_ms = 3000, .memory_kib = 64 * 1024, .output_kib = 1024};
        judge_expect(&job, SCHEMA_AC, &v);
        verdict_done(&v);
        job_done(&job);
}

/* ---- a container that dies, a job cancelled mid-test ----------------------------------- */

/* Spins on "0 0"; answers every other test. */
static const char spin_on_zero_c[] = "#include <stdio.h>\n"
                                     "int main(void)\n"
                                     "{\n"
                                     "        long a, b;\n"
                                     "        if (scanf(\"%ld %ld\", &a, &b) != 2)\n"
                                     "                return 1;\n"
                                     "        while (a == 0 && b == 0)\n"
                                     "                ;\n"
                                     "        printf(\"%ld\\n\", a + b);\n"
                                     "        return 0;\n"
                                     "}\n";

/* Judges spin_on_zero_c once, so that later jobs of it start no compiler. */
static void warm_spin_on_zero(void)
{
        struct verdict v;
        struct job job;

        job_init(&job, "warm", "c", spin_on_zero_c);
        add_test(&job, "1 2\n", "3\n", 0);
        judge_expect(&job, SCHEMA_AC, &v);
        verdict_done(&v);
        job_done(&job);
}

/* A job of spin_on_zero_c whose first test spins for up to 8 s of cpu time. */
static void spinning_job(struct job *job, const char *id)
{
        job_init(job, id, "c", spin_on_zero_c);
        add_test(job, "0 0\n", "0\n", 0);
        add_test(job, "1 2\n", "3\n", 0);
        add_test(job, "2 2\n", "4\n", 0);
        job->limits = (struct job_limits){
                .time_ms = 8000, .wall_ms = 16000, .memory_kib = 64 * 1024, .output_kib = 1024};
}

/* The parent pid of pid from /proc/pid/stat (after the last ')': the name may hold any byte). */
static pid_t parent_of(pid_t pid)
{
        char path[64], buf[512], *p;
        ssize_t n;
        int fd, ppid = 0;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
                return 0;
        return ppid;
}

/* The host pid of a container init of this process that has a child (the program it runs), or
 * 0 when none has one right now. */
static pid_t init_running_a_program(void)
{
        DIR *d = opendir("/proc");
        struct dirent *de;
        pid_t found = 0;

        assert_non_null(d);
        while (!found && (de = readdir(d))) {
                pid_t pid = (pid_t)atoi(de->d_name), init;

                if (pid > 0 && (init = parent_of(pid)) > 0 && parent_of(init) == getpid())
                        found = init;
        }
        closedir(d);
        return found;
}

struct killer {
        pid_t killed;
        atomic_bool stop;
};

/* Waits for a program to be running in a container, then SIGKILLs that container's init. */
static void *kill_the_init(void *arg)
{
        struct killer *k = arg;

        while (!k->stop && !k->killed) {
                pid_t init = init_running_a_program();

                if (init > 0 && kill(init, SIGKILL) == 0)
                        k->killed = init;
                else
                        usleep(20000);
        }
        return NULL;
}

static void test_container_dying_mid_run_is_a_system_error(void **state)
{
        struct killer k = {0};
        struct verdict v;
        struct job job;
        pthread_t th;

        (void)state;
        warm_spin_on_zero(); /* the killer below must see the program, not a compiler */
        spinning_job(&job, "dies");
        assert_int_equal(pthread_create(&th, NULL, kill_the_init, &k), 0);
        judge_expect(&job, SCHEMA_SE, &v);
        k.stop = true;
        pthread_join(th, NULL);
        assert_true(k.killed > 0);
        /* the test whose container died is SE with the reason; the next tests ran in a new
         * container and were judged */
        assert_int_equal(v.n_tests, 3);
        assert_int_equal(v.tests[0].verdict, SCHEMA_SE);
        assert_non_null(v.tests[0].checker_message);
        if (!strstr(v.tests[0].checker_message, "container"))
                fail_msg("test 1 message '%s' does not name the container",
                         v.tests[0].checker_message);
        expect_reason(&v, "container");
        fprintf(stderr, "init %d killed mid-run: %s\n", (int)k.killed, v.reason);
        assert_int_equal(v.tests[1].verdict, SCHEMA_AC);
        assert_int_equal(v.tests[2].verdict, SCHEMA_AC);
        assert_true(v.tests[0].time_ms < 8000);
        verdict_done(&v);
        job_done(&job);
        /* the dead init was reaped, not left a zombie */
        for (int i = 0; i < 200 && kill(k.killed, 0) == 0; i++)
                usleep(10000);
        assert_int_equal(kill(k.killed, 0), -1);
        /* and the engine goes on */
        job_init(&job, "after", "c", ac_c);
        add_sums(&job, 2);
        judge_expect(&job, SCHEMA_AC, &v);
        verdict_done(&v);
        job_done(&job);
}

/* ---- several jobs ----------------------------------------------------------------------- */

struct tally {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        unsigned active, max_active, done, cancelled, ac;
};

static void tally_progress(const struct progress *p, void *userdata)
{
        struct tally *t = userdata;

        pthread_mutex_lock(&t->lock);
        if (p->stage == SCHEMA_STAGE_RECEIVED && ++t->active > t->max_active)
                t->max_active = t->active;
        if (p->stage == SCHEMA_STAGE_DONE)
                t->active--;
        pthread_mutex_unlock(&t->lock);
}

static void tally_done(struct verdict *v, bool cancelled, void *userdata)
{
        struct tally *t = userdata;

        pthread_mutex_lock(&t->lock);
        t->done++;
        t->cancelled += cancelled;
        t->ac += v->verdict == SCHEMA_AC;
        pthread_cond_signal(&t->cond);
        pthread_mutex_unlock(&t->lock);
        verdict_done(v);
}

static void test_jobs_are_judged_on_every_slot_at_once(void **state)
{
        struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        struct job jobs[2 * SLOTS];
        struct gv_err err = {0};

        (void)state;
        assert_int_equal(judge_slots(judge), SLOTS);
        for (size_t i = 0; i < ARRAY_SIZE(jobs); i++) {
                struct judge_request req = {.job = &jobs[i],
                                            .progress = tally_progress,
                                            .done = tally_done,
                                            .userdata = &t};

                job_init(&jobs[i], "spin", "c", spin_c);
                add_sums(&jobs[i], 1);
                assert_int_equal(judge_submit(judge, &req, &err), 0);
        }
        pthread_mutex_lock(&t.lock);
        while (t.done < ARRAY_SIZE(jobs))
                pthread_cond_wait(&t.cond, &t.lock);
        pthread_mutex_unlock(&t.lock);
        assert_int_equal(t.ac, ARRAY_SIZE(jobs));
        assert_int_equal(t.max_active, SLOTS);
        /* a slot counts its job until the callback has returned */
        for (int i = 0; i < 100 && judge_busy(judge) > 0; i++)
                usleep(10000);
        assert_int_equal(judge_busy(judge), 0);
        for (size_t i = 0; i < ARRAY_SIZE(jobs); i++)
                job_done(&jobs[i]);
}

static void test_cancelled_job_is_abandoned(void **state)
{
        struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        atomic_bool cancel = true;
        struct gv_err err = {0};
        struct job job;
        struct judge_request req = {
                .job = &job, .cancel = &cancel, .done = tally_done, .userdata = &t};

        (void)state;
        job_init(&job, "cancel", "c", ac_c);
        add_sums(&job, 2);
        assert_int_equal(judge_submit(judge, &req, &err), 0);
        pthread_mutex_lock(&t.lock);
        while (t.done < 1)
                pthread_cond_wait(&t.cond, &t.lock);
        pthread_mutex_unlock(&t.lock);
        assert_int_equal(t.cancelled, 1);
        job_done(&job);
}

/* Submits job, sets its cancel flag 200 ms after a process is seen running in one of its
 * containers (a compiler or the program), and returns how long after the flag the job was handed
 * back, cancelled. */
static int64_t cancel_once_running(struct job *job)
{
        struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        atomic_bool cancel = false;
        struct gv_err err = {0};
        struct judge_request req = {
                .job = job, .cancel = &cancel, .done = tally_done, .userdata = &t};
        int64_t set_at, took;

        assert_int_equal(judge_submit(judge, &req, &err), 0);
        for (int i = 0; i < 500 && !init_running_a_program(); i++)
                usleep(20000);
        assert_true(init_running_a_program() > 0);
        usleep(200000);
        set_at = now_ms();
        atomic_store(&cancel, true);
        pthread_mutex_lock(&t.lock);
        while (t.done < 1)
                pthread_cond_wait(&t.cond, &t.lock);
        pthread_mutex_unlock(&t.lock);
        took = now_ms() - set_at;
        fprintf(stderr, "job %s handed back %" PRId64 " ms after its cancel\n", job->id, took);
        assert_int_equal(t.cancelled, 1);
        /* nothing is left running */
        for (int i = 0; i < 100 && init_running_a_program(); i++)
                usleep(20000);
        assert_int_equal(init_running_a_program(), 0);
        return took;
}

static void test_cancel_ends_a_running_test_at_once(void **state)
{
        struct job job;

        (void)state;
        warm_spin_on_zero(); /* what runs below is the program, not a compiler */
        spinning_job(&job, "cancel-mid-test");
        /* polled every SANDBOX_CANCEL_MS (50): ~30 ms measured; 500 leaves room for a loaded
         * machine and still fails when the flag is not passed (the test spins for 8 s) */
        assert_true(cancel_once_running(&job) < 500);
        job_done(&job);
}

static void test_cancel_ends_a_running_compile_at_once(void **state)
{
        struct job job;

        (void)state;
        job_init(&job, "cancel-mid-compile", "cpp", exponential_template_cpp);
        add_sums(&job, 1);
        assert_true(cancel_once_running(&job) < 500); /* not the 5 s compile limit */
        job_done(&job);
}

static size_t open_fds(void)
{
        struct dirent *de;
        size_t n = 0;
        DIR *d = opendir("/proc/self/fd");

        assert_non_null(d);
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

static void test_freeing_the_engine_hands_back_queued_jobs(void **state)
{
        struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        struct judge *j = NULL;
        struct judge_conf conf;
        struct gv_err err = {0};
        struct job jobs[4];
        struct verdict v;
        size_t fds = open_fds();

        (void)state;
        judge_conf_default(&conf);
        conf.slots = 1;
        conf.langs = langs;
        conf.cache_dir = tmp;
        assert_int_equal(judge_new(&conf, &j, &err), 0);
        /* one judged to the end first: compile, container, memory files all used */
        job_init(&jobs[0], "first", "c", ac_c);
        add_sums(&jobs[0], 2);
        assert_int_equal(judge_run(j, &jobs[0], NULL, NULL, &v, &err), 0);
        assert_int_equal(v.verdict, SCHEMA_AC);
        verdict_done(&v);
        job_done(&jobs[0]);
        for (size_t i = 0; i < ARRAY_SIZE(jobs); i++) {
                struct judge_request req = {.job = &jobs[i], .done = tally_done, .userdata = &t};

                job_init(&jobs[i], "queued", "c", spin_c);
                add_sums(&jobs[i], 1);
                assert_int_equal(judge_submit(j, &req, &err), 0);
        }
        judge_free(j);
        /* every job got its callback: judged, or handed back as cancelled */
        assert_int_equal(t.done, ARRAY_SIZE(jobs));
        assert_true(t.cancelled >= 1);
        assert_int_equal(t.ac + t.cancelled, ARRAY_SIZE(jobs));
        /* containers, memory files, the cache: nothing stays open */
        assert_int_equal(open_fds(), fds);
        for (size_t i = 0; i < ARRAY_SIZE(jobs); i++)
                job_done(&jobs[i]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unknown_language_is_rejected),
                cmocka_unit_test(test_missing_problem_is_rejected),
                cmocka_unit_test(test_limits_over_the_maximum_are_rejected),
                cmocka_unit_test(test_compile_error_gives_the_log),
                cmocka_unit_test(test_compile_log_of_bytes_that_are_not_utf8_is_utf8),
                cmocka_unit_test(test_megabytes_of_errors_end_with_a_capped_log),
                cmocka_unit_test(test_include_dev_random_is_ce),
                cmocka_unit_test(test_one_gib_initialised_array_is_ce),
                cmocka_unit_test(test_exponential_template_is_ce),
                cmocka_unit_test(test_compile_log_shows_no_host_file_or_test_data),
                cmocka_unit_test(test_second_compile_comes_from_the_cache),
                cmocka_unit_test(test_verdict_carries_the_job_and_the_maxima),
                cmocka_unit_test(test_run_limits_give_their_verdicts),
                cmocka_unit_test(test_python_runs_from_a_copied_script),
                cmocka_unit_test(test_stop_on_failure_skips_the_rest),
                cmocka_unit_test(test_subtasks_score_with_their_dependencies),
                cmocka_unit_test(test_custom_checker_of_the_store_judges),
                cmocka_unit_test(test_stdin_of_a_store_test_is_a_memory_copy),
                cmocka_unit_test(test_failing_custom_checker_is_a_system_error),
                cmocka_unit_test(test_container_dying_mid_run_is_a_system_error),
                cmocka_unit_test(test_a_large_input_is_not_the_programs_memory),
                cmocka_unit_test(test_debug_output_on_stderr_is_no_verdict),
                cmocka_unit_test(test_jobs_are_judged_on_every_slot_at_once),
                cmocka_unit_test(test_cancelled_job_is_abandoned),
                cmocka_unit_test(test_cancel_ends_a_running_test_at_once),
                cmocka_unit_test(test_cancel_ends_a_running_compile_at_once),
                cmocka_unit_test(test_missing_compiler_is_a_system_error),
                cmocka_unit_test(test_freeing_the_engine_hands_back_queued_jobs),
        };

        if (geteuid() != 0) {
                fprintf(stderr, "skip: judging needs root (namespaces, cgroups)\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, setup, teardown);
}
