// SPDX-License-Identifier: MIT
/*
 * The host never trusts the container's replies. Each test starts a pool whose containers run
 * evil_init.c, a fake init that speaks the real protocol up to one point and then misbehaves in
 * one way, and checks that the host reports an error naming what went wrong, marks the container
 * broken, has the pool replace it, and keeps no descriptor, process or cgroup of it. A pool with
 * the real init works afterwards in the same process.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/sandbox.h"
#include "tests/integration/sandbox/host_count.h"

enum step {
        AT_CONF, /* the first container's conf: sandbox_pool_new fails */
        AT_PING,
        AT_OPEN,
        AT_EXEC,
};

struct hostile {
        const char *mode;   /* the evil init's mode: the name of its symlink */
        enum step at;       /* the command it misbehaves at */
        const char *expect; /* part of the error message */
        bool not_broken;    /* an error reply the container may send: not an anomaly */
        int code;           /* the error code, when it matters */
        uint32_t wall_ms;   /* of the run; default 5 s */
};

static char links[64]; /* a directory with one symlink to evil_init per mode */

struct counts {
        int fds, procs, cgroups, mounts;
};

static void count(struct counts *c)
{
        c->fds = count_dir("/proc/self/fd");
        c->procs = count_descendants();
        c->cgroups = count_cgroups();
        c->mounts = count_lines("/proc/self/mountinfo");
}

/* The pool and container under test; cleanup() frees what a failed test left. */
static struct sandbox_pool *pool;
static struct sandbox *sb;
static struct counts before;

static void assert_counts(void)
{
        struct counts after;

        count(&after);
        assert_int_equal(after.fds, before.fds);
        assert_int_equal(after.procs, before.procs);
        assert_int_equal(after.cgroups, before.cgroups);
        assert_int_equal(after.mounts, before.mounts);
}

/* Starts a pool of one container running the evil init in mode (NULL: the real init), after
 * counting what the host has. Returns what sandbox_pool_new does. */
static int start(const char *mode, struct gv_err *err)
{
        struct sandbox_conf conf;
        char path[PATH_MAX];

        sandbox_conf_default(&conf);
        conf.pool_size = 1;
        if (mode) {
                snprintf(path, sizeof(path), "%s/%s", links, mode);
                if (symlink(EVIL_INIT, path) < 0 && errno != EEXIST)
                        fail_msg("symlink '%s': %s", path, strerror(errno));
                conf.init_path = path;
                conf.control_timeout_ms = 300; /* the silent modes wait this long */
        }
        count(&before);
        return sandbox_pool_new(&conf, &pool, err);
}

static void acquire(void)
{
        struct gv_err err = {0};
        struct counts now;

        if (sandbox_pool_acquire(pool, 5000, &sb, &err) < 0)
                fail_msg("acquire: %s", err.msg);
        count(&now); /* the counting sees a container: its init, socket and cgroups */
        assert_true(now.procs > before.procs);
        assert_true(now.fds > before.fds);
        assert_true(now.cgroups > before.cgroups);
}

static void release(void)
{
        sandbox_pool_release(pool, sb);
        sb = NULL;
}

/* Frees the pool and checks that nothing of it is left. */
static void stop(void)
{
        sandbox_pool_free(pool);
        pool = NULL;
        assert_counts();
}

static int cleanup(void **state)
{
        (void)state;
        if (sb)
                release();
        sandbox_pool_free(pool);
        pool = NULL;
        return 0;
}

static void assert_error(int r, const struct gv_err *err, const char *expect)
{
        assert_true(r < 0);
        assert_int_equal(err->code, r);
        if (!strstr(err->msg, expect))
                fail_msg("error '%s' does not say '%s'", err->msg, expect);
        for (const char *p = err->msg; *p; p++)
                assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static void wait_replaced(uint64_t anomalies)
{
        struct sandbox_pool_stats st;

        for (int i = 0; i < 500; i++) {
                sandbox_pool_stats(pool, &st);
                if (st.destroyed >= anomalies && st.created >= 1 + anomalies && st.ready == 1)
                        break;
                usleep(10000);
        }
        assert_int_equal(st.anomalies, anomalies);
        assert_int_equal(st.destroyed, anomalies);
        assert_int_equal(st.created, 1 + anomalies); /* the replacement */
        assert_int_equal(st.ready, 1);
        assert_int_equal(st.busy, 0);
}

/* Runs "true" (the evil init only pretends to). */
static int exec_true(uint32_t wall_ms, struct sandbox_result *res, struct gv_err *err)
{
        const char *argv[] = {"true", NULL};
        struct sandbox_run run = {.argv = argv,
                                  .stdin_fd = -1,
                                  .stdout_fd = -1,
                                  .stderr_fd = -1,
                                  .exe_fd = -1,
                                  .policy = PROTO_POLICY_RUN,
                                  .limits = {.time_ms = 1000, .wall_ms = wall_ms ? wall_ms : 5000}};

        return sandbox_exec(sb, &run, res, err);
}

static int step(enum step at, uint32_t wall_ms, struct gv_err *err)
{
        struct sandbox_result res;
        int fd = -1, r;

        switch (at) {
        case AT_PING:
                return sandbox_ping(sb, err);
        case AT_OPEN:
                r = sandbox_open(sb, "/w/in", O_RDONLY, 0, &fd, err);
                if (r == 0)
                        close(fd);
                return r;
        case AT_EXEC:
                r = exec_true(wall_ms, &res, err);
                if (r == 0 && res.status == SANDBOX_ERROR) /* a clear error is as good */
                        return gv_err_set(err, -EIO, "%s", res.error);
                if (r == 0)
                        fail_msg("run accepted: status %s, exit code %d, signal %d, memory %llu",
                                 sandbox_status_name(res.status), res.exit_code, res.signal,
                                 (unsigned long long)res.maxrss_kib);
                return r;
        case AT_CONF:
                break;
        }
        fail_msg("no step %d", (int)at);
        return -EINVAL;
}

static void test_hostile(void **state)
{
        const struct hostile *h = *state;
        struct gv_err err = {0};
        pid_t init;
        int r;

        r = start(h->mode, &err);
        if (h->at == AT_CONF) {
                assert_error(r, &err, h->expect);
                assert_non_null(strstr(err.msg, "configure the container"));
                assert_counts();
                return;
        }
        if (r < 0)
                fail_msg("sandbox_pool_new: %s", err.msg);
        acquire();
        init = sandbox_init_pid(sb);
        r = step(h->at, h->wall_ms, &err);
        assert_error(r, &err, h->expect);
        if (h->code)
                assert_int_equal(r, h->code);
        assert_int_equal(sandbox_broken(sb), !h->not_broken);
        if (!h->not_broken)
                assert_true(sandbox_ping(sb, &err) < 0); /* and it stays so */
        release();
        wait_replaced(h->not_broken ? 0 : 1);
        stop();
        assert_true(kill(init, 0) < 0 && errno == ESRCH); /* killed and reaped */
}

/* A second reply to execve is taken for the reply to the next command, whatever that is: the run
 * may pass, if the second came late, but the container is broken by its next command. */
static void test_second_reply_breaks_the_container(void **state)
{
        struct sandbox_result res;
        struct gv_err err = {0};
        int r;

        (void)state;
        assert_int_equal(start("two_replies", &err), 0);
        acquire();
        r = exec_true(0, &res, &err);
        if (r == 0) /* the second came after the first was taken: the ping gets it */
                r = sandbox_ping(sb, &err);
        assert_true(r < 0);
        if (!strstr(err.msg, "sent a message nobody asked for") &&
            !strstr(err.msg, "finished reply where ok was expected"))
                fail_msg("error '%s' does not say what came", err.msg);
        assert_true(sandbox_broken(sb));
        release();
        wait_replaced(1);
        stop();
}

/* Not hostile, but a race the host must get right: the wall time runs out as the run ends, and
 * the host's kill reaches the init after its finished reply, so the init answers the kill with an
 * error of its own. The host takes that answer; the container is fine. */
static void test_kill_crossing_the_end_of_a_run(void **state)
{
        struct sandbox_result res;
        struct gv_err err = {0};

        (void)state;
        assert_int_equal(start("late_kill", &err), 0);
        acquire();
        if (exec_true(100, &res, &err) < 0)
                fail_msg("sandbox_exec: %s", err.msg);
        assert_int_equal(res.status, SANDBOX_WALL);
        assert_false(sandbox_broken(sb));
        if (sandbox_ping(sb, &err) < 0) /* its reply is its own, not the kill's */
                fail_msg("ping: %s", err.msg);
        release();
        wait_replaced(0);
        stop();
}

/* The pool replaces a container that broke, again and again, and runs on. */
static void test_pool_runs_on_after_broken_containers(void **state)
{
        struct gv_err err = {0};

        (void)state;
        assert_int_equal(start("fin_exit_code", &err), 0);
        for (int i = 0; i < 3; i++) {
                acquire();
                assert_error(step(AT_EXEC, 0, &err), &err, "exit code 100000");
                release();
                wait_replaced((uint64_t)i + 1);
        }
        stop();
}

static void test_real_init_still_works(void **state)
{
        const char *argv[] = {"sh", "-c", "exit 7", NULL};
        struct sandbox_run run = {
                .argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .exe_fd = -1};
        struct sandbox_result res;
        struct gv_err err = {0};

        (void)state;
        if (start(NULL, &err) < 0)
                fail_msg("sandbox_pool_new: %s", err.msg);
        acquire();
        assert_int_equal(sandbox_ping(sb, &err), 0);
        if (sandbox_exec(sb, &run, &res, &err) < 0)
                fail_msg("sandbox_exec: %s", err.msg);
        assert_int_equal(res.status, SANDBOX_NONZERO);
        assert_int_equal(res.exit_code, 7);
        assert_false(sandbox_broken(sb));
        release();
        wait_replaced(0);
        stop();
}

/* The table: one test per way of misbehaving. */
#define HOSTILE(m, step_, text, ...)                                            \
        {                                                                       \
                .name = m, .test_func = test_hostile, .teardown_func = cleanup, \
                .initial_state = (void *)&(const struct hostile){               \
                        .mode = m, .at = step_, .expect = text, __VA_ARGS__},   \
        }

static int setup(void **state)
{
        (void)state;
        snprintf(links, sizeof(links), "/tmp/gavel-evil-%d", (int)getpid());
        return mkdir(links, 0700);
}

static int teardown(void **state)
{
        DIR *d = opendir(links);
        struct dirent *e;
        char path[PATH_MAX];

        (void)state;
        while (d && (e = readdir(d)))
                if (e->d_name[0] != '.') {
                        snprintf(path, sizeof(path), "%s/%s", links, e->d_name);
                        unlink(path);
                }
        if (d)
                closedir(d);
        return rmdir(links);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                /* the reply to conf, while the pool starts */
                HOSTILE("garbage-conf", AT_CONF, "malformed reply"),
                HOSTILE("oversized-conf", AT_CONF, "reply longer than 262144 bytes"),
                HOSTILE("wrongkind-conf", AT_CONF, "pid reply where ok was expected"),
                HOSTILE("silent-conf", AT_CONF, "no reply"),
                HOSTILE("close-conf", AT_CONF, "closed its socket"),
                HOSTILE("fds-conf", AT_CONF, "more descriptors than the 0 expected"),
                /* the same, later: the reply to a ping */
                HOSTILE("garbage-ping", AT_PING, "malformed reply"),
                HOSTILE("oversized-ping", AT_PING, "reply longer than 262144 bytes"),
                HOSTILE("wrongkind-ping", AT_PING, "pid reply where ok was expected"),
                HOSTILE("silent-ping", AT_PING, "no reply"),
                HOSTILE("close-ping", AT_PING, "closed its socket"),
                HOSTILE("fds-ping", AT_PING, "more descriptors than the 0 expected"),
                /* error replies are passed on, but not codes that steer the worker */
                HOSTILE("error_code", AT_PING, "forged?level=error", .not_broken = true,
                        .code = -EIO),
                /* open */
                HOSTILE("open_nofd", AT_OPEN, "ok reply with 0 descriptors (0 announced), not 1"),
                HOSTILE("open_pipe", AT_OPEN, "sent a descriptor that is not a file"),
                HOSTILE("open_error_fds", AT_OPEN, "error reply with 1 descriptor(s)"),
                /* execve: the pid */
                HOSTILE("pid_silent", AT_EXEC, "no reply"),
                HOSTILE("pid_nocred", AT_EXEC, "pid reply names the init itself"),
                HOSTILE("pid_self", AT_EXEC, "pid reply names the init itself"),
                HOSTILE("pid_grandchild", AT_EXEC, "not a child of the init"),
                HOSTILE("fin_before_pid", AT_EXEC, "finished reply where pid was expected"),
                /* execve: how it ended */
                HOSTILE("fin_exit_code", AT_EXEC, "finished: exit code 100000, not 0 to 255"),
                HOSTILE("fin_signal", AT_EXEC, "finished: signal 1000, not 1 to"),
                HOSTILE("fin_killed", AT_EXEC, "finished: killed, but no kill was sent"),
                HOSTILE("fin_memory", AT_EXEC, "finished: peak memory 9223372036854775808 KiB"),
                HOSTILE("fin_cpu_time", AT_EXEC, "finished: cpu time 4611686018427387904+"),
                HOSTILE("fin_wall_time", AT_EXEC, "finished: wall time 4611686018427387904 us"),
                HOSTILE("fin_negative_time", AT_EXEC, "malformed reply: user_us"),
                HOSTILE("fin_status", AT_EXEC, "malformed reply: status"),
                /* execve: during the run */
                HOSTILE("exit_midrun", AT_EXEC, "closed its socket"),
                HOSTILE("silent_midrun", AT_EXEC, "did not end a killed run", .wall_ms = 100),
                cmocka_unit_test_teardown(test_second_reply_breaks_the_container, cleanup),
                cmocka_unit_test_teardown(test_kill_crossing_the_end_of_a_run, cleanup),
                cmocka_unit_test_teardown(test_pool_runs_on_after_broken_containers, cleanup),
                cmocka_unit_test_teardown(test_real_init_still_works, cleanup),
        };

        if (geteuid() != 0) {
                fprintf(stderr, "skip: the container tests need root (namespaces, cgroups)\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, setup, teardown);
}
