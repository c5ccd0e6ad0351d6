/* SPDX-License-Identifier: MIT */
/*
 * The gavel subcommands. Each takes the arguments after its name (argv[0] is the subcommand) and
 * returns the process exit status: 0 success, 1 a negative answer (e.g. a difference found),
 * 2 a usage or input error, 3 a failure of the machine or the judge.
 */
#pragma once

#include <stdint.h>

enum {
        EXIT_USAGE = 2,
        EXIT_FAILURE_SYSTEM = 3,
};

int cmd_decode(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_broker(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_results(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_run(int argc, char **argv);

/*
 * Reads s, the value of option opt of `gavel cmd`, as a decimal integer of at most max. On bad
 * input prints "gavel cmd: opt: ..." on stderr and returns -EINVAL (or -ERANGE).
 */
int cmd_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t max, uint64_t *ret);
/* The same for an unsigned in min..max ("... is too small (at least min)" below). */
int cmd_parse_uint(const char *cmd, const char *opt, const char *s, unsigned min, unsigned max,
                   unsigned *ret);
/* "7d", "12h", "30m", "45s" in milliseconds; -EINVAL, or -ERANGE when too large. */
int cmd_parse_duration(const char *s, int64_t *ret_ms);
