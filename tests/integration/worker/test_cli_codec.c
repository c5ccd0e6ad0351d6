/* SPDX-License-Identifier: MIT */
/*
 * gavel decode and gavel encode as an operator runs them: the real program ($GAVEL), real bytes
 * through pipes, exit statuses and the one-line messages on stderr. Streams are fed while the
 * program runs, so a test can tell that a message is printed before the input ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <msgpack.h>

#define TIMEOUT_MS 20000 /* a whole run, generous for sanitizer builds */

/* A running gavel with its three standard streams on pipes. */
struct proc {
        pid_t pid;
        int in, out, err; /* our ends; -1 once closed */
        char *out_buf, *err_buf;
        size_t out_len, err_len;
        int status; /* exit status, or 128 + signal */
};

struct fixture {
        char dir[64]; /* a private temporary directory */
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        struct proc proc;
};

static const char *gavel_path(void)
{
        const char *p = getenv("GAVEL");

        return p && *p ? p : GAVEL_BUILD_DIR "/gavel";
}

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts gavel with args (NULL-terminated, without argv[0]) in directory dir. */
static void proc_start(struct proc *p, const char *dir, const char *const *args)
{
        int in[2], out[2], err[2];
        const char *argv[16] = {"gavel"};
        size_t n = 1;

        for (; args[n - 1]; n++) {
                assert_true(n < 15);
                argv[n] = args[n - 1];
        }
        argv[n] = NULL;
        assert_int_equal(pipe2(in, O_CLOEXEC), 0);
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        assert_int_equal(pipe2(err, O_CLOEXEC), 0);
        p->pid = fork();
        assert_true(p->pid >= 0);
        if (p->pid == 0) {
                if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
                        _exit(126);
                if (dir && chdir(dir) < 0)
                        _exit(126);
                execv(gavel_path(), (char *const *)argv);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        close(err[1]);
        p->in = in[1];
        p->out = out[0];
        p->err = err[0];
        p->status = -1;
}

static void append(char **buf, size_t *len, const char *p, size_t n)
{
        *buf = realloc(*buf, *len + n + 1);
        assert_non_null(*buf);
        memcpy(*buf + *len, p, n);
        *len += n;
        (*buf)[*len] = '\0';
}

/*
 * Writes data[0..len) to the child's stdin while collecting its output, until until() holds
 * (with until NULL: until all of data is written) or deadline. Returns whether it held.
 */
static bool proc_pump(struct proc *p, const void *data, size_t len, bool (*until)(struct proc *p),
                      int64_t deadline)
{
        const char *d = data;
        char buf[65536];

        for (;;) {
                struct pollfd fds[3];
                nfds_t n = 0;
                ssize_t r;

                if (until ? until(p) : len == 0)
                        return true;
                if (p->out >= 0)
                        fds[n++] = (struct pollfd){.fd = p->out, .events = POLLIN};
                if (p->err >= 0)
                        fds[n++] = (struct pollfd){.fd = p->err, .events = POLLIN};
                if (len && p->in >= 0)
                        fds[n++] = (struct pollfd){.fd = p->in, .events = POLLOUT};
                if (n == 0 || now_ms() >= deadline)
                        return false;
                r = poll(fds, n, (int)(deadline - now_ms()));
                if (r < 0 && errno == EINTR)
                        continue;
                assert_true(r >= 0);
                for (nfds_t i = 0; i < n; i++) {
                        if (!fds[i].revents)
                                continue;
                        if (fds[i].fd == p->in) {
                                r = write(p->in, d, len);
                                if (r < 0 && errno == EPIPE) { /* it stopped reading: fine */
                                        len = 0;
                                        continue;
                                }
                                assert_true(r > 0);
                                d += r;
                                len -= (size_t)r;
                                continue;
                        }
                        r = read(fds[i].fd, buf, sizeof(buf));
                        if (r <= 0) {
                                close(fds[i].fd);
                                if (fds[i].fd == p->out)
                                        p->out = -1;
                                else
                                        p->err = -1;
                                continue;
                        }
                        if (fds[i].fd == p->out)
                                append(&p->out_buf, &p->out_len, buf, (size_t)r);
                        else
                                append(&p->err_buf, &p->err_len, buf, (size_t)r);
                }
        }
}

static bool outputs_closed(struct proc *p)
{
        return p->out < 0 && p->err < 0;
}

static void proc_close_stdin(struct proc *p)
{
        if (p->in >= 0)
                close(p->in);
        p->in = -1;
}

static void proc_reap(struct proc *p, int flags)
{
        int status;

        if (p->pid <= 0 || waitpid(p->pid, &status, flags) != p->pid)
                return;
        p->pid = 0;
        p->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Collects the output to its end and reaps the child; kills it after the deadline. */
static int proc_wait(struct proc *p, int64_t deadline)
{
        if (!proc_pump(p, NULL, 0, outputs_closed, deadline)) {
                kill(p->pid, SIGKILL);
                fail_msg("gavel did not finish in time; stderr: %s", p->err_buf ? p->err_buf : "");
        }
        proc_reap(p, 0);
        return p->status;
}

/* Runs gavel on input, then closes its stdin; returns the exit status. */
static int run(struct fixture *f, const void *input, size_t len, const char *const *args)
{
        struct proc *p = &f->proc;

        proc_start(p, f->dir, args);
        proc_pump(p, input, len, NULL, now_ms() + TIMEOUT_MS);
        proc_close_stdin(p);
        return proc_wait(p, now_ms() + TIMEOUT_MS);
}

static void proc_done(struct proc *p)
{
        if (p->pid > 0) {
                kill(p->pid, SIGKILL);
                waitpid(p->pid, NULL, 0);
        }
        if (p->in >= 0)
                close(p->in);
        if (p->out >= 0)
                close(p->out);
        if (p->err >= 0)
                close(p->err);
        free(p->out_buf);
        free(p->err_buf);
        *p = (struct proc){.in = -1, .out = -1, .err = -1};
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/gavel-cli-test-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        msgpack_sbuffer_init(&f->sbuf);
        msgpack_packer_init(&f->pk, &f->sbuf, msgpack_sbuffer_write);
        f->proc = (struct proc){.in = -1, .out = -1, .err = -1};
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        static const char *const names[] = {"job.json", "a.cpp", "1.in", "1.out", "bad.json"};
        struct fixture *f = *state;
        char path[128];

        proc_done(&f->proc);
        msgpack_sbuffer_destroy(&f->sbuf);
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
                unlink(path);
        }
        rmdir(f->dir);
        free(f);
        return 0;
}

static void write_file(struct fixture *f, const char *name, const char *text)
{
        char path[128];
        FILE *file;

        snprintf(path, sizeof(path), "%s/%s", f->dir, name);
        file = fopen(path, "we");
        assert_non_null(file);
        assert_int_equal(fputs(text, file) >= 0, 1);
        assert_int_equal(fclose(file), 0);
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
        assert_int_equal(msgpack_pack_str_with_body(pk, s, strlen(s)), 0);
}

/* A verdict-like map {"id": id, "verdict": "AC", "score": n}. */
static void pack_small(struct fixture *f, const char *id, int score)
{
        msgpack_pack_map(&f->pk, 3);
        pack_cstr(&f->pk, "id");
        pack_cstr(&f->pk, id);
        pack_cstr(&f->pk, "verdict");
        pack_cstr(&f->pk, "AC");
        pack_cstr(&f->pk, "score");
        msgpack_pack_int(&f->pk, score);
}

static size_t count_lines(const char *s)
{
        size_t n = 0;

        for (; s && *s; s++)
                n += *s == '\n';
        return n;
}

static bool has_one_line(struct proc *p)
{
        return count_lines(p->out_buf) >= 1;
}

static bool has_two_lines(struct proc *p)
{
        return count_lines(p->out_buf) >= 2;
}

/* Once its output is closed it has exited or is about to: then wait for it. */
static bool has_exited(struct proc *p)
{
        proc_reap(p, outputs_closed(p) ? 0 : WNOHANG);
        return p->pid == 0;
}

static void test_decode_prints_one_json_line_per_message_of_a_stream(void **state)
{
        struct fixture *f = *state;
        const char *args[] = {"decode", NULL};

        pack_small(f, "s1", 1);
        pack_small(f, "s2", 2);
        pack_small(f, "s3", 3);
        assert_int_equal(run(f, f->sbuf.data, f->sbuf.size, args), 0);
        assert_string_equal(f->proc.out_buf, "{\"id\":\"s1\",\"verdict\":\"AC\",\"score\":1}\n"
                                             "{\"id\":\"s2\",\"verdict\":\"AC\",\"score\":2}\n"
                                             "{\"id\":\"s3\",\"verdict\":\"AC\",\"score\":3}\n");
        assert_null(f->proc.err_buf);
}

static void test_decode_skips_kcats_newline_between_messages(void **state)
{
        struct fixture *f = *state;
        const char *args[] = {"decode", NULL};

        pack_small(f, "s1", 1);
        msgpack_sbuffer_write(&f->sbuf, "\n", 1);
        pack_small(f, "s2", 2);
        msgpack_sbuffer_write(&f->sbuf, "\n", 1);
        assert_int_equal(run(f, f->sbuf.data, f->sbuf.size, args), 0);
        assert_int_equal(count_lines(f->proc.out_buf), 2);
}

static void test_decode_prints_each_message_before_the_input_ends(void **state)
{
        struct fixture *f = *state;
        const char *args[] = {"decode", NULL};
        struct proc *p = &f->proc;
        size_t first;

        pack_small(f, "s1", 1);
        first = f->sbuf.size;
        pack_small(f, "s2", 2);
        proc_start(p, f->dir, args);
        /* like kcat on a live topic: stdin stays open between messages */
        assert_true(proc_pump(p, f->sbuf.data, first, has_one_line, now_ms() + TIMEOUT_MS));
        assert_string_equal(p->out_buf, "{\"id\":\"s1\",\"verdict\":\"AC\",\"score\":1}\n");
        /* the second one in two pieces: nothing is printed until it is whole */
        assert_false(proc_pump(p, f->sbuf.data + first, 5, has_two_lines, now_ms() + 300));
        assert_true(proc_pump(p, f->sbuf.data + first + 5, f->sbuf.size - first - 5, has_two_lines,
                              now_ms() + TIMEOUT_MS));
        proc_close_stdin(p);
        assert_int_equal(proc_wait(p, now_ms() + TIMEOUT_MS), 0);
        assert_int_equal(count_lines(p->out_buf), 2);
}

static void test_decode_reads_a_large_message_arriving_in_pieces(void **state)
{
        struct fixture *f = *state;
        const char *args[] = {"decode", NULL};
        size_t n = 3 << 20;
        char *big = malloc(n);
        json_t *json;

        assert_non_null(big);
        memset(big, 0xff, n); /* not UTF-8: printed as base64 */
        msgpack_pack_map(&f->pk, 2);
        pack_cstr(&f->pk, "in");
        msgpack_pack_bin_with_body(&f->pk, big, n);
        pack_cstr(&f->pk, "out");
        memset(big, 'x', n);
        msgpack_pack_bin_with_body(&f->pk, big, n);
        free(big);
        pack_small(f, "after", 7);
        assert_int_equal(run(f, f->sbuf.data, f->sbuf.size, args), 0);
        assert_int_equal(count_lines(f->proc.out_buf), 2);
        json = json_loadb(f->proc.out_buf, strchr(f->proc.out_buf, '\n') - f->proc.out_buf, 0,
                          NULL);
        assert_non_null(json);
        assert_int_equal(json_string_length(json_object_get(json_object_get(json, "in"), "base64")),
                         n / 3 * 4);
        assert_int_equal(json_string_length(json_object_get(json, "out")), n);
        json_decref(json);
}

static void test_decode_output_is_valid_json_when_strings_are_not_utf8(void **state)
{
        struct fixture *f = *state;
        const char *args[] = {"decode", NULL};
        json_error_t jerr;
        json_t *json;

        msgpack_pack_map(&f->pk, 3);
        pack_cstr(&f->pk, "reason\xff");
        pack_cstr(&f->pk, "bad \xc0\xaf utf-8 \xed\xa0\x80 and a \"quote\"");
        pack_cstr(&f->pk, "source");
        msgpack_pack_str_with_body(&f->pk, "\x00\xfe", 2);
        msgpack_pack_int(&f->pk, 5);
        msgpack_pack_bin_with_body(&f->pk, "\x01", 1);
        assert_int_equal(run(f, f->sbuf.data, f->sbuf.size, args), 0);
        json = json_loads(f->proc.out_buf, 0, &jerr);
        assert_non_null(json);
        assert_non_null(json_object_get(json, "reason\xef\xbf\xbd"));
        assert_string_equal(
                json_string_value(json_object_get(json_object_get(json, "source"), "base64")),
                "AP4=");
        assert_string_equal(
                json_string_value(json_object_get(json_object_get(json, "5"), "base64")), "AQ==");
        json_decref(json);
}

static void test_decode_pretty_indents(void **state)
{
        struct fixture *f = *state;
        const char *args[] = {"decode", "--pretty", NULL};

        pack_small(f, "s1", 1);
        assert_int_equal(run(f, f->sbuf.data, f->sbuf.size, args), 0);
        assert_string_equal(f->proc.out_buf,
                            "{\n  \"id\": \"s1\",\n  \"verdict\": \"AC\",\n  \"score\": 1\n}\n");
}

static void test_decode_prints_nothing_for_empty_input(void **state)
{
        struct fixture *f = *state;
        const char *args[] = {"decode", NULL};

        assert_int_equal(run(f, "", 0, args), 0);
        assert_null(f->proc.out_buf);
        assert_null(f->proc.err_buf);
}

static void test_decode_refuses_a_truncated_stream_naming_message_and_offset(void **state)
{
        struct fixture *f = *state;
        const char *args[] = {"decode", NULL};
        char want[128];
        size_t two;

        pack_small(f, "s1", 1);
        pack_small(f, "s2", 2);
        two = f->sbuf.size;
        pack_small(f, "s3", 3);
        assert_int_equal(run(f, f->sbuf.data, f->sbuf.size - 4, args), 2);
        assert_int_equal(count_lines(f->proc.out_buf), 2); /* the whole ones, no partial line */
        snprintf(want, sizeof(want), "gavel decode: message 3 at byte %zu: truncated", two);
        assert_int_equal(strncmp(f->proc.err_buf, want, strlen(want)), 0);
        assert_int_equal(count_lines(f->proc.err_buf), 1);
}

static void test_decode_refuses_garbage_with_status_2(void **state)
{
        struct fixture *f = *state;
        const char *args[] = {"decode", NULL};
        static const char *const inputs[] = {
                "\xc1",                   /* the never-used type byte */
                "hello, world\n",         /* text: fixints, not a map */
                "\x81\xa1k\xc7\x01\x05x", /* an ext value */
                "\x82\xa1k\x01\xa1k",     /* a map missing its last value */
                "\x92\x01",               /* an array missing its second element */
        };

        for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
                proc_done(&f->proc);
                assert_int_equal(run(f, inputs[i], strlen(inputs[i]), args), 2);
                assert_null(f->proc.out_buf);
                assert_non_null(f->proc.err_buf);
                assert_int_equal(
                        strncmp(f->proc.err_buf, "gavel decode: message 1 at byte 0: ", 35), 0);
                assert_int_equal(count_lines(f->proc.err_buf), 1);
        }
}

/* Feeds a header claiming a huge size and keeps stdin open: gavel must not wait for it. */
static void assert_refused_without_waiting(struct fixture *f, const void *hdr, size_t len,
                                           const char *what)
{
        const char *args[] = {"decode", NULL};
        struct proc *p = &f->proc;

        proc_start(p, f->dir, args);
        assert_true(proc_pump(p, hdr, len, has_exited, now_ms() + TIMEOUT_MS));
        assert_int_equal(p->status, 2);
        proc_close_stdin(p);
        assert_true(proc_pump(p, NULL, 0, outputs_closed, now_ms() + TIMEOUT_MS));
        assert_non_null(p->err_buf);
        assert_non_null(strstr(p->err_buf, what));
        assert_null(p->out_buf);
}

static void test_decode_refuses_a_str32_claiming_4_gib_at_once(void **state)
{
        assert_refused_without_waiting(*state,
                                       "\x81\xa2id\xdb\xff\xff\xff\xff"
                                       "abc",
                                       12,
                                       "gavel decode: message 1 at byte 0: str or bin of "
                                       "4294967295 bytes");
}

static void test_decode_refuses_an_array32_claiming_4g_elements_at_once(void **state)
{
        assert_refused_without_waiting(*state, "\x81\xa1t\xdd\xff\xff\xff\xff\x01", 9,
                                       "array or map of 4294967295 elements");
}

static void test_decode_refuses_a_message_over_the_size_limit_before_it_arrives(void **state)
{
        struct fixture *f = *state;
        size_t n = 50 << 20;
        char *big = calloc(1, n);

        /* two bins of 50 MiB cannot fit in 80 MiB: refused at the second one's header */
        assert_non_null(big);
        msgpack_pack_map(&f->pk, 2);
        pack_cstr(&f->pk, "a");
        msgpack_pack_bin_with_body(&f->pk, big, n);
        pack_cstr(&f->pk, "b");
        msgpack_pack_bin(&f->pk, n);
        free(big);
        assert_refused_without_waiting(f, f->sbuf.data, f->sbuf.size,
                                       "needs more than the limit of 83886080 bytes");
}

static void test_decode_refuses_unknown_options_and_types(void **state)
{
        struct fixture *f = *state;
        const char *bad_type[] = {"decode", "--type", "jobs", NULL};
        const char *bad_opt[] = {"decode", "--frobnicate", NULL};

        assert_int_equal(run(f, "", 0, bad_type), 2);
        assert_non_null(strstr(f->proc.err_buf, "unknown type 'jobs'"));
        proc_done(&f->proc);
        assert_int_equal(run(f, "", 0, bad_opt), 2);
        assert_non_null(strstr(f->proc.err_buf, "'--frobnicate'"));
}

static void test_help_exits_0_on_stdout(void **state)
{
        struct fixture *f = *state;
        const char *decode[] = {"decode", "--help", NULL};
        const char *encode[] = {"encode", "job", "--help", NULL};

        assert_int_equal(run(f, "", 0, decode), 0);
        assert_non_null(strstr(f->proc.out_buf, "usage: gavel decode"));
        proc_done(&f->proc);
        assert_int_equal(run(f, "", 0, encode), 0);
        assert_non_null(strstr(f->proc.out_buf, "usage: gavel encode job"));
}

/* ---- with the typed codec --------------------------------------------------------------- */

static const char job_json[] =
        "{\"id\": \"sub-1\", \"lang\": \"cpp\", \"source_file\": \"a.cpp\",\n"
        " \"tests\": [{\"in\": \"1 2\\n\", \"out\": \"3\\n\", \"points\": 1},\n"
        "            {\"in_file\": \"1.in\", \"out_file\": \"1.out\", \"points\": 2.5},\n"
        "            {\"in\": {\"base64\": \"AP8=\"}, \"out\": \"\"}],\n"
        " \"limits\": {\"time_ms\": 1000, \"wall_ms\": 3000, \"memory_kib\": 262144},\n"
        " \"checker\": {\"name\": \"float\", \"eps\": 1e-6}, \"stop_on_failure\": true,\n"
        " \"meta\": {\"contest\": 7, \"tags\": [\"a\", null, 0.5]}}\n";

static void write_job_files(struct fixture *f)
{
        write_file(f, "job.json", job_json);
        write_file(f, "a.cpp", "#include <cstdio>\nint main() { return 0; }\n");
        write_file(f, "1.in", "40 2\n");
        write_file(f, "1.out", "42\n");
}

/* Encodes job.json in f->dir into f->sbuf. */
static void encode_job(struct fixture *f)
{
        const char *args[] = {"encode", "job", "--in", "job.json", NULL};

        assert_int_equal(run(f, "", 0, args), 0);
        assert_null(f->proc.err_buf);
        assert_non_null(f->proc.out_buf);
        msgpack_sbuffer_write(&f->sbuf, f->proc.out_buf, f->proc.out_len);
        proc_done(&f->proc);
}

static void test_encode_job_then_decode_gives_the_job_back(void **state)
{
        struct fixture *f = *state;
        const char *args[] = {"decode", "--type", "job", NULL};
        json_t *json, *tests;

        write_job_files(f);
        encode_job(f);
        assert_int_equal(run(f, f->sbuf.data, f->sbuf.size, args), 0);
        json = json_loads(f->proc.out_buf, 0, NULL);
        assert_non_null(json);
        assert_int_equal(json_integer_value(json_object_get(json, "v")), 1);
        assert_string_equal(json_string_value(json_object_get(json, "id")), "sub-1");
        assert_string_equal(json_string_value(json_object_get(json, "lang")), "cpp");
        assert_string_equal(json_string_value(json_object_get(json, "source")),
                            "#include <cstdio>\nint main() { return 0; }\n");
        tests = json_object_get(json, "tests");
        assert_int_equal(json_array_size(tests), 3);
        assert_string_equal(json_string_value(json_object_get(json_array_get(tests, 1), "in")),
                            "40 2\n");
        assert_string_equal(json_string_value(json_object_get(json_array_get(tests, 1), "out")),
                            "42\n");
        assert_true(json_number_value(json_object_get(json_array_get(tests, 1), "points")) == 2.5);
        assert_string_equal(json_string_value(json_object_get(
                                    json_object_get(json_array_get(tests, 2), "in"), "base64")),
                            "AP8=");
        assert_int_equal(
                json_integer_value(json_object_get(json_object_get(json, "limits"), "time_ms")),
                1000);
        assert_int_equal(
                json_integer_value(json_object_get(json_object_get(json, "meta"), "contest")), 7);
        assert_true(json_is_true(json_object_get(json, "stop_on_failure")));
        json_decref(json);
}

static void test_encode_job_reads_stdin_relative_to_the_current_directory(void **state)
{
        struct fixture *f = *state;
        const char *args[] = {"encode", "job", NULL};
        const char *decode[] = {"decode", "--type", "auto", NULL};

        write_job_files(f);
        assert_int_equal(run(f, job_json, strlen(job_json), args), 0);
        msgpack_sbuffer_write(&f->sbuf, f->proc.out_buf, f->proc.out_len);
        msgpack_sbuffer_write(&f->sbuf, f->proc.out_buf, f->proc.out_len);
        proc_done(&f->proc);
        assert_int_equal(run(f, f->sbuf.data, f->sbuf.size, decode), 0);
        assert_int_equal(count_lines(f->proc.out_buf), 2);
}

static void test_decode_type_job_names_the_missing_key(void **state)
{
        struct fixture *f = *state;
        const char *args[] = {"decode", "--type", "job", NULL};

        /* a job without lang */
        msgpack_pack_map(&f->pk, 4);
        pack_cstr(&f->pk, "v");
        msgpack_pack_int(&f->pk, 1);
        pack_cstr(&f->pk, "id");
        pack_cstr(&f->pk, "x");
        pack_cstr(&f->pk, "source");
        pack_cstr(&f->pk, "int main(){}");
        pack_cstr(&f->pk, "problem");
        pack_cstr(&f->pk, "aplusb");
        assert_int_equal(run(f, f->sbuf.data, f->sbuf.size, args), 2);
        assert_null(f->proc.out_buf);
        assert_int_equal(count_lines(f->proc.err_buf), 1);
        assert_int_equal(strncmp(f->proc.err_buf,
                                 "gavel decode: message 1 at byte 0: not a valid job: lang", 56),
                         0);
}

static void test_decode_type_auto_checks_what_the_keys_suggest(void **state)
{
        struct fixture *f = *state;
        const char *args[] = {"decode", "--type", "auto", NULL};

        pack_small(f, "s1", 1); /* has "verdict", but is no valid verdict (no v) */
        assert_int_equal(run(f, f->sbuf.data, f->sbuf.size, args), 2);
        assert_non_null(strstr(f->proc.err_buf, "not a valid verdict: "));
}

static void expect_encode_error(struct fixture *f, const char *type, const char *json,
                                const char *want)
{
        const char *args[] = {"encode", type, "--in", "bad.json", NULL};

        proc_done(&f->proc);
        write_file(f, "bad.json", json);
        assert_int_equal(run(f, "", 0, args), 2);
        assert_null(f->proc.out_buf);
        if (!f->proc.err_buf || strcmp(f->proc.err_buf, want) != 0)
                fail_msg("for %s\nwant: %sgot:  %s", json, want,
                         f->proc.err_buf ? f->proc.err_buf : "(nothing)\n");
}

static void test_encode_names_the_key_path_of_a_bad_field(void **state)
{
        struct fixture *f = *state;
        char brackets[65], path[31 * 3 + 1] = "", json[256], want[256];

        for (int i = 0; i < 32; i++) {
                brackets[i] = '[';
                brackets[32 + i] = ']';
        }
        brackets[64] = '\0';
        for (int i = 0; i < 31; i++)
                strcat(path, "[0]");

        write_job_files(f);
        expect_encode_error(f, "job",
                            "{\"id\": \"1\", \"lang\": \"c\", \"source\": \"x\", \"tests\": "
                            "[{\"in\": \"\", \"out\": \"\"}, {\"in\": \"\", \"out_file\": "
                            "\"missing.out\"}]}",
                            "gavel encode: tests[1].out_file: cannot open 'missing.out': No such "
                            "file or directory\n");
        expect_encode_error(f, "job",
                            "{\"id\": \"1\", \"lang\": \"c\", \"source\": \"x\", \"problem\": "
                            "\"p\", \"limits\": {\"time_ms\": -5}}",
                            "gavel encode: limits.time_ms: expected an integer in "
                            "0..4294967295\n");
        expect_encode_error(f, "job",
                            "{\"id\": \"1\", \"lang\": \"c\", \"source\": \"x\", \"tests\": "
                            "[{\"in\": \"\", \"out\": \"\", \"point\": 1}]}",
                            "gavel encode: tests[0].point: unknown key\n");
        expect_encode_error(f, "job",
                            "{\"id\": \"1\", \"lang\": \"c\", \"source\": \"x\", \"tests\": "
                            "[{\"in\": {\"base64\": \"!!\"}, \"out\": \"\"}]}",
                            "gavel encode: tests[0].in: invalid base64: bad character at 0\n");
        expect_encode_error(f, "job",
                            "{\"id\": \"1\", \"lang\": \"c\", \"source\": \"x\", \"problem\": "
                            "\"p\", \"checker\": \"fuzzy\"}",
                            "gavel encode: checker: expected one of default, tokens, exact, lines, "
                            "float\n");
        expect_encode_error(f, "job", "{\"id\": \"1\", \"lang\": \"c\", \"problem\": \"p\"}",
                            "gavel encode: source: missing (or source_file)\n");
        expect_encode_error(f, "job",
                            "{\"id\": \"1\", \"lang\": \"c\", \"source\": \"x\", \"problem\": "
                            "\"p\", \"tests\": []}",
                            "gavel encode: tests: cannot be given together with problem\n");
        expect_encode_error(f, "job",
                            "{\"id\": 1, \"lang\": \"c\", \"source\": \"x\", \"problem\": \"p\"}",
                            "gavel encode: id: expected a string\n");
        /* meta sits below the root, so 32 nested arrays are one too many */
        snprintf(json, sizeof(json),
                 "{\"id\": \"1\", \"lang\": \"c\", \"source\": \"x\", "
                 "\"problem\": \"p\", \"meta\": %.32s1%.32s}",
                 brackets, brackets + 32);
        snprintf(want, sizeof(want), "gavel encode: meta%s: nested too deeply\n", path);
        expect_encode_error(f, "job", json, want);
}

static void test_encode_refuses_invalid_json_naming_line_and_column(void **state)
{
        struct fixture *f = *state;
        const char *args[] = {"encode", "job", NULL};

        assert_int_equal(run(f, "{\"id\": \"1\",\n \"lang\": }", 22, args), 2);
        assert_int_equal(strncmp(f->proc.err_buf, "gavel encode: stdin:2:", 22), 0);
        assert_int_equal(count_lines(f->proc.err_buf), 1);
        assert_null(f->proc.out_buf);
}

static void test_encode_progress_and_verdict_round_trip(void **state)
{
        struct fixture *f = *state;
        const char *progress[] = {"encode", "progress", NULL};
        const char *verdict[] = {"encode", "verdict", NULL};
        const char *decode[] = {"decode", "--type", "auto", NULL};
        static const char progress_json[] =
                "{\"id\": \"sub-1\", \"stage\": \"running\", \"test\": 2, \"of\": 5, "
                "\"worker\": \"w1\", \"ts_ms\": 1700000000000}";
        static const char verdict_json[] =
                "{\"id\": \"sub-1\", \"verdict\": \"WA\", \"score\": 1, \"max_score\": 2, "
                "\"compile\": {\"ok\": true, \"log\": \"\", \"time_ms\": 900, \"cached\": false}, "
                "\"tests\": [{\"verdict\": \"AC\", \"time_ms\": 3, \"wall_ms\": 5, "
                "\"memory_kib\": 1024, \"exit_code\": 0, \"signal\": 0}, {\"verdict\": \"WA\", "
                "\"checker_message\": \"expected 3, found 4\"}], \"worker\": \"w1\", "
                "\"received_ms\": 1700000000000, \"finished_ms\": 1700000000500}";

        assert_int_equal(run(f, progress_json, strlen(progress_json), progress), 0);
        msgpack_sbuffer_write(&f->sbuf, f->proc.out_buf, f->proc.out_len);
        proc_done(&f->proc);
        assert_int_equal(run(f, verdict_json, strlen(verdict_json), verdict), 0);
        msgpack_sbuffer_write(&f->sbuf, f->proc.out_buf, f->proc.out_len);
        proc_done(&f->proc);
        assert_int_equal(run(f, f->sbuf.data, f->sbuf.size, decode), 0);
        assert_int_equal(count_lines(f->proc.out_buf), 2);
        assert_non_null(strstr(f->proc.out_buf, "\"stage\":\"running\""));
        assert_non_null(strstr(f->proc.out_buf, "\"checker_message\":\"expected 3, found 4\""));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_decode_prints_one_json_line_per_message_of_a_stream),
                T(test_decode_skips_kcats_newline_between_messages),
                T(test_decode_prints_each_message_before_the_input_ends),
                T(test_decode_reads_a_large_message_arriving_in_pieces),
                T(test_decode_output_is_valid_json_when_strings_are_not_utf8),
                T(test_decode_pretty_indents),
                T(test_decode_prints_nothing_for_empty_input),
                T(test_decode_refuses_a_truncated_stream_naming_message_and_offset),
                T(test_decode_refuses_garbage_with_status_2),
                T(test_decode_refuses_a_str32_claiming_4_gib_at_once),
                T(test_decode_refuses_an_array32_claiming_4g_elements_at_once),
                T(test_decode_refuses_a_message_over_the_size_limit_before_it_arrives),
                T(test_decode_refuses_unknown_options_and_types),
                T(test_help_exits_0_on_stdout),
                T(test_encode_job_then_decode_gives_the_job_back),
                T(test_encode_job_reads_stdin_relative_to_the_current_directory),
                T(test_decode_type_job_names_the_missing_key),
                T(test_decode_type_auto_checks_what_the_keys_suggest),
                T(test_encode_names_the_key_path_of_a_bad_field),
                T(test_encode_refuses_invalid_json_naming_line_and_column),
                T(test_encode_progress_and_verdict_round_trip),
        };
#undef T

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
