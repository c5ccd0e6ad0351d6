// SPDX-License-Identifier: MIT
/*
 * What several subcommands share: reading a number given to an option, with an error message
 * that names the command, the option and the text, so every command refuses bad input alike.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "schema/cleanup.h"
#include "worker/cmd.h"

int cmd_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t max, uint64_t *ret)
{
        unsigned long long v;
        char *end;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || s[0] < '0' || s[0] > '9') { /* no sign, no blank */
                fprintf(stderr, "gavel %s: %s: expected a non-negative integer, got '%s'\n", cmd,
                        opt, s);
                return -EINVAL;
        }
        if (v > max) {
                fprintf(stderr, "gavel %s: %s: %llu is too large (at most %" PRIu64 ")\n", cmd, opt,
                        v, max);
                return -ERANGE;
        }
        *ret = v;
        return 0;
}

int cmd_parse_uint(const char *cmd, const char *opt, const char *s, unsigned min, unsigned max,
                   unsigned *ret)
{
        uint64_t v;
        int r = cmd_parse_u64(cmd, opt, s, max, &v);

        if (r < 0)
                return r;
        if (v < min) {
                fprintf(stderr, "gavel %s: %s: %" PRIu64 " is too small (at least %u)\n", cmd, opt,
                        v, min);
                return -ERANGE;
        }
        *ret = (unsigned)v;
        return 0;
}

/* Parses "7d", "12h", "30m", "45s" into milliseconds. */
int cmd_parse_duration(const char *s, int64_t *ret_ms)
{
        static const struct {
                char unit;
                int64_t ms;
        } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
        unsigned long long n;
        char *end;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        n = strtoull(s, &end, 10);
        if (errno || end[0] == '\0' || end[1] != '\0')
                return -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++)
                if (*end == units[i].unit) {
                        if (n > (unsigned long long)(INT64_MAX / units[i].ms))
                                return -ERANGE;
                        *ret_ms = (int64_t)n * units[i].ms;
                        return 0;
                }
        return -EINVAL;
}
