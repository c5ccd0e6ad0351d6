// SPDX-License-Identifier: MIT
/*
 * gavel bench sandbox: what pre-forking buys, measured in one process with the three cases
 * interleaved so that the machine's noise falls on all of them alike: (a) a bare fork + exec +
 * wait of /bin/true from this process, (b) the same program through a pooled container (acquire,
 * exec with cgroup attach, rlimits and seccomp, release), (c) creating and destroying a
 * container. Prints medians, p95 and the ratios b/a and c/b, and the idle init's RSS.
 *
 * gavel bench judge: how steady and how true the judge's measurements are, through the whole
 * engine with every slot busy: the spread of the cpu time of one fixed 0.5 s workload, its offset
 * from the program's own cpu clock, and the peak memory of a program touching 64 MiB against
 * 64 MiB plus what an empty run of the same program shows.
 *
 * gavel bench audit: what the audit log costs the worker, on a new database under /tmp: the
 * rate of asynchronous job records and the time one takes to queue, then jobs through their
 * whole life one after the other with the latency of the blocking audit_verdicts_pending (one
 * fsync) and the jobs a second that leaves. Medians of five runs, each on a database of its own.
 */
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "schema/cleanup.h"
#include "worker/audit/audit.h"
#include "worker/cmd.h"
#include "worker/judge/judge.h"
#include "worker/judge/lang.h"
#include "worker/setup.h"

extern char **environ;

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted samples, in µs. */
static double pct(const uint64_t *v, size_t n, double p)
{
        size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);

        if (k < 1)
                k = 1;
        if (k > n)
                k = n;
        return (double)v[k - 1] / 1000.0;
}

static double median(const uint64_t *v, size_t n)
{
        return n % 2 ? (double)v[n / 2] / 1000.0 : (double)(v[n / 2 - 1] + v[n / 2]) / 2000.0;
}

static int bare_run(bool vfork_style, uint64_t *ret_ns)
{
        char *const argv[] = {"/bin/true", NULL};
        uint64_t t0 = now_ns();
        int status;
        pid_t pid;

        if (vfork_style) {
                if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) != 0)
                        return -errno;
        } else {
                pid = fork();
                if (pid < 0)
                        return -errno;
                if (pid == 0) {
                        execve("/bin/true", argv, environ);
                        _exit(127);
                }
        }
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -ECHILD;
        *ret_ns = now_ns() - t0;
        return 0;
}

/* /bin/true in a pooled container; with capture, its stdout and stderr go to memory files
 * through the host's pipes, as a judged program's do. */
static int pooled_run(struct sandbox_pool *pool, bool capture, uint64_t *ret_ns,
                      uint64_t *ret_exec_ns, struct gv_err *err)
{
        static const char *const argv[] = {"/bin/true", NULL};
        cleanup_fd int out = capture ? memfd_create("out", MFD_CLOEXEC) : -1;
        cleanup_fd int errs = capture ? memfd_create("err", MFD_CLOEXEC) : -1;
        struct sandbox_run run = {.argv = argv,
                                  .stdin_fd = -1,
                                  .stdout_fd = out,
                                  .stderr_fd = errs,
                                  .exe_fd = -1,
                                  .policy = PROTO_POLICY_RUN,
                                  .limits = {.time_ms = 1000, .memory_kib = 64 * 1024}};
        struct sandbox_result res;
        struct sandbox *sb;
        uint64_t t0 = now_ns(), t1;
        int r = sandbox_pool_acquire(pool, 10000, &sb, err);

        if (r < 0)
                return r;
        t1 = now_ns();
        r = sandbox_exec(sb, &run, &res, err);
        *ret_exec_ns = now_ns() - t1;
        sandbox_pool_release(pool, sb);
        if (r < 0)
                return r;
        if (res.status != SANDBOX_OK)
                return gv_err_set(err, -EIO, "/bin/true in a container: %s %s",
                                  sandbox_status_name(res.status), res.error);
        *ret_ns = now_ns() - t0;
        return 0;
}

static uint64_t rss_kib(pid_t pid)
{
        char path[64], line[256];
        uint64_t kib = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %" SCNu64, &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

struct series {
        const char *name;
        uint64_t *v;
        size_t n;
};

static void print_series(const struct series *s, bool quiet)
{
        qsort(s->v, s->n, sizeof(uint64_t), cmp_u64);
        if (!quiet)
                printf("  %-34s n=%-5zu p50 %8.1f us   p95 %8.1f us\n", s->name, s->n,
                       median(s->v, s->n), pct(s->v, s->n, 95));
}

static void usage(FILE *f)
{
        fprintf(f, "usage: gavel bench sandbox [--runs N] [--json]\n"
                   "  --runs N   runs of the exec cases (default 1000); create+destroy runs N/10\n"
                   "  --json     one JSON object instead of the table\n");
}

static int bench_sandbox(int argc, char **argv)
{
        static const struct option opts[] = {{"runs", required_argument, NULL, 'n'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
        struct series bare = {"(a) bare fork+exec+wait", 0},
                      spawn = {"    bare posix_spawn+wait", 0},
                      pooled = {"(b) pooled container, whole cycle", 0},
                      exec_only = {"    of which sandbox_exec", 0},
                      captured = {"    sandbox_exec, output captured", 0},
                      create = {"(c) container create+destroy", 0};
        struct sandbox_conf conf;
        struct sandbox_pool *pool = NULL;
        struct sandbox_pool_stats stats;
        struct sandbox *sb;
        struct gv_err err = {0};
        size_t runs = 1000, ncreate;
        uint64_t init_rss = 0;
        bool json = false;
        int c, r = 0;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'n': {
                        uint64_t v;

                        if (cmd_parse_u64("bench", "--runs", optarg, 1000000, &v) < 0)
                                return EXIT_USAGE;
                        if (v < 10) {
                                fprintf(stderr, "gavel bench: --runs: 10 to 1000000\n");
                                return EXIT_USAGE;
                        }
                        runs = (size_t)v;
                        break;
                }
                case 'j':
                        json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        ncreate = runs / 10;
        bare.v = xcalloc(runs, sizeof(uint64_t));
        spawn.v = xcalloc(runs, sizeof(uint64_t));
        pooled.v = xcalloc(runs, sizeof(uint64_t));
        exec_only.v = xcalloc(runs, sizeof(uint64_t));
        captured.v = xcalloc(runs, sizeof(uint64_t));
        create.v = xcalloc(ncreate, sizeof(uint64_t));

        sandbox_conf_default(&conf);
        conf.pool_size = 2;
        r = sandbox_pool_new(&conf, &pool, &err);
        if (r < 0)
                goto out;
        /* warm up: fill the pool, fault in the code paths */
        for (int i = 0; i < 20 && r == 0; i++) {
                uint64_t t, e;

                r = pooled_run(pool, i % 2, &t, &e, &err);
                if (r == 0)
                        r = bare_run(false, &t);
        }
        if (r == 0)
                r = sandbox_pool_acquire(pool, 10000, &sb, &err);
        if (r == 0) {
                init_rss = rss_kib(sandbox_init_pid(sb));
                sandbox_pool_release(pool, sb);
        }
        for (size_t i = 0; i < runs && r == 0; i++) {
                r = bare_run(false, &bare.v[bare.n]);
                if (r < 0) {
                        gv_err_errno(&err, r, "fork+exec /bin/true");
                        break;
                }
                bare.n++;
                r = pooled_run(pool, false, &pooled.v[pooled.n], &exec_only.v[exec_only.n], &err);
                if (r < 0)
                        break;
                pooled.n++;
                exec_only.n++;
                {
                        uint64_t whole;

                        r = pooled_run(pool, true, &whole, &captured.v[captured.n], &err);
                        if (r < 0)
                                break;
                        captured.n++;
                }
                r = bare_run(true, &spawn.v[spawn.n]);
                if (r < 0) {
                        gv_err_errno(&err, r, "posix_spawn /bin/true");
                        break;
                }
                spawn.n++;
                if (i % 10 == 9 && create.n < ncreate) {
                        uint64_t t0 = now_ns();

                        r = sandbox_create(pool, &sb, &err);
                        if (r < 0)
                                break;
                        sandbox_destroy(sb);
                        create.v[create.n++] = now_ns() - t0;
                }
        }
        if (r < 0)
                goto out;
        sandbox_pool_stats(pool, &stats);
        print_series(&bare, json);
        print_series(&spawn, json);
        print_series(&pooled, json);
        print_series(&exec_only, json);
        print_series(&captured, json);
        print_series(&create, json);
        {
                double a = median(bare.v, bare.n), b = median(pooled.v, pooled.n),
                       cc = median(create.v, create.n);

                if (json) {
                        printf("{\"runs\":%zu,\"bare_p50_us\":%.1f,\"bare_p95_us\":%.1f,"
                               "\"spawn_p50_us\":%.1f,\"container_p50_us\":%.1f,"
                               "\"container_p95_us\":%.1f,\"exec_p50_us\":%.1f,"
                               "\"exec_captured_p50_us\":%.1f,"
                               "\"create_p50_us\":%.1f,\"create_p95_us\":%.1f,\"ratio\":%.3f,"
                               "\"create_ratio\":%.2f,\"init_rss_kib\":%" PRIu64
                               ",\"cgroup_mode\":\"%s\",\"userns\":%s}\n",
                               runs, a, pct(bare.v, bare.n, 95), median(spawn.v, spawn.n), b,
                               pct(pooled.v, pooled.n, 95), median(exec_only.v, exec_only.n),
                               median(captured.v, captured.n), cc, pct(create.v, create.n, 95),
                               b / a, cc / b, init_rss, stats.cgroup_mode,
                               stats.userns ? "true" : "false");
                } else {
                        printf("ratio b/a (p50)   %.3f\n", b / a);
                        printf("ratio c/b (p50)   %.2f\n", cc / b);
                        printf("init RSS          %" PRIu64 " KiB\n", init_rss);
                        printf("cgroups %s, user namespace %s\n", stats.cgroup_mode,
                               stats.userns ? "yes" : "no");
                }
        }
out:
        sandbox_pool_free(pool);
        free(bare.v);
        free(spawn.v);
        free(pooled.v);
        free(exec_only.v);
        free(captured.v);
        free(create.v);
        if (r < 0) {
                fprintf(stderr, "gavel bench: %s\n", err.msg);
                return EXIT_FAILURE_SYSTEM;
        }
        return 0;
}

/* ---- gavel bench judge ------------------------------------------------------------------ */

/* Reads n, does n additions, prints "ok", and on stderr its own cpu clock in µs. */
static const char spin_src[] =
        "#define _POSIX_C_SOURCE 200809L\n"
        "#include <stdio.h>\n"
        "#include <time.h>\n"
        "int main(void)\n"
        "{\n"
        "        unsigned long long n = 0;\n"
        "        volatile unsigned long long x = 0;\n"
        "        struct timespec t;\n"
        "        if (scanf(\"%llu\", &n) != 1)\n"
        "                return 2;\n"
        "        for (unsigned long long i = 0; i < n; i++)\n"
        "                x += i;\n"
        "        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);\n"
        "        fprintf(stderr, \"%lld\\n\", (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000);\n"
        "        puts(\"ok\");\n"
        "        return 0;\n"
        "}\n";

/* Reads n, touches n bytes, prints "ok". With n = 0 it shows what an empty run costs. */
static const char touch_src[] = "#include <stdio.h>\n"
                                "#include <stdlib.h>\n"
                                "#include <string.h>\n"
                                "int main(void)\n"
                                "{\n"
                                "        size_t n = 0;\n"
                                "        char *p;\n"
                                "        if (scanf(\"%zu\", &n) != 1 || !(p = malloc(n + 1)))\n"
                                "                return 2;\n"
                                "        memset(p, 1, n + 1);\n"
                                "        puts(p[n / 2] == 1 ? \"ok\" : \"no\");\n"
                                "        return 0;\n"
                                "}\n";

#define BENCH_TOUCH_KIB (64 * 1024)

struct sample {
        enum schema_code verdict;
        uint32_t time_ms;
        uint64_t memory_kib;
        double own_ms; /* the program's own cpu clock (from its stderr); < 0: not known */
        char reason[160];
};

struct batch {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        size_t pending;
        struct sample *samples;
};

struct batch_ref {
        struct batch *batch;
        size_t i;
};

static void bench_output(size_t test, int out_fd, const char *err, size_t err_len, void *userdata)
{
        struct batch_ref *ref = userdata;
        char buf[32];

        (void)test;
        (void)out_fd;
        if (err_len == 0 || err_len >= sizeof(buf))
                return;
        memcpy(buf, err, err_len);
        buf[err_len] = '\0';
        ref->batch->samples[ref->i].own_ms = strtod(buf, NULL) / 1000.0;
}

static void bench_done(struct verdict *verdict, bool cancelled, void *userdata)
{
        struct batch_ref *ref = userdata;
        struct sample *s = &ref->batch->samples[ref->i];

        s->verdict = cancelled ? SCHEMA_SE : verdict->verdict;
        if (verdict->n_tests) {
                s->time_ms = verdict->tests[0].time_ms;
                s->memory_kib = verdict->tests[0].memory_kib;
        }
        snprintf(s->reason, sizeof(s->reason), "%s",
                 verdict->reason ? verdict->reason
                 : verdict->n_tests && verdict->tests[0].checker_message
                         ? verdict->tests[0].checker_message
                         : "");
        verdict_done(verdict);
        pthread_mutex_lock(&ref->batch->lock);
        ref->batch->pending--;
        pthread_cond_signal(&ref->batch->cond);
        pthread_mutex_unlock(&ref->batch->lock);
}

/*
 * Judges n copies of src in C, copy i on the one test inputs[i] (answer "ok"), all submitted at
 * once so that every slot stays busy, and fills samples[i]. Fails unless every one is AC.
 */
static int run_batch(struct judge *judge, const char *src, char **inputs, size_t n,
                     struct sample *samples, struct gv_err *err)
{
        struct batch batch = {.pending = 0, .samples = samples};
        struct job *jobs = xcalloc(n, sizeof(*jobs));
        struct batch_ref *refs = xcalloc(n, sizeof(*refs));
        int r = 0;

        pthread_mutex_init(&batch.lock, NULL);
        pthread_cond_init(&batch.cond, NULL);
        for (size_t i = 0; i < n && r == 0; i++) {
                struct judge_request req = {.job = &jobs[i],
                                            .output = bench_output,
                                            .done = bench_done,
                                            .userdata = &refs[i]};
                char id[32];

                snprintf(id, sizeof(id), "bench-%zu", i);
                samples[i] = (struct sample){.own_ms = -1};
                refs[i] = (struct batch_ref){.batch = &batch, .i = i};
                jobs[i] = (struct job){
                        .v = SCHEMA_VERSION,
                        .id = xstrdup(id),
                        .lang = xstrdup("c"),
                        .source = xmemdup(src, strlen(src)),
                        .source_len = strlen(src),
                        .tests = xcalloc(1, sizeof(struct job_test)),
                        .n_tests = 1,
                        .limits = {.time_ms = 5000, .memory_kib = 256 * 1024},
                        .checker = SCHEMA_CHECKER_TOKENS,
                        .attempt = 1,
                };
                jobs[i].tests[0] = (struct job_test){
                        .in = xmemdup(inputs[i], strlen(inputs[i])),
                        .in_len = strlen(inputs[i]),
                        .out = xmemdup("ok\n", 3),
                        .out_len = 3,
                };
                pthread_mutex_lock(&batch.lock);
                batch.pending++;
                pthread_mutex_unlock(&batch.lock);
                r = judge_submit(judge, &req, err);
                if (r < 0) {
                        pthread_mutex_lock(&batch.lock);
                        batch.pending--;
                        pthread_mutex_unlock(&batch.lock);
                }
        }
        pthread_mutex_lock(&batch.lock);
        while (batch.pending > 0)
                pthread_cond_wait(&batch.cond, &batch.lock);
        pthread_mutex_unlock(&batch.lock);
        for (size_t i = 0; i < n; i++) {
                if (r == 0 && jobs[i].id && samples[i].verdict != SCHEMA_AC)
                        r = gv_err_set(err, -EIO, "bench run %zu: %s %s", i,
                                       schema_code_name(samples[i].verdict), samples[i].reason);
                job_done(&jobs[i]);
        }
        free(jobs);
        free(refs);
        pthread_cond_destroy(&batch.cond);
        pthread_mutex_destroy(&batch.lock);
        return r;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

/* Sorts v in place and returns its median. */
static double median_d(double *v, size_t n)
{
        qsort(v, n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

struct judge_figures {
        size_t runs;
        unsigned slots;
        double cpu_median, cpu_mean, cpu_sd, cpu_cv, own_median;
        double offset_median, offset_min, offset_max;
        double touch_median, empty_median, memory_offset;
};

/* The three measurements; fills f. */
static int measure_judge(struct judge *judge, struct judge_figures *f, struct gv_err *err)
{
        size_t runs = f->runs;
        struct sample *s = xcalloc(2 * runs, sizeof(*s));
        char **inputs = xcalloc(2 * runs, sizeof(char *));
        double *v = xcalloc(2 * runs, sizeof(double)), *w = xcalloc(runs, sizeof(double));
        double count = 1e8;
        int r;

        /* calibration: scale the workload to 0.5 s by the program's own clock */
        inputs[0] = xstrdup("100000000");
        r = run_batch(judge, spin_src, inputs, 1, s, err);
        free(inputs[0]);
        if (r == 0 && s[0].own_ms < 5)
                r = gv_err_set(err, -EIO, "calibration: the program reported no cpu time");
        if (r == 0) {
                count = count * 500.0 / s[0].own_ms;
                for (size_t i = 0; i < runs; i++)
                        inputs[i] = xasprintf("%.0f", count);
                r = run_batch(judge, spin_src, inputs, runs, s, err);
                for (size_t i = 0; i < runs; i++)
                        free(inputs[i]);
        }
        if (r == 0) {
                double sum = 0, sq = 0;

                for (size_t i = 0; i < runs; i++) {
                        if (s[i].own_ms <= 0) {
                                r = gv_err_set(err, -EIO, "run %zu: no cpu clock on stderr", i);
                                break;
                        }
                        v[i] = s[i].time_ms;
                        w[i] = s[i].own_ms;
                        sum += v[i];
                }
                f->cpu_mean = sum / (double)runs;
                for (size_t i = 0; i < runs; i++)
                        sq += (v[i] - f->cpu_mean) * (v[i] - f->cpu_mean);
                f->cpu_sd = sqrt(sq / (double)(runs - 1));
                f->cpu_cv = 100.0 * f->cpu_sd / f->cpu_mean;
                f->cpu_median = median_d(v, runs);
                f->own_median = median_d(w, runs);
                for (size_t i = 0; i < runs; i++)
                        v[i] = 100.0 * ((double)s[i].time_ms - s[i].own_ms) / s[i].own_ms;
                f->offset_median = median_d(v, runs);
                f->offset_min = v[0];
                f->offset_max = v[runs - 1];
        }
        if (r == 0) {
                /* touching and empty runs interleaved, so that noise falls on both alike */
                for (size_t i = 0; i < 2 * runs; i++)
                        inputs[i] = xasprintf("%d", i % 2 ? 0 : BENCH_TOUCH_KIB * 1024);
                r = run_batch(judge, touch_src, inputs, 2 * runs, s, err);
                for (size_t i = 0; i < 2 * runs; i++)
                        free(inputs[i]);
        }
        if (r == 0) {
                for (size_t i = 0; i < runs; i++) {
                        v[i] = (double)s[2 * i].memory_kib;
                        w[i] = (double)s[2 * i + 1].memory_kib;
                }
                f->touch_median = median_d(v, runs);
                f->empty_median = median_d(w, runs);
                f->memory_offset = 100.0 * (f->touch_median - f->empty_median - BENCH_TOUCH_KIB) /
                                   BENCH_TOUCH_KIB;
        }
        free(s);
        free(inputs);
        free(v);
        free(w);
        return r;
}

static int bench_judge(int argc, char **argv)
{
        static const struct option opts[] = {{"runs", required_argument, NULL, 'n'},
                                             {"slots", required_argument, NULL, 's'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
        struct judge_figures f = {.runs = 30};
        struct lang_table *langs = NULL;
        struct judge *judge = NULL;
        struct judge_conf conf;
        struct worker_config cfg = {0};
        struct gv_err err = {0};
        char dir[] = "/tmp/gavel-bench-XXXXXX";
        uint64_t v, slots = 0;
        bool json = false, met;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'n':
                        if (cmd_parse_u64("bench", "--runs", optarg, 10000, &v) < 0)
                                return EXIT_USAGE;
                        if (v < 3) {
                                fprintf(stderr, "gavel bench: --runs: at least 3\n");
                                return EXIT_USAGE;
                        }
                        f.runs = v;
                        break;
                case 's':
                        if (cmd_parse_u64("bench", "--slots", optarg, 256, &slots) < 0)
                                return EXIT_USAGE;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        printf("usage: gavel bench judge [--runs N] [--slots K] [--json]\n"
                               "  --runs N   runs of each program (default 30)\n"
                               "  --slots K  judging slots, all kept busy (default: cores)\n"
                               "  --json     one JSON object instead of the table\n"
                               "Exit status 0 when every goal is met, 1 when one is not.\n");
                        return 0;
                default:
                        return EXIT_USAGE;
                }
        }
        if (!mkdtemp(dir)) {
                fprintf(stderr, "gavel bench: mkdtemp: %s\n", strerror(errno));
                return EXIT_FAILURE_SYSTEM;
        }
        r = lang_table_load(NULL, &langs, &err);
        if (r == 0) {
                worker_config_init(&cfg);
                cfg.slots = (unsigned)slots;
                worker_config_set(&cfg.cache_dir, dir);
                setup_judge_conf(&cfg, langs, NULL, &conf);
                r = judge_new(&conf, &judge, &err);
        }
        if (r == 0) {
                f.slots = judge_slots(judge);
                r = measure_judge(judge, &f, &err);
        }
        judge_free(judge);
        lang_table_free(langs);
        worker_config_done(&cfg);
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        if (r < 0) {
                fprintf(stderr, "gavel bench: %s\n", err.msg);
                return EXIT_FAILURE_SYSTEM;
        }
        met = f.cpu_cv <= 2.0 && fabs(f.offset_median) <= 5.0 && fabs(f.memory_offset) <= 5.0;
        if (json) {
                printf("{\"runs\":%zu,\"slots\":%u,\"cpu_median_ms\":%.1f,\"cpu_mean_ms\":%.2f,"
                       "\"cpu_sd_ms\":%.2f,\"cpu_cv_pct\":%.3f,\"own_median_ms\":%.2f,"
                       "\"offset_median_pct\":%.3f,\"offset_min_pct\":%.3f,"
                       "\"offset_max_pct\":%.3f,\"touch_median_kib\":%.0f,"
                       "\"empty_median_kib\":%.0f,\"memory_offset_pct\":%.3f,\"goals_met\":%s}\n",
                       f.runs, f.slots, f.cpu_median, f.cpu_mean, f.cpu_sd, f.cpu_cv, f.own_median,
                       f.offset_median, f.offset_min, f.offset_max, f.touch_median, f.empty_median,
                       f.memory_offset, met ? "true" : "false");
        } else {
                printf("cpu: one fixed workload of about 0.5 s, %zu runs, %u slots busy\n"
                       "  measured (cgroup)  median %.0f ms  mean %.1f  sd %.2f  cv %.2f %%"
                       "   (goal <= 2 %%)\n"
                       "  program's clock    median %.1f ms\n"
                       "  offset             median %+.2f %%  (%+.2f .. %+.2f)"
                       "   (goal within +-5 %%)\n"
                       "memory: %zu runs each\n"
                       "  touching 64 MiB    median %.0f KiB\n"
                       "  empty run          median %.0f KiB\n"
                       "  difference         %.0f KiB = 64 MiB %+.2f %%   (goal within +-5 %%)\n",
                       f.runs, f.slots, f.cpu_median, f.cpu_mean, f.cpu_sd, f.cpu_cv, f.own_median,
                       f.offset_median, f.offset_min, f.offset_max, f.runs, f.touch_median,
                       f.empty_median, f.touch_median - f.empty_median, f.memory_offset);
                printf("goals %s\n", met ? "met" : "NOT met");
        }
        return met ? 0 : 1;
}

/* ---- gavel bench audit ------------------------------------------------------------------ */

#define BENCH_AUDIT_RUNS        5
#define BENCH_AUDIT_RECORDS_PER 20 /* asynchronous records a run, per --jobs */
#define BENCH_AUDIT_TESTS       8

/* The messages the worker would record: a job with a ~1 KiB source and a verdict of 8 tests. */
struct audit_msgs {
        void *job_raw, *verdict_raw;
        size_t job_len, verdict_len;
        struct job job; /* job_raw decoded, as the worker has it */
        struct verdict verdict;
        struct verdict_test tests[BENCH_AUDIT_TESTS];
};

static void audit_msgs_make(struct audit_msgs *m)
{
        char src[1100];
        size_t n = (size_t)snprintf(src, sizeof(src), "#include <stdio.h>\n");
        struct job job = {
                .v = SCHEMA_VERSION,
                .id = (char *)"s-bench-0000001",
                .lang = (char *)"cpp",
                .problem = (char *)"aplusb",
                .limits = {.time_ms = 1000, .memory_kib = 256 * 1024},
                .attempt = 1,
        };

        for (int i = 0; n < 900; i++)
                n += (size_t)snprintf(src + n, sizeof(src) - n,
                                      "static int f%d(int x) { return x * %d + 1; }\n", i, i);
        n += (size_t)snprintf(src + n, sizeof(src) - n,
                              "int main(void) { int a, b; if (scanf(\"%%d %%d\", &a, &b) != 2) "
                              "return 1; printf(\"%%d\\n\", f1(a) + b - 1); return 0; }\n");
        job.source = (uint8_t *)src;
        job.source_len = n;
        memset(m, 0, sizeof(*m));
        /* our own well-formed messages: a failure here is a bug, not an input error */
        if (schema_job_encode(&job, &m->job_raw, &m->job_len) < 0 ||
            schema_job_decode(m->job_raw, m->job_len, NULL, &m->job, NULL) < 0)
                abort();
        for (size_t i = 0; i < BENCH_AUDIT_TESTS; i++)
                m->tests[i] = (struct verdict_test){.verdict = SCHEMA_AC,
                                                    .time_ms = 12 + (uint32_t)i,
                                                    .wall_ms = 15 + (uint32_t)i,
                                                    .memory_kib = 2048 + 64 * i,
                                                    .checker_message = (char *)"ok"};
        m->verdict = (struct verdict){
                .v = SCHEMA_VERSION,
                .id = job.id,
                .verdict = SCHEMA_AC,
                .score = 100,
                .max_score = 100,
                .compile = {.present = true,
                            .ok = true,
                            .log = (char *)"",
                            .time_ms = 300,
                            .memory_kib = 65536},
                .tests = m->tests,
                .n_tests = BENCH_AUDIT_TESTS,
                .time_ms = 19,
                .memory_kib = 2048 + 64 * 7,
                .worker = (char *)"bench",
                .attempt = 1,
        };
        if (schema_verdict_encode(&m->verdict, &m->verdict_raw, &m->verdict_len) < 0)
                abort();
}

static void audit_msgs_done(struct audit_msgs *m)
{
        free(m->job_raw);
        free(m->verdict_raw);
        job_done(&m->job);
}

/* One run's figures. */
struct audit_run {
        double records_per_s, queue_p50_us, queue_p99_us;
        double pending_p50_ms, pending_p95_ms, pending_p99_ms, jobs_per_s;
};

static int audit_run_once(const char *path, const struct audit_msgs *m, size_t jobs,
                          struct audit_run *out, struct gv_err *err)
{
        struct audit_conf conf = {
                .path = path, .worker_id = "bench", .writer = true, .create = true};
        struct audit_origin origin = {.topic = "gavel.jobs", .partition = 0, .key = m->job.id};
        struct audit_verdict av = {
                .verdict = &m->verdict, .raw = m->verdict_raw, .raw_len = m->verdict_len};
        size_t nrec = jobs * BENCH_AUDIT_RECORDS_PER;
        cleanup_free uint64_t *queue = xcalloc(nrec, sizeof(uint64_t));
        cleanup_free uint64_t *pending = xcalloc(jobs, sizeof(uint64_t));
        struct audit *audit = NULL;
        int64_t job_id, verdict_id;
        uint64_t t0, t;
        int r;

        origin.key_len = strlen(m->job.id);
        r = audit_open(&conf, &audit, err);
        if (r < 0)
                return r;

        /* (1) jobs received, as fast as they come; the rate counts until they are on disk */
        t0 = now_ns();
        for (size_t i = 0; i < nrec && r == 0; i++) {
                origin.offset = (int64_t)i;
                t = now_ns();
                r = audit_job_received(audit, m->job_raw, m->job_len, &m->job, &origin, &job_id,
                                       err);
                queue[i] = now_ns() - t;
        }
        if (r == 0)
                r = audit_flush(audit, err);
        if (r == 0) {
                out->records_per_s = (double)nrec * 1e9 / (double)(now_ns() - t0);
                qsort(queue, nrec, sizeof(uint64_t), cmp_u64);
                out->queue_p50_us = median(queue, nrec);
                out->queue_p99_us = pct(queue, nrec, 99);
        }

        /* (2) one job after the other through its whole life, as a worker with one slot */
        t0 = now_ns();
        for (size_t i = 0; i < jobs && r == 0; i++) {
                origin.offset = (int64_t)(nrec + i);
                r = audit_job_received(audit, m->job_raw, m->job_len, &m->job, &origin, &job_id,
                                       err);
                if (r == 0)
                        r = audit_attempt_started(audit, job_id, 1, &av.attempt_id, err);
                if (r == 0)
                        r = audit_attempt_finished(audit, av.attempt_id, AUDIT_ATTEMPT_DONE, NULL,
                                                   &m->verdict, err);
                if (r < 0)
                        break;
                t = now_ns();
                r = audit_verdicts_pending(audit, &av, 1, &verdict_id, err);
                pending[i] = now_ns() - t;
                if (r == 0)
                        r = audit_verdicts_mark(audit, &verdict_id, 1, AUDIT_COMMITTED, err);
        }
        if (r == 0) {
                out->jobs_per_s = (double)jobs * 1e9 / (double)(now_ns() - t0);
                qsort(pending, jobs, sizeof(uint64_t), cmp_u64);
                out->pending_p50_ms = median(pending, jobs) / 1000.0;
                out->pending_p95_ms = pct(pending, jobs, 95) / 1000.0;
                out->pending_p99_ms = pct(pending, jobs, 99) / 1000.0;
                r = audit_flush(audit, err);
        }
        if (r == 0 && !audit_healthy(audit)) {
                audit_last_error(audit, err);
                r = err->code ? err->code : gv_err_set(err, -EIO, "%s: log unhealthy", path);
        }
        audit_free(audit);
        return r;
}

static int bench_audit(int argc, char **argv)
{
        static const struct option opts[] = {{"jobs", required_argument, NULL, 'n'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
        struct audit_run runs[BENCH_AUDIT_RUNS] = {0}, f;
        double v[BENCH_AUDIT_RUNS];
        struct audit_msgs m;
        struct gv_err err = {0};
        char dir[] = "/tmp/gavel-bench-audit-XXXXXX";
        uint64_t jobs = 300;
        bool json = false;
        int c, r = 0;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'n':
                        if (cmd_parse_u64("bench", "--jobs", optarg, 100000, &jobs) < 0)
                                return EXIT_USAGE;
                        if (jobs < 10) {
                                fprintf(stderr, "gavel bench: --jobs: at least 10\n");
                                return EXIT_USAGE;
                        }
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        printf("usage: gavel bench audit [--jobs N] [--json]\n"
                               "  --jobs N   jobs through their whole life in each of the %d runs"
                               " (default 300);\n"
                               "             %d x N asynchronous job records before them\n"
                               "  --json     one JSON object instead of the table\n"
                               "The log is a new database in a directory under /tmp, removed"
                               " afterwards.\n",
                               BENCH_AUDIT_RUNS, BENCH_AUDIT_RECORDS_PER);
                        return 0;
                default:
                        return EXIT_USAGE;
                }
        }
        if (!mkdtemp(dir)) {
                fprintf(stderr, "gavel bench: mkdtemp %s: %s\n", dir, strerror(errno));
                return EXIT_FAILURE_SYSTEM;
        }
        audit_msgs_make(&m);
        for (int i = 0; i < BENCH_AUDIT_RUNS && r == 0; i++) {
                cleanup_free char *path = xasprintf("%s/audit-%d.db", dir, i);

                r = audit_run_once(path, &m, jobs, &runs[i], &err);
        }
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        if (r < 0) {
                audit_msgs_done(&m);
                fprintf(stderr, "gavel bench: %s\n", err.msg);
                return EXIT_FAILURE_SYSTEM;
        }
#define MEDIAN_OF_RUNS(field)                              \
        do {                                               \
                for (int i = 0; i < BENCH_AUDIT_RUNS; i++) \
                        v[i] = runs[i].field;              \
                f.field = median_d(v, BENCH_AUDIT_RUNS);   \
        } while (0)
        MEDIAN_OF_RUNS(records_per_s);
        MEDIAN_OF_RUNS(queue_p50_us);
        MEDIAN_OF_RUNS(queue_p99_us);
        MEDIAN_OF_RUNS(pending_p50_ms);
        MEDIAN_OF_RUNS(pending_p95_ms);
        MEDIAN_OF_RUNS(pending_p99_ms);
        MEDIAN_OF_RUNS(jobs_per_s);
#undef MEDIAN_OF_RUNS
        if (json) {
                printf("{\"runs\":%d,\"jobs\":%" PRIu64 ",\"records\":%" PRIu64
                       ",\"job_bytes\":%zu,\"verdict_bytes\":%zu,\"records_per_s\":%.0f,"
                       "\"record_queue_p50_us\":%.3f,\"record_queue_p99_us\":%.3f,"
                       "\"pending_p50_ms\":%.3f,\"pending_p95_ms\":%.3f,\"pending_p99_ms\":%.3f,"
                       "\"jobs_per_s\":%.0f}\n",
                       BENCH_AUDIT_RUNS, jobs, jobs * BENCH_AUDIT_RECORDS_PER, m.job_len,
                       m.verdict_len, f.records_per_s, f.queue_p50_us, f.queue_p99_us,
                       f.pending_p50_ms, f.pending_p95_ms, f.pending_p99_ms, f.jobs_per_s);
        } else {
                printf("audit log in /tmp: job %zu bytes, verdict of %d tests %zu bytes;"
                       " medians of %d runs\n"
                       "jobs received, %" PRIu64 " a run, recorded asynchronously\n"
                       "  rate, until on disk   %.0f records/s\n"
                       "  one record queued     p50 %.2f us   p99 %.2f us\n"
                       "whole job lives, %" PRIu64 " a run, one after the other\n"
                       "  durable verdict       p50 %.3f ms   p95 %.3f ms   p99 %.3f ms\n"
                       "  throughput            %.0f jobs/s\n",
                       m.job_len, BENCH_AUDIT_TESTS, m.verdict_len, BENCH_AUDIT_RUNS,
                       jobs * BENCH_AUDIT_RECORDS_PER, f.records_per_s, f.queue_p50_us,
                       f.queue_p99_us, jobs, f.pending_p50_ms, f.pending_p95_ms, f.pending_p99_ms,
                       f.jobs_per_s);
        }
        audit_msgs_done(&m);
        return 0;
}

int cmd_bench(int argc, char **argv)
{
        if (argc >= 2 && !strcmp(argv[1], "sandbox"))
                return bench_sandbox(argc - 1, argv + 1);
        if (argc >= 2 && !strcmp(argv[1], "judge"))
                return bench_judge(argc - 1, argv + 1);
        if (argc >= 2 && !strcmp(argv[1], "audit"))
                return bench_audit(argc - 1, argv + 1);
        fprintf(stderr, "usage: gavel bench sandbox [--runs N] [--json]\n"
                        "       gavel bench judge [--runs N] [--slots K] [--json]\n"
                        "       gavel bench audit [--jobs N] [--json]\n");
        return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : EXIT_USAGE;
}
