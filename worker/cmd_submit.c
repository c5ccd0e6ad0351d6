/* SPDX-License-Identifier: MIT */
/*
 * gavel submit: a platform in one command. Builds a job per source file (a problem of the
 * workers' store, or the tests of a folder sent inline), enqueues it on the jobs topic keyed by
 * its id, and with --wait follows the progress and verdicts topics (read_committed) until every
 * verdict is in, printing each as it arrives and a live progress line on a terminal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue.h"
#include "schema/cleanup.h"
#include "schema/schema.h"
#include "worker/cmd.h"
#include "worker/kafka.h"
#include "worker/util/fileio.h"

#define SUBMIT_SOURCES_MAX 1000

static void submit_usage(FILE *f)
{
        fprintf(f,
                "usage: gavel submit --brokers B --lang L (--problem ID | --tests DIR) [--wait]\n"
                "                    [--id ID] [--time-ms N] [--memory-kib N] [-X K=V]... "
                "SOURCE...\n"
                "\n"
                "Enqueues one job per SOURCE on the jobs topic (gavel.jobs; key: the job id)\n"
                "and prints each id.\n"
                "\n"
                "  -b, --brokers B      bootstrap servers, host:port,...\n"
                "  -l, --lang L         language name in the workers' table (c, cpp, python3...)\n"
                "  -p, --problem ID     a problem of the workers' problem store\n"
                "  -T, --tests DIR      send DIR's tests inline: pairs N.in and N.ans (or N.out),\n"
                "                       in the order of N\n"
                "  -i, --id ID          the job id (one SOURCE only); default: the file's name\n"
                "                       and a random suffix\n"
                "      --time-ms N      cpu time limit per test\n"
                "      --memory-kib N   memory limit per test\n"
                "  -w, --wait           follow progress and print each verdict when it arrives\n"
                "      --timeout SEC    how long --wait waits (default 300)\n"
                "  -j, --json           with --wait, verdicts as JSON lines\n"
                "      --jobs-topic T   enqueue on T instead of gavel.jobs\n"
                "      --verdicts-topic T, --progress-topic T\n"
                "                       with --wait, follow these instead of gavel.verdicts\n"
                "                       and gavel.progress (the workers' topics: config)\n"
                "  -X NAME=VALUE        a librdkafka property (security.protocol=sasl_ssl, ...)\n"
                "  -h, --help           show this help\n"
                "\n"
                "Exit status: 0 enqueued (with --wait: every verdict is AC); 1 with --wait, some\n"
                "verdict is not AC; 2 usage or a bad file; 3 Kafka failed or --wait timed out.\n");
}

/* Reads a whole file of at most max bytes; a message names the file. */
static int read_file(const char *path, size_t max, uint8_t **ret_buf, size_t *ret_len)
{
        struct gv_err err = {0};
        int r = fileio_read_file(path, max, (char **)ret_buf, ret_len, &err);

        if (r < 0)
                fprintf(stderr, "gavel submit: %s\n", err.msg);
        return r;
}

static int cmp_names(const void *a, const void *b)
{
        return strverscmp(*(char *const *)a, *(char *const *)b); /* 2.in before 10.in */
}

/* Loads DIR's N.in / N.ans (or N.out) pairs as inline tests into job. */
static int load_tests(const char *dir, const struct schema_limits *lim, struct job *job)
{
        cleanup_free char **names = NULL;
        size_t n = 0, cap = 0, total = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        d = opendir(dir);
        if (!d) {
                fprintf(stderr, "gavel submit: --tests: '%s': %s\n", dir, strerror(errno));
                return -errno;
        }
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);

                if (len < 4 || strcmp(de->d_name + len - 3, ".in"))
                        continue;
                if (n == cap) {
                        cap = cap ? 2 * cap : 16;
                        names = realloc(names, cap * sizeof(*names));
                        if (!names)
                                abort();
                }
                names[n++] = xstrdup(de->d_name);
        }
        closedir(d);
        if (n == 0) {
                fprintf(stderr, "gavel submit: --tests: '%s' has no N.in files\n", dir);
                return -EINVAL;
        }
        qsort(names, n, sizeof(*names), cmp_names);
        job->tests = xcalloc(n, sizeof(*job->tests));
        for (size_t i = 0; i < n; i++) {
                char in[PATH_MAX], ans[PATH_MAX];
                size_t stem = strlen(names[i]) - 3;
                struct job_test *t = &job->tests[job->n_tests];

                snprintf(in, sizeof(in), "%s/%s", dir, names[i]);
                snprintf(ans, sizeof(ans), "%s/%.*s.ans", dir, (int)stem, names[i]);
                if (access(ans, R_OK) < 0)
                        snprintf(ans, sizeof(ans), "%s/%.*s.out", dir, (int)stem, names[i]);
                if (r == 0)
                        r = read_file(in, lim->tests_max, &t->in, &t->in_len);
                if (r == 0)
                        job->n_tests++; /* job_done frees it from here on */
                if (r == 0) {
                        if (access(ans, R_OK) < 0) {
                                fprintf(stderr,
                                        "gavel submit: --tests: '%s' has no answer (%.*s.ans "
                                        "or %.*s.out)\n",
                                        in, (int)stem, names[i], (int)stem, names[i]);
                                r = -ENOENT;
                        } else
                                r = read_file(ans, lim->tests_max, &t->out, &t->out_len);
                }
                if (r == 0)
                        total += t->in_len + t->out_len;
                free(names[i]);
        }
        if (r == 0 && total > lim->tests_max) {
                fprintf(stderr,
                        "gavel submit: --tests: '%s': %zu bytes of tests, over the "
                        "limit of %zu\n",
                        dir, total, lim->tests_max);
                r = -E2BIG;
        }
        return r;
}

/* "<file name without extension>-<8 hex digits>" */
static char *make_id(const char *source)
{
        cleanup_free char *copy = xstrdup(source);
        char *base = basename(copy), *dot = strrchr(base, '.'), *id = NULL;
        uint32_t rnd = 0;

        if (dot && dot != base)
                *dot = '\0';
        if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                rnd = (uint32_t)time(NULL) ^ (uint32_t)getpid();
        if (asprintf(&id, "%.96s-%08" PRIx32, base, rnd) < 0)
                abort();
        return id;
}

struct submitted {
        char **ids;
        bool *done;
        size_t n, n_done;
        bool all_ac;
};

static ssize_t find_id(const struct submitted *sub, const char *id)
{
        for (size_t i = 0; i < sub->n; i++)
                if (!strcmp(sub->ids[i], id))
                        return (ssize_t)i;
        return -1;
}

/* The live line on a terminal: "[2/5] s-1: running test 3/10". */
static void show_progress(const struct submitted *sub, const struct progress *p)
{
        char what[64];

        if (p->stage == SCHEMA_STAGE_RUNNING)
                snprintf(what, sizeof(what), "running test %" PRIu32 "/%" PRIu32, p->test, p->of);
        else
                snprintf(what, sizeof(what), "%s", schema_stage_name(p->stage));
        fprintf(stderr, "\r\033[K[%zu/%zu] %s: %s", sub->n_done, sub->n, p->id, what);
        fflush(stderr);
}

/* Follows verdicts and progress until every submitted job has its verdict. */
static int wait_verdicts(struct queue_reader *rd, const char *topic_progress, struct submitted *sub,
                         bool json, unsigned timeout_s)
{
        bool tty = isatty(STDERR_FILENO);
        time_t deadline = time(NULL) + timeout_s;
        struct gv_err err = {0};

        if (!json)
                verdict_print_header(stdout);
        while (sub->n_done < sub->n && !kafka_stop && time(NULL) < deadline) {
                struct queue_msg msg;
                struct verdict v;
                struct progress p;
                ssize_t i;
                int r;

                r = queue_reader_next(rd, 200, &msg, &err);
                if (r < 0) {
                        fprintf(stderr, "gavel submit: %s\n", err.msg);
                        return EXIT_FAILURE_SYSTEM;
                }
                if (r == 0)
                        continue;
                if (!strcmp(msg.topic, topic_progress)) {
                        if (tty &&
                            schema_progress_decode(msg.value, msg.len, NULL, &p, NULL) == 0) {
                                if (find_id(sub, p.id) >= 0)
                                        show_progress(sub, &p);
                                progress_done(&p);
                        }
                        continue;
                }
                if (schema_verdict_decode(msg.value, msg.len, NULL, &v, NULL) < 0)
                        continue;
                i = find_id(sub, v.id);
                if (i >= 0 && !sub->done[i]) {
                        sub->done[i] = true;
                        sub->n_done++;
                        sub->all_ac &= v.verdict == SCHEMA_AC;
                        if (tty)
                                fprintf(stderr, "\r\033[K");
                        if (json)
                                verdict_print_json(stdout, msg.value, msg.len, msg.partition,
                                                   msg.offset);
                        else
                                verdict_print_row(stdout, &v);
                        fflush(stdout);
                }
                verdict_done(&v);
        }
        if (sub->n_done < sub->n) {
                fprintf(stderr, "gavel submit: %zu of %zu verdicts did not come %s\n",
                        sub->n - sub->n_done, sub->n,
                        kafka_stop ? "before the signal" : "in time (--timeout)");
                return EXIT_FAILURE_SYSTEM;
        }
        return sub->all_ac ? 0 : 1;
}

struct submit_opts {
        struct kafka_cli cli;
        const char *lang, *problem, *tests, *id;
        struct job_limits limits;
        const char *topic_jobs, *topic_verdicts, *topic_progress;
        bool wait, json;
        unsigned timeout_s;
};

/* Encodes one job per source into msgs (ids owned by the caller); a source that cannot be read
 * or encoded fails them all, before anything is sent. Returns 0 or EXIT_USAGE. */
static int build_jobs(const struct submit_opts *o, char **sources, size_t n, char **ids,
                      void **msgs, size_t *lens)
{
        struct schema_limits lim;
        struct job tmpl = {0};
        int r = 0;

        schema_limits_default(&lim);
        if (o->tests)
                r = load_tests(o->tests, &lim, &tmpl);
        for (size_t i = 0; i < n && r == 0; i++) {
                struct job job = tmpl; /* the tests are shared, owned by tmpl */

                job.v = SCHEMA_VERSION;
                job.id = ids[i] = o->id ? xstrdup(o->id) : make_id(sources[i]);
                job.lang = (char *)o->lang;
                job.problem = (char *)o->problem;
                job.limits = o->limits;
                job.attempt = 1;
                r = read_file(sources[i], lim.source_max, &job.source, &job.source_len);
                if (r == 0 && (r = schema_job_encode(&job, &msgs[i], &lens[i])) < 0)
                        fprintf(stderr, "gavel submit: '%s': %s\n", sources[i], strerror(-r));
                free(job.source);
        }
        job_done(&tmpl);
        return r < 0 ? EXIT_USAGE : 0;
}

/* Builds and enqueues one job per source; fills sub with their ids. Nothing is sent unless every
 * source could be read; when sending fails part-way, the ids already enqueued are named. */
static int enqueue(const struct submit_opts *o, struct queue_producer *prod, char **sources,
                   size_t n, struct submitted *sub)
{
        char **ids = xcalloc(n, sizeof(*ids));
        void **msgs = xcalloc(n, sizeof(*msgs));
        size_t *lens = xcalloc(n, sizeof(*lens));
        struct gv_err err = {0};
        int status = build_jobs(o, sources, n, ids, msgs, lens), r = 0;

        for (size_t i = 0; i < n && status == 0 && r == 0; i++) {
                r = queue_producer_send(prod, o->topic_jobs, -1, ids[i], strlen(ids[i]), msgs[i],
                                        lens[i], NULL, 0, &err);
                if (r < 0) {
                        fprintf(stderr, "gavel submit: '%s': %s\n", sources[i], err.msg);
                        break;
                }
                sub->ids[sub->n] = steal_pointer(&ids[i]);
                sub->done[sub->n++] = false;
        }
        for (size_t i = 0; i < n; i++) {
                free(ids[i]);
                free(msgs[i]);
        }
        free(ids);
        free(msgs);
        free(lens);
        if (status)
                return status;
        if (r == 0)
                r = queue_producer_flush(prod, 30000, &err);
        if (r < 0) {
                fprintf(stderr, "gavel submit: enqueue: %s\n", err.msg);
                for (size_t i = 0; i < sub->n; i++) /* may still be delivered: say which */
                        fprintf(stderr, "gavel submit: enqueued before the failure: %s\n",
                                sub->ids[i]);
                return EXIT_FAILURE_SYSTEM;
        }
        if (!o->wait)
                for (size_t i = 0; i < sub->n; i++)
                        printf("%s\n", sub->ids[i]);
        return 0;
}

/* Parses the options into o; returns -1 to go on, else the exit status. */
static int submit_parse(int argc, char **argv, struct submit_opts *o)
{
        enum { OPT_TIME = 256, OPT_MEMORY, OPT_TIMEOUT, OPT_JOBS, OPT_VERDICTS, OPT_PROGRESS };
        static const struct option options[] = {
                {"brokers", required_argument, NULL, 'b'},
                {"lang", required_argument, NULL, 'l'},
                {"problem", required_argument, NULL, 'p'},
                {"tests", required_argument, NULL, 'T'},
                {"id", required_argument, NULL, 'i'},
                {"time-ms", required_argument, NULL, OPT_TIME},
                {"memory-kib", required_argument, NULL, OPT_MEMORY},
                {"wait", no_argument, NULL, 'w'},
                {"timeout", required_argument, NULL, OPT_TIMEOUT},
                {"jobs-topic", required_argument, NULL, OPT_JOBS},
                {"verdicts-topic", required_argument, NULL, OPT_VERDICTS},
                {"progress-topic", required_argument, NULL, OPT_PROGRESS},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        uint64_t v;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+b:l:p:T:i:wjX:h", options, NULL)) != -1) {
                switch (c) {
                case 'b':
                        o->cli.brokers = optarg;
                        break;
                case 'l':
                        o->lang = optarg;
                        break;
                case 'p':
                        o->problem = optarg;
                        break;
                case 'T':
                        o->tests = optarg;
                        break;
                case 'i':
                        o->id = optarg;
                        break;
                case OPT_TIME:
                        if (cmd_parse_u64("submit", "--time-ms", optarg, UINT32_MAX, &v) < 0)
                                return EXIT_USAGE;
                        o->limits.time_ms = (uint32_t)v;
                        break;
                case OPT_MEMORY:
                        if (cmd_parse_u64("submit", "--memory-kib", optarg, INT64_MAX, &v) < 0)
                                return EXIT_USAGE;
                        o->limits.memory_kib = v;
                        break;
                case 'w':
                        o->wait = true;
                        break;
                case OPT_TIMEOUT:
                        if (cmd_parse_u64("submit", "--timeout", optarg, 86400, &v) < 0)
                                return EXIT_USAGE;
                        o->timeout_s = (unsigned)v;
                        break;
                case 'j':
                        o->json = true;
                        break;
                case OPT_JOBS:
                        o->topic_jobs = optarg;
                        break;
                case OPT_VERDICTS:
                        o->topic_verdicts = optarg;
                        break;
                case OPT_PROGRESS:
                        o->topic_progress = optarg;
                        break;
                case 'X':
                        if (kafka_cli_prop(&o->cli, "submit", optarg) < 0)
                                return EXIT_USAGE;
                        break;
                case 'h':
                        submit_usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "gavel submit: unknown option or missing value: '%s'\n",
                                argv[optind - 1]);
                        submit_usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (!*o->topic_jobs || !*o->topic_verdicts || !*o->topic_progress ||
            !strcmp(o->topic_verdicts, o->topic_progress)) {
                fprintf(stderr, "gavel submit: topics: expected non-empty names, verdicts and "
                                "progress apart\n");
                return EXIT_USAGE;
        }
        if (!o->lang || !*o->lang) {
                fprintf(stderr, "gavel submit: --lang: missing\n");
                return EXIT_USAGE;
        }
        if (!o->problem == !o->tests) {
                fprintf(stderr, "gavel submit: give exactly one of --problem and --tests\n");
                return EXIT_USAGE;
        }
        if (optind == argc) {
                fprintf(stderr, "gavel submit: no SOURCE file\n");
                return EXIT_USAGE;
        }
        if (argc - optind > SUBMIT_SOURCES_MAX) {
                fprintf(stderr, "gavel submit: more than %d sources\n", SUBMIT_SOURCES_MAX);
                return EXIT_USAGE;
        }
        if (o->id && argc - optind > 1) {
                fprintf(stderr, "gavel submit: --id: only with one SOURCE\n");
                return EXIT_USAGE;
        }
        return -1;
}

int cmd_submit(int argc, char **argv)
{
        struct submit_opts o = {.timeout_s = 300,
                                .topic_jobs = QUEUE_TOPIC_JOBS,
                                .topic_verdicts = QUEUE_TOPIC_VERDICTS,
                                .topic_progress = QUEUE_TOPIC_PROGRESS};
        const char *topics[2];
        struct submitted sub = {.all_ac = true};
        struct queue_producer *prod = NULL;
        struct queue_reader *rd = NULL;
        struct queue_conf conf;
        struct gv_err err = {0};
        int status;

        status = submit_parse(argc, argv, &o);
        if (status >= 0)
                return status;
        if (kafka_cli_conf(&o.cli, "submit", &conf) < 0)
                return EXIT_USAGE;
        kafka_catch_signals();
        topics[0] = o.topic_verdicts;
        topics[1] = o.topic_progress;
        /* read from the current ends before enqueueing, so that no verdict can slip by */
        if (o.wait &&
            queue_reader_new(&conf, topics, ARRAY_SIZE(topics), QUEUE_START_END, &rd, &err) < 0) {
                fprintf(stderr, "gavel submit: %s\n", err.msg);
                return EXIT_FAILURE_SYSTEM;
        }
        if (queue_producer_new(&conf, &prod, &err) < 0) {
                fprintf(stderr, "gavel submit: %s\n", err.msg);
                queue_reader_free(rd);
                return EXIT_FAILURE_SYSTEM;
        }
        sub.ids = xcalloc((size_t)(argc - optind), sizeof(*sub.ids));
        sub.done = xcalloc((size_t)(argc - optind), sizeof(*sub.done));
        status = enqueue(&o, prod, argv + optind, (size_t)(argc - optind), &sub);
        if (status == 0 && o.wait)
                status = wait_verdicts(rd, o.topic_progress, &sub, o.json, o.timeout_s);
        queue_producer_free(prod);
        queue_reader_free(rd);
        for (size_t i = 0; i < sub.n; i++)
                free(sub.ids[i]);
        free(sub.ids);
        free(sub.done);
        return status;
}
