/* SPDX-License-Identifier: MIT */
/*
 * File helpers: whole-file copy with sendfile(2) (page cache to page cache, no user buffer), and
 * a pread/write loop for the sources sendfile refuses; faulting a file into the page cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "schema/cleanup.h"
#include "worker/util/fileio.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3; older kernels refuse it and need nothing */
#endif

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
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Up to max bytes from the start of fd into buf; the count read, or -errno. */
ssize_t fileio_pread_head(int fd, char *buf, size_t max)
{
        size_t got = 0;

        while (got < max) {
                ssize_t n = pread(fd, buf + got, max - got, (off_t)got);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        return (ssize_t)got;
}

int fileio_memfd_new(const char *name, bool exec, int *ret_fd, struct gv_err *err)
{
        unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
        int fd = memfd_create(name, flags | (exec ? MFD_EXEC : 0));

        if (fd < 0 && exec && errno == EINVAL)
                fd = memfd_create(name, flags);
        if (fd < 0)
                return gv_err_errno(err, -errno, "memfd_create %s", name);
        *ret_fd = fd;
        return 0;
}

/*
 * Seals a memory file and swaps *fd for a read-only descriptor of it: nobody can change the
 * program while it runs, and execveat accepts it (a writable descriptor would be ETXTBSY).
 */
int fileio_memfd_seal(int *fd, struct gv_err *err)
{
        char path[64];
        int ro;

        if (fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return gv_err_errno(err, -errno, "seal a memory file");
        snprintf(path, sizeof(path), "/proc/self/fd/%d", *fd);
        ro = open(path, O_RDONLY | O_CLOEXEC);
        if (ro < 0)
                return gv_err_errno(err, -errno, "reopen %s", path);
        close(*fd);
        *fd = ro;
        return 0;
}

/* A sealed read-only memory file holding buf[0..len), or the content of src_fd (>= 0). */
int fileio_memfd_sealed(const char *name, bool exec, const void *buf, size_t len, int src_fd,
                        int *ret_fd, struct gv_err *err)
{
        cleanup_fd int fd = -1;
        int r;

        r = fileio_memfd_new(name, exec, &fd, err);
        if (r < 0)
                return r;
        r = src_fd >= 0 ? fileio_copy(fd, src_fd, NULL, err) : fileio_write_all(fd, buf, len);
        if (r < 0)
                return src_fd >= 0 ? gv_err_prefix(err, r, "memory file %s: ", name)
                                   : gv_err_errno(err, r, "fill memory file %s", name);
        r = fileio_memfd_seal(&fd, err);
        if (r < 0)
                return r;
        *ret_fd = steal_fd(&fd);
        return 0;
}

/* Reads all of fd, a regular file of at most max bytes, from offset 0. */
int fileio_read_fd(int fd, const char *name, size_t max, char **ret_buf, size_t *ret_len,
                   struct gv_err *err)
{
        cleanup_free char *buf = NULL;
        struct stat st;
        ssize_t n;

        if (fstat(fd, &st) < 0)
                return gv_err_errno(err, -errno, "stat '%s'", name);
        if (!S_ISREG(st.st_mode))
                return gv_err_set(err, -EINVAL, "'%s' is not a regular file", name);
        if ((uint64_t)st.st_size > max)
                return gv_err_set(err, -EFBIG, "'%s': %jd bytes, over the limit of %zu", name,
                                  (intmax_t)st.st_size, max);
        buf = xmalloc((size_t)st.st_size + 1);
        n = fileio_pread_head(fd, buf, (size_t)st.st_size);
        if (n < 0)
                return gv_err_errno(err, (int)n, "read '%s'", name);
        buf[n] = '\0';
        *ret_len = (size_t)n;
        *ret_buf = steal_pointer(&buf);
        return 0;
}

int fileio_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len,
                     struct gv_err *err)
{
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return gv_err_errno(err, -errno, "open '%s'", path);
        return fileio_read_fd(fd, path, max, ret_buf, ret_len, err);
}
