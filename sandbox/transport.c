// SPDX-License-Identifier: MIT
/*
 * SOCK_SEQPACKET transport with SCM_RIGHTS and SCM_CREDENTIALS. Both ends treat the other as
 * hostile: truncated packets and truncated control data are errors, and stray descriptors are
 * closed rather than leaked.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox/transport.h"
#include "schema/proto.h"
#include "schema/schema.h"

#define CMSG_ROOM (CMSG_SPACE(sizeof(int) * PROTO_FDS_MAX) + CMSG_SPACE(sizeof(struct ucred)))

void sandbox__close_fds(int *fds, size_t nfds)
{
        for (size_t i = 0; i < nfds; i++)
                if (fds[i] >= 0) {
                        close(fds[i]);
                        fds[i] = -1;
                }
}

int sandbox__send(int sock, const void *buf, size_t len, const int *fds, size_t nfds, pid_t pid)
{
        union {
                char buf[CMSG_ROOM];
                struct cmsghdr align;
        } control;
        struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        struct cmsghdr *cmsg;
        size_t clen = 0;
        ssize_t n;

        if (nfds > PROTO_FDS_MAX)
                return -E2BIG;
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        cmsg = CMSG_FIRSTHDR(&msg);
        if (nfds > 0) {
                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_RIGHTS;
                cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
                memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
                clen += CMSG_SPACE(sizeof(int) * nfds);
                cmsg = CMSG_NXTHDR(&msg, cmsg);
        }
        if (pid > 0) {
                struct ucred cred = {.pid = pid, .uid = getuid(), .gid = getgid()};

                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_CREDENTIALS;
                cmsg->cmsg_len = CMSG_LEN(sizeof(cred));
                memcpy(CMSG_DATA(cmsg), &cred, sizeof(cred));
                clen += CMSG_SPACE(sizeof(cred));
        }
        msg.msg_controllen = clen;
        if (clen == 0)
                msg.msg_control = NULL;
        do
                n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return (size_t)n == len ? 0 : -EPIPE;
}

ssize_t sandbox__recv(int sock, void *buf, size_t size, int *fds, size_t *nfds, pid_t *ret_pid)
{
        union {
                char buf[CMSG_ROOM];
                struct cmsghdr align;
        } control;
        struct iovec iov = {.iov_base = buf, .iov_len = size};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf)};
        size_t room = nfds ? *nfds : 0, got = 0;
        pid_t pid = 0;
        bool overflow = false;
        ssize_t n;

        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != SOL_SOCKET)
                        continue;
                if (c->cmsg_type == SCM_RIGHTS) {
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

                        for (size_t i = 0; i < k; i++) {
                                int fd;

                                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                                if (got < room)
                                        fds[got++] = fd;
                                else {
                                        close(fd);
                                        overflow = true;
                                }
                        }
                } else if (c->cmsg_type == SCM_CREDENTIALS &&
                           c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
                        struct ucred cred;

                        memcpy(&cred, CMSG_DATA(c), sizeof(cred));
                        pid = cred.pid;
                }
        }
        if (overflow || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                sandbox__close_fds(fds, got);
                return msg.msg_flags & MSG_TRUNC ? -EMSGSIZE : -ETOOMANYREFS;
        }
        if (nfds)
                *nfds = got;
        if (ret_pid)
                *ret_pid = pid;
        return n;
}
