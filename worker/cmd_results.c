/* SPDX-License-Identifier: MIT */
/*
 * gavel results: what the verdicts topic holds, as a platform would read it (read_committed, so
 * only verdicts whose transaction committed), as a table or as JSON lines; with --follow it keeps
 * printing verdicts as they are published.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue.h"
#include "schema/schema.h"
#include "worker/cmd.h"
#include "worker/kafka.h"

#define RESULTS_IDS_MAX 256

static void results_usage(FILE *f)
{
        fprintf(f,
                "usage: gavel results --brokers B [--follow] [--json] [--id ID]... [-X K=V]...\n"
                "\n"
                "Prints the verdicts on gavel.verdicts, oldest first, reading only committed\n"
                "transactions (isolation.level=read_committed), then exits at the end of the\n"
                "topic.\n"
                "\n"
                "  -b, --brokers B    bootstrap servers, host:port,...\n"
                "  -f, --follow       keep printing new verdicts until SIGINT or SIGTERM, or\n"
                "                     with --id until each of those ids has a verdict\n"
                "  -j, --json         one JSON object per line (every field, plus partition and\n"
                "                     offset) instead of a table\n"
                "  -i, --id ID        only this submission (may be repeated)\n"
                "  -t, --topic T      read T instead of gavel.verdicts\n"
                "  -X NAME=VALUE      a librdkafka property (security.protocol=sasl_ssl, ...)\n"
                "  -h, --help         show this help\n"
                "\n"
                "Exit status: 0; 2 usage; 3 Kafka failed.\n");
}

/* Whether id is one of ids (all are when there are none); marks it seen. */
static bool wanted(const char *id, char **ids, bool *seen, size_t n)
{
        if (n == 0)
                return true;
        for (size_t i = 0; i < n; i++)
                if (!strcmp(ids[i], id)) {
                        seen[i] = true;
                        return true;
                }
        return false;
}

static bool all_seen(const bool *seen, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!seen[i])
                        return false;
        return n > 0;
}

int cmd_results(int argc, char **argv)
{
        static const struct option options[] = {
                {"brokers", required_argument, NULL, 'b'},
                {"follow", no_argument, NULL, 'f'},
                {"json", no_argument, NULL, 'j'},
                {"id", required_argument, NULL, 'i'},
                {"topic", required_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        struct kafka_cli cli = {0};
        char *ids[RESULTS_IDS_MAX];
        bool seen[RESULTS_IDS_MAX] = {false};
        size_t n_ids = 0;
        const char *topic = QUEUE_TOPIC_VERDICTS;
        bool follow = false, json = false;
        struct queue_reader *rd = NULL;
        struct queue_conf conf;
        struct gv_err err = {0};
        int c, r, status = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+b:fji:t:X:h", options, NULL)) != -1) {
                switch (c) {
                case 'b':
                        cli.brokers = optarg;
                        break;
                case 'f':
                        follow = true;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'i':
                        if (n_ids == RESULTS_IDS_MAX) {
                                fprintf(stderr, "gavel results: --id: more than %d\n",
                                        RESULTS_IDS_MAX);
                                return EXIT_USAGE;
                        }
                        ids[n_ids++] = optarg;
                        break;
                case 't':
                        topic = optarg;
                        break;
                case 'X':
                        if (kafka_cli_prop(&cli, "results", optarg) < 0)
                                return EXIT_USAGE;
                        break;
                case 'h':
                        results_usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "gavel results: unknown option or missing value: '%s'\n",
                                argv[optind - 1]);
                        results_usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "gavel results: unexpected argument '%s'\n", argv[optind]);
                return EXIT_USAGE;
        }
        if (kafka_cli_conf(&cli, "results", &conf) < 0)
                return EXIT_USAGE;
        kafka_catch_signals();
        r = queue_reader_new(&conf, &topic, 1, QUEUE_START_BEGINNING, &rd, &err);
        if (r < 0) {
                fprintf(stderr, "gavel results: %s\n", err.msg);
                return EXIT_FAILURE_SYSTEM;
        }
        if (!json)
                verdict_print_header(stdout);
        while (!kafka_stop && (follow ? !all_seen(seen, n_ids) : !queue_reader_at_end(rd))) {
                struct queue_msg msg;
                struct verdict v;

                r = queue_reader_next(rd, 200, &msg, &err);
                if (r < 0) {
                        fprintf(stderr, "gavel results: %s\n", err.msg);
                        status = EXIT_FAILURE_SYSTEM;
                        break;
                }
                if (r == 0)
                        continue;
                if (schema_verdict_decode(msg.value, msg.len, NULL, &v, &err) < 0) {
                        fprintf(stderr,
                                "gavel results: %s[%" PRId32 "]@%" PRId64 ": not a verdict: %s\n",
                                topic, msg.partition, msg.offset, err.msg);
                        continue;
                }
                if (wanted(v.id, ids, seen, n_ids)) {
                        if (json)
                                verdict_print_json(stdout, msg.value, msg.len, msg.partition,
                                                   msg.offset);
                        else
                                verdict_print_row(stdout, &v);
                        fflush(stdout);
                }
                verdict_done(&v);
        }
        queue_reader_free(rd);
        return status;
}
