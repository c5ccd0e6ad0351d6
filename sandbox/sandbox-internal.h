/* SPDX-License-Identifier: MIT */
/*
 * What the sandbox's host-side files share: the environment common to all containers of a pool
 * (cgroup layout, compiled seccomp policies, the encoded conf message) and one container.
 */
#pragma once

#include <limits.h>
#include <stdatomic.h>

#include "sandbox/cgroup-internal.h"
#include "sandbox/sandbox.h"

struct sandbox_env {
        struct sandbox_conf conf;
        char init_path[PATH_MAX];
        struct cgroup_sys *cgsys;
        uint8_t *filter[_PROTO_POLICY_MAX]; /* compiled BPF per policy */
        size_t filter_len[_PROTO_POLICY_MAX];
        bool userns;        /* containers get a user namespace */
        bool userns_probed; /* the first creation decided userns */
        int devnull;        /* host /dev/null, O_RDWR */
        uint8_t *conf_msg;  /* the encoded conf command, the same for every container */
        size_t conf_len;
        uint8_t go_msg[32], kill_msg[32]; /* encoded init_finished and kill */
        size_t go_len, kill_len;
        atomic_uint seq;  /* names cgroups */
        unsigned ncpu;    /* bounds what a container may claim: cpu time within a wall time */
        uint64_t ram_kib; /* and peak memory */
};

struct sandbox {
        struct sandbox_env *env;
        pid_t pid;            /* host pid of the container's init */
        int pidfd;            /* of the init */
        int sock;             /* host end of the socketpair */
        struct cgroup *cg;    /* the runs' cgroup set */
        unsigned uses;        /* runs so far */
        bool broken;          /* misbehaved: destroy instead of reuse */
        uint8_t *buf;         /* PROTO_MSG_MAX bytes for encoding and receiving */
        struct sandbox *next; /* in the pool's lists */
};

int sandbox__env_init(struct sandbox_env *env, const struct sandbox_conf *conf, struct gv_err *err);
void sandbox__env_done(struct sandbox_env *env);
int sandbox__create(struct sandbox_env *env, struct sandbox **ret_sb, struct gv_err *err);
void sandbox__destroy(struct sandbox *sb);
/* True when the init has exited (a cheap poll on its pidfd). */
bool sandbox__dead(const struct sandbox *sb);
