/* SPDX-License-Identifier: MIT */
/*
 * The container socket: one msgpack message per SOCK_SEQPACKET packet, with descriptors
 * (SCM_RIGHTS) and a process id (SCM_CREDENTIALS) riding along. Shared by the host and the
 * container init; no allocation, so both ends can use it anywhere.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/*
 * Sends buf[0..len) with nfds descriptors and, if pid > 0, credentials naming pid (the caller
 * needs CAP_SYS_ADMIN over its pid namespace to name another process). Returns 0 or -errno.
 */
int sandbox__send(int sock, const void *buf, size_t len, const int *fds, size_t nfds, pid_t pid);

/*
 * Receives one packet into buf[0..size). Descriptors arrive O_CLOEXEC into fds[0..*nfds) (in:
 * room, out: count); the sender's pid, translated into our namespace, into *ret_pid when
 * credentials came (else 0). A packet or control data that does not fit is an error and every
 * descriptor it carried is closed: -EMSGSIZE for a packet longer than size, -ETOOMANYREFS for
 * more descriptors than room. Returns the length, 0 on end of file, or -errno.
 */
ssize_t sandbox__recv(int sock, void *buf, size_t size, int *fds, size_t *nfds, pid_t *ret_pid);

void sandbox__close_fds(int *fds, size_t nfds);
