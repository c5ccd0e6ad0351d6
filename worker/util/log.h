/* SPDX-License-Identifier: MIT */
/*
 * The worker's log: one logfmt line per event on stderr, which journald keeps.
 *   ts=2026-11-23T12:01:30.123Z level=info msg="assigned partitions" parts="0 1"
 * Library modules do not log; their messages reach here through callbacks (librdkafka's too).
 */
#pragma once

#include <stdbool.h>

enum log_level {
        LOG_LEVEL_ERROR = 3, /* syslog numbering, as librdkafka's log callback uses */
        LOG_LEVEL_WARN = 4,
        LOG_LEVEL_INFO = 6,
        LOG_LEVEL_DEBUG = 7,
};

/* Lines above level are dropped (default info). */
void log_set_level(enum log_level level);
bool log_enabled(int level);

/*
 * Writes one line: level, msg (quoted and escaped), then the logfmt pairs of fmt as given
 * (values the caller quotes with %s need log_quote). Thread-safe: one write(2) per line.
 */
__attribute__((format(printf, 3, 4))) void log_line(int level, const char *msg, const char *fmt,
                                                    ...);

/* s quoted for a logfmt value ("a b" -> "\"a b\""), into buf of size; returns buf. */
const char *log_quote(char *buf, unsigned size, const char *s);

/* The level checks come first so that arguments are not formatted for dropped lines. */
#define log_error(msg, ...) log_at(LOG_LEVEL_ERROR, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_at(LOG_LEVEL_WARN, msg, __VA_ARGS__)
#define log_info(msg, ...)  log_at(LOG_LEVEL_INFO, msg, __VA_ARGS__)
#define log_debug(msg, ...) log_at(LOG_LEVEL_DEBUG, msg, __VA_ARGS__)
#define log_at(level, msg, ...)                            \
        do {                                               \
                if (log_enabled(level))                    \
                        log_line(level, msg, __VA_ARGS__); \
        } while (0)
