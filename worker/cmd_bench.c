// SPDX-License-Identifier: MIT
/*
 * gavel bench sandbox: what pre-forking buys, measured in one process with the three cases
 * interleaved so that the machine's noise falls on all of them alike: (a) a bare fork + exec +
 * wait of /bin/true from this process, (b) the same program through a pooled container (acquire,
 * exec with cgroup attach, rlimits and seccomp, release), (c) creating and destroying a
 * container. Prints medians, p95 and the ratios b/a and c/b, and the idle init's RSS.
 */
#include <getopt.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "schema/cleanup.h"
#include "worker/cmd.h"

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

static int pooled_run(struct sandbox_pool *pool, uint64_t *ret_ns, uint64_t *ret_exec_ns,
                      struct gv_err *err)
{
        static const char *const argv[] = {"/bin/true", NULL};
        struct sandbox_run run = {.argv = argv,
                                  .stdin_fd = -1,
                                  .stdout_fd = -1,
                                  .stderr_fd = -1,
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
                case 'n':
                        runs = strtoul(optarg, NULL, 10);
                        if (runs < 10 || runs > 1000000) {
                                fprintf(stderr, "gavel bench: --runs: 10 to 1000000\n");
                                return EXIT_USAGE;
                        }
                        break;
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
        create.v = xcalloc(ncreate, sizeof(uint64_t));

        sandbox_conf_default(&conf);
        conf.pool_size = 2;
        r = sandbox_pool_new(&conf, &pool, &err);
        if (r < 0)
                goto out;
        /* warm up: fill the pool, fault in the code paths */
        for (int i = 0; i < 20 && r == 0; i++) {
                uint64_t t, e;

                r = pooled_run(pool, &t, &e, &err);
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
                r = pooled_run(pool, &pooled.v[pooled.n], &exec_only.v[exec_only.n], &err);
                if (r < 0)
                        break;
                pooled.n++;
                exec_only.n++;
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
        print_series(&create, json);
        {
                double a = median(bare.v, bare.n), b = median(pooled.v, pooled.n),
                       cc = median(create.v, create.n);

                if (json) {
                        printf("{\"runs\":%zu,\"bare_p50_us\":%.1f,\"bare_p95_us\":%.1f,"
                               "\"spawn_p50_us\":%.1f,\"container_p50_us\":%.1f,"
                               "\"container_p95_us\":%.1f,\"exec_p50_us\":%.1f,"
                               "\"create_p50_us\":%.1f,\"create_p95_us\":%.1f,\"ratio\":%.3f,"
                               "\"create_ratio\":%.2f,\"init_rss_kib\":%" PRIu64
                               ",\"cgroup_mode\":\"%s\",\"userns\":%s}\n",
                               runs, a, pct(bare.v, bare.n, 95), median(spawn.v, spawn.n), b,
                               pct(pooled.v, pooled.n, 95), median(exec_only.v, exec_only.n), cc,
                               pct(create.v, create.n, 95), b / a, cc / b, init_rss,
                               stats.cgroup_mode, stats.userns ? "true" : "false");
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
        free(create.v);
        if (r < 0) {
                fprintf(stderr, "gavel bench: %s\n", err.msg);
                return EXIT_FAILURE_SYSTEM;
        }
        return 0;
}

int cmd_bench(int argc, char **argv)
{
        if (argc >= 2 && !strcmp(argv[1], "sandbox"))
                return bench_sandbox(argc - 1, argv + 1);
        fprintf(stderr, "usage: gavel bench sandbox [--runs N] [--json]\n");
        return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : EXIT_USAGE;
}
