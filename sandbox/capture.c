/* SPDX-License-Identifier: MIT */
/*
 * Output capture: a pipe per stream, drained into the caller's file with splice(2) (pipe pages
 * moved into the page cache of the file, no copy through user space), or with read/write where
 * the file refuses splice (opened O_APPEND, say).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/capture.h"

#define CHUNK (1 << 20)

bool capture_wanted(int fd)
{
        struct stat st;

        return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

int capture_open(struct capture *c, int dst, struct gv_err *err)
{
        int p[2];

        *c = (struct capture){.rd = -1, .wr = -1, .dst = dst, .splice = true, .sink = -1};
        /* the program's end stays blocking: programs expect writes to wait, not fail */
        if (pipe2(p, O_CLOEXEC) < 0)
                return gv_err_errno(err, -errno, "output pipe");
        if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
                int r = -errno;

                close(p[0]);
                close(p[1]);
                return gv_err_errno(err, r, "output pipe: O_NONBLOCK");
        }
        c->rd = p[0];
        c->wr = p[1];
        return 0;
}

/* One move of at most want bytes into to: > 0 moved, 0 end of file, -EAGAIN nothing there, or
 * -errno. */
static ssize_t move(struct capture *c, int to, size_t want)
{
        char buf[65536];
        ssize_t n, done = 0;

        if (c->splice) {
                n = splice(c->rd, NULL, to, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                if (n >= 0)
                        return n;
                if (errno != EINVAL)
                        return -errno;
                c->splice = false; /* dst refuses splice: copy from now on */
        }
        n = read(c->rd, buf, want < sizeof(buf) ? want : sizeof(buf));
        if (n <= 0)
                return n < 0 ? -errno : 0;
        while (done < n) {
                ssize_t w = write(to, buf + done, (size_t)(n - done));

                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                done += w;
        }
        return n;
}

int capture_drain(struct capture *c, uint64_t limit, struct gv_err *err)
{
        while (c->rd >= 0 && !c->over) {
                size_t want = CHUNK;
                int to = c->dst;
                ssize_t n;

                if (c->keep) { /* the head kept, the rest dropped, never over */
                        if (c->n < c->keep && c->keep - c->n < want)
                                want = (size_t)(c->keep - c->n);
                        if (c->n >= c->keep)
                                to = c->sink;
                } else if (limit && c->n >= limit) {
                        struct pollfd p = {.fd = c->rd, .events = POLLIN};
                        int pending = 0;

                        /* at the limit: one more byte waiting is one too many; no writer left
                         * and nothing waiting is the end */
                        if (ioctl(c->rd, FIONREAD, &pending) == 0 && pending > 0)
                                c->over = true;
                        else if (poll(&p, 1, 0) == 1 && (p.revents & POLLHUP))
                                break;
                        return 0;
                }
                if (!c->keep && limit && limit - c->n < want)
                        want = (size_t)(limit - c->n);
                n = move(c, to, want);
                if (n == -EINTR)
                        continue;
                if (n == -EAGAIN)
                        return 0;
                if (n < 0)
                        return gv_err_errno(err, (int)n, "write the captured output");
                if (n == 0)
                        break;
                c->n += (uint64_t)n;
        }
        if (c->rd >= 0 && !c->over) { /* end of file */
                close(c->rd);
                c->rd = -1;
        }
        return 0;
}

void capture_close(struct capture *c)
{
        if (c->rd >= 0)
                close(c->rd);
        if (c->wr >= 0)
                close(c->wr);
        c->rd = c->wr = -1;
}
