/* SPDX-License-Identifier: MIT */
/*
 * msgpack <-> JSON for the operator commands (gavel decode, gavel encode). msgpack carries what
 * JSON cannot (bytes, invalid UTF-8, non-string keys, 64-bit unsigned integers, NaN), so the
 * mapping is lossy in documented, visible ways, and the JSON it produces is always valid.
 * Functions are prefixed json_ like jansson's; none of jansson's names are reused.
 */
#pragma once

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/err.h"
#include "schema/schema.h"

#define JSON_DEPTH_MAX 64 /* nesting bound of both conversions; callers bound input first */

/*
 * Converts obj to a new JSON value in *ret_json (the caller owns the reference); written only
 * on success. The mapping:
 *   nil, bool, float -> null, true/false, number (NaN and infinities -> "NaN", "Infinity",
 *     "-Infinity"; a float32 is printed with the fewest digits that give it back);
 *   int -> number, except an unsigned int above INT64_MAX -> its decimal digits as a string;
 *   str -> string; bytes that are not UTF-8 become U+FFFD each;
 *   bin -> {"base64": "..."}, except under the keys "source", "in" and "out", where bin or str
 *     becomes a string when it is valid UTF-8 and {"base64": "..."} otherwise (exact either way);
 *   ext -> {"ext": type, "base64": "..."};
 *   array -> array; map -> object, a non-string key replaced by its compact JSON text
 *     (1 -> "1"), the last of duplicate keys winning.
 * Returns 0, -E2BIG nested deeper than JSON_DEPTH_MAX, -ENOMEM; err (may be NULL) says where.
 */
int json_from_msgpack(const msgpack_object *obj, json_t **ret_json, struct gv_err *err);

/*
 * Packs json as msgpack: object -> map with str keys, string -> str, integer -> int, real ->
 * float64, true/false/null -> bool/nil. depth_max bounds the nesting of arrays and objects
 * (0 = a scalar only; at most JSON_DEPTH_MAX). Returns 0, -E2BIG too deep, -ENOMEM when the
 * packer's writer fails; err (may be NULL) then holds the path below json, e.g.
 * ".a[2]: nested too deeply", for the caller to prefix.
 */
int json_to_msgpack(const json_t *json, msgpack_packer *pk, size_t depth_max, struct gv_err *err);

/*
 * json_dumps(json, flags | JSON_ENCODE_ANY) with every real printed exactly and as briefly as
 * the document allows (1e-06, not 9.9999999999999995e-07). Returns a malloc'ed string, or NULL
 * on out-of-memory. flags must not contain JSON_REAL_PRECISION.
 */
char *json_dumps_exact(const json_t *json, size_t flags);

/* Whether buf[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates). */
bool json_utf8_valid(const void *buf, size_t len);

/* A new JSON string of buf[0..len), each byte outside valid UTF-8 replaced by U+FFFD; NUL kept. */
json_t *json_string_lossy(const void *buf, size_t len);

/* A new JSON string when buf[0..len) is UTF-8, else a new {"base64": "..."}; NULL on OOM. */
json_t *json_bytes(const void *buf, size_t len);

/*
 * Reads a byte value written as a JSON string (its UTF-8 bytes) or as {"base64": "..."} into a
 * malloc'ed buffer, NUL-terminated beyond *ret_len; written only on success. Returns 0, or
 * -EINVAL with err (may be NULL) saying what is wrong, without a key path.
 */
int json_get_bytes(const json_t *json, uint8_t **ret_buf, size_t *ret_len, struct gv_err *err);

/*
 * The verdict as JSON, exactly as `gavel decode` prints its msgpack form (the same keys as the
 * schema's verdict, "verdict" holding the code, meta decoded): a new reference in *ret_json.
 * Returns 0, or -errno with err (may be NULL) set.
 */
int json_from_verdict(const struct verdict *verdict, json_t **ret_json, struct gv_err *err);
