/* SPDX-License-Identifier: MIT */
/*
 * What the Kafka subcommands (broker, submit, results, worker) share: librdkafka's log lines in
 * the worker's log, "-X name=value" properties from the command line, and verdicts printed as a
 * table row or a JSON line.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "queue/queue.h"
#include "schema/schema.h"

#define KAFKA_PROPS_MAX 64

/* A queue_log_fn writing librdkafka's (and queue/'s) lines through worker/log.h. */
void kafka_log(int level, const char *facility, const char *msg, void *userdata);

/*
 * The one stop flag: set by SIGINT and SIGTERM once kafka_catch_signals() ran, when the command
 * should wind up. The handler also interrupts kafka_stop_eos's waits when it is set (the worker).
 */
extern volatile sig_atomic_t kafka_stop;
extern struct queue_eos *volatile kafka_stop_eos;
void kafka_catch_signals(void);

/* Brokers and properties given on a command line. */
struct kafka_cli {
        const char *brokers;
        struct queue_prop props[KAFKA_PROPS_MAX];
        size_t n_props;
};

/*
 * Adds "name=value" (the argument of -X) to cli; the strings point into arg. On bad input prints
 * "gavel cmd: -X: ..." and returns -EINVAL.
 */
int kafka_cli_prop(struct kafka_cli *cli, const char *cmd, char *arg);

/*
 * The queue_conf of cli (pointing into it). When cli->brokers is NULL prints "gavel cmd: --brokers:
 * missing" and returns -EINVAL; also checks the properties with librdkafka.
 */
int kafka_cli_conf(const struct kafka_cli *cli, const char *cmd, struct queue_conf *ret_conf);

/* The header line of the verdict table. */
void verdict_print_header(FILE *f);
/* One verdict as a table row. */
void verdict_print_row(FILE *f, const struct verdict *verdict);
/*
 * The verdict message buf[0..len) as one JSON line (every key, meta included), with "partition"
 * and "offset" of the message added when offset >= 0. Returns 0 or -EBADMSG.
 */
int verdict_print_json(FILE *f, const void *buf, size_t len, int32_t partition, int64_t offset);
