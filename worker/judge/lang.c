// SPDX-License-Identifier: MIT
/*
 * The language table (see lang.h): worker/judge/languages.yaml, compiled into the program as bytes
 * (lang-defaults.c, generated at build time), then the operator's file on top, entry by entry.
 * Every entry is checked when loaded, so a typo fails at start-up with its file and line, never
 * later as a mysterious compile error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/cleanup.h"
#include "worker/judge/lang.h"
#include "worker/util/yml.h"

/* Generated from worker/judge/languages.yaml by worker/embed.cmake. */
extern const unsigned char lang__defaults[];
extern const size_t lang__defaults_len;

#define LANG_DEFAULTS_NAME "languages.yaml (built in)"
#define LANG_NAME_MAX      64
#define LANGS_MAX          256

static void lang_done(struct lang *lang)
{
        free(lang->name);
        free(lang->title);
        free(lang->source_name);
        yml_strv_free(lang->compile);
        free(lang->artifact);
        yml_strv_free(lang->run);
        yml_strv_free(lang->version);
        yml_strv_free(lang->env);
        memset(lang, 0, sizeof(*lang));
}

void lang_table_free(struct lang_table *table)
{
        if (!table)
                return;
        for (size_t i = 0; i < table->n; i++)
                lang_done(&table->langs[i]);
        free(table->langs);
        free(table);
}

static bool valid_name(const char *s)
{
        size_t n = strlen(s);

        if (!n || n > LANG_NAME_MAX)
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-") == n;
}

/* A file name in /w: no directory part, not "." or "..". */
static bool plain_file_name(const char *s)
{
        return s[0] && strlen(s) < 256 && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* Reads a plain file name at map[key]; 1 found, 0 absent. */
static int get_file_name(const struct yml *map, const char *key, char **ret, struct gv_err *err)
{
        struct yml y;
        int r;

        r = yml_get(map, key, &y, err);
        if (r <= 0)
                return r;
        r = yml_as_str(&y, ret, err);
        if (r < 0)
                return r;
        if (!plain_file_name(*ret)) {
                free(steal_pointer(ret));
                return yml_error(&y, err, -EINVAL,
                                 "expected a file name (no '/', not '.' or "
                                 "'..')");
        }
        return 1;
}

/*
 * A command: a non-empty list of strings whose "{name}" placeholders are all known, so a typo
 * ("{scr}") fails here. Text in braces that is not a lower-case word ("{a,b}") is left alone.
 */
static int get_command(const struct yml *map, const char *key, char ***ret, struct gv_err *err)
{
        struct yml y, item;
        char **argv = NULL;
        int r;

        r = yml_get(map, key, &y, err);
        if (r <= 0)
                return r;
        r = yml_as_strv(&y, true, &argv, err);
        if (r < 0)
                return r;
        for (size_t i = 0; argv[i]; i++) {
                for (const char *p = strchr(argv[i], '{'); p; p = strchr(p + 1, '{')) {
                        size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_");

                        if (!n || p[1 + n] != '}')
                                continue;
                        if ((n == 3 && !strncmp(p + 1, "src", 3)) ||
                            (n == 3 && !strncmp(p + 1, "exe", 3)))
                                continue;
                        yml_seq_at(&y, i, &item);
                        r = yml_error(&item, err, -EINVAL,
                                      "unknown placeholder '%.*s' (known: {src}, {exe})",
                                      (int)n + 2, p);
                        yml_strv_free(argv);
                        return r;
                }
        }
        *ret = argv;
        return 1;
}

static int parse_compile_limits(const struct yml *entry, struct lang_limits *lim,
                                struct gv_err *err)
{
        static const char *const keys[] = {YML_MS_KEYS("time"),
                                           YML_MS_KEYS("wall"),
                                           YML_KIB_KEYS("memory"),
                                           YML_KIB_KEYS("output"),
                                           "pids",
                                           NULL};
        uint64_t v;
        struct yml map;
        int r;

        *lim = (struct lang_limits){.time_ms = 10000,
                                    .wall_ms = 20000,
                                    .memory_kib = 512 * 1024,
                                    .output_kib = 64 * 1024,
                                    .pids = 64};
        r = yml_get(entry, "compile_limits", &map, err);
        if (r <= 0)
                return r;
        r = yml_want_map(&map, err);
        if (r < 0)
                return r;
        r = yml_check_keys(&map, keys, err);
        if (r < 0)
                return r;
        if ((r = yml_get_ms(&map, "time", 1, 600000, &v, err)) > 0)
                lim->time_ms = (uint32_t)v;
        if (r >= 0 && (r = yml_get_ms(&map, "wall", 1, 1200000, &v, err)) > 0)
                lim->wall_ms = (uint32_t)v;
        if (r >= 0)
                r = yml_get_kib(&map, "memory", 1024, 64ull << 20, &lim->memory_kib, err);
        if (r >= 0)
                r = yml_get_kib(&map, "output", 1, 16ull << 20, &lim->output_kib, err);
        if (r >= 0)
                r = yml_get_u32(&map, "pids", 1, 4096, &lim->pids, err);
        return r < 0 ? r : 0;
}

static int parse_env(const struct yml *entry, char ***ret, struct gv_err *err)
{
        struct yml y, item;
        int r;

        r = yml_get(entry, "env", &y, err);
        if (r <= 0)
                return r;
        r = yml_as_strv(&y, false, ret, err);
        if (r < 0)
                return r;
        for (size_t i = 0; (*ret)[i]; i++) {
                const char *eq = strchr((*ret)[i], '=');

                if (eq && eq != (*ret)[i])
                        continue;
                yml_seq_at(&y, i, &item);
                yml_strv_free(steal_pointer(ret));
                return yml_error(&item, err, -EINVAL, "expected NAME=VALUE");
        }
        return 0;
}

/* Everything but the name, which the caller has checked. */
static int parse_lang(const struct yml *entry, struct lang *lang, struct gv_err *err)
{
        struct yml y;
        int r;

        lang->time_factor = 1.0;
        r = yml_get_str(entry, "title", &lang->title, err);
        if (r < 0)
                return r;
        if (!r)
                lang->title = xstrdup(lang->name);
        r = get_file_name(entry, "source", &lang->source_name, err);
        if (r < 0)
                return r;
        if (!r)
                return yml_error(entry, err, -EINVAL, "source: missing (the source's file name)");
        r = get_command(entry, "compile", &lang->compile, err);
        if (r >= 0)
                r = get_file_name(entry, "artifact", &lang->artifact, err);
        if (r < 0)
                return r;
        yml_get(entry, "artifact", &y, NULL);
        if (lang->compile && !lang->artifact)
                return yml_error(entry, err, -EINVAL,
                                 "artifact: missing (the file compile leaves in /w)");
        if (!lang->compile && lang->artifact && strcmp(lang->artifact, lang->source_name))
                return yml_error(&y, err, -EINVAL,
                                 "without compile, the artifact is the source itself");
        if (!lang->artifact)
                lang->artifact = xstrdup(lang->source_name);
        r = yml_get_bool(entry, "exec", &lang->artifact_exec, err);
        if (r < 0)
                return r;
        if (lang->artifact_exec && !lang->compile) {
                yml_get(entry, "exec", &y, NULL);
                return yml_error(&y, err, -EINVAL, "true needs a compile step");
        }
        r = get_command(entry, "run", &lang->run, err);
        if (r < 0)
                return r;
        if (!r)
                return yml_error(entry, err, -EINVAL, "run: missing (the command running it)");
        r = get_command(entry, "version", &lang->version, err);
        if (r < 0)
                return r;
        /* The version is part of the compile cache's key: without it an upgraded compiler would
         * be served programs built by the old one. */
        if (!r && lang->compile)
                return yml_error(entry, err, -EINVAL,
                                 "version: missing (the command printing the compiler's "
                                 "version, for the compile cache)");
        r = parse_compile_limits(entry, &lang->compile_limits, err);
        if (r >= 0)
                r = yml_get_kib(entry, "extra_memory", 0, 64ull << 20, &lang->extra_memory_kib,
                                err);
        if (r >= 0)
                r = yml_get_u32(entry, "extra_pids", 0, 4096, &lang->extra_pids, err);
        if (r >= 0)
                r = yml_get_double(entry, "time_factor", 0.01, 100, &lang->time_factor, err);
        if (r >= 0)
                r = parse_env(entry, &lang->env, err);
        return r < 0 ? r : 0;
}

static ssize_t find_index(const struct lang_table *table, const char *name)
{
        for (size_t i = 0; i < table->n; i++)
                if (!strcmp(table->langs[i].name, name))
                        return (ssize_t)i;
        return -1;
}

/*
 * Applies one document to table: each entry replaces the language of its name, is added, or
 * (disabled: true) removes it. Within one document a name may appear once.
 */
static int apply_doc(struct yml_doc *doc, bool defaults, struct lang_table *table,
                     struct gv_err *err)
{
        static const char *const keys[] = {"title",
                                           "source",
                                           "compile",
                                           "artifact",
                                           "exec",
                                           "run",
                                           "version",
                                           "compile_limits",
                                           YML_KIB_KEYS("extra_memory"),
                                           "extra_pids",
                                           "time_factor",
                                           "env",
                                           "disabled",
                                           NULL};
        struct yml root;
        size_t n;
        int r;

        yml_root(doc, &root);
        /* An operator's file may be empty (nothing to change); the defaults may not. */
        if (!yml_is_map(&root) && (defaults || (root.node && !yml_is_null(&root))))
                return yml_error(&root, err, -EINVAL,
                                 "expected a mapping of language names to entries");
        n = yml_map_len(&root);
        for (size_t i = 0; i < n; i++) {
                struct lang lang = {0};
                const char *name;
                bool disabled = false;
                struct yml entry;
                ssize_t at;

                r = yml_map_at(&root, i, &name, &entry, err);
                if (r < 0)
                        return r;
                if (!valid_name(name))
                        return yml_error(&entry, err, -EINVAL,
                                         "not a valid language name (letters, digits, _ . + -, "
                                         "at most %d)",
                                         LANG_NAME_MAX);
                for (size_t j = 0; j < i; j++) {
                        const char *other;
                        struct yml prev;

                        if (yml_map_at(&root, j, &other, &prev, NULL) == 0 && !strcmp(other, name))
                                return yml_error(&entry, err, -EINVAL, "given twice (line %u)",
                                                 prev.line);
                }
                if (!yml_is_map(&entry))
                        return yml_error(&entry, err, -EINVAL,
                                         "expected a mapping (the "
                                         "language's entry)");
                r = yml_check_keys(&entry, keys, err);
                if (r < 0)
                        return r;
                r = yml_get_bool(&entry, "disabled", &disabled, err);
                if (r < 0)
                        return r;
                at = find_index(table, name);
                if (disabled) {
                        if (at < 0)
                                return yml_error(&entry, err, -EINVAL,
                                                 "disabled: there is no language '%s' to disable",
                                                 name);
                        lang_done(&table->langs[at]);
                        memmove(&table->langs[at], &table->langs[at + 1],
                                (table->n - (size_t)at - 1) * sizeof(table->langs[0]));
                        table->n--;
                        continue;
                }
                lang.name = xstrdup(name);
                r = parse_lang(&entry, &lang, err);
                if (r < 0) {
                        lang_done(&lang);
                        return r;
                }
                if (at >= 0) {
                        lang_done(&table->langs[at]);
                        table->langs[at] = lang;
                        continue;
                }
                if (table->n == LANGS_MAX) {
                        lang_done(&lang);
                        return yml_error(&entry, err, -E2BIG, "more than %d languages", LANGS_MAX);
                }
                table->langs[table->n++] = lang;
        }
        return 0;
}

int lang_table_load(const char *path, struct lang_table **ret_table, struct gv_err *err)
{
        struct lang_table *table = xcalloc(1, sizeof(*table));
        struct yml_doc *doc = NULL;
        int r;

        table->langs = xcalloc(LANGS_MAX, sizeof(table->langs[0]));
        r = yml_load_buffer(LANG_DEFAULTS_NAME, lang__defaults, lang__defaults_len, &doc, err);
        if (r >= 0)
                r = apply_doc(doc, true, table, err);
        yml_doc_free(doc);
        doc = NULL;
        if (r >= 0 && path) {
                r = yml_load_file(path, &doc, err);
                if (r >= 0)
                        r = apply_doc(doc, false, table, err);
                yml_doc_free(doc);
        }
        if (r < 0) {
                lang_table_free(table);
                return r;
        }
        *ret_table = table;
        return 0;
}

const struct lang *lang_find(const struct lang_table *table, const char *name)
{
        ssize_t i;

        if (!table || !name)
                return NULL;
        i = find_index(table, name);
        return i < 0 ? NULL : &table->langs[i];
}

void lang_argv_free(char **argv)
{
        yml_strv_free(argv);
}

/* s with every "{src}" and "{exe}" replaced; NULL on ENOMEM. */
static char *expand_one(const struct lang *lang, const char *s)
{
        size_t len = 0, cap = strlen(s) + 1;
        char *out = malloc(cap), *grown;

        while (out && *s) {
                const char *with = NULL;
                size_t n;

                if (!strncmp(s, "{src}", 5))
                        with = lang->source_name;
                else if (!strncmp(s, "{exe}", 5))
                        with = lang->artifact;
                n = with ? strlen(with) : 1;
                if (len + n + 1 > cap) {
                        cap = 2 * cap + n;
                        grown = realloc(out, cap);
                        if (!grown) {
                                free(out);
                                return NULL;
                        }
                        out = grown;
                }
                memcpy(out + len, with ? with : s, n);
                len += n;
                s += with ? 5 : 1;
        }
        if (out)
                out[len] = '\0';
        return out;
}

char **lang_expand(const struct lang *lang, char *const *cmd)
{
        size_t n = 0;
        char **argv;

        while (cmd[n])
                n++;
        argv = calloc(n + 1, sizeof(*argv));
        if (!argv)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                argv[i] = expand_one(lang, cmd[i]);
                if (!argv[i]) {
                        lang_argv_free(argv);
                        return NULL;
                }
        }
        return argv;
}
