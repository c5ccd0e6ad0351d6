/* SPDX-License-Identifier: MIT */
/*
 * The idempotent producer: jobs from `gavel submit`, progress events from the worker. At least
 * once: librdkafka retries and the broker drops the retries' duplicates; delivery failures are
 * collected and reported by queue_producer_flush.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>

#include "queue/queue-internal.h"
#include "schema/cleanup.h"

struct queue_producer {
        struct queue__log log; /* first: the client's opaque */
        rd_kafka_t *rk;
        pthread_mutex_t lock; /* failures are counted on librdkafka's thread */
        uint64_t failures;    /* deliveries failed since the last flush */
        rd_kafka_resp_err_t first_failure;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        struct queue_producer *prod = opaque;

        (void)rk;
        if (!m->err)
                return;
        pthread_mutex_lock(&prod->lock);
        if (prod->failures++ == 0)
                prod->first_failure = m->err;
        pthread_mutex_unlock(&prod->lock);
}

/* An idempotent producer; transactional when txn_id is not NULL. */
static int producer_new(const struct queue_conf *conf, const char *txn_id,
                        struct queue_producer **ret_prod, struct gv_err *err)
{
        static const struct queue__kv defaults[] = {
                {"linger.ms", "5"},
                {"message.timeout.ms", "60000"},
        };
        const struct queue__kv forced[] = {
                {"enable.idempotence", "true"},
                {"transactional.id", txn_id},
        };
        struct queue_producer *prod;
        rd_kafka_conf_t *rconf;
        int r;

        prod = xcalloc(1, sizeof(*prod));
        prod->log.fn = conf->log;
        prod->log.userdata = conf->log_userdata;
        pthread_mutex_init(&prod->lock, NULL);
        r = queue__conf_new(conf, defaults, ARRAY_SIZE(defaults), forced,
                            txn_id ? ARRAY_SIZE(forced) : 1, &prod->log, &rconf, err);
        if (r == 0) {
                rd_kafka_conf_set_dr_msg_cb(rconf, dr_cb);
                r = queue__client_new(RD_KAFKA_PRODUCER, rconf, &prod->rk, err);
        }
        if (r < 0) {
                pthread_mutex_destroy(&prod->lock);
                free(prod);
                return r;
        }
        *ret_prod = prod;
        return 0;
}

int queue_producer_new(const struct queue_conf *conf, struct queue_producer **ret_prod,
                       struct gv_err *err)
{
        return producer_new(conf, NULL, ret_prod, err);
}

int queue_producer_new_txn(const struct queue_conf *conf, const char *transactional_id,
                           int timeout_ms, struct queue_producer **ret_prod, struct gv_err *err)
{
        struct queue_producer *prod;
        int r;

        r = producer_new(conf, transactional_id, &prod, err);
        if (r < 0)
                return r;
        r = queue__error(rd_kafka_init_transactions(prod->rk, timeout_ms), err,
                         "init transactions");
        if (r < 0) {
                queue_producer_free(prod);
                return r;
        }
        *ret_prod = prod;
        return 0;
}

int queue_producer_begin(struct queue_producer *prod, struct gv_err *err)
{
        return queue__error(rd_kafka_begin_transaction(prod->rk), err, "begin transaction");
}

int queue_producer_abort(struct queue_producer *prod, int timeout_ms, struct gv_err *err)
{
        return queue__error(rd_kafka_abort_transaction(prod->rk, timeout_ms), err,
                            "abort transaction");
}

int queue_producer_commit(struct queue_producer *prod, int timeout_ms, struct gv_err *err)
{
        int r;

        /* every delivery first: the commit must not go out with a message that failed */
        r = queue_producer_flush(prod, timeout_ms, err);
        if (r == 0)
                for (int tries = 0; tries < 3; tries++) {
                        r = queue__error(rd_kafka_commit_transaction(prod->rk, timeout_ms), err,
                                         "commit transaction");
                        if (r != -EAGAIN)
                                break;
                }
        /* a commit still in progress cannot be aborted: the caller may call commit again */
        if (r < 0 && r != -ENOTRECOVERABLE && r != -EAGAIN) {
                struct gv_err ignored;

                (void)queue_producer_abort(prod, timeout_ms, &ignored);
                return r == -EIO || r == -ETIMEDOUT ? gv_err_prefix(err, r, "aborted: ") : r;
        }
        return r;
}

void queue_producer_close(struct queue_producer *prod, int flush_ms)
{
        if (!prod)
                return;
        rd_kafka_flush(prod->rk, flush_ms);
        rd_kafka_destroy(prod->rk);
        pthread_mutex_destroy(&prod->lock);
        free(prod);
}

void queue_producer_free(struct queue_producer *prod)
{
        queue_producer_close(prod, 10000);
}

int queue_producer_send(struct queue_producer *prod, const char *topic, int32_t partition,
                        const void *key, size_t key_len, const void *value, size_t len,
                        const struct queue_header *headers, size_t n_headers, struct gv_err *err)
{
        rd_kafka_resp_err_t e;

        for (int tries = 0;; tries++) {
                rd_kafka_headers_t *hdrs = queue__headers(headers, n_headers);

                /* the opaque of the dr callback is the client's; each message needs none */
                e = rd_kafka_producev(
                        prod->rk, RD_KAFKA_V_TOPIC(topic),
                        RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
                        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_HEADERS(hdrs),
                        RD_KAFKA_V_END);
                if (e && hdrs)
                        rd_kafka_headers_destroy(hdrs); /* taken only on success */
                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries >= 10)
                        break;
                rd_kafka_poll(prod->rk, 100); /* serve delivery reports to make room */
        }
        if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
                return gv_err_set(err, -EMSGSIZE, "%s: message of %zu bytes: %s", topic, len,
                                  rd_kafka_err2str(e));
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                return gv_err_set(err, -EAGAIN, "%s: %s", topic, rd_kafka_err2str(e));
        if (e == RD_KAFKA_RESP_ERR__FATAL) {
                char reason[256];

                rd_kafka_fatal_error(prod->rk, reason, sizeof(reason));
                return gv_err_set(err, -ENOTRECOVERABLE, "%s: %s", topic, reason);
        }
        return queue__resp(e, err, topic);
}

int queue_producer_flush(struct queue_producer *prod, int timeout_ms, struct gv_err *err)
{
        rd_kafka_resp_err_t e = rd_kafka_flush(prod->rk, timeout_ms);
        rd_kafka_resp_err_t first;
        uint64_t failures;

        pthread_mutex_lock(&prod->lock);
        failures = prod->failures;
        first = prod->first_failure;
        prod->failures = 0;
        pthread_mutex_unlock(&prod->lock);
        if (failures)
                return gv_err_set(err, -EIO, "%" PRIu64 " message(s) not delivered: %s", failures,
                                  rd_kafka_err2str(first));
        if (e == RD_KAFKA_RESP_ERR__TIMED_OUT)
                return gv_err_set(err, -ETIMEDOUT, "%d message(s) not delivered after %d ms",
                                  rd_kafka_outq_len(prod->rk), timeout_ms);
        return 0;
}

void queue_producer_poll(struct queue_producer *prod)
{
        rd_kafka_poll(prod->rk, 0);
}
