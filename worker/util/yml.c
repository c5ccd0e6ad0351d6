// SPDX-License-Identifier: MIT
/*
 * Typed access to a libyaml document (see yml.h). libyaml resolves no types: every scalar is a
 * string with a style, so integers, booleans and nulls are recognised here, strictly, and every
 * failure names the file, the line and the key path of the node at fault.
 */
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "schema/cleanup.h"
#include "worker/util/yml.h"

struct yml_doc {
        yaml_document_t doc;
        char *name; /* file name used in messages */
};

static yaml_node_t *node_of(const struct yml *y)
{
        return y->node;
}

int yml_load_buffer(const char *name, const void *buf, size_t len, struct yml_doc **ret_doc,
                    struct gv_err *err)
{
        cleanup_free struct yml_doc *doc = NULL;
        yaml_parser_t parser;
        yaml_document_t extra;
        int r = 0;

        if (len > YML_FILE_MAX)
                return gv_err_set(err, -E2BIG, "%s: larger than %u bytes", name, YML_FILE_MAX);
        doc = xcalloc(1, sizeof(*doc));
        if (!yaml_parser_initialize(&parser))
                return gv_err_set(err, -ENOMEM, "%s: out of memory", name);
        yaml_parser_set_input_string(&parser, buf, len);
        if (!yaml_parser_load(&parser, &doc->doc)) {
                r = gv_err_set(err, -EINVAL, "%s:%zu: %s%s%s", name, parser.problem_mark.line + 1,
                               parser.problem ? parser.problem : "malformed YAML",
                               parser.context ? " " : "", parser.context ? parser.context : "");
                yaml_parser_delete(&parser);
                return r;
        }
        /* A second document would be silently ignored by a reader of the first: refuse it. */
        if (!yaml_parser_load(&parser, &extra)) {
                r = gv_err_set(err, -EINVAL, "%s:%zu: %s", name, parser.problem_mark.line + 1,
                               parser.problem ? parser.problem : "malformed YAML");
        } else {
                if (yaml_document_get_root_node(&extra))
                        r = gv_err_set(err, -EINVAL, "%s:%zu: only one YAML document expected",
                                       name, extra.start_mark.line + 1);
                yaml_document_delete(&extra);
        }
        yaml_parser_delete(&parser);
        if (r < 0) {
                yaml_document_delete(&doc->doc);
                return r;
        }
        doc->name = xstrdup(name);
        *ret_doc = steal_pointer(&doc);
        return 0;
}

int yml_load_fd(int fd, const char *name, struct yml_doc **ret_doc, struct gv_err *err)
{
        cleanup_free char *buf = NULL;
        struct stat st;
        size_t len = 0;
        ssize_t n;

        if (fstat(fd, &st) < 0)
                return gv_err_errno(err, -errno, "stat '%s'", name);
        if (!S_ISREG(st.st_mode))
                return gv_err_set(err, -EINVAL, "'%s' is not a regular file", name);
        if (st.st_size > (off_t)YML_FILE_MAX)
                return gv_err_set(err, -E2BIG, "'%s' is larger than %u bytes", name, YML_FILE_MAX);
        buf = xmalloc((size_t)st.st_size + 1);
        /* Read to the end, bounded, in case the file grows meanwhile. */
        while ((n = pread(fd, buf + len, (size_t)st.st_size + 1 - len, (off_t)len)) > 0) {
                len += (size_t)n;
                if (len > (size_t)st.st_size)
                        return gv_err_set(err, -EAGAIN, "'%s' changed while being read", name);
        }
        if (n < 0)
                return gv_err_errno(err, -errno, "read '%s'", name);
        return yml_load_buffer(name, buf, len, ret_doc, err);
}

int yml_load_file(const char *path, struct yml_doc **ret_doc, struct gv_err *err)
{
        cleanup_fd int fd = -1;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return gv_err_errno(err, -errno, "cannot open '%s'", path);
        return yml_load_fd(fd, path, ret_doc, err);
}

void yml_doc_free(struct yml_doc *doc)
{
        if (!doc)
                return;
        yaml_document_delete(&doc->doc);
        free(doc->name);
        free(doc);
}

static void make(struct yml_doc *doc, yaml_node_t *node, unsigned line, struct yml *ret)
{
        ret->doc = doc;
        ret->node = node;
        ret->line = node ? (unsigned)node->start_mark.line + 1 : line;
        ret->path[0] = '\0';
}

void yml_root(struct yml_doc *doc, struct yml *ret)
{
        make(doc, yaml_document_get_root_node(&doc->doc), 1, ret);
}

int yml_error(const struct yml *y, struct gv_err *err, int code, const char *fmt, ...)
{
        char msg[sizeof(err->msg)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (y->path[0])
                return gv_err_set(err, code, "%s:%u: %s: %s", y->doc->name, y->line, y->path, msg);
        return gv_err_set(err, code, "%s:%u: %s", y->doc->name, y->line, msg);
}

bool yml_is_null(const struct yml *y)
{
        static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
        yaml_node_t *node = node_of(y);

        if (!node || node->type != YAML_SCALAR_NODE ||
            node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
                if (!strcmp((const char *)node->data.scalar.value, nulls[i]))
                        return true;
        return false;
}

bool yml_is_scalar(const struct yml *y)
{
        return node_of(y) && node_of(y)->type == YAML_SCALAR_NODE;
}

bool yml_is_seq(const struct yml *y)
{
        return node_of(y) && node_of(y)->type == YAML_SEQUENCE_NODE;
}

bool yml_is_map(const struct yml *y)
{
        return node_of(y) && node_of(y)->type == YAML_MAPPING_NODE;
}

/* "a sequence", "null", "'abc'": what was found instead, for messages. */
static const char *found(const struct yml *y, char *buf, size_t size)
{
        yaml_node_t *node = node_of(y);

        if (!node)
                return "nothing";
        if (yml_is_null(y))
                return "null";
        switch (node->type) {
        case YAML_SEQUENCE_NODE:
                return "a list";
        case YAML_MAPPING_NODE:
                return "a mapping";
        case YAML_SCALAR_NODE:
                snprintf(buf, size, "'%.40s%s'", (const char *)node->data.scalar.value,
                         node->data.scalar.length > 40 ? "..." : "");
                return buf;
        case YAML_NO_NODE:
                break;
        }
        return "nothing";
}

static int expected(const struct yml *y, struct gv_err *err, const char *what)
{
        char buf[64];

        if (!node_of(y))
                return yml_error(y, err, -EINVAL, "missing (expected %s)", what);
        return yml_error(y, err, -EINVAL, "expected %s, found %s", what,
                         found(y, buf, sizeof(buf)));
}

static void child(const struct yml *parent, yaml_node_t *node, const char *key, size_t index,
                  struct yml *ret)
{
        size_t n = strlen(parent->path), add;
        char idx[32];
        struct yml c;

        make(parent->doc, node, parent->line, &c);
        /* "parent.key" or "parent[i]"; a path too deep for the buffer is cut short (the line
         * number still locates it). */
        memcpy(c.path, parent->path, n);
        if (key && n && n < sizeof(c.path) - 1)
                c.path[n++] = '.';
        if (!key) {
                snprintf(idx, sizeof(idx), "[%zu]", index);
                key = idx;
        }
        add = strnlen(key, sizeof(c.path) - 1 - n);
        memcpy(c.path + n, key, add);
        c.path[n + add] = '\0';
        *ret = c;
}

/* ---- mappings --------------------------------------------------------------------------- */

int yml_want_map(const struct yml *y, struct gv_err *err)
{
        if (!node_of(y) || yml_is_null(y) || yml_is_map(y))
                return 0;
        return expected(y, err, "a mapping");
}

size_t yml_map_len(const struct yml *map)
{
        yaml_node_t *node = node_of(map);

        if (!yml_is_map(map))
                return 0;
        return (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
}

/* The key of pair i as a string, or NULL when it is not a plain string. */
static const char *pair_key(const struct yml *map, size_t i, yaml_node_t **ret_key)
{
        yaml_node_pair_t *pair = &node_of(map)->data.mapping.pairs.start[i];
        yaml_node_t *key = yaml_document_get_node(&map->doc->doc, pair->key);

        *ret_key = key;
        if (!key || key->type != YAML_SCALAR_NODE ||
            strlen((const char *)key->data.scalar.value) != key->data.scalar.length)
                return NULL;
        return (const char *)key->data.scalar.value;
}

int yml_map_at(const struct yml *map, size_t i, const char **ret_key, struct yml *ret_val,
               struct gv_err *err)
{
        yaml_node_pair_t *pair = &node_of(map)->data.mapping.pairs.start[i];
        yaml_node_t *key_node;
        const char *key = pair_key(map, i, &key_node);
        struct yml k;

        if (!key || !key[0]) {
                make(map->doc, key_node, map->line, &k);
                snprintf(k.path, sizeof(k.path), "%s", map->path);
                return yml_error(&k, err, -EINVAL, "keys must be non-empty strings");
        }
        child(map, yaml_document_get_node(&map->doc->doc, pair->value), key, 0, ret_val);
        *ret_key = key;
        return 0;
}

int yml_check_keys(const struct yml *map, const char *const *known, struct gv_err *err)
{
        size_t n = yml_map_len(map);

        for (size_t i = 0; i < n; i++) {
                const char *key;
                struct yml val;
                bool ok = false;
                int r;

                r = yml_map_at(map, i, &key, &val, err);
                if (r < 0)
                        return r;
                for (const char *const *k = known; *k && !ok; k++)
                        ok = !strcmp(*k, key);
                if (!ok)
                        return yml_error(&val, err, -EINVAL, "unknown key");
                for (size_t j = 0; j < i; j++) {
                        yaml_node_t *other;
                        const char *prev = pair_key(map, j, &other);

                        if (prev && !strcmp(prev, key))
                                return yml_error(&val, err, -EINVAL, "given twice (line %zu)",
                                                 other->start_mark.line + 1);
                }
        }
        return 0;
}

int yml_get(const struct yml *map, const char *key, struct yml *ret, struct gv_err *err)
{
        size_t n = yml_map_len(map);
        int r;

        r = yml_want_map(map, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                yaml_node_pair_t *pair = &node_of(map)->data.mapping.pairs.start[i];
                yaml_node_t *key_node;
                const char *k = pair_key(map, i, &key_node);

                if (!k || strcmp(k, key))
                        continue;
                child(map, yaml_document_get_node(&map->doc->doc, pair->value), key, 0, ret);
                if (yml_is_null(ret)) {
                        ret->node = NULL;
                        return 0;
                }
                return 1;
        }
        child(map, NULL, key, 0, ret);
        return 0;
}

/* ---- sequences -------------------------------------------------------------------------- */

size_t yml_seq_len(const struct yml *seq)
{
        yaml_node_t *node = node_of(seq);

        if (!yml_is_seq(seq))
                return 0;
        return (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
}

void yml_seq_at(const struct yml *seq, size_t i, struct yml *ret)
{
        yaml_node_item_t item = node_of(seq)->data.sequence.items.start[i];

        child(seq, yaml_document_get_node(&seq->doc->doc, item), NULL, i, ret);
}

/* ---- scalars ---------------------------------------------------------------------------- */

/* The scalar's text, or NULL (error set) when y is not a non-null scalar without NUL bytes. */
static const char *scalar(const struct yml *y, const char *what, struct gv_err *err)
{
        yaml_node_t *node = node_of(y);

        if (!yml_is_scalar(y) || yml_is_null(y)) {
                expected(y, err, what);
                return NULL;
        }
        if (strlen((const char *)node->data.scalar.value) != node->data.scalar.length) {
                yml_error(y, err, -EINVAL, "contains a NUL byte");
                return NULL;
        }
        return (const char *)node->data.scalar.value;
}

int yml_as_str(const struct yml *y, char **ret, struct gv_err *err)
{
        const char *s;

        /* "{exe}" unquoted is a flow mapping {exe: null}: say what was meant. */
        if (yml_is_map(y) && node_of(y)->data.mapping.style == YAML_FLOW_MAPPING_STYLE &&
            yml_map_len(y) == 1) {
                yaml_node_t *key_node;
                const char *key = pair_key(y, 0, &key_node);

                if (key)
                        return yml_error(y, err, -EINVAL,
                                         "expected a string, found a mapping (write \"{%s}\" "
                                         "in quotes)",
                                         key);
        }
        s = scalar(y, "a string", err);
        if (!s)
                return -EINVAL;
        *ret = xstrdup(s);
        return 0;
}

int yml_as_u64(const struct yml *y, uint64_t min, uint64_t max, uint64_t *ret, struct gv_err *err)
{
        const char *s = scalar(y, "an integer", err);
        unsigned long long v;
        char *end;

        if (!s)
                return -EINVAL;
        if (s[0] < '0' || s[0] > '9')
                return expected(y, err, s[0] == '-' ? "a non-negative integer" : "an integer");
        errno = 0;
        v = strtoull(s, &end, 10);
        if (*end)
                return expected(y, err, "an integer");
        if (errno || v < min || v > max)
                return yml_error(y, err, -EINVAL, "%s is out of range (%llu..%llu)", s,
                                 (unsigned long long)min, (unsigned long long)max);
        *ret = v;
        return 0;
}

int yml_as_double(const struct yml *y, double min, double max, double *ret, struct gv_err *err)
{
        const char *s = scalar(y, "a number", err);
        char *end;
        double v;

        if (!s)
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (*end || end == s || s[0] == ' ' || errno == ERANGE || !isfinite(v))
                return expected(y, err, "a number");
        if (v < min || v > max)
                return yml_error(y, err, -EINVAL, "%s is out of range (%g..%g)", s, min, max);
        *ret = v;
        return 0;
}

int yml_as_bool(const struct yml *y, bool *ret, struct gv_err *err)
{
        static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no",
                                                                               "off"};
        const char *s = scalar(y, "true or false", err);

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
                if (!strcasecmp(s, yes[i])) {
                        *ret = true;
                        return 0;
                }
                if (!strcasecmp(s, no[i])) {
                        *ret = false;
                        return 0;
                }
        }
        return expected(y, err, "true or false");
}

void yml_strv_free(char **strv)
{
        if (!strv)
                return;
        for (char **s = strv; *s; s++)
                free(*s);
        free(strv);
}

int yml_as_strv(const struct yml *y, bool nonempty, char ***ret, struct gv_err *err)
{
        size_t n = yml_seq_len(y);
        char **strv;
        int r;

        if (!yml_is_seq(y))
                return expected(y, err, "a list of strings");
        if (nonempty && !n)
                return yml_error(y, err, -EINVAL, "expected a non-empty list of strings");
        strv = xcalloc(n + 1, sizeof(*strv));
        for (size_t i = 0; i < n; i++) {
                struct yml item;

                yml_seq_at(y, i, &item);
                r = yml_as_str(&item, &strv[i], err);
                if (r < 0) {
                        yml_strv_free(strv);
                        return r;
                }
        }
        *ret = strv;
        return 0;
}

/* The "get" forms: look the key up, then read it with the matching "as". */

int yml_get_str(const struct yml *map, const char *key, char **ret, struct gv_err *err)
{
        struct yml v;
        int r = yml_get(map, key, &v, err);

        if (r <= 0)
                return r;
        r = yml_as_str(&v, ret, err);
        return r < 0 ? r : 1;
}

int yml_get_u64(const struct yml *map, const char *key, uint64_t min, uint64_t max, uint64_t *ret,
                struct gv_err *err)
{
        struct yml v;
        int r = yml_get(map, key, &v, err);

        if (r <= 0)
                return r;
        r = yml_as_u64(&v, min, max, ret, err);
        return r < 0 ? r : 1;
}

int yml_get_u32(const struct yml *map, const char *key, uint32_t min, uint32_t max, uint32_t *ret,
                struct gv_err *err)
{
        uint64_t v = 0;
        int r = yml_get_u64(map, key, min, max, &v, err);

        if (r > 0)
                *ret = (uint32_t)v;
        return r;
}

int yml_get_double(const struct yml *map, const char *key, double min, double max, double *ret,
                   struct gv_err *err)
{
        struct yml v;
        int r = yml_get(map, key, &v, err);

        if (r <= 0)
                return r;
        r = yml_as_double(&v, min, max, ret, err);
        return r < 0 ? r : 1;
}

int yml_get_bool(const struct yml *map, const char *key, bool *ret, struct gv_err *err)
{
        struct yml v;
        int r = yml_get(map, key, &v, err);

        if (r <= 0)
                return r;
        r = yml_as_bool(&v, ret, err);
        return r < 0 ? r : 1;
}

int yml_get_strv(const struct yml *map, const char *key, bool nonempty, char ***ret,
                 struct gv_err *err)
{
        struct yml v;
        int r = yml_get(map, key, &v, err);

        if (r <= 0)
                return r;
        r = yml_as_strv(&v, nonempty, ret, err);
        return r < 0 ? r : 1;
}

struct unit {
        const char *suffix;
        uint64_t scale;
};

static int get_scaled(const struct yml *map, const char *stem, const struct unit *units,
                      size_t n_units, uint64_t min, uint64_t max, uint64_t *ret, struct gv_err *err)
{
        const char *first = NULL;
        uint64_t v = 0;

        for (size_t i = 0; i < n_units; i++) {
                uint64_t scale = units[i].scale, raw;
                char key[64];
                struct yml y;
                int r;

                snprintf(key, sizeof(key), "%s_%s", stem, units[i].suffix);
                r = yml_get(map, key, &y, err);
                if (r < 0)
                        return r;
                if (!r)
                        continue;
                if (first)
                        return yml_error(&y, err, -EINVAL, "give only one of %s_%s and %s", stem,
                                         first, key);
                first = units[i].suffix;
                /* The range in the unit given, so the message speaks the file's language. */
                r = yml_as_u64(&y, (min + scale - 1) / scale, max / scale, &raw, err);
                if (r < 0)
                        return r;
                v = raw * scale;
        }
        if (!first)
                return 0;
        *ret = v;
        return 1;
}

int yml_get_kib(const struct yml *map, const char *stem, uint64_t min, uint64_t max, uint64_t *ret,
                struct gv_err *err)
{
        static const struct unit units[] = {{"kib", 1}, {"mib", 1024}, {"gib", 1024 * 1024}};

        return get_scaled(map, stem, units, ARRAY_SIZE(units), min, max, ret, err);
}

int yml_get_ms(const struct yml *map, const char *stem, uint64_t min, uint64_t max, uint64_t *ret,
               struct gv_err *err)
{
        static const struct unit units[] = {{"ms", 1}, {"s", 1000}};

        return get_scaled(map, stem, units, ARRAY_SIZE(units), min, max, ret, err);
}
