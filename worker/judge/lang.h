/* SPDX-License-Identifier: MIT */
/*
 * The language table: how to compile and run each language inside a container. Loaded from YAML
 * (worker/languages.yaml holds the defaults, built into the program; an operator's file replaces
 * or adds entries by name). Commands are argv vectors in which "{src}" stands for the source
 * file name and "{exe}" for the artifact name, both relative to the work dir /w.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/err.h"

struct lang_limits {
        uint32_t time_ms;    /* cpu time */
        uint32_t wall_ms;    /* wall clock */
        uint64_t memory_kib; /* peak memory */
        uint64_t output_kib; /* largest file written (the artifact included) */
        uint32_t pids;       /* tasks at once */
};

struct lang {
        char *name;         /* "c", "cpp", "python3", ... as jobs name it */
        char *title;        /* human name, "C17 (gcc 12)" */
        char *source_name;  /* the source's file name in /w, e.g. "main.c" */
        char **compile;     /* NULL-terminated argv, or NULL: nothing to compile */
        char *artifact;     /* what compile leaves in /w and run needs, e.g. "main"; for a
                               language without compile step this is source_name */
        bool artifact_exec; /* run the artifact itself (fexecve); else run[] names the runtime */
        char **run;         /* NULL-terminated argv; "{exe}" is replaced by the artifact */
        char **version;     /* argv printing the compiler's version (part of the cache key) */
        struct lang_limits compile_limits; /* default 10 s cpu, 20 s wall, 512 MiB, 64 MiB */
        uint64_t extra_memory_kib; /* added to a test's memory limit (a runtime's own needs) */
        uint32_t extra_pids;       /* added to the run's task limit (JVM threads) */
        double time_factor;        /* multiplies the time limit (1.0 default) */
        char **env;                /* extra environment "K=V" for compile and run, or NULL */
};

struct lang_table {
        struct lang *langs;
        size_t n;
};

/*
 * Loads the built-in defaults, then, when path is not NULL, the operator's file on top of them
 * (an entry with a known name replaces that language; "disabled: true" removes it). A broken file
 * is an error naming the file, the line and the field ("langs.yaml:12: cpp.run: expected a
 * list of strings"). -EINVAL, -ENOENT, ...
 */
int lang_table_load(const char *path, struct lang_table **ret_table, struct gv_err *err);
void lang_table_free(struct lang_table *table); /* NULL is a no-op */

/* NULL when the table has no language of that name. */
const struct lang *lang_find(const struct lang_table *table, const char *name);

/*
 * Expands a command (compile, run or version) for lang: a malloc'ed NULL-terminated argv, each
 * string malloc'ed; free with lang_argv_free. NULL on ENOMEM.
 */
char **lang_expand(const struct lang *lang, char *const *cmd);
void lang_argv_free(char **argv);
