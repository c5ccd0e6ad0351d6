/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the codec's files: the wire walker's extras (check.c), unpacking and typed
 * field readers that name the key in their errors, packing helpers (codec.c), and the name
 * tables (names.c). Every reader takes the field name for its message ("time_ms: expected
 * unsigned integer"); callers add the path above it with gv_err_prefix on the way up.
 */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/proto.h"
#include "schema/schema.h"

#define SCHEMA__DEPTH_HARD 32   /* msgpack-c's own nesting limit (MSGPACK_EMBED_STACK_SIZE) */
#define SCHEMA__PATH_MAX   4096 /* bytes of a protocol path, argv or env string */
#define SCHEMA__HOST_MAX   64   /* bytes of a hostname (HOST_NAME_MAX) */
#define SCHEMA__TEXT_MAX   4096 /* bytes of a protocol reply's message */

/* ---- check.c ---- */

/* lim, or the defaults written into *dflt when lim is NULL. */
const struct schema_limits *schema__limits(const struct schema_limits *lim,
                                           struct schema_limits *dflt);

/*
 * Finds the value of key in the map at the root of buf[0..len), which schema_check accepted.
 * Sets *ret_off and *ret_len to its byte range; returns 0, or -ENOENT when the key is absent.
 */
int schema__raw_value(const void *buf, size_t len, const char *key, size_t *ret_off,
                      size_t *ret_len);

/* ---- codec.c: decoding ---- */

/*
 * Checks buf[0..len) with schema_check (one object, no trailing bytes), then unpacks it into u
 * (initialized by the caller, destroyed by the caller in every case) and requires a map at the
 * root. Returns 0, or -EBADMSG / -E2BIG / -ENOMEM with err set.
 */
int schema__unpack(const void *buf, size_t len, const struct schema_limits *lim,
                   msgpack_unpacked *u, struct gv_err *err);

struct schema__field {
        const char *name;          /* key to look for */
        const msgpack_object *val; /* filled by schema__fields: the value, or NULL when absent */
};

/*
 * Sets fields[i].name to keys[i] and fields[i].val to its value in the map o (which must be a
 * map), or NULL. Keys that are not str, and str keys not in keys, are ignored. A key given twice
 * is an error ("id: duplicate key"): taking the first or the last would let two readers of the
 * same bytes disagree on what they say.
 */
int schema__fields(const msgpack_object *o, const char *const *keys, struct schema__field *fields,
                   size_t n, struct gv_err *err);

/* How schema__decode makes one kind of message: its size, its decoder of the root map (into a
 * zeroed value), and the function releasing a partly decoded one. */
struct schema__type {
        size_t size;
        int (*decode)(const void *buf, size_t len, const msgpack_object *root,
                      const struct schema_limits *lim, void *ret, struct gv_err *err);
        void (*done)(void *value);
};

/*
 * The whole decode of one message: checks and unpacks buf (schema__unpack), runs type->decode on
 * the root map into a zeroed value, and copies that to *ret on success. On failure the partly
 * decoded value is released and *ret is untouched. err may be NULL. Returns 0 or -errno, as the
 * public decoders.
 */
int schema__decode(const void *buf, size_t len, const struct schema_limits *lim,
                   const struct schema__type *type, void *ret, struct gv_err *err);

/* -EBADMSG "<name>: missing" */
int schema__missing(const char *name, struct gv_err *err);
/* -EBADMSG "<name>: expected a map" unless o is a map */
int schema__want_map(const msgpack_object *o, const char *name, struct gv_err *err);
/* o must be an array of at most max elements ("<name>: expected an array", E2BIG over max) */
int schema__want_array(const msgpack_object *o, const char *name, size_t max, struct gv_err *err);

/* "v": required by the caller, a positive integer not above SCHEMA_VERSION */
int schema__version(const msgpack_object *o, uint32_t *ret_v, struct gv_err *err);

int schema__uint(const msgpack_object *o, const char *name, uint64_t max, uint64_t *ret,
                 struct gv_err *err);
int schema__u32(const msgpack_object *o, const char *name, uint32_t *ret, struct gv_err *err);
int schema__u64(const msgpack_object *o, const char *name, uint64_t *ret, struct gv_err *err);
int schema__i32(const msgpack_object *o, const char *name, int32_t *ret, struct gv_err *err);
int schema__i64(const msgpack_object *o, const char *name, int64_t *ret, struct gv_err *err);
/* float or integer, finite */
int schema__number(const msgpack_object *o, const char *name, double *ret, struct gv_err *err);
int schema__bool(const msgpack_object *o, const char *name, bool *ret, struct gv_err *err);

enum {
        SCHEMA__NONEMPTY = 1 << 0, /* at least one byte */
        SCHEMA__NO_NUL = 1 << 1,   /* no NUL byte inside */
        SCHEMA__ABSOLUTE = 1 << 2, /* starts with '/' */
        SCHEMA__ID = SCHEMA__NONEMPTY | SCHEMA__NO_NUL,
};

/* A str (only) of at most max bytes (E2BIG), copied NUL-terminated into *ret. */
int schema__str(const msgpack_object *o, const char *name, size_t max, unsigned flags, char **ret,
                struct gv_err *err);
/* A bin or str of at most max bytes (E2BIG), copied (NUL-terminated beyond *ret_len). */
int schema__bytes(const msgpack_object *o, const char *name, size_t max, uint8_t **ret,
                  size_t *ret_len, struct gv_err *err);
/* A str that is one of names[0..n); sets *ret to its index. what: "verdict code", "stage"... */
int schema__enum(const msgpack_object *o, const char *name, const char *const *names, size_t n,
                 const char *what, int *ret, struct gv_err *err);

/* Copies n bytes and a NUL after them; n may be 0 (and src NULL then). */
void *schema__memdup(const void *src, size_t n);

/* Writes a printable, quoted, shortened copy of p[0..n) into out (for error messages). */
void schema__quote(const void *p, size_t n, char *out, size_t size);

/* ---- codec.c: encoding ---- */

/* meta is exactly one msgpack value (else the message around it would be garbage) */
bool schema__meta_valid(const void *meta, size_t len);

/* packer callback writing into a struct schema__fixbuf; fails once it is full, never allocates */
struct schema__fixbuf {
        char *buf;
        size_t size; /* capacity */
        size_t len;  /* bytes written */
};
int schema__fixbuf_write(void *data, const char *p, size_t n);

/* What a pack helper returns for a str that is not UTF-8 (msgpack's failures are -1, which an OR
 * with this keeps): the encoders' result is then -EILSEQ. */
#define SCHEMA__PACK_ILSEQ 2

/* A str, refused (SCHEMA__PACK_ILSEQ) unless it is valid UTF-8: every message a platform reads. */
int schema__pack_cstr(msgpack_packer *pk, const char *s);
/* A str of bytes as the kernel takes them (paths, argv, messages of the container protocol,
 * whose two ends are gavel's own): not checked. */
int schema__pack_rawcstr(msgpack_packer *pk, const char *s);
int schema__kv_rawstr(msgpack_packer *pk, const char *key, const char *s);
int schema__pack_key(msgpack_packer *pk, const char *key); /* same, named for reading */
int schema__pack_bin(msgpack_packer *pk, const void *p, size_t n);

/*
 * A key and its value. Like msgpack's pack functions they return 0, or non-zero when a write
 * failed; encoders OR the results of a sequence of statements and check once at the end (a
 * write after a failed one is harmless: the result is thrown away).
 */
int schema__kv_str(msgpack_packer *pk, const char *key, const char *s);
int schema__kv_bin(msgpack_packer *pk, const char *key, const void *p, size_t n);
int schema__kv_uint(msgpack_packer *pk, const char *key, uint64_t v);
int schema__kv_int(msgpack_packer *pk, const char *key, int64_t v);
int schema__kv_double(msgpack_packer *pk, const char *key, double v);
int schema__kv_bool(msgpack_packer *pk, const char *key, bool v);

/*
 * An sbuffer encoder's tail: r is the OR of its pack results. On r == 0 hands out the buffer
 * (*ret_buf, *ret_len) and returns 0; else frees it and returns -ENOMEM.
 */
int schema__sbuffer_finish(msgpack_sbuffer *sbuf, int r, void **ret_buf, size_t *ret_len);

/* ---- names.c ---- */

extern const char *const schema__code_names[_SCHEMA_CODE_MAX];
extern const char *const schema__checker_names[_SCHEMA_CHECKER_MAX];
extern const char *const schema__stage_names[_SCHEMA_STAGE_MAX];
extern const char *const schema__policy_names[_PROTO_POLICY_MAX];
extern const char *const schema__cmd_names[_PROTO_CMD_MAX];
extern const char *const schema__mount_names[_PROTO_MOUNT_MAX];
extern const char *const schema__reply_names[_PROTO_R_MAX];
extern const char *const schema__status_names[_PROTO_STATUS_MAX];
extern const char *const schema__rlimit_names[_PROTO_RLIMIT_MAX];

/* names[i] for 0 <= i < n, else NULL */
const char *schema__name(const char *const *names, size_t n, int i);
/* index of p[0..len) in names[0..n), or -EINVAL */
int schema__index(const char *const *names, size_t n, const char *p, size_t len);
