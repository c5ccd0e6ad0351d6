/* SPDX-License-Identifier: MIT */
/*
 * A thin typed layer over libyaml's document API for gavel's configuration files (language table,
 * problem.yaml, the worker's config). A struct yml is a node plus where it is (file, line, key
 * path), so every getter can fail with "file:line: path: expected ..." and callers never format
 * locations themselves. Named yml, not yaml, so it never shadows libyaml's <yaml.h>.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/err.h"

#define YML_FILE_MAX (4u << 20) /* bytes of one YAML file */

struct yml_doc; /* a parsed document; opaque */

struct yml {
        struct yml_doc *doc;
        void *node;     /* the libyaml node (yaml_node_t *), or NULL: the key is absent */
        unsigned line;  /* 1-based line of the node (of the parent mapping when absent) */
        char path[160]; /* key path from the root, "cpp.compile[2]"; "" at the root */
};

/*
 * Parses one YAML document from a file (at most YML_FILE_MAX bytes) or a buffer; name is what
 * messages call the buffer. A syntax error or a second document is -EINVAL naming the line.
 */
int yml_load_file(const char *path, struct yml_doc **ret_doc, struct gv_err *err);
/* The same from an open regular file (read from offset 0 with pread), called name. */
int yml_load_fd(int fd, const char *name, struct yml_doc **ret_doc, struct gv_err *err);
int yml_load_buffer(const char *name, const void *buf, size_t len, struct yml_doc **ret_doc,
                    struct gv_err *err);
void yml_doc_free(struct yml_doc *doc); /* NULL is a no-op */

/* The root node; an empty document has an absent root (node NULL). */
void yml_root(struct yml_doc *doc, struct yml *ret);

/* Sets err to "file:line: path: <message>" (or "file:line: <message>" at the root); returns code.
 */
__attribute__((format(printf, 4, 5))) int yml_error(const struct yml *y, struct gv_err *err,
                                                    int code, const char *fmt, ...);

/* Predicates on one node; all false for an absent node. An explicit null ("", "~") is a null. */
bool yml_is_null(const struct yml *y);
bool yml_is_scalar(const struct yml *y);
bool yml_is_seq(const struct yml *y);
bool yml_is_map(const struct yml *y);

/* ---- mappings ------------------------------------------------------------------------- */

/* -EINVAL "expected a mapping" unless y is a mapping, or absent or null (as an empty one). */
int yml_want_map(const struct yml *y, struct gv_err *err);

/*
 * Fails on the first key of map that is not in known (a NULL-terminated list), or on a key given
 * twice, naming it: a typo silently ignored is worse than an error.
 */
int yml_check_keys(const struct yml *map, const char *const *known, struct gv_err *err);

/*
 * Looks key up in map (a mapping, or absent or null: no keys). Returns 1 and fills *ret when the
 * key is there with a non-null value, 0 (ret->node NULL) when it is absent or null, -EINVAL when
 * map is not a mapping.
 */
int yml_get(const struct yml *map, const char *key, struct yml *ret, struct gv_err *err);

/* Pairs of a mapping, in document order: the key must be a string (else -EINVAL). */
size_t yml_map_len(const struct yml *map);
int yml_map_at(const struct yml *map, size_t i, const char **ret_key, struct yml *ret_val,
               struct gv_err *err);

/* ---- sequences ------------------------------------------------------------------------ */

size_t yml_seq_len(const struct yml *seq); /* 0 for anything but a sequence */
void yml_seq_at(const struct yml *seq, size_t i, struct yml *ret);

/* ---- scalars: each "as" reads y itself, each "get" reads map[key] (1 found, 0 absent) ---- */

/* A string without NUL bytes; *ret is malloc'ed. A number is a string too ("10"). */
int yml_as_str(const struct yml *y, char **ret, struct gv_err *err);
int yml_get_str(const struct yml *map, const char *key, char **ret, struct gv_err *err);

/* A decimal integer within [min, max]. */
int yml_as_u64(const struct yml *y, uint64_t min, uint64_t max, uint64_t *ret, struct gv_err *err);
int yml_get_u64(const struct yml *map, const char *key, uint64_t min, uint64_t max, uint64_t *ret,
                struct gv_err *err);
int yml_get_u32(const struct yml *map, const char *key, uint32_t min, uint32_t max, uint32_t *ret,
                struct gv_err *err);

/* A finite number within [min, max] ("1e-6", "0.5", "3"). */
int yml_as_double(const struct yml *y, double min, double max, double *ret, struct gv_err *err);
int yml_get_double(const struct yml *map, const char *key, double min, double max, double *ret,
                   struct gv_err *err);

/* true/false (also yes/no, on/off, any case). */
int yml_as_bool(const struct yml *y, bool *ret, struct gv_err *err);
int yml_get_bool(const struct yml *map, const char *key, bool *ret, struct gv_err *err);

/*
 * A sequence of strings as a malloc'ed NULL-terminated vector (free with yml_strv_free); with
 * nonempty, an empty sequence is an error. An unquoted "{x}" element (a YAML flow mapping) gets
 * a hint to quote it.
 */
int yml_as_strv(const struct yml *y, bool nonempty, char ***ret, struct gv_err *err);
int yml_get_strv(const struct yml *map, const char *key, bool nonempty, char ***ret,
                 struct gv_err *err);
void yml_strv_free(char **strv); /* NULL is a no-op */

/*
 * A quantity given under one of several unit-suffixed keys: stem "memory" reads memory_kib,
 * memory_mib or memory_gib (an integer each), in KiB; stem "time" with yml_get_ms reads time_ms or
 * time_s, in ms. Giving two of them is an error; the scaled value must lie within [min, max] (in
 * the result's unit). Returns 1 found, 0 absent, or -EINVAL. List the keys for yml_check_keys
 * with YML_KIB_KEYS("memory") and YML_MS_KEYS("time").
 */
#define YML_KIB_KEYS(stem) stem "_kib", stem "_mib", stem "_gib"
#define YML_MS_KEYS(stem)  stem "_ms", stem "_s"
int yml_get_kib(const struct yml *map, const char *stem, uint64_t min, uint64_t max, uint64_t *ret,
                struct gv_err *err);
int yml_get_ms(const struct yml *map, const char *stem, uint64_t min, uint64_t max, uint64_t *ret,
               struct gv_err *err);
