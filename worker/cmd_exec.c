// SPDX-License-Identifier: MIT
/*
 * gavel exec: runs one program in a pooled container, like `isolate --run`, and reports how it
 * ended and what it used. The program's stdout and stderr are captured in memory files (so the
 * output limit holds whatever the caller's stdout is) and copied out after the run.
 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "schema/cleanup.h"
#include "worker/cmd.h"
#include "worker/util/fileio.h"

static void usage(FILE *f)
{
        fprintf(f, "usage: gavel exec [OPTIONS] -- PROGRAM [ARGS...]\n"
                   "Runs PROGRAM in a container from the pool and reports status, exit code,\n"
                   "signal, cpu ms, wall ms and peak memory KiB (on stderr; --json: on stdout).\n\n"
                   "  --time-ms N      cpu time limit, all processes and threads (default none)\n"
                   "  --wall-ms N      wall-clock limit (default 2 * time + 1000, or 10000)\n"
                   "  --memory-mib N   memory limit (default none)\n"
                   "  --output-kib N   limit on any file written, stdout included (default 65536)\n"
                   "  --pids N         processes and threads at once (default 64)\n"
                   "  --policy P       seccomp policy: run (default), compile, none\n"
                   "  --stdin FILE     default: this process's stdin\n"
                   "  --stdout FILE    default: copied to this stdout (to stderr with --json)\n"
                   "  --stderr FILE    default: copied to this stderr\n"
                   "  --json           one JSON object: status exit_code signal time_ms wall_ms\n"
                   "                   memory_kib\n\n"
                   "Exit status: 0 the program ran and exited 0; 1 it ran and did not (see\n"
                   "status); 2 usage; 3 the sandbox failed.\n");
}

static int open_capture(const char *path, const char *name, bool out)
{
        int fd = path ? open(path,
                             out ? O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDONLY | O_CLOEXEC,
                             0644)
                      : memfd_create(name, MFD_CLOEXEC);

        if (fd < 0)
                fprintf(stderr, "gavel exec: %s '%s': %s\n", out ? "create" : "open",
                        path ? path : name, strerror(errno));
        return fd;
}

int cmd_exec(int argc, char **argv)
{
        static const struct option opts[] = {
                {"time-ms", required_argument, NULL, 't'},
                {"wall-ms", required_argument, NULL, 'w'},
                {"memory-mib", required_argument, NULL, 'm'},
                {"output-kib", required_argument, NULL, 'o'},
                {"pids", required_argument, NULL, 'p'},
                {"policy", required_argument, NULL, 'P'},
                {"stdin", required_argument, NULL, 'i'},
                {"stdout", required_argument, NULL, 'O'},
                {"stderr", required_argument, NULL, 'E'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        const char *in_path = NULL, *out_path = NULL, *err_path = NULL;
        struct sandbox_run run = {.exe_fd = -1, .policy = PROTO_POLICY_RUN};
        struct sandbox_conf conf;
        struct sandbox_pool *pool = NULL;
        struct sandbox *sb = NULL;
        struct sandbox_result res;
        struct gv_err err = {0};
        cleanup_fd int in_fd = -1;
        cleanup_fd int out_fd = -1;
        cleanup_fd int err_fd = -1;
        bool json = false;
        uint64_t v;
        int c, r;

        run.limits.output_kib = 65536;
        optind = 1;
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
                switch (c) {
                case 't':
                case 'w':
                case 'p':
                        if (cmd_parse_u64("exec", argv[optind - 2], optarg, UINT32_MAX, &v) < 0)
                                return EXIT_USAGE;
                        if (c == 't')
                                run.limits.time_ms = (uint32_t)v;
                        else if (c == 'w')
                                run.limits.wall_ms = (uint32_t)v;
                        else
                                run.limits.pids = (uint32_t)v;
                        break;
                case 'm':
                        if (cmd_parse_u64("exec", "--memory-mib", optarg, UINT64_MAX / 1024, &v) <
                            0)
                                return EXIT_USAGE;
                        run.limits.memory_kib = v * 1024;
                        break;
                case 'o':
                        if (cmd_parse_u64("exec", "--output-kib", optarg, UINT64_MAX / 1024, &v) <
                            0)
                                return EXIT_USAGE;
                        run.limits.output_kib = v;
                        break;
                case 'P':
                        run.policy = proto_policy_from_name(optarg);
                        if (run.policy < 0) {
                                fprintf(stderr, "gavel exec: --policy: unknown policy '%s'\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'i':
                        in_path = optarg;
                        break;
                case 'O':
                        out_path = optarg;
                        break;
                case 'E':
                        err_path = optarg;
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
        if (optind >= argc) {
                fprintf(stderr, "gavel exec: no program given\n");
                usage(stderr);
                return EXIT_USAGE;
        }
        run.argv = (const char *const *)argv + optind;
        if (in_path) {
                in_fd = open_capture(in_path, "stdin", false);
                if (in_fd < 0)
                        return EXIT_USAGE;
        }
        out_fd = open_capture(out_path, "stdout", true);
        err_fd = open_capture(err_path, "stderr", true);
        if (out_fd < 0 || err_fd < 0)
                return EXIT_USAGE;
        run.stdin_fd = in_path ? in_fd : STDIN_FILENO;
        run.stdout_fd = out_fd;
        run.stderr_fd = err_fd;

        sandbox_conf_default(&conf);
        conf.pool_size = 1;
        r = sandbox_pool_new(&conf, &pool, &err);
        if (r == 0)
                r = sandbox_pool_acquire(pool, 10000, &sb, &err);
        if (r == 0)
                r = sandbox_exec(sb, &run, &res, &err);
        if (sb)
                sandbox_pool_release(pool, sb);
        sandbox_pool_free(pool);
        if (r < 0) {
                fprintf(stderr, "gavel exec: %s\n", err.msg);
                return EXIT_FAILURE_SYSTEM;
        }
        if (!out_path)
                (void)fileio_copy(json ? STDERR_FILENO : STDOUT_FILENO, out_fd, NULL, NULL);
        if (!err_path)
                (void)fileio_copy(STDERR_FILENO, err_fd, NULL, NULL);
        if (json) {
                printf("{\"status\":\"%s\",\"exit_code\":%d,\"signal\":%d,\"time_ms\":%" PRIu32
                       ",\"wall_ms\":%" PRIu32 ",\"memory_kib\":%" PRIu64,
                       sandbox_status_name(res.status), res.exit_code, res.signal, res.time_ms,
                       res.wall_ms, res.memory_kib);
                if (res.status == SANDBOX_ERROR) {
                        printf(",\"error\":\"");
                        for (const char *p = res.error; *p; p++) {
                                if (*p == '"' || *p == '\\')
                                        putchar('\\');
                                putchar((unsigned char)*p < 0x20 ? '?' : *p);
                        }
                        printf("\"");
                }
                printf("}\n");
        } else {
                fprintf(stderr,
                        "status %s\nexit_code %d\nsignal %d\ntime_ms %" PRIu32 "\nwall_ms %" PRIu32
                        "\nmemory_kib %" PRIu64 "\n",
                        sandbox_status_name(res.status), res.exit_code, res.signal, res.time_ms,
                        res.wall_ms, res.memory_kib);
                if (res.status == SANDBOX_ERROR)
                        fprintf(stderr, "error %s\n", res.error);
        }
        return res.status == SANDBOX_OK ? 0 : 1;
}
