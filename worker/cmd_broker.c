/* SPDX-License-Identifier: MIT */
/*
 * gavel broker: the embedded Kafka broker (librdkafka's mock cluster) as a process of its own, so
 * that workers, `gavel submit`, kcat and any Kafka client can use it on this host. It creates
 * gavel's topics, says where it listens (stdout and a file), reads fault-injection commands on
 * stdin for tests and ops/chaos, and runs until SIGTERM or SIGINT. Everything is in memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "queue/queue.h"
#include "schema/cleanup.h"
#include "worker/cmd.h"
#include "worker/kafka.h"
#include "worker/util/log.h"

#define BROKER_PARTITIONS_MAX 1000
#define BROKER_LINE_MAX       4096

static void broker_usage(FILE *f)
{
        fprintf(f,
                "usage: gavel broker [--partitions N] [--nodes N] [--bootstrap-file FILE]\n"
                "\n"
                "Runs librdkafka's mock Kafka cluster on loopback until SIGTERM or SIGINT, with\n"
                "the topics gavel.jobs, gavel.verdicts, gavel.progress and gavel.jobs.dlq. The\n"
                "first line on stdout is the bootstrap address for --brokers (the ports are the\n"
                "kernel's choice). Everything is kept in memory, at most 5 MiB per partition.\n"
                "\n"
                "  -p, --partitions N      partitions of each topic (default 4)\n"
                "  -n, --nodes N           brokers in the cluster, 1..16 (default 1)\n"
                "  -b, --bootstrap-file F  also write the bootstrap address to F (replaced\n"
                "                          atomically once the topics exist; removed at exit)\n"
                "  -h, --help              show this help\n"
                "\n"
                "Fault injection: each line on stdin is a command, answered on stdout by 'ok'\n"
                "or 'error: ...':\n"
                "  fail API ERROR[*N]...        next API requests fail (fail Produce "
                "_TRANSPORT*2)\n"
                "  delay BROKER API ERROR MS    broker answers its next API request late\n"
                "  clear API                    drops API's pending errors\n"
                "  down BROKER|all, up BROKER|all, rtt BROKER|all MS\n"
                "  leader TOPIC PARTITION BROKER, coordinator transaction|group KEY BROKER\n"
                "  topic NAME PARTITIONS\n");
}

/* Writes text + newline to path through a temporary file and rename(2). */
static int write_atomically(const char *path, const char *text)
{
        char tmp[PATH_MAX];
        cleanup_fd int fd = -1;
        size_t len = strlen(text);
        int n;

        n = snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
        if (n < 0 || (size_t)n >= sizeof(tmp))
                return -ENAMETOOLONG;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
            rename(tmp, path) < 0) {
                int r = -errno;

                unlink(tmp);
                return r ? r : -EIO;
        }
        return 0;
}

/* Runs the commands of the complete lines in buf[0..*len), keeping a partial last line. */
static void run_commands(struct queue_mock *mock, char *buf, size_t *len)
{
        char *start = buf, *nl;

        while ((nl = memchr(start, '\n', *len - (size_t)(start - buf)))) {
                struct gv_err err = {0};

                *nl = '\0';
                if (queue_mock_command(mock, start, &err) < 0)
                        printf("error: %s\n", err.msg);
                else if (start[strspn(start, " \t\r")] && start[strspn(start, " \t\r")] != '#')
                        printf("ok\n");
                fflush(stdout);
                start = nl + 1;
        }
        *len -= (size_t)(start - buf);
        memmove(buf, start, *len);
        if (*len == BROKER_LINE_MAX) {
                printf("error: line longer than %d bytes\n", BROKER_LINE_MAX);
                fflush(stdout);
                *len = 0;
        }
}

/* Serves stdin commands until a signal comes; returns it. */
static int serve(struct queue_mock *mock, int sfd)
{
        char buf[BROKER_LINE_MAX];
        size_t len = 0;
        bool stdin_open = true;

        for (;;) {
                struct pollfd pfd[2] = {
                        {.fd = sfd, .events = POLLIN},
                        {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN},
                };
                struct signalfd_siginfo si;
                ssize_t n;

                if (poll(pfd, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (pfd[0].revents & POLLIN) {
                        if (read(sfd, &si, sizeof(si)) == sizeof(si))
                                return (int)si.ssi_signo;
                }
                if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        n = read(STDIN_FILENO, buf + len, sizeof(buf) - len);
                        if (n <= 0) {
                                stdin_open = false; /* /dev/null or a closed pipe: keep serving */
                                continue;
                        }
                        len += (size_t)n;
                        run_commands(mock, buf, &len);
                }
        }
}

int cmd_broker(int argc, char **argv)
{
        static const struct option options[] = {
                {"partitions", required_argument, NULL, 'p'},
                {"nodes", required_argument, NULL, 'n'},
                {"bootstrap-file", required_argument, NULL, 'b'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        static const char *const topics[] = {QUEUE_TOPIC_JOBS, QUEUE_TOPIC_VERDICTS,
                                             QUEUE_TOPIC_PROGRESS, QUEUE_TOPIC_DLQ};
        unsigned partitions = 4, nodes = 1;
        const char *bootfile = NULL;
        struct queue_mock *mock = NULL;
        struct gv_err err = {0};
        cleanup_fd int sfd = -1;
        sigset_t mask;
        int c, r, sig;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+p:n:b:h", options, NULL)) != -1) {
                switch (c) {
                case 'p':
                        if (cmd_parse_uint("broker", "--partitions", optarg, 1,
                                           BROKER_PARTITIONS_MAX, &partitions) < 0)
                                return EXIT_USAGE;
                        break;
                case 'n':
                        if (cmd_parse_uint("broker", "--nodes", optarg, 1, 16, &nodes) < 0)
                                return EXIT_USAGE;
                        break;
                case 'b':
                        bootfile = optarg;
                        break;
                case 'h':
                        broker_usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "gavel broker: unknown option or missing value: '%s'\n",
                                argv[optind - 1]);
                        broker_usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "gavel broker: unexpected argument '%s'\n", argv[optind]);
                return EXIT_USAGE;
        }

        /* blocked before librdkafka starts its threads, so only the signalfd sees them */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sfd < 0) {
                fprintf(stderr, "gavel broker: signalfd: %s\n", strerror(errno));
                return EXIT_FAILURE_SYSTEM;
        }
        r = queue_mock_new(nodes, kafka_log, NULL, &mock, &err);
        for (size_t i = 0; r == 0 && i < ARRAY_SIZE(topics); i++)
                r = queue_mock_topic_create(mock, topics[i], partitions, &err);
        if (r < 0) {
                fprintf(stderr, "gavel broker: %s\n", err.msg);
                queue_mock_free(mock);
                return EXIT_FAILURE_SYSTEM;
        }
        printf("%s\n", queue_mock_bootstrap(mock));
        fflush(stdout);
        if (bootfile) {
                r = write_atomically(bootfile, queue_mock_bootstrap(mock));
                if (r < 0) {
                        fprintf(stderr, "gavel broker: --bootstrap-file: cannot write '%s': %s\n",
                                bootfile, strerror(-r));
                        queue_mock_free(mock);
                        return EXIT_FAILURE_SYSTEM;
                }
        }
        log_info("broker ready", "bootstrap=%s nodes=%u partitions=%u", queue_mock_bootstrap(mock),
                 nodes, partitions);
        sig = serve(mock, sfd);
        log_info("broker stopping", "signal=%d", sig);
        if (bootfile)
                unlink(bootfile);
        queue_mock_free(mock);
        return sig < 0 ? EXIT_FAILURE_SYSTEM : 0;
}
