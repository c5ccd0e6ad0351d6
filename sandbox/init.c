// SPDX-License-Identifier: MIT
/*
 * gavel-init: pid 1 of a container. A small static program the host executes inside fresh
 * namespaces (after go-sandbox's container init). It serves the host's commands over one
 * SOCK_SEQPACKET socket: conf builds the root file system, open and delete work on files
 * inside, execve runs a program and reports how it ended, reset wipes what a run left. It trusts
 * nothing the host did not check and reports errors as replies; it never writes to stdout or
 * stderr, and any socket error ends it (and with it, everything in the container).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/transport.h"
#include "schema/cleanup.h"
#include "schema/proto.h"
#include "schema/schema.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define STAGING "/tmp" /* where the new root is assembled before the final pivot */

static struct {
        int sock;
        bool configured;
        uid_t uid; /* what programs run as */
        gid_t gid;
        char workdir[4096];
        struct proto_mount *tmpfs; /* writable tmpfs mounts, emptied by reset */
        size_t n_tmpfs;
        struct sock_fprog filter[_PROTO_POLICY_MAX];
} init = {.sock = -1};

static uint8_t msgbuf[PROTO_MSG_MAX]; /* one incoming command */

/* ---- replies ---------------------------------------------------------------------------- */

static int send_reply(const struct proto_reply *reply, const int *fds, size_t nfds, pid_t pid)
{
        uint8_t buf[8192];
        int n = schema_proto_reply_encode(reply, buf, sizeof(buf));

        if (n < 0)
                return n;
        return sandbox__send(init.sock, buf, (size_t)n, fds, nfds, pid);
}

static int reply_ok(void)
{
        struct proto_reply reply = {.kind = PROTO_R_OK};

        return send_reply(&reply, NULL, 0, 0);
}

__attribute__((format(printf, 2, 3))) static int reply_error(int code, const char *fmt, ...)
{
        struct proto_reply reply = {.kind = PROTO_R_ERROR, .code = code};
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        reply.message = msg;
        return send_reply(&reply, NULL, 0, 0);
}

/* ---- processes -------------------------------------------------------------------------- */

/* Kills every process of the container but this one, and reaps them all (pid 1 inherits every
 * orphan, so only it can). kill(-1) in a pid namespace reaches everything but its init. */
static void kill_all(void)
{
        int status;

        kill(-1, SIGKILL);
        while (waitpid(-1, &status, __WALL) > 0 || errno == EINTR)
                ;
}

static uint64_t now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- conf: the root file system --------------------------------------------------------- */

static int mkdirs(char *path, mode_t mode)
{
        for (char *p = path + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        if (mkdir(path, mode) < 0 && errno != EEXIST) {
                                *p = '/';
                                return -errno;
                        }
                        *p = '/';
                }
        if (mkdir(path, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* The flags a read-only remount of a bind mount must keep: in a user namespace the source's
 * nosuid, nodev, noexec and atime flags are locked, and dropping one is EPERM. */
static unsigned long locked_flags(const char *path)
{
        static const struct {
                unsigned long st, ms;
        } map[] = {
                {ST_NOSUID, MS_NOSUID},         {ST_NODEV, MS_NODEV},
                {ST_NOEXEC, MS_NOEXEC},         {ST_NOATIME, MS_NOATIME},
                {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
        };
        unsigned long flags = 0;
        struct statvfs sv;

        if (statvfs(path, &sv) < 0)
                return 0;
        for (size_t i = 0; i < ARRAY_SIZE(map); i++)
                if (sv.f_flag & map[i].st)
                        flags |= map[i].ms;
        return flags;
}

static int tmpfs_mount(const struct proto_mount *m, const char *target)
{
        char data[128];

        /* sticky and world-writable, owned by the program user: /w and /tmp alike */
        if (m->size_kib)
                snprintf(data, sizeof(data), "size=%lluk,nr_inodes=65536,mode=1777,uid=%u,gid=%u",
                         (unsigned long long)m->size_kib, init.uid, init.gid);
        else
                snprintf(data, sizeof(data), "mode=1777,uid=%u,gid=%u", init.uid, init.gid);
        if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, data) < 0)
                return -errno;
        return 0;
}

static int mount_one(const struct proto_mount *m, const char *oldroot, const char *newroot)
{
        char target[8192], source[8192];
        struct stat st;
        int r;

        if (m->dst[0] != '/' || strstr(m->dst, "/.."))
                return -EINVAL; /* destinations are absolute and never climb out */
        snprintf(target, sizeof(target), "%s%s", newroot, m->dst);
        switch (m->kind) {
        case PROTO_MOUNT_BIND:
                snprintf(source, sizeof(source), "%s%s", oldroot, m->src);
                if (stat(source, &st) < 0)
                        return m->optional ? 0 : -errno;
                if (S_ISDIR(st.st_mode)) {
                        r = mkdirs(target, 0755);
                } else {
                        char *slash = strrchr(target, '/');
                        int fd;

                        *slash = '\0';
                        r = mkdirs(target, 0755);
                        *slash = '/';
                        fd = open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
                        if (fd >= 0)
                                close(fd);
                        else if (r == 0)
                                r = -errno;
                }
                if (r < 0)
                        return r;
                if (mount(source, target, "none", MS_BIND | MS_REC, NULL) < 0)
                        return -errno;
                if (m->ro &&
                    mount(NULL, target, "none",
                          MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(source), NULL) < 0)
                        return -errno;
                return 0;
        case PROTO_MOUNT_TMPFS:
                r = mkdirs(target, 0755);
                return r < 0 ? r : tmpfs_mount(m, target);
        case PROTO_MOUNT_PROC:
                r = mkdirs(target, 0555);
                if (r < 0)
                        return r;
                if (mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                        return -errno;
                return 0;
        case PROTO_MOUNT_SYMLINK: {
                char *slash = strrchr(target, '/');

                *slash = '\0';
                r = mkdirs(target, 0755);
                *slash = '/';
                if (r < 0)
                        return r;
                if (symlink(m->src, target) < 0 && errno != EEXIST)
                        return -errno;
                return 0;
        }
        case _PROTO_MOUNT_MAX:
        case _PROTO_MOUNT_INVALID:
                break;
        }
        return -EINVAL;
}

/*
 * Hides what a program has no business reading under /proc: kernel interfaces, and what tells
 * of the host (its kernel command line, its boot id). Each existing entry gets an empty
 * read-only file of the staging tmpfs bind-mounted over it, so it opens and reads nothing;
 * an entry this kernel lacks needs no mask. Returns 0, or -errno with *ret_what the entry.
 */
static int mask_proc(const char *newroot, const char **ret_what)
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
        static const char empty[] = "/proc-mask"; /* in the staging root, gone with it */
        char path[4200];
        struct stat st;
        int fd;

        *ret_what = empty;
        fd = open(empty, O_CREAT | O_WRONLY | O_CLOEXEC, 0444);
        if (fd < 0)
                return -errno;
        close(fd);
        for (size_t i = 0; i < ARRAY_SIZE(masked); i++) {
                *ret_what = masked[i];
                snprintf(path, sizeof(path), "%s/proc/%s", newroot, masked[i]);
                if (lstat(path, &st) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return -errno;
                }
                if (mount(empty, path, "none", MS_BIND, NULL) < 0 ||
                    mount(NULL, path, "none",
                          MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          NULL) < 0)
                        return -errno;
        }
        return 0;
}

static int build_root(const struct proto_cmd *cmd)
{
        static const char newroot[] = "/newroot", oldroot[] = "/oldroot";
        bool has_proc = false;
        int r;

        /* nothing we mount may propagate to the host (systemd hosts mark / shared) */
        if (mount(NULL, "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
                return reply_error(-errno, "make / private: %s", strerror(errno)), -1;
        /* bubblewrap's dance: a tmpfs becomes / with the old root kept at /oldroot, so that
         * bind sources stay reachable whatever path they have */
        if (mount("tmpfs", STAGING, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755") < 0)
                return reply_error(-errno, "mount staging tmpfs: %s", strerror(errno)), -1;
        if (chdir(STAGING) < 0 || mkdir("newroot", 0755) < 0 || mkdir("oldroot", 0755) < 0 ||
            syscall(SYS_pivot_root, ".", "oldroot") < 0 || chdir("/") < 0)
                return reply_error(-errno, "pivot to staging: %s", strerror(errno)), -1;
        if (mount("tmpfs", newroot, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") < 0)
                return reply_error(-errno, "mount root tmpfs: %s", strerror(errno)), -1;

        for (size_t i = 0; i < cmd->n_mounts; i++) {
                const struct proto_mount *m = &cmd->mounts[i];

                r = mount_one(m, oldroot, newroot);
                if (r < 0)
                        return reply_error(r, "mount %s: %s", m->dst, strerror(-r)), -1;
                if (m->kind == PROTO_MOUNT_PROC)
                        has_proc = true;
        }
        /* /dev: the three harmless devices and the usual links, nothing else */
        {
                static const char *const devs[] = {"null", "zero", "urandom"};
                static const char *const links[][2] = {{"/proc/self/fd", "fd"},
                                                       {"/proc/self/fd/0", "stdin"},
                                                       {"/proc/self/fd/1", "stdout"},
                                                       {"/proc/self/fd/2", "stderr"}};
                char path[256], src[256];
                int fd;

                if (mkdir("/newroot/dev", 0755) < 0 && errno != EEXIST)
                        return reply_error(-errno, "mkdir /dev: %s", strerror(errno)), -1;
                for (size_t i = 0; i < ARRAY_SIZE(devs); i++) {
                        snprintf(path, sizeof(path), "/newroot/dev/%s", devs[i]);
                        snprintf(src, sizeof(src), "/oldroot/dev/%s", devs[i]);
                        fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
                        if (fd < 0 || (close(fd), mount(src, path, "none", MS_BIND, NULL) < 0))
                                return reply_error(-errno, "bind /dev/%s: %s", devs[i],
                                                   strerror(errno)),
                                       -1;
                }
                for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
                        snprintf(path, sizeof(path), "/newroot/dev/%s", links[i][1]);
                        if (symlink(links[i][0], path) < 0)
                                return reply_error(-errno, "symlink /dev/%s: %s", links[i][1],
                                                   strerror(errno)),
                                       -1;
                }
        }
        if (has_proc) {
                const char *what;

                r = mask_proc(newroot, &what);
                if (r < 0)
                        return reply_error(r, "mask /proc/%s: %s", what, strerror(-r)), -1;
        }
        if (umount2(oldroot, MNT_DETACH) < 0)
                return reply_error(-errno, "detach the host's root: %s", strerror(errno)), -1;
        if (chdir(newroot) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
            umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
                return reply_error(-errno, "pivot_root: %s", strerror(errno)), -1;
        if (mount(NULL, "/", "none", MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                  NULL) < 0)
                return reply_error(-errno, "remount / read-only: %s", strerror(errno)), -1;
        return 0;
}

static void handle_conf(struct proto_cmd *cmd)
{
        if (init.configured) {
                reply_error(-EALREADY, "conf: already configured");
                return;
        }
        init.uid = cmd->uid;
        init.gid = cmd->gid;
        snprintf(init.workdir, sizeof(init.workdir), "%s", cmd->workdir ? cmd->workdir : "/w");
        if (cmd->hostname && sethostname(cmd->hostname, strlen(cmd->hostname)) < 0) {
                reply_error(-errno, "sethostname: %s", strerror(errno));
                return;
        }
        if (build_root(cmd) < 0)
                return;
        /* keep what reset needs: the tmpfs mounts */
        init.tmpfs = xcalloc(cmd->n_mounts, sizeof(*init.tmpfs));
        for (size_t i = 0; i < cmd->n_mounts; i++)
                if (cmd->mounts[i].kind == PROTO_MOUNT_TMPFS) {
                        struct proto_mount *t = &init.tmpfs[init.n_tmpfs++];

                        *t = cmd->mounts[i];
                        t->dst = xstrdup(cmd->mounts[i].dst);
                        t->src = NULL;
                }
        for (int p = 0; p < _PROTO_POLICY_MAX; p++) {
                if (!cmd->filter[p])
                        continue;
                init.filter[p].len = (unsigned short)(cmd->filter_len[p] / 8);
                init.filter[p].filter = (struct sock_filter *)steal_pointer(&cmd->filter[p]);
        }
        init.configured = true;
        reply_ok();
}

/* ---- open, delete, reset ---------------------------------------------------------------- */

static void handle_open(const struct proto_cmd *cmd)
{
        int fds[PROTO_OPEN_MAX];
        struct proto_reply reply = {.kind = PROTO_R_OK};
        size_t n = 0;

        for (; n < cmd->n_files; n++) {
                const struct proto_open_file *f = &cmd->files[n];

                /* never follow a link a program may have planted */
                fds[n] = open(f->path, f->flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, f->mode);
                if (fds[n] < 0) {
                        int e = errno;

                        sandbox__close_fds(fds, n);
                        reply_error(-e, "open %s: %s", f->path, strerror(e));
                        return;
                }
                /* files created for a program belong to it */
                if (f->flags & O_CREAT)
                        (void)!fchown(fds[n], init.uid, init.gid);
        }
        reply.n_fds = (uint32_t)n;
        send_reply(&reply, fds, n, 0);
        sandbox__close_fds(fds, n);
}

static void handle_delete(const struct proto_cmd *cmd)
{
        if (unlink(cmd->path) < 0 && (errno != EISDIR || rmdir(cmd->path) < 0)) {
                reply_error(-errno, "delete %s: %s", cmd->path, strerror(errno));
                return;
        }
        reply_ok();
}

/* Kills what a run left and replaces each writable tmpfs by a fresh one: quicker and safer
 * than walking a tree a program may have filled with links, fifos and deep directories. */
static void handle_reset(void)
{
        kill_all();
        for (size_t i = 0; i < init.n_tmpfs; i++) {
                int r;

                if (umount2(init.tmpfs[i].dst, MNT_DETACH) < 0) {
                        reply_error(-errno, "reset: unmount %s: %s", init.tmpfs[i].dst,
                                    strerror(errno));
                        return;
                }
                r = tmpfs_mount(&init.tmpfs[i], init.tmpfs[i].dst);
                if (r < 0) {
                        reply_error(r, "reset: mount %s: %s", init.tmpfs[i].dst, strerror(-r));
                        return;
                }
        }
        reply_ok();
}

/* ---- execve ----------------------------------------------------------------------------- */

enum exec_stage {
        STAGE_SYNC,
        STAGE_FDS,
        STAGE_CHDIR,
        STAGE_RLIMIT,
        STAGE_IPC,
        STAGE_IDS,
        STAGE_SECCOMP,
        STAGE_EXEC
};

static const char *const stage_names[] = {
        [STAGE_SYNC] = "wait for the host",
        [STAGE_FDS] = "set up descriptors",
        [STAGE_CHDIR] = "chdir",
        [STAGE_RLIMIT] = "setrlimit",
        [STAGE_IPC] = "new ipc namespace",
        [STAGE_IDS] = "drop privileges",
        [STAGE_SECCOMP] = "load seccomp filter",
        [STAGE_EXEC] = "execve",
};

struct child_args {
        char *const *argv;
        char *const *env;
        const char *path; /* resolved program path, or NULL with exe_fd */
        const char *dir;
        int fds[4];
        int exe_fd;
        int sync_fd; /* read end: one byte = go on, EOF = die; -1 = no sync */
        int err_fd;  /* write end, O_CLOEXEC: {stage, errno} on failure, EOF on exec */
        const uint64_t *rlimits;
        const struct sock_fprog *filter; /* or NULL */
        uid_t uid;
        gid_t gid;
};

static const int rlimit_resource[_PROTO_RLIMIT_MAX] = {
        [PROTO_RLIMIT_CPU] = RLIMIT_CPU,       [PROTO_RLIMIT_FSIZE] = RLIMIT_FSIZE,
        [PROTO_RLIMIT_STACK] = RLIMIT_STACK,   [PROTO_RLIMIT_AS] = RLIMIT_AS,
        [PROTO_RLIMIT_NOFILE] = RLIMIT_NOFILE, [PROTO_RLIMIT_NPROC] = RLIMIT_NPROC,
        [PROTO_RLIMIT_CORE] = RLIMIT_CORE,
};

static _Noreturn void child_fail(const struct child_args *a, int stage)
{
        int msg[2] = {stage, errno};

        (void)!write(a->err_fd, msg, sizeof(msg));
        _exit(127);
}

/* Runs on its own stack in init's address space (CLONE_VM, so no page tables are copied): it
 * may only make system calls on data init prepared, never allocate. */
static int child_main(void *arg)
{
        const struct child_args *a = arg;
        char go;

        if (a->sync_fd >= 0 && read(a->sync_fd, &go, 1) != 1)
                _exit(127); /* the host said kill, or init went away */
        /* the host has put us into the run's cgroup: make it the root of our view, so that
         * /proc/self/cgroup shows "/" and not the host's path (with the worker's pid) */
        if (unshare(CLONE_NEWCGROUP) < 0)
                child_fail(a, STAGE_IDS);
        for (int i = 0; i < 3; i++)
                if (dup2(a->fds[i], i) < 0)
                        child_fail(a, STAGE_FDS);
        /* no descriptor but 0, 1, 2 survives the exec (the program fd is needed until then) */
        if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                child_fail(a, STAGE_FDS);
        if (chdir(a->dir) < 0)
                child_fail(a, STAGE_CHDIR);
        for (int i = 0; i < _PROTO_RLIMIT_MAX; i++) {
                struct rlimit rl;

                if (a->rlimits[i] == UINT64_MAX)
                        continue;
                rl.rlim_cur = rl.rlim_max = a->rlimits[i];
                if (setrlimit(rlimit_resource[i], &rl) < 0) {
#ifdef GAVEL_INIT_VALGRIND
                        /* valgrind keeps descriptors and stack for itself and refuses these
                         * limits to the copy it runs; the real init sets them */
                        if (errno == EPERM && (rlimit_resource[i] == RLIMIT_NOFILE ||
                                               rlimit_resource[i] == RLIMIT_STACK))
                                continue;
#endif
                        child_fail(a, STAGE_RLIMIT);
                }
        }
        /* a fresh IPC namespace for every run: SysV shm, message queues, semaphores and POSIX
         * message queues of an earlier run (another contestant's) are out of reach, and freed
         * (shm pages and all) when that run's last process is gone */
        if (unshare(CLONE_NEWIPC) < 0)
                child_fail(a, STAGE_IPC);
        if (setgroups(0, NULL) < 0 || setresgid(a->gid, a->gid, a->gid) < 0 ||
            setresuid(a->uid, a->uid, a->uid) < 0)
                child_fail(a, STAGE_IDS);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                child_fail(a, STAGE_SECCOMP);
        if (a->filter && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, a->filter) < 0)
                child_fail(a, STAGE_SECCOMP);
        if (a->exe_fd >= 0) {
#ifdef GAVEL_INIT_VALGRIND
                /* valgrind resolves execveat's empty path itself and fails: go through /proc */
                char self[32];

                snprintf(self, sizeof(self), "/proc/self/fd/%d", a->exe_fd);
                execve(self, a->argv, a->env);
#else
                syscall(SYS_execveat, a->exe_fd, "", a->argv, a->env, AT_EMPTY_PATH);
#endif
        } else
                execve(a->path, a->argv, a->env);
        child_fail(a, STAGE_EXEC);
}

/* Finds argv[0] like execvp, along the PATH of the program's environment. */
static int resolve(const char *name, char *const *env, char *buf, size_t size)
{
        const char *path = "/usr/local/bin:/usr/bin:/bin";
        struct stat st;

        if (strchr(name, '/')) {
                snprintf(buf, size, "%s", name);
                return 0;
        }
        for (char *const *e = env; *e; e++)
                if (!strncmp(*e, "PATH=", 5))
                        path = *e + 5;
        while (*path) {
                size_t len = strcspn(path, ":");

                snprintf(buf, size, "%.*s/%s", (int)len, path, name);
                if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
                        return 0;
                path += len + (path[len] == ':');
        }
        return -ENOENT;
}

#ifndef GAVEL_INIT_VALGRIND
static _Alignas(16) uint8_t child_stack[64 * 1024];
#endif

static void finish(struct proto_reply *reply, int status, const struct rusage *ru, uint64_t t0)
{
        reply->kind = PROTO_R_FINISHED;
        if (reply->status != PROTO_KILLED && reply->status != PROTO_EXEC_FAILED) {
                if (WIFSIGNALED(status)) {
                        reply->status = PROTO_SIGNALED;
                        reply->signal = WTERMSIG(status);
                        reply->exit_code = -1;
                } else {
                        reply->status = PROTO_EXITED;
                        reply->exit_code = WEXITSTATUS(status);
                }
        }
        reply->user_us = (uint64_t)ru->ru_utime.tv_sec * 1000000 + (uint64_t)ru->ru_utime.tv_usec;
        reply->sys_us = (uint64_t)ru->ru_stime.tv_sec * 1000000 + (uint64_t)ru->ru_stime.tv_usec;
        reply->maxrss_kib = (uint64_t)ru->ru_maxrss;
        reply->wall_us = now_us() - t0;
}

/* Reads the next command while a run is under way: only kill (and ping) make sense then. */
static int midrun_command(bool *killed)
{
        struct proto_cmd cmd;
        int fds[PROTO_FDS_MAX];
        size_t nfds = PROTO_FDS_MAX;
        ssize_t n = sandbox__recv(init.sock, msgbuf, sizeof(msgbuf), fds, &nfds, NULL);
        int r;

        if (n <= 0)
                return -EPIPE;
        sandbox__close_fds(fds, nfds);
        r = schema_proto_cmd_decode(msgbuf, (size_t)n, NULL, &cmd, NULL);
        if (r < 0)
                return r;
        if (cmd.kind == PROTO_KILL) {
                *killed = true;
                kill(-1, SIGKILL);
        } else if (cmd.kind != PROTO_INIT_FINISHED) { /* a late go is harmless */
                r = -EPROTO;
        }
        proto_cmd_done(&cmd);
        return r;
}

/* The run's process has ended (it stays a zombie for wait4). With a pidfd, readable means just
 * that; the valgrind build's signalfd says that some child ended, maybe an orphan. */
static bool child_ended(int fd, pid_t pid)
{
#ifdef GAVEL_INIT_VALGRIND
        struct signalfd_siginfo si;
        siginfo_t info = {0};

        while (read(fd, &si, sizeof(si)) == sizeof(si))
                ;
        return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
               info.si_pid == pid;
#else
        (void)fd;
        (void)pid;
        return true;
#endif
}

static int handle_execve(struct proto_cmd *cmd, int *fds, size_t nfds)
{
        struct proto_reply reply = {.kind = PROTO_R_FINISHED};
        struct child_args a = {.exe_fd = -1, .sync_fd = -1};
        int sync_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, pidfd = -1, status = 0;
        char path[4096];
        struct rusage ru = {0};
        bool killed = false;
        uint64_t t0;
        pid_t pid;
        int r = 0, msg[2];
        ssize_t n;

        if (!init.configured)
                return reply_error(-EPROTO, "execve: not configured");
        if (nfds != cmd->n_fds || nfds < 3 || nfds > 4 || (nfds == 4) != cmd->fexecve)
                return reply_error(-EPROTO, "execve: %zu descriptors, expected %s", nfds,
                                   cmd->fexecve ? "4" : "3");
        if (cmd->policy != PROTO_POLICY_NONE && !init.filter[cmd->policy].filter)
                return reply_error(-EPROTO, "execve: no filter for policy %s",
                                   proto_policy_name(cmd->policy));
        if (!cmd->fexecve) {
                r = resolve(cmd->argv[0], cmd->env, path, sizeof(path));
                if (r < 0) {
                        reply.status = PROTO_EXEC_FAILED;
                        reply.code = r;
                        reply.message = "execve: program not found";
                        return send_reply(&reply, NULL, 0, 0);
                }
                a.path = path;
        }
        a.argv = cmd->argv;
        a.env = cmd->env;
        a.dir = cmd->dir ? cmd->dir : init.workdir;
        memcpy(a.fds, fds, nfds * sizeof(int));
        a.exe_fd = cmd->fexecve ? fds[3] : -1;
        a.rlimits = cmd->rlimits;
        a.filter = cmd->policy != PROTO_POLICY_NONE ? &init.filter[cmd->policy] : NULL;
        a.uid = init.uid;
        a.gid = init.gid;
        if (pipe2(err_pipe, O_CLOEXEC) < 0 || (cmd->sync && pipe2(sync_pipe, O_CLOEXEC) < 0)) {
                r = -errno;
                goto out;
        }
        a.sync_fd = sync_pipe[0];
        a.err_fd = err_pipe[1];

        t0 = now_us();
#ifdef GAVEL_INIT_VALGRIND
        /* valgrind (3.19) follows neither a bare CLONE_VM clone nor pidfd_open: the same child
         * in a forked copy, its end seen through a signalfd (any child's end wakes the loop
         * below, which then waits for this one: good enough for a diagnostic build) */
        {
                sigset_t chld;

                sigemptyset(&chld);
                sigaddset(&chld, SIGCHLD);
                sigprocmask(SIG_BLOCK, &chld, NULL);
                pidfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
                pid = fork();
                if (pid == 0) {
                        sigprocmask(SIG_UNBLOCK, &chld, NULL);
                        _exit(child_main(&a));
                }
        }
#else
        pid = clone(child_main, child_stack + sizeof(child_stack), CLONE_VM | CLONE_PIDFD | SIGCHLD,
                    &a, &pidfd);
#endif
        if (pid < 0 || pidfd < 0) {
                r = -errno;
                goto out;
        }
        close(err_pipe[1]);
        err_pipe[1] = -1;
        if (sync_pipe[0] >= 0) {
                close(sync_pipe[0]);
                sync_pipe[0] = -1;
        }

        /* the host learns the pid (translated to its namespace by the kernel), puts it into the
         * run's cgroup, then says go on or kill */
        {
                struct proto_reply pr = {.kind = PROTO_R_PID};

                r = send_reply(&pr, NULL, 0, pid);
        }
        if (r == 0 && cmd->sync) {
                struct proto_cmd go;
                int gfds[PROTO_FDS_MAX];
                size_t gn = PROTO_FDS_MAX;

                n = sandbox__recv(init.sock, msgbuf, sizeof(msgbuf), gfds, &gn, NULL);
                r = n <= 0 ? -EPIPE : 0;
                if (r == 0) {
                        sandbox__close_fds(gfds, gn);
                        r = schema_proto_cmd_decode(msgbuf, (size_t)n, NULL, &go, NULL);
                }
                if (r == 0) {
                        if (go.kind == PROTO_INIT_FINISHED)
                                r = write(sync_pipe[1], "g", 1) == 1 ? 0 : -errno;
                        else if (go.kind == PROTO_KILL)
                                killed = true;
                        else
                                r = -EPROTO;
                        proto_cmd_done(&go);
                }
                close(sync_pipe[1]); /* EOF: a child not told to go dies */
                sync_pipe[1] = -1;
        }
        /* the child shares our memory until it executes: wait for that (or its failure) before
         * anything may change what it reads */
        do
                n = read(err_pipe[0], msg, sizeof(msg));
        while (n < 0 && errno == EINTR);
        if (n == sizeof(msg)) {
                reply.status = PROTO_EXEC_FAILED;
                reply.code = -msg[1];
        }

        while (r == 0 && !killed && reply.status != PROTO_EXEC_FAILED) {
                struct pollfd p[2] = {{.fd = init.sock, .events = POLLIN},
                                      {.fd = pidfd, .events = POLLIN}};

                if (poll(p, 2, -1) < 0) {
                        if (errno != EINTR)
                                r = -errno;
                        continue;
                }
                if (p[1].revents && child_ended(pidfd, pid))
                        break;
                if (p[0].revents)
                        r = midrun_command(&killed);
        }
        if (killed)
                kill(-1, SIGKILL);
        while (wait4(pid, &status, __WALL, &ru) < 0 && errno == EINTR)
                ;
        kill_all(); /* orphans and whatever they forked: nothing outlives its run */
        if (r < 0)  /* the host is gone or spoke nonsense: end the container */
                _exit(1);
        if (killed)
                reply.status = PROTO_KILLED;
        finish(&reply, status, &ru, t0);
        if (reply.status == PROTO_EXEC_FAILED) {
                int stage = msg[0] >= 0 && msg[0] <= STAGE_EXEC ? msg[0] : STAGE_EXEC;

                snprintf(path, sizeof(path), "%s: %s", stage_names[stage], strerror(msg[1]));
                reply.message = path;
        }
        r = send_reply(&reply, NULL, 0, 0);
out:
        if (pidfd >= 0)
                close(pidfd);
        sandbox__close_fds(sync_pipe, 2);
        sandbox__close_fds(err_pipe, 2);
        if (r < 0)
                _exit(1);
        return 0;
}

/* ---- main loop -------------------------------------------------------------------------- */

static void serve(void)
{
        for (;;) {
                struct proto_cmd cmd;
                struct gv_err err = {0};
                int fds[PROTO_FDS_MAX];
                size_t nfds = PROTO_FDS_MAX;
                ssize_t n = sandbox__recv(init.sock, msgbuf, sizeof(msgbuf), fds, &nfds, NULL);
                int r;

                if (n <= 0)
                        return; /* the host closed the socket or it broke: we are done */
                r = schema_proto_cmd_decode(msgbuf, (size_t)n, NULL, &cmd, &err);
                if (r < 0) {
                        sandbox__close_fds(fds, nfds);
                        reply_error(r, "bad command: %s", err.msg);
                        return;
                }
                if (cmd.kind != PROTO_EXECVE && nfds > 0) {
                        sandbox__close_fds(fds, nfds);
                        nfds = 0;
                }
                switch (cmd.kind) {
                case PROTO_PING:
                        reply_ok();
                        break;
                case PROTO_CONF:
                        handle_conf(&cmd);
                        break;
                case PROTO_OPEN:
                        handle_open(&cmd);
                        break;
                case PROTO_DELETE:
                        handle_delete(&cmd);
                        break;
                case PROTO_RESET:
                        handle_reset();
                        break;
                case PROTO_EXECVE:
                        handle_execve(&cmd, fds, nfds);
                        sandbox__close_fds(fds, nfds);
                        break;
                case PROTO_INIT_FINISHED:
                case PROTO_KILL:
                        reply_error(-EPROTO, "%s: no run under way",
                                    cmd.kind == PROTO_KILL ? "kill" : "init_finished");
                        break;
                case _PROTO_CMD_MAX:
                case _PROTO_CMD_INVALID:
                        break;
                }
                proto_cmd_done(&cmd);
        }
}

int main(int argc, char **argv)
{
        char *end;
        long fd;

        if (argc != 2)
                return 2;
        fd = strtol(argv[1], &end, 10);
        if (*end || fd < 3 || fd > 1024)
                return 2;
        init.sock = (int)fd;
        /* the host died before we were told: end here, and with us the container */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getpid() != 1)
                return 2;
        serve();
        kill_all();
        return 0;
}
