/* SPDX-License-Identifier: MIT */
/*
 * The worker daemon: a member of the judging fleet (daemon.c says how it works). `gavel worker`
 * parses its configuration and hands it here.
 */
#pragma once

#include "worker/config.h"

/*
 * Runs the worker of conf until SIGTERM or SIGINT, or a failure of Kafka, the sandbox or the
 * audit log. Takes conf's contents (conf is left empty). Returns the exit status: 0 stopped by
 * a signal, EXIT_USAGE a bad configuration, EXIT_FAILURE_SYSTEM a failure to restart from.
 */
int daemon_run(struct worker_config *conf);
