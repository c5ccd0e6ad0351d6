/* SPDX-License-Identifier: MIT */
/*
 * logfmt lines on stderr (see log.h). Each line is formatted into one buffer and written with a
 * single write(2), so lines from slot threads and librdkafka's threads never interleave.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "worker/util/log.h"

#define LOG_LINE_MAX 2048

static atomic_int log_level = LOG_LEVEL_INFO;

void log_set_level(enum log_level level)
{
        atomic_store(&log_level, (int)level);
}

bool log_enabled(int level)
{
        return level <= atomic_load(&log_level);
}

static const char *level_name(int level)
{
        if (level <= LOG_LEVEL_ERROR)
                return "error";
        if (level <= LOG_LEVEL_WARN)
                return "warn";
        if (level <= LOG_LEVEL_INFO)
                return "info";
        return "debug";
}

const char *log_quote(char *buf, unsigned size, const char *s)
{
        unsigned n = 0;

        if (size < 3) {
                if (size)
                        buf[0] = '\0';
                return buf;
        }
        buf[n++] = '"';
        for (; *s && n + 4 < size; s++) {
                unsigned char c = (unsigned char)*s;

                if (c == '"' || c == '\\') {
                        buf[n++] = '\\';
                        buf[n++] = (char)c;
                } else if (c == '\n') {
                        buf[n++] = '\\';
                        buf[n++] = 'n';
                } else if (c < 0x20 || c == 0x7f)
                        buf[n++] = '?';
                else
                        buf[n++] = (char)c;
        }
        buf[n++] = '"';
        buf[n] = '\0';
        return buf;
}

void log_line(int level, const char *msg, const char *fmt, ...)
{
        char line[LOG_LINE_MAX], quoted[LOG_LINE_MAX / 2];
        struct timespec ts;
        struct tm tm;
        va_list ap;
        size_t n;
        int k;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
        k = snprintf(line + n, sizeof(line) - n, ".%03ldZ level=%s msg=%s", ts.tv_nsec / 1000000,
                     level_name(level), log_quote(quoted, sizeof(quoted), msg));
        n += k > 0 ? (size_t)k : 0;
        if (fmt && *fmt && n < sizeof(line) - 2) {
                line[n++] = ' ';
                va_start(ap, fmt);
                k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
                va_end(ap);
                n += k > 0 ? (size_t)k : 0;
        }
        if (n > sizeof(line) - 2)
                n = sizeof(line) - 2;
        line[n++] = '\n';
        if (write(STDERR_FILENO, line, n) < 0)
                return; /* nowhere left to complain */
}
