/* SPDX-License-Identifier: MIT */
/*
 * Small file helpers the judging pipeline shares: copying a whole file between descriptors
 * (test data into a container, a compiled program into the cache) without caring where the
 * source's file position is, in the kernel where it can.
 */
#pragma once

#include <stdint.h>

#include "schema/err.h"

/*
 * Copies all of src_fd, read from offset 0 (its file position is neither used nor moved), to
 * dst_fd at dst_fd's position. Both are borrowed. Returns 0 and the byte count in *ret_len (may
 * be NULL), or -errno with "copy: ..." in err: -ENOSPC, -EFBIG, -EDQUOT come from the writing side.
 */
int fileio_copy(int dst_fd, int src_fd, uint64_t *ret_len, struct gv_err *err);
