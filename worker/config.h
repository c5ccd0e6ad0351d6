/* SPDX-License-Identifier: MIT */
/*
 * The configuration of `gavel worker`: a YAML file (ops/examples/worker.yaml shows every key)
 * with command-line overrides on top. Any librdkafka property passes through under `kafka:`, so
 * SASL and TLS to real clusters need no code. A broken file is an error naming the file, the
 * line and the key ("worker.yaml:7: limits.max.time_ms: expected an integer in 1..600000").
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue/queue.h"
#include "schema/err.h"
#include "schema/schema.h"

#define CONFIG_PROPS_MAX 64

struct worker_config {
        char *brokers;        /* bootstrap.servers; required (file or --brokers) */
        char *group;          /* consumer group (default "gavel") */
        char *id;             /* worker id in verdicts and the transactional id; NULL: derived
                                 from the host name and a free local slot number */
        char *topic_jobs;     /* gavel.jobs */
        char *topic_verdicts; /* gavel.verdicts */
        char *topic_progress; /* gavel.progress */
        char *topic_dlq;      /* gavel.jobs.dlq */
        unsigned slots;       /* jobs judged at once; 0: the number of cores */
        unsigned window;      /* jobs held per partition before it is paused; 0: 4 * slots + 16 */
        unsigned batch_max;   /* verdicts per transaction at most (64) */
        unsigned linger_ms;   /* how long a verdict may wait for batch-mates (0) */
        unsigned session_timeout_ms; /* the group's session timeout; 0: librdkafka's 45 s */
        unsigned grace_ms;           /* on SIGTERM, how long jobs being judged may finish (30 s) */
        unsigned status_interval_ms; /* a status line in the log this often; 0: never (60 s) */
        enum queue_mock_compat mock_compat; /* auto */
        struct job_limits max_limits;       /* a job asking for more is REJECTED; 0: the engine's */
        struct job_limits default_limits;   /* when neither job nor problem gives one */
        char *problems;                     /* the problem store folder, or NULL */
        char *languages;                    /* the operator's language table, or NULL */
        char *cache_dir;                    /* the compile cache, or NULL: the engine's default */
        uint64_t cache_max_kib;             /* 0: the engine's default */
        unsigned pool;                      /* containers kept ready; 0: slots + 1 */
        char *audit;                        /* the audit log's path, or NULL: none */
        struct queue_prop kafka[CONFIG_PROPS_MAX]; /* librdkafka properties; strings owned */
        size_t n_kafka;
};

/* The defaults (see the fields). */
void worker_config_init(struct worker_config *conf);
void worker_config_done(struct worker_config *conf); /* frees the strings; NULL is a no-op */

/*
 * Reads the YAML file at path over conf: keys given there replace conf's values. Unknown keys,
 * wrong types and values out of range are -EINVAL naming file, line and key; librdkafka
 * properties are checked by librdkafka's own rules.
 */
int worker_config_load(struct worker_config *conf, const char *path, struct gv_err *err);

/* Sets a string field (replacing it); for command-line overrides. */
void worker_config_set(char **field, const char *value);

/*
 * Adds or replaces librdkafka property name (a -X option, or kafka: in the file). -E2BIG when
 * there are CONFIG_PROPS_MAX already.
 */
int worker_config_prop(struct worker_config *conf, const char *name, const char *value,
                       struct gv_err *err);
