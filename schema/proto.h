/* SPDX-License-Identifier: MIT */
/*
 * The container protocol between the host (sandbox/container.c) and a container's init
 * (sandbox/init.c), over SOCK_SEQPACKET: commands, replies and their msgpack codec. Apart from
 * the platform-facing messages of schema.h, whose limits and error convention it shares; the
 * same rules hold (decoders bound every size first; encoders never allocate).
 */
#pragma once

#include <stdint.h>

#include "schema/err.h"
#include "schema/schema.h"

/* ---- container protocol (host <-> container init, over SOCK_SEQPACKET) -------------------- */

enum proto_cmd_kind {
        PROTO_PING,          /* -> pong */
        PROTO_CONF,          /* build the root file system -> ok */
        PROTO_OPEN,          /* open files inside -> ok + fds (SCM_RIGHTS) */
        PROTO_DELETE,        /* unlink a path inside -> ok */
        PROTO_RESET,         /* kill all but init, empty /w and /tmp -> ok */
        PROTO_EXECVE,        /* fds by SCM_RIGHTS -> pid (SCM_CREDENTIALS) ... finished */
        PROTO_INIT_FINISHED, /* host to a waiting execve child: go on */
        PROTO_KILL,          /* host: kill the run (before or during it) */
        _PROTO_CMD_MAX,
        _PROTO_CMD_INVALID = -EINVAL,
};

enum proto_mount_kind {
        PROTO_MOUNT_BIND,    /* bind src at dst */
        PROTO_MOUNT_TMPFS,   /* tmpfs at dst, size_kib */
        PROTO_MOUNT_PROC,    /* proc of the container's pid namespace at dst */
        PROTO_MOUNT_SYMLINK, /* symlink dst -> src */
        _PROTO_MOUNT_MAX,
        _PROTO_MOUNT_INVALID = -EINVAL,
};

struct proto_mount {
        enum proto_mount_kind kind;
        char *src; /* owned; bind source or symlink target; NULL for tmpfs and proc */
        char *dst; /* owned; absolute path inside the container */
        bool ro;
        bool optional;     /* bind: skip when src does not exist */
        uint64_t size_kib; /* tmpfs size; 0 = kernel default */
};

struct proto_open_file {
        char *path;    /* owned; inside the container */
        int32_t flags; /* O_* flags; O_CLOEXEC is always added */
        uint32_t mode;
};

enum proto_rlimit {
        PROTO_RLIMIT_CPU,   /* seconds */
        PROTO_RLIMIT_FSIZE, /* bytes */
        PROTO_RLIMIT_STACK, /* bytes */
        PROTO_RLIMIT_AS,    /* bytes */
        PROTO_RLIMIT_NOFILE,
        PROTO_RLIMIT_NPROC,
        PROTO_RLIMIT_CORE, /* bytes */
        _PROTO_RLIMIT_MAX,
};

enum proto_policy {
        PROTO_POLICY_NONE,    /* no seccomp filter (trusted tools only) */
        PROTO_POLICY_COMPILE, /* compilers and build tools */
        PROTO_POLICY_RUN,     /* submissions */
        _PROTO_POLICY_MAX,
        _PROTO_POLICY_INVALID = -EINVAL,
};

const char *proto_policy_name(enum proto_policy p);
enum proto_policy proto_policy_from_name(const char *s);

#define PROTO_ARGV_MAX   256 /* argv and env entries */
#define PROTO_MOUNTS_MAX 64
#define PROTO_OPEN_MAX   16
#define PROTO_FDS_MAX    16           /* descriptors carried by one message */
#define PROTO_FILTER_MAX (4096 * 8)   /* bytes of one BPF program (BPF_MAXINSNS) */
#define PROTO_MSG_MAX    (256 * 1024) /* bytes of one protocol message */

struct proto_cmd {
        enum proto_cmd_kind kind;
        /* conf */
        struct proto_mount *mounts;
        size_t n_mounts;
        char *hostname;                       /* owned, or NULL */
        char *workdir;                        /* owned, or NULL ("/w") */
        uint32_t uid, gid;                    /* ids inside the container that programs run as */
        uint8_t *filter[_PROTO_POLICY_MAX];   /* owned; seccomp BPF (struct sock_filter[]) per
                                                 policy, compiled by the host; NULL = none */
        size_t filter_len[_PROTO_POLICY_MAX]; /* bytes; a multiple of 8, <= PROTO_FILTER_MAX */
        /* open */
        struct proto_open_file *files;
        size_t n_files;
        /* delete */
        char *path; /* owned */
        /* execve */
        char **argv; /* owned, NULL-terminated, n_argv >= 1 */
        size_t n_argv;
        char **env; /* owned, NULL-terminated */
        size_t n_env;
        char *dir; /* owned, or NULL (workdir): the program's current directory */
        uint64_t rlimits[_PROTO_RLIMIT_MAX]; /* UINT64_MAX = not set; RLIM_INFINITY otherwise */
        enum proto_policy policy;
        bool fexecve;   /* the 4th descriptor passed is the program to run */
        bool sync;      /* the child waits for init_finished before it executes */
        uint32_t n_fds; /* descriptors the message carries (stdin, stdout, stderr[, exe]) */
};

enum proto_reply_kind {
        PROTO_R_OK,       /* done; for open: n_fds descriptors follow by SCM_RIGHTS */
        PROTO_R_ERROR,    /* failed: code and message */
        PROTO_R_PID,      /* the run's child exists; its pid comes by SCM_CREDENTIALS */
        PROTO_R_FINISHED, /* the run ended */
        _PROTO_R_MAX,
        _PROTO_R_INVALID = -EINVAL,
};

enum proto_status {
        PROTO_EXITED,      /* exit_code is valid */
        PROTO_SIGNALED,    /* signal is valid */
        PROTO_KILLED,      /* killed on the host's kill command */
        PROTO_EXEC_FAILED, /* never ran: code and message say why */
        _PROTO_STATUS_MAX,
        _PROTO_STATUS_INVALID = -EINVAL,
};

const char *proto_reply_kind_name(enum proto_reply_kind kind); /* "ok"...; NULL if out of range */

struct proto_reply {
        enum proto_reply_kind kind;
        int32_t code;   /* error: -errno */
        char *message;  /* owned; error text, or NULL */
        uint32_t n_fds; /* ok to open */
        /* finished */
        enum proto_status status;
        int32_t exit_code;
        int32_t signal;
        uint64_t user_us, sys_us; /* rusage of the reaped child */
        uint64_t maxrss_kib;
        uint64_t wall_us; /* measured by init from fork to reap */
};

/*
 * Container protocol codec. Decode: same contract as the job decoder (all copied; release with
 * proto_cmd_done / proto_reply_done), with the fixed PROTO_*_MAX bounds on top of lim.
 * Encode: into buf[0..size), no allocation (the exec path and the container init use it);
 * returns the encoded length, or -EMSGSIZE when it does not fit.
 */
int schema_proto_cmd_decode(const void *buf, size_t len, const struct schema_limits *lim,
                            struct proto_cmd *ret_cmd, struct gv_err *err);
int schema_proto_reply_decode(const void *buf, size_t len, const struct schema_limits *lim,
                              struct proto_reply *ret_reply, struct gv_err *err);
int schema_proto_cmd_encode(const struct proto_cmd *cmd, void *buf, size_t size);
int schema_proto_reply_encode(const struct proto_reply *reply, void *buf, size_t size);
void proto_cmd_done(struct proto_cmd *cmd);
void proto_reply_done(struct proto_reply *reply);
