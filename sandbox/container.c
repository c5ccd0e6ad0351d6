// SPDX-License-Identifier: MIT
/*
 * Host side of one container: creation (clone into new namespaces, user ids mapped, gavel-init
 * executed, root file system built by the conf command), the command round trips, and exec with
 * limits. Every reply is decoded with bounds and checked; anything unexpected marks the container
 * broken, and the pool replaces it. Nothing here trusts the container.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/capture.h"
#include "sandbox/sandbox-internal.h"
#include "sandbox/seccomp-internal.h"
#include "sandbox/transport.h"
#include "schema/cleanup.h"

#define CHILD_STACK (64 * 1024)

static const char *const status_names[_SANDBOX_STATUS_MAX] = {
        [SANDBOX_OK] = "ok",         [SANDBOX_NONZERO] = "nonzero", [SANDBOX_SIGNAL] = "signal",
        [SANDBOX_TIME] = "time",     [SANDBOX_WALL] = "wall",       [SANDBOX_MEMORY] = "memory",
        [SANDBOX_OUTPUT] = "output", [SANDBOX_ERROR] = "error",
};

const char *sandbox_status_name(enum sandbox_status status)
{
        if (status < 0 || status >= _SANDBOX_STATUS_MAX)
                return NULL;
        return status_names[status];
}

static uint64_t now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- the environment shared by a pool's containers -------------------------------------- */

void sandbox_conf_default(struct sandbox_conf *conf)
{
        *conf = (struct sandbox_conf){
                .pool_size = 2,
                .max_uses = 1000,
                .workdir_kib = 256 * 1024,
                .tmp_kib = 64 * 1024,
                .uid = 0, /* each container's own: SANDBOX_UID_BASE + its init's host pid */
                .gid = 65534,
                .control_timeout_ms = 5000,
        };
}

static int find_init(struct sandbox_env *env, struct gv_err *err)
{
        const char *path = env->conf.init_path ? env->conf.init_path : getenv("GAVEL_INIT");
        char self[PATH_MAX];
        ssize_t n;

        if (path) {
                snprintf(env->init_path, sizeof(env->init_path), "%s", path);
        } else {
                n = readlink("/proc/self/exe", self, sizeof(self) - 1);
                if (n < 0)
                        return gv_err_errno(err, -errno, "readlink /proc/self/exe");
                self[n] = '\0';
                *strrchr(self, '/') = '\0';
                if (snprintf(env->init_path, sizeof(env->init_path), "%s/" GAVEL_INIT_NAME, self) >=
                    (int)sizeof(env->init_path))
                        return gv_err_set(err, -ENAMETOOLONG, "path of %s", GAVEL_INIT_NAME);
        }
        if (access(env->init_path, X_OK) < 0)
                return gv_err_errno(err, -errno, "container init '%s'", env->init_path);
        return 0;
}

/* The root file system: the host's /usr and friends read-only, /proc, and two small tmpfs. */
static int build_conf(struct sandbox_env *env, struct gv_err *err)
{
        static const char *const merged[] = {"/bin",   "/sbin",  "/lib",
                                             "/lib32", "/lib64", "/libx32"};
        static const char *const etc[] = {"/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime",
                                          "/etc/java-17-openjdk"};
        struct proto_mount mounts[PROTO_MOUNTS_MAX];
        char targets[ARRAY_SIZE(merged)][PATH_MAX];
        struct proto_cmd cmd = {.kind = PROTO_CONF,
                                .hostname = "gavel",
                                .workdir = "/w",
                                .uid = env->conf.uid,
                                .gid = env->conf.gid,
                                .mounts = mounts};
        size_t n = 0;
        int len;

        mounts[n++] = (struct proto_mount){
                .kind = PROTO_MOUNT_BIND, .src = "/usr", .dst = "/usr", .ro = true};
        for (size_t i = 0; i < ARRAY_SIZE(merged); i++) {
                struct stat st;
                ssize_t k;

                if (lstat(merged[i], &st) < 0)
                        continue;
                if (S_ISLNK(st.st_mode)) { /* merged /usr: keep the link, as on the host */
                        k = readlink(merged[i], targets[i], sizeof(targets[i]) - 1);
                        if (k < 0)
                                continue;
                        targets[i][k] = '\0';
                        mounts[n++] = (struct proto_mount){.kind = PROTO_MOUNT_SYMLINK,
                                                           .src = targets[i],
                                                           .dst = (char *)merged[i]};
                } else {
                        mounts[n++] = (struct proto_mount){.kind = PROTO_MOUNT_BIND,
                                                           .src = (char *)merged[i],
                                                           .dst = (char *)merged[i],
                                                           .ro = true,
                                                           .optional = true};
                }
        }
        for (size_t i = 0; i < ARRAY_SIZE(etc); i++)
                mounts[n++] = (struct proto_mount){.kind = PROTO_MOUNT_BIND,
                                                   .src = (char *)etc[i],
                                                   .dst = (char *)etc[i],
                                                   .ro = true,
                                                   .optional = true};
        for (const char *const *b = env->conf.binds; b && *b; b++) {
                if (n + 3 >= PROTO_MOUNTS_MAX)
                        return gv_err_set(err, -E2BIG, "too many bind mounts");
                mounts[n++] = (struct proto_mount){.kind = PROTO_MOUNT_BIND,
                                                   .src = (char *)*b,
                                                   .dst = (char *)*b,
                                                   .ro = true,
                                                   .optional = true};
        }
        mounts[n++] = (struct proto_mount){.kind = PROTO_MOUNT_PROC, .dst = "/proc"};
        mounts[n++] = (struct proto_mount){
                .kind = PROTO_MOUNT_TMPFS, .dst = "/w", .size_kib = env->conf.workdir_kib};
        mounts[n++] = (struct proto_mount){
                .kind = PROTO_MOUNT_TMPFS, .dst = "/tmp", .size_kib = env->conf.tmp_kib};
        cmd.n_mounts = n;
        for (int p = 0; p < _PROTO_POLICY_MAX; p++) {
                cmd.filter[p] = env->filter[p];
                cmd.filter_len[p] = env->filter_len[p];
        }
        env->conf_msg = xmalloc(PROTO_MSG_MAX);
        len = schema_proto_cmd_encode(&cmd, env->conf_msg, PROTO_MSG_MAX);
        if (len < 0)
                return gv_err_errno(err, len, "encode conf");
        env->conf_len = (size_t)len;
        return 0;
}

static atomic_uint pools; /* names each pool's cgroup base */

int sandbox__env_init(struct sandbox_env *env, const struct sandbox_conf *conf, struct gv_err *err)
{
        struct proto_cmd go = {.kind = PROTO_INIT_FINISHED}, kill_cmd = {.kind = PROTO_KILL};
        char name[64];
        int r;

        memset(env, 0, sizeof(*env));
        env->devnull = -1;
        if (conf)
                env->conf = *conf;
        else
                sandbox_conf_default(&env->conf);
        if (!env->conf.pool_size)
                env->conf.pool_size = 1;
        if (!env->conf.control_timeout_ms)
                env->conf.control_timeout_ms = 5000;
        r = find_init(env, err);
        if (r < 0)
                return r;
        env->ncpu = sysconf(_SC_NPROCESSORS_CONF) > 0 ? (unsigned)sysconf(_SC_NPROCESSORS_CONF) : 1;
        env->ram_kib = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
        env->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (env->devnull < 0)
                return gv_err_errno(err, -errno, "open /dev/null");
        for (int p = 0; p < _PROTO_POLICY_MAX; p++) {
                r = sandbox__seccomp_compile(p, &env->filter[p], &env->filter_len[p], err);
                if (r < 0)
                        return gv_err_prefix(err, r, "seccomp policy %s: ", proto_policy_name(p));
        }
        r = build_conf(env, err);
        if (r < 0)
                return r;
        r = schema_proto_cmd_encode(&go, env->go_msg, sizeof(env->go_msg));
        if (r < 0)
                return gv_err_errno(err, r, "encode init_finished");
        env->go_len = (size_t)r;
        r = schema_proto_cmd_encode(&kill_cmd, env->kill_msg, sizeof(env->kill_msg));
        if (r < 0)
                return gv_err_errno(err, r, "encode kill");
        env->kill_len = (size_t)r;
        /* one base per pool: two pools in a process must not share (and kill) containers */
        snprintf(name, sizeof(name), "gavel-%d-%u", (int)getpid(), atomic_fetch_add(&pools, 1));
        r = sandbox__cgroup_sys_new(name, &env->cgsys, err);
        if (r < 0)
                return gv_err_prefix(err, r, "cgroups: ");
        return 0;
}

void sandbox__env_done(struct sandbox_env *env)
{
        sandbox__cgroup_sys_free(env->cgsys);
        env->cgsys = NULL;
        for (int p = 0; p < _PROTO_POLICY_MAX; p++) {
                free(env->filter[p]);
                env->filter[p] = NULL;
        }
        free(env->conf_msg);
        env->conf_msg = NULL;
        if (env->devnull >= 0)
                close(env->devnull);
        env->devnull = -1;
}

/* ---- round trips ------------------------------------------------------------------------ */

static int broken(struct sandbox *sb, struct gv_err *err, int code, const char *what)
{
        sb->broken = true;
        return gv_err_errno(err, code, "container %d: %s", (int)sb->pid, what);
}

/* Like broken, with a message of our own and no strerror (the code says little). */
__attribute__((format(printf, 3, 4))) static int broken_msg(struct sandbox *sb, struct gv_err *err,
                                                            const char *fmt, ...)
{
        char what[200];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        sb->broken = true;
        return gv_err_set(err, -EPROTO, "container %d: %s", (int)sb->pid, what);
}

/* Between round trips the container has nothing to say: a message waiting now is a second
 * reply to something already answered, and would be taken for the reply to the next command. */
static int check_quiet(struct sandbox *sb, struct gv_err *err)
{
        struct pollfd p = {.fd = sb->sock, .events = POLLIN};

        if (poll(&p, 1, 0) == 0)
                return 0;
        if (p.revents & POLLIN)
                return broken_msg(sb, err, "sent a message nobody asked for");
        return broken_msg(sb, err, "closed its socket");
}

/* Text from the container ends up in logs and verdicts: no control characters. */
static void sanitize(char *s)
{
        for (; s && *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        *s = '?';
}

/* An error code the container reports, as the caller gets it. Codes that tell the worker what
 * to do with the job or itself (the job is invalid, retry, abort the batch, exit) are the
 * host's to decide; a container that sends one, or no errno at all, gets -EIO. */
static int container_code(int32_t code)
{
        switch (-code) {
        case EBADMSG:
        case E2BIG:
        case EAGAIN:
        case ECANCELED:
        case ENOTRECOVERABLE:
                return -EIO;
        default:
                return code < 0 && code > -4096 ? code : -EIO;
        }
}

/* Receives and decodes one reply within timeout_ms (-1: forever). */
static int recv_reply(struct sandbox *sb, int timeout_ms, struct proto_reply *reply, int *fds,
                      size_t *nfds, pid_t *ret_pid, struct gv_err *err)
{
        struct pollfd p = {.fd = sb->sock, .events = POLLIN};
        struct gv_err derr = {0};
        size_t room = nfds ? *nfds : 0;
        ssize_t n;
        int r;

        do
                r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r == 0)
                return broken(sb, err, -ETIMEDOUT, "no reply");
        if (r < 0)
                return broken(sb, err, -errno, "poll");
        n = sandbox__recv(sb->sock, sb->buf, PROTO_MSG_MAX, fds, nfds ? nfds : &room, ret_pid);
        if (n == 0)
                return broken(sb, err, -EPIPE, "closed its socket");
        if (n == -EMSGSIZE)
                return broken_msg(sb, err, "reply longer than %d bytes", PROTO_MSG_MAX);
        if (n == -ETOOMANYREFS)
                return broken_msg(sb, err, "reply with more descriptors than the %zu expected",
                                  room);
        if (n < 0)
                return broken(sb, err, (int)n, "receive");
        r = schema_proto_reply_decode(sb->buf, (size_t)n, NULL, reply, &derr);
        if (r < 0) {
                if (nfds)
                        sandbox__close_fds(fds, *nfds);
                return broken_msg(sb, err, "malformed reply: %s", derr.msg);
        }
        sanitize(reply->message);
        return 0;
}

static int send_raw(struct sandbox *sb, const void *buf, size_t len, const int *fds, size_t nfds,
                    struct gv_err *err)
{
        int r = sandbox__send(sb->sock, buf, len, fds, nfds, 0);

        return r < 0 ? broken(sb, err, r, "send") : 0;
}

static int send_cmd(struct sandbox *sb, const struct proto_cmd *cmd, const int *fds, size_t nfds,
                    struct gv_err *err)
{
        int len = schema_proto_cmd_encode(cmd, sb->buf, PROTO_MSG_MAX);

        if (len < 0)
                return gv_err_errno(err, len, "encode %s", "command");
        return send_raw(sb, sb->buf, (size_t)len, fds, nfds, err);
}

/* A control command that expects ok (fds: up to *nfds descriptors may come back). */
static int call(struct sandbox *sb, const void *msg, size_t len, int *fds, size_t *nfds,
                struct gv_err *err)
{
        struct proto_reply reply;
        size_t want = nfds ? *nfds : 0, got;
        int r;

        if (sb->broken)
                return gv_err_set(err, -EIO, "container %d is broken", (int)sb->pid);
        r = check_quiet(sb, err);
        if (r < 0)
                return r;
        r = send_raw(sb, msg, len, NULL, 0, err);
        if (r < 0)
                return r;
        r = recv_reply(sb, sb->env->conf.control_timeout_ms, &reply, fds, nfds, NULL, err);
        if (r < 0)
                return r;
        got = nfds ? *nfds : 0;
        if (reply.kind == PROTO_R_ERROR && got == 0)
                r = gv_err_set(err, container_code(reply.code), "%s",
                               reply.message ? reply.message : "error");
        else if (reply.kind == PROTO_R_ERROR)
                r = broken_msg(sb, err, "error reply with %zu descriptor(s)", got);
        else if (reply.kind != PROTO_R_OK)
                r = broken_msg(sb, err, "%s reply where ok was expected",
                               proto_reply_kind_name(reply.kind));
        else if (reply.n_fds != want || got != want)
                r = broken_msg(sb, err, "ok reply with %zu descriptors (%u announced), not %zu",
                               got, reply.n_fds, want);
        if (r < 0 && nfds)
                sandbox__close_fds(fds, *nfds);
        proto_reply_done(&reply);
        return r;
}

static int call_cmd(struct sandbox *sb, const struct proto_cmd *cmd, int *fds, size_t *nfds,
                    struct gv_err *err)
{
        int len = schema_proto_cmd_encode(cmd, sb->buf, PROTO_MSG_MAX);

        if (len < 0)
                return gv_err_errno(err, len, "encode command");
        return call(sb, sb->buf, (size_t)len, fds, nfds, err);
}

int sandbox_ping(struct sandbox *sb, struct gv_err *err)
{
        struct proto_cmd cmd = {.kind = PROTO_PING};

        return call_cmd(sb, &cmd, NULL, NULL, err);
}

int sandbox_reset(struct sandbox *sb, struct gv_err *err)
{
        struct proto_cmd cmd = {.kind = PROTO_RESET};

        return call_cmd(sb, &cmd, NULL, NULL, err);
}

int sandbox_delete(struct sandbox *sb, const char *path, struct gv_err *err)
{
        struct proto_cmd cmd = {.kind = PROTO_DELETE, .path = (char *)path};

        return call_cmd(sb, &cmd, NULL, NULL, err);
}

int sandbox_open(struct sandbox *sb, const char *path, int flags, unsigned mode, int *ret_fd,
                 struct gv_err *err)
{
        struct proto_open_file file = {.path = (char *)path, .flags = flags, .mode = mode};
        struct proto_cmd cmd = {.kind = PROTO_OPEN, .files = &file, .n_files = 1};
        int fd = -1;
        size_t nfds = 1;
        struct stat st;
        int r = call_cmd(sb, &cmd, &fd, &nfds, err);

        if (r < 0)
                return r;
        /* a pipe or socket in its place would block the caller's first read or write */
        if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
                close(fd);
                return broken_msg(sb, err, "open '%s': sent a descriptor that is not a file", path);
        }
        *ret_fd = fd;
        return 0;
}

pid_t sandbox_init_pid(const struct sandbox *sb)
{
        return sb->pid;
}

bool sandbox_broken(const struct sandbox *sb)
{
        return sb->broken;
}

bool sandbox__dead(const struct sandbox *sb)
{
        struct pollfd p = {.fd = sb->pidfd, .events = POLLIN};

        return poll(&p, 1, 0) != 0;
}

/* ---- creation --------------------------------------------------------------------------- */

struct clone_args_init {
        const char *path;
        int sock; /* the container's end */
        int sync; /* read end: one byte once the id maps are written */
        int devnull;
};

/* The clone child, in the new namespaces but still on the host's file system. The host may be
 * multi-threaded: only system calls until the exec. */
static int clone_child(void *arg)
{
        const struct clone_args_init *a = arg;
        char *const argv[] = {"gavel-init", "3", NULL};
        char *const envp[] = {NULL};
        char go;

        /* a C pid-namespace init ignores SIGTERM: only SIGKILL ends it with the host */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                _exit(126);
        if (read(a->sync, &go, 1) != 1)
                _exit(126); /* the host gave up on us */
        if (dup2(a->devnull, 0) < 0 || dup2(a->devnull, 1) < 0 || dup2(a->devnull, 2) < 0)
                _exit(126);
        if (a->sock == 3) {
                if (fcntl(3, F_SETFD, 0) < 0)
                        _exit(126);
        } else if (dup2(a->sock, 3) < 0) {
                _exit(126);
        }
        /* clone keeps every descriptor of the host, O_CLOEXEC or not until exec: drop them */
        if (syscall(SYS_close_range, 4, ~0U, 0) < 0)
                _exit(126);
        execve(a->path, argv, envp);
        _exit(127);
}

static int write_file(const char *path, const char *text)
{
        cleanup_fd int fd = open(path, O_WRONLY | O_CLOEXEC);
        size_t len = strlen(text);

        if (fd < 0)
                return -errno;
        if (write(fd, text, len) != (ssize_t)len)
                return -errno;
        return 0;
}

static int map_ids(struct sandbox_env *env, pid_t pid, uint32_t uid)
{
        char path[64], map[128];
        int r;

        /* root inside is root outside (the init needs it for mounts, and only the init is
         * root); the program user is the same id inside and out */
        snprintf(map, sizeof(map), "0 0 1\n%u %u 1\n", uid, uid);
        snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
        r = write_file(path, map);
        if (r < 0)
                return r;
        snprintf(map, sizeof(map), "0 0 1\n%u %u 1\n", env->conf.gid, env->conf.gid);
        snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
        return write_file(path, map);
}

/*
 * The conf command for one container, whose programs run as uid: the pool's encoded conf with
 * that uid, encoded into buf (PROTO_MSG_MAX bytes). Returns its length or -errno.
 */
static int conf_for(const struct sandbox_env *env, uint32_t uid, uint8_t *buf)
{
        struct proto_cmd cmd;
        int r;

        if (uid == env->conf.uid) {
                memcpy(buf, env->conf_msg, env->conf_len);
                return (int)env->conf_len;
        }
        r = schema_proto_cmd_decode(env->conf_msg, env->conf_len, NULL, &cmd, NULL);
        if (r < 0)
                return r;
        cmd.uid = uid;
        r = schema_proto_cmd_encode(&cmd, buf, PROTO_MSG_MAX);
        proto_cmd_done(&cmd);
        return r;
}

static pid_t spawn(struct sandbox_env *env, bool userns, int sock, int sync, void *stack)
{
        struct clone_args_init a = {
                .path = env->init_path, .sock = sock, .sync = sync, .devnull = env->devnull};
        int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET |
                    CLONE_NEWCGROUP | SIGCHLD;

        if (userns)
                flags |= CLONE_NEWUSER;
        return clone(clone_child, (uint8_t *)stack + CHILD_STACK, flags, &a);
}

int sandbox__create(struct sandbox_env *env, struct sandbox **ret_sb, struct gv_err *err)
{
        cleanup_free struct sandbox *sb = xcalloc(1, sizeof(*sb));
        cleanup_free void *stack = xmalloc(CHILD_STACK);
        int sv[2] = {-1, -1}, sync[2] = {-1, -1}, one = 1;
        char name[32];
        uint32_t uid;
        pid_t pid;
        int r;

        sb->env = env;
        sb->sock = sb->pidfd = -1;
        snprintf(name, sizeof(name), "c%u", atomic_fetch_add(&env->seq, 1));
        r = sandbox__cgroup_new(env->cgsys, name, &sb->cg, err);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
            pipe2(sync, O_CLOEXEC) < 0) {
                r = gv_err_errno(err, -errno, "socketpair");
                goto fail;
        }
        if (setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
                r = gv_err_errno(err, -errno, "SO_PASSCRED");
                goto fail;
        }
        pid = -1;
        if (!env->conf.no_userns && (env->userns || !env->userns_probed)) {
                pid = spawn(env, true, sv[1], sync[0], stack);
                if (pid < 0 && !env->userns_probed) /* the kernel does not allow it here */
                        env->userns_probed = true;
                else if (pid >= 0 && !env->userns_probed) {
                        env->userns = true;
                        env->userns_probed = true;
                }
        }
        if (pid < 0 && !env->userns)
                pid = spawn(env, false, sv[1], sync[0], stack);
        if (pid < 0) {
                r = gv_err_errno(err, -errno, "clone into new namespaces");
                goto fail;
        }
        sb->pid = pid;
        sb->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        close(sv[1]);
        sv[1] = -1;
        close(sync[0]);
        sync[0] = -1;
        if (sb->pidfd < 0) {
                r = gv_err_errno(err, -errno, "pidfd_open");
                goto fail_kill;
        }
        /* a uid of its own unless the caller chose one: the kernel keeps per-user budgets
         * (the pipe quota, inotify, RLIMIT_NPROC outside a user namespace) host-wide per uid,
         * and a host pid is one live container's only */
        uid = env->conf.uid ? env->conf.uid : SANDBOX_UID_BASE + (uint32_t)pid;
        if (env->userns) {
                r = map_ids(env, pid, uid);
                if (r < 0) {
                        gv_err_errno(err, r, "write the user namespace's id maps");
                        goto fail_kill;
                }
        }
        if (write(sync[1], "g", 1) != 1) {
                r = gv_err_errno(err, -errno, "release the container");
                goto fail_kill;
        }
        close(sync[1]);
        sync[1] = -1;
        sb->sock = steal_fd(&sv[0]);
        sb->buf = xmalloc(PROTO_MSG_MAX);
        r = conf_for(env, uid, sb->buf);
        if (r < 0) {
                gv_err_errno(err, r, "encode conf");
                goto fail_kill;
        }
        r = call(sb, sb->buf, (size_t)r, NULL, NULL, err);
        if (r < 0) {
                gv_err_prefix(err, r, "configure the container: ");
                goto fail_kill;
        }
        *ret_sb = steal_pointer(&sb);
        return 0;

fail_kill:
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
                ;
fail:
        sandbox__close_fds(sv, 2);
        sandbox__close_fds(sync, 2);
        if (sb->sock >= 0)
                close(sb->sock);
        if (sb->pidfd >= 0)
                close(sb->pidfd);
        free(sb->buf);
        sandbox__cgroup_free(sb->cg);
        return r;
}

void sandbox__destroy(struct sandbox *sb)
{
        if (!sb)
                return;
        if (sb->sock >= 0)
                close(sb->sock);               /* the init sees end of file and exits */
        if (sb->env->conf.exit_grace_ms > 0) { /* let it (valgrind's checks need an exit) */
                struct pollfd p = {.fd = sb->pidfd, .events = POLLIN};

                poll(&p, 1, sb->env->conf.exit_grace_ms);
        }
        /* but a stuck or hostile init must not survive: SIGKILL takes the namespace with it */
        syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
        while (waitpid(sb->pid, NULL, __WALL) < 0 && errno == EINTR)
                ;
        close(sb->pidfd);
        sandbox__cgroup_free(sb->cg);
        free(sb->buf);
        free(sb);
}

/* ---- exec ------------------------------------------------------------------------------- */

static void fill_limits(struct sandbox_limits *l)
{
        if (!l->wall_ms)
                l->wall_ms = l->time_ms ? 2 * l->time_ms + 1000 : 10000;
        if (!l->pids)
                l->pids = 64;
        if (!l->stack_kib)
                l->stack_kib = l->memory_kib ? l->memory_kib : 64 * 1024;
        if (!l->nofile)
                l->nofile = 256;
}

static void classify(struct sandbox_result *res, const struct proto_reply *fin,
                     const struct sandbox_limits *l, const struct cgroup_stats *st,
                     enum sandbox_status forced)
{
        res->exit_code = fin->status == PROTO_EXITED ? fin->exit_code : -1;
        res->signal = fin->status == PROTO_SIGNALED ? fin->signal : 0;
        if (fin->status == PROTO_EXEC_FAILED) {
                res->status = SANDBOX_ERROR;
                snprintf(res->error, sizeof(res->error), "%s",
                         fin->message ? fin->message : "exec failed");
        } else if (forced != SANDBOX_OK) {
                res->status = forced; /* the host killed it on a limit */
        } else if (l->time_ms && res->cpu_us > (uint64_t)l->time_ms * 1000) {
                res->status = SANDBOX_TIME;
        } else if (st->oom_kills > 0) {
                res->status = SANDBOX_MEMORY;
        } else if (res->signal == SIGXFSZ) {
                res->status = SANDBOX_OUTPUT;
        } else if (res->signal == SIGXCPU) {
                res->status = SANDBOX_TIME;
        } else if (res->signal == SIGKILL && l->memory_kib &&
                   st->memory_peak >= l->memory_kib * 1024) {
                res->status = SANDBOX_MEMORY;
        } else if (fin->status == PROTO_SIGNALED || fin->status == PROTO_KILLED) {
                res->status = SANDBOX_SIGNAL;
        } else {
                res->status = fin->exit_code == 0 ? SANDBOX_OK : SANDBOX_NONZERO;
        }
}

/* The run's process is a child the init has just forked, stopped before exec. Any other pid
 * (the init's own is what the kernel fills in when no credentials are sent) would put the wrong
 * process into the run's cgroup, and the run's limits on it. */
static int check_run_pid(struct sandbox *sb, pid_t pid, struct gv_err *err)
{
        cleanup_fd int fd = -1;
        char path[64], buf[512], *p;
        int ppid = 0;
        ssize_t n;

        if (pid == sb->pid)
                return broken_msg(sb, err, "pid reply names the init itself (no credentials?)");
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return broken_msg(sb, err, "pid reply names process %d, which is gone", (int)pid);
        buf[n] = '\0';
        p = strrchr(buf, ')'); /* "pid (comm) state ppid ...", comm may hold ')' */
        if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1 || ppid != sb->pid)
                return broken_msg(sb, err, "pid reply names process %d, not a child of the init",
                                  (int)pid);
        return 0;
}

/* The init reports what the kernel told it; a reply no kernel could have produced means it
 * lies, and nothing it says about the run can be used. elapsed_us: from sending execve to
 * receiving this reply, which holds the init's own wall time. */
static int check_finished(struct sandbox *sb, const struct proto_reply *fin, bool kill_sent,
                          uint64_t elapsed_us, struct gv_err *err)
{
        uint64_t cpu_max = (elapsed_us + 10000) * sb->env->ncpu;

        switch (fin->status) {
        case PROTO_EXITED:
                if (fin->exit_code < 0 || fin->exit_code > 255)
                        return broken_msg(sb, err, "finished: exit code %d, not 0 to 255",
                                          (int)fin->exit_code);
                break;
        case PROTO_SIGNALED:
                if (fin->signal < 1 || fin->signal > SIGRTMAX)
                        return broken_msg(sb, err, "finished: signal %d, not 1 to %d",
                                          (int)fin->signal, SIGRTMAX);
                break;
        case PROTO_KILLED:
                if (!kill_sent)
                        return broken_msg(sb, err, "finished: killed, but no kill was sent");
                break;
        case PROTO_EXEC_FAILED:
                break;
        case _PROTO_STATUS_MAX:
        case _PROTO_STATUS_INVALID:
                return broken_msg(sb, err, "finished: status %d", (int)fin->status);
        }
        if (fin->wall_us > elapsed_us + 1000)
                return broken_msg(sb, err,
                                  "finished: wall time %" PRIu64 " us in a run of %" PRIu64 " us",
                                  fin->wall_us, elapsed_us);
        if (fin->user_us > cpu_max || fin->sys_us > cpu_max || fin->user_us + fin->sys_us > cpu_max)
                return broken_msg(sb, err,
                                  "finished: cpu time %" PRIu64 "+%" PRIu64
                                  " us in a run of %" PRIu64 " us on %u cpus",
                                  fin->user_us, fin->sys_us, elapsed_us, sb->env->ncpu);
        if (fin->maxrss_kib > sb->env->ram_kib)
                return broken_msg(sb, err,
                                  "finished: peak memory %" PRIu64 " KiB, more than the %" PRIu64
                                  " KiB of the machine",
                                  fin->maxrss_kib, sb->env->ram_kib);
        return 0;
}

/* A kill that crossed the end of the run reached the init after it had sent finished: it answers
 * it as a command of its own, with an error. Taken here, or the next command would take it for
 * its reply. */
static int take_late_kill_reply(struct sandbox *sb, struct gv_err *err)
{
        struct proto_reply late;
        int r = recv_reply(sb, sb->env->conf.control_timeout_ms, &late, NULL, NULL, NULL, err);

        if (r < 0)
                return r;
        if (late.kind != PROTO_R_ERROR)
                r = broken_msg(sb, err, "%s reply to a late kill, not an error",
                               proto_reply_kind_name(late.kind));
        proto_reply_done(&late);
        return r;
}

static const char *const default_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/w",
                                          "LANG=C.UTF-8", NULL};

/* What wait_run decided about a run it stopped. */
struct stop {
        enum sandbox_status forced; /* SANDBOX_OK: not stopped on a limit */
        bool kill_sent;
        bool cancelled;
        int host_err; /* the captured output could not be written: -errno (err set) */
};

/* Any capture over the limit. */
static bool captures_over(const struct capture *cap, size_t n_cap)
{
        for (size_t i = 0; i < n_cap; i++)
                if (cap[i].over)
                        return true;
        return false;
}

/*
 * Waits for the run's finished reply, moving its output out of the pipes meanwhile, enforcing
 * the wall clock here and the cpu time by polling the cgroup (as often as the remaining cpu time
 * could run out on all cores), and stopping it on the output limit or a cancel. Returns 0 when
 * the reply is there to read, or -errno for a broken container.
 */
static int wait_run(struct sandbox *sb, const struct sandbox_run *run,
                    const struct sandbox_limits *l, uint64_t t0, struct capture *cap, size_t n_cap,
                    struct stop *stop, struct gv_err *err)
{
        uint64_t deadline = t0 + (uint64_t)l->wall_ms * 1000, kill_deadline = 0, cpu_ns = 0;
        uint64_t out_max = l->output_kib * 1024;

        for (;;) {
                struct pollfd p[3] = {{.fd = sb->sock, .events = POLLIN}};
                struct capture *polled[3] = {NULL};
                uint64_t now = now_us(), wait_us;
                size_t np = 1;
                int r;

                for (size_t i = 0; i < n_cap && !stop->host_err; i++) /* else: nowhere to put it */
                        if (cap[i].rd >= 0 && !cap[i].over) {
                                polled[np] = &cap[i];
                                p[np++] = (struct pollfd){.fd = cap[i].rd, .events = POLLIN};
                        }
                if (stop->kill_sent) {
                        wait_us = kill_deadline > now ? kill_deadline - now : 0;
                } else {
                        wait_us = deadline > now ? deadline - now : 0;
                        if (l->time_ms) {
                                uint64_t limit_ns = (uint64_t)l->time_ms * 1000000, left;

                                left = limit_ns > cpu_ns ? (limit_ns - cpu_ns) / 2000 : 0;
                                if (left < 1000)
                                        left = 1000;
                                if (left < wait_us)
                                        wait_us = left;
                        }
                        if (run->cancel && wait_us > SANDBOX_CANCEL_MS * 1000)
                                wait_us = SANDBOX_CANCEL_MS * 1000;
                }
                if (wait_us > 3600000000u) /* an hour at most: a wall limit of weeks fits no int */
                        wait_us = 3600000000u;
                r = poll(p, np, (int)((wait_us + 999) / 1000));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return broken(sb, err, -errno, "poll");
                if (p[0].revents)
                        return 0;
                for (size_t i = 1; i < np && !stop->host_err; i++)
                        if (p[i].revents)
                                stop->host_err = capture_drain(polled[i], out_max, err);
                now = now_us();
                if (stop->kill_sent) {
                        if (now >= kill_deadline)
                                return broken(sb, err, -ETIMEDOUT, "did not end a killed run");
                        continue;
                }
                if (stop->host_err)
                        ; /* stop it: its output has nowhere to go */
                else if (captures_over(cap, n_cap))
                        stop->forced = SANDBOX_OUTPUT;
                else if (l->time_ms && sandbox__cgroup_cpu_ns(sb->cg, &cpu_ns) == 0 &&
                         cpu_ns > (uint64_t)l->time_ms * 1000000)
                        stop->forced = SANDBOX_TIME;
                else if (now >= deadline)
                        stop->forced = SANDBOX_WALL;
                else if (run->cancel && atomic_load(run->cancel))
                        stop->cancelled = true;
                else
                        continue;
                r = send_raw(sb, sb->env->kill_msg, sb->env->kill_len, NULL, 0, err);
                if (r < 0)
                        return r;
                stop->kill_sent = true;
                kill_deadline = now + 2000000;
        }
}

static int exec_run(struct sandbox *sb, const struct sandbox_run *run, struct capture *cap,
                    size_t n_cap, struct sandbox_result *ret_result, struct gv_err *err)
{
        struct sandbox_env *env = sb->env;
        struct sandbox_limits l = run->limits;
        struct sandbox_result res = {.exit_code = -1};
        struct proto_cmd cmd = {.kind = PROTO_EXECVE, .sync = true, .policy = run->policy};
        struct proto_reply reply = {0};
        struct cgroup_stats st = {0};
        struct stop stop = {.forced = SANDBOX_OK};
        int fds[4];
        size_t n_argv = 0, n_env = 0;
        uint64_t t_sent, t0, t_end;
        pid_t pid = 0;
        int r;

        if (sb->broken)
                return gv_err_set(err, -EIO, "container %d is broken", (int)sb->pid);
        r = check_quiet(sb, err);
        if (r < 0)
                return r;
        fill_limits(&l);
        while (run->argv[n_argv])
                n_argv++;
        for (const char *const *e = run->env ? run->env : default_env; *e; e++)
                n_env++;
        if (n_argv == 0 || n_argv > PROTO_ARGV_MAX || n_env > PROTO_ARGV_MAX)
                return gv_err_set(err, -E2BIG, "argv: 1 to %d entries", PROTO_ARGV_MAX);
        cmd.argv = (char **)run->argv;
        cmd.n_argv = n_argv;
        cmd.env = (char **)(run->env ? run->env : default_env);
        cmd.n_env = n_env;
        cmd.dir = (char *)run->dir;
        for (int i = 0; i < _PROTO_RLIMIT_MAX; i++)
                cmd.rlimits[i] = UINT64_MAX;
        /* second lines of defence behind the cgroup; RLIMIT_CPU has 1 s granularity */
        if (l.time_ms)
                cmd.rlimits[PROTO_RLIMIT_CPU] = (l.time_ms + 999) / 1000 + 1;
        if (l.output_kib)
                cmd.rlimits[PROTO_RLIMIT_FSIZE] = l.output_kib * 1024;
        cmd.rlimits[PROTO_RLIMIT_STACK] = l.stack_kib * 1024;
        cmd.rlimits[PROTO_RLIMIT_NOFILE] = l.nofile;
        cmd.rlimits[PROTO_RLIMIT_CORE] = 0;
        if (env->userns) /* counted per user namespace only there; host-wide otherwise */
                cmd.rlimits[PROTO_RLIMIT_NPROC] = l.pids;
        fds[0] = run->stdin_fd >= 0 ? run->stdin_fd : env->devnull;
        fds[1] = run->stdout_fd >= 0 ? run->stdout_fd : env->devnull;
        fds[2] = run->stderr_fd >= 0 ? run->stderr_fd : env->devnull;
        for (size_t i = 0; i < n_cap; i++) /* the pipes instead of the files they fill */
                for (int k = 1; k <= 2; k++)
                        if (fds[k] == cap[i].dst)
                                fds[k] = cap[i].wr;
        cmd.n_fds = 3;
        if (run->exe_fd >= 0) {
                fds[3] = run->exe_fd;
                cmd.n_fds = 4;
                cmd.fexecve = true;
        }

        /* a cgroup set that could not be limited or made anew must not run anything again */
        r = sandbox__cgroup_set_limits(sb->cg, l.memory_kib * 1024, l.pids, err);
        if (r == 0)
                r = sandbox__cgroup_begin(sb->cg, err);
        if (r < 0) {
                sb->broken = true;
                return r;
        }
        sb->uses++;
        t_sent = now_us();
        r = send_cmd(sb, &cmd, fds, cmd.n_fds, err);
        for (size_t i = 0; i < n_cap; i++) { /* the program holds them now: end of file is its */
                close(cap[i].wr);
                cap[i].wr = -1;
        }
        if (r < 0)
                return r;

        /* the child waits: put it into the run's cgroup before it can run a single
         * instruction of the program, then let it go */
        r = recv_reply(sb, env->conf.control_timeout_ms, &reply, NULL, NULL, &pid, err);
        if (r < 0)
                return r;
        if (reply.kind == PROTO_R_FINISHED && reply.status == PROTO_EXEC_FAILED) {
                classify(&res, &reply, &l, &st, SANDBOX_OK);
                proto_reply_done(&reply);
                *ret_result = res;
                return 0;
        }
        if (reply.kind != PROTO_R_PID) {
                r = reply.kind == PROTO_R_ERROR
                            ? gv_err_set(err, -EPROTO, "execve: %s",
                                         reply.message ? reply.message : "")
                            : broken_msg(sb, err, "%s reply where pid was expected",
                                         proto_reply_kind_name(reply.kind));
                sb->broken = true;
                proto_reply_done(&reply);
                return r;
        }
        proto_reply_done(&reply);
        r = check_run_pid(sb, pid, err);
        if (r < 0)
                return r;
        r = sandbox__cgroup_attach(sb->cg, pid, err);
        if (r < 0) {
                sb->broken = true; /* the child is stopped at the sync: destroying ends it */
                return r;
        }
        t0 = now_us();
        r = send_raw(sb, env->go_msg, env->go_len, NULL, 0, err);
        if (r < 0)
                return r;

        r = wait_run(sb, run, &l, t0, cap, n_cap, &stop, err);
        if (r < 0)
                return r;
        r = recv_reply(sb, 0, &reply, NULL, NULL, NULL, err);
        if (r < 0)
                return r;
        t_end = now_us();
        /* every process of the run is gone: what the pipes still hold is the rest */
        for (size_t i = 0; i < n_cap && !stop.host_err; i++)
                stop.host_err = capture_drain(&cap[i], l.output_kib * 1024, err);
        res.wall_us = t_end - t0;
        if (reply.kind != PROTO_R_FINISHED)
                r = broken_msg(sb, err, "%s reply where finished was expected",
                               proto_reply_kind_name(reply.kind));
        else
                r = check_finished(sb, &reply, stop.kill_sent, t_end - t_sent, err);
        if (r == 0 && stop.kill_sent && reply.status != PROTO_KILLED)
                r = take_late_kill_reply(sb, err);
        if (r == 0)
                r = check_quiet(sb, err);
        if (r == 0)
                r = sandbox__cgroup_stats(sb->cg, &st, err);
        if (r < 0) {
                proto_reply_done(&reply);
                return r;
        }
        res.cpu_us = st.cpu_ns / 1000;
        res.time_ms = (uint32_t)(res.cpu_us / 1000);
        res.wall_ms = (uint32_t)(res.wall_us / 1000);
        res.memory_kib = st.memory_peak / 1024;
        res.maxrss_kib = reply.maxrss_kib;
        classify(&res, &reply, &l, &st, stop.forced);
        proto_reply_done(&reply);
        /* output cut at the limit (found in the last drain), or of exactly the limit: the limit,
         * as RLIMIT_FSIZE has it for files */
        if (l.output_kib && (res.status == SANDBOX_OK || res.status == SANDBOX_NONZERO ||
                             res.status == SANDBOX_SIGNAL))
                for (size_t i = 0; i < n_cap; i++)
                        if (!cap[i].keep && cap[i].n >= l.output_kib * 1024)
                                res.status = SANDBOX_OUTPUT;
        if (stop.host_err)
                return stop.host_err;
        if (stop.cancelled)
                return gv_err_set(err, -ECANCELED, "cancelled");
        *ret_result = res;
        return 0;
}

int sandbox_exec(struct sandbox *sb, const struct sandbox_run *run,
                 struct sandbox_result *ret_result, struct gv_err *err)
{
        struct capture cap[2];
        size_t n_cap = 0;
        int r = 0;

        /* stdout, and stderr unless it is the same file (a compile's log) */
        if (capture_wanted(run->stdout_fd))
                r = capture_open(&cap[n_cap++], run->stdout_fd, err);
        if (r == 0 && run->stderr_fd != run->stdout_fd && capture_wanted(run->stderr_fd)) {
                r = capture_open(&cap[n_cap], run->stderr_fd, err);
                cap[n_cap].keep = run->stderr_keep; /* the rest to /dev/null */
                cap[n_cap++].sink = sb->env->devnull;
        }
        if (r == 0)
                r = exec_run(sb, run, cap, n_cap, ret_result, err);
        for (size_t i = 0; i < n_cap; i++)
                capture_close(&cap[i]);
        return r;
}
