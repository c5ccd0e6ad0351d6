/* SPDX-License-Identifier: MIT */
/*
 * gavel: the judging worker's command line. This file only dispatches; each subcommand lives in
 * worker/cmd_*.c. Only this file calls exit().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/cmd.h"

struct command {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *help;
};

static const struct command commands[] = {
        {"decode", cmd_decode, "print msgpack messages from stdin as JSON"},
        {"encode", cmd_encode, "encode a JSON job description from stdin as msgpack"},
        {"exec", cmd_exec, "run one program in a pooled container and report its usage"},
        {"run", cmd_run, "judge one submission against a problem folder"},
        {"bench", cmd_bench,
         "measure the sandbox, the judge or the audit log (gavel bench sandbox|judge|audit)"},
        {"broker", cmd_broker, "run the embedded Kafka broker (a mock cluster on loopback)"},
        {"submit", cmd_submit, "enqueue submissions on Kafka (and wait for their verdicts)"},
        {"results", cmd_results, "print the verdicts on Kafka as a table or JSON lines"},
        {"worker", cmd_worker, "judge jobs from Kafka as a member of a consumer group"},
        {"audit", cmd_audit, "inspect and prune the audit log (stats, show, prune)"},
        {"replay", cmd_replay, "rejudge, requeue or republish jobs from the audit log"},
};

static void usage(FILE *f)
{
        fprintf(f, "usage: gavel COMMAND [ARGS...]\n\ncommands:\n");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
        fprintf(f, "\n'gavel COMMAND --help' describes each.\n");
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                usage(stderr);
                exit(EXIT_USAGE);
        }
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
                usage(stdout);
                exit(0);
        }
        if (!strcmp(argv[1], "--version")) {
                printf("gavel 0.1.0\n");
                exit(0);
        }
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (!strcmp(argv[1], commands[i].name))
                        exit(commands[i].run(argc - 1, argv + 1));
        fprintf(stderr, "gavel: unknown command '%s'\n", argv[1]);
        usage(stderr);
        exit(EXIT_USAGE);
}
