/* SPDX-License-Identifier: MIT */
/*
 * gavel worker's command line: the configuration file, the options over it, and the daemon
 * (daemon.c) that runs with the result.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "worker/cmd.h"
#include "worker/config.h"
#include "worker/daemon.h"
#include "worker/util/log.h"

static void worker_usage(FILE *f)
{
        fprintf(f,
                "usage: gavel worker [--config FILE] [--brokers B] [--group G] [--slots K]\n"
                "                    [--id ID] [--audit FILE] [--problems DIR] [--languages F]\n"
                "                    [--cache-dir DIR] [-X NAME=VALUE]...\n"
                "\n"
                "Joins consumer group G on gavel.jobs, judges K jobs at a time and publishes each\n"
                "verdict on gavel.verdicts exactly once (a Kafka transaction that also commits\n"
                "the job's offset), stage events on gavel.progress. Runs until SIGTERM or\n"
                "SIGINT, then finishes or abandons the jobs being judged and leaves the group.\n"
                "\n"
                "  -c, --config FILE   the YAML configuration (see ops/examples/worker.yaml);\n"
                "                      the options below override it\n"
                "  -b, --brokers B     bootstrap servers, host:port,...\n"
                "  -g, --group G       consumer group (default gavel)\n"
                "  -k, --slots K       jobs judged at once (default: the number of cores)\n"
                "  -i, --id ID         worker id (verdicts, transactional id); default: host name\n"
                "                      and the first free local number, stable across restarts\n"
                "  -a, --audit FILE    record jobs, attempts and verdicts in this sqlite log\n"
                "  -p, --problems DIR  the problem store (jobs name a folder of it)\n"
                "  -l, --languages F   an operator's language table over the built-in one\n"
                "  -C, --cache-dir DIR the compile cache\n"
                "  -X NAME=VALUE       a librdkafka property (also kafka: in the file)\n"
                "  -v, --verbose       log every job\n"
                "  -h, --help          show this help\n"
                "\n"
                "Exit status: 0 stopped by a signal; 2 bad configuration; 3 Kafka, the sandbox\n"
                "or the audit log failed (a supervisor should restart it).\n");
}

/* Command-line options over the file's settings; returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, struct worker_config *conf)
{
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"brokers", required_argument, NULL, 'b'},
                {"group", required_argument, NULL, 'g'},
                {"slots", required_argument, NULL, 'k'},
                {"id", required_argument, NULL, 'i'},
                {"audit", required_argument, NULL, 'a'},
                {"problems", required_argument, NULL, 'p'},
                {"languages", required_argument, NULL, 'l'},
                {"cache-dir", required_argument, NULL, 'C'},
                {"verbose", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        struct gv_err err = {0};
        const char *config = NULL;
        int c;

        /* the file first, whatever the order of the options, so that options win */
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+c:b:g:k:i:a:p:l:C:X:vh", options, NULL)) != -1)
                if (c == 'c')
                        config = optarg;
        if (config && worker_config_load(conf, config, &err) < 0) {
                fprintf(stderr, "gavel worker: %s\n", err.msg);
                return EXIT_USAGE;
        }
        optind = 0;
        while ((c = getopt_long(argc, argv, "+c:b:g:k:i:a:p:l:C:X:vh", options, NULL)) != -1) {
                char *eq;

                switch (c) {
                case 'c':
                        break;
                case 'b':
                        worker_config_set(&conf->brokers, optarg);
                        break;
                case 'g':
                        worker_config_set(&conf->group, optarg);
                        break;
                case 'k':
                        if (cmd_parse_uint("worker", "--slots", optarg, 1, 1024, &conf->slots) < 0)
                                return EXIT_USAGE;
                        break;
                case 'i':
                        worker_config_set(&conf->id, optarg);
                        break;
                case 'a':
                        worker_config_set(&conf->audit, optarg);
                        break;
                case 'p':
                        worker_config_set(&conf->problems, optarg);
                        break;
                case 'l':
                        worker_config_set(&conf->languages, optarg);
                        break;
                case 'C':
                        worker_config_set(&conf->cache_dir, optarg);
                        break;
                case 'X':
                        eq = strchr(optarg, '=');
                        if (!eq || eq == optarg) {
                                fprintf(stderr, "gavel worker: -X: expected NAME=VALUE, got '%s'\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        *eq = '\0';
                        if (worker_config_prop(conf, optarg, eq + 1, &err) < 0) {
                                fprintf(stderr, "gavel worker: -X: %s\n", err.msg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'v':
                        log_set_level(LOG_LEVEL_DEBUG);
                        break;
                case 'h':
                        worker_usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "gavel worker: unknown option or missing value: '%s'\n",
                                argv[optind - 1]);
                        worker_usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "gavel worker: unexpected argument '%s'\n", argv[optind]);
                return EXIT_USAGE;
        }
        if (!conf->brokers || !*conf->brokers) {
                fprintf(stderr, "gavel worker: brokers: missing (--brokers or brokers: in the "
                                "configuration)\n");
                return EXIT_USAGE;
        }
        return -1;
}

int cmd_worker(int argc, char **argv)
{
        struct worker_config conf;
        int status;

        worker_config_init(&conf);
        status = parse_options(argc, argv, &conf);
        if (status >= 0) {
                worker_config_done(&conf);
                return status;
        }
        return daemon_run(&conf);
}
