/* SPDX-License-Identifier: MIT */
/*
 * gavel's messages and their msgpack codec: the job a platform enqueues, the verdict and the
 * progress events a worker publishes (the container protocol is in schema/proto.h). Pure code: no
 * I/O, no logging. Decoders never trust their input: every size is checked against struct
 * schema_limits before anything is allocated, and an error names the key path that is wrong
 * ("tests[3].in: expected bin or str"). Field reference: schema/README.md.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/err.h"

#define SCHEMA_VERSION 1 /* the "v" every encoder writes and every decoder accepts (<= this) */

/* Bounds applied by every decoder; schema_limits_default() gives the documented defaults. */
struct schema_limits {
        size_t message_max; /* bytes of one encoded message (default 80 MiB) */
        size_t source_max;  /* bytes of job.source (256 KiB) */
        size_t tests_max;   /* bytes of all inline test data of a job, in+out (64 MiB) */
        size_t id_max;      /* bytes of an id, lang, problem, worker string (128) */
        size_t str_max;     /* bytes of any other string: logs, messages, paths (1 MiB) */
        size_t array_max;   /* elements of one array or map (100000) */
        size_t objects_max; /* msgpack objects in one message (1000000) */
        size_t depth_max;   /* nesting depth of maps and arrays (32) */
};

void schema_limits_default(struct schema_limits *lim);

/* ---- verdict codes ---------------------------------------------------------------------- */

enum schema_code {
        SCHEMA_AC,       /* accepted */
        SCHEMA_WA,       /* wrong answer */
        SCHEMA_PE,       /* presentation error (custom checkers only) */
        SCHEMA_TLE,      /* time limit exceeded (cpu or wall) */
        SCHEMA_MLE,      /* memory limit exceeded */
        SCHEMA_OLE,      /* output limit exceeded */
        SCHEMA_RE,       /* runtime error: non-zero exit or a signal */
        SCHEMA_CE,       /* compilation error */
        SCHEMA_SE,       /* system error: a failure on the judge's side */
        SCHEMA_REJECTED, /* the job itself is invalid; see verdict.reason */
        SCHEMA_SKIPPED,  /* test not run (stop_on_failure, or a failed subtask dependency) */
        _SCHEMA_CODE_MAX,
        _SCHEMA_CODE_INVALID = -EINVAL,
};

const char *schema_code_name(enum schema_code code);   /* "AC"...; NULL when out of range */
enum schema_code schema_code_from_name(const char *s); /* _SCHEMA_CODE_INVALID if unknown */

enum schema_checker {
        SCHEMA_CHECKER_DEFAULT, /* not given: the problem's checker, else tokens */
        SCHEMA_CHECKER_TOKENS,  /* whitespace-insensitive token comparison */
        SCHEMA_CHECKER_EXACT,   /* byte for byte */
        SCHEMA_CHECKER_LINES,   /* line by line, trailing whitespace ignored */
        SCHEMA_CHECKER_FLOAT,   /* tokens, numbers within eps (absolute or relative) */
        _SCHEMA_CHECKER_MAX,
        _SCHEMA_CHECKER_INVALID = -EINVAL,
};

const char *schema_checker_name(enum schema_checker c);
enum schema_checker schema_checker_from_name(const char *s);

/* ---- job (topic gavel.jobs) ------------------------------------------------------------- */

struct job_test {
        uint8_t *in; /* owned, NUL-terminated beyond in_len */
        size_t in_len;
        uint8_t *out; /* owned: the expected answer */
        size_t out_len;
        double points; /* 0 when not given */
        bool has_points;
};

struct job_limits {          /* 0 = not given: the problem's or the worker's default applies */
        uint32_t time_ms;    /* cpu time per test */
        uint32_t wall_ms;    /* wall time per test */
        uint64_t memory_kib; /* peak memory per test */
        uint64_t output_kib; /* output size per test */
};

struct job {
        uint32_t v;
        char *id;        /* submission id, 1..id_max bytes */
        char *lang;      /* language name in the worker's table */
        uint8_t *source; /* owned, NUL-terminated beyond source_len */
        size_t source_len;
        char *problem;          /* problem id in the worker's store; NULL when tests are inline */
        struct job_test *tests; /* inline tests; NULL when problem is set */
        size_t n_tests;
        struct job_limits limits;
        enum schema_checker checker;
        double checker_eps;   /* float checker's epsilon; 0 = default (1e-6) */
        bool stop_on_failure; /* stop at the first failed test */
        uint8_t *meta;        /* raw msgpack of the "meta" value, echoed in the verdict; or NULL */
        size_t meta_len;
        uint32_t attempt; /* 1 for a first judging; replay increments it */
        bool rejudge;     /* set by `gavel replay --requeue` */
};

/*
 * Decodes one job from buf[0..len). On success fills *ret_job (which the caller releases with
 * job_done) and returns 0. Every string and byte field is copied: nothing points into buf.
 * Errors: -EBADMSG (malformed or invalid; err names the key path), -E2BIG (over a bound).
 * lim may be NULL for the defaults; err may be NULL.
 */
int schema_job_decode(const void *buf, size_t len, const struct schema_limits *lim,
                      struct job *ret_job, struct gv_err *err);
/* Encodes job into a malloc'ed buffer (*ret_buf, *ret_len); returns 0 or -errno: -EILSEQ when a
 * str field is not valid UTF-8 (schema_utf8_valid), as for verdicts and progress. */
int schema_job_encode(const struct job *job, void **ret_buf, size_t *ret_len);
void job_done(struct job *job); /* frees the fields and zeroes *job; NULL is a no-op */

/* ---- verdict (topic gavel.verdicts) ----------------------------------------------------- */

struct verdict_test {
        enum schema_code verdict;
        uint32_t time_ms; /* cpu time, from the cgroup */
        uint32_t wall_ms;
        uint64_t memory_kib;   /* peak memory, from the cgroup */
        int32_t exit_code;     /* -1 when killed by a signal */
        int32_t signal;        /* 0 when it exited */
        char *checker_message; /* owned, or NULL */
};

struct verdict_compile {
        bool present; /* false: the language is not compiled (no "compile" key) */
        bool ok;
        char *log; /* owned, capped by the worker; or NULL */
        uint32_t time_ms;
        uint64_t memory_kib;
        bool cached; /* the compiled program came from the compile cache */
};

struct verdict {
        uint32_t v;
        char *id;
        enum schema_code verdict;
        char *reason; /* owned, or NULL: why REJECTED, CE or SE */
        double score; /* sum of points earned (tests or subtasks); 0..max_score */
        double max_score;
        struct verdict_compile compile;
        struct verdict_test *tests;
        size_t n_tests;
        uint32_t time_ms;    /* maximum over tests */
        uint64_t memory_kib; /* maximum over tests */
        uint8_t *meta;       /* raw msgpack echoed from the job; or NULL */
        size_t meta_len;
        char *worker; /* id of the worker that judged it */
        uint32_t attempt;
        int64_t received_ms; /* unix time in ms: job received by the worker */
        int64_t finished_ms; /* unix time in ms: verdict produced */
};

/* ---- UTF-8: every str gavel writes is well-formed (encoders refuse others: -EILSEQ) ---- */

/* Whether buf[0..len) is well-formed UTF-8 without NUL: no overlong forms, no surrogates,
 * nothing above U+10FFFF. */
bool schema_utf8_valid(const void *buf, size_t len);
/* A NUL-terminated copy of buf[0..len) (xmalloc'ed; the caller frees it) in which each
 * ill-formed sequence and each NUL is U+FFFD, cut at a character boundary to at most max
 * bytes. */
char *schema_utf8_dup(const void *buf, size_t len, size_t max);
/* Replaces the C string *s (owned, or NULL) by its schema_utf8_dup when it is not valid. */
void schema_utf8_fix(char **s);

/* Same contract as schema_job_decode. */
int schema_verdict_decode(const void *buf, size_t len, const struct schema_limits *lim,
                          struct verdict *ret_verdict, struct gv_err *err);
int schema_verdict_encode(const struct verdict *verdict, void **ret_buf, size_t *ret_len);
void verdict_done(struct verdict *verdict);

/* ---- progress (topic gavel.progress) ---------------------------------------------------- */

enum schema_stage {
        SCHEMA_STAGE_RECEIVED,
        SCHEMA_STAGE_COMPILING,
        SCHEMA_STAGE_RUNNING, /* test k of n */
        SCHEMA_STAGE_DONE,
        _SCHEMA_STAGE_MAX,
        _SCHEMA_STAGE_INVALID = -EINVAL,
};

const char *schema_stage_name(enum schema_stage s);
enum schema_stage schema_stage_from_name(const char *s);

struct progress {
        uint32_t v;
        char *id;
        enum schema_stage stage;
        uint32_t test; /* 1-based test being run (stage running), else 0 */
        uint32_t of;   /* number of tests, when known */
        char *worker;  /* owned, or NULL */
        int64_t ts_ms; /* unix time in ms */
};

int schema_progress_decode(const void *buf, size_t len, const struct schema_limits *lim,
                           struct progress *ret_progress, struct gv_err *err);
int schema_progress_encode(const struct progress *progress, void **ret_buf, size_t *ret_len);
void progress_done(struct progress *progress);

/* ---- generic ---------------------------------------------------------------------------- */

/*
 * Checks that buf[0..len) is exactly one well-formed msgpack object within lim (lengths inside
 * the buffer, depth, element and object counts) without allocating. Returns the number of
 * bytes it takes (<= len), or -EBADMSG / -E2BIG with err set. Decoders call it first, so that a
 * hostile length prefix never reaches an allocator. With a stream, call it repeatedly.
 */
int schema_check(const void *buf, size_t len, const struct schema_limits *lim, struct gv_err *err);
