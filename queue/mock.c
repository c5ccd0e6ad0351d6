/* SPDX-License-Identifier: MIT */
/*
 * The embedded broker: librdkafka's mock cluster, which speaks the Kafka protocol on loopback so
 * that any client (kcat, confluent-kafka) can use it, plus a small text protocol over its fault
 * injection API so that tests and `gavel broker` can break it on purpose. Ports are chosen by the
 * kernel (librdkafka 2.0.2 cannot bind a given one); callers pass the bootstrap string on.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "queue/queue-internal.h"
#include "schema/cleanup.h"
#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h, which it needs */

#define MOCK_NODES_MAX 16
#define CMD_WORDS_MAX  34 /* a command and up to 32 errors */
#define CMD_ERRORS_MAX 1000

struct queue_mock {
        struct queue__log log; /* first: the handle's opaque */
        rd_kafka_t *rk;        /* the handle the cluster lives in; it must outlive it */
        rd_kafka_mock_cluster_t *mc;
        unsigned nodes;
};

int queue_mock_new(unsigned nodes, queue_log_fn log, void *log_userdata,
                   struct queue_mock **ret_mock, struct gv_err *err)
{
        struct queue_mock *mock;
        rd_kafka_conf_t *rconf;
        char errstr[256];
        int r;

        if (nodes < 1 || nodes > MOCK_NODES_MAX)
                return gv_err_set(err, -EINVAL, "nodes: %u is not in 1..%d", nodes, MOCK_NODES_MAX);
        mock = xcalloc(1, sizeof(*mock));
        mock->log.fn = log;
        mock->log.userdata = log_userdata;
        mock->nodes = nodes;
        rconf = rd_kafka_conf_new();
        /* the handle only hosts the cluster: it has no brokers of its own to complain about */
        if (rd_kafka_conf_set(rconf, "log_level", "3", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
                rd_kafka_conf_destroy(rconf);
                free(mock);
                return gv_err_set(err, -EINVAL, "log_level: %s", errstr);
        }
        rd_kafka_conf_set_opaque(rconf, &mock->log);
        r = queue__client_new(RD_KAFKA_PRODUCER, rconf, &mock->rk, err);
        if (r < 0) {
                free(mock);
                return r;
        }
        mock->mc = rd_kafka_mock_cluster_new(mock->rk, (int)nodes);
        if (!mock->mc) {
                rd_kafka_destroy(mock->rk);
                free(mock);
                return gv_err_set(err, -EIO, "cannot start the mock cluster (see the log)");
        }
        *ret_mock = mock;
        return 0;
}

void queue_mock_free(struct queue_mock *mock)
{
        if (!mock)
                return;
        rd_kafka_mock_cluster_destroy(mock->mc);
        rd_kafka_destroy(mock->rk);
        free(mock);
}

const char *queue_mock_bootstrap(const struct queue_mock *mock)
{
        return rd_kafka_mock_cluster_bootstraps(mock->mc);
}

int queue_mock_topic_create(struct queue_mock *mock, const char *topic, unsigned partitions,
                            struct gv_err *err)
{
        rd_kafka_resp_err_t e;

        if (!topic || !*topic || partitions < 1 || partitions > 10000)
                return gv_err_set(err, -EINVAL, "topic '%s': needs a name and 1..10000 partitions",
                                  topic ? topic : "");
        e = rd_kafka_mock_topic_create(mock->mc, topic, (int)partitions,
                                       (int)(mock->nodes < 3 ? mock->nodes : 3));
        if (e)
                return gv_err_set(err, -EIO, "topic '%s': %s", topic, rd_kafka_err2str(e));
        return 0;
}

/* ---- fault injection commands ------------------------------------------------------------ */

static const struct {
        const char *name;
        int16_t key;
} apis[] = {
        {"Produce", 0},          {"Fetch", 1},
        {"ListOffsets", 2},      {"Metadata", 3},
        {"OffsetCommit", 8},     {"OffsetFetch", 9},
        {"FindCoordinator", 10}, {"JoinGroup", 11},
        {"Heartbeat", 12},       {"LeaveGroup", 13},
        {"SyncGroup", 14},       {"ApiVersions", 18},
        {"InitProducerId", 22},  {"AddPartitionsToTxn", 24},
        {"AddOffsetsToTxn", 25}, {"EndTxn", 26},
        {"TxnOffsetCommit", 28},
};

static int parse_api(const char *s, int16_t *ret, struct gv_err *err)
{
        for (size_t i = 0; i < ARRAY_SIZE(apis); i++)
                if (!strcasecmp(s, apis[i].name)) {
                        *ret = apis[i].key;
                        return 0;
                }
        return gv_err_set(err, -EINVAL, "unknown request type '%s' (Produce, Fetch, EndTxn, ...)",
                          s);
}

static int parse_error(const char *s, rd_kafka_resp_err_t *ret, struct gv_err *err)
{
        const struct rd_kafka_err_desc *descs;
        size_t n;

        rd_kafka_get_err_descs(&descs, &n);
        for (size_t i = 0; i < n; i++)
                if (descs[i].name && !strcasecmp(s, descs[i].name)) {
                        *ret = descs[i].code;
                        return 0;
                }
        return gv_err_set(err, -EINVAL,
                          "unknown error '%s' (librdkafka's names: NOT_LEADER_FOR_PARTITION, "
                          "_TRANSPORT, ...)",
                          s);
}

static int parse_int(const char *s, long min, long max, long *ret, const char *what,
                     struct gv_err *err)
{
        char *end;
        long v = 0;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                return gv_err_set(err, -EINVAL, "%s: '%s' is not an integer in %ld..%ld", what, s,
                                  min, max);
        *ret = v;
        return 0;
}

/* A broker id or "all" (-1). */
static int parse_broker(const char *s, int32_t *ret, struct gv_err *err)
{
        long v = 0;
        int r;

        if (!strcmp(s, "all")) {
                *ret = -1;
                return 0;
        }
        r = parse_int(s, -1, MOCK_NODES_MAX, &v, "broker", err);
        if (r == 0)
                *ret = (int32_t)v;
        return r;
}

/* "ERROR" or "ERROR*N" appended n times to errs. */
static int parse_errors(char **words, size_t n, rd_kafka_resp_err_t **ret_errs, size_t *ret_n,
                        struct gv_err *err)
{
        cleanup_free rd_kafka_resp_err_t *errs = NULL;
        size_t cnt = 0;

        errs = xcalloc(CMD_ERRORS_MAX, sizeof(*errs));
        for (size_t i = 0; i < n; i++) {
                char *star = strchr(words[i], '*');
                rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
                long times = 1;
                int r;

                if (star) {
                        *star = '\0';
                        r = parse_int(star + 1, 1, CMD_ERRORS_MAX, &times, "count", err);
                        if (r < 0)
                                return r;
                }
                r = parse_error(words[i], &e, err);
                if (r < 0)
                        return r;
                if (cnt + (size_t)times > CMD_ERRORS_MAX)
                        return gv_err_set(err, -EINVAL, "more than %d errors at once",
                                          CMD_ERRORS_MAX);
                while (times-- > 0)
                        errs[cnt++] = e;
        }
        *ret_errs = steal_pointer(&errs);
        *ret_n = cnt;
        return 0;
}

static int mock_result(rd_kafka_resp_err_t e, const char *what, struct gv_err *err)
{
        if (e)
                return gv_err_set(err, -EINVAL, "%s: %s", what, rd_kafka_err2str(e));
        return 0;
}

static int run_command(struct queue_mock *mock, char **w, size_t n, struct gv_err *err)
{
        const char *cmd = w[0];
        int32_t broker = -1;
        int16_t api = 0;
        long v = 0, v2 = 0;
        int r;

#define WANT(count, usage)                                                           \
        do {                                                                         \
                if (n != (count))                                                    \
                        return gv_err_set(err, -EINVAL, "usage: %s %s", cmd, usage); \
        } while (0)

        if (!strcmp(cmd, "fail")) {
                cleanup_free rd_kafka_resp_err_t *errs = NULL;
                size_t cnt = 0;

                if (n < 3)
                        return gv_err_set(err, -EINVAL, "usage: fail API ERROR[*N]...");
                r = parse_api(w[1], &api, err);
                if (r == 0)
                        r = parse_errors(w + 2, n - 2, &errs, &cnt, err);
                if (r < 0)
                        return r;
                rd_kafka_mock_push_request_errors_array(mock->mc, api, cnt, errs);
                return 0;
        }
        if (!strcmp(cmd, "delay")) {
                rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;

                WANT(5, "BROKER API ERROR MS");
                r = parse_broker(w[1], &broker, err);
                if (r == 0)
                        r = parse_api(w[2], &api, err);
                if (r == 0)
                        r = parse_error(w[3], &e, err);
                if (r == 0)
                        r = parse_int(w[4], 0, 600000, &v, "ms", err);
                if (r < 0)
                        return r;
                return mock_result(rd_kafka_mock_broker_push_request_error_rtts(mock->mc, broker,
                                                                                api, 1, e, (int)v),
                                   "delay", err);
        }
        if (!strcmp(cmd, "clear")) {
                WANT(2, "API");
                r = parse_api(w[1], &api, err);
                if (r == 0)
                        rd_kafka_mock_clear_request_errors(mock->mc, api);
                return r;
        }
        if (!strcmp(cmd, "down") || !strcmp(cmd, "up")) {
                WANT(2, "BROKER|all");
                r = parse_broker(w[1], &broker, err);
                if (r < 0)
                        return r;
                return mock_result(cmd[0] == 'd' ? rd_kafka_mock_broker_set_down(mock->mc, broker)
                                                 : rd_kafka_mock_broker_set_up(mock->mc, broker),
                                   cmd, err);
        }
        if (!strcmp(cmd, "rtt")) {
                WANT(3, "BROKER|all MS");
                r = parse_broker(w[1], &broker, err);
                if (r == 0)
                        r = parse_int(w[2], 0, 600000, &v, "ms", err);
                if (r < 0)
                        return r;
                return mock_result(rd_kafka_mock_broker_set_rtt(mock->mc, broker, (int)v), "rtt",
                                   err);
        }
        if (!strcmp(cmd, "leader")) {
                WANT(4, "TOPIC PARTITION BROKER");
                r = parse_int(w[2], 0, INT32_MAX, &v, "partition", err);
                if (r == 0)
                        r = parse_int(w[3], -1, MOCK_NODES_MAX, &v2, "broker", err);
                if (r < 0)
                        return r;
                return mock_result(
                        rd_kafka_mock_partition_set_leader(mock->mc, w[1], (int32_t)v, (int32_t)v2),
                        "leader", err);
        }
        if (!strcmp(cmd, "coordinator")) {
                WANT(4, "transaction|group KEY BROKER");
                if (strcmp(w[1], "transaction") && strcmp(w[1], "group"))
                        return gv_err_set(err, -EINVAL,
                                          "coordinator: '%s' is not transaction or group", w[1]);
                r = parse_int(w[3], 1, MOCK_NODES_MAX, &v, "broker", err);
                if (r < 0)
                        return r;
                return mock_result(rd_kafka_mock_coordinator_set(mock->mc, w[1], w[2], (int32_t)v),
                                   "coordinator", err);
        }
        if (!strcmp(cmd, "topic")) {
                WANT(3, "NAME PARTITIONS");
                r = parse_int(w[2], 1, 10000, &v, "partitions", err);
                if (r < 0)
                        return r;
                return queue_mock_topic_create(mock, w[1], (unsigned)v, err);
        }
#undef WANT
        return gv_err_set(err, -EINVAL,
                          "unknown command '%s' (fail, delay, clear, down, up, rtt, leader, "
                          "coordinator, topic)",
                          cmd);
}

int queue_mock_command(struct queue_mock *mock, const char *line, struct gv_err *err)
{
        cleanup_free char *copy = xstrdup(line);
        char *words[CMD_WORDS_MAX], *save = NULL, *w;
        size_t n = 0;

        for (w = strtok_r(copy, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
                if (n == 0 && w[0] == '#')
                        return 0;
                if (n == CMD_WORDS_MAX)
                        return gv_err_set(err, -EINVAL, "more than %d words", CMD_WORDS_MAX);
                words[n++] = w;
        }
        if (n == 0)
                return 0;
        return run_command(mock, words, n, err);
}
