/* SPDX-License-Identifier: MIT */
/*
 * What audit.c (opening, schema, the writer) and audit_read.c (iteration, stats, show, prune)
 * share: the handle, the connection set-up and sqlite's error codes turned into ours.
 */
#pragma once

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "worker/audit/audit.h"

struct audit__op;

#define AUDIT__STMTS 12 /* the writer's prepared statements */

struct audit {
        char *path;
        char *worker_id;        /* or NULL */
        struct audit_conf conf; /* defaults filled in; path and worker_id point at ours */
        int fd;                 /* the file, kept open: the writer's flock lives on it */
        sqlite3 *db;            /* the writer thread's connection, or a reader's own */
        sqlite3_stmt *stmts[AUDIT__STMTS]; /* the writer's, prepared once */
        bool sync_full;                    /* the writer's PRAGMA synchronous is FULL */
        pthread_mutex_t lock;              /* everything below */
        pthread_cond_t wake;               /* writer: records arrived, or stop */
        pthread_cond_t room;               /* producers: the queue has room again */
        pthread_cond_t done;               /* sync callers: a batch was written */
        struct audit__op *head;            /* queue, oldest first */
        struct audit__op **tail;           /* where the next record goes */
        unsigned queued;                   /* records in the queue */
        size_t queued_bytes;               /* their size */
        bool stopping;                     /* audit_free: write what is queued, then exit */
        bool thread_started;
        pthread_t thread;
        int64_t next_job, next_attempt, next_verdict; /* ids handed out before the rows exist */
        atomic_bool healthy;
        struct gv_err last_err; /* of the last failed write */
};

/* Turns rc (an sqlite result) into -errno and sets err to "<what>: <sqlite's message>". */
__attribute__((format(printf, 4, 5))) int audit__fail(sqlite3 *db, int rc, struct gv_err *err,
                                                      const char *fmt, ...);

/* A new connection to audit->path for reading or maintenance (busy timeout, foreign keys). */
int audit__connect(struct audit *audit, sqlite3 **ret_db, struct gv_err *err);

/* Prepares sql on db; err names the statement's purpose on failure. */
int audit__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret_stmt, struct gv_err *err);

/* Runs sql (no rows expected). */
int audit__exec(sqlite3 *db, const char *sql, struct gv_err *err);
