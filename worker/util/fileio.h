/* SPDX-License-Identifier: MIT */
/*
 * Small file helpers the judging pipeline shares: copying a whole file between descriptors
 * (test data into a container, a compiled program into the cache) without caring where the
 * source's file position is, in the kernel where it can; and bringing a file into the page
 * cache on the host's account.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "schema/err.h"

/*
 * Copies all of src_fd, read from offset 0 (its file position is neither used nor moved), to
 * dst_fd at dst_fd's position. Both are borrowed. Returns 0 and the byte count in *ret_len (may
 * be NULL), or -errno with "copy: ..." in err: -ENOSPC, -EFBIG, -EDQUOT come from the writing side.
 */
int fileio_copy(int dst_fd, int src_fd, uint64_t *ret_len, struct gv_err *err);

/*
 * Brings all of fd's file into the page cache, from this process, so that the pages are charged
 * to this process's cgroup and not to whoever reads them next (a program in a container, whose
 * peak memory would then hold them). Cheap when they are all there already (one mincore). Best
 * effort: returns 0, or -errno when the file could not be mapped or faulted in.
 */
int fileio_cache_in(int fd);

/* Writes all of buf[0..len) to fd at its position, on through EINTR and short writes. -errno. */
int fileio_write_all(int fd, const void *buf, size_t len);
