// SPDX-License-Identifier: MIT
/*
 * What several subcommands share: reading a number given to an option, with an error message
 * that names the command, the option and the text, so every command refuses bad input alike.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "worker/cmd.h"

int cmd_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t max, uint64_t *ret)
{
        unsigned long long v;
        char *end;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || !*s || s[0] == '-') {
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
