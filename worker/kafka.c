/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the Kafka subcommands (see kafka.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "schema/cleanup.h"
#include "worker/kafka.h"
#include "worker/util/json.h"
#include "worker/util/log.h"

volatile sig_atomic_t kafka_stop;
struct queue_eos *volatile kafka_stop_eos;

static void on_signal(int sig)
{
        (void)sig;
        kafka_stop = 1;
        if (kafka_stop_eos)
                queue_eos_interrupt(kafka_stop_eos); /* async-signal-safe; no long waits now */
}

void kafka_catch_signals(void)
{
        struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: waits end early */

        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
}

void kafka_log(int level, const char *facility, const char *msg, void *userdata)
{
        char q[64];

        (void)userdata;
        /* properties from the operator go to every client, so some never apply to one */
        if (!strcmp(facility, "CONFWARN") && strstr(msg, "will be ignored by this"))
                level = LOG_LEVEL_DEBUG;
        log_at(level, msg, "fac=%s", log_quote(q, sizeof(q), facility));
}

int kafka_cli_prop(struct kafka_cli *cli, const char *cmd, char *arg)
{
        char *eq = strchr(arg, '=');

        if (!eq || eq == arg) {
                fprintf(stderr, "gavel %s: -X: expected name=value, got '%s'\n", cmd, arg);
                return -EINVAL;
        }
        if (cli->n_props == KAFKA_PROPS_MAX) {
                fprintf(stderr, "gavel %s: -X: more than %d properties\n", cmd, KAFKA_PROPS_MAX);
                return -EINVAL;
        }
        *eq = '\0';
        cli->props[cli->n_props++] = (struct queue_prop){.name = arg, .value = eq + 1};
        return 0;
}

int kafka_cli_conf(const struct kafka_cli *cli, const char *cmd, struct queue_conf *ret_conf)
{
        struct queue_conf conf = {
                .brokers = cli->brokers,
                .client_id = "gavel",
                .props = cli->props,
                .n_props = cli->n_props,
                .log = kafka_log,
        };
        struct gv_err err = {0};

        if (!cli->brokers || !*cli->brokers) {
                fprintf(stderr,
                        "gavel %s: --brokers: missing (host:port,... or the first line "
                        "of `gavel broker`)\n",
                        cmd);
                return -EINVAL;
        }
        if (queue_conf_check(&conf, &err) < 0) {
                fprintf(stderr, "gavel %s: %s\n", cmd, err.msg);
                return -EINVAL;
        }
        *ret_conf = conf;
        return 0;
}

void verdict_print_header(FILE *f)
{
        fprintf(f, "%-24s %-8s %11s %8s %9s %-14s %s\n", "ID", "VERDICT", "SCORE", "TIME", "MEMORY",
                "TESTS", "DETAIL");
}

/* "WA on test 3", "CE", a reason or a checker message: the first thing a reader wants. */
static void verdict_detail(const struct verdict *v, char *buf, size_t size)
{
        buf[0] = '\0';
        for (size_t i = 0; i < v->n_tests; i++)
                if (v->tests[i].verdict != SCHEMA_AC && v->tests[i].verdict != SCHEMA_SKIPPED) {
                        snprintf(buf, size, "%s on test %zu%s%s",
                                 schema_code_name(v->tests[i].verdict), i + 1,
                                 v->tests[i].checker_message ? ": " : "",
                                 v->tests[i].checker_message ? v->tests[i].checker_message : "");
                        break;
                }
        if (!buf[0] && v->reason)
                snprintf(buf, size, "%s", v->reason);
        for (char *p = buf; *p; p++) /* one line per verdict */
                if (*p == '\n' || *p == '\r' || *p == '\t')
                        *p = ' ';
}

void verdict_print_row(FILE *f, const struct verdict *v)
{
        char score[32], mem[32], tests[32], detail[80];
        size_t passed = 0;

        for (size_t i = 0; i < v->n_tests; i++)
                passed += v->tests[i].verdict == SCHEMA_AC;
        if (v->max_score > 0)
                snprintf(score, sizeof(score), "%g/%g", v->score, v->max_score);
        else
                snprintf(score, sizeof(score), "-");
        if (v->memory_kib >= 10240)
                snprintf(mem, sizeof(mem), "%.1f MiB", (double)v->memory_kib / 1024);
        else
                snprintf(mem, sizeof(mem), "%" PRIu64 " KiB", v->memory_kib);
        snprintf(tests, sizeof(tests), "%zu/%zu passed", passed, v->n_tests);
        verdict_detail(v, detail, sizeof(detail));
        fprintf(f, "%-24s %-8s %11s %5" PRIu32 " ms %9s %-14s %s\n", v->id,
                schema_code_name(v->verdict) ? schema_code_name(v->verdict) : "?", score,
                v->time_ms, mem, tests, detail);
}

int verdict_print_json(FILE *f, const void *buf, size_t len, int32_t partition, int64_t offset)
{
        msgpack_unpacked up;
        json_t *json = NULL;
        char *text = NULL;
        size_t off = 0;
        int r = -EBADMSG;

        msgpack_unpacked_init(&up);
        if (msgpack_unpack_next(&up, buf, len, &off) == MSGPACK_UNPACK_SUCCESS &&
            json_from_msgpack(&up.data, &json, NULL) == 0 && json_is_object(json)) {
                if (offset >= 0) {
                        json_object_set_new(json, "partition", json_integer(partition));
                        json_object_set_new(json, "offset", json_integer(offset));
                }
                text = json_dumps_exact(json, JSON_COMPACT);
                if (text) {
                        fprintf(f, "%s\n", text);
                        r = 0;
                }
        }
        free(text);
        json_decref(json);
        msgpack_unpacked_destroy(&up);
        return r;
}
