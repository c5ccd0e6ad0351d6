/* SPDX-License-Identifier: MIT */
/*
 * gavel's container library, host side. A pool keeps pre-forked containers ready: each is a
 * pid-1 init (gavel-init) in fresh mount, pid, ipc, uts, net, cgroup and (where the kernel
 * allows) user namespaces, with a read-only root, driven over a socket with the msgpack protocol
 * of schema/. sandbox_exec runs one program in one container under cgroup limits and reports how
 * it ended. Thread-safe at the pool level; one struct sandbox is used by one thread at a time.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "schema/err.h"
#include "schema/proto.h"
#include "schema/schema.h"

struct sandbox_conf {
        const char *init_path;    /* gavel-init; NULL: $GAVEL_INIT, else next to this program */
        unsigned pool_size;       /* containers kept (ready + in use); default 2 */
        unsigned max_uses;        /* recycle a container after this many runs; default 1000 */
        uint64_t workdir_kib;     /* size of /w; default 256 MiB */
        uint64_t tmp_kib;         /* size of /tmp; default 64 MiB */
        bool no_userns;           /* never use a user namespace (default: use one if possible) */
        uint32_t uid;             /* what programs run as, inside and out; 0 (default): a uid
                                     per container, SANDBOX_UID_BASE + its init's host pid */
        uint32_t gid;             /* default 65534 */
        const char *const *binds; /* extra read-only bind mounts (NULL-terminated host paths,
                                     mounted at the same path; skipped when missing) */
        int control_timeout_ms;   /* for a control command's reply; default 5000 */
        int exit_grace_ms;        /* destroy: time the init gets to exit on its own before
                                     SIGKILL; default 0 (diagnostic builds under valgrind) */
};

/* Above the id ranges of users, systemd's dynamic and container users and sssd's id mapping
 * (up to 2000200000); pid_max is at most 2^22, so the range ends below 2^31 + 2^22. */
#define SANDBOX_UID_BASE 2147483648U

void sandbox_conf_default(struct sandbox_conf *conf);

enum sandbox_status {
        SANDBOX_OK,      /* exited with 0 */
        SANDBOX_NONZERO, /* exited with another code */
        SANDBOX_SIGNAL,  /* killed by a signal that is not a limit's */
        SANDBOX_TIME,    /* cpu time limit */
        SANDBOX_WALL,    /* wall-clock limit */
        SANDBOX_MEMORY,  /* memory limit (OOM kill) */
        SANDBOX_OUTPUT,  /* output size limit */
        SANDBOX_ERROR,   /* could not run it: see result.error */
        _SANDBOX_STATUS_MAX,
        _SANDBOX_STATUS_INVALID = -EINVAL,
};

const char *sandbox_status_name(enum sandbox_status status); /* "ok", "nonzero", ... */

struct sandbox_limits {      /* 0 = none, except where a default is named */
        uint32_t time_ms;    /* cpu time of all processes and threads of the run */
        uint32_t wall_ms;    /* wall clock; default 2 * time_ms + 1000 (or 10 s without one) */
        uint64_t memory_kib; /* peak memory of the run, from the cgroup */
        uint64_t output_kib; /* any file the program writes, stdout included (RLIMIT_FSIZE) */
        uint32_t pids;       /* tasks (processes and threads) at once; default 64 */
        uint64_t stack_kib;  /* RLIMIT_STACK; default = memory limit, else 64 MiB */
        uint32_t nofile;     /* RLIMIT_NOFILE; default 256 */
};

struct sandbox_run {
        const char *const *argv; /* argv[0] is looked up along PATH inside, unless fexecve */
        const char *const *env;  /* NULL: PATH, HOME=/w, LANG=C.UTF-8 only */
        const char *dir;         /* NULL: the work dir /w */
        int stdin_fd, stdout_fd, stderr_fd; /* host descriptors (borrowed); -1: /dev/null */
        int exe_fd;               /* >= 0: run this file (fexecve); argv[0] is only its name */
        enum proto_policy policy; /* seccomp policy */
        struct sandbox_limits limits;
        /* Borrowed, or NULL. Set while the program runs, it is killed within SANDBOX_CANCEL_MS
         * and sandbox_exec returns -ECANCELED; the container stays usable. */
        const atomic_bool *cancel;
        /* > 0: only this many bytes of stderr (a file apart from stdout) are kept, the rest is
         * read and dropped, and stderr does not count for the output limit (a program's debug
         * output then costs it time, not a verdict). 0: stderr is limited like stdout. */
        uint64_t stderr_keep;
};
#define SANDBOX_CANCEL_MS 50

struct sandbox_result {
        enum sandbox_status status;
        int exit_code;    /* when it exited, else -1 */
        int signal;       /* when it was killed by a signal, else 0 */
        uint32_t time_ms; /* cpu time, all tasks of the run (cgroup) */
        uint32_t wall_ms;
        uint64_t memory_kib; /* peak memory (cgroup) */
        uint64_t cpu_us;     /* the same cpu time, finer */
        uint64_t wall_us;
        uint64_t maxrss_kib; /* ru_maxrss of the main process, for comparison */
        char error[256];     /* SANDBOX_ERROR: why */
};

struct sandbox;      /* one container */
struct sandbox_pool; /* opaque */

/*
 * Detects cgroups, compiles the seccomp policies, and starts pool_size containers (the first
 * synchronously, so errors show here; the rest in a background thread). Start it before any
 * thread of a library that forks or holds locks across fork (librdkafka). conf may be NULL.
 */
int sandbox_pool_new(const struct sandbox_conf *conf, struct sandbox_pool **ret_pool,
                     struct gv_err *err);
/* Destroys every container and cgroup; waits for containers in use to be released first is
 * NOT done: release them before. NULL is a no-op. */
void sandbox_pool_free(struct sandbox_pool *pool);

/* Takes a ready container, waiting up to timeout_ms (-1: forever). -ETIMEDOUT, or -errno. */
int sandbox_pool_acquire(struct sandbox_pool *pool, int timeout_ms, struct sandbox **ret_sb,
                         struct gv_err *err);
/* Gives a container back: it is reset in the background and reused, or destroyed and replaced
 * when it misbehaved or reached max_uses. */
void sandbox_pool_release(struct sandbox_pool *pool, struct sandbox *sb);

struct sandbox_pool_stats {
        unsigned ready, busy;
        uint64_t created, destroyed, anomalies;
        const char *cgroup_mode; /* "v1", "hybrid", "v2" */
        bool userns;
};
void sandbox_pool_stats(struct sandbox_pool *pool, struct sandbox_pool_stats *ret_stats);

/* Creates and destroys one container outside the pool's accounting (benchmarks, tests). */
int sandbox_create(struct sandbox_pool *pool, struct sandbox **ret_sb, struct gv_err *err);
void sandbox_destroy(struct sandbox *sb);

/*
 * Runs one program and waits for it. Returns 0 when the run happened and *ret_result says how
 * it ended (including SANDBOX_ERROR for a program that could not be executed); -ECANCELED when
 * run->cancel was set (the run was killed, the container is fine); another -errno when the
 * container failed (it is then marked broken and will be replaced on release).
 */
int sandbox_exec(struct sandbox *sb, const struct sandbox_run *run,
                 struct sandbox_result *ret_result, struct gv_err *err);

/* Opens path inside the container (open(2) flags; created files belong to the program user). */
int sandbox_open(struct sandbox *sb, const char *path, int flags, unsigned mode, int *ret_fd,
                 struct gv_err *err);
int sandbox_delete(struct sandbox *sb, const char *path, struct gv_err *err);
/* Kills everything but init and empties /w and /tmp. */
int sandbox_reset(struct sandbox *sb, struct gv_err *err);
int sandbox_ping(struct sandbox *sb, struct gv_err *err);
pid_t sandbox_init_pid(const struct sandbox *sb); /* host pid of the container's init */
bool sandbox_broken(const struct sandbox *sb);
