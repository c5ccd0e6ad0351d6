/* SPDX-License-Identifier: MIT */
/*
 * gavel audit stats, show and prune as an operator runs them: the real program ($GAVEL) on a log
 * the library wrote, beside a worker that still has it open. Checks the JSON and the tables, the
 * exit statuses and the one-line errors for a missing log, a symlink, a bad duration.
 */
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "tests/unit/audit/audit_fixture.h"

struct fixture {
        char dir[64];
        char path[128];
        struct audit *audit; /* the "worker", open while the commands run */
        char *out, *err;     /* of the last run */
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct audit_conf conf = {.worker_id = "w7", .writer = true, .create = true};
        struct timespec ts;
        struct gv_err err = {0};
        int64_t now;

        assert_non_null(f);
        fx_mkdtemp(f->dir);
        snprintf(f->path, sizeof(f->path), "%s/audit.db", f->dir);
        conf.path = f->path;
        if (audit_open(&conf, &f->audit, &err) < 0)
                fail_msg("audit_open: %s", err.msg);
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (int64_t)ts.tv_sec * 1000;
        fx_record(f->audit, "old-1", "aplusb", "cpp", SCHEMA_WA, now - 9 * DAY_MS);
        fx_record(f->audit, "old-2", "aplusb", "cpp", SCHEMA_AC, now - 8 * DAY_MS);
        fx_record(f->audit, "s-1", "aplusb", "c", SCHEMA_TLE, now);
        fx_record(f->audit, "s-1", "aplusb", "c", SCHEMA_AC, now);
        assert_int_equal(audit_flush(f->audit, &err), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        audit_free(f->audit);
        fx_rmdir(f->dir);
        free(f->out);
        free(f->err);
        free(f);
        return 0;
}

static char *slurp(const char *path)
{
        FILE *file = fopen(path, "re");
        char *buf;
        long n;

        assert_non_null(file);
        fseek(file, 0, SEEK_END);
        n = ftell(file);
        rewind(file);
        buf = calloc(1, (size_t)n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)n, file), (size_t)n);
        fclose(file);
        return buf;
}

/* Runs gavel audit with args (NULL-terminated) and env GAVEL_AUDIT=env_audit (or unset). */
static int run(struct fixture *f, const char *env_audit, const char *const *args)
{
        const char *gavel = getenv("GAVEL");
        const char *argv[16] = {"gavel", "audit"};
        char out[128], errp[128];
        size_t n = 2;
        int status;
        pid_t pid;

        for (; args[n - 2]; n++) {
                assert_true(n < 15);
                argv[n] = args[n - 2];
        }
        argv[n] = NULL;
        snprintf(out, sizeof(out), "%s/out", f->dir);
        snprintf(errp, sizeof(errp), "%s/err", f->dir);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);

                if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
                        _exit(126);
                if (env_audit)
                        setenv("GAVEL_AUDIT", env_audit, 1);
                else
                        unsetenv("GAVEL_AUDIT");
                execv(gavel && *gavel ? gavel : GAVEL_BUILD_DIR "/gavel", (char *const *)argv);
                _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        free(f->out);
        free(f->err);
        f->out = slurp(out);
        f->err = slurp(errp);
        return WEXITSTATUS(status);
}

static json_t *out_json(struct fixture *f)
{
        json_error_t jerr;
        json_t *json = json_loads(f->out, 0, &jerr);

        if (!json)
                fail_msg("not JSON (%s): %s", jerr.text, f->out);
        return json;
}

static void test_stats_counts_everything(void **state)
{
        struct fixture *f = *state;
        json_t *json, *verdicts;

        assert_int_equal(
                run(f, NULL, (const char *[]){"stats", "--audit", f->path, "--json", NULL}), 0);
        json = out_json(f);
        assert_int_equal(json_integer_value(json_object_get(json, "jobs")), 4);
        assert_int_equal(json_integer_value(json_object_get(json, "schema_version")), 1);
        assert_int_equal(
                json_integer_value(json_object_get(json_object_get(json, "attempts"), "done")), 4);
        verdicts = json_object_get(json, "verdicts");
        assert_int_equal(
                json_integer_value(json_object_get(json_object_get(verdicts, "AC"), "committed")),
                2);
        assert_int_equal(
                json_integer_value(json_object_get(json_object_get(verdicts, "TLE"), "committed")),
                1);
        assert_null(json_object_get(verdicts, "RE"));
        assert_true(json_integer_value(json_object_get(json, "db_bytes")) > 0);
        assert_true(json_integer_value(json_object_get(json, "oldest_ms")) <
                    json_integer_value(json_object_get(json, "newest_ms")));
        json_decref(json);

        /* the table, with the log named by the environment */
        assert_int_equal(run(f, f->path, (const char *[]){"stats", NULL}), 0);
        assert_non_null(strstr(f->out, "jobs        4, received "));
        assert_non_null(strstr(f->out, "4 done"));
        assert_non_null(strstr(f->out, "TLE"));
        assert_string_equal(f->err, "");
}

static void test_show_tells_the_history_of_a_submission(void **state)
{
        struct fixture *f = *state;
        json_t *json, *jobs, *job;

        assert_int_equal(
                run(f, NULL, (const char *[]){"show", "s-1", "--audit", f->path, "--json", NULL}),
                0);
        json = out_json(f);
        jobs = json_object_get(json, "jobs");
        assert_int_equal(json_array_size(jobs), 2);
        job = json_array_get(jobs, 0);
        assert_string_equal(json_string_value(json_object_get(job, "worker")), "w7");
        assert_string_equal(
                json_string_value(json_object_get(json_object_get(job, "message"), "lang")), "c");
        assert_int_equal(json_array_size(json_object_get(
                                 json_array_get(json_object_get(job, "attempts"), 0), "stages")),
                         3);
        assert_string_equal(
                json_string_value(json_object_get(
                        json_array_get(json_object_get(json_array_get(jobs, 1), "verdicts"), 0),
                        "code")),
                "AC");
        json_decref(json);

        assert_int_equal(run(f, NULL, (const char *[]){"--audit", f->path, "show", "s-1", NULL}),
                         2); /* the subcommand comes first */
        assert_int_equal(run(f, NULL, (const char *[]){"show", "--audit", f->path, "s-1", NULL}),
                         0);
        assert_non_null(strstr(f->out, "submission s-1"));
        assert_non_null(strstr(f->out, "from gavel.jobs partition 2 offset 1000 key \"s-1\""));
        assert_non_null(strstr(f->out, "int main"));
        assert_non_null(strstr(f->out, "attempt 1 (row 3): done"));
        assert_non_null(strstr(f->out, "line 1 differs"));
        assert_non_null(strstr(f->out, "TLE, score 50/100, committed"));
        assert_non_null(strstr(f->out, "AC, score 100/100, committed"));

        assert_int_equal(
                run(f, NULL, (const char *[]){"show", "1", "--row", "--audit", f->path, NULL}), 0);
        assert_non_null(strstr(f->out, "submission old-1"));

        assert_int_equal(run(f, NULL, (const char *[]){"show", "nope", "--audit", f->path, NULL}),
                         1);
        assert_non_null(strstr(f->err, "no submission 'nope'"));
        assert_string_equal(f->out, "");
}

static void test_prune_deletes_old_jobs(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(
                run(f, NULL,
                    (const char *[]){"prune", "--older-than", "7d", "--audit", f->path, NULL}),
                0);
        assert_non_null(strstr(f->out, "pruned 2 jobs received before "));
        assert_non_null(strstr(f->out, "(2 attempts, 6 stages, 2 verdicts)"));
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM jobs"), 2);
        /* the worker that has the log open goes on writing */
        fx_record(f->audit, "s-2", "aplusb", "c", SCHEMA_AC, 0);
        assert_int_equal(fx_sql_int(f->path, "SELECT count(*) FROM jobs"), 3);
        assert_int_equal(
                run(f, NULL,
                    (const char *[]){"prune", "--older-than", "30d", "--audit", f->path, NULL}),
                0);
        assert_non_null(strstr(f->out, "pruned 0 jobs"));
        assert_true(fx_integrity_ok(f->path));
}

static void test_bad_input_is_a_clear_error(void **state)
{
        struct fixture *f = *state;
        char missing[160], link[160];

        assert_int_equal(
                run(f, NULL,
                    (const char *[]){"prune", "--older-than", "7x", "--audit", f->path, NULL}),
                2);
        assert_non_null(strstr(f->err, "--older-than: cannot read '7x'"));
        assert_int_equal(run(f, NULL, (const char *[]){"prune", "--audit", f->path, NULL}), 2);
        assert_non_null(strstr(f->err, "--older-than DURATION is required"));
        assert_int_equal(run(f, NULL,
                             (const char *[]){"prune", "--older-than", "99999999999999d", "--audit",
                                              f->path, NULL}),
                         2);
        assert_non_null(strstr(f->err, "too long"));
        assert_int_equal(run(f, NULL, (const char *[]){"stats", "--row", "--audit", f->path, NULL}),
                         2);
        assert_int_equal(run(f, NULL, (const char *[]){"frobnicate", NULL}), 2);
        assert_non_null(strstr(f->err, "unknown subcommand 'frobnicate'"));
        assert_int_equal(run(f, NULL, (const char *[]){"show", "--audit", f->path, NULL}), 2);

        snprintf(missing, sizeof(missing), "%s/missing.db", f->dir);
        assert_int_equal(run(f, NULL, (const char *[]){"stats", "--audit", missing, NULL}), 2);
        assert_non_null(strstr(f->err, "no audit log at"));
        assert_int_equal(access(missing, F_OK), -1); /* not created by a reader */

        snprintf(link, sizeof(link), "%s/link.db", f->dir);
        assert_int_equal(symlink(f->path, link), 0);
        assert_int_equal(run(f, NULL, (const char *[]){"stats", "--audit", link, NULL}), 2);
        assert_non_null(strstr(f->err, "symlink"));
        assert_int_equal(run(f, NULL, (const char *[]){"--help", NULL}), 0);
        assert_non_null(strstr(f->out, "gavel audit prune --older-than DURATION"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_stats_counts_everything, setup, teardown),
                cmocka_unit_test_setup_teardown(test_show_tells_the_history_of_a_submission, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_prune_deletes_old_jobs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_input_is_a_clear_error, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
