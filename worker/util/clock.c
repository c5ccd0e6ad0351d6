/* SPDX-License-Identifier: MIT */
/*
 * The wall and monotonic clocks in milliseconds, and monotonic deadlines (clock.h).
 */
#include "worker/util/clock.h"

static int64_t ms_of(clockid_t id)
{
        struct timespec ts;

        clock_gettime(id, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_wall_ms(void)
{
        return ms_of(CLOCK_REALTIME);
}

int64_t clock_mono_ms(void)
{
        return ms_of(CLOCK_MONOTONIC);
}

void clock_deadline(struct timespec *ts, unsigned ms)
{
        clock_gettime(CLOCK_MONOTONIC, ts);
        ts->tv_sec += ms / 1000;
        ts->tv_nsec += (long)(ms % 1000) * 1000000;
        if (ts->tv_nsec >= 1000000000) {
                ts->tv_sec++;
                ts->tv_nsec -= 1000000000;
        }
}

void clock_cond_init(pthread_cond_t *cond)
{
        pthread_condattr_t attr;

        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(cond, &attr);
        pthread_condattr_destroy(&attr);
}
