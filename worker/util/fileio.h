/* SPDX-License-Identifier: MIT */
/*
 * Small file helpers the judging pipeline shares: copying a whole file between descriptors
 * (test data into a container, a compiled program into the cache) without caring where the
 * source's file position is, in the kernel where it can; and bringing a file into the page
 * cache on the host's account.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* Up to max bytes from the start of fd (pread: its position is not moved) into buf; the count
 * read, or -errno. */
ssize_t fileio_pread_head(int fd, char *buf, size_t max);

/* A new memory file (close-on-exec, sealable; executable when exec, where the kernel has
 * MFD_EXEC). -errno with err set. */
int fileio_memfd_new(const char *name, bool exec, int *ret_fd, struct gv_err *err);
/*
 * Seals the memory file *fd against any change and swaps *fd for a read-only descriptor of it:
 * nobody can change a program while it runs, and execveat accepts it (a writable descriptor
 * would be ETXTBSY). -errno with err set.
 */
int fileio_memfd_seal(int *fd, struct gv_err *err);
/* The one sealed memory file helper: a new read-only memory file holding buf[0..len), or all of
 * src_fd when src_fd >= 0, sealed. -errno with err set. */
int fileio_memfd_sealed(const char *name, bool exec, const void *buf, size_t len, int src_fd,
                        int *ret_fd, struct gv_err *err);

/*
 * The one bounded whole-file read: all of fd, a regular file of at most max bytes, from offset 0,
 * into a malloc'ed buffer NUL-terminated beyond *ret_len (name is for messages). -EINVAL not a
 * regular file, -EFBIG over max, -errno; err set.
 */
int fileio_read_fd(int fd, const char *name, size_t max, char **ret_buf, size_t *ret_len,
                   struct gv_err *err);
/* The same for the file at path (opened close-on-exec). */
int fileio_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len,
                     struct gv_err *err);
