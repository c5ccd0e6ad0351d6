/* SPDX-License-Identifier: MIT */
/*
 * gavel run as a problem setter runs it ($GAVEL, real containers and compilers): the table, the
 * JSON verdict, and the exit status (0 whatever the verdict, 2 for bad input, naming it).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#define EXAMPLES GAVEL_SOURCE_DIR "/ops/examples"
#define APLUSB   EXAMPLES "/problems/aplusb"
#define SOLUTION EXAMPLES "/solutions/aplusb/"

static char tmp[] = "/tmp/gavel-test-cli-run-XXXXXX";

struct out {
        int status; /* exit status, or 128 + signal */
        char *out, *err;
};

static const char *gavel_path(void)
{
        const char *p = getenv("GAVEL");

        return p && *p ? p : GAVEL_BUILD_DIR "/gavel";
}

/* Reads a pipe to its end into a malloc'ed string. */
static char *slurp(int fd)
{
        size_t len = 0, cap = 4096;
        char *buf = malloc(cap);
        ssize_t n;

        assert_non_null(buf);
        while ((n = read(fd, buf + len, cap - len - 1)) > 0 || (n < 0 && errno == EINTR)) {
                if (n < 0)
                        continue;
                len += (size_t)n;
                if (cap - len < 2) {
                        cap *= 2;
                        buf = realloc(buf, cap);
                        assert_non_null(buf);
                }
        }
        buf[len] = '\0';
        return buf;
}

/* Runs gavel run with args (NULL-terminated) and the test's cache; stdout and stderr kept. */
static void run(struct out *o, const char *const *args)
{
        const char *argv[24] = {"gavel", "run", "--cache-dir", tmp};
        int out[2], err[2], status;
        size_t n = 4;
        pid_t pid;

        for (; *args; args++) {
                assert_true(n < 23);
                argv[n++] = *args;
        }
        argv[n] = NULL;
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        assert_int_equal(pipe2(err, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
                        _exit(126);
                execv(gavel_path(), (char *const *)argv);
                _exit(127);
        }
        close(out[1]);
        close(err[1]);
        /* stderr is small (a message at most): read stdout to its end first */
        o->out = slurp(out[0]);
        o->err = slurp(err[0]);
        close(out[0]);
        close(err[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        o->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void out_done(struct out *o)
{
        free(o->out);
        free(o->err);
}

static void expect_in(const char *text, const char *part)
{
        if (!strstr(text, part))
                fail_msg("'%s' not in:\n%s", part, text);
}

static void test_table_shows_every_test_and_the_verdict(void **state)
{
        struct out o;

        (void)state;
        run(&o, (const char *[]){"--problem", APLUSB, "--lang", "c", SOLUTION "ac.c", NULL});
        assert_int_equal(o.status, 0);
        expect_in(o.out, "compile  ok");
        expect_in(o.out, "   8  AC");
        expect_in(o.out, "verdict  AC");
        expect_in(o.out, "score    8 / 8");
        out_done(&o);
        run(&o, (const char *[]){"--problem", APLUSB, "--lang", "python3", SOLUTION "re.py",
                                 "--stop-on-failure", NULL});
        assert_int_equal(o.status, 0);
        expect_in(o.out, "   1  RE");
        expect_in(o.out, "   2  SKIPPED");
        expect_in(o.out, "stderr: "); /* the traceback, for the setter */
        expect_in(o.out, "verdict  RE");
        out_done(&o);
}

static void test_json_is_the_verdict_message(void **state)
{
        json_error_t jerr;
        json_t *v, *tests;
        struct out o;

        (void)state;
        run(&o,
            (const char *[]){"--problem", APLUSB, "--lang", "c", "--json", SOLUTION "wa.c", NULL});
        assert_int_equal(o.status, 0);
        v = json_loads(o.out, 0, &jerr);
        if (!v)
                fail_msg("not JSON (%s): %s", jerr.text, o.out);
        assert_string_equal(json_string_value(json_object_get(v, "verdict")), "WA");
        assert_string_equal(json_string_value(json_object_get(v, "id")), "wa.c");
        tests = json_object_get(v, "tests");
        assert_int_equal(json_array_size(tests), 8);
        assert_true(json_is_true(json_object_get(json_object_get(v, "compile"), "ok")));
        assert_true(json_number_value(json_object_get(v, "max_score")) == 8);
        json_decref(v);
        out_done(&o);
}

static void test_unknown_language_is_a_rejected_verdict(void **state)
{
        json_t *v;
        struct out o;

        (void)state;
        run(&o, (const char *[]){"--problem", APLUSB, "--lang", "cobol", "--json", SOLUTION "ac.c",
                                 NULL});
        assert_int_equal(o.status, 0);
        v = json_loads(o.out, 0, NULL);
        assert_non_null(v);
        assert_string_equal(json_string_value(json_object_get(v, "verdict")), "REJECTED");
        expect_in(json_string_value(json_object_get(v, "reason")), "cobol");
        json_decref(v);
        out_done(&o);
}

static void test_bad_input_exits_2_and_names_it(void **state)
{
        char langs[128];
        struct out o;
        FILE *f;

        (void)state;
        run(&o, (const char *[]){"--problem", "/nonexistent/prob", "--lang", "c", SOLUTION "ac.c",
                                 NULL});
        assert_int_equal(o.status, 2);
        expect_in(o.err, "/nonexistent/prob");
        out_done(&o);

        run(&o, (const char *[]){"--problem", APLUSB, "--lang", "c", "/nonexistent/src.c", NULL});
        assert_int_equal(o.status, 2);
        expect_in(o.err, "/nonexistent/src.c");
        out_done(&o);

        run(&o, (const char *[]){"--problem", APLUSB, "--lang", "c", "--time-ms", "fast",
                                 SOLUTION "ac.c", NULL});
        assert_int_equal(o.status, 2);
        expect_in(o.err, "--time-ms");
        out_done(&o);

        run(&o, (const char *[]){"--lang", "c", SOLUTION "ac.c", NULL});
        assert_int_equal(o.status, 2);
        expect_in(o.err, "--problem");
        out_done(&o);

        snprintf(langs, sizeof(langs), "%s/langs.yaml", tmp);
        f = fopen(langs, "w");
        assert_non_null(f);
        fputs("c:\n  run: 7\n", f);
        fclose(f);
        run(&o, (const char *[]){"--problem", APLUSB, "--lang", "c", "--lang-file", langs,
                                 SOLUTION "ac.c", NULL});
        assert_int_equal(o.status, 2);
        expect_in(o.err, "langs.yaml");
        out_done(&o);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

static int setup(void **state)
{
        (void)state;
        return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table_shows_every_test_and_the_verdict),
                cmocka_unit_test(test_json_is_the_verdict_message),
                cmocka_unit_test(test_unknown_language_is_a_rejected_verdict),
                cmocka_unit_test(test_bad_input_exits_2_and_names_it),
        };

        if (geteuid() != 0) {
                fprintf(stderr, "skip: gavel run needs root (namespaces, cgroups)\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, setup, teardown);
}
