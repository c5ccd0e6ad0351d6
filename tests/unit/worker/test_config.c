/* SPDX-License-Identifier: MIT */
/*
 * The worker's YAML configuration: every key read into struct worker_config, librdkafka
 * properties passed through, and every kind of mistake refused with file, line and key named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker/config.h"

static char path[64];

static int setup(void **state)
{
        int fd;

        (void)state;
        snprintf(path, sizeof(path), "/tmp/gavel-config-XXXXXX.yaml");
        fd = mkstemps(path, 5);
        assert_true(fd >= 0);
        close(fd);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        unlink(path);
        return 0;
}

/* Loads text as the file over the defaults; returns the result, err and conf filled. */
static int load(const char *text, struct worker_config *conf, struct gv_err *err)
{
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        worker_config_init(conf);
        return worker_config_load(conf, path, err);
}

static void test_every_key_is_read(void **state)
{
        struct worker_config c;
        struct gv_err err = {0};

        (void)state;
        assert_int_equal(load("brokers: \"a:1,b:2\"\n"
                              "group: judges\n"
                              "id: judge-7\n"
                              "topics: {jobs: j, verdicts: v, progress: p, dlq: d}\n"
                              "slots: 3\n"
                              "window: 40\n"
                              "batch: {max: 10, linger_ms: 5}\n"
                              "session_timeout_s: 10\n"
                              "shutdown_grace_ms: 1500\n"
                              "status_interval_s: 0\n"
                              "mock_compat: off\n"
                              "limits:\n"
                              "  max: {time_s: 10, wall_s: 20, memory_gib: 1, output_mib: 8}\n"
                              "  default: {time_ms: 500, memory_mib: 64}\n"
                              "problems: /srv/p\n"
                              "languages: /etc/l.yaml\n"
                              "cache_dir: /var/c\n"
                              "cache_max_mib: 100\n"
                              "pool: 4\n"
                              "audit: /var/a.db\n"
                              "kafka:\n"
                              "  security.protocol: plaintext\n"
                              "  fetch.wait.max.ms: 50\n",
                              &c, &err),
                         0);
        assert_string_equal(c.brokers, "a:1,b:2");
        assert_string_equal(c.group, "judges");
        assert_string_equal(c.id, "judge-7");
        assert_string_equal(c.topic_jobs, "j");
        assert_string_equal(c.topic_verdicts, "v");
        assert_string_equal(c.topic_progress, "p");
        assert_string_equal(c.topic_dlq, "d");
        assert_int_equal(c.slots, 3);
        assert_int_equal(c.window, 40);
        assert_int_equal(c.batch_max, 10);
        assert_int_equal(c.linger_ms, 5);
        assert_int_equal(c.session_timeout_ms, 10000);
        assert_int_equal(c.grace_ms, 1500);
        assert_int_equal(c.status_interval_ms, 0);
        assert_int_equal(c.mock_compat, QUEUE_MOCK_COMPAT_OFF);
        assert_int_equal(c.max_limits.time_ms, 10000);
        assert_int_equal(c.max_limits.wall_ms, 20000);
        assert_int_equal(c.max_limits.memory_kib, 1024 * 1024);
        assert_int_equal(c.max_limits.output_kib, 8 * 1024);
        assert_int_equal(c.default_limits.time_ms, 500);
        assert_int_equal(c.default_limits.memory_kib, 64 * 1024);
        assert_string_equal(c.problems, "/srv/p");
        assert_string_equal(c.languages, "/etc/l.yaml");
        assert_string_equal(c.cache_dir, "/var/c");
        assert_int_equal(c.cache_max_kib, 100 * 1024);
        assert_int_equal(c.pool, 4);
        assert_string_equal(c.audit, "/var/a.db");
        assert_int_equal(c.n_kafka, 2);
        assert_string_equal(c.kafka[1].name, "fetch.wait.max.ms");
        assert_string_equal(c.kafka[1].value, "50");
        /* an override replaces, a new one adds */
        assert_int_equal(worker_config_prop(&c, "fetch.wait.max.ms", "10", &err), 0);
        assert_int_equal(worker_config_prop(&c, "debug", "eos", &err), 0);
        assert_int_equal(c.n_kafka, 3);
        assert_string_equal(c.kafka[1].value, "10");
        worker_config_set(&c.group, "other");
        assert_string_equal(c.group, "other");
        worker_config_done(&c);
}

static void test_defaults_stay_when_keys_are_absent(void **state)
{
        struct worker_config c;
        struct gv_err err = {0};

        (void)state;
        assert_int_equal(load("brokers: x:1\n", &c, &err), 0);
        assert_string_equal(c.group, "gavel");
        assert_string_equal(c.topic_jobs, "gavel.jobs");
        assert_string_equal(c.topic_dlq, "gavel.jobs.dlq");
        assert_null(c.id);
        assert_null(c.audit);
        assert_int_equal(c.slots, 0);
        assert_int_equal(c.batch_max, 64);
        assert_int_equal(c.grace_ms, 30000);
        assert_int_equal(c.status_interval_ms, 60000);
        assert_int_equal(c.mock_compat, QUEUE_MOCK_COMPAT_AUTO);
        assert_int_equal(c.n_kafka, 0);
        worker_config_done(&c);
}

/* The example an operator starts from (ops/examples/worker.yaml) loads, and says what it says. */
static void test_the_shipped_example_loads(void **state)
{
        struct worker_config c;
        struct gv_err err = {0};

        (void)state;
        worker_config_init(&c);
        if (worker_config_load(&c, GAVEL_SOURCE_DIR "/ops/examples/worker.yaml", &err) < 0)
                fail_msg("%s", err.msg);
        assert_string_equal(c.brokers, "127.0.0.1:9092");
        assert_string_equal(c.topic_verdicts, "gavel.verdicts");
        assert_int_equal(c.slots, 2);
        assert_int_equal(c.grace_ms, 30000);
        assert_int_equal(c.status_interval_ms, 60000);
        assert_int_equal(c.max_limits.memory_kib, 2 * 1024 * 1024);
        assert_int_equal(c.default_limits.time_ms, 1000);
        assert_string_equal(c.problems, "/srv/gavel/problems");
        assert_int_equal(c.n_kafka, 1);
        worker_config_done(&c);
}

/* text must fail, with where in err->msg (after the file name). */
static void refused(const char *text, const char *where)
{
        struct worker_config c;
        struct gv_err err = {0};

        assert_int_equal(load(text, &c, &err), -EINVAL);
        if (!strstr(err.msg, where) || strncmp(err.msg, path, strlen(path)))
                fail_msg("'%s': expected '%s' in '%s'", text, where, err.msg);
        worker_config_done(&c);
}

static void test_mistakes_name_line_and_key(void **state)
{
        (void)state;
        refused("brokers: x\nslot: 2\n", ":2: slot: unknown key");
        refused("slots: 0\n", ":1: slots");
        refused("slots: many\n", ":1: slots");
        refused("topics: gavel\n", ":1: topics");
        refused("topics:\n  job: x\n", ":2: topics.job: unknown key");
        refused("batch:\n  max: 0\n", ":2: batch.max");
        refused("limits:\n  max: {time_ms: 0}\n", "limits.max.time_ms");
        refused("limits:\n  max: {time_ms: 5, time_s: 5}\n", "limits.max");
        refused("limits:\n  min: {}\n", "limits.min: unknown key");
        refused("mock_compat: maybe\n", ":1: mock_compat: expected auto, on or off");
        refused("kafka:\n  no.such.property: 1\n", ":2: kafka.no.such.property");
        refused("kafka:\n  security.protocol: carrier-pigeon\n", ":2: kafka.security.protocol");
        refused("kafka:\n  socket.timeout.ms: [1, 2]\n", ":2: kafka.socket.timeout.ms");
        refused("kafka: 3\n", ":1: kafka");
        refused("- a\n- b\n", "expected a mapping");
        refused("brokers: [\n", ":");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_every_key_is_read, setup, teardown),
                cmocka_unit_test_setup_teardown(test_defaults_stay_when_keys_are_absent, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_mistakes_name_line_and_key, setup, teardown),
                cmocka_unit_test(test_the_shipped_example_loads),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
