/* SPDX-License-Identifier: MIT */
/*
 * worker/judge/lang.c: the built-in language table, an operator's file replacing, adding and
 * removing entries by name, every malformed file failing with its file, line and field, lang_find
 * and the {src}/{exe} expansion.
 */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "schema/cleanup.h"
#include "worker/judge/lang.h"

struct fixture {
        char dir[64];
        char path[PATH_MAX]; /* the operator's file */
        struct lang_table *table;
        struct gv_err err;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        snprintf(f->dir, sizeof(f->dir), "/tmp/gavel-lang-XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        snprintf(f->path, sizeof(f->path), "%s/langs.yaml", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        lang_table_free(f->table);
        unlink(f->path);
        rmdir(f->dir);
        free(f);
        return 0;
}

/* Loads the defaults with text as the operator's file; returns lang_table_load's result. */
static int load(struct fixture *f, const char *text)
{
        int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        lang_table_free(f->table);
        f->table = NULL;
        return lang_table_load(f->path, &f->table, &f->err);
}

/* Asserts that text fails to load with a message ending in "langs.yaml:<suffix>". */
static void assert_fails(struct fixture *f, const char *text, const char *suffix)
{
        char expect[512];
        const char *msg;

        assert_int_equal(load(f, text), -EINVAL);
        assert_null(f->table);
        snprintf(expect, sizeof(expect), "%s/langs.yaml:%s", f->dir, suffix);
        msg = f->err.msg;
        if (strcmp(msg, expect))
                fail_msg("got      '%s'\nexpected '%s'", msg, expect);
}

static void test_lang_defaults_load_with_every_language(void **state)
{
        static const char *const names[] = {"c",    "cpp",    "cpp20", "python3",
                                            "java", "pascal", "rust"};
        struct fixture *f = *state;
        const struct lang *c, *py, *java;

        assert_int_equal(lang_table_load(NULL, &f->table, &f->err), 0);
        assert_int_equal(f->table->n, ARRAY_SIZE(names));
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                const struct lang *lang = lang_find(f->table, names[i]);

                assert_non_null(lang);
                assert_non_null(lang->run);
                assert_non_null(lang->run[0]);
                assert_non_null(lang->compile);
                assert_non_null(lang->version);
                assert_true(lang->time_factor == 1.0);
        }
        c = lang_find(f->table, "c");
        assert_string_equal(c->source_name, "main.c");
        assert_string_equal(c->artifact, "main");
        assert_true(c->artifact_exec);
        assert_string_equal(c->compile[0], "gcc");
        assert_string_equal(c->compile[1], "-std=gnu17");
        assert_string_equal(c->compile[2], "-DONLINE_JUDGE");
        assert_int_equal(c->compile_limits.time_ms, 10000);
        assert_int_equal(c->compile_limits.wall_ms, 20000);
        assert_int_equal(c->compile_limits.memory_kib, 512 * 1024);
        assert_int_equal(c->compile_limits.output_kib, 64 * 1024);
        assert_int_equal(c->extra_memory_kib, 0);
        assert_null(c->env);
        py = lang_find(f->table, "python3");
        assert_false(py->artifact_exec);
        assert_string_equal(py->artifact, "main.py");
        assert_string_equal(py->run[0], "/usr/bin/python3");
        java = lang_find(f->table, "java");
        assert_string_equal(java->artifact, "Main.jar");
        assert_int_equal(java->extra_memory_kib, 128 * 1024);
        assert_int_equal(java->extra_pids, 64);
        assert_int_equal(java->compile_limits.memory_kib, 1024 * 1024);
        assert_int_equal(java->compile_limits.pids, 128);
        assert_int_equal(java->compile_limits.output_kib, 64 * 1024);
}

static void test_lang_operator_file_replaces_adds_and_disables_by_name(void **state)
{
        struct fixture *f = *state;
        const struct lang *c, *go;
        size_t n;

        assert_int_equal(lang_table_load(NULL, &f->table, &f->err), 0);
        n = f->table->n;
        assert_int_equal(load(f, "c:\n"
                                 "  title: C11\n"
                                 "  source: sol.c\n"
                                 "  compile: [gcc, -std=c11, -o, \"{exe}\", \"{src}\"]\n"
                                 "  artifact: sol\n"
                                 "  exec: true\n"
                                 "  run: [\"{exe}\"]\n"
                                 "  version: [gcc, -dumpversion]\n"
                                 "  compile_limits: {time_s: 5, memory_mib: 256}\n"
                                 "  extra_memory_kib: 1024\n"
                                 "  time_factor: 1.5\n"
                                 "  env: [LC_ALL=C]\n"
                                 "java: {disabled: true}\n"
                                 "sh:\n"
                                 "  source: main.sh\n"
                                 "  run: [/bin/sh, \"{exe}\"]\n"),
                         0);
        assert_int_equal(f->table->n, n); /* one removed, one added */
        c = lang_find(f->table, "c");
        assert_string_equal(c->title, "C11");
        assert_string_equal(c->source_name, "sol.c");
        assert_string_equal(c->compile[1], "-std=c11");
        assert_int_equal(c->compile_limits.time_ms, 5000);
        assert_int_equal(c->compile_limits.wall_ms, 20000);
        assert_int_equal(c->compile_limits.memory_kib, 256 * 1024);
        assert_int_equal(c->extra_memory_kib, 1024);
        assert_true(c->time_factor == 1.5);
        assert_string_equal(c->env[0], "LC_ALL=C");
        assert_null(c->env[1]);
        assert_null(lang_find(f->table, "java"));
        go = lang_find(f->table, "sh");
        assert_non_null(go);
        assert_null(go->compile);
        assert_null(go->version);
        assert_string_equal(go->artifact, "main.sh");
        assert_false(go->artifact_exec);
        assert_string_equal(go->title, "sh");
        /* The others are untouched. */
        assert_non_null(lang_find(f->table, "cpp"));
        assert_string_equal(lang_find(f->table, "cpp")->compile[0], "g++");
}

static void test_lang_empty_operator_file_changes_nothing(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(load(f, "# nothing to change\n"), 0);
        assert_non_null(lang_find(f->table, "c"));
        assert_int_equal(load(f, ""), 0);
        assert_non_null(lang_find(f->table, "java"));
}

static void test_lang_find_is_exact(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(lang_table_load(NULL, &f->table, &f->err), 0);
        assert_null(lang_find(f->table, "C"));
        assert_null(lang_find(f->table, "cp"));
        assert_null(lang_find(f->table, ""));
        assert_null(lang_find(f->table, NULL));
        assert_null(lang_find(NULL, "c"));
        assert_string_equal(lang_find(f->table, "cpp20")->name, "cpp20");
}

static void test_lang_malformed_files_name_file_line_and_field(void **state)
{
        struct fixture *f = *state;

        assert_fails(f, "- c\n- cpp\n", "1: expected a mapping of language names to entries");
        assert_fails(f, "just text\n", "1: expected a mapping of language names to entries");
        assert_fails(f, "c: [gcc]\n", "1: c: expected a mapping (the language's entry)");
        assert_fails(f, "c:\n  source: main.c\n", "2: c: run: missing (the command running it)");
        assert_fails(f, "c:\n  run: [x]\n", "2: c: source: missing (the source's file name)");
        assert_fails(f, "c:\n  source: main.c\n  run: gcc\n",
                     "3: c.run: expected a list of strings, found 'gcc'");
        assert_fails(f, "c:\n  source: main.c\n  run: []\n",
                     "3: c.run: expected a non-empty list of strings");
        assert_fails(f, "c:\n  source: main.c\n  run: [\"{exe}\", [x]]\n",
                     "3: c.run[1]: expected a string, found a list");
        assert_fails(f, "c:\n  source: main.c\n  run: [{exe}]\n",
                     "3: c.run[0]: expected a string, found a mapping (write \"{exe}\" in quotes)");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  complie: [gcc]\n",
                     "4: c.complie: unknown key");
        assert_fails(f, "c:\n  source: ../main.c\n  run: [x]\n",
                     "2: c.source: expected a file name (no '/', not '.' or '..')");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  time_factor: fast\n",
                     "4: c.time_factor: expected a number, found 'fast'");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  time_factor: 0\n",
                     "4: c.time_factor: 0 is out of range (0.01..100)");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  exec: maybe\n",
                     "4: c.exec: expected true or false, found 'maybe'");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  exec: true\n",
                     "4: c.exec: true needs a compile step");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  artifact: main\n",
                     "4: c.artifact: without compile, the artifact is the source itself");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  compile: [gcc]\n  version: [gcc]\n",
                     "2: c: artifact: missing (the file compile leaves in /w)");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  compile: [gcc]\n  artifact: a\n",
                     "2: c: version: missing (the command printing the compiler's version, for "
                     "the compile cache)");
        assert_fails(f, "c:\n  source: main.c\n  run: [\"{scr}\"]\n",
                     "3: c.run[0]: unknown placeholder '{scr}' (known: {src}, {exe})");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  compile_limits: [1]\n",
                     "4: c.compile_limits: expected a mapping, found a list");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  compile_limits:\n    memory_mib: -1\n",
                     "5: c.compile_limits.memory_mib: expected a non-negative integer, found "
                     "'-1'");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  compile_limits: {time_ms: 0}\n",
                     "4: c.compile_limits.time_ms: 0 is out of range (1..600000)");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  compile_limits: {cpu_ms: 1}\n",
                     "4: c.compile_limits.cpu_ms: unknown key");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  extra_pids: many\n",
                     "4: c.extra_pids: expected an integer, found 'many'");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  env: [NOEQUALS]\n",
                     "4: c.env[0]: expected NAME=VALUE");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  env: [=x]\n",
                     "4: c.env[0]: expected NAME=VALUE");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\n  disabled: 2\n",
                     "4: c.disabled: expected true or false, found '2'");
        assert_fails(f, "cobol: {disabled: true}\n",
                     "1: cobol: disabled: there is no language 'cobol' to disable");
        assert_fails(f, "c/x:\n  source: main.c\n  run: [x]\n",
                     "2: c/x: not a valid language name (letters, digits, _ . + -, at most 64)");
        assert_fails(f, "c:\n  source: main.c\n  run: [x]\nc:\n  source: main.c\n  run: [y]\n",
                     "5: c: given twice (line 2)");
        assert_fails(f,
                     "c:\n  source: main.c\n  run: [x]\n  extra_memory_mib: 1\n"
                     "  extra_memory_kib: 1\n",
                     "4: c.extra_memory_mib: give only one of extra_memory_kib and "
                     "extra_memory_mib");
}

static void test_lang_unreadable_or_broken_yaml_is_an_error(void **state)
{
        struct fixture *f = *state;
        char missing[PATH_MAX + 16];

        assert_int_equal(load(f, "c:\n  source: [main.c\n"), -EINVAL);
        assert_null(f->table);
        assert_non_null(strstr(f->err.msg, "/langs.yaml:"));
        snprintf(missing, sizeof(missing), "%s/none.yaml", f->dir);
        assert_int_equal(lang_table_load(missing, &f->table, &f->err), -ENOENT);
        assert_non_null(strstr(f->err.msg, "none.yaml"));
        assert_null(f->table);
}

static void test_lang_disabled_entry_may_keep_its_other_keys(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(load(f, "pascal:\n  disabled: yes\n  source: main.pas\n"), 0);
        assert_null(lang_find(f->table, "pascal"));
        /* Unknown keys are still refused in a disabled entry. */
        assert_fails(f, "pascal:\n  disabled: yes\n  sauce: x\n", "3: pascal.sauce: unknown key");
}

static void test_lang_expand_replaces_placeholders_anywhere(void **state)
{
        struct fixture *f = *state;
        const struct lang *lang;
        char **argv;

        assert_int_equal(load(f, "t:\n"
                                 "  source: a.c\n"
                                 "  compile: [cc, \"-o{exe}\", \"{src}{src}\", \"{a,b}\", \"{\", "
                                 "\"x{exe}y{src}z\", \"{Src}\"]\n"
                                 "  artifact: a.out\n"
                                 "  version: [cc]\n"
                                 "  run: [\"./{exe}\"]\n"),
                         0);
        lang = lang_find(f->table, "t");
        argv = lang_expand(lang, lang->compile);
        assert_non_null(argv);
        assert_string_equal(argv[0], "cc");
        assert_string_equal(argv[1], "-oa.out");
        assert_string_equal(argv[2], "a.ca.c");
        assert_string_equal(argv[3], "{a,b}");
        assert_string_equal(argv[4], "{");
        assert_string_equal(argv[5], "xa.outya.cz");
        assert_string_equal(argv[6], "{Src}");
        assert_null(argv[7]);
        lang_argv_free(argv);
        argv = lang_expand(lang, lang->run);
        assert_string_equal(argv[0], "./a.out");
        assert_null(argv[1]);
        lang_argv_free(argv);
        lang_argv_free(NULL);
}

static void test_lang_expand_of_the_defaults(void **state)
{
        struct fixture *f = *state;
        const struct lang *lang;
        char **argv;
        size_t n;

        assert_int_equal(lang_table_load(NULL, &f->table, &f->err), 0);
        lang = lang_find(f->table, "cpp");
        argv = lang_expand(lang, lang->compile);
        for (n = 0; argv[n]; n++)
                assert_null(strchr(argv[n], '{'));
        assert_string_equal(argv[n - 1], "main.cpp");
        assert_string_equal(argv[n - 2], "main");
        lang_argv_free(argv);
        lang = lang_find(f->table, "java");
        argv = lang_expand(lang, lang->run);
        for (n = 0; argv[n]; n++)
                assert_null(strstr(argv[n], "{exe}"));
        assert_string_equal(argv[n - 1], "Main");
        assert_string_equal(argv[n - 2], "Main.jar");
        lang_argv_free(argv);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_lang_defaults_load_with_every_language),
                T(test_lang_operator_file_replaces_adds_and_disables_by_name),
                T(test_lang_empty_operator_file_changes_nothing),
                T(test_lang_find_is_exact),
                T(test_lang_malformed_files_name_file_line_and_field),
                T(test_lang_unreadable_or_broken_yaml_is_an_error),
                T(test_lang_disabled_entry_may_keep_its_other_keys),
                T(test_lang_expand_replaces_placeholders_anywhere),
                T(test_lang_expand_of_the_defaults),
        };
#undef T

        return cmocka_run_group_tests(tests, NULL, NULL);
}
