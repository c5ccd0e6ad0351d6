/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the queue/ integration tests: an embedded broker with gavel's topics, jobs produced
 * as numbered byte strings, and a read_committed reader that collects what the verdicts topic
 * holds. Included by one test program at a time (static functions).
 */
#pragma once

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue/queue.h"

/* Asserts that an action returned 0, printing its error message when it did not. */
#define assert_ok(call, err)                                                    \
        do {                                                                    \
                int _r = (call);                                                \
                if (_r != 0)                                                    \
                        fprintf(stderr, "%s: %d: %s\n", #call, _r, (err)->msg); \
                assert_int_equal(_r, 0);                                        \
        } while (0)

#define QT_SESSION_MS 4000 /* short: each rebalance on the mock takes about this - 1 s */

static inline int64_t qt_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* librdkafka's and gavel's log lines on stderr (ctest shows them when a test fails). */
static inline void qt_log(int level, const char *fac, const char *msg, void *userdata)
{
        (void)userdata;
        if (level <= (getenv("QT_DEBUG") ? 7 : 6))
                fprintf(stderr, "%" PRId64 " [%d] %s: %s\n", qt_now_ms() % 100000, level, fac, msg);
}

static inline struct queue_mock *qt_mock(unsigned nodes, unsigned partitions)
{
        const char *topics[] = {QUEUE_TOPIC_JOBS, QUEUE_TOPIC_VERDICTS, QUEUE_TOPIC_PROGRESS,
                                QUEUE_TOPIC_DLQ};
        struct queue_mock *mock = NULL;
        struct gv_err err = {0};

        if (queue_mock_new(nodes, qt_log, NULL, &mock, &err) < 0) {
                fprintf(stderr, "mock: %s\n", err.msg);
                abort();
        }
        for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
                if (queue_mock_topic_create(mock, topics[i], partitions, &err) < 0) {
                        fprintf(stderr, "topic: %s\n", err.msg);
                        abort();
                }
        return mock;
}

static inline struct queue_conf qt_conf(const struct queue_mock *mock)
{
        static struct queue_prop debug[1] = {{"debug", NULL}};

        debug[0].value = getenv("QT_KAFKA_DEBUG"); /* librdkafka's debug contexts */
        return (struct queue_conf){
                .brokers = queue_mock_bootstrap(mock),
                .client_id = "gavel-test",
                .props = debug,
                .n_props = debug[0].value ? 1 : 0,
                .log = qt_log,
        };
}

/* Produces jobs first..first+n-1 as "job-<i>" with key "k-<i>". */
static inline void qt_produce(const struct queue_mock *mock, const char *topic, int first, int n)
{
        struct queue_conf conf = qt_conf(mock);
        struct queue_producer *prod = NULL;
        struct gv_err err = {0};

        if (queue_producer_new(&conf, &prod, &err) < 0) {
                fprintf(stderr, "producer: %s\n", err.msg);
                abort();
        }
        for (int i = first; i < first + n; i++) {
                char key[32], value[32];

                snprintf(key, sizeof(key), "k-%d", i);
                snprintf(value, sizeof(value), "job-%d", i);
                if (queue_producer_send(prod, topic, -1, key, strlen(key), value, strlen(value),
                                        NULL, 0, &err) < 0) {
                        fprintf(stderr, "send: %s\n", err.msg);
                        abort();
                }
        }
        if (queue_producer_flush(prod, 10000, &err) < 0) {
                fprintf(stderr, "flush: %s\n", err.msg);
                abort();
        }
        queue_producer_free(prod);
}

/* What a topic holds, read_committed: values (NUL-terminated copies), keys, partitions. */
struct qt_read {
        char **values;
        char **keys;
        int32_t *partitions;
        int64_t *job_partitions; /* the QUEUE_HDR_PARTITION header, or -1 */
        size_t n;
};

static inline int64_t qt_header_int(const struct queue_msg *msg, const char *name)
{
        const void *v;
        char buf[32];
        size_t len;

        if (queue_msg_header(msg, name, &v, &len) < 0 || len >= sizeof(buf))
                return -1;
        memcpy(buf, v, len);
        buf[len] = '\0';
        return strtoll(buf, NULL, 10);
}

static inline char *qt_strndup(const void *p, size_t n)
{
        char *s = malloc(n + 1);

        if (!s)
                abort();
        if (n)
                memcpy(s, p, n);
        s[n] = '\0';
        return s;
}

/* Reads topic from the start to its end. */
static inline void qt_read_topic(const struct queue_mock *mock, const char *topic,
                                 struct qt_read *out)
{
        struct queue_conf conf = qt_conf(mock);
        struct queue_reader *rd = NULL;
        struct gv_err err = {0};
        int64_t deadline = qt_now_ms() + 20000;
        struct queue_msg msg;
        int r;

        memset(out, 0, sizeof(*out));
        if (queue_reader_new(&conf, &topic, 1, QUEUE_START_BEGINNING, &rd, &err) < 0) {
                fprintf(stderr, "reader: %s\n", err.msg);
                abort();
        }
        while (!queue_reader_at_end(rd) && qt_now_ms() < deadline) {
                r = queue_reader_next(rd, 200, &msg, &err);
                if (r < 0) {
                        fprintf(stderr, "read: %s\n", err.msg);
                        abort();
                }
                if (r == 0)
                        continue;
                out->values = realloc(out->values, (out->n + 1) * sizeof(char *));
                out->keys = realloc(out->keys, (out->n + 1) * sizeof(char *));
                out->partitions = realloc(out->partitions, (out->n + 1) * sizeof(int32_t));
                out->job_partitions = realloc(out->job_partitions, (out->n + 1) * sizeof(int64_t));
                if (!out->values || !out->keys || !out->partitions || !out->job_partitions)
                        abort();
                out->values[out->n] = qt_strndup(msg.value, msg.len);
                out->keys[out->n] = qt_strndup(msg.key, msg.key_len);
                out->partitions[out->n] = msg.partition;
                out->job_partitions[out->n] = qt_header_int(&msg, QUEUE_HDR_PARTITION);
                out->n++;
        }
        if (!queue_reader_at_end(rd)) {
                fprintf(stderr, "read: %s not at its end after 20 s\n", topic);
                abort();
        }
        queue_reader_free(rd);
}

static inline void qt_read_done(struct qt_read *rd)
{
        for (size_t i = 0; i < rd->n; i++) {
                free(rd->values[i]);
                free(rd->keys[i]);
        }
        free(rd->values);
        free(rd->keys);
        free(rd->partitions);
        free(rd->job_partitions);
        memset(rd, 0, sizeof(*rd));
}

/* How many times "verdict-<i>" appears in rd, for each i < n: all must be exactly once. */
static inline int qt_count_once(const struct qt_read *rd, int n, const char *prefix)
{
        int *seen = calloc((size_t)n, sizeof(int)), bad = 0;

        if (!seen)
                abort();
        for (size_t k = 0; k < rd->n; k++) {
                size_t plen = strlen(prefix);
                int i;

                if (strncmp(rd->values[k], prefix, plen)) {
                        fprintf(stderr, "unexpected message '%s'\n", rd->values[k]);
                        bad++;
                        continue;
                }
                i = atoi(rd->values[k] + plen);
                if (i < 0 || i >= n) {
                        fprintf(stderr, "unexpected message '%s'\n", rd->values[k]);
                        bad++;
                        continue;
                }
                seen[i]++;
        }
        for (int i = 0; i < n; i++)
                if (seen[i] != 1) {
                        fprintf(stderr, "job %d: %d verdict(s)\n", i, seen[i]);
                        bad++;
                }
        free(seen);
        return bad;
}
