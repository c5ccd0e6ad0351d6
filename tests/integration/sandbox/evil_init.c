// SPDX-License-Identifier: MIT
/*
 * A hostile container init for tests/integration/sandbox/test_hostile_init.c. It speaks the real
 * protocol (schema/ and the real transport) and behaves until one chosen point, where it does
 * one thing a compromised or buggy init might do. The host executes every init with the same
 * fixed argv and an empty environment, so the mode is the name the host executed it by: the test
 * points init_path at a symlink named after the mode, and getauxval(AT_EXECFN) reads that name.
 * Built static and without sanitizers, like the real init.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "sandbox/transport.h"
#include "schema/proto.h"
#include "schema/schema.h"

#define SOCK 3

static const char *mode = "";
static uint8_t msgbuf[PROTO_MSG_MAX];

static bool is(const char *m)
{
        return strcmp(mode, m) == 0;
}

/* ---- sending ---------------------------------------------------------------------------- */

static void send_or_die(const void *buf, size_t len, const int *fds, size_t nfds, pid_t pid)
{
        if (sandbox__send(SOCK, buf, len, fds, nfds, pid) < 0)
                _exit(3);
}

static void reply(const struct proto_reply *r, const int *fds, size_t nfds, pid_t pid)
{
        uint8_t buf[8192];
        int n = schema_proto_reply_encode(r, buf, sizeof(buf));

        if (n < 0)
                _exit(4);
        send_or_die(buf, (size_t)n, fds, nfds, pid);
}

static void reply_kind(enum proto_reply_kind kind)
{
        struct proto_reply r = {.kind = kind};

        reply(&r, NULL, 0, 0);
}

/* Starts a reply by hand, for what the schema encoder would refuse: a map of n_keys keys, the
 * first two v and kind. */
static void start_raw(msgpack_sbuffer *sb, msgpack_packer *pk, uint32_t n_keys, const char *kind)
{
        msgpack_sbuffer_init(sb);
        msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
        msgpack_pack_map(pk, n_keys);
        msgpack_pack_str_with_body(pk, "v", 1);
        msgpack_pack_int(pk, SCHEMA_VERSION);
        msgpack_pack_str_with_body(pk, "kind", 4);
        msgpack_pack_str_with_body(pk, kind, strlen(kind));
}

/* A finished reply with a status of any name and, unless value_key is NULL, any integer. */
static void reply_raw_finished(const char *status, const char *value_key, int64_t value)
{
        msgpack_sbuffer sb;
        msgpack_packer pk;

        start_raw(&sb, &pk, value_key ? 4 : 3, "finished");
        msgpack_pack_str_with_body(&pk, "status", 6);
        msgpack_pack_str_with_body(&pk, status, strlen(status));
        if (value_key) {
                msgpack_pack_str_with_body(&pk, value_key, strlen(value_key));
                msgpack_pack_int64(&pk, value);
        }
        send_or_die(sb.data, sb.size, NULL, 0, 0);
        msgpack_sbuffer_destroy(&sb);
}

/* One byte more than the host may receive, of which the first PROTO_MSG_MAX are a complete,
 * valid ok reply: a host that ignored the truncation would take it. */
static void reply_oversized(void)
{
        static const uint8_t pad[PROTO_MSG_MAX];
        int size = 4 * PROTO_MSG_MAX;
        msgpack_sbuffer sb;
        msgpack_packer pk;

        start_raw(&sb, &pk, 3, "ok");
        msgpack_pack_str_with_body(&pk, "pad", 3);
        msgpack_pack_bin_with_body(&pk, pad, PROTO_MSG_MAX - sb.size - 5); /* 5: a bin32 head */
        if (sb.size != PROTO_MSG_MAX)
                _exit(5);
        msgpack_sbuffer_write(&sb, "!", 1);
        /* the default send buffer (wmem_default) is smaller than the message */
        if (setsockopt(SOCK, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0)
                _exit(6);
        send_or_die(sb.data, sb.size, NULL, 0, 0);
        msgpack_sbuffer_destroy(&sb);
}

/* An ok reply carrying 200 descriptors (sandbox__send stops at PROTO_FDS_MAX). */
static void reply_with_200_fds(void)
{
        enum { N = 200 };
        union {
                char buf[CMSG_SPACE(sizeof(int) * N)];
                struct cmsghdr align;
        } control;
        uint8_t buf[64];
        int fds[N], n = 0;
        struct proto_reply r = {.kind = PROTO_R_OK};
        struct iovec iov = {.iov_base = buf};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

        n = schema_proto_reply_encode(&r, buf, sizeof(buf));
        iov.iov_len = (size_t)n;
        fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        for (int i = 1; i < N; i++)
                fds[i] = fcntl(fds[0], F_DUPFD_CLOEXEC, 0);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(fds));
        memcpy(CMSG_DATA(c), fds, sizeof(fds));
        if (sendmsg(SOCK, &msg, MSG_NOSIGNAL) != n)
                _exit(7);
        sandbox__close_fds(fds, N);
}

/* ---- receiving -------------------------------------------------------------------------- */

/* The next command; end of file (the host gave up on us) ends this init. */
static void next_cmd(struct proto_cmd *cmd)
{
        int fds[PROTO_FDS_MAX];
        size_t nfds = PROTO_FDS_MAX;
        ssize_t n = sandbox__recv(SOCK, msgbuf, sizeof(msgbuf), fds, &nfds, NULL);

        if (n <= 0)
                _exit(0);
        sandbox__close_fds(fds, nfds);
        if (schema_proto_cmd_decode(msgbuf, (size_t)n, NULL, cmd, NULL) < 0)
                _exit(8);
}

/* Hangs: reads and ignores whatever comes until the host closes the socket or kills us. */
static _Noreturn void stay_silent(void)
{
        for (;;) {
                struct proto_cmd cmd;

                next_cmd(&cmd);
                proto_cmd_done(&cmd);
        }
}

/* ---- misbehaving at a control command --------------------------------------------------- */

/* Answers a control command (conf or ping), hostile when the mode names that command
 * ("garbage-conf", ...). */
static void answer_control(const char *phase)
{
        const char *dash = strrchr(mode, '-');
        size_t len = dash ? (size_t)(dash - mode) : 0;

        if (!dash || strcmp(dash + 1, phase) != 0) {
                reply_kind(PROTO_R_OK);
                return;
        }
        if (!strncmp(mode, "garbage", len)) {
                static const uint8_t garbage[] = {0xc1, 0xff, 0x00, 'g', 'a', 'r', 'b', 'a', 'g'};

                send_or_die(garbage, sizeof(garbage), NULL, 0, 0);
        } else if (!strncmp(mode, "oversized", len)) {
                reply_oversized();
        } else if (!strncmp(mode, "wrongkind", len)) {
                reply_kind(PROTO_R_PID);
        } else if (!strncmp(mode, "silent", len)) {
                stay_silent();
        } else if (!strncmp(mode, "close", len)) {
                close(SOCK);
                pause(); /* alive without a socket: the host must kill us */
        } else if (!strncmp(mode, "fds", len)) {
                reply_with_200_fds();
        } else {
                _exit(9); /* an unknown mode: the test sees a closed socket */
        }
}

static void answer_open(void)
{
        struct proto_reply r = {.kind = PROTO_R_OK, .n_fds = 1};
        int p[2], fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (fd < 0 || pipe2(p, O_CLOEXEC) < 0)
                _exit(10);
        if (is("open_nofd")) {
                r.n_fds = 0; /* ok, and consistent, but no descriptor */
                reply(&r, NULL, 0, 0);
        } else if (is("open_pipe")) {
                reply(&r, &p[1], 1, 0); /* a pipe nobody reads: writing to it would hang */
        } else if (is("open_error_fds")) {
                r = (struct proto_reply){.kind = PROTO_R_ERROR, .code = -ENOENT, .message = "no"};
                reply(&r, &fd, 1, 0);
        } else {
                reply(&r, &fd, 1, 0);
        }
        sandbox__close_fds(p, 2);
        close(fd);
}

/* ---- misbehaving during a run ----------------------------------------------------------- */

/* A stand-in for the run's process: a child of this init that ends once told. */
static pid_t fork_run(int *ret_go)
{
        int p[2];
        pid_t pid;
        char c;

        if (pipe2(p, O_CLOEXEC) < 0)
                _exit(11);
        pid = fork();
        if (pid < 0)
                _exit(11);
        if (pid == 0) {
                close(p[1]);
                _exit(read(p[0], &c, 1) == 1 ? 0 : 1);
        }
        close(p[0]);
        *ret_go = p[1];
        return pid;
}

/* A process of the container that is not a child of its init. */
static pid_t fork_grandchild(void)
{
        int p[2];
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                _exit(12);
        if (fork() == 0) {
                pid = fork();
                if (pid == 0) {
                        pause();
                        _exit(0);
                }
                (void)!write(p[1], &pid, sizeof(pid));
                pause(); /* keep the grandchild's parent: the namespace's end kills both */
                _exit(0);
        }
        if (read(p[0], &pid, sizeof(pid)) != sizeof(pid))
                _exit(12);
        close(p[0]);
        close(p[1]);
        return pid;
}

static uint64_t now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void answer_execve(void)
{
        struct proto_reply fin = {.kind = PROTO_R_FINISHED, .status = PROTO_EXITED};
        struct proto_reply pid_reply = {.kind = PROTO_R_PID};
        struct proto_cmd go;
        struct rusage ru;
        uint64_t t0 = now_us();
        int status, go_fd;
        pid_t pid;

        if (is("fin_before_pid"))
                reply(&fin, NULL, 0, 0);
        pid = fork_run(&go_fd);
        if (is("pid_silent"))
                stay_silent();
        else if (is("pid_nocred")) /* the kernel adds our own credentials: pid 1 */
                reply(&pid_reply, NULL, 0, 0);
        else if (is("pid_self"))
                reply(&pid_reply, NULL, 0, getpid());
        else if (is("pid_grandchild"))
                reply(&pid_reply, NULL, 0, fork_grandchild());
        else
                reply(&pid_reply, NULL, 0, pid);
        next_cmd(&go);
        proto_cmd_done(&go);
        if (is("exit_midrun"))
                _exit(0);
        if (is("silent_midrun"))
                stay_silent(); /* ignores the kill command too */
        if (is("late_kill"))
                usleep(300000); /* past the wall time limit: the kill crosses our reply */
        (void)!write(go_fd, "g", 1);
        close(go_fd);
        while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
                ;
        fin.user_us = (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec;
        fin.sys_us = (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
        fin.maxrss_kib = (uint64_t)ru.ru_maxrss;
        fin.wall_us = now_us() - t0;
        if (is("fin_exit_code")) {
                fin.exit_code = 100000;
        } else if (is("fin_signal")) {
                fin.status = PROTO_SIGNALED;
                fin.signal = 1000;
        } else if (is("fin_memory")) {
                fin.maxrss_kib = UINT64_C(1) << 63;
        } else if (is("fin_cpu_time")) {
                fin.user_us = UINT64_C(1) << 62;
        } else if (is("fin_wall_time")) {
                fin.wall_us = UINT64_C(1) << 62;
        } else if (is("fin_killed")) {
                fin.status = PROTO_KILLED; /* though the host never said kill */
        } else if (is("fin_negative_time")) {
                reply_raw_finished("exited", "user_us", -1000);
                return;
        } else if (is("fin_status")) {
                reply_raw_finished("exploded", NULL, 0);
                return;
        }
        reply(&fin, NULL, 0, 0);
        if (is("two_replies"))
                reply(&fin, NULL, 0, 0);
}

int main(void)
{
        const char *path = (const char *)getauxval(AT_EXECFN);
        const char *slash = path ? strrchr(path, '/') : NULL;

        mode = slash ? slash + 1 : "";
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getpid() != 1)
                return 2;
        for (;;) {
                struct proto_cmd cmd;

                next_cmd(&cmd);
                switch (cmd.kind) {
                case PROTO_CONF:
                        answer_control("conf");
                        break;
                case PROTO_PING:
                        if (is("error_code")) {
                                struct proto_reply r = {
                                        .kind = PROTO_R_ERROR,
                                        .code = -ENOTRECOVERABLE, /* "the worker must exit" */
                                        .message = "forged\nlevel=error msg=\"\x1b[2Jgone\""};

                                reply(&r, NULL, 0, 0);
                                break;
                        }
                        answer_control("ping");
                        break;
                case PROTO_OPEN:
                        answer_open();
                        break;
                case PROTO_DELETE:
                case PROTO_RESET:
                        reply_kind(PROTO_R_OK);
                        break;
                case PROTO_EXECVE:
                        answer_execve();
                        break;
                case PROTO_INIT_FINISHED:
                case PROTO_KILL: { /* as the real init answers one that comes late */
                        struct proto_reply r = {.kind = PROTO_R_ERROR,
                                                .code = -EPROTO,
                                                .message = "kill: no run under way"};

                        reply(&r, NULL, 0, 0);
                        break;
                }
                case _PROTO_CMD_MAX:
                case _PROTO_CMD_INVALID:
                        _exit(13);
                }
                proto_cmd_done(&cmd);
        }
}
