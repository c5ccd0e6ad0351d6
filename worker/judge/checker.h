/* SPDX-License-Identifier: MIT */
/*
 * Checkers: compare a program's output with the answer. The built-in ones are pure functions on
 * bytes; a custom checker follows testlib's convention (`checker input output answer`, exit 0 AC,
 * 1 WA, 2 PE, 3 or anything else a checker failure, its message on stderr) and runs in a
 * container like any untrusted program.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox.h"
#include "schema/err.h"
#include "schema/schema.h"

enum checker_result {
        CHECKER_AC,
        CHECKER_WA,
        CHECKER_PE,   /* presentation error (custom checkers only); the verdict counts it as WA */
        CHECKER_FAIL, /* the checker itself failed: the verdict is SE, never AC */
};

struct checker_outcome {
        enum checker_result result;
        char message[256]; /* e.g. "token 3: expected '5', found '6'"; "" when none */
};

/*
 * Compares out with ans with a built-in checker (tokens, exact, lines, float; eps 0 means 1e-6,
 * absolute or relative). Never fails: any input gives AC or WA with a message. Messages quote at
 * most a few dozen bytes of either side, with non-printable bytes escaped.
 * - Whitespace is space, \t, \n, \r, \v, \f; every other byte (NUL included) is part of a token.
 * - lines: trailing whitespace of each line and trailing blank lines are ignored, so CRLF is LF;
 *   leading and inner whitespace count.
 * - float: a token is a number when all of it is [+-]digits[.digits][e[+-]digits] (digits on
 *   one side of the point at least) or [+-]nan/inf/infinity in any case; hex floats are not
 *   numbers. Numbers match when |found - expected| <= eps or <= eps * |expected|; nan matches
 *   nan, inf only the same inf, -0 matches 0, exponents beyond the double range give inf or 0.
 *   Any other token must match byte for byte. DEFAULT and unknown kinds are tokens; eps <= 0 or
 *   nan is 1e-6. out and ans may be NULL when their length is 0.
 */
void checker_builtin(enum schema_checker kind, double eps, const uint8_t *out, size_t out_len,
                     const uint8_t *ans, size_t ans_len, struct checker_outcome *ret);

struct checker_custom {
        int exe_fd; /* the compiled checker (an executable file, read-only); run from the
                       descriptor when others may execute it (0555), else copied into /w */
        int in_fd;  /* the test's input */
        int out_fd; /* the program's output */
        int ans_fd; /* the test's answer */
        struct sandbox_limits limits; /* default 10 s cpu, 512 MiB */
};

/*
 * Runs a custom checker in sb (a container from the pool, reset by the caller afterwards): the
 * three files are copied into /w, the checker runs as `checker input.txt output.txt answer.txt`
 * under the run policy, and its exit code and stderr (capped) become the outcome. A checker that
 * crashes, times out or exits with another code gives CHECKER_FAIL. Returns 0 with an outcome, or
 * -errno when the container itself failed (then the caller discards the container).
 * The message is the start of the checker's stderr (lines joined by "; ", valid UTF-8 kept,
 * other bytes escaped), after the reason for a CHECKER_FAIL ("checker killed by signal 11
 * (SIGSEGV): ..."). Files that do not fit in /w are a CHECKER_FAIL too. Limits left 0 get
 * 10 s cpu, 512 MiB and 1 MiB of output (stderr included). The descriptors are borrowed; their
 * file positions are neither used nor moved.
 */
int checker_run_custom(struct sandbox *sb, const struct checker_custom *c,
                       struct checker_outcome *ret, struct gv_err *err);
