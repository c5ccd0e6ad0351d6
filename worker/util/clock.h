/* SPDX-License-Identifier: MIT */
/*
 * The clocks worker/ uses: the wall clock for timestamps people read (verdicts, the audit log),
 * the monotonic clock for durations and deadlines, and condition variables whose timed waits
 * run on that same monotonic clock, so a clock step never cuts a wait short or stretches it.
 */
#pragma once

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* CLOCK_REALTIME in milliseconds since the epoch. */
int64_t clock_wall_ms(void);
/* CLOCK_MONOTONIC in milliseconds: for durations and deadlines only. */
int64_t clock_mono_ms(void);
/* The absolute CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait on a condition
 * variable made by clock_cond_init. */
void clock_deadline(struct timespec *ts, unsigned ms);
/* Initialises cond with CLOCK_MONOTONIC for its timed waits. */
void clock_cond_init(pthread_cond_t *cond);
