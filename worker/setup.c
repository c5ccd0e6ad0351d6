/* SPDX-License-Identifier: MIT */
/*
 * From a worker configuration to every library's (see setup.h). Nothing else in the program
 * copies a configuration field into a library's configuration.
 */
#include <stdio.h>

#include "worker/kafka.h"
#include "worker/setup.h"

/* A configured limit over the engine's default: a 0 field keeps the default. */
static void override_limits(struct job_limits *dst, const struct job_limits *src)
{
        if (src->time_ms)
                dst->time_ms = src->time_ms;
        if (src->wall_ms)
                dst->wall_ms = src->wall_ms;
        if (src->memory_kib)
                dst->memory_kib = src->memory_kib;
        if (src->output_kib)
                dst->output_kib = src->output_kib;
}

void setup_judge_conf(const struct worker_config *conf, const struct lang_table *langs,
                      const char *worker_id, struct judge_conf *ret)
{
        judge_conf_default(ret);
        ret->slots = conf->slots;
        ret->langs = langs;
        ret->problem_store = conf->problems;
        ret->cache_dir = conf->cache_dir;
        ret->cache_max_kib = conf->cache_max_kib;
        ret->worker_id = worker_id;
        if (conf->pool)
                ret->sandbox.pool_size = conf->pool;
        override_limits(&ret->max_limits, &conf->max_limits);
        override_limits(&ret->default_limits, &conf->default_limits);
}

int setup_judge(const struct worker_config *conf, const char *worker_id,
                struct lang_table **ret_langs, struct judge **ret_judge, struct gv_err *err)
{
        struct lang_table *langs = NULL;
        struct judge_conf jc;
        int r;

        r = lang_table_load(conf->languages, &langs, err);
        if (r < 0)
                return r;
        setup_judge_conf(conf, langs, worker_id, &jc);
        r = judge_new(&jc, ret_judge, err);
        if (r < 0) {
                lang_table_free(langs);
                return r;
        }
        *ret_langs = langs;
        return 0;
}

void setup_audit_conf(const struct worker_config *conf, const char *worker_id, audit_log_fn log,
                      struct audit_conf *ret)
{
        *ret = (struct audit_conf){
                .path = conf->audit,
                .worker_id = worker_id,
                .writer = true,
                .create = true,
                .log = log,
        };
}

void setup_queue_conf(const struct worker_config *conf, const char *brokers, const char *client_id,
                      struct queue_conf *ret)
{
        *ret = (struct queue_conf){
                .brokers = brokers ? brokers : conf->brokers,
                .client_id = client_id,
                .props = conf->kafka,
                .n_props = conf->n_kafka,
                .log = kafka_log,
        };
}

void setup_eos_conf(const struct worker_config *conf, const char *worker_id, unsigned slots,
                    char *txn_id, size_t txn_id_size, struct queue_eos_conf *ret)
{
        queue_eos_conf_default(ret);
        setup_queue_conf(conf, NULL, worker_id, &ret->kafka);
        snprintf(txn_id, txn_id_size, "gavel-%.100s-%.100s", conf->group, worker_id);
        ret->group = conf->group;
        ret->jobs_topic = conf->topic_jobs;
        ret->verdicts_topic = conf->topic_verdicts;
        ret->dlq_topic = conf->topic_dlq;
        ret->transactional_id = txn_id;
        ret->max_in_flight = slots;
        ret->window = conf->window ? conf->window : 4 * slots + 16;
        ret->batch_max = conf->batch_max;
        ret->linger_ms = conf->linger_ms;
        ret->session_timeout_ms = conf->session_timeout_ms;
        ret->mock_compat = conf->mock_compat;
}
