/* SPDX-License-Identifier: MIT */
/*
 * What every Kafka client of gavel shares: its configuration (gavel's defaults, the operator's
 * passthrough properties, the settings the code relies on), its log routing, the error mapping,
 * topic metadata and message headers.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "queue/queue-internal.h"

static int conf_set(rd_kafka_conf_t *rconf, const char *name, const char *value, const char *who,
                    struct gv_err *err)
{
        char errstr[256];

        if (rd_kafka_conf_set(rconf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
                return gv_err_set(err, -EINVAL, "%s%s: %s", who, name, errstr);
        return 0;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        const struct queue__log *log = rd_kafka_opaque(rk);

        if (log && log->fn)
                log->fn(level, fac, buf, log->userdata);
}

void queue__logf(const struct queue__log *log, int level, const char *fac, const char *fmt, ...)
{
        char buf[512];
        va_list ap;

        if (!log || !log->fn)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        log->fn(level, fac, buf, log->userdata);
}

int queue__conf_new(const struct queue_conf *conf, const struct queue__kv *defaults,
                    size_t n_defaults, const struct queue__kv *forced, size_t n_forced,
                    struct queue__log *log, rd_kafka_conf_t **ret_conf, struct gv_err *err)
{
        rd_kafka_conf_t *rconf;
        int r;

        if (!conf->brokers || !*conf->brokers)
                return gv_err_set(err, -EINVAL, "brokers: missing");
        rconf = rd_kafka_conf_new();
        r = conf_set(rconf, "bootstrap.servers", conf->brokers, "", err);
        if (r == 0)
                r = conf_set(rconf, "client.id", conf->client_id ? conf->client_id : "gavel", "",
                             err);
        for (size_t i = 0; r == 0 && i < n_defaults; i++)
                r = conf_set(rconf, defaults[i].name, defaults[i].value, "", err);
        for (size_t i = 0; r == 0 && i < conf->n_props; i++) {
                const struct queue_prop *p = &conf->props[i];

                for (size_t k = 0; k < n_forced; k++)
                        if (!strcmp(p->name, forced[k].name) && strcmp(p->value, forced[k].value))
                                r = gv_err_set(err, -EINVAL,
                                               "kafka.%s: gavel needs '%s' here (it is set to "
                                               "'%s')",
                                               p->name, forced[k].value, p->value);
                if (r == 0)
                        r = conf_set(rconf, p->name, p->value, "kafka.", err);
        }
        for (size_t i = 0; r == 0 && i < n_forced; i++)
                r = conf_set(rconf, forced[i].name, forced[i].value, "", err);
        if (r < 0) {
                rd_kafka_conf_destroy(rconf);
                return r;
        }
        rd_kafka_conf_set_opaque(rconf, log);
        rd_kafka_conf_set_log_cb(rconf, log_cb);
        *ret_conf = rconf;
        return 0;
}

int queue__client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, rd_kafka_t **ret_rk,
                      struct gv_err *err)
{
        char errstr[512];
        rd_kafka_t *rk;

        rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                return gv_err_set(err, -EINVAL, "kafka client: %s", errstr);
        }
        *ret_rk = rk;
        return 0;
}

int queue_conf_check(const struct queue_conf *conf, struct gv_err *err)
{
        rd_kafka_conf_t *rconf = NULL;
        int r;

        r = queue__conf_new(conf, NULL, 0, NULL, 0, NULL, &rconf, err);
        if (r == 0)
                rd_kafka_conf_destroy(rconf);
        return r;
}

int queue__error(rd_kafka_error_t *error, struct gv_err *err, const char *what)
{
        int code;

        if (!error)
                return 0;
        if (rd_kafka_error_is_fatal(error))
                code = -ENOTRECOVERABLE;
        else if (rd_kafka_error_txn_requires_abort(error))
                code = -ECANCELED;
        else if (rd_kafka_error_is_retriable(error))
                code = -EAGAIN;
        else
                code = -ENOTRECOVERABLE; /* the transactions API documents no other class */
        gv_err_set(err, code, "%s: %s", what, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return code;
}

int queue__resp(rd_kafka_resp_err_t code, struct gv_err *err, const char *what)
{
        if (code == RD_KAFKA_RESP_ERR_NO_ERROR)
                return 0;
        return queue__error(rd_kafka_error_new(code, "%s", rd_kafka_err2str(code)), err, what);
}

int queue__partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, int *ret_n,
                      struct gv_err *err)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt;
        rd_kafka_resp_err_t e;
        int r = 0;

        rkt = rd_kafka_topic_new(rk, topic, NULL);
        if (!rkt)
                return gv_err_set(err, -EINVAL, "topic '%s': %s", topic,
                                  rd_kafka_err2str(rd_kafka_last_error()));
        e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
        rd_kafka_topic_destroy(rkt);
        if (e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__TIMED_OUT)
                return gv_err_set(err, -ETIMEDOUT, "topic '%s': no broker answered: %s", topic,
                                  rd_kafka_err2str(e));
        if (e)
                return gv_err_set(err, -EIO, "topic '%s': metadata: %s", topic,
                                  rd_kafka_err2str(e));
        if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0)
                r = gv_err_set(err, -ENOENT, "topic '%s' does not exist%s%s", topic,
                               md->topic_cnt == 1 && md->topics[0].err ? ": " : "",
                               md->topic_cnt == 1 && md->topics[0].err
                                       ? rd_kafka_err2str(md->topics[0].err)
                                       : "");
        else
                *ret_n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        return r;
}

rd_kafka_headers_t *queue__headers(const struct queue_header *headers, size_t n)
{
        rd_kafka_headers_t *hdrs;

        if (n == 0)
                return NULL;
        hdrs = rd_kafka_headers_new(n);
        for (size_t i = 0; i < n; i++)
                rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value,
                                    headers[i].value ? (ssize_t)headers[i].len : 0);
        return hdrs;
}

void queue__msg_from(struct queue_msg *msg, const rd_kafka_message_t *m)
{
        rd_kafka_timestamp_type_t tstype;

        msg->topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
        msg->partition = m->partition;
        msg->offset = m->offset;
        msg->timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
        if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
                msg->timestamp_ms = -1;
        msg->key = m->key;
        msg->key_len = m->key_len;
        msg->value = m->payload;
        msg->len = m->len;
        msg->priv = m;
}

int queue_msg_header(const struct queue_msg *msg, const char *name, const void **ret_value,
                     size_t *ret_len)
{
        rd_kafka_headers_t *hdrs;
        const void *value;
        size_t len;

        if (!msg->priv || rd_kafka_message_headers(msg->priv, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
                return -ENOENT;
        if (rd_kafka_header_get_last(hdrs, name, &value, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
                return -ENOENT;
        *ret_value = value;
        *ret_len = len;
        return 0;
}
