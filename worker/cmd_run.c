// SPDX-License-Identifier: MIT
/*
 * gavel run: judges one submission on this host, against a problem folder, with the same engine
 * the Kafka worker uses, and prints the verdict as a table (or as the verdict message in JSON).
 * For problem setters checking their solutions and for operators checking a machine.
 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schema/cleanup.h"
#include "worker/cmd.h"
#include "worker/judge/judge.h"
#include "worker/judge/lang.h"
#include "worker/judge/problem/problem.h"
#include "worker/setup.h"
#include "worker/util/json.h"

#define STDERR_SHOWN 300 /* bytes of a failed test's stderr shown under its row */

static void usage(FILE *f)
{
        fprintf(f,
                "usage: gavel run --problem DIR --lang LANG [OPTIONS] SOURCE\n"
                "Compiles SOURCE and runs it on every test of the problem folder DIR in\n"
                "containers, like the worker does, and prints the verdict.\n\n"
                "  --problem DIR      a problem folder (problem.yaml, or N.in/N.ans pairs)\n"
                "  --lang LANG        a language of the table (c, cpp, python3, ...)\n"
                "  --time-ms N        cpu time limit per test (default: the problem's, else 1000)\n"
                "  --memory-mib N     memory limit per test (default: the problem's, else 256)\n"
                "  --output-kib N     output limit per test (default: the problem's, else 65536)\n"
                "  --stop-on-failure  skip the tests after the first that fails\n"
                "  --slots K          judging slots (default: the number of cores)\n"
                "  --lang-file F      an operator's language table on top of the built-in one\n"
                "  --cache-dir DIR    compile cache (default /var/cache/gavel for root, else\n"
                "                     $XDG_CACHE_HOME/gavel)\n"
                "  --json             the verdict message as one JSON object (key \"verdict\":\n"
                "                     the code) instead of the table\n\n"
                "Exit status: 0 judging completed, whatever the verdict (an unknown language is\n"
                "a REJECTED verdict); 2 usage or input error; 3 the judge could not start.\n");
}

struct run_opts {
        const char *problem_dir, *lang, *lang_file, *cache_dir, *source;
        uint64_t time_ms, memory_mib, output_kib, slots;
        bool json, stop_on_failure;
};

static int parse_args(int argc, char **argv, struct run_opts *o)
{
        static const struct option opts[] = {
                {"problem", required_argument, NULL, 'p'},
                {"lang", required_argument, NULL, 'l'},
                {"time-ms", required_argument, NULL, 't'},
                {"memory-mib", required_argument, NULL, 'm'},
                {"output-kib", required_argument, NULL, 'o'},
                {"slots", required_argument, NULL, 's'},
                {"lang-file", required_argument, NULL, 'L'},
                {"cache-dir", required_argument, NULL, 'C'},
                {"stop-on-failure", no_argument, NULL, 'S'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        int c;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'p':
                        o->problem_dir = optarg;
                        break;
                case 'l':
                        o->lang = optarg;
                        break;
                case 't':
                        if (cmd_parse_u64("run", "--time-ms", optarg, UINT32_MAX, &o->time_ms) < 0)
                                return -EINVAL;
                        break;
                case 'm':
                        if (cmd_parse_u64("run", "--memory-mib", optarg, UINT32_MAX,
                                          &o->memory_mib) < 0)
                                return -EINVAL;
                        break;
                case 'o':
                        if (cmd_parse_u64("run", "--output-kib", optarg, UINT32_MAX,
                                          &o->output_kib) < 0)
                                return -EINVAL;
                        break;
                case 's':
                        if (cmd_parse_u64("run", "--slots", optarg, 256, &o->slots) < 0)
                                return -EINVAL;
                        break;
                case 'L':
                        o->lang_file = optarg;
                        break;
                case 'C':
                        o->cache_dir = optarg;
                        break;
                case 'S':
                        o->stop_on_failure = true;
                        break;
                case 'j':
                        o->json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 1;
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        }
        if (!o->problem_dir || !o->lang || optind != argc - 1) {
                fprintf(stderr, "gavel run: %s\n",
                        !o->problem_dir  ? "--problem DIR is required"
                        : !o->lang       ? "--lang LANG is required"
                        : optind >= argc ? "no SOURCE file given"
                                         : "one SOURCE file only");
                usage(stderr);
                return -EINVAL;
        }
        o->source = argv[optind];
        return 0;
}

/* What the output hook keeps of each test for the table: the head of its stderr. */
struct run_state {
        char **err_heads; /* per test, or NULL */
        size_t n_tests;
};

static void on_output(size_t i, int out_fd, const char *err, size_t err_len, void *userdata)
{
        struct run_state *st = userdata;

        (void)out_fd;
        if (i >= st->n_tests || err_len == 0)
                return;
        if (err_len > STDERR_SHOWN)
                err_len = STDERR_SHOWN;
        st->err_heads[i] = xmemdup(err, err_len);
}

/* Prints s (len bytes) on one line, control bytes escaped, prefixed. */
static void print_escaped(const char *prefix, const char *s, size_t len)
{
        fputs(prefix, stdout);
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)s[i];

                if (ch == '\n')
                        fputs("\\n", stdout);
                else if (ch < 0x20 || ch == 0x7f)
                        printf("\\x%02x", ch);
                else
                        putchar(ch);
        }
        putchar('\n');
}

static void print_table(const struct verdict *v, const struct run_state *st)
{
        const struct verdict_compile *c = &v->compile;

        if (c->present) {
                printf("compile  %s  %" PRIu32 " ms  %" PRIu64 " KiB%s\n", c->ok ? "ok" : "failed",
                       c->time_ms, c->memory_kib, c->cached ? "  (cached)" : "");
                if (c->log && (!c->ok || *c->log)) {
                        printf("%s", c->log);
                        if (*c->log && c->log[strlen(c->log) - 1] != '\n')
                                putchar('\n');
                }
        }
        if (v->n_tests) {
                printf("%4s  %-8s %8s %8s %11s  %s\n", "test", "verdict", "time ms", "wall ms",
                       "memory KiB", "message");
                for (size_t i = 0; i < v->n_tests; i++) {
                        const struct verdict_test *t = &v->tests[i];
                        char extra[64] = "";

                        if (t->verdict == SCHEMA_RE)
                                snprintf(extra, sizeof(extra),
                                         t->signal ? "killed by signal %d (%s)" : "exit code %d%s",
                                         t->signal ? t->signal : t->exit_code,
                                         t->signal ? strsignal(t->signal) : "");
                        printf("%4zu  %-8s %8" PRIu32 " %8" PRIu32 " %11" PRIu64 "  %s%s%s\n",
                               i + 1, schema_code_name(t->verdict), t->time_ms, t->wall_ms,
                               t->memory_kib, extra, *extra && t->checker_message ? "; " : "",
                               t->checker_message ? t->checker_message : "");
                        if (t->verdict != SCHEMA_AC && t->verdict != SCHEMA_SKIPPED &&
                            st->err_heads[i])
                                print_escaped("      stderr: ", st->err_heads[i],
                                              strlen(st->err_heads[i]));
                }
        }
        printf("verdict  %s", schema_code_name(v->verdict));
        if (v->reason)
                printf(": %s", v->reason);
        if (v->n_tests)
                printf("\nscore    %g / %g\ntime     %" PRIu32 " ms\nmemory   %" PRIu64 " KiB",
                       v->score, v->max_score, v->time_ms, v->memory_kib);
        putchar('\n');
}

static int print_json(const struct verdict *v)
{
        struct gv_err err = {0};
        json_t *json = NULL;
        char *text;
        int r;

        r = json_from_verdict(v, &json, &err);
        if (r < 0) {
                fprintf(stderr, "gavel run: %s\n", err.msg);
                return r;
        }
        text = json_dumps_exact(json, JSON_COMPACT);
        json_decref(json);
        if (!text)
                return -ENOMEM;
        puts(text);
        free(text);
        return 0;
}

/* Reads the source file, refusing what a job could not carry either. */
static int read_source(const char *path, uint8_t **ret_buf, size_t *ret_len)
{
        struct schema_limits lim;
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        uint8_t *buf;
        ssize_t n;

        schema_limits_default(&lim);
        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "gavel run: source '%s': %s\n", path, strerror(errno));
                return -errno;
        }
        if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > lim.source_max) {
                fprintf(stderr, "gavel run: source '%s': %s (at most %zu bytes)\n", path,
                        S_ISREG(st.st_mode) ? "too large" : "not a regular file", lim.source_max);
                return -EINVAL;
        }
        buf = xmalloc((size_t)st.st_size + 1);
        n = read(fd, buf, (size_t)st.st_size);
        if (n != st.st_size) {
                fprintf(stderr, "gavel run: source '%s': short read\n", path);
                free(buf);
                return -EIO;
        }
        buf[n] = '\0';
        *ret_buf = buf;
        *ret_len = (size_t)n;
        return 0;
}

int cmd_run(int argc, char **argv)
{
        struct run_opts o = {0};
        struct lang_table *langs = NULL;
        struct problem *problem = NULL;
        struct judge *judge = NULL;
        struct judge_conf conf;
        struct worker_config cfg = {0};
        struct run_state st = {0};
        struct verdict v = {0};
        struct gv_err err = {0};
        const char *base;
        struct job job = {.v = SCHEMA_VERSION, .attempt = 1};
        int r, status = EXIT_USAGE;

        r = parse_args(argc, argv, &o);
        if (r != 0)
                return r > 0 ? 0 : EXIT_USAGE;
        r = lang_table_load(o.lang_file, &langs, &err);
        if (r < 0) {
                fprintf(stderr, "gavel run: %s\n", err.msg);
                goto out;
        }
        r = problem_load_dir(o.problem_dir, &problem, &err);
        if (r < 0) {
                fprintf(stderr, "gavel run: %s\n", err.msg);
                goto out;
        }
        r = read_source(o.source, &job.source, &job.source_len);
        if (r < 0)
                goto out;
        base = strrchr(o.source, '/') ? strrchr(o.source, '/') + 1 : o.source;
        job.id = xstrdup(*base ? base : "run");
        job.lang = xstrdup(o.lang);
        job.limits.time_ms = (uint32_t)o.time_ms;
        job.limits.memory_kib = o.memory_mib * 1024;
        job.limits.output_kib = o.output_kib;
        job.stop_on_failure = o.stop_on_failure;

        worker_config_init(&cfg);
        cfg.slots = (unsigned)o.slots;
        if (o.cache_dir)
                worker_config_set(&cfg.cache_dir, o.cache_dir);
        setup_judge_conf(&cfg, langs, NULL, &conf);
        r = judge_new(&conf, &judge, &err);
        if (r < 0) {
                fprintf(stderr, "gavel run: cannot start judging: %s\n", err.msg);
                status = EXIT_FAILURE_SYSTEM;
                goto out;
        }
        st.n_tests = problem->n_tests;
        st.err_heads = xcalloc(st.n_tests, sizeof(char *));
        {
                struct judge_request req = {
                        .job = &job,
                        .output = o.json ? NULL : on_output,
                        .userdata = &st,
                        .problem = problem,
                };

                r = judge_run_request(judge, &req, &v, &err);
        }
        if (r < 0) {
                fprintf(stderr, "gavel run: %s\n", err.msg);
                status = EXIT_FAILURE_SYSTEM;
                goto out;
        }
        if (o.json)
                r = print_json(&v);
        else
                print_table(&v, &st);
        status = r < 0 || fflush(stdout) != 0 ? EXIT_FAILURE_SYSTEM : 0;
out:
        verdict_done(&v);
        judge_free(judge);
        for (size_t i = 0; i < st.n_tests; i++)
                free(st.err_heads[i]);
        free(st.err_heads);
        job_done(&job);
        problem_free(problem);
        lang_table_free(langs);
        worker_config_done(&cfg);
        return status;
}
