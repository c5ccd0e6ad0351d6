/* SPDX-License-Identifier: MIT */
/*
 * The worker's YAML configuration (see config.h): each section is read by one function that
 * lists its keys first, so that a typo is an error, never a silently ignored setting.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/cleanup.h"
#include "worker/config.h"
#include "worker/util/yml.h"

void worker_config_init(struct worker_config *conf)
{
        *conf = (struct worker_config){
                .group = xstrdup("gavel"),
                .topic_jobs = xstrdup(QUEUE_TOPIC_JOBS),
                .topic_verdicts = xstrdup(QUEUE_TOPIC_VERDICTS),
                .topic_progress = xstrdup(QUEUE_TOPIC_PROGRESS),
                .topic_dlq = xstrdup(QUEUE_TOPIC_DLQ),
                .batch_max = 64,
                .grace_ms = 30000,
                .status_interval_ms = 60000,
                .mock_compat = QUEUE_MOCK_COMPAT_AUTO,
        };
}

void worker_config_done(struct worker_config *conf)
{
        if (!conf)
                return;
        free(conf->brokers);
        free(conf->group);
        free(conf->id);
        free(conf->topic_jobs);
        free(conf->topic_verdicts);
        free(conf->topic_progress);
        free(conf->topic_dlq);
        free(conf->problems);
        free(conf->languages);
        free(conf->cache_dir);
        free(conf->audit);
        for (size_t i = 0; i < conf->n_kafka; i++) {
                free((char *)conf->kafka[i].name);
                free((char *)conf->kafka[i].value);
        }
        memset(conf, 0, sizeof(*conf));
}

void worker_config_set(char **field, const char *value)
{
        free(*field);
        *field = value ? xstrdup(value) : NULL;
}

int worker_config_prop(struct worker_config *conf, const char *name, const char *value,
                       struct gv_err *err)
{
        for (size_t i = 0; i < conf->n_kafka; i++)
                if (!strcmp(conf->kafka[i].name, name)) {
                        free((char *)conf->kafka[i].value);
                        conf->kafka[i].value = xstrdup(value);
                        return 0;
                }
        if (conf->n_kafka == CONFIG_PROPS_MAX)
                return gv_err_set(err, -E2BIG, "kafka: more than %d properties", CONFIG_PROPS_MAX);
        conf->kafka[conf->n_kafka++] =
                (struct queue_prop){.name = xstrdup(name), .value = xstrdup(value)};
        return 0;
}

/* A string key: replaces *field when present. */
static int get_str(const struct yml *map, const char *key, char **field, struct gv_err *err)
{
        char *s = NULL;
        int r = yml_get_str(map, key, &s, err);

        if (r > 0) {
                free(*field);
                *field = s;
        }
        return r < 0 ? r : 0;
}

static int get_uint(const struct yml *map, const char *key, unsigned min, unsigned max,
                    unsigned *field, struct gv_err *err)
{
        uint32_t v;
        int r = yml_get_u32(map, key, min, max, &v, err);

        if (r > 0)
                *field = v;
        return r < 0 ? r : 0;
}

static int get_ms(const struct yml *map, const char *stem, uint64_t min, uint64_t max,
                  unsigned *field, struct gv_err *err)
{
        uint64_t v;
        int r = yml_get_ms(map, stem, min, max, &v, err);

        if (r > 0)
                *field = (unsigned)v;
        return r < 0 ? r : 0;
}

/* A sub-mapping that must be a mapping with only the known keys; found: 1, absent: 0. */
static int get_section(const struct yml *map, const char *key, const char *const *known,
                       struct yml *ret, struct gv_err *err)
{
        int r = yml_get(map, key, ret, err);

        if (r <= 0)
                return r;
        r = yml_want_map(ret, err);
        if (r == 0)
                r = yml_check_keys(ret, known, err);
        return r < 0 ? r : 1;
}

static int load_topics(struct worker_config *conf, const struct yml *root, struct gv_err *err)
{
        static const char *const keys[] = {"jobs", "verdicts", "progress", "dlq", NULL};
        struct yml map;
        int r = get_section(root, "topics", keys, &map, err);

        if (r <= 0)
                return r;
        if ((r = get_str(&map, "jobs", &conf->topic_jobs, err)) < 0 ||
            (r = get_str(&map, "verdicts", &conf->topic_verdicts, err)) < 0 ||
            (r = get_str(&map, "progress", &conf->topic_progress, err)) < 0 ||
            (r = get_str(&map, "dlq", &conf->topic_dlq, err)) < 0)
                return r;
        return 0;
}

/* limits.max / limits.default: time_ms|time_s, wall_ms|wall_s, memory_*, output_*. */
static int load_limits(const struct yml *parent, const char *key, struct job_limits *lim,
                       struct gv_err *err)
{
        static const char *const keys[] = {YML_MS_KEYS("time"), YML_MS_KEYS("wall"),
                                           YML_KIB_KEYS("memory"), YML_KIB_KEYS("output"), NULL};
        struct yml map;
        uint64_t v;
        int r = get_section(parent, key, keys, &map, err);

        if (r <= 0)
                return r;
        if ((r = yml_get_ms(&map, "time", 1, 3600000, &v, err)) > 0)
                lim->time_ms = (uint32_t)v;
        if (r >= 0 && (r = yml_get_ms(&map, "wall", 1, 7200000, &v, err)) > 0)
                lim->wall_ms = (uint32_t)v;
        if (r >= 0)
                r = yml_get_kib(&map, "memory", 1024, 1ull << 40, &lim->memory_kib, err);
        if (r >= 0)
                r = yml_get_kib(&map, "output", 1, 1ull << 40, &lim->output_kib, err);
        return r < 0 ? r : 0;
}

static int load_batch(struct worker_config *conf, const struct yml *root, struct gv_err *err)
{
        static const char *const keys[] = {"max", YML_MS_KEYS("linger"), NULL};
        struct yml map;
        int r = get_section(root, "batch", keys, &map, err);

        if (r <= 0)
                return r;
        r = get_uint(&map, "max", 1, 100000, &conf->batch_max, err);
        if (r == 0)
                r = get_ms(&map, "linger", 0, 60000, &conf->linger_ms, err);
        return r;
}

/* kafka: {property: value} passes through to librdkafka, checked by its rules. */
static int add_prop(struct worker_config *conf, const struct yml *val, const char *name,
                    struct gv_err *err)
{
        cleanup_free char *value = NULL;
        struct queue_prop prop;
        struct queue_conf qc = {.brokers = "-", .props = &prop, .n_props = 1};
        int r;

        if (!yml_is_scalar(val))
                return yml_error(val, err, -EINVAL, "expected a scalar value");
        r = yml_as_str(val, &value, err);
        if (r < 0)
                return r;
        prop = (struct queue_prop){.name = name, .value = value};
        if (queue_conf_check(&qc, err) < 0) {
                char why[sizeof(err->msg)];
                const char *m = strstr(err->msg, ": "); /* after librdkafka's "kafka.<name>" */

                snprintf(why, sizeof(why), "%s", m ? m + 2 : err->msg);
                return yml_error(val, err, -EINVAL, "%s", why);
        }
        return worker_config_prop(conf, name, value, err);
}

static int load_kafka(struct worker_config *conf, const struct yml *root, struct gv_err *err)
{
        struct yml map;
        int r = yml_get(root, "kafka", &map, err);

        if (r <= 0)
                return r;
        r = yml_want_map(&map, err);
        for (size_t i = 0; r == 0 && i < yml_map_len(&map); i++) {
                const char *name;
                struct yml val;

                r = yml_map_at(&map, i, &name, &val, err);
                if (r == 0)
                        r = add_prop(conf, &val, name, err);
        }
        return r;
}

static int load_mock_compat(struct worker_config *conf, const struct yml *root, struct gv_err *err)
{
        static const char *const names[] = {"auto", "on", "off"};
        cleanup_free char *s = NULL;
        struct yml y;
        int r = yml_get(root, "mock_compat", &y, err);

        if (r <= 0)
                return r;
        r = yml_as_str(&y, &s, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (!strcmp(s, names[i])) {
                        conf->mock_compat = (enum queue_mock_compat)i;
                        return 0;
                }
        return yml_error(&y, err, -EINVAL, "expected auto, on or off");
}

int worker_config_load(struct worker_config *conf, const char *path, struct gv_err *err)
{
        static const char *const keys[] = {
                "brokers",
                "group",
                "id",
                "topics",
                "slots",
                "window",
                "batch",
                YML_MS_KEYS("session_timeout"),
                YML_MS_KEYS("shutdown_grace"),
                YML_MS_KEYS("status_interval"),
                "mock_compat",
                "limits",
                "problems",
                "languages",
                "cache_dir",
                YML_KIB_KEYS("cache_max"),
                "pool",
                "audit",
                "kafka",
                NULL,
        };
        static const char *const limit_keys[] = {"max", "default", NULL};
        struct yml_doc *doc = NULL;
        struct yml root, limits;
        int r;

        r = yml_load_file(path, &doc, err);
        if (r < 0)
                return r;
        yml_root(doc, &root);
        r = yml_want_map(&root, err);
        if (r == 0)
                r = yml_check_keys(&root, keys, err);
        if (r == 0)
                r = get_str(&root, "brokers", &conf->brokers, err);
        if (r == 0)
                r = get_str(&root, "group", &conf->group, err);
        if (r == 0)
                r = get_str(&root, "id", &conf->id, err);
        if (r == 0)
                r = load_topics(conf, &root, err);
        if (r == 0)
                r = get_uint(&root, "slots", 1, 1024, &conf->slots, err);
        if (r == 0)
                r = get_uint(&root, "window", 1, 100000, &conf->window, err);
        if (r == 0)
                r = load_batch(conf, &root, err);
        if (r == 0)
                r = get_ms(&root, "session_timeout", 1000, 3600000, &conf->session_timeout_ms, err);
        if (r == 0)
                r = get_ms(&root, "shutdown_grace", 0, 3600000, &conf->grace_ms, err);
        if (r == 0)
                r = get_ms(&root, "status_interval", 0, 86400000, &conf->status_interval_ms, err);
        if (r == 0)
                r = load_mock_compat(conf, &root, err);
        if (r == 0 && (r = get_section(&root, "limits", limit_keys, &limits, err)) > 0) {
                r = load_limits(&limits, "max", &conf->max_limits, err);
                if (r == 0)
                        r = load_limits(&limits, "default", &conf->default_limits, err);
        }
        if (r == 0)
                r = get_str(&root, "problems", &conf->problems, err);
        if (r == 0)
                r = get_str(&root, "languages", &conf->languages, err);
        if (r == 0)
                r = get_str(&root, "cache_dir", &conf->cache_dir, err);
        if (r == 0 &&
            (r = yml_get_kib(&root, "cache_max", 1024, 1ull << 40, &conf->cache_max_kib, err)) > 0)
                r = 0;
        if (r == 0)
                r = get_uint(&root, "pool", 1, 4096, &conf->pool, err);
        if (r == 0)
                r = get_str(&root, "audit", &conf->audit, err);
        if (r == 0)
                r = load_kafka(conf, &root, err);
        yml_doc_free(doc);
        return r < 0 ? r : 0;
}
