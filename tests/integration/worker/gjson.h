/* SPDX-License-Identifier: MIT */
/*
 * For tests of gavel commands that print one JSON object (the benchmarks' --json): run the
 * command, parse what it printed, read numbers. Include after cmocka.h.
 */
#pragma once

#include <jansson.h>

#include "tests/integration/worker/gproc.h"

/* Runs gavel args in dir (its output in dir/name.*), which must exit 0 within timeout_ms and
 * print one JSON object; returns it (json_decref it). */
static inline json_t *gjson_run(const char *dir, const char *name, const char *const *args,
                                int64_t timeout_ms)
{
        json_error_t jerr;
        json_t *json;
        char *out;

        assert_int_equal(gproc_run(dir, name, args, timeout_ms), 0);
        out = gproc_slurp(gproc_path(dir, name, "out"));
        json = json_loads(out, 0, &jerr);
        if (!json)
                fail_msg("not JSON (%s): %s", jerr.text, out);
        free(out);
        return json;
}

/* The number at key, which must be there. */
static inline double gjson_num(json_t *json, const char *key)
{
        json_t *v = json_object_get(json, key);

        if (!json_is_number(v))
                fail_msg("key %s missing or not a number", key);
        return json_number_value(v);
}
