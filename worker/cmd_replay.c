// SPDX-License-Identifier: MIT
/*
 * gavel replay: works from a worker's audit log. Selects recorded jobs and either judges them
 * again here and compares with what was published (the determinism check, and what a problem fix
 * changes), puts them back on the jobs topic for the fleet, or publishes their committed verdicts
 * again for a platform that lost them.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "queue/queue.h"
#include "schema/cleanup.h"
#include "worker/audit/audit.h"
#include "worker/audit/replay.h"
#include "worker/cmd.h"
#include "worker/config.h"
#include "worker/judge/judge.h"
#include "worker/judge/lang.h"
#include "worker/kafka.h"
#include "worker/setup.h"
#include "worker/util/clock.h"

static void usage(FILE *f)
{
        fprintf(f,
                "usage: gavel replay [--audit FILE] [SELECTION] ACTION\n"
                "Replays jobs recorded in a worker's audit log.\n\n"
                "selection (all given must match; none: every recorded job):\n"
                "  --id ID            one submission\n"
                "  --since WHEN       received at or after WHEN: a duration ago (\"2h\", \"7d\")\n"
                "                     or unix milliseconds\n"
                "  --until WHEN       received before WHEN (same forms)\n"
                "  --problem ID       --lang LANG     --worker ID\n"
                "  --verdict CODE     the last committed verdict was CODE (AC, WA, ...)\n\n"
                "actions:\n"
                "  --rejudge          judge the jobs again on this host and compare each new\n"
                "                     verdict with the recorded one (exit 1 when any differ)\n"
                "  --requeue          put the jobs back on the jobs topic (attempt + 1, marked as\n"
                "                     rejudges) for the workers to judge\n"
                "  --republish        publish the recorded committed verdicts again, in\n"
                "                     transactions of 500\n\n"
                "options:\n"
                "  --audit FILE       the audit log (default: the config's, else $GAVEL_AUDIT)\n"
                "  --config FILE      the worker's configuration (problem store, languages,\n"
                "                     cache, brokers, topics)\n"
                "  --brokers B        bootstrap servers for --requeue and --republish\n"
                "  --topic T          topic to publish to (default gavel.jobs for --requeue,\n"
                "                     gavel.verdicts for --republish)\n"
                "  --problems DIR     problem store for --rejudge (overrides the config)\n"
                "  --lang-file F      language table for --rejudge (overrides the config)\n"
                "  --cache-dir DIR    compile cache for --rejudge\n"
                "  --slots K          jobs judged at once for --rejudge (default: cores)\n"
                "  --json             one JSON object per job instead of a line of text\n\n"
                "Exit status: 0 done (for --rejudge: every verdict equal), 1 some verdicts\n"
                "differ, 2 usage or input error, 3 a failure of the log, the judge or Kafka.\n");
}

enum action { ACT_NONE, ACT_REJUDGE, ACT_REQUEUE, ACT_REPUBLISH };

struct opts {
        struct audit_select sel;
        enum action action;
        const char *audit, *config, *brokers, *topic, *problems, *lang_file, *cache_dir;
        uint64_t slots;
        bool json;
};

/* "2h" (that long ago) or unix milliseconds. */
static int parse_when(const char *opt, const char *s, int64_t *ret_ms)
{
        int64_t ago;
        uint64_t ms;

        if (cmd_parse_duration(s, &ago) == 0) {
                *ret_ms = clock_wall_ms() - ago;
                return 0;
        }
        if (cmd_parse_u64("replay", opt, s, INT64_MAX, &ms) < 0)
                return -EINVAL;
        *ret_ms = (int64_t)ms;
        return 0;
}

static int set_action(struct opts *o, enum action a)
{
        if (o->action != ACT_NONE && o->action != a) {
                fprintf(stderr, "gavel replay: choose one of --rejudge, --requeue, --republish\n");
                return -EINVAL;
        }
        o->action = a;
        return 0;
}

/* 0 to go on, 1 after --help, -EINVAL on a usage error (reported). */
static int parse_args(int argc, char **argv, struct opts *o)
{
        static const struct option opts[] = {
                {"id", required_argument, NULL, 'i'},
                {"since", required_argument, NULL, 'S'},
                {"until", required_argument, NULL, 'U'},
                {"problem", required_argument, NULL, 'p'},
                {"lang", required_argument, NULL, 'l'},
                {"worker", required_argument, NULL, 'w'},
                {"verdict", required_argument, NULL, 'v'},
                {"rejudge", no_argument, NULL, 'R'},
                {"requeue", no_argument, NULL, 'Q'},
                {"republish", no_argument, NULL, 'P'},
                {"audit", required_argument, NULL, 'a'},
                {"config", required_argument, NULL, 'c'},
                {"brokers", required_argument, NULL, 'b'},
                {"topic", required_argument, NULL, 't'},
                {"problems", required_argument, NULL, 'd'},
                {"lang-file", required_argument, NULL, 'L'},
                {"cache-dir", required_argument, NULL, 'C'},
                {"slots", required_argument, NULL, 'k'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'i':
                        o->sel.submission = optarg;
                        break;
                case 'S':
                        if (parse_when("--since", optarg, &o->sel.since_ms) < 0)
                                return -EINVAL;
                        break;
                case 'U':
                        if (parse_when("--until", optarg, &o->sel.until_ms) < 0)
                                return -EINVAL;
                        break;
                case 'p':
                        o->sel.problem = optarg;
                        break;
                case 'l':
                        o->sel.lang = optarg;
                        break;
                case 'w':
                        o->sel.worker = optarg;
                        break;
                case 'v':
                        o->sel.by_verdict = true;
                        o->sel.verdict = schema_code_from_name(optarg);
                        if (o->sel.verdict < 0) {
                                fprintf(stderr, "gavel replay: --verdict: unknown code '%s'\n",
                                        optarg);
                                return -EINVAL;
                        }
                        break;
                case 'R':
                case 'Q':
                case 'P':
                        if (set_action(o, c == 'R'   ? ACT_REJUDGE
                                          : c == 'Q' ? ACT_REQUEUE
                                                     : ACT_REPUBLISH) < 0)
                                return -EINVAL;
                        break;
                case 'a':
                        o->audit = optarg;
                        break;
                case 'c':
                        o->config = optarg;
                        break;
                case 'b':
                        o->brokers = optarg;
                        break;
                case 't':
                        o->topic = optarg;
                        break;
                case 'd':
                        o->problems = optarg;
                        break;
                case 'L':
                        o->lang_file = optarg;
                        break;
                case 'C':
                        o->cache_dir = optarg;
                        break;
                case 'k':
                        if (cmd_parse_u64("replay", "--slots", optarg, 256, &o->slots) < 0)
                                return -EINVAL;
                        break;
                case 'j':
                        o->json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 1;
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "gavel replay: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        if (o->action == ACT_NONE) {
                fprintf(stderr, "gavel replay: no action: give --rejudge, --requeue or "
                                "--republish\n");
                return -EINVAL;
        }
        return 0;
}

/* ---- progress on a terminal ------------------------------------------------------------- */

static void show_progress(uint64_t done, uint64_t total, bool end)
{
        static int tty = -1;

        if (tty < 0)
                tty = isatty(STDERR_FILENO);
        if (!tty)
                return;
        fprintf(stderr, "\r\033[K%" PRIu64 "/%" PRIu64 " jobs%s", done, total, end ? "\n" : "");
        fflush(stderr);
}

/* ---- rejudge ----------------------------------------------------------------------------- */

/* One job in flight: what the log said, and what the judge says now. */
struct pending {
        char *submission;
        struct job job;
        bool decoded;
        struct verdict recorded;
        bool has_recorded;
        struct verdict now;
        bool done;
};

struct window {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        unsigned outstanding;
};

struct done_ctx {
        struct window *w;
        struct pending *p;
};

static void on_done(struct verdict *v, bool cancelled, void *userdata)
{
        struct done_ctx *ctx = userdata;

        (void)cancelled; /* nothing cancels a replay's jobs */
        pthread_mutex_lock(&ctx->w->lock);
        ctx->p->now = *v;
        ctx->p->done = true;
        ctx->w->outstanding--;
        pthread_cond_signal(&ctx->w->cond);
        pthread_mutex_unlock(&ctx->w->lock);
}

struct tally {
        uint64_t equal, differ, unrecorded, total;
};

/* Prints j as one compact JSON line and releases it (ids may hold any byte but NUL). */
static void print_json_line(json_t *j)
{
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

        if (s)
                printf("%s\n", s);
        free(s);
        json_decref(j);
}

static void report(const struct opts *o, const struct pending *p, struct tally *t)
{
        char diff[512] = "";
        const char *id = p->submission ? p->submission : "(undecodable)";
        bool same = true;

        if (p->has_recorded)
                same = replay_same_verdict(&p->recorded, &p->now, diff, sizeof(diff));
        if (!p->has_recorded)
                t->unrecorded++;
        else if (same)
                t->equal++;
        else
                t->differ++;
        if (o->json) {
                print_json_line(
                        json_pack("{s:s, s:s?, s:s, s:s, s:s?}", "id", id, "recorded",
                                  p->has_recorded ? schema_code_name(p->recorded.verdict) : NULL,
                                  "now", schema_code_name(p->now.verdict), "result",
                                  !p->has_recorded ? "unrecorded"
                                  : same           ? "equal"
                                                   : "differ",
                                  "diff", same ? NULL : diff));
                return;
        }
        if (!p->has_recorded)
                printf("%-24s %-8s %s\n", id, schema_code_name(p->now.verdict),
                       "(no committed verdict recorded)");
        else if (same)
                printf("%-24s %-8s equal\n", id, schema_code_name(p->now.verdict));
        else
                printf("%-24s %-8s DIFFERS: %s\n", id, schema_code_name(p->now.verdict), diff);
}

static void pending_done(struct pending *p)
{
        free(p->submission);
        job_done(&p->job);
        verdict_done(&p->recorded);
        verdict_done(&p->now);
        memset(p, 0, sizeof(*p));
}

/* Fills p from a log entry; a job that does not decode gets its REJECTED verdict right here. */
static void pending_fill(struct pending *p, const struct audit_entry *e, const char *worker)
{
        struct gv_err err = {0};

        p->submission = e->submission ? xstrdup(e->submission) : NULL;
        p->has_recorded =
                e->verdict_raw && schema_verdict_decode(e->verdict_raw, e->verdict_raw_len, NULL,
                                                        &p->recorded, NULL) == 0;
        p->decoded = schema_job_decode(e->job_raw, e->job_raw_len, NULL, &p->job, &err) == 0;
        if (!p->decoded) {
                char reason[300];

                snprintf(reason, sizeof(reason), "invalid job: %s", err.msg);
                judge_rejected(e->submission, reason, worker, &p->now);
                p->done = true;
        }
}

static int rejudge(const struct opts *o, const struct worker_config *cfg, struct audit_iter *it,
                   uint64_t total, struct tally *t)
{
        struct lang_table *langs = NULL;
        struct judge *judge = NULL;
        struct judge_conf conf;
        struct gv_err err = {0};
        struct window w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        struct pending *batch = NULL;
        struct done_ctx *ctx = NULL;
        const struct audit_entry *e;
        size_t cap;
        int r;

        r = lang_table_load(cfg->languages, &langs, &err);
        if (r < 0) {
                fprintf(stderr, "gavel replay: %s\n", err.msg);
                return EXIT_USAGE;
        }
        setup_judge_conf(cfg, langs, "replay", &conf);
        r = judge_new(&conf, &judge, &err);
        if (r < 0) {
                fprintf(stderr, "gavel replay: cannot start judging: %s\n", err.msg);
                lang_table_free(langs);
                return EXIT_FAILURE_SYSTEM;
        }
        /* judge a window of jobs at once (all slots busy), report them in the log's order */
        cap = 2 * (size_t)judge_slots(judge);
        batch = xcalloc(cap, sizeof(*batch));
        ctx = xcalloc(cap, sizeof(*ctx));
        for (bool end = false; !end;) {
                size_t n = 0;

                if (kafka_stop) /* SIGINT or SIGTERM: the jobs being judged finish first */
                        break;
                while (n < cap) {
                        r = audit_iter_next(it, &e, &err);
                        if (r <= 0) {
                                end = true;
                                break;
                        }
                        pending_fill(&batch[n], e, "replay");
                        n++;
                }
                if (r < 0)
                        fprintf(stderr, "gavel replay: read the log: %s\n", err.msg);
                for (size_t i = 0; i < n; i++) {
                        struct judge_request req = {.job = &batch[i].job, .done = on_done};

                        if (batch[i].done)
                                continue;
                        ctx[i] = (struct done_ctx){.w = &w, .p = &batch[i]};
                        req.userdata = &ctx[i];
                        pthread_mutex_lock(&w.lock);
                        w.outstanding++;
                        pthread_mutex_unlock(&w.lock);
                        if (judge_submit(judge, &req, &err) < 0) {
                                pthread_mutex_lock(&w.lock);
                                w.outstanding--;
                                pthread_mutex_unlock(&w.lock);
                                judge_rejected(batch[i].submission, err.msg, "replay",
                                               &batch[i].now);
                                batch[i].now.verdict = SCHEMA_SE;
                                batch[i].done = true;
                        }
                }
                pthread_mutex_lock(&w.lock);
                while (w.outstanding)
                        pthread_cond_wait(&w.cond, &w.lock);
                pthread_mutex_unlock(&w.lock);
                for (size_t i = 0; i < n; i++) {
                        report(o, &batch[i], t);
                        pending_done(&batch[i]);
                        t->total++;
                }
                show_progress(t->total, total, end);
                if (r < 0) {
                        r = EXIT_FAILURE_SYSTEM;
                        break;
                }
        }
        free(batch);
        free(ctx);
        judge_free(judge);
        lang_table_free(langs);
        if (kafka_stop) {
                fprintf(stderr, "gavel replay: interrupted after %" PRIu64 " job(s)\n", t->total);
                return EXIT_FAILURE_SYSTEM;
        }
        return r < 0 || r == EXIT_FAILURE_SYSTEM ? EXIT_FAILURE_SYSTEM : 0;
}

/* ---- requeue and republish --------------------------------------------------------------- */

#define REPUBLISH_BATCH  500 /* verdicts per transaction */
#define KAFKA_TIMEOUT_MS 30000

static int kafka_conf(const struct opts *o, const struct worker_config *cfg, struct queue_conf *ret)
{
        setup_queue_conf(cfg, o->brokers, "gavel-replay", ret);
        if (!ret->brokers) {
                fprintf(stderr, "gavel replay: --brokers: needed for --requeue and --republish\n");
                return -EINVAL;
        }
        return 0;
}

/* Puts each selected job back on the jobs topic, key = submission id: at least once (the
 * workers' exactly-once path answers each requeued job once more). */
static int requeue(const struct opts *o, const struct worker_config *cfg, struct audit_iter *it,
                   uint64_t total, struct tally *t)
{
        const char *topic = o->topic ? o->topic : cfg->topic_jobs;
        struct queue_producer *prod = NULL;
        const struct audit_entry *e;
        struct queue_conf qc;
        struct gv_err err = {0};
        int r;

        if (kafka_conf(o, cfg, &qc) < 0)
                return EXIT_USAGE;
        r = queue_producer_new(&qc, &prod, &err);
        if (r < 0) {
                fprintf(stderr, "gavel replay: %s\n", err.msg);
                return EXIT_FAILURE_SYSTEM;
        }
        while ((r = audit_iter_next(it, &e, &err)) > 0 && !kafka_stop) {
                cleanup_free void *buf = NULL;
                size_t len;
                struct gv_err jerr = {0};

                t->total++;
                if (replay_requeue_job(e->job_raw, e->job_raw_len, &buf, &len, &jerr) < 0) {
                        /* it was REJECTED when it came; as it is, it would be again */
                        fprintf(stderr, "gavel replay: job %" PRId64 " (%s) skipped: %s\n",
                                e->job_id, e->submission ? e->submission : "undecodable", jerr.msg);
                        t->unrecorded++;
                        continue;
                }
                r = queue_producer_send(prod, topic, -1, e->submission, strlen(e->submission), buf,
                                        len, NULL, 0, &err);
                if (r < 0)
                        break;
                t->equal++;
                if (o->json)
                        print_json_line(
                                json_pack("{s:s, s:b}", "id", e->submission, "requeued", 1));
                else
                        printf("%-24s requeued\n", e->submission);
                if (t->total % 64 == 0)
                        show_progress(t->total, total, false);
        }
        if (r >= 0)
                r = queue_producer_flush(prod, KAFKA_TIMEOUT_MS, &err);
        show_progress(t->total, total, true);
        queue_producer_free(prod);
        if (r < 0) {
                fprintf(stderr, "gavel replay: requeue: %s\n", err.msg);
                return EXIT_FAILURE_SYSTEM;
        }
        return 0;
}

/* Publishes the recorded committed verdicts again, REPUBLISH_BATCH per transaction, each to the
 * partition it was published to first (where the workers' guard expects it) with the job's
 * coordinates in its headers, key = submission id. */
static int republish(const struct opts *o, const struct worker_config *cfg, struct audit_iter *it,
                     uint64_t total, struct tally *t)
{
        const char *topic = o->topic ? o->topic : cfg->topic_verdicts;
        struct queue_producer *prod = NULL;
        const struct audit_entry *e;
        struct queue_conf qc;
        struct gv_err err = {0};
        char txn_id[128], host[64] = "host";
        unsigned in_txn = 0;
        int r;

        if (kafka_conf(o, cfg, &qc) < 0)
                return EXIT_USAGE;
        gethostname(host, sizeof(host) - 1);
        snprintf(txn_id, sizeof(txn_id), "gavel-replay-%s-%d", host, (int)getpid());
        r = queue_producer_new_txn(&qc, txn_id, KAFKA_TIMEOUT_MS, &prod, &err);
        if (r < 0) {
                fprintf(stderr, "gavel replay: %s\n", err.msg);
                return EXIT_FAILURE_SYSTEM;
        }
        while (r >= 0 && !kafka_stop) {
                char part[16], off[24];
                struct queue_header h[2];

                r = audit_iter_next(it, &e, &err);
                if (r <= 0)
                        break;
                t->total++;
                if (!e->verdict_raw || !e->submission) {
                        t->unrecorded++;
                        continue;
                }
                if (in_txn == 0 && (r = queue_producer_begin(prod, &err)) < 0)
                        break;
                snprintf(part, sizeof(part), "%" PRId32, e->partition);
                snprintf(off, sizeof(off), "%" PRId64, e->offset);
                h[0] = (struct queue_header){QUEUE_HDR_PARTITION, part, strlen(part)};
                h[1] = (struct queue_header){QUEUE_HDR_OFFSET, off, strlen(off)};
                r = queue_producer_send(
                        prod, topic, strcmp(topic, cfg->topic_verdicts) == 0 ? e->partition : -1,
                        e->submission, strlen(e->submission), e->verdict_raw, e->verdict_raw_len,
                        e->partition >= 0 ? h : NULL, e->partition >= 0 ? 2 : 0, &err);
                if (r < 0)
                        break;
                if (o->json)
                        print_json_line(json_pack("{s:s, s:s, s:b}", "id", e->submission, "verdict",
                                                  schema_code_name(e->verdict), "republished", 1));
                else
                        printf("%-24s %-8s republished\n", e->submission,
                               schema_code_name(e->verdict));
                t->equal++;
                if (++in_txn == REPUBLISH_BATCH) {
                        r = queue_producer_commit(prod, KAFKA_TIMEOUT_MS, &err);
                        in_txn = 0;
                        show_progress(t->total, total, false);
                }
        }
        if (r >= 0 && in_txn)
                r = queue_producer_commit(prod, KAFKA_TIMEOUT_MS, &err);
        else if (r < 0 && in_txn) { /* a failed send or read: the open transaction must not
                                     * hold read_committed readers until it times out */
                struct gv_err ignored;

                (void)queue_producer_abort(prod, KAFKA_TIMEOUT_MS, &ignored);
        }
        show_progress(t->total, total, true);
        queue_producer_free(prod);
        if (r < 0) {
                fprintf(stderr,
                        "gavel replay: republish: %s (verdicts of the transaction "
                        "in progress were not published)\n",
                        err.msg);
                return EXIT_FAILURE_SYSTEM;
        }
        return 0;
}

int cmd_replay(int argc, char **argv)
{
        static const char *const done_as[] = {[ACT_REJUDGE] = "rejudged",
                                              [ACT_REQUEUE] = "requeued",
                                              [ACT_REPUBLISH] = "republished"};
        struct opts o = {0};
        struct worker_config cfg;
        struct audit_conf ac = {0};
        struct audit *audit = NULL;
        struct audit_iter *it = NULL;
        struct tally t = {0};
        struct gv_err err = {0};
        uint64_t total = 0;
        int r, status;

        r = parse_args(argc, argv, &o);
        if (r != 0)
                return r > 0 ? 0 : EXIT_USAGE;
        worker_config_init(&cfg);
        if (o.config && worker_config_load(&cfg, o.config, &err) < 0) {
                fprintf(stderr, "gavel replay: %s\n", err.msg);
                worker_config_done(&cfg);
                return EXIT_USAGE;
        }
        /* the options over the file, so that a rejudge runs as the worker judged */
        if (o.problems)
                worker_config_set(&cfg.problems, o.problems);
        if (o.lang_file)
                worker_config_set(&cfg.languages, o.lang_file);
        if (o.cache_dir)
                worker_config_set(&cfg.cache_dir, o.cache_dir);
        if (o.slots)
                cfg.slots = (unsigned)o.slots;
        ac.path = o.audit                 ? o.audit
                  : cfg.audit             ? cfg.audit
                  : getenv("GAVEL_AUDIT") ? getenv("GAVEL_AUDIT")
                                          : AUDIT_DEFAULT_PATH;
        r = audit_open(&ac, &audit, &err);
        if (r == 0)
                r = audit_iter_new(audit, &o.sel, &it, &total, &err);
        if (r < 0) {
                fprintf(stderr, "gavel replay: %s\n", err.msg);
                status = r == -ENOENT || r == -EUCLEAN || r == -ELOOP ? EXIT_USAGE
                                                                      : EXIT_FAILURE_SYSTEM;
                goto out;
        }
        kafka_catch_signals();
        if (o.action == ACT_REJUDGE)
                status = rejudge(&o, &cfg, it, total, &t);
        else if (o.action == ACT_REQUEUE)
                status = requeue(&o, &cfg, it, total, &t);
        else
                status = republish(&o, &cfg, it, total, &t);
        if (o.action == ACT_REJUDGE)
                fprintf(o.json ? stderr : stdout,
                        "%s %" PRIu64 " jobs: %" PRIu64 " equal, %" PRIu64 " differ, %" PRIu64
                        " without a recorded verdict\n",
                        done_as[o.action], t.total, t.equal, t.differ, t.unrecorded);
        else
                fprintf(o.json ? stderr : stdout,
                        "%s %" PRIu64 " of %" PRIu64 " jobs (%" PRIu64 " skipped: %s)\n",
                        done_as[o.action], t.equal, t.total, t.unrecorded,
                        o.action == ACT_REQUEUE ? "not a valid job"
                                                : "no committed verdict recorded");
        if (status == 0 && t.differ)
                status = 1;
out:
        audit_iter_free(it);
        audit_free(audit);
        worker_config_done(&cfg);
        return status;
}
