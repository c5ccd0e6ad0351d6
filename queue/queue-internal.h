/* SPDX-License-Identifier: MIT */
/*
 * Declarations shared by the files of queue/: building a librdkafka configuration from a
 * struct queue_conf, routing librdkafka's logs, and the one mapping of librdkafka's errors onto
 * gavel's -errno codes.
 */
#pragma once

#include <librdkafka/rdkafka.h>

#include "queue/queue.h"

/* The first member of every object set as a client's opaque, so the log callback finds it. */
struct queue__log {
        queue_log_fn fn;
        void *userdata;
};

/* A property gavel sets; see queue__conf_new. */
struct queue__kv {
        const char *name;
        const char *value;
};

/*
 * A new librdkafka configuration: gavel's defaults, then conf->props, then forced (settings the
 * code relies on; a conf->props entry for one of them is an error unless it has the same value),
 * with log routed to log (the opaque, which must outlive the client). -EINVAL naming the property.
 */
int queue__conf_new(const struct queue_conf *conf, const struct queue__kv *defaults,
                    size_t n_defaults, const struct queue__kv *forced, size_t n_forced,
                    struct queue__log *log, rd_kafka_conf_t **ret_conf, struct gv_err *err);

/* rd_kafka_new with the error as a gv_err; takes conf on success, frees it on failure. */
int queue__client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, rd_kafka_t **ret_rk,
                      struct gv_err *err);

/* Logs through log (may be NULL) at level, facility fac. */
__attribute__((format(printf, 4, 5))) void queue__logf(const struct queue__log *log, int level,
                                                       const char *fac, const char *fmt, ...);

/*
 * The one mapping of librdkafka errors (after examples/transactions.c): fatal -> -ENOTRECOVERABLE
 * (destroy the client), needs an abort -> -ECANCELED (abort, redo the batch), retriable ->
 * -EAGAIN (call again), anything else -> -ENOTRECOVERABLE. Destroys error, sets err to
 * "what: librdkafka's message" and returns the code; 0 for a NULL error.
 */
int queue__error(rd_kafka_error_t *error, struct gv_err *err, const char *what);

/* The same for a plain error code (a produce's return, a delivery report). */
int queue__resp(rd_kafka_resp_err_t code, struct gv_err *err, const char *what);

/* Partition count of topic, from the cluster's metadata: -ENOENT when it does not exist. */
int queue__partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, int *ret_n,
                      struct gv_err *err);

/* Adds the headers to a new rd_kafka_headers_t (or NULL when n is 0). */
rd_kafka_headers_t *queue__headers(const struct queue_header *headers, size_t n);

/* Fills msg from m (priv = m). */
void queue__msg_from(struct queue_msg *msg, const rd_kafka_message_t *m);
