/* SPDX-License-Identifier: MIT */
/*
 * The whole-topic reader of `gavel results`, `gavel submit --wait` and the tests: a consumer
 * without a group that is assigned every partition of its topics and reads them read_committed,
 * noting which partitions it has read to the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue-internal.h"
#include "schema/cleanup.h"

#define READER_META_TIMEOUT_MS 10000

struct reader_part {
        char *topic;
        int32_t partition;
        bool at_end; /* an end-of-partition event came after its last message */
};

struct queue_reader {
        struct queue__log log; /* first: the client's opaque */
        rd_kafka_t *rk;
        struct reader_part *parts;
        size_t n_parts;
        rd_kafka_message_t *held; /* returned by the last queue_reader_next */
};

static int reader_assign(struct queue_reader *rd, enum queue_start start, struct gv_err *err)
{
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_resp_err_t e = 0;
        int r = 0;

        list = rd_kafka_topic_partition_list_new((int)rd->n_parts);
        for (size_t i = 0; i < rd->n_parts; i++) {
                struct reader_part *p = &rd->parts[i];
                rd_kafka_topic_partition_t *tp;
                int64_t lo, hi = RD_KAFKA_OFFSET_BEGINNING;

                if (start == QUEUE_START_END) {
                        e = rd_kafka_query_watermark_offsets(rd->rk, p->topic, p->partition, &lo,
                                                             &hi, READER_META_TIMEOUT_MS);
                        if (e) {
                                r = gv_err_set(err, -ETIMEDOUT, "%s[%d]: end offset: %s", p->topic,
                                               p->partition, rd_kafka_err2str(e));
                                break;
                        }
                }
                tp = rd_kafka_topic_partition_list_add(list, p->topic, p->partition);
                tp->offset = hi;
        }
        if (r == 0) {
                e = rd_kafka_assign(rd->rk, list);
                if (e)
                        r = gv_err_set(err, -EIO, "assign: %s", rd_kafka_err2str(e));
        }
        rd_kafka_topic_partition_list_destroy(list);
        return r;
}

int queue_reader_new(const struct queue_conf *conf, const char *const *topics, size_t n_topics,
                     enum queue_start start, struct queue_reader **ret_reader, struct gv_err *err)
{
        static const struct queue__kv defaults[] = {
                {"fetch.wait.max.ms", "10"}, /* the mock holds an empty fetch this long */
        };
        static const struct queue__kv forced[] = {
                {"group.id", "gavel.reader"}, /* librdkafka's assign() wants one; never joined */
                {"isolation.level", "read_committed"}, {"enable.partition.eof", "true"},
                {"enable.auto.commit", "false"},       {"auto.offset.reset", "earliest"},
        };
        struct queue_reader *rd;
        rd_kafka_conf_t *rconf;
        int r;

        rd = xcalloc(1, sizeof(*rd));
        rd->log.fn = conf->log;
        rd->log.userdata = conf->log_userdata;
        r = queue__conf_new(conf, defaults, ARRAY_SIZE(defaults), forced, ARRAY_SIZE(forced),
                            &rd->log, &rconf, err);
        if (r == 0)
                r = queue__client_new(RD_KAFKA_CONSUMER, rconf, &rd->rk, err);
        if (r < 0) {
                free(rd);
                return r;
        }
        for (size_t t = 0; r == 0 && t < n_topics; t++) {
                int n;

                r = queue__partitions(rd->rk, topics[t], READER_META_TIMEOUT_MS, &n, err);
                if (r < 0)
                        break;
                rd->parts = realloc(rd->parts, (rd->n_parts + (size_t)n) * sizeof(*rd->parts));
                if (!rd->parts)
                        abort();
                for (int i = 0; i < n; i++)
                        rd->parts[rd->n_parts++] = (struct reader_part){
                                .topic = xstrdup(topics[t]),
                                .partition = i,
                        };
        }
        if (r == 0)
                r = reader_assign(rd, start, err);
        if (r < 0) {
                queue_reader_free(rd);
                return r;
        }
        *ret_reader = rd;
        return 0;
}

void queue_reader_free(struct queue_reader *rd)
{
        if (!rd)
                return;
        if (rd->held)
                rd_kafka_message_destroy(rd->held);
        rd_kafka_consumer_close(rd->rk);
        rd_kafka_destroy(rd->rk);
        for (size_t i = 0; i < rd->n_parts; i++)
                free(rd->parts[i].topic);
        free(rd->parts);
        free(rd);
}

static struct reader_part *find_part(struct queue_reader *rd, const rd_kafka_message_t *m)
{
        const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";

        for (size_t i = 0; i < rd->n_parts; i++)
                if (rd->parts[i].partition == m->partition && !strcmp(rd->parts[i].topic, topic))
                        return &rd->parts[i];
        return NULL;
}

int queue_reader_next(struct queue_reader *rd, int timeout_ms, struct queue_msg *ret_msg,
                      struct gv_err *err)
{
        rd_kafka_message_t *m;
        struct reader_part *p;

        if (rd->held) {
                rd_kafka_message_destroy(rd->held);
                rd->held = NULL;
        }
        m = rd_kafka_consumer_poll(rd->rk, timeout_ms);
        if (!m)
                return 0;
        p = find_part(rd, m);
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (p)
                        p->at_end = true;
                rd_kafka_message_destroy(m);
                return 0;
        }
        if (m->err) {
                rd_kafka_resp_err_t e = m->err;
                char what[256];

                snprintf(what, sizeof(what), "%s", rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                if (e == RD_KAFKA_RESP_ERR__FATAL || e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                    e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
                        return gv_err_set(err, -EIO, "consumer: %s", what);
                queue__logf(&rd->log, 4, "reader", "consumer: %s", what); /* transient */
                return 0;
        }
        if (p)
                p->at_end = false;
        rd->held = m;
        queue__msg_from(ret_msg, m);
        return 1;
}

bool queue_reader_at_end(const struct queue_reader *rd)
{
        for (size_t i = 0; i < rd->n_parts; i++)
                if (!rd->parts[i].at_end)
                        return false;
        return true;
}
