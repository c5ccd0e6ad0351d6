/* SPDX-License-Identifier: MIT */
/*
 * gavel's messages between msgpack and JSON, for gavel decode and gavel encode (and any tool):
 * a resumable framer that finds where one message ends in a growing buffer, the check and
 * conversion of one message to JSON, and a message built from its JSON description.
 */
#pragma once

#include <errno.h>
#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "schema/err.h"
#include "schema/schema.h"

enum codec_type {
        CODEC_ANY, /* generic: schema_check only */
        CODEC_JOB,
        CODEC_VERDICT,
        CODEC_PROGRESS,
        CODEC_AUTO, /* guess from the keys; generic when nothing fits */
        _CODEC_TYPE_MAX,
        _CODEC_TYPE_INVALID = -EINVAL,
};

/* "any", "job", "verdict", "progress", "auto"; NULL or _CODEC_TYPE_INVALID otherwise. */
const char *codec_type_name(enum codec_type type);
enum codec_type codec_type_from_name(const char *s);

#define FRAME_DEPTH 64 /* open containers the framer tracks; schema_check's bound is lower */

/*
 * A resumable walk over msgpack headers that finds the end of the first object in a growing
 * buffer. Unlike schema_check it tells "need more bytes" apart from "malformed", and resumes
 * where it stopped, so a large message arriving in pieces costs O(n). It enforces the bounds
 * that must fail before the bytes arrive (a str or array claiming more than message_max);
 * schema_check remains the judge of a complete message.
 */
struct codec_frame {
        size_t pos;                 /* bytes of the message walked so far */
        size_t depth;               /* open containers */
        uint64_t left[FRAME_DEPTH]; /* objects still to come in each open container */
        uint64_t objects;           /* objects walked */
};

void codec_frame_reset(struct codec_frame *fr);
/*
 * Walks on through buf[0..len), the bytes of the message so far. Returns the message's size once
 * it is complete, 0 when more bytes are needed, or -EBADMSG / -E2BIG with err set.
 */
ssize_t codec_frame_next(struct codec_frame *fr, const uint8_t *buf, size_t len,
                         const struct schema_limits *lim, struct gv_err *err);

/*
 * Checks the complete message buf[0..len) (schema_check, then the typed decoder of type, or of
 * the type its keys suggest for CODEC_AUTO) and converts it to a new JSON value in *ret_json.
 * unpacked (initialised by the caller) holds the unpacked object. Returns 0, -EBADMSG / -E2BIG
 * for a bad message, or another -errno, with err set.
 */
int codec_to_json(enum codec_type type, const uint8_t *buf, size_t len,
                  const struct schema_limits *lim, msgpack_unpacked *unpacked, json_t **ret_json,
                  struct gv_err *err);

/*
 * Builds the message of type (job, verdict or progress) from its JSON description obj, encodes
 * it and decodes the bytes again with the decoder a worker uses; relative paths in *_file keys
 * start at dirfd (or AT_FDCWD). Unknown keys are refused. On success hands out the bytes
 * (malloc'ed). -EINVAL or the decoder's error with err naming the key path; -ENOMEM.
 */
int codec_from_json(enum codec_type type, const json_t *obj, int dirfd, void **ret_buf,
                    size_t *ret_len, struct gv_err *err);
