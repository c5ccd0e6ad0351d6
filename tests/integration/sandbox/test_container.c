// SPDX-License-Identifier: MIT
/*
 * The container, end to end and for real: namespaces, cgroups, seccomp, limits, reset, and the
 * pool. Each test runs tests/integration/sandbox/prog.c in a mode that does one hostile or broken
 * thing, and checks what the sandbox reports and what is left afterwards.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/sandbox.h"
#include "schema/cleanup.h"
#include "tests/integration/sandbox/host_count.h"

static struct sandbox_pool *pool;
static int prog_fd = -1;

struct out {
        struct sandbox_result res;
        char text[4096]; /* start of stdout */
};

/* Runs prog with the given arguments in sb, stdin from `in`. Asserts the run happened. */
static void run_in(struct sandbox *sb, const struct sandbox_limits *limits,
                   enum proto_policy policy, const char *in, struct out *o, const char *mode, ...)
{
        const char *argv[8] = {"prog", mode};
        struct sandbox_run run = {
                .argv = argv, .stdin_fd = -1, .stderr_fd = -1, .exe_fd = prog_fd, .policy = policy};
        struct gv_err err = {0};
        int out_fd = memfd_create("out", MFD_CLOEXEC), in_fd = -1;
        va_list ap;
        ssize_t n;
        int i = 2, r;

        va_start(ap, mode);
        while (i < 7 && (argv[i] = va_arg(ap, const char *)))
                i++;
        va_end(ap);
        if (limits)
                run.limits = *limits;
        if (!run.limits.time_ms)
                run.limits.time_ms = 5000;
        assert_true(out_fd >= 0);
        if (in) {
                in_fd = memfd_create("in", MFD_CLOEXEC);
                assert_int_equal(write(in_fd, in, strlen(in)), (ssize_t)strlen(in));
                lseek(in_fd, 0, SEEK_SET);
                run.stdin_fd = in_fd;
        }
        run.stdout_fd = out_fd;
        r = sandbox_exec(sb, &run, &o->res, &err);
        if (r < 0)
                fail_msg("sandbox_exec: %s", err.msg);
        if (o->res.status == SANDBOX_ERROR) /* tests expecting it say so; others fail below */
                fprintf(stderr, "run: error: %s\n", o->res.error);
        n = pread(out_fd, o->text, sizeof(o->text) - 1, 0);
        o->text[n > 0 ? n : 0] = '\0';
        close(out_fd);
        if (in_fd >= 0)
                close(in_fd);
}

/* Under valgrind (ops/valgrind-init) a container takes far longer to come up. */
static int acquire_timeout_ms(void)
{
        const char *s = getenv("GAVEL_TEST_ACQUIRE_MS");

        return s ? atoi(s) : 10000;
}

static void run_pooled(const struct sandbox_limits *limits, enum proto_policy policy,
                       const char *in, struct out *o, const char *mode, ...)
{
        const char *args[3] = {NULL};
        struct gv_err err = {0};
        struct sandbox *sb;
        va_list ap;

        va_start(ap, mode);
        for (int i = 0; i < 2 && (args[i] = va_arg(ap, const char *)); i++)
                ;
        va_end(ap);
        if (sandbox_pool_acquire(pool, acquire_timeout_ms(), &sb, &err) < 0)
                fail_msg("acquire: %s", err.msg);
        run_in(sb, limits, policy, in, o, mode, args[0], args[1], NULL);
        sandbox_pool_release(pool, sb);
}

/* run_prog(limits, policy, stdin, out, mode[, arg[, arg]]): in a container from the pool */
#define run_prog(l, p, in, o, ...) run_pooled(l, p, in, o, __VA_ARGS__, NULL)

/* Processes in the pid namespace of the container whose init is init_pid, init excluded. */
static int count_in_container(pid_t init_pid)
{
        char path[300], ns[64], other[64];
        DIR *d = opendir("/proc");
        struct dirent *e;
        ssize_t k;
        int n = 0;

        snprintf(path, sizeof(path), "/proc/%d/ns/pid_for_children", (int)init_pid);
        k = readlink(path, ns, sizeof(ns) - 1);
        assert_true(k > 0);
        ns[k] = '\0';
        while ((e = readdir(d))) {
                if (e->d_name[0] < '1' || e->d_name[0] > '9' || atoi(e->d_name) == init_pid)
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/ns/pid", e->d_name);
                k = readlink(path, other, sizeof(other) - 1);
                if (k <= 0)
                        continue;
                other[k] = '\0';
                if (!strcmp(ns, other))
                        n++;
        }
        closedir(d);
        return n;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_exit_code_and_stdio_pass_through(void **state)
{
        struct out o;

        (void)state;
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "exit", "3");
        assert_int_equal(o.res.status, SANDBOX_NONZERO);
        assert_int_equal(o.res.exit_code, 3);
        run_prog(NULL, PROTO_POLICY_RUN, "hello\nworld\n", &o, "cat", NULL);
        assert_int_equal(o.res.status, SANDBOX_OK);
        assert_string_equal(o.text, "hello\nworld\n");
}

/* The run's uid, from the "whoami" line "UID GID" of o. */
static unsigned long run_uid(const struct out *o)
{
        unsigned long uid = 0, gid = 0;

        assert_int_equal(sscanf(o->text, "%lu %lu", &uid, &gid), 2);
        assert_int_equal(gid, 65534);
        return uid;
}

static void test_runs_as_unprivileged_user(void **state)
{
        struct out o;

        (void)state;
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "whoami", NULL);
        assert_true(run_uid(&o) >= SANDBOX_UID_BASE);
}

/* Per-user budgets (the pipe quota, inotify instances) are the kernel's per uid: two containers
 * in use at once run their programs as two different users. */
static void test_each_container_has_its_own_run_uid(void **state)
{
        struct sandbox *a = NULL, *b = NULL;
        struct gv_err err = {0};
        struct out o;
        unsigned long uid_a, uid_b;

        (void)state;
        if (sandbox_pool_acquire(pool, acquire_timeout_ms(), &a, &err) < 0 ||
            sandbox_pool_acquire(pool, acquire_timeout_ms(), &b, &err) < 0)
                fail_msg("acquire: %s", err.msg);
        run_in(a, NULL, PROTO_POLICY_RUN, NULL, &o, "whoami", NULL);
        uid_a = run_uid(&o);
        run_in(b, NULL, PROTO_POLICY_RUN, NULL, &o, "whoami", NULL);
        uid_b = run_uid(&o);
        sandbox_pool_release(pool, a);
        sandbox_pool_release(pool, b);
        assert_true(uid_a != uid_b);
}

static void test_cpu_limit_is_time(void **state)
{
        struct sandbox_limits l = {.time_ms = 300};
        struct out o;

        (void)state;
        run_prog(&l, PROTO_POLICY_RUN, NULL, &o, "spin", NULL);
        assert_int_equal(o.res.status, SANDBOX_TIME);
        assert_true(o.res.time_ms >= 300);
        assert_true(o.res.time_ms < 700);
}

static void test_sleep_hits_wall_limit(void **state)
{
        struct sandbox_limits l = {.time_ms = 1000, .wall_ms = 300};
        struct out o;

        (void)state;
        run_prog(&l, PROTO_POLICY_RUN, NULL, &o, "sleep", NULL);
        assert_int_equal(o.res.status, SANDBOX_WALL);
        assert_true(o.res.wall_ms >= 300);
        assert_true(o.res.wall_ms < 1500);
        assert_true(o.res.time_ms < 100);
}

static void test_touching_1gib_is_memory_limit(void **state)
{
        struct sandbox_limits l = {.memory_kib = 64 * 1024};
        struct out o;

        (void)state;
        run_prog(&l, PROTO_POLICY_RUN, NULL, &o, "mem", "1024");
        assert_int_equal(o.res.status, SANDBOX_MEMORY);
        assert_true(o.res.memory_kib >= 60 * 1024);
        assert_true(o.res.memory_kib <= 64 * 1024);
}

static void test_peak_memory_is_reported(void **state)
{
        struct sandbox_limits l = {.memory_kib = 256 * 1024};
        struct out o;

        (void)state;
        run_prog(&l, PROTO_POLICY_RUN, NULL, &o, "mem", "64");
        assert_int_equal(o.res.status, SANDBOX_OK);
        assert_true(o.res.memory_kib >= 64 * 1024);
        assert_true(o.res.memory_kib < 72 * 1024);
}

static void test_stack_overflow_is_a_signal(void **state)
{
        struct sandbox_limits l = {.memory_kib = 256 * 1024, .stack_kib = 8 * 1024};
        struct out o;

        (void)state;
        run_prog(&l, PROTO_POLICY_RUN, NULL, &o, "stack", NULL);
        assert_int_equal(o.res.status, SANDBOX_SIGNAL);
        assert_int_equal(o.res.signal, SIGSEGV);
}

/* Runs prog with stdout and stderr into memory files (or out_fd as stdout when >= 0); returns
 * the sizes written. */
static void run_captured(const struct sandbox_limits *l, int out_fd, uint64_t stderr_keep,
                         struct sandbox_result *res, off_t *ret_out, off_t *ret_err,
                         const char *const *argv)
{
        int out = out_fd >= 0 ? out_fd : memfd_create("out", MFD_CLOEXEC),
            errf = memfd_create("err", MFD_CLOEXEC);
        struct sandbox_run run = {.argv = argv,
                                  .stdin_fd = -1,
                                  .stdout_fd = out,
                                  .stderr_fd = errf,
                                  .exe_fd = prog_fd,
                                  .policy = PROTO_POLICY_RUN,
                                  .limits = *l,
                                  .stderr_keep = stderr_keep};
        struct gv_err err = {0};
        struct sandbox *sb;

        assert_true(out >= 0 && errf >= 0);
        assert_int_equal(sandbox_pool_acquire(pool, acquire_timeout_ms(), &sb, &err), 0);
        if (sandbox_exec(sb, &run, res, &err) < 0)
                fail_msg("sandbox_exec: %s", err.msg);
        sandbox_pool_release(pool, sb);
        *ret_out = lseek(out, 0, SEEK_END);
        *ret_err = lseek(errf, 0, SEEK_END);
        if (out_fd < 0)
                close(out);
        close(errf);
}

static void test_output_flood_is_output_limit(void **state)
{
        struct sandbox_limits l = {.time_ms = 5000, .output_kib = 1024};
        struct sandbox_result res;
        off_t out, errs;
        struct out o;

        (void)state;
        run_prog(&l, PROTO_POLICY_RUN, NULL, &o, "flood", NULL);
        assert_int_equal(o.res.status, SANDBOX_OUTPUT);
        /* cut at the limit, to the byte */
        run_captured(&l, -1, 0, &res, &out, &errs, (const char *[]){"prog", "flood", NULL});
        assert_int_equal(res.status, SANDBOX_OUTPUT);
        assert_int_equal(out, 1024 * 1024);
        /* stderr has the same limit, unless only its head is kept */
        run_captured(&l, -1, 0, &res, &out, &errs,
                     (const char *[]){"prog", "write", "2", "3000000", NULL});
        assert_int_equal(res.status, SANDBOX_OUTPUT);
        assert_int_equal(errs, 1024 * 1024);
        run_captured(&l, -1, 1000, &res, &out, &errs,
                     (const char *[]){"prog", "write", "2", "3000000", NULL});
        assert_int_equal(res.status, SANDBOX_OK);
        assert_int_equal(errs, 1000);
        /* exactly the limit is the limit too (as RLIMIT_FSIZE has it for files); one byte less
         * is fine */
        run_captured(&l, -1, 0, &res, &out, &errs,
                     (const char *[]){"prog", "write", "1", "1048576", NULL});
        assert_int_equal(res.status, SANDBOX_OUTPUT);
        run_captured(&l, -1, 0, &res, &out, &errs,
                     (const char *[]){"prog", "write", "1", "1048575", NULL});
        assert_int_equal(res.status, SANDBOX_OK);
        assert_int_equal(out, 1048575);
}

static void test_output_does_not_count_as_memory(void **state)
{
        /* 48 MiB of output under a 32 MiB memory limit: the host holds the output */
        struct sandbox_limits l = {
                .time_ms = 5000, .memory_kib = 32 * 1024, .output_kib = 64 * 1024};
        struct sandbox_result res;
        off_t out, errs;

        (void)state;
        run_captured(&l, -1, 0, &res, &out, &errs,
                     (const char *[]){"prog", "write", "1", "50331648", NULL});
        fprintf(stderr, "48 MiB written: status %s, peak %" PRIu64 " KiB\n",
                sandbox_status_name(res.status), res.memory_kib);
        assert_int_equal(res.status, SANDBOX_OK);
        assert_int_equal(out, 48 << 20);
        assert_true(res.memory_kib < 8 * 1024);
}

static void test_output_into_an_append_only_file_is_copied(void **state)
{
        /* splice refuses O_APPEND files: the capture copies instead */
        char path[] = "/var/tmp/gavel-test-append-XXXXXX";
        struct sandbox_limits l = {.time_ms = 5000, .output_kib = 1024};
        struct sandbox_result res;
        off_t out, errs;
        int fd = mkstemp(path), app;

        (void)state;
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "head\n", 5), 5);
        app = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        unlink(path);
        assert_true(app >= 0);
        run_captured(&l, app, 0, &res, &out, &errs,
                     (const char *[]){"prog", "write", "1", "300000", NULL});
        assert_int_equal(res.status, SANDBOX_OK);
        assert_int_equal(lseek(fd, 0, SEEK_END), 5 + 300000);
        close(app);
        close(fd);
}

static void test_fork_bomb_is_contained(void **state)
{
        struct sandbox_limits l = {.time_ms = 500, .pids = 32};
        struct gv_err err = {0};
        struct sandbox *sb;
        struct out o;

        (void)state;
        assert_int_equal(sandbox_pool_acquire(pool, acquire_timeout_ms(), &sb, &err), 0);
        run_in(sb, &l, PROTO_POLICY_RUN, NULL, &o, "forkbomb", NULL);
        assert_true(o.res.status == SANDBOX_TIME || o.res.status == SANDBOX_WALL);
        assert_int_equal(count_in_container(sandbox_init_pid(sb)), 0);
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "exit", "0", NULL);
        assert_int_equal(o.res.status, SANDBOX_OK);
        sandbox_pool_release(pool, sb);
}

static void test_cpu_of_threads_is_counted(void **state)
{
        struct out o;

        (void)state;
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "threads", "0.3");
        assert_int_equal(o.res.status, SANDBOX_OK);
        assert_true(o.res.time_ms >= 580);
}

static void test_cpu_of_unreaped_children_is_counted(void **state)
{
        struct out o;

        (void)state;
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "children", "0.3");
        assert_int_equal(o.res.status, SANDBOX_OK);
        assert_true(o.res.time_ms >= 880);
}

static void test_orphaned_grandchild_is_gone_after_the_run(void **state)
{
        struct gv_err err = {0};
        struct sandbox *sb;
        struct out o;

        (void)state;
        assert_int_equal(sandbox_pool_acquire(pool, acquire_timeout_ms(), &sb, &err), 0);
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "orphan", NULL);
        assert_int_equal(o.res.status, SANDBOX_OK);
        assert_int_equal(count_in_container(sandbox_init_pid(sb)), 0);
        sandbox_pool_release(pool, sb);
}

static void test_kill_minus_one_does_not_reach_the_host(void **state)
{
        pid_t victim = fork();
        struct out o;
        int status;

        (void)state;
        assert_true(victim >= 0);
        if (victim == 0) { /* the same uid as the programs, on the host */
                if (setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0)
                        pause();
                _exit(1);
        }
        usleep(20000);
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "killall", NULL);
        assert_int_equal(o.res.status, SANDBOX_OK);
        assert_int_equal(waitpid(victim, &status, WNOHANG), 0); /* still alive */
        kill(victim, SIGKILL);
        waitpid(victim, &status, 0);
}

static void test_stopping_its_parent_fails(void **state)
{
        struct gv_err err = {0};
        struct sandbox *sb;
        struct out o;

        (void)state;
        assert_int_equal(sandbox_pool_acquire(pool, acquire_timeout_ms(), &sb, &err), 0);
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "stopparent", NULL);
        assert_string_equal(o.text, "stop -1\n");
        assert_int_equal(sandbox_ping(sb, &err), 0);
        sandbox_pool_release(pool, sb);
}

static void test_host_files_are_invisible(void **state)
{
        char path[PATH_MAX];
        struct out o;

        (void)state;
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "open", "/etc/shadow", "r");
        assert_string_equal(o.text, "No such file or directory\n");
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "open", "/root", "r");
        assert_string_equal(o.text, "No such file or directory\n");
        snprintf(path, sizeof(path), "%s", SANDBOX_PROG);
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "open", path, "r");
        assert_string_equal(o.text, "No such file or directory\n");
}

static void test_masked_proc_entries_read_nothing(void **state)
{
        static const char *const masked[] = {
                "kcore",
                "keys",
                "key-users",
                "timer_list",
                "sched_debug",
                "sysrq-trigger",
                "kallsyms",
                "latency_stats",
                "timer_stats",
                "cmdline",
                "sys/kernel/random/boot_id",
        };
        char path[PATH_MAX];
        struct out o;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(masked); i++) {
                snprintf(path, sizeof(path), "/proc/%s", masked[i]);
                if (access(path, F_OK) < 0)
                        continue; /* this kernel has no such entry: nothing to hide */
                run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "size", path);
                if (strcmp(o.text, "0\n") != 0)
                        fail_msg("%s inside a container: %s", path, o.text);
        }
}

static void test_own_cgroup_is_the_root_of_its_view(void **state)
{
        struct out o;

        (void)state;
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "show", "/proc/self/cgroup");
        assert_true(o.text[0] != '\0');
        for (char *line = strtok(o.text, "\n"); line; line = strtok(NULL, "\n")) {
                char *path = strrchr(line, ':');

                if (!path || strcmp(path, ":/") != 0)
                        fail_msg("/proc/self/cgroup inside a container: %s", line);
        }
}

static void test_system_directories_are_read_only(void **state)
{
        struct out o;

        (void)state;
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "open", "/usr/bin/planted", "w");
        assert_string_equal(o.text, "Read-only file system\n");
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "open", "/planted", "w");
        assert_string_equal(o.text, "Read-only file system\n");
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "open", "/w/ok", "w");
        assert_string_equal(o.text, "ok\n");
}

static void test_there_is_no_network(void **state)
{
        struct out o;

        (void)state;
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "net", NULL);
        assert_string_equal(o.text, "socket Operation not permitted\n");
        run_prog(NULL, PROTO_POLICY_NONE, NULL, &o, "net", NULL);
        assert_string_equal(o.text, "connect Network is unreachable\n");
}

static void test_only_stdio_descriptors_are_inherited(void **state)
{
        struct out o;

        (void)state;
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "fds", NULL);
        assert_string_equal(o.text, "3\n");
}

static void test_reset_leaves_nothing_of_the_last_run(void **state)
{
        struct gv_err err = {0};
        struct sandbox *sb;
        struct out o;

        (void)state;
        assert_int_equal(sandbox_pool_acquire(pool, acquire_timeout_ms(), &sb, &err), 0);
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "plant", NULL);
        assert_string_equal(o.text, "planted\n");
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "fill", NULL);
        assert_string_equal(o.text, "No space left on device\n");
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "count", NULL);
        assert_string_equal(o.text, "2 3\n"); /* link, d; fifo, big, fill */
        assert_int_equal(sandbox_reset(sb, &err), 0);
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "count", NULL);
        assert_string_equal(o.text, "0 0\n");
        sandbox_pool_release(pool, sb);
}

/* SysV shm, message queues, semaphores and POSIX message queues live in the IPC namespace: each
 * run has its own, so what one run leaves the next (another contestant's) never finds, with or
 * without a reset between them. */
static void test_next_run_finds_no_ipc_object_of_the_last(void **state)
{
        struct gv_err err = {0};
        struct sandbox *sb;
        struct out o;

        (void)state;
        assert_int_equal(sandbox_pool_acquire(pool, acquire_timeout_ms(), &sb, &err), 0);
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "ipcplant", NULL);
        assert_string_equal(o.text, "planted\n");
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "ipcfind", NULL);
        assert_string_equal(o.text, "0\n");
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "ipcplant", NULL);
        assert_int_equal(sandbox_reset(sb, &err), 0);
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "ipcfind", NULL);
        assert_string_equal(o.text, "0\n");
        sandbox_pool_release(pool, sb);
}

static void test_open_and_delete_work_inside(void **state)
{
        struct gv_err err = {0};
        struct sandbox *sb;
        struct out o;
        int fd = -1;

        (void)state;
        assert_int_equal(sandbox_pool_acquire(pool, acquire_timeout_ms(), &sb, &err), 0);
        assert_int_equal(
                sandbox_open(sb, "/w/input.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd, &err), 0);
        assert_int_equal(write(fd, "data", 4), 4);
        close(fd);
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "open", "/w/input.txt", "r", NULL);
        assert_string_equal(o.text, "ok\n");
        assert_int_equal(sandbox_delete(sb, "/w/input.txt", &err), 0);
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "open", "/w/input.txt", "r", NULL);
        assert_string_equal(o.text, "No such file or directory\n");
        /* a link planted by a program is never followed by open */
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "plant", NULL);
        assert_int_not_equal(sandbox_open(sb, "/w/link", O_RDONLY, 0, &fd, &err), 0);
        assert_int_equal(sandbox_ping(sb, &err), 0);
        sandbox_pool_release(pool, sb);
}

static void test_missing_program_is_an_error_result(void **state)
{
        static const char *const argv[] = {"/no/such/program", NULL};
        struct sandbox_run run = {
                .argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .exe_fd = -1};
        struct sandbox_result res;
        struct gv_err err = {0};
        struct sandbox *sb;

        (void)state;
        assert_int_equal(sandbox_pool_acquire(pool, acquire_timeout_ms(), &sb, &err), 0);
        assert_int_equal(sandbox_exec(sb, &run, &res, &err), 0);
        assert_int_equal(res.status, SANDBOX_ERROR);
        assert_non_null(strstr(res.error, "No such file"));
        assert_false(sandbox_broken(sb));
        sandbox_pool_release(pool, sb);
}

/* Two pools in one process keep apart: freeing one (which kills what is in its cgroups) must not
 * touch the other's containers. */
static void test_two_pools_do_not_share_cgroups(void **state)
{
        struct sandbox_limits l = {.time_ms = 2000};
        struct sandbox_pool *other;
        struct sandbox_conf conf;
        struct gv_err err = {0};
        struct sandbox *sb, *sb2;
        struct out o;

        (void)state;
        sandbox_conf_default(&conf);
        conf.pool_size = 1;
        assert_int_equal(sandbox_pool_new(&conf, &other, &err), 0);
        assert_int_equal(sandbox_pool_acquire(pool, acquire_timeout_ms(), &sb, &err), 0);
        assert_int_equal(sandbox_pool_acquire(other, acquire_timeout_ms(), &sb2, &err), 0);
        run_in(sb2, &l, PROTO_POLICY_RUN, NULL, &o, "exit", "0", NULL);
        assert_int_equal(o.res.status, SANDBOX_OK);
        sandbox_pool_release(other, sb2);
        sandbox_pool_free(other);
        run_in(sb, &l, PROTO_POLICY_RUN, NULL, &o, "exit", "4", NULL);
        assert_int_equal(o.res.status, SANDBOX_NONZERO);
        assert_int_equal(o.res.exit_code, 4);
        sandbox_pool_release(pool, sb);
}

static void test_container_with_killed_init_is_replaced(void **state)
{
        struct sandbox_pool_stats before, after;
        struct gv_err err = {0};
        struct sandbox *sb;
        struct out o;

        (void)state;
        sandbox_pool_stats(pool, &before);
        assert_int_equal(sandbox_pool_acquire(pool, acquire_timeout_ms(), &sb, &err), 0);
        kill(sandbox_init_pid(sb), SIGKILL);
        usleep(20000);
        assert_int_not_equal(sandbox_ping(sb, &err), 0);
        assert_true(sandbox_broken(sb));
        sandbox_pool_release(pool, sb);
        run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "exit", "0");
        assert_int_equal(o.res.status, SANDBOX_OK);
        for (int i = 0; i < 100; i++) {
                sandbox_pool_stats(pool, &after);
                if (after.anomalies > before.anomalies)
                        break;
                usleep(20000);
        }
        assert_true(after.anomalies > before.anomalies);
}

static int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *cancel_later(void *arg)
{
        usleep(300000);
        atomic_store((atomic_bool *)arg, true);
        return NULL;
}

static void test_cancel_kills_the_run_and_keeps_the_container(void **state)
{
        const char *argv[] = {"prog", "spin", NULL};
        atomic_bool cancel = false;
        struct sandbox_run run = {.argv = argv,
                                  .stdin_fd = -1,
                                  .stdout_fd = -1,
                                  .stderr_fd = -1,
                                  .exe_fd = prog_fd,
                                  .policy = PROTO_POLICY_RUN,
                                  .limits = {.time_ms = 20000},
                                  .cancel = &cancel};
        struct sandbox_result res;
        struct gv_err err = {0};
        struct sandbox *sb;
        pthread_t th;
        int64_t t0, took;
        struct out o;

        (void)state;
        assert_int_equal(sandbox_pool_acquire(pool, acquire_timeout_ms(), &sb, &err), 0);
        assert_int_equal(pthread_create(&th, NULL, cancel_later, &cancel), 0);
        t0 = mono_ms();
        assert_int_equal(sandbox_exec(sb, &run, &res, &err), -ECANCELED);
        took = mono_ms() - t0;
        pthread_join(th, NULL);
        assert_string_equal(err.msg, "cancelled");
        fprintf(stderr, "cancelled after %" PRId64 " ms (set at 300 ms)\n", took);
        assert_true(took >= 300);
        assert_true(took < 300 + 500); /* polled every SANDBOX_CANCEL_MS */
        /* the run is gone, the container is fine and runs the next program */
        assert_false(sandbox_broken(sb));
        assert_int_equal(count_in_container(sandbox_init_pid(sb)), 0);
        assert_int_equal(sandbox_reset(sb, &err), 0);
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "exit", "0", NULL);
        assert_int_equal(o.res.status, SANDBOX_OK);
        /* a flag that stays false changes nothing */
        cancel = false;
        run.argv = (const char *[]){"prog", "exit", "3", NULL};
        assert_int_equal(sandbox_exec(sb, &run, &res, &err), 0);
        assert_int_equal(res.status, SANDBOX_NONZERO);
        sandbox_pool_release(pool, sb);
}

/* A file of n MiB on disk, written, synced and dropped from the page cache, then unlinked: who
 * reads it next brings its pages in, charged to that reader's cgroup. */
static int uncached_file(size_t mib)
{
        char path[] = "/var/tmp/gavel-test-cache-XXXXXX", buf[1 << 16];
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        unlink(path);
        memset(buf, 'x', sizeof(buf));
        for (size_t i = 0; i < mib * 16; i++)
                assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
        assert_int_equal(fsync(fd), 0);
        assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

static void test_memory_left_charged_is_not_the_next_runs(void **state)
{
        const char *argv[] = {"prog", "cat", NULL};
        struct sandbox_run run = {.argv = argv,
                                  .stdout_fd = -1,
                                  .stderr_fd = -1,
                                  .exe_fd = prog_fd,
                                  .policy = PROTO_POLICY_RUN,
                                  .limits = {.time_ms = 5000}};
        struct sandbox_result res;
        struct gv_err err = {0};
        struct sandbox *sb;
        struct out o;

        (void)state;
        run.stdin_fd = uncached_file(32);
        assert_int_equal(sandbox_pool_acquire(pool, acquire_timeout_ms(), &sb, &err), 0);
        assert_int_equal(sandbox_exec(sb, &run, &res, &err), 0);
        assert_int_equal(res.status, SANDBOX_OK);
        /* the file's page cache stays charged to the container's cgroup while the file lives
         * (it stays open to the end), as a compiler's reads do: rustc leaves 245 MiB */
        fprintf(stderr, "reading 32 MiB: peak %" PRIu64 " KiB\n", res.memory_kib);
        assert_true(res.memory_kib >= 16 * 1024);
        assert_int_equal(sandbox_reset(sb, &err), 0);
        run_in(sb, NULL, PROTO_POLICY_RUN, NULL, &o, "exit", "0", NULL);
        fprintf(stderr, "the next run: peak %" PRIu64 " KiB\n", o.res.memory_kib);
        assert_int_equal(o.res.status, SANDBOX_OK);
        assert_true(o.res.memory_kib < 4 * 1024);
        sandbox_pool_release(pool, sb);
        close(run.stdin_fd);
}

static void wait_settled(unsigned size)
{
        struct sandbox_pool_stats st;

        for (int i = 0; i < 250; i++) {
                sandbox_pool_stats(pool, &st);
                if (st.ready == size && st.busy == 0)
                        return;
                usleep(20000);
        }
        fail_msg("the pool did not settle: %u ready", st.ready);
}

static void test_thousand_runs_leak_nothing(void **state)
{
        int procs, fds, mounts, cgroups;
        struct out o;

        (void)state;
        wait_settled(2);
        procs = count_descendants();
        fds = count_dir("/proc/self/fd");
        mounts = count_lines("/proc/self/mountinfo");
        cgroups = count_cgroups();
        assert_true(cgroups >= 2); /* the counting sees the pool's cgroups */
        assert_true(procs >= 2);
        for (int i = 0; i < 1000; i++) {
                run_prog(NULL, PROTO_POLICY_RUN, NULL, &o, "exit", "0");
                assert_int_equal(o.res.status, SANDBOX_OK);
        }
        wait_settled(2);
        assert_int_equal(count_descendants(), procs);
        assert_int_equal(count_dir("/proc/self/fd"), fds);
        assert_int_equal(count_lines("/proc/self/mountinfo"), mounts);
        /* recycled containers (max_uses) got new cgroups; the old ones are gone */
        assert_int_equal(count_cgroups(), cgroups);
}

static int setup(void **state)
{
        struct sandbox_conf conf;
        struct gv_err err = {0};

        (void)state;
        sandbox_conf_default(&conf);
        conf.pool_size = 2;
        conf.max_uses = 300; /* the 1,000-run test recycles containers too */
        conf.tmp_kib = 4096;
        if (getenv("GAVEL_TEST_ACQUIRE_MS")) /* a slow init (valgrind) answers slowly too */
        {
                conf.control_timeout_ms = acquire_timeout_ms();
                conf.exit_grace_ms = 5000; /* so valgrind's leak check runs at its exit */
        }
        if (sandbox_pool_new(&conf, &pool, &err) < 0) {
                fprintf(stderr, "sandbox_pool_new: %s\n", err.msg);
                return -1;
        }
        prog_fd = open(SANDBOX_PROG, O_RDONLY | O_CLOEXEC);
        return prog_fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        sandbox_pool_free(pool);
        close(prog_fd);
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exit_code_and_stdio_pass_through),
                cmocka_unit_test(test_runs_as_unprivileged_user),
                cmocka_unit_test(test_each_container_has_its_own_run_uid),
                cmocka_unit_test(test_cpu_limit_is_time),
                cmocka_unit_test(test_sleep_hits_wall_limit),
                cmocka_unit_test(test_touching_1gib_is_memory_limit),
                cmocka_unit_test(test_peak_memory_is_reported),
                cmocka_unit_test(test_stack_overflow_is_a_signal),
                cmocka_unit_test(test_output_flood_is_output_limit),
                cmocka_unit_test(test_output_does_not_count_as_memory),
                cmocka_unit_test(test_output_into_an_append_only_file_is_copied),
                cmocka_unit_test(test_fork_bomb_is_contained),
                cmocka_unit_test(test_cpu_of_threads_is_counted),
                cmocka_unit_test(test_cpu_of_unreaped_children_is_counted),
                cmocka_unit_test(test_orphaned_grandchild_is_gone_after_the_run),
                cmocka_unit_test(test_kill_minus_one_does_not_reach_the_host),
                cmocka_unit_test(test_stopping_its_parent_fails),
                cmocka_unit_test(test_host_files_are_invisible),
                cmocka_unit_test(test_masked_proc_entries_read_nothing),
                cmocka_unit_test(test_own_cgroup_is_the_root_of_its_view),
                cmocka_unit_test(test_system_directories_are_read_only),
                cmocka_unit_test(test_there_is_no_network),
                cmocka_unit_test(test_only_stdio_descriptors_are_inherited),
                cmocka_unit_test(test_reset_leaves_nothing_of_the_last_run),
                cmocka_unit_test(test_next_run_finds_no_ipc_object_of_the_last),
                cmocka_unit_test(test_open_and_delete_work_inside),
                cmocka_unit_test(test_missing_program_is_an_error_result),
                cmocka_unit_test(test_two_pools_do_not_share_cgroups),
                cmocka_unit_test(test_container_with_killed_init_is_replaced),
                cmocka_unit_test(test_cancel_kills_the_run_and_keeps_the_container),
                cmocka_unit_test(test_memory_left_charged_is_not_the_next_runs),
                cmocka_unit_test(test_thousand_runs_leak_nothing),
        };

        if (geteuid() != 0) {
                fprintf(stderr, "skip: the container tests need root (namespaces, cgroups)\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, setup, teardown);
}
