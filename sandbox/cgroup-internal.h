/* SPDX-License-Identifier: MIT */
/*
 * cgroups behind one interface (crun's cgroup-internal.h pattern): detection of the layout
 * (v1, v2 or hybrid) at start, and one long-lived cgroup set per container whose counters are
 * reset between runs. Host side only; the container init never touches cgroups.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "schema/err.h"

enum cgroup_mode {
        CGROUP_MODE_V1,     /* only v1 hierarchies */
        CGROUP_MODE_HYBRID, /* v1 controllers plus a cgroup2 mount (this machine) */
        CGROUP_MODE_V2,     /* unified only */
        _CGROUP_MODE_MAX,
        _CGROUP_MODE_INVALID = -EINVAL,
};

const char *sandbox__cgroup_mode_name(enum cgroup_mode mode); /* "v1", "hybrid", "v2" */

struct cgroup_sys; /* the detected layout and the base directories gavel creates cgroups under */
struct cgroup;     /* one container's cgroup set */

/*
 * Detects the cgroup layout from /proc/self/mountinfo and /proc/self/cgroup and prepares a base
 * cgroup "<own cgroup>/<name>" in each hierarchy used (memory, pids, cpu accounting, kill).
 * The environment variable GAVEL_CGROUP_MODE (v1, hybrid, v2) forces a mode for tests;
 * GAVEL_CGROUP_ROOT names a delegated v2 directory to use instead of the own cgroup.
 * Hierarchies used: v1 memory, pids, cpuacct (+ freezer when mounted); hybrid: v1 memory and
 * pids plus a v2 cgroup for cpu.stat and cgroup.kill; v2: the unified one with +memory +pids
 * enabled in the base's subtree_control. On v2, when enabling them in the parent fails with
 * EBUSY and the parent is this process's own cgroup (no-internal-processes rule), this process
 * moves into the leaf "<base>/worker" and retries; sys_free moves it back. A missing controller
 * fails with -EOPNOTSUPP naming it. name: one path component. Returns 0, or -errno with err
 * naming the file that failed; nothing is left behind on failure.
 */
int sandbox__cgroup_sys_new(const char *name, struct cgroup_sys **ret_sys, struct gv_err *err);
/* Rmdirs the base (every set must be freed before); NULL is a no-op. */
void sandbox__cgroup_sys_free(struct cgroup_sys *sys);
enum cgroup_mode sandbox__cgroup_sys_mode(const struct cgroup_sys *sys);

/* Creates the cgroup set "<base>/<name>" (mkdir in each hierarchy, files opened once); an
 * existing directory of that name is reused. name: one path component, not "worker". */
int sandbox__cgroup_new(struct cgroup_sys *sys, const char *name, struct cgroup **ret_cg,
                        struct gv_err *err);
/* Kills whatever is left in it, removes the directories; NULL is a no-op. */
void sandbox__cgroup_free(struct cgroup *cg);

/* Sets the memory limit (bytes; 0 = none) and pids.max (0 = none). Writes only what changed. */
int sandbox__cgroup_set_limits(struct cgroup *cg, uint64_t memory_bytes, uint64_t pids_max,
                               struct gv_err *err);
/* Starts a run: resets the peak memory counter and takes baselines of cpu usage, OOM kills and
 * pids.max hits. The set must be empty. The directories are made anew (0.1 to 0.6 ms) when
 * earlier runs left over 1 MiB charged to them (a compiler's page cache), which would count in
 * this run's peak and against its limit, and on v2 kernels before 6.12, whose memory.peak
 * cannot be reset, from the second run on. */
int sandbox__cgroup_begin(struct cgroup *cg, struct gv_err *err);
/* Moves pid (a host pid) into every hierarchy of the set. */
int sandbox__cgroup_attach(struct cgroup *cg, pid_t pid, struct gv_err *err);

struct cgroup_stats {
        uint64_t cpu_ns;      /* cpu time of all tasks since begin (user + system) */
        uint64_t user_ns;     /* part of it in user mode, when known; else 0 */
        uint64_t memory_peak; /* bytes, peak since begin; 0 when unknown (v2 before 5.19) */
        uint64_t oom_kills;   /* OOM kills since begin */
        uint64_t pids_peak;   /* tasks at most, known only in the first run of a set (the
                               * kernel cannot reset pids.peak); else 0 */
        bool pids_limited;    /* a fork failed on pids.max since begin */
};

/* Cheap (one pread on a kept-open file): cpu time since begin, in ns. Returns 0 or -errno. */
int sandbox__cgroup_cpu_ns(struct cgroup *cg, uint64_t *ret_ns);
int sandbox__cgroup_stats(struct cgroup *cg, struct cgroup_stats *ret_stats, struct gv_err *err);
/* Kills every task in the set: cgroup.kill (v2 or hybrid), else freezer, else SIGKILL each.
 * Returns once the signals are sent; the tasks leave the set as they exit. */
int sandbox__cgroup_kill(struct cgroup *cg, struct gv_err *err);
/* Number of processes in the set that have not exited (cgroup.procs: a zombie no longer counts,
 * though v1 pids.current still does); or -errno. */
int sandbox__cgroup_ntasks(struct cgroup *cg);

/* ---- pure parsing, exposed for unit tests ---- */

struct cgroup_mount {
        char path[4096]; /* mount point, or "" when not mounted */
        char root[4096]; /* the directory of the hierarchy mounted there: "/" but in some
                          * containers without a cgroup namespace */
};

struct cgroup_mounts {
        struct cgroup_mount v2;                             /* the first cgroup2 mount */
        struct cgroup_mount memory, pids, cpuacct, freezer; /* the first v1 mount of each */
};

/* Parses the text of /proc/self/mountinfo (unescaping \040 and friends). Returns 0, or
 * -EBADMSG / -ENAMETOOLONG with err naming the line. */
int sandbox__cgroup_parse_mountinfo(const char *text, struct cgroup_mounts *ret,
                                    struct gv_err *err);
/* Finds the path of controller ctrl ("memory", ...; "" for the v2 line "0::") in the text of
 * /proc/self/cgroup; writes it to buf. Returns 0, -ENOENT when absent, -EBADMSG on a malformed
 * line before it, -ENAMETOOLONG when buf is too small. */
int sandbox__cgroup_parse_self(const char *text, const char *ctrl, char *buf, size_t size);
/* Chooses the mode from the mounts, or checks forced ("v1", "hybrid", "v2"; NULL or "" = auto)
 * against them. Returns 0, -ENOENT when no hierarchy is mounted, -EINVAL for a bad forced
 * name, -EOPNOTSUPP when a needed hierarchy is missing (err names it). */
int sandbox__cgroup_detect_mode(const struct cgroup_mounts *mounts, const char *forced,
                                enum cgroup_mode *ret_mode, struct gv_err *err);
/* Reads the value of the line "<key> <u64>" in a flat-keyed file (memory.events,
 * memory.oom_control, cpu.stat, pids.events); the key must match the whole first word, so
 * "oom_kill" does not match "oom_kill_disable". Returns 0, -ENOENT, or -EBADMSG. */
int sandbox__cgroup_parse_keyed(const char *text, const char *key, uint64_t *ret);
