/* SPDX-License-Identifier: MIT */
/*
 * File helpers: whole-file copy with sendfile(2) (page cache to page cache, no user buffer), and
 * a pread/write loop for the sources sendfile refuses; faulting a file into the page cache.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "worker/util/fileio.h"

static int copy_loop(int dst_fd, int src_fd, off_t off, uint64_t *ret_len, struct gv_err *err)
{
        char buf[65536];

        for (;;) {
                ssize_t n = pread(src_fd, buf, sizeof(buf), off), done = 0;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return gv_err_errno(err, -errno, "copy: read");
                if (n == 0)
                        break;
                while (done < n) {
                        ssize_t w = write(dst_fd, buf + done, (size_t)(n - done));

                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return gv_err_errno(err, -errno, "copy: write");
                        done += w;
                }
                off += n;
        }
        if (ret_len)
                *ret_len = (uint64_t)off;
        return 0;
}

int fileio_copy(int dst_fd, int src_fd, uint64_t *ret_len, struct gv_err *err)
{
        off_t off = 0;

        for (;;) {
                ssize_t n = sendfile(dst_fd, src_fd, &off, 1 << 30);

                if (n < 0 && errno == EINTR)
                        continue;
                /* sendfile wants an mmap-able source: fall back for the rest (off is exact) */
                if (n < 0 && (errno == EINVAL || errno == ENOSYS))
                        return copy_loop(dst_fd, src_fd, off, ret_len, err);
                if (n < 0)
                        return gv_err_errno(err, -errno, "copy");
                if (n == 0)
                        break;
        }
        if (ret_len)
                *ret_len = (uint64_t)off;
        return 0;
}

/* Whether all n pages of the mapping at p are in memory. */
static bool resident(void *p, size_t n)
{
        unsigned char small[4096], *vec = n <= sizeof(small) ? small : malloc(n);
        bool all = vec && mincore(p, n * (size_t)sysconf(_SC_PAGESIZE), vec) == 0;

        for (size_t i = 0; all && i < n; i++)
                all = vec[i] & 1;
        if (vec != small)
                free(vec);
        return all;
}

int fileio_cache_in(int fd)
{
        size_t page = (size_t)sysconf(_SC_PAGESIZE), len, n;
        struct stat st;
        int r = 0;
        void *p;

        /* fadvise(WILLNEED) would not do: it reads ahead a few MiB at most */
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size <= 0)
                return 0;
        len = (size_t)st.st_size;
        n = (len + page - 1) / page;
        p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        if (!resident(p, n) && madvise(p, len, MADV_POPULATE_READ) < 0)
                r = -errno;
        munmap(p, len);
        return r;
}

int fileio_write_all(int fd, const void *buf, size_t len)
{
        const uint8_t *p = buf;
        ssize_t n;

        while (len > 0) {
                n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}
