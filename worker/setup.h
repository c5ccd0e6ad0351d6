/* SPDX-License-Identifier: MIT */
/*
 * The one place a worker configuration (worker/config.h: the YAML file with command-line
 * overrides) becomes the configurations of the libraries: the judging engine's (with the
 * container pool's inside it), the audit log's and the Kafka session's. `gavel worker`,
 * `replay`, `run` and `bench` all build theirs here, so a key of the file means the same to
 * each of them (a rejudge runs under the limits the worker judged with).
 */
#pragma once

#include <stddef.h>

#include "queue/queue.h"
#include "schema/err.h"
#include "worker/audit/audit.h"
#include "worker/config.h"
#include "worker/judge/judge.h"

/*
 * The engine's configuration of conf: slots, problem store, compile cache and its size, pool
 * size, default and maximum limits (a 0 field of conf keeps the engine's default), with langs
 * (borrowed, see lang_table_load) and worker_id (borrowed; NULL: the host name). Points into
 * conf, which must outlive *ret.
 */
void setup_judge_conf(const struct worker_config *conf, const struct lang_table *langs,
                      const char *worker_id, struct judge_conf *ret);

/*
 * Loads the language table of conf (the built-in one with conf->languages over it) and starts
 * the engine of setup_judge_conf. On success *ret_langs and *ret_judge are the caller's (free
 * the engine first); on failure nothing is left and err says why (lang_table_load's errors, then
 * judge_new's).
 */
int setup_judge(const struct worker_config *conf, const char *worker_id,
                struct lang_table **ret_langs, struct judge **ret_judge, struct gv_err *err);

/* The audit log's configuration for a worker writing conf->audit (borrowed, as worker_id). */
void setup_audit_conf(const struct worker_config *conf, const char *worker_id, audit_log_fn log,
                      struct audit_conf *ret);

/* A Kafka client's configuration: conf's brokers (or brokers when not NULL) and properties. */
void setup_queue_conf(const struct worker_config *conf, const char *brokers, const char *client_id,
                      struct queue_conf *ret);

/*
 * The exactly-once session's configuration for worker worker_id judging slots jobs at once:
 * topics, group, window, batches, session timeout, mock step, and the transactional id
 * "gavel-<group>-<id>" written into txn_id[0..txn_id_size). Points into conf and txn_id.
 */
void setup_eos_conf(const struct worker_config *conf, const char *worker_id, unsigned slots,
                    char *txn_id, size_t txn_id_size, struct queue_eos_conf *ret);
