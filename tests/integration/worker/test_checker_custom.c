// SPDX-License-Identifier: MIT
/*
 * worker/judge/checker.c, custom checkers for real: a tiny testlib-style checker is compiled with
 * the host's gcc (static) and run through a real container pool on each way a checker can end:
 * accept, wrong answer, presentation error, failure, odd exit code, crash, endless loop, memory,
 * a flood of stderr, big outputs with NUL bytes, and a private executable that must be copied in.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
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

#include "schema/cleanup.h"
#include "worker/judge/checker.h"

/* input.txt says what to do; the rest is what a testlib checker does */
static const char checker_source[] =
        "#include <stdio.h>\n"
        "#include <stdlib.h>\n"
        "#include <string.h>\n"
        "int main(int argc, char **argv)\n"
        "{\n"
        "        char mode[64] = \"\";\n"
        "        FILE *in, *out, *ans;\n"
        "        long a, b;\n"
        "        if (argc != 4) { fprintf(stderr, \"usage: %d args\\n\", argc); return 3; }\n"
        "        in = fopen(argv[1], \"rb\"); out = fopen(argv[2], \"rb\");\n"
        "        ans = fopen(argv[3], \"rb\");\n"
        "        if (!in || !out || !ans) { perror(\"open\"); return 3; }\n"
        "        if (fscanf(in, \"%63s\", mode) != 1) return 3;\n"
        "        if (!strcmp(mode, \"compare\")) {\n"
        "                if (fscanf(out, \"%ld\", &a) != 1) {\n"
        "                        fprintf(stderr, \"wrong output format\\n\\n  no number \\n\");\n"
        "                        return 2;\n"
        "                }\n"
        "                if (fscanf(ans, \"%ld\", &b) != 1) return 3;\n"
        "                if (a != b) {\n"
        "                        fprintf(stderr, \"wrong answer: expected %ld, found %ld\\n\", b, "
        "a);\n"
        "                        return 1;\n"
        "                }\n"
        "                fprintf(stderr, \"ok %ld\\n\", a);\n"
        "                return 0;\n"
        "        }\n"
        "        if (!strcmp(mode, \"size\")) {\n"
        "                long n = 0, nul = 0, want_n, want_nul; int c;\n"
        "                while ((c = getc(out)) != EOF) { n++; nul += c == 0; }\n"
        "                if (fscanf(ans, \"%ld %ld\", &want_n, &want_nul) != 2) return 3;\n"
        "                fprintf(stderr, \"%ld bytes, %ld nul\\n\", n, nul);\n"
        "                return n == want_n && nul == want_nul ? 0 : 1;\n"
        "        }\n"
        "        if (!strcmp(mode, \"fail\")) { fprintf(stderr, \"FAIL answer is broken\\n\"); "
        "return 3; }\n"
        "        if (!strcmp(mode, \"exit7\")) return 7;\n"
        "        if (!strcmp(mode, \"crash\")) { fputs(\"about to crash\\n\", stderr); "
        "fflush(stderr);\n"
        "                *(volatile int *)0 = 1; }\n"
        "        if (!strcmp(mode, \"loop\")) for (volatile long i = 0;; i++) ;\n"
        "        if (!strcmp(mode, \"memory\")) {\n"
        "                size_t n = (size_t)1 << 30; char *p = malloc(n);\n"
        "                for (size_t i = 0; p && i < n; i += 4096) p[i] = 1;\n"
        "                return 0;\n"
        "        }\n"
        "        if (!strcmp(mode, \"noisy\")) {\n"
        "                for (int i = 0; i < 1000; i++)\n"
        "                        fprintf(stderr, \"wrong \\x01\\xff answer \\xc3\\xbf %d\\n\", "
        "i);\n"
        "                return 1;\n"
        "        }\n"
        "        if (!strcmp(mode, \"flood\")) {\n"
        "                static char buf[65536];\n"
        "                memset(buf, 'x', sizeof(buf));\n"
        "                for (;;) fwrite(buf, 1, sizeof(buf), stderr);\n"
        "        }\n"
        "        if (!strcmp(mode, \"russian\")) {\n"
        "                "
        "fputs(\"\\xd0\\xbd\\xd0\\xb5\\xd0\\xb2\\xd0\\xb5\\xd1\\x80\\xd0\\xbd\\xd0\\xbe\\n\", "
        "stderr);\n"
        "                return 1;\n"
        "        }\n"
        "        return 3;\n"
        "}\n";

static struct sandbox_pool *pool;
static char dir[] = "/tmp/gavel-checker-XXXXXX";
static int exe_fd = -1;     /* mode 0755: run from the descriptor */
static int private_fd = -1; /* mode 0500, root's: copied into the container */

static int memfd_with(const void *data, size_t len)
{
        int fd = memfd_create("data", MFD_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t)len);
        return fd; /* at its end: the checker must copy from offset 0 anyway */
}

struct run {
        struct sandbox_limits limits;
        int exe_fd; /* 0: the shared one */
        const void *out;
        size_t out_len; /* 0: strlen(out) */
};

static struct checker_outcome run_checker(const char *in, const char *ans, const struct run *opt)
{
        struct checker_outcome o;
        struct gv_err err = {0};
        struct sandbox *sb;
        struct checker_custom c = {
                .exe_fd = opt->exe_fd ? opt->exe_fd : exe_fd,
                .in_fd = memfd_with(in, strlen(in)),
                .out_fd = memfd_with(opt->out, opt->out_len ? opt->out_len : strlen(opt->out)),
                .ans_fd = memfd_with(ans, strlen(ans)),
                .limits = opt->limits,
        };
        int r;

        assert_int_equal(sandbox_pool_acquire(pool, 20000, &sb, &err), 0);
        memset(&o, 0x5a, sizeof(o));
        r = checker_run_custom(sb, &c, &o, &err);
        if (r < 0)
                fail_msg("checker_run_custom: %s", err.msg);
        sandbox_pool_release(pool, sb);
        close(c.in_fd);
        close(c.out_fd);
        close(c.ans_fd);
        assert_non_null(memchr(o.message, '\0', sizeof(o.message)));
        print_message("    -> %d \"%s\"\n", o.result, o.message);
        return o;
}

static void test_exit_0_is_ac_with_its_message(void **state)
{
        struct checker_outcome o = run_checker("compare", "42\n", &(struct run){.out = "42\n"});

        (void)state;
        assert_int_equal(o.result, CHECKER_AC);
        assert_string_equal(o.message, "ok 42");
}

static void test_exit_1_is_wa(void **state)
{
        struct checker_outcome o = run_checker("compare", "42\n", &(struct run){.out = "41\n"});

        (void)state;
        assert_int_equal(o.result, CHECKER_WA);
        assert_string_equal(o.message, "wrong answer: expected 42, found 41");
}

static void test_exit_2_is_pe_with_its_lines_joined(void **state)
{
        struct checker_outcome o = run_checker("compare", "42\n", &(struct run){.out = "abc"});

        (void)state;
        assert_int_equal(o.result, CHECKER_PE);
        assert_string_equal(o.message, "wrong output format; no number");
}

static void test_exit_3_is_a_checker_failure(void **state)
{
        struct checker_outcome o = run_checker("fail", "42\n", &(struct run){.out = "42\n"});

        (void)state;
        assert_int_equal(o.result, CHECKER_FAIL);
        assert_string_equal(o.message, "checker failed (exit code 3): FAIL answer is broken");
}

static void test_other_exit_codes_are_failures(void **state)
{
        struct checker_outcome o = run_checker("exit7", "42\n", &(struct run){.out = "42\n"});

        (void)state;
        assert_int_equal(o.result, CHECKER_FAIL);
        assert_string_equal(o.message, "checker exited with code 7 (expected 0 to 3)");
}

static void test_a_crash_is_a_failure(void **state)
{
        struct checker_outcome o = run_checker("crash", "42\n", &(struct run){.out = "42\n"});

        (void)state;
        assert_int_equal(o.result, CHECKER_FAIL);
        assert_string_equal(o.message, "checker killed by signal 11 (SIGSEGV): about to crash");
}

static void test_an_endless_loop_is_a_failure(void **state)
{
        struct checker_outcome o = run_checker(
                "loop", "42\n", &(struct run){.out = "42\n", .limits = {.time_ms = 300}});

        (void)state;
        assert_int_equal(o.result, CHECKER_FAIL);
        assert_string_equal(o.message, "checker exceeded its cpu time limit of 300 ms");
}

static void test_too_much_memory_is_a_failure(void **state)
{
        struct checker_outcome o = run_checker(
                "memory", "42\n", &(struct run){.out = "42\n", .limits = {.memory_kib = 65536}});

        (void)state;
        assert_int_equal(o.result, CHECKER_FAIL);
        assert_string_equal(o.message, "checker exceeded its memory limit of 65536 KiB");
}

static void test_a_long_message_is_capped_and_escaped(void **state)
{
        struct checker_outcome o = run_checker("noisy", "42\n", &(struct run){.out = "42\n"});

        (void)state;
        assert_int_equal(o.result, CHECKER_WA);
        assert_true(strlen(o.message) <= 255);
        assert_true(strlen(o.message) > 200);
        assert_true(!strncmp(o.message, "wrong \\x01\\xff answer \xc3\xbf 0; wrong", 33));
        for (const char *p = o.message; *p; p++)
                assert_true((unsigned char)*p >= 0x20);
}

static void test_a_message_in_utf8_is_kept(void **state)
{
        struct checker_outcome o = run_checker("russian", "42\n", &(struct run){.out = "42\n"});

        (void)state;
        assert_int_equal(o.result, CHECKER_WA);
        assert_string_equal(o.message, "\xd0\xbd\xd0\xb5\xd0\xb2\xd0\xb5\xd1\x80\xd0\xbd\xd0\xbe");
}

static void test_a_flood_of_stderr_is_a_failure(void **state)
{
        struct checker_outcome o = run_checker("flood", "42\n", &(struct run){.out = "42\n"});

        (void)state;
        assert_int_equal(o.result, CHECKER_FAIL);
        assert_true(!strncmp(o.message, "checker wrote more than 1024 KiB: xxxx", 38));
}

static void test_big_output_with_nul_bytes_arrives_whole(void **state)
{
        const size_t n = 24 << 20;
        char *out = malloc(n), ans[64];
        struct checker_outcome o;

        (void)state;
        assert_non_null(out);
        for (size_t i = 0; i < n; i++)
                out[i] = i % 3 ? 'a' : '\0';
        snprintf(ans, sizeof(ans), "%zu %zu\n", n, (n + 2) / 3);
        o = run_checker("size", ans, &(struct run){.out = out, .out_len = n});
        assert_int_equal(o.result, CHECKER_AC);
        snprintf(ans, sizeof(ans), "%zu bytes, %zu nul", n, (n + 2) / 3);
        assert_string_equal(o.message, ans);
        free(out);
}

static void test_files_beyond_the_work_dir_are_a_failure(void **state)
{
        const size_t n = 40 << 20; /* the pool's /w holds 32 MiB */
        char *out = calloc(1, n);
        struct checker_outcome o;

        (void)state;
        assert_non_null(out);
        o = run_checker("size", "1 1\n", &(struct run){.out = out, .out_len = n});
        assert_int_equal(o.result, CHECKER_FAIL);
        assert_non_null(strstr(o.message, "/w/output.txt does not fit in the container"));
        free(out);
}

static void test_a_private_executable_is_copied_in(void **state)
{
        struct checker_outcome o =
                run_checker("compare", "7", &(struct run){.out = "7", .exe_fd = private_fd});

        (void)state;
        assert_int_equal(o.result, CHECKER_AC);
        o = run_checker("compare", "7", &(struct run){.out = "8", .exe_fd = private_fd});
        assert_int_equal(o.result, CHECKER_WA);
}

static void test_a_missing_executable_is_a_failure(void **state)
{
        int fd = memfd_with("not a program", 13);
        struct checker_outcome o;

        (void)state;
        fchmod(fd, 0755);
        o = run_checker("compare", "7", &(struct run){.out = "7", .exe_fd = fd});
        assert_int_equal(o.result, CHECKER_FAIL);
        assert_true(!strncmp(o.message, "checker could not run: ", 23));
        close(fd);
}

static void test_a_dead_container_is_an_error_not_an_outcome(void **state)
{
        struct checker_outcome o = {.result = CHECKER_AC, .message = "untouched"};
        struct gv_err err = {0};
        struct sandbox *sb;
        struct checker_custom c = {.exe_fd = exe_fd,
                                   .in_fd = memfd_with("compare", 7),
                                   .out_fd = memfd_with("1", 1),
                                   .ans_fd = memfd_with("1", 1)};

        (void)state;
        assert_int_equal(sandbox_pool_acquire(pool, 20000, &sb, &err), 0);
        assert_int_equal(kill(sandbox_init_pid(sb), SIGKILL), 0);
        usleep(20000);
        assert_true(checker_run_custom(sb, &c, &o, &err) < 0);
        print_message("    -> %s\n", err.msg);
        assert_true(err.msg[0] != '\0');
        assert_string_equal(o.message, "untouched"); /* written only on success */
        sandbox_pool_release(pool, sb);
        close(c.in_fd);
        close(c.out_fd);
        close(c.ans_fd);
}

static int compile_checker(void)
{
        char src[64], exe[64], cmd[256], priv[64];
        cleanup_fd int in = -1;
        cleanup_fd int out = -1;
        FILE *f;
        char buf[65536];
        ssize_t n;

        if (!mkdtemp(dir))
                return -1;
        snprintf(src, sizeof(src), "%s/checker.c", dir);
        snprintf(exe, sizeof(exe), "%s/checker", dir);
        snprintf(priv, sizeof(priv), "%s/private", dir);
        f = fopen(src, "w");
        if (!f)
                return -1;
        fputs(checker_source, f);
        fclose(f);
        /* the test's own environment (sanitizer options) stays out of the compiler */
        snprintf(cmd, sizeof(cmd), "env -i PATH=/usr/bin:/bin gcc -static -O1 -o %s %s", exe, src);
        if (system(cmd) != 0)
                return -1;
        exe_fd = open(exe, O_RDONLY | O_CLOEXEC);
        in = open(exe, O_RDONLY | O_CLOEXEC);
        out = open(priv, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0500);
        if (exe_fd < 0 || in < 0 || out < 0)
                return -1;
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t)n) != n)
                        return -1;
        private_fd = open(priv, O_RDONLY | O_CLOEXEC);
        return private_fd >= 0 ? 0 : -1;
}

static int setup(void **state)
{
        struct sandbox_conf conf;
        struct gv_err err = {0};

        (void)state;
        if (compile_checker() < 0) {
                fprintf(stderr, "cannot compile the test checker in %s\n", dir);
                return -1;
        }
        sandbox_conf_default(&conf);
        conf.pool_size = 2;
        conf.workdir_kib = 32 << 10;
        if (sandbox_pool_new(&conf, &pool, &err) < 0) {
                fprintf(stderr, "sandbox_pool_new: %s\n", err.msg);
                return -1;
        }
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];

        (void)state;
        sandbox_pool_free(pool);
        close(exe_fd);
        close(private_fd);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exit_0_is_ac_with_its_message),
                cmocka_unit_test(test_exit_1_is_wa),
                cmocka_unit_test(test_exit_2_is_pe_with_its_lines_joined),
                cmocka_unit_test(test_exit_3_is_a_checker_failure),
                cmocka_unit_test(test_other_exit_codes_are_failures),
                cmocka_unit_test(test_a_crash_is_a_failure),
                cmocka_unit_test(test_an_endless_loop_is_a_failure),
                cmocka_unit_test(test_too_much_memory_is_a_failure),
                cmocka_unit_test(test_a_long_message_is_capped_and_escaped),
                cmocka_unit_test(test_a_message_in_utf8_is_kept),
                cmocka_unit_test(test_a_flood_of_stderr_is_a_failure),
                cmocka_unit_test(test_big_output_with_nul_bytes_arrives_whole),
                cmocka_unit_test(test_files_beyond_the_work_dir_are_a_failure),
                cmocka_unit_test(test_a_private_executable_is_copied_in),
                cmocka_unit_test(test_a_missing_executable_is_a_failure),
                cmocka_unit_test(test_a_dead_container_is_an_error_not_an_outcome),
        };

        if (geteuid() != 0) {
                fprintf(stderr, "skip: custom checkers run in containers, which need root\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, setup, teardown);
}
