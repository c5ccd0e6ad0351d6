/* SPDX-License-Identifier: MIT */
/*
 * File helpers: whole-file copy with sendfile(2) (page cache to page cache, no user buffer), and
 * a pread/write loop for the sources sendfile refuses.
 */
#include <errno.h>
#include <sys/sendfile.h>
#include <sys/types.h>
#include <unistd.h>

#include "worker/fileio.h"

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
