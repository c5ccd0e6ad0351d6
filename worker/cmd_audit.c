/* SPDX-License-Identifier: MIT */
/*
 * gavel audit: the operator's view of a worker's audit log. stats counts what it holds, show
 * answers "what happened to submission X" (every reception of the job, every attempt with its
 * stages, every verdict with its publish state), prune drops old jobs and gives the space back.
 * Each runs beside a live worker: reads never block it, prune deletes in short transactions.
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "schema/cleanup.h"
#include "worker/audit/audit.h"
#include "worker/cmd.h"
#include "worker/util/clock.h"
#include "worker/util/json.h"

static void usage(FILE *f)
{
        fprintf(f,
                "usage: gavel audit stats [--audit FILE] [--json]\n"
                "       gavel audit show ID [--audit FILE] [--row] [--json]\n"
                "       gavel audit prune --older-than DURATION [--audit FILE]\n"
                "\n"
                "Reads a worker's audit log: every job it received, each judging attempt with\n"
                "its stage results, every verdict with its publish state.\n"
                "\n"
                "  stats          counts of jobs, attempts by state, verdicts by code and state,\n"
                "                 the log's size and the time span it covers\n"
                "  show ID        the history of submission ID: each time the job was received,\n"
                "                 the job decoded, every attempt and stage, every verdict\n"
                "  prune          delete the jobs received longer ago than DURATION (with their\n"
                "                 attempts and verdicts) and give the space back to the disk\n"
                "\n"
                "  -a, --audit FILE        the log (default: $GAVEL_AUDIT, else " AUDIT_DEFAULT_PATH
                ")\n"
                "  -j, --json              one JSON document on stdout instead of a table\n"
                "  -r, --row               show: ID is a job row id, not a submission id\n"
                "  -o, --older-than DUR    prune: a number and a unit: s, m, h or d (7d, 12h)\n"
                "  -h, --help              show this help\n"
                "\n"
                "Exit status: 0 done; 1 show found nothing; 2 usage, or no usable log at FILE;\n"
                "3 the database failed (full, locked, unreadable).\n");
}

/* "2024-05-01T12:00:00.123Z", or "-" for 0. */
static const char *fmt_time(int64_t ms, char buf[32])
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        size_t n;

        if (ms <= 0 || !gmtime_r(&t, &tm))
                return "-";
        n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, 32 - n, ".%03dZ", (int)(ms % 1000));
        return buf;
}

static const char *fmt_bytes(uint64_t n, char buf[32])
{
        static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = (double)n;
        size_t u = 0;

        while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, 32, "%" PRIu64 " B", n);
        else
                snprintf(buf, 32, "%.1f %s", v, units[u]);
        return buf;
}

static int exit_status(int r)
{
        switch (r) {
        case -ENOENT:
        case -ELOOP:
        case -EINVAL:
        case -EPROTONOSUPPORT:
        case -EUCLEAN:
        case -EACCES:
                return EXIT_USAGE;
        default:
                return EXIT_FAILURE_SYSTEM;
        }
}

static int print_json(json_t *json)
{
        char *text = json_dumps_exact(json, JSON_INDENT(2));

        if (!text) {
                fprintf(stderr, "gavel audit: out of memory\n");
                return EXIT_FAILURE_SYSTEM;
        }
        puts(text);
        free(text);
        return 0;
}

/* ---- stats ------------------------------------------------------------------------------ */

static json_t *stats_json(struct audit *audit, const struct audit_stats *st)
{
        json_t *attempts = json_object(), *verdicts = json_object();

        for (int s = 0; s < _AUDIT_ATTEMPT_MAX; s++)
                json_object_set_new(attempts, audit_attempt_state_name(s),
                                    json_integer((json_int_t)st->attempts[s]));
        for (int c = 0; c < _SCHEMA_CODE_MAX; c++) {
                json_t *by_state = json_object();
                uint64_t any = 0;

                for (int s = 0; s < _AUDIT_PUBLISH_MAX; s++) {
                        any += st->verdicts[c][s];
                        json_object_set_new(by_state, audit_publish_name(s),
                                            json_integer((json_int_t)st->verdicts[c][s]));
                }
                if (any)
                        json_object_set_new(verdicts, schema_code_name(c), by_state);
                else
                        json_decref(by_state);
        }
        return json_pack("{s:s, s:i, s:I, s:I, s:I, s:o, s:o, s:I, s:I, s:I, s:I}", "path",
                         audit_path(audit), "schema_version", (int)st->schema_version, "jobs",
                         (json_int_t)st->jobs, "oldest_ms", (json_int_t)st->oldest_ms, "newest_ms",
                         (json_int_t)st->newest_ms, "attempts", attempts, "verdicts", verdicts,
                         "verdicts_other", (json_int_t)st->verdicts_other, "db_bytes",
                         (json_int_t)st->db_bytes, "wal_bytes", (json_int_t)st->wal_bytes,
                         "free_bytes", (json_int_t)st->free_bytes);
}

static void stats_table(struct audit *audit, const struct audit_stats *st)
{
        char a[32], b[32], c[32];

        printf("audit log   %s (schema version %u)\n", audit_path(audit), st->schema_version);
        printf("size        %s database, %s write-ahead log, %s free\n", fmt_bytes(st->db_bytes, a),
               fmt_bytes(st->wal_bytes, b), fmt_bytes(st->free_bytes, c));
        printf("jobs        %" PRIu64, st->jobs);
        if (st->jobs)
                printf(", received %s to %s", fmt_time(st->oldest_ms, a),
                       fmt_time(st->newest_ms, b));
        printf("\nattempts   ");
        for (int s = 0; s < _AUDIT_ATTEMPT_MAX; s++)
                printf(" %" PRIu64 " %s%s", st->attempts[s], audit_attempt_state_name(s),
                       s + 1 < _AUDIT_ATTEMPT_MAX ? "," : "\n");
        printf("verdicts    code  ");
        for (int s = 0; s < _AUDIT_PUBLISH_MAX; s++)
                printf(" %10s", audit_publish_name(s));
        printf("\n");
        for (int code = 0; code < _SCHEMA_CODE_MAX; code++) {
                uint64_t any = 0;

                for (int s = 0; s < _AUDIT_PUBLISH_MAX; s++)
                        any += st->verdicts[code][s];
                if (!any)
                        continue;
                printf("            %-5s ", schema_code_name(code));
                for (int s = 0; s < _AUDIT_PUBLISH_MAX; s++)
                        printf(" %10" PRIu64, st->verdicts[code][s]);
                printf("\n");
        }
        if (st->verdicts_other)
                printf("            %" PRIu64 " with a code or state this gavel does not know\n",
                       st->verdicts_other);
}

static int run_stats(struct audit *audit, bool json)
{
        struct audit_stats st;
        struct gv_err err = {0};
        json_t *doc;
        int r, status;

        r = audit_stats(audit, &st, &err);
        if (r < 0) {
                fprintf(stderr, "gavel audit: %s\n", err.msg);
                return exit_status(r);
        }
        if (!json) {
                stats_table(audit, &st);
                return 0;
        }
        doc = stats_json(audit, &st);
        status = print_json(doc);
        json_decref(doc);
        return status;
}

/* ---- show ------------------------------------------------------------------------------- */

static const char *str_or(const json_t *obj, const char *key, const char *none)
{
        const char *s = json_string_value(json_object_get(obj, key));

        return s ? s : none;
}

static json_int_t int_or(const json_t *obj, const char *key, json_int_t none)
{
        const json_t *v = json_object_get(obj, key);

        return json_is_integer(v) ? json_integer_value(v) : none;
}

/* Prints value indented by indent spaces on every line. */
static void print_indented(const json_t *value, size_t flags, int indent)
{
        char *text = json_dumps_exact(value, flags);

        if (!text)
                return;
        printf("%*s", indent, "");
        for (const char *p = text; *p; p++) {
                putchar(*p);
                if (*p == '\n')
                        printf("%*s", indent, "");
        }
        putchar('\n');
        free(text);
}

static void show_message(const json_t *obj, const char *what, size_t flags)
{
        const json_t *message = json_object_get(obj, "message");
        const char *error = str_or(obj, "message_error", NULL);

        printf("    %s (%" JSON_INTEGER_FORMAT " bytes)%s%s\n", what, int_or(obj, "raw_bytes", 0),
               error ? ", not valid: " : ":", error ? error : "");
        if (json_is_object(message))
                print_indented(message, flags, 6);
}

static void show_stage(const json_t *stage)
{
        const char *message = str_or(stage, "message", "");
        int len = (int)strcspn(message, "\n");

        printf("      %-8s %4" JSON_INTEGER_FORMAT " %-7s %8" JSON_INTEGER_FORMAT
               " %8" JSON_INTEGER_FORMAT " %11" JSON_INTEGER_FORMAT " %5" JSON_INTEGER_FORMAT
               " %6" JSON_INTEGER_FORMAT "%s%.*s%s\n",
               str_or(stage, "kind", "?"), int_or(stage, "index", 0), str_or(stage, "verdict", "-"),
               int_or(stage, "time_ms", 0), int_or(stage, "wall_ms", 0),
               int_or(stage, "memory_kib", 0), int_or(stage, "exit_code", 0),
               int_or(stage, "signal", 0), *message ? "  " : "", len > 60 ? 60 : len, message,
               len > 60 || message[len] ? " ..." : "");
}

static void show_attempt(const json_t *attempt)
{
        json_int_t started = int_or(attempt, "started_ms", 0);
        json_int_t finished = int_or(attempt, "finished_ms", 0);
        const json_t *stages = json_object_get(attempt, "stages");
        const json_t *stage;
        char a[32], b[32];
        size_t i;

        printf("  attempt %" JSON_INTEGER_FORMAT " (row %" JSON_INTEGER_FORMAT "): %s, started %s",
               int_or(attempt, "attempt", 0), int_or(attempt, "id", 0),
               str_or(attempt, "state", "?"), fmt_time(started, a));
        if (finished)
                printf(", ended %s (%" JSON_INTEGER_FORMAT " ms)", fmt_time(finished, b),
                       finished - started);
        if (json_string_value(json_object_get(attempt, "reason")))
                printf(": %s", str_or(attempt, "reason", ""));
        printf("\n");
        if (json_array_size(stages) == 0)
                return;
        printf("      %-8s %4s %-7s %8s %8s %11s %5s %6s  %s\n", "stage", "#", "verdict", "cpu ms",
               "wall ms", "memory KiB", "exit", "signal", "message");
        json_array_foreach(stages, i, stage)
        {
                show_stage(stage);
        }
}

static void show_verdict(const json_t *verdict)
{
        const json_t *max = json_object_get(verdict, "max_score");
        char a[32], b[32];

        printf("  verdict row %" JSON_INTEGER_FORMAT " (attempt row %" JSON_INTEGER_FORMAT
               "): %s, score %g",
               int_or(verdict, "id", 0), int_or(verdict, "attempt_id", 0),
               str_or(verdict, "code", "?"), json_number_value(json_object_get(verdict, "score")));
        if (json_is_number(max))
                printf("/%g", json_number_value(max));
        printf(", %s (recorded %s, updated %s)\n", str_or(verdict, "state", "?"),
               fmt_time(int_or(verdict, "created_ms", 0), a),
               fmt_time(int_or(verdict, "updated_ms", 0), b));
        show_message(verdict, "verdict", JSON_COMPACT);
}

static void show_job(const json_t *job)
{
        const json_t *attempts = json_object_get(job, "attempts");
        const json_t *verdicts = json_object_get(job, "verdicts");
        const json_t *key = json_object_get(job, "key");
        const json_t *item;
        char a[32];
        size_t i;

        printf("job row %" JSON_INTEGER_FORMAT ": submission %s, received %s by %s\n",
               int_or(job, "id", 0), str_or(job, "submission", "(undecodable)"),
               fmt_time(int_or(job, "received_ms", 0), a), str_or(job, "worker", "-"));
        printf("    problem %s, language %s, attempt %" JSON_INTEGER_FORMAT "%s\n",
               str_or(job, "problem", "-"), str_or(job, "lang", "-"), int_or(job, "attempt", 0),
               int_or(job, "rejudge", 0) ? ", a rejudge" : "");
        if (json_string_value(json_object_get(job, "topic"))) {
                printf("    from %s partition %" JSON_INTEGER_FORMAT
                       " offset %" JSON_INTEGER_FORMAT,
                       str_or(job, "topic", ""), int_or(job, "partition", -1),
                       int_or(job, "offset", -1));
                if (key && !json_is_null(key)) {
                        printf(" key");
                        print_indented(key, JSON_COMPACT | JSON_ENCODE_ANY, 1);
                } else
                        printf("\n");
        }
        show_message(job, "job", JSON_INDENT(2));
        json_array_foreach(attempts, i, item)
        {
                show_attempt(item);
        }
        json_array_foreach(verdicts, i, item)
        {
                show_verdict(item);
        }
}

static int run_show(struct audit *audit, const char *id, bool by_row, bool json)
{
        struct gv_err err = {0};
        json_t *doc = NULL, *job;
        size_t i;
        int r, status = 0;

        r = audit_show(audit, id, by_row, &doc, &err);
        if (r < 0) {
                fprintf(stderr, "gavel audit: %s\n", err.msg);
                return r == -ENOENT ? 1 : exit_status(r);
        }
        if (json)
                status = print_json(doc);
        else
                json_array_foreach(json_object_get(doc, "jobs"), i, job)
                {
                        if (i > 0)
                                printf("\n");
                        show_job(job);
                }
        json_decref(doc);
        return status;
}

/* ---- prune ------------------------------------------------------------------------------ */

static int run_prune(struct audit *audit, int64_t older_ms)
{
        int64_t before;
        struct audit_pruned p;
        struct gv_err err = {0};
        char a[32], b[32], c[32];
        int r;

        before = clock_wall_ms() - older_ms;
        r = audit_prune(audit, before, &p, &err);
        if (r < 0) {
                fprintf(stderr, "gavel audit: %s\n", err.msg);
                return exit_status(r);
        }
        printf("pruned %" PRIu64 " jobs received before %s (%" PRIu64 " attempts, %" PRIu64
               " stages, %" PRIu64 " verdicts); %s -> %s on disk\n",
               p.jobs, fmt_time(before, a), p.attempts, p.stages, p.verdicts,
               fmt_bytes(p.bytes_before, b), fmt_bytes(p.bytes_after, c));
        return 0;
}

/* ---- gavel audit ------------------------------------------------------------------------ */

enum sub {
        SUB_STATS,
        SUB_SHOW,
        SUB_PRUNE,
        _SUB_MAX,
};

static const char *const sub_names[_SUB_MAX] = {"stats", "show", "prune"};

int cmd_audit(int argc, char **argv)
{
        static const struct option options[] = {
                {"audit", required_argument, NULL, 'a'},
                {"json", no_argument, NULL, 'j'},
                {"row", no_argument, NULL, 'r'},
                {"older-than", required_argument, NULL, 'o'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        struct audit_conf conf = {0};
        struct audit *audit = NULL;
        struct gv_err err = {0};
        const char *path = getenv("GAVEL_AUDIT"), *older = NULL, *id = NULL;
        bool json = false, by_row = false;
        int64_t older_ms = 0;
        int sub = -1, c, r, status;

        if (argc >= 2)
                for (int i = 0; i < _SUB_MAX; i++)
                        if (!strcmp(argv[1], sub_names[i]))
                                sub = i;
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
                usage(stdout);
                return 0;
        }
        if (sub < 0) {
                if (argc >= 2)
                        fprintf(stderr,
                                "gavel audit: unknown subcommand '%s' (stats, show, "
                                "prune)\n",
                                argv[1]);
                usage(stderr);
                return EXIT_USAGE;
        }
        opterr = 0;
        optind = 1;
        while ((c = getopt_long(argc - 1, argv + 1, "a:jro:h", options, NULL)) != -1) {
                switch (c) {
                case 'a':
                        path = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'r':
                        by_row = true;
                        break;
                case 'o':
                        older = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "gavel audit: unknown option or missing value: '%s'\n",
                                argv[optind]);
                        return EXIT_USAGE;
                }
        }
        /* argv + 1 was permuted: the operands follow the options */
        if (sub == SUB_SHOW && optind < argc - 1)
                id = argv[1 + optind++];
        if (optind < argc - 1) {
                fprintf(stderr, "gavel audit %s: unexpected argument '%s'\n", sub_names[sub],
                        argv[1 + optind]);
                return EXIT_USAGE;
        }
        if (sub == SUB_SHOW && !id) {
                fprintf(stderr, "gavel audit show: which submission? (gavel audit show ID)\n");
                return EXIT_USAGE;
        }
        if ((by_row && sub != SUB_SHOW) || (json && sub == SUB_PRUNE) ||
            (older && sub != SUB_PRUNE)) {
                fprintf(stderr, "gavel audit %s: --%s does not apply here\n", sub_names[sub],
                        by_row && sub != SUB_SHOW   ? "row"
                        : older && sub != SUB_PRUNE ? "older-than"
                                                    : "json");
                return EXIT_USAGE;
        }
        if (sub == SUB_PRUNE) {
                if (!older) {
                        fprintf(stderr, "gavel audit prune: --older-than DURATION is required "
                                        "(e.g. 7d)\n");
                        return EXIT_USAGE;
                }
                r = cmd_parse_duration(older, &older_ms);
                if (r < 0) {
                        fprintf(stderr,
                                "gavel audit prune: --older-than: %s '%s'; expected a number "
                                "and a unit s, m, h or d, e.g. 7d\n",
                                r == -ERANGE ? "too long a duration" : "cannot read", older);
                        return EXIT_USAGE;
                }
        }
        conf.path = path && *path ? path : AUDIT_DEFAULT_PATH;
        r = audit_open(&conf, &audit, &err);
        if (r < 0) {
                fprintf(stderr, "gavel audit: %s\n", err.msg);
                return exit_status(r);
        }
        switch (sub) {
        case SUB_STATS:
                status = run_stats(audit, json);
                break;
        case SUB_SHOW:
                status = run_show(audit, id, by_row, json);
                break;
        default:
                status = run_prune(audit, older_ms);
                break;
        }
        audit_free(audit);
        return status;
}
