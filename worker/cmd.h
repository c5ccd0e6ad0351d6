/* SPDX-License-Identifier: MIT */
/*
 * The gavel subcommands. Each takes the arguments after its name (argv[0] is the subcommand) and
 * returns the process exit status: 0 success, 1 a negative answer (e.g. a difference found),
 * 2 a usage or input error, 3 a failure of the machine or the judge.
 */
#pragma once

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
int cmd_audit(int argc, char **argv);
