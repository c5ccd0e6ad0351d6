/* SPDX-License-Identifier: MIT */
/*
 * worker/util/yml.c: the typed YAML layer every config file goes through. Each getter on good and
 * bad input, and each failure's message: file, line, key path, what was expected and what was
 * found.
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

#include "worker/util/yml.h"

struct fixture {
        struct yml_doc *doc;
        struct yml root;
        struct gv_err err;
};

static int setup(void **state)
{
        *state = calloc(1, sizeof(struct fixture));
        return *state ? 0 : -1;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        yml_doc_free(f->doc);
        free(f);
        return 0;
}

static void load(struct fixture *f, const char *text)
{
        yml_doc_free(f->doc);
        f->doc = NULL;
        if (yml_load_buffer("t.yaml", text, strlen(text), &f->doc, &f->err) < 0)
                fail_msg("load: %s", f->err.msg);
        yml_root(f->doc, &f->root);
}

#define assert_err(f, expect) assert_string_equal((f)->err.msg, expect)

static void test_yml_reads_scalars_of_every_type(void **state)
{
        struct fixture *f = *state;
        uint64_t u = 0;
        uint32_t u32 = 0;
        double d = 0;
        bool b = false;
        char *s = NULL;

        load(f, "name: hello\nn: 42\nsmall: 7\nx: 1e-6\nflag: yes\nquoted: \"12\"\n");
        assert_int_equal(yml_get_str(&f->root, "name", &s, &f->err), 1);
        assert_string_equal(s, "hello");
        free(s);
        assert_int_equal(yml_get_str(&f->root, "quoted", &s, &f->err), 1);
        assert_string_equal(s, "12");
        free(s);
        assert_int_equal(yml_get_u64(&f->root, "n", 0, 100, &u, &f->err), 1);
        assert_int_equal(u, 42);
        assert_int_equal(yml_get_u32(&f->root, "small", 1, 10, &u32, &f->err), 1);
        assert_int_equal(u32, 7);
        assert_int_equal(yml_get_double(&f->root, "x", 0, 1, &d, &f->err), 1);
        assert_true(d == 1e-6);
        assert_int_equal(yml_get_bool(&f->root, "flag", &b, &f->err), 1);
        assert_true(b);
        /* A number is a string too, for argv elements such as "10". */
        assert_int_equal(yml_get_str(&f->root, "n", &s, &f->err), 1);
        assert_string_equal(s, "42");
        free(s);
}

static void test_yml_absent_and_null_keys_are_not_found_and_leave_the_value(void **state)
{
        struct fixture *f = *state;
        uint64_t u = 5;
        char *s = NULL;
        struct yml y;

        load(f, "a:\nb: ~\nc: null\n");
        assert_int_equal(yml_get_u64(&f->root, "a", 0, 10, &u, &f->err), 0);
        assert_int_equal(yml_get_u64(&f->root, "b", 0, 10, &u, &f->err), 0);
        assert_int_equal(yml_get_str(&f->root, "c", &s, &f->err), 0);
        assert_int_equal(yml_get_str(&f->root, "zzz", &s, &f->err), 0);
        assert_int_equal(u, 5);
        assert_null(s);
        assert_int_equal(yml_get(&f->root, "zzz", &y, &f->err), 0);
        assert_null(y.node);
        assert_string_equal(y.path, "zzz");
        /* A quoted "null" is a string, not a null. */
        load(f, "c: \"null\"\n");
        assert_int_equal(yml_get_str(&f->root, "c", &s, &f->err), 1);
        assert_string_equal(s, "null");
        free(s);
}

static void test_yml_integer_errors_name_file_line_path_and_value(void **state)
{
        struct fixture *f = *state;
        uint64_t u;
        struct yml m;

        load(f, "limits:\n  time_ms: abc\n  mem: -5\n  big: 99999999999999999999999\n"
                "  r: 11\n  l: [1]\n  f: 1.5\n");
        assert_int_equal(yml_get(&f->root, "limits", &m, &f->err), 1);
        assert_int_equal(yml_get_u64(&m, "time_ms", 0, 10, &u, &f->err), -EINVAL);
        assert_err(f, "t.yaml:2: limits.time_ms: expected an integer, found 'abc'");
        assert_int_equal(f->err.code, -EINVAL);
        assert_int_equal(yml_get_u64(&m, "mem", 0, 10, &u, &f->err), -EINVAL);
        assert_err(f, "t.yaml:3: limits.mem: expected a non-negative integer, found '-5'");
        assert_int_equal(yml_get_u64(&m, "big", 0, UINT64_MAX, &u, &f->err), -EINVAL);
        assert_err(f, "t.yaml:4: limits.big: 99999999999999999999999 is out of range "
                      "(0..18446744073709551615)");
        assert_int_equal(yml_get_u64(&m, "r", 1, 10, &u, &f->err), -EINVAL);
        assert_err(f, "t.yaml:5: limits.r: 11 is out of range (1..10)");
        assert_int_equal(yml_get_u64(&m, "l", 1, 10, &u, &f->err), -EINVAL);
        assert_err(f, "t.yaml:6: limits.l: expected an integer, found a list");
        assert_int_equal(yml_get_u64(&m, "f", 1, 10, &u, &f->err), -EINVAL);
        assert_err(f, "t.yaml:7: limits.f: expected an integer, found '1.5'");
}

static void test_yml_double_and_bool_errors(void **state)
{
        struct fixture *f = *state;
        double d;
        bool b;

        load(f, "eps: 1e-400x\nneg: -1\ninf: .inf\nnan: nan\nflag: maybe\nmap: {a: 1}\n");
        assert_int_equal(yml_get_double(&f->root, "eps", 0, 1, &d, &f->err), -EINVAL);
        assert_err(f, "t.yaml:1: eps: expected a number, found '1e-400x'");
        assert_int_equal(yml_get_double(&f->root, "neg", 0, 1, &d, &f->err), -EINVAL);
        assert_err(f, "t.yaml:2: neg: -1 is out of range (0..1)");
        assert_int_equal(yml_get_double(&f->root, "inf", 0, 1, &d, &f->err), -EINVAL);
        assert_int_equal(yml_get_double(&f->root, "nan", 0, 1, &d, &f->err), -EINVAL);
        assert_err(f, "t.yaml:4: nan: expected a number, found 'nan'");
        assert_int_equal(yml_get_bool(&f->root, "flag", &b, &f->err), -EINVAL);
        assert_err(f, "t.yaml:5: flag: expected true or false, found 'maybe'");
        assert_int_equal(yml_get_bool(&f->root, "map", &b, &f->err), -EINVAL);
        assert_err(f, "t.yaml:6: map: expected true or false, found a mapping");
}

static void test_yml_strv_reads_lists_and_hints_at_unquoted_braces(void **state)
{
        struct fixture *f = *state;
        char **v = NULL;

        load(f, "run: [gcc, -O2, \"{src}\", 10]\nempty: []\nbad: [gcc, {exe}]\n"
                "nested: [[a]]\nscalar: gcc\n");
        assert_int_equal(yml_get_strv(&f->root, "run", true, &v, &f->err), 1);
        assert_string_equal(v[0], "gcc");
        assert_string_equal(v[2], "{src}");
        assert_string_equal(v[3], "10");
        assert_null(v[4]);
        yml_strv_free(v);
        assert_int_equal(yml_get_strv(&f->root, "empty", false, &v, &f->err), 1);
        assert_null(v[0]);
        yml_strv_free(v);
        assert_int_equal(yml_get_strv(&f->root, "empty", true, &v, &f->err), -EINVAL);
        assert_err(f, "t.yaml:2: empty: expected a non-empty list of strings");
        assert_int_equal(yml_get_strv(&f->root, "bad", true, &v, &f->err), -EINVAL);
        assert_err(f, "t.yaml:3: bad[1]: expected a string, found a mapping (write \"{exe}\" in "
                      "quotes)");
        assert_int_equal(yml_get_strv(&f->root, "nested", true, &v, &f->err), -EINVAL);
        assert_err(f, "t.yaml:4: nested[0]: expected a string, found a list");
        assert_int_equal(yml_get_strv(&f->root, "scalar", true, &v, &f->err), -EINVAL);
        assert_err(f, "t.yaml:5: scalar: expected a list of strings, found 'gcc'");
}

static void test_yml_rejects_nul_bytes_in_strings(void **state)
{
        struct fixture *f = *state;
        char *s = NULL;

        load(f, "s: \"a\\0b\"\n");
        assert_int_equal(yml_get_str(&f->root, "s", &s, &f->err), -EINVAL);
        assert_err(f, "t.yaml:1: s: contains a NUL byte");
        assert_null(s);
}

static void test_yml_check_keys_names_unknown_and_repeated_keys(void **state)
{
        struct fixture *f = *state;
        static const char *const known[] = {"time_ms", "checker", NULL};
        struct yml m;

        load(f, "time_ms: 1\nchecker: tokens\n");
        assert_int_equal(yml_check_keys(&f->root, known, &f->err), 0);
        load(f, "time_ms: 1\nchecekr: tokens\n");
        assert_int_equal(yml_check_keys(&f->root, known, &f->err), -EINVAL);
        assert_err(f, "t.yaml:2: checekr: unknown key");
        load(f, "time_ms: 1\nchecker: a\ntime_ms: 2\n");
        assert_int_equal(yml_check_keys(&f->root, known, &f->err), -EINVAL);
        assert_err(f, "t.yaml:3: time_ms: given twice (line 1)");
        load(f, "x:\n  [1]: 2\n");
        assert_int_equal(yml_get(&f->root, "x", &m, &f->err), 1);
        assert_int_equal(yml_check_keys(&m, known, &f->err), -EINVAL);
        assert_err(f, "t.yaml:2: x: keys must be non-empty strings");
}

static void test_yml_want_map_accepts_null_and_refuses_other_types(void **state)
{
        struct fixture *f = *state;
        struct yml y;

        load(f, "a: [1, 2]\nb:\nc: {}\nd: text\n");
        assert_int_equal(yml_get(&f->root, "a", &y, &f->err), 1);
        assert_int_equal(yml_want_map(&y, &f->err), -EINVAL);
        assert_err(f, "t.yaml:1: a: expected a mapping, found a list");
        assert_int_equal(yml_get(&f->root, "b", &y, &f->err), 0);
        assert_int_equal(yml_want_map(&y, &f->err), 0);
        assert_int_equal(yml_get(&f->root, "c", &y, &f->err), 1);
        assert_int_equal(yml_want_map(&y, &f->err), 0);
        assert_int_equal(yml_get(&f->root, "d", &y, &f->err), 1);
        assert_int_equal(yml_get(&y, "x", &y, &f->err), -EINVAL);
        assert_err(f, "t.yaml:4: d: expected a mapping, found 'text'");
        /* The root of a document that is a list. */
        load(f, "- 1\n- 2\n");
        assert_int_equal(yml_want_map(&f->root, &f->err), -EINVAL);
        assert_err(f, "t.yaml:1: expected a mapping, found a list");
}

static void test_yml_walks_maps_and_sequences_with_paths(void **state)
{
        struct fixture *f = *state;
        struct yml tests, t, in;
        const char *key;
        char *s;

        load(f, "tests:\n  - {in: 1.in}\n  - {in: [x]}\n");
        assert_int_equal(yml_map_len(&f->root), 1);
        assert_int_equal(yml_map_at(&f->root, 0, &key, &tests, &f->err), 0);
        assert_string_equal(key, "tests");
        assert_true(yml_is_seq(&tests));
        assert_int_equal(yml_seq_len(&tests), 2);
        yml_seq_at(&tests, 0, &t);
        assert_int_equal(yml_get_str(&t, "in", &s, &f->err), 1);
        assert_string_equal(s, "1.in");
        free(s);
        yml_seq_at(&tests, 1, &t);
        assert_int_equal(yml_get(&t, "in", &in, &f->err), 1);
        assert_string_equal(in.path, "tests[1].in");
        assert_int_equal(in.line, 3);
        assert_int_equal(yml_as_str(&in, &s, &f->err), -EINVAL);
        assert_err(f, "t.yaml:3: tests[1].in: expected a string, found a list");
}

static void test_yml_scaled_keys_convert_units_and_refuse_two(void **state)
{
        struct fixture *f = *state;
        uint64_t v = 0;

        load(f, "memory_mib: 64\ntime_s: 2\noutput_kib: 10\n");
        assert_int_equal(yml_get_kib(&f->root, "memory", 1, 1 << 30, &v, &f->err), 1);
        assert_int_equal(v, 65536);
        assert_int_equal(yml_get_ms(&f->root, "time", 1, 10000, &v, &f->err), 1);
        assert_int_equal(v, 2000);
        assert_int_equal(yml_get_kib(&f->root, "output", 1, 1 << 30, &v, &f->err), 1);
        assert_int_equal(v, 10);
        assert_int_equal(yml_get_kib(&f->root, "stack", 1, 1 << 30, &v, &f->err), 0);
        assert_int_equal(v, 10);
        load(f, "memory_kib: 1024\nmemory_mib: 1\n");
        assert_int_equal(yml_get_kib(&f->root, "memory", 1, 1 << 30, &v, &f->err), -EINVAL);
        assert_err(f, "t.yaml:2: memory_mib: give only one of memory_kib and memory_mib");
        /* The range is given in the unit the file used. */
        load(f, "memory_gib: 100\n");
        assert_int_equal(yml_get_kib(&f->root, "memory", 1024, 64ull << 20, &v, &f->err), -EINVAL);
        assert_err(f, "t.yaml:1: memory_gib: 100 is out of range (1..64)");
        load(f, "time_ms: 0\n");
        assert_int_equal(yml_get_ms(&f->root, "time", 1, 1000, &v, &f->err), -EINVAL);
        assert_err(f, "t.yaml:1: time_ms: 0 is out of range (1..1000)");
}

static void test_yml_load_reports_syntax_errors_with_their_line(void **state)
{
        struct fixture *f = *state;
        static const char bad[] = "a: 1\nb: [1, 2\nc: 3\n";
        static const char two[] = "a: 1\n---\nb: 2\n";
        static const char tab[] = "a:\n\tb: 1\n";

        assert_int_equal(yml_load_buffer("t.yaml", bad, strlen(bad), &f->doc, &f->err), -EINVAL);
        assert_null(f->doc);
        assert_non_null(strstr(f->err.msg, "t.yaml:"));
        assert_non_null(strstr(f->err.msg, "did not find expected ',' or ']'"));
        assert_int_equal(yml_load_buffer("t.yaml", two, strlen(two), &f->doc, &f->err), -EINVAL);
        assert_err(f, "t.yaml:2: only one YAML document expected");
        assert_int_equal(yml_load_buffer("t.yaml", tab, strlen(tab), &f->doc, &f->err), -EINVAL);
        assert_non_null(strstr(f->err.msg, "t.yaml:2: "));
        assert_int_equal(yml_load_buffer("t.yaml", "a: \0", 4, &f->doc, &f->err), -EINVAL);
}

static void test_yml_empty_document_has_an_absent_root(void **state)
{
        struct fixture *f = *state;
        struct yml y;

        load(f, "# only a comment\n");
        assert_null(f->root.node);
        assert_int_equal(yml_want_map(&f->root, &f->err), 0);
        assert_int_equal(yml_get(&f->root, "a", &y, &f->err), 0);
        assert_int_equal(yml_map_len(&f->root), 0);
}

static void test_yml_load_file_checks_the_file(void **state)
{
        struct fixture *f = *state;
        char dir[] = "/tmp/gavel-yml-XXXXXX", path[PATH_MAX];
        char *big;
        int fd;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/missing.yaml", dir);
        assert_int_equal(yml_load_file(path, &f->doc, &f->err), -ENOENT);
        assert_non_null(strstr(f->err.msg, "missing.yaml': No such file or directory"));
        assert_int_equal(yml_load_file(dir, &f->doc, &f->err), -EINVAL);
        assert_non_null(strstr(f->err.msg, "is not a regular file"));
        snprintf(path, sizeof(path), "%s/big.yaml", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, YML_FILE_MAX + 1), 0);
        close(fd);
        assert_int_equal(yml_load_file(path, &f->doc, &f->err), -E2BIG);
        unlink(path);
        snprintf(path, sizeof(path), "%s/ok.yaml", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        big = "x: [1, 2]\n";
        assert_int_equal(write(fd, big, strlen(big)), (ssize_t)strlen(big));
        close(fd);
        assert_int_equal(yml_load_file(path, &f->doc, &f->err), 0);
        yml_root(f->doc, &f->root);
        assert_int_equal(yml_map_len(&f->root), 1);
        unlink(path);
        rmdir(dir);
}

static void test_yml_long_paths_are_cut_short_safely(void **state)
{
        struct fixture *f = *state;
        char text[1024], key[301];
        struct yml a, b;
        uint64_t v;

        memset(key, 'k', sizeof(key) - 1);
        key[sizeof(key) - 1] = '\0';
        snprintf(text, sizeof(text), "%s:\n  %s: x\n", key, key);
        load(f, text);
        assert_int_equal(yml_get(&f->root, key, &a, &f->err), 1);
        assert_int_equal(strlen(a.path), sizeof(a.path) - 1);
        assert_int_equal(yml_get(&a, key, &b, &f->err), 1);
        assert_int_equal(strlen(b.path), sizeof(b.path) - 1);
        assert_int_equal(yml_as_u64(&b, 0, 1, &v, &f->err), -EINVAL);
        assert_non_null(strstr(f->err.msg, "t.yaml:2: kkk"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_yml_reads_scalars_of_every_type),
                T(test_yml_absent_and_null_keys_are_not_found_and_leave_the_value),
                T(test_yml_integer_errors_name_file_line_path_and_value),
                T(test_yml_double_and_bool_errors),
                T(test_yml_strv_reads_lists_and_hints_at_unquoted_braces),
                T(test_yml_rejects_nul_bytes_in_strings),
                T(test_yml_check_keys_names_unknown_and_repeated_keys),
                T(test_yml_want_map_accepts_null_and_refuses_other_types),
                T(test_yml_walks_maps_and_sequences_with_paths),
                T(test_yml_scaled_keys_convert_units_and_refuse_two),
                T(test_yml_load_reports_syntax_errors_with_their_line),
                T(test_yml_empty_document_has_an_absent_root),
                T(test_yml_load_file_checks_the_file),
                T(test_yml_long_paths_are_cut_short_safely),
        };
#undef T

        return cmocka_run_group_tests(tests, NULL, NULL);
}
