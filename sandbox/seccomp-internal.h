/* SPDX-License-Identifier: MIT */
/*
 * The seccomp policies, compiled once on the host with libseccomp into raw BPF and handed to
 * each container's init in its conf message; the init only installs them with prctl right before
 * execve, so nothing allocates between fork and exec.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "schema/err.h"
#include "schema/proto.h"
#include "schema/schema.h"

/*
 * Compiles policy into BPF (an array of struct sock_filter) in a malloc'ed buffer. For
 * PROTO_POLICY_NONE returns 0 with *ret_buf = NULL, *ret_len = 0. Returns 0 or -errno.
 */
int sandbox__seccomp_compile(enum proto_policy policy, uint8_t **ret_buf, size_t *ret_len,
                             struct gv_err *err);
