/* SPDX-License-Identifier: MIT */
/*
 * Output capture for a run (host side, internal). A program's stdout and stderr are pipes; the
 * host moves what comes out of them into the caller's files with splice(2). So the pages of the
 * output are allocated, and charged to a memory cgroup, by the host: a program's output does not
 * count toward its memory limit (a memory file written by the program itself would, as shmem
 * charged to the writer), and the output limit is the host's to enforce, byte-exact.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "schema/err.h"

struct capture {
        int rd;        /* read end (non-blocking), or -1 when closed or not capturing */
        int wr;        /* write end, for the program, until handed over; or -1 */
        int dst;       /* the caller's file (borrowed), written at its file position */
        uint64_t n;    /* bytes moved so far */
        bool over;     /* more than the limit was written: the run is to be stopped */
        bool splice;   /* false once dst refused splice: a read/write loop instead */
        uint64_t keep; /* > 0: keep this many bytes in dst, move the rest to sink; no limit */
        int sink;      /* with keep: where the rest goes (/dev/null; borrowed) */
};

/* Whether fd is worth capturing through a pipe: a regular file (a memory file, a file). */
bool capture_wanted(int fd);

/* Makes the pipe for dst. Returns 0 or -errno (err set). */
int capture_open(struct capture *c, int dst, struct gv_err *err);

/*
 * Moves what the pipe holds into dst, at most limit bytes in all (0: no limit): more than that
 * sets c->over and is left in the pipe. With c->keep, the first keep bytes go to dst and the rest
 * to c->sink, and limit does not apply. Closes the read end at end of file. Returns 0, or -errno
 * when dst cannot be written (-ENOSPC, -EFBIG, ...).
 */
int capture_drain(struct capture *c, uint64_t limit, struct gv_err *err);

/* Closes both ends (c->dst is the caller's). */
void capture_close(struct capture *c);
