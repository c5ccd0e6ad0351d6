/* SPDX-License-Identifier: MIT */
/*
 * Every example solution of ops/examples/solutions gets the verdict its file name promises
 * (`<verdict>[.<language>].<extension>`), judged by the engine against the example problem store,
 * all submitted at once so that every slot is busy. aplusb-bare, a bare folder without limits,
 * gets aplusb's limits from the job.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "schema/cleanup.h"
#include "worker/judge/judge.h"
#include "worker/judge/lang.h"

#define EXAMPLES  GAVEL_SOURCE_DIR "/ops/examples"
#define MAX_CASES 128

struct example {
        char problem[32];
        char file[256];
        enum schema_code expected;
        struct job job;
        struct verdict verdict;
        bool done;
};

struct run {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        size_t pending;
};

struct ref {
        struct run *run;
        struct example *ex;
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

/* The language a solution's file name names (README of ops/examples/solutions). */
static const char *file_lang(const char *file, char *buf, size_t size)
{
        static const char *const ext_lang[][2] = {
                {"c", "c"},       {"cpp", "cpp"},    {"py", "python3"},
                {"java", "java"}, {"pas", "pascal"}, {"rs", "rust"},
        };
        const char *first = strchr(file, '.'), *last = strrchr(file, '.');

        if (!first)
                return NULL;
        if (first != last) { /* ac.cpp20.cpp */
                snprintf(buf, size, "%.*s", (int)(last - first - 1), first + 1);
                return buf;
        }
        for (size_t i = 0; i < ARRAY_SIZE(ext_lang); i++)
                if (!strcmp(last + 1, ext_lang[i][0]))
                        return ext_lang[i][1];
        return NULL;
}

static void read_source(const char *path, struct job *job)
{
        FILE *f = fopen(path, "rb");
        long n;

        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        assert_true(n > 0);
        rewind(f);
        job->source = xmalloc((size_t)n + 1);
        assert_int_equal(fread(job->source, 1, (size_t)n, f), (size_t)n);
        job->source[n] = '\0';
        job->source_len = (size_t)n;
        fclose(f);
}

/* Adds a case per solution of solutions/<dir> against problem. */
static size_t add_cases(struct example *ex, size_t n, const char *problem, const char *dir)
{
        char path[512], lang_buf[32], verdict[16];
        struct dirent *de;
        DIR *d;

        snprintf(path, sizeof(path), "%s/solutions/%s", EXAMPLES, dir);
        d = opendir(path);
        assert_non_null(d);
        while ((de = readdir(d))) {
                const char *lang = file_lang(de->d_name, lang_buf, sizeof(lang_buf));
                size_t k;

                if (de->d_name[0] == '.')
                        continue;
                if (!lang) /* every file there is a solution: one not judged is a mistake */
                        fail_msg("%s/%s: no language for its name", dir, de->d_name);
                assert_true(n < MAX_CASES);
                for (k = 0; de->d_name[k] != '.' && k < sizeof(verdict) - 1; k++)
                        verdict[k] = (char)(de->d_name[k] - 'a' + 'A');
                verdict[k] = '\0';
                snprintf(ex[n].problem, sizeof(ex[n].problem), "%s", problem);
                snprintf(ex[n].file, sizeof(ex[n].file), "%s", de->d_name);
                ex[n].expected = schema_code_from_name(verdict);
                assert_true(ex[n].expected >= 0);
                ex[n].job = (struct job){
                        .v = SCHEMA_VERSION,
                        .id = xasprintf("%s/%s", problem, de->d_name),
                        .lang = xstrdup(lang),
                        .problem = xstrdup(problem),
                        .stop_on_failure = true, /* one failed test tells the verdict */
                        .attempt = 1,
                };
                if (!strcmp(problem, "aplusb-bare")) /* aplusb's problem.yaml */
                        ex[n].job.limits = (struct job_limits){
                                .time_ms = 1000, .memory_kib = 64 * 1024, .output_kib = 1024};
                snprintf(path, sizeof(path), "%s/solutions/%s/%s", EXAMPLES, dir, de->d_name);
                read_source(path, &ex[n].job);
                n++;
        }
        closedir(d);
        return n;
}

static void on_done(struct verdict *verdict, bool cancelled, void *userdata)
{
        struct ref *ref = userdata;

        ref->ex->verdict = *verdict; /* a cancelled job is SE "cancelled": reported below */
        (void)cancelled;
        pthread_mutex_lock(&ref->run->lock);
        ref->ex->done = true;
        ref->run->pending--;
        pthread_cond_signal(&ref->run->cond);
        pthread_mutex_unlock(&ref->run->lock);
}

static void test_every_example_solution_gets_its_verdict(void **state)
{
        static struct example ex[MAX_CASES];
        static struct ref refs[MAX_CASES];
        struct run run = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        char tmp[] = "/tmp/gavel-test-examples-XXXXXX";
        struct lang_table *langs = NULL;
        struct judge *judge = NULL;
        struct judge_conf conf;
        struct gv_err err = {0};
        char report[4096] = "";
        size_t n = 0, bad = 0;

        (void)state;
        assert_non_null(mkdtemp(tmp));
        assert_int_equal(lang_table_load(NULL, &langs, &err), 0);
        judge_conf_default(&conf);
        conf.slots = 2;
        conf.langs = langs;
        conf.cache_dir = tmp;
        conf.problem_store = EXAMPLES "/problems";
        assert_int_equal(judge_new(&conf, &judge, &err), 0);

        n = add_cases(ex, n, "aplusb", "aplusb");
        n = add_cases(ex, n, "circle", "circle");
        n = add_cases(ex, n, "split", "split");
        /* last: by then its programs are in the compile cache */
        n = add_cases(ex, n, "aplusb-bare", "aplusb");
        assert_true(n >= 30);
        for (size_t i = 0; i < n; i++) {
                struct judge_request req = {
                        .job = &ex[i].job, .done = on_done, .userdata = &refs[i]};

                refs[i] = (struct ref){.run = &run, .ex = &ex[i]};
                pthread_mutex_lock(&run.lock);
                run.pending++;
                pthread_mutex_unlock(&run.lock);
                assert_int_equal(judge_submit(judge, &req, &err), 0);
        }
        pthread_mutex_lock(&run.lock);
        while (run.pending > 0)
                pthread_cond_wait(&run.cond, &run.lock);
        pthread_mutex_unlock(&run.lock);

        for (size_t i = 0; i < n; i++) {
                const struct verdict *v = &ex[i].verdict;
                size_t len = strlen(report);

                if (v->verdict != ex[i].expected) {
                        bad++;
                        snprintf(report + len, sizeof(report) - len, "\n  %.32s/%.64s: %s (%.100s)",
                                 ex[i].problem, ex[i].file, schema_code_name(v->verdict),
                                 v->reason ? v->reason : "");
                }
                verdict_done(&ex[i].verdict);
                job_done(&ex[i].job);
        }
        judge_free(judge);
        lang_table_free(langs);
        nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        if (bad)
                fail_msg("%zu of %zu solutions got another verdict:%s", bad, n, report);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_example_solution_gets_its_verdict),
        };

        if (geteuid() != 0) {
                fprintf(stderr, "skip: judging needs root (namespaces, cgroups)\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
