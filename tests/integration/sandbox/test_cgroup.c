/* SPDX-License-Identifier: MIT */
/*
 * cgroup sets on the real kernel, as root: limits, accounting against the child's rusage, OOM
 * and pids.max, killing a tree with setsid() grandchildren, counter resets between runs, and
 * cleanup that leaves no cgroup behind. Every test runs in the detected mode ("auto") and in
 * forced v1 mode (freezer kill, cpuacct), skipped where v1 is not mounted. Children wait on a
 * pipe until they are attached. Exits 77 when not root or no cgroup hierarchy is mounted.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/cgroup-internal.h"
#include "tests/skip.h"

#define MIB            (1024 * 1024ULL)
#define MAX_CHILDREN   64
#define CGROUPS_ROWS   32
#define REAP_WAIT_MS   5000
#define SETTLE_WAIT_MS 10000

static struct cgroup_mounts mounts; /* this host's, parsed once in main */
static unsigned seq;

struct fixture {
        const char *mode; /* "auto" or "v1" */
        char name[64];    /* base name, unique per test: "gvt-<pid>-<n>" */
        struct cgroup_sys *sys;
        struct cgroup *cg;
        struct gv_err err;
        char root[8400]; /* a GAVEL_CGROUP_ROOT made by the test, removed by teardown */
};

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

        nanosleep(&ts, NULL);
}

static bool v1_available(void)
{
        return mounts.memory.path[0] && mounts.pids.path[0] && mounts.cpuacct.path[0];
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        f->mode = *state;
        if (strcmp(f->mode, "auto") == 0)
                unsetenv("GAVEL_CGROUP_MODE");
        else
                setenv("GAVEL_CGROUP_MODE", f->mode, 1);
        unsetenv("GAVEL_CGROUP_ROOT");
        snprintf(f->name, sizeof(f->name), "gvt-%d-%u", (int)getpid(), seq++);
        *state = f;
        return 0;
}

/* Reaps every child (and orphan: this process is a subreaper) until none is left or ms pass;
 * records up to n pid/status pairs. Returns how many were reaped. */
static int reap_all(unsigned ms, pid_t *pids, int *statuses, int n)
{
        uint64_t deadline = now_ms() + ms;
        int count = 0, status;

        for (;;) {
                pid_t pid = waitpid(-1, &status, WNOHANG);

                if (pid > 0) {
                        if (count < n) {
                                pids[count] = pid;
                                statuses[count] = status;
                        }
                        count++;
                        continue;
                }
                if (pid < 0 || now_ms() >= deadline)
                        return count;
                sleep_ms(1);
        }
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        sandbox__cgroup_free(f->cg); /* kills whatever a failed test left running */
        sandbox__cgroup_sys_free(f->sys);
        reap_all(REAP_WAIT_MS, NULL, NULL, 0);
        if (f->root[0])
                rmdir(f->root);
        unsetenv("GAVEL_CGROUP_MODE");
        unsetenv("GAVEL_CGROUP_ROOT");
        free(f);
        return 0;
}

static void open_set(struct fixture *f)
{
        if (strcmp(f->mode, "v1") == 0 && !v1_available())
                gv_skip(); /* a v2-only host has no v1 memory, pids and cpuacct */
        if (sandbox__cgroup_sys_new(f->name, &f->sys, &f->err) < 0)
                fail_msg("sys_new: %s", f->err.msg);
        if (sandbox__cgroup_new(f->sys, "c0", &f->cg, &f->err) < 0)
                fail_msg("cgroup_new: %s", f->err.msg);
}

/* Forks a child that waits until it is attached, then runs fn(arg) and exits 0. */
static pid_t spawn(struct fixture *f, void (*fn)(void *arg), void *arg)
{
        int go[2];
        pid_t pid;
        char c = 'g';

        assert_int_equal(pipe2(go, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(go[1]);
                if (read(go[0], &c, 1) != 1)
                        _exit(127); /* not attached: the test gave up */
                close(go[0]);
                fn(arg);
                _exit(0);
        }
        close(go[0]);
        if (sandbox__cgroup_attach(f->cg, pid, &f->err) < 0) {
                close(go[1]);
                waitpid(pid, NULL, 0);
                fail_msg("attach: %s", f->err.msg);
        }
        assert_int_equal(write(go[1], &c, 1), 1);
        close(go[1]);
        return pid;
}

/* Reads exactly len bytes, waiting at most ms in all. */
static bool read_timeout(int fd, void *buf, size_t len, unsigned ms)
{
        uint64_t deadline = now_ms() + ms;
        size_t got = 0;

        while (got < len) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                uint64_t now = now_ms();
                ssize_t n;

                if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
                        return false;
                n = read(fd, (char *)buf + got, len - got);
                if (n <= 0)
                        return false;
                got += (size_t)n;
        }
        return true;
}

static uint64_t ns_of(const struct timeval *tv)
{
        return (uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000ULL;
}

/* Burns this process's own cpu time up to ms, mostly in user mode. */
static void burn_ms(unsigned ms)
{
        struct timespec ts;

        do {
                for (volatile unsigned i = 0; i < 200000; i++)
                        ;
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        } while ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 < ms);
}

/* Touches size bytes of fresh anonymous memory, a byte per page. */
__attribute__((no_sanitize("address"))) static void touch(uint64_t size)
{
        volatile char *p =
                mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED)
                _exit(126);
        for (uint64_t i = 0; i < size; i += 4096)
                p[i] = 1;
}

static void report_pid(int fd)
{
        int pid = (int)getpid();

        if (write(fd, &pid, sizeof(pid)) != sizeof(pid))
                _exit(125);
}

/* /proc/cgroups num_cgroups per row, in file order. */
static int cgroups_counts(long *counts, int n)
{
        FILE *fp = fopen("/proc/cgroups", "re");
        char line[256];
        int rows = 0;

        if (!fp)
                return -1;
        while (fgets(line, sizeof(line), fp) && rows < n) {
                char name[64];
                long hier, num, enabled;

                if (line[0] == '#')
                        continue;
                if (sscanf(line, "%63s %ld %ld %ld", name, &hier, &num, &enabled) == 4)
                        counts[rows++] = num;
        }
        fclose(fp);
        return rows;
}

static const char *walk_suffix; /* nftw passes no user data */
static int walk_found;

static int walk_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        size_t n = strlen(path), s = strlen(walk_suffix);

        (void)st;
        (void)ftw;
        if (type == FTW_D && n >= s && strcmp(path + n - s, walk_suffix) == 0)
                walk_found++;
        return 0;
}

/* Directories whose path ends with suffix, in every cgroup hierarchy this host mounts. */
static int count_dirs(const char *suffix)
{
        const struct cgroup_mount *all[] = {&mounts.v2, &mounts.memory, &mounts.pids,
                                            &mounts.cpuacct, &mounts.freezer};

        walk_suffix = suffix;
        walk_found = 0;
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
                if (all[i]->path[0])
                        nftw(all[i]->path, walk_cb, 16, FTW_PHYS);
        return walk_found;
}

/* ---- children ----------------------------------------------------------------------------- */

static void cpu_tree(void *arg)
{
        pid_t pid;

        (void)arg;
        pid = fork();
        if (pid == 0) {
                burn_ms(150);
                _exit(0);
        }
        burn_ms(150);
        waitpid(pid, NULL, 0);
}

static void touch_child(void *arg)
{
        touch(*(uint64_t *)arg);
}

static void touch_and_burn(void *arg)
{
        touch(*(uint64_t *)arg);
        burn_ms(50);
}

/* Every process forks for 300 ms, then waits; the first one goes on until a fork fails, and
 * reports its errno. */
static void fork_bomb(void *arg)
{
        int fd = *(int *)arg, reported = 0;
        pid_t top = getpid();
        uint64_t end = now_ms() + 300;

        while (now_ms() < end || (getpid() == top && !reported)) {
                pid_t pid = fork();

                if (pid < 0 && getpid() == top && !reported) {
                        reported = errno;
                        if (write(fd, &reported, sizeof(reported)) != sizeof(reported))
                                _exit(125);
                }
                if (pid < 0)
                        sched_yield();
        }
        for (;;)
                pause();
}

/* 1 + 3 children + 3 grandchildren in sessions of their own; grandchildren spin, the others
 * wait; each reports its pid once it is in place. */
static void tree(void *arg)
{
        int fd = *(int *)arg;

        for (int i = 0; i < 3; i++) {
                if (fork() == 0) {
                        if (fork() == 0) {
                                setsid();
                                report_pid(fd);
                                for (;;)
                                        ;
                        }
                        report_pid(fd);
                        for (;;)
                                pause();
                }
        }
        report_pid(fd);
        for (;;)
                pause();
}

/* Writes 4 MiB into the tmpfs file arg names and exits: the pages stay charged to the cgroup. */
static void leave_shmem(void *arg)
{
        static char buf[1 << 16];
        int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        memset(buf, 's', sizeof(buf));
        for (int i = 0; fd >= 0 && i < 64; i++)
                if (write(fd, buf, sizeof(buf)) != sizeof(buf))
                        _exit(3);
        _exit(fd >= 0 ? 0 : 2);
}

static void sleep_forever(void *arg)
{
        (void)arg;
        for (;;)
                pause();
}

/* ---- tests -------------------------------------------------------------------------------- */

/* Checks the first line of <mount><own cgroup of ctrl>/<base>/c0/<file>; a missing file passes
 * when optional. */
static void check_file(const struct fixture *f, const char *ctrl, const char *mount,
                       const char *file, const char *want, bool optional)
{
        char text[8192], self[4096], path[8400], got[64] = "";
        size_t n;
        FILE *fp;

        fp = fopen("/proc/self/cgroup", "re");
        assert_non_null(fp);
        n = fread(text, 1, sizeof(text) - 1, fp);
        text[n] = '\0';
        fclose(fp);
        assert_int_equal(sandbox__cgroup_parse_self(text, ctrl, self, sizeof(self)), 0);
        snprintf(path, sizeof(path), "%s%s/%s/c0/%s", mount, strcmp(self, "/") ? self : "", f->name,
                 file);
        fp = fopen(path, "re");
        if (!fp && optional && errno == ENOENT)
                return;
        assert_non_null(fp);
        assert_non_null(fgets(got, sizeof(got), fp));
        fclose(fp);
        got[strcspn(got, "\n")] = '\0';
        if (strcmp(got, want) != 0)
                fail_msg("%s: \"%s\", want \"%s\"", path, got, want);
}

static void check_memory(const struct fixture *f, const char *want)
{
        check_file(f, "memory", mounts.memory.path, "memory.limit_in_bytes", want, false);
        check_file(f, "memory", mounts.memory.path, "memory.memsw.limit_in_bytes", want, true);
}

static void test_set_limits_writes_memory_and_pids_in_either_direction(void **state)
{
        struct fixture *f = *state;

        open_set(f);
        assert_int_equal(sandbox__cgroup_set_limits(f->cg, 64 * MIB, 16, &f->err), 0);
        if (sandbox__cgroup_sys_mode(f->sys) == CGROUP_MODE_V2)
                return; /* the v1 files checked below do not exist */
        check_memory(f, "67108864");
        check_file(f, "pids", mounts.pids.path, "pids.max", "16", false);
        /* memsw must stay >= the limit: it goes first on the way up, last on the way down */
        assert_int_equal(sandbox__cgroup_set_limits(f->cg, 256 * MIB, 32, &f->err), 0);
        check_memory(f, "268435456");
        assert_int_equal(sandbox__cgroup_set_limits(f->cg, 32 * MIB, 32, &f->err), 0);
        check_memory(f, "33554432");
        check_file(f, "pids", mounts.pids.path, "pids.max", "32", false);
        assert_int_equal(sandbox__cgroup_set_limits(f->cg, 0, 0, &f->err), 0);
        check_memory(f, "9223372036854771712"); /* unlimited, page-aligned */
        check_file(f, "pids", mounts.pids.path, "pids.max", "max", false);
        assert_int_equal(sandbox__cgroup_set_limits(f->cg, 48 * MIB, 8, &f->err), 0);
        check_memory(f, "50331648");
}

static void test_cpu_ns_matches_rusage_of_child_and_grandchild(void **state)
{
        struct fixture *f = *state;
        struct cgroup_stats st;
        struct rusage ru;
        uint64_t ru_ns, ru_user, cpu_ns, tol;
        int status;
        pid_t pid;

        open_set(f);
        assert_int_equal(sandbox__cgroup_set_limits(f->cg, 0, 0, &f->err), 0);
        assert_int_equal(sandbox__cgroup_begin(f->cg, &f->err), 0);
        pid = spawn(f, cpu_tree, NULL);
        assert_int_equal(wait4(pid, &status, 0, &ru), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ru_ns = ns_of(&ru.ru_utime) + ns_of(&ru.ru_stime);
        ru_user = ns_of(&ru.ru_utime);
        assert_int_equal(sandbox__cgroup_cpu_ns(f->cg, &cpu_ns), 0);
        assert_int_equal(sandbox__cgroup_stats(f->cg, &st, &f->err), 0);
        print_message("rusage %" PRIu64 " us (user %" PRIu64 "), cgroup %" PRIu64
                      " us (user %" PRIu64 ")\n",
                      ru_ns / 1000, ru_user / 1000, st.cpu_ns / 1000, st.user_ns / 1000);
        assert_true(ru_ns >= 300000000);
        tol = ru_ns * 3 / 100 + 3000000; /* 3 % + 3 ms */
        assert_true(st.cpu_ns + tol >= ru_ns && st.cpu_ns <= ru_ns + tol);
        /* the fast path reads the same counter */
        assert_true(cpu_ns + 1000000 >= st.cpu_ns && cpu_ns <= st.cpu_ns + 1000000);
        /* the user/system split is sampled at ticks on both sides */
        tol = st.cpu_ns * 15 / 100 + 12000000;
        assert_true(st.user_ns <= st.cpu_ns);
        assert_true(st.user_ns + tol >= ru_user && st.user_ns <= ru_user + tol);
        assert_int_equal(st.oom_kills, 0);
        assert_false(st.pids_limited);
}

static void test_memory_peak_is_near_touched_amount(void **state)
{
        struct fixture *f = *state;
        struct cgroup_stats st;
        uint64_t size = 32 * MIB;
        int status;
        pid_t pid;

        open_set(f);
        assert_int_equal(sandbox__cgroup_set_limits(f->cg, 256 * MIB, 0, &f->err), 0);
        assert_int_equal(sandbox__cgroup_begin(f->cg, &f->err), 0);
        pid = spawn(f, touch_child, &size);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(sandbox__cgroup_stats(f->cg, &st, &f->err), 0);
        print_message("peak %" PRIu64 " KiB for %" PRIu64 " KiB touched\n", st.memory_peak / 1024,
                      size / 1024);
        assert_true(st.memory_peak >= size);
        assert_true(st.memory_peak <= size + 12 * MIB);
        assert_int_equal(st.oom_kills, 0);
}

static void test_oom_kill_is_counted_once_for_child_over_memory_limit(void **state)
{
        struct fixture *f = *state;
        struct cgroup_stats st;
        uint64_t size = 128 * MIB;
        int status;
        pid_t pid;

        open_set(f);
        assert_int_equal(sandbox__cgroup_set_limits(f->cg, 64 * MIB, 0, &f->err), 0);
        assert_int_equal(sandbox__cgroup_begin(f->cg, &f->err), 0);
        pid = spawn(f, touch_child, &size);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
        assert_int_equal(sandbox__cgroup_stats(f->cg, &st, &f->err), 0);
        print_message("peak %" PRIu64 " KiB under a 65536 KiB limit\n", st.memory_peak / 1024);
        assert_int_equal(st.oom_kills, 1);
        assert_true(st.memory_peak >= 60 * MIB && st.memory_peak <= 64 * MIB);
}

static void test_pids_max_stops_fork_bomb_with_eagain(void **state)
{
        struct fixture *f = *state;
        struct cgroup_stats st;
        pid_t reaped[MAX_CHILDREN];
        int out[2], status[MAX_CHILDREN], first_errno = 0, n;

        open_set(f);
        assert_int_equal(sandbox__cgroup_set_limits(f->cg, 0, 16, &f->err), 0);
        assert_int_equal(sandbox__cgroup_begin(f->cg, &f->err), 0);
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        spawn(f, fork_bomb, &out[1]);
        close(out[1]);
        assert_true(read_timeout(out[0], &first_errno, sizeof(first_errno), 5000));
        close(out[0]);
        assert_int_equal(first_errno, EAGAIN);
        sleep_ms(400); /* the bomb stops forking after 300 ms */
        assert_int_equal(sandbox__cgroup_ntasks(f->cg), 16);
        assert_int_equal(sandbox__cgroup_stats(f->cg, &st, &f->err), 0);
        assert_true(st.pids_limited);
        assert_int_equal(st.pids_peak, 16); /* first run of the set: known */
        assert_int_equal(sandbox__cgroup_kill(f->cg, &f->err), 0);
        n = reap_all(REAP_WAIT_MS, reaped, status, MAX_CHILDREN);
        assert_int_equal(n, 16);
        for (int i = 0; i < n; i++)
                assert_true(WIFSIGNALED(status[i]) && WTERMSIG(status[i]) == SIGKILL);
        assert_int_equal(sandbox__cgroup_ntasks(f->cg), 0);
}

static void test_kill_kills_tree_with_setsid_grandchildren(void **state)
{
        struct fixture *f = *state;
        pid_t pids[7], reaped[MAX_CHILDREN];
        int out[2], status[MAX_CHILDREN], n;
        uint64_t t0;

        open_set(f);
        assert_int_equal(sandbox__cgroup_set_limits(f->cg, 0, 64, &f->err), 0);
        assert_int_equal(sandbox__cgroup_begin(f->cg, &f->err), 0);
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        spawn(f, tree, &out[1]);
        close(out[1]);
        assert_true(read_timeout(out[0], pids, sizeof(pids), 5000));
        close(out[0]);
        assert_int_equal(sandbox__cgroup_ntasks(f->cg), 7);
        t0 = now_ms();
        if (sandbox__cgroup_kill(f->cg, &f->err) < 0)
                fail_msg("kill: %s", f->err.msg);
        n = reap_all(REAP_WAIT_MS, reaped, status, MAX_CHILDREN);
        print_message("%d reaped %" PRIu64 " ms after the kill\n", n, now_ms() - t0);
        assert_int_equal(n, 7);
        for (int i = 0; i < 7; i++) {
                int j = 0;

                while (j < n && reaped[j] != pids[i])
                        j++;
                if (j == n)
                        fail_msg("pid %d was not reaped", (int)pids[i]);
                assert_true(WIFSIGNALED(status[j]) && WTERMSIG(status[j]) == SIGKILL);
        }
        assert_int_equal(sandbox__cgroup_ntasks(f->cg), 0);
}

static void test_begin_resets_counters_between_runs(void **state)
{
        struct fixture *f = *state;
        struct cgroup_stats st;
        struct rusage ru;
        uint64_t big = 128 * MIB, small = 8 * MIB, cpu_ns, ru_ns;
        int status;
        pid_t pid;

        open_set(f);
        /* run 1: killed over its limit, after 64 MiB and some cpu */
        assert_int_equal(sandbox__cgroup_set_limits(f->cg, 64 * MIB, 16, &f->err), 0);
        assert_int_equal(sandbox__cgroup_begin(f->cg, &f->err), 0);
        pid = spawn(f, touch_and_burn, &big);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_int_equal(sandbox__cgroup_stats(f->cg, &st, &f->err), 0);
        assert_int_equal(st.oom_kills, 1);
        assert_true(st.memory_peak >= 60 * MIB);

        /* run 2 starts from zero */
        assert_int_equal(sandbox__cgroup_set_limits(f->cg, 64 * MIB, 16, &f->err), 0);
        assert_int_equal(sandbox__cgroup_begin(f->cg, &f->err), 0);
        assert_int_equal(sandbox__cgroup_cpu_ns(f->cg, &cpu_ns), 0);
        assert_true(cpu_ns < 1000000);
        pid = spawn(f, touch_and_burn, &small);
        assert_int_equal(wait4(pid, &status, 0, &ru), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(sandbox__cgroup_stats(f->cg, &st, &f->err), 0);
        ru_ns = ns_of(&ru.ru_utime) + ns_of(&ru.ru_stime);
        print_message("run 2: peak %" PRIu64 " KiB, cpu %" PRIu64 " us, rusage %" PRIu64 " us\n",
                      st.memory_peak / 1024, st.cpu_ns / 1000, ru_ns / 1000);
        assert_int_equal(st.oom_kills, 0);
        assert_true(st.memory_peak >= small && st.memory_peak < 24 * MIB);
        assert_true(st.cpu_ns + ru_ns * 3 / 100 + 3000000 >= ru_ns);
        assert_true(st.cpu_ns <= ru_ns + ru_ns * 3 / 100 + 3000000);
        assert_false(st.pids_limited);
        assert_int_equal(st.pids_peak, 0); /* unknown after the first run */
}

static void test_a_failed_remake_leaves_no_limit_believed_written(void **state)
{
        struct fixture *f = *state;
        char shm[64];
        int status;
        pid_t pid, sleeper;

        open_set(f);
        snprintf(shm, sizeof(shm), "/dev/shm/gavel-test-stale-%d", (int)getpid());
        assert_int_equal(sandbox__cgroup_set_limits(f->cg, 64 * MIB, 16, &f->err), 0);
        assert_int_equal(sandbox__cgroup_begin(f->cg, &f->err), 0);
        pid = spawn(f, leave_shmem, shm);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        /* 4 MiB still charged: the next begin makes the set anew, which a task left inside
         * makes fail (rmdir: EBUSY) */
        sleeper = spawn(f, sleep_forever, NULL);
        assert_true(sandbox__cgroup_begin(f->cg, &f->err) < 0);
        print_message("remake failed: %s\n", f->err.msg);
        kill(sleeper, SIGKILL);
        assert_int_equal(waitpid(sleeper, &status, 0), sleeper);
        unlink(shm);
        /* the same limits again must not be taken as already written to a set that is gone */
        assert_true(sandbox__cgroup_set_limits(f->cg, 64 * MIB, 16, &f->err) < 0);
}

static void test_attach_of_exited_pid_fails_naming_cgroup_procs(void **state)
{
        struct fixture *f = *state;
        pid_t pid;

        open_set(f);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        assert_int_equal(sandbox__cgroup_attach(f->cg, pid, &f->err), -ESRCH);
        assert_non_null(strstr(f->err.msg, "cgroup.procs"));
}

static void test_free_kills_leftovers_and_leaves_no_cgroup_behind(void **state)
{
        struct fixture *f = *state;
        long before[CGROUPS_ROWS], after[CGROUPS_ROWS];
        char base[80], leaf[96];
        pid_t pids[7], reaped[MAX_CHILDREN];
        int out[2], status[MAX_CHILDREN], rows, n;
        uint64_t deadline;
        bool settled = false;

        if (strcmp(f->mode, "v1") == 0 && !v1_available())
                gv_skip();
        snprintf(base, sizeof(base), "/%s", f->name);
        snprintf(leaf, sizeof(leaf), "/%s/c0", f->name);
        rows = cgroups_counts(before, CGROUPS_ROWS);
        assert_true(rows > 0);
        open_set(f);
        assert_true(count_dirs(leaf) >= 1);
        assert_int_equal(count_dirs(leaf), count_dirs(base));
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        spawn(f, tree, &out[1]);
        close(out[1]);
        assert_true(read_timeout(out[0], pids, sizeof(pids), 5000));
        close(out[0]);

        sandbox__cgroup_free(f->cg); /* with 7 processes still in it */
        f->cg = NULL;
        n = reap_all(REAP_WAIT_MS, reaped, status, MAX_CHILDREN);
        assert_int_equal(n, 7);
        for (int i = 0; i < n; i++)
                assert_true(WIFSIGNALED(status[i]) && WTERMSIG(status[i]) == SIGKILL);
        assert_int_equal(count_dirs(leaf), 0);
        assert_true(count_dirs(base) >= 1);
        sandbox__cgroup_sys_free(f->sys);
        f->sys = NULL;
        assert_int_equal(count_dirs(base), 0);

        /* removed cgroups may linger as dying ones for a moment */
        deadline = now_ms() + SETTLE_WAIT_MS;
        while (!settled) {
                settled = cgroups_counts(after, CGROUPS_ROWS) == rows;
                for (int i = 0; settled && i < rows; i++)
                        settled = after[i] <= before[i];
                if (settled || now_ms() >= deadline)
                        break;
                sleep_ms(20);
        }
        for (int i = 0; !settled && i < rows; i++)
                print_message("/proc/cgroups row %d: %ld before, %ld after\n", i, before[i],
                              after[i]);
        assert_true(settled);
}

/* A worker killed with SIGKILL cannot remove its cgroups; the next one to start removes them. */
static void test_sys_new_removes_the_cgroups_of_a_dead_worker(void **state)
{
        struct fixture *f = *state;
        char dead[80], leaf[96];
        int status;
        pid_t pid;

        if (strcmp(f->mode, "v1") == 0 && !v1_available())
                gv_skip();
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) { /* a worker that makes its cgroups and dies without cleaning up */
                struct cgroup_sys *sys;
                struct cgroup *cg;
                char name[64];

                snprintf(name, sizeof(name), "gvt-%d-0", (int)getpid());
                _exit(sandbox__cgroup_sys_new(name, &sys, NULL) < 0 ||
                      sandbox__cgroup_new(sys, "c0", &cg, NULL) < 0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        snprintf(dead, sizeof(dead), "/gvt-%d-0", (int)pid);
        snprintf(leaf, sizeof(leaf), "/gvt-%d-0/c0", (int)pid);
        assert_true(count_dirs(leaf) >= 1);

        open_set(f);
        assert_int_equal(count_dirs(leaf), 0);
        assert_int_equal(count_dirs(dead), 0);
        assert_true(count_dirs("/c0") >= 1); /* ours, alive, untouched */
}

static void test_sys_new_forced_v2_works_or_names_missing_controllers(void **state)
{
        struct fixture *f = *state;
        char path[8400], self[4096], have[512] = "";
        const char *rel;
        FILE *fp;
        int r;

        if (!mounts.v2.path[0])
                gv_skip();
        /* what the own v2 cgroup offers */
        fp = fopen("/proc/self/cgroup", "re");
        assert_non_null(fp);
        {
                char text[8192];
                size_t n = fread(text, 1, sizeof(text) - 1, fp);

                text[n] = '\0';
                assert_int_equal(sandbox__cgroup_parse_self(text, "", self, sizeof(self)), 0);
        }
        fclose(fp);
        rel = strcmp(self, "/") == 0 ? "" : self;
        snprintf(path, sizeof(path), "%s%s/cgroup.controllers", mounts.v2.path, rel);
        fp = fopen(path, "re");
        assert_non_null(fp);
        if (!fgets(have, sizeof(have), fp))
                have[0] = '\0';
        fclose(fp);

        setenv("GAVEL_CGROUP_MODE", "v2", 1);
        r = sandbox__cgroup_sys_new(f->name, &f->sys, &f->err);
        if (strstr(have, "memory") && strstr(have, "pids")) {
                if (r < 0)
                        fail_msg("sys_new: %s", f->err.msg);
                assert_int_equal(sandbox__cgroup_sys_mode(f->sys), CGROUP_MODE_V2);
                return;
        }
        print_message("%s\n", f->err.msg);
        assert_int_equal(r, -EOPNOTSUPP);
        assert_null(f->sys);
        assert_non_null(strstr(f->err.msg, "memory"));
        assert_non_null(strstr(f->err.msg, "pids"));
        assert_non_null(strstr(f->err.msg, "cgroup.controllers"));
        snprintf(path, sizeof(path), "/%s", f->name);
        assert_int_equal(count_dirs(path), 0); /* nothing made on the way */
}

static bool is_dir(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_cgroup_root_env_puts_v2_base_under_it(void **state)
{
        struct fixture *f = *state;
        char text[8192], self[4096], path[8600];
        enum cgroup_mode mode;
        size_t n;
        FILE *fp;

        /* on a v2-only host the delegated root would need +memory +pids from its parent */
        if (sandbox__cgroup_detect_mode(&mounts, NULL, &mode, &f->err) < 0 ||
            mode != CGROUP_MODE_HYBRID)
                gv_skip();
        fp = fopen("/proc/self/cgroup", "re");
        assert_non_null(fp);
        n = fread(text, 1, sizeof(text) - 1, fp);
        text[n] = '\0';
        fclose(fp);
        assert_int_equal(sandbox__cgroup_parse_self(text, "", self, sizeof(self)), 0);
        snprintf(f->root, sizeof(f->root), "%s%s/%s-root", mounts.v2.path,
                 strcmp(self, "/") ? self : "", f->name);
        assert_int_equal(mkdir(f->root, 0755), 0);
        snprintf(path, sizeof(path), "%s/", f->root); /* a trailing slash is fine */
        setenv("GAVEL_CGROUP_ROOT", path, 1);

        open_set(f);
        snprintf(path, sizeof(path), "%s/%s/c0", f->root, f->name);
        assert_true(is_dir(path));
        sandbox__cgroup_free(f->cg);
        f->cg = NULL;
        assert_false(is_dir(path));
        sandbox__cgroup_sys_free(f->sys);
        f->sys = NULL;
        snprintf(path, sizeof(path), "%s/%s", f->root, f->name);
        assert_false(is_dir(path));
}

static void test_sys_new_rejects_name_with_slash(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(sandbox__cgroup_sys_new("a/b", &f->sys, &f->err), -EINVAL);
        assert_null(f->sys);
}

#define T(fn, mode)                                               \
        {                                                         \
#fn "/" mode, fn, setup, teardown, (void *)(mode) \
        }

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_set_limits_writes_memory_and_pids_in_either_direction, "auto"),
                T(test_set_limits_writes_memory_and_pids_in_either_direction, "v1"),
                T(test_cpu_ns_matches_rusage_of_child_and_grandchild, "auto"),
                T(test_cpu_ns_matches_rusage_of_child_and_grandchild, "v1"),
                T(test_memory_peak_is_near_touched_amount, "auto"),
                T(test_memory_peak_is_near_touched_amount, "v1"),
                T(test_oom_kill_is_counted_once_for_child_over_memory_limit, "auto"),
                T(test_oom_kill_is_counted_once_for_child_over_memory_limit, "v1"),
                T(test_pids_max_stops_fork_bomb_with_eagain, "auto"),
                T(test_pids_max_stops_fork_bomb_with_eagain, "v1"),
                T(test_kill_kills_tree_with_setsid_grandchildren, "auto"),
                T(test_kill_kills_tree_with_setsid_grandchildren, "v1"),
                T(test_begin_resets_counters_between_runs, "auto"),
                T(test_begin_resets_counters_between_runs, "v1"),
                T(test_attach_of_exited_pid_fails_naming_cgroup_procs, "auto"),
                T(test_a_failed_remake_leaves_no_limit_believed_written, "auto"),
                T(test_free_kills_leftovers_and_leaves_no_cgroup_behind, "auto"),
                T(test_free_kills_leftovers_and_leaves_no_cgroup_behind, "v1"),
                T(test_sys_new_removes_the_cgroups_of_a_dead_worker, "auto"),
                T(test_sys_new_removes_the_cgroups_of_a_dead_worker, "v1"),
                T(test_sys_new_forced_v2_works_or_names_missing_controllers, "auto"),
                T(test_cgroup_root_env_puts_v2_base_under_it, "auto"),
                T(test_sys_new_rejects_name_with_slash, "auto"),
        };
        static char text[4 << 20];
        enum cgroup_mode mode;
        struct gv_err err = {0};
        size_t n;
        FILE *fp;

        if (geteuid() != 0) {
                fprintf(stderr, "test_cgroup: skipped: needs root to create cgroups\n");
                return 77;
        }
        fp = fopen("/proc/self/mountinfo", "re");
        if (!fp) {
                perror("/proc/self/mountinfo");
                return 1;
        }
        n = fread(text, 1, sizeof(text) - 1, fp);
        text[n] = '\0';
        fclose(fp);
        if (sandbox__cgroup_parse_mountinfo(text, &mounts, &err) < 0) {
                fprintf(stderr, "test_cgroup: %s\n", err.msg);
                return 1;
        }
        if (sandbox__cgroup_detect_mode(&mounts, NULL, &mode, &err) == -ENOENT) {
                fprintf(stderr, "test_cgroup: skipped: %s\n", err.msg);
                return 77;
        }
        /* orphans of killed children come back here to be reaped */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
                perror("PR_SET_CHILD_SUBREAPER");
                return 1;
        }
        return gv_run_group(tests, NULL, NULL);
}
