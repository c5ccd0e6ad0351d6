/* SPDX-License-Identifier: MIT */
/*
 * Running the real gavel program ($GAVEL) from a test: its stdin on a pipe the test writes, its
 * stdout and stderr into files of a private directory (so a chatty worker never blocks on a full
 * pipe), waiting with a deadline, and signals. Included by one test program at a time.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GPROC_ARGS_MAX 64
#define GPROC_LIVE_MAX 32

struct gproc {
        pid_t pid;     /* 0 once reaped */
        int in;        /* the child's stdin, or -1 */
        char out[256]; /* files holding its stdout and stderr */
        char err[256];
        int status; /* exit status, 128 + signal, or -1 while running */
};

/* Every child started, so a failed test (cmocka jumps out of it) leaves none running. */
static pid_t gproc_live[GPROC_LIVE_MAX];

/* Kills and reaps every child still running; for teardowns. */
static inline void gproc_kill_all(void)
{
        for (size_t i = 0; i < GPROC_LIVE_MAX; i++)
                if (gproc_live[i] > 0) {
                        kill(gproc_live[i], SIGKILL);
                        waitpid(gproc_live[i], NULL, 0);
                        gproc_live[i] = 0;
                }
}

static inline void gproc_track(pid_t pid, bool add)
{
        for (size_t i = 0; i < GPROC_LIVE_MAX; i++)
                if (add ? gproc_live[i] == 0 : gproc_live[i] == pid) {
                        gproc_live[i] = add ? pid : 0;
                        return;
                }
}

static inline int64_t gproc_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline const char *gproc_gavel(void)
{
        const char *p = getenv("GAVEL");

        return p && *p ? p : GAVEL_BUILD_DIR "/gavel";
}

/* A private temporary directory in dir (size >= 64). */
static inline void gproc_tmpdir(char *dir, size_t size)
{
        snprintf(dir, size, "/tmp/gavel-test-XXXXXX");
        if (!mkdtemp(dir))
                abort();
}

/*
 * Starts program path with argv (NULL-terminated, argv[0] included); its outputs go to
 * dir/<name>.out and dir/<name>.err.
 */
static inline void gproc_exec(struct gproc *p, const char *dir, const char *name, const char *path,
                              const char *const *argv)
{
        int in[2], out, err;

        snprintf(p->out, sizeof(p->out), "%s/%s.out", dir, name);
        snprintf(p->err, sizeof(p->err), "%s/%s.err", dir, name);
        if (pipe2(in, O_CLOEXEC) < 0)
                abort();
        out = open(p->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        err = open(p->err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out < 0 || err < 0)
                abort();
        p->pid = fork();
        if (p->pid < 0)
                abort();
        if (p->pid == 0) {
                if (dup2(in[0], 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
                        _exit(126);
                execv(path, (char *const *)argv);
                _exit(127);
        }
        close(in[0]);
        close(out);
        close(err);
        p->in = in[1];
        p->status = -1;
        gproc_track(p->pid, true);
}

/* Starts gavel with args (NULL-terminated, without argv[0]), as gproc_exec. */
static inline void gproc_start(struct gproc *p, const char *dir, const char *name,
                               const char *const *args)
{
        const char *argv[GPROC_ARGS_MAX + 2] = {"gavel"};
        size_t n = 1;

        for (; args[n - 1]; n++) {
                if (n > GPROC_ARGS_MAX)
                        abort();
                argv[n] = args[n - 1];
        }
        argv[n] = NULL;
        gproc_exec(p, dir, name, gproc_gavel(), argv);
}

/* The stdout or stderr file of the child started as name in dir (a static buffer). */
static inline const char *gproc_path(const char *dir, const char *name, const char *ext)
{
        static char path[256];

        snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
        return path;
}

#define GPROC_OUT(dir, name) gproc_path(dir, name, "out")
#define GPROC_ERR(dir, name) gproc_path(dir, name, "err")

/* The whole of a file, NUL-terminated (malloc'ed; "" when missing). */
static inline char *gproc_slurp(const char *path)
{
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t len = 0, cap = 0, n;

        buf = malloc(1);
        if (!buf)
                abort();
        buf[0] = '\0';
        if (!f)
                return buf;
        do {
                if (cap - len < 4096) {
                        cap = cap ? 2 * cap : 8192;
                        buf = realloc(buf, cap + 1);
                        if (!buf)
                                abort();
                }
                n = fread(buf + len, 1, cap - len, f);
                len += n;
        } while (n > 0);
        fclose(f);
        buf[len] = '\0';
        return buf;
}

/* Reaps the child if it has ended (flags 0: waits for it). */
static inline bool gproc_reap(struct gproc *p, int flags)
{
        int status;

        if (p->pid <= 0)
                return true;
        if (waitpid(p->pid, &status, flags) != p->pid)
                return false;
        gproc_track(p->pid, false);
        p->pid = 0;
        p->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (p->in >= 0)
                close(p->in);
        p->in = -1;
        return true;
}

/* Waits up to timeout_ms for the child to end; kills it (and reports -1) after that. */
static inline int gproc_wait(struct gproc *p, int64_t timeout_ms)
{
        int64_t deadline = gproc_now_ms() + timeout_ms;

        while (!gproc_reap(p, WNOHANG)) {
                if (gproc_now_ms() >= deadline) {
                        kill(p->pid, SIGKILL);
                        gproc_reap(p, 0);
                        return -1;
                }
                usleep(20000);
        }
        return p->status;
}

static inline void gproc_signal(struct gproc *p, int sig)
{
        if (p->pid > 0)
                kill(p->pid, sig);
}

/* Runs gavel to its end (at most timeout_ms); returns its status. */
static inline int gproc_run(const char *dir, const char *name, const char *const *args,
                            int64_t timeout_ms)
{
        struct gproc p;

        gproc_start(&p, dir, name, args);
        close(p.in);
        p.in = -1;
        return gproc_wait(&p, timeout_ms);
}

/* Waits until the child's stdout holds at least n lines; returns its text (malloc'ed) or NULL. */
static inline char *gproc_wait_lines(struct gproc *p, int n, int64_t timeout_ms)
{
        int64_t deadline = gproc_now_ms() + timeout_ms;

        for (;;) {
                char *text = gproc_slurp(p->out);
                int lines = 0;

                for (char *c = text; *c; c++)
                        lines += *c == '\n';
                if (lines >= n)
                        return text;
                free(text);
                if (gproc_now_ms() >= deadline || gproc_reap(p, WNOHANG))
                        return NULL;
                usleep(20000);
        }
}

/* Starts `gavel broker` with extra args; returns its bootstrap address (malloc'ed). */
static inline char *gproc_broker(struct gproc *p, const char *dir, const char *const *extra)
{
        const char *args[GPROC_ARGS_MAX] = {"broker"};
        size_t n = 1;
        char *text, *nl;

        for (; extra && extra[n - 1]; n++)
                args[n] = extra[n - 1];
        args[n] = NULL;
        gproc_start(p, dir, "broker", args);
        text = gproc_wait_lines(p, 1, 30000);
        if (!text) {
                char *err = gproc_slurp(p->err);

                fprintf(stderr, "gavel broker did not start: %s\n", err);
                free(err);
                abort();
        }
        nl = strchr(text, '\n');
        *nl = '\0';
        return text;
}

/* Writes text to dir/name (dir NULL: name is the path). */
/* Writes len bytes of data (NULs included) as the file dir/name. */
static inline void gproc_write_bytes(const char *dir, const char *name, const void *data,
                                     size_t len)
{
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
        f = fopen(path, "w");
        if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
                abort();
}

static inline void gproc_write(const char *dir, const char *name, const char *text)
{
        gproc_write_bytes(dir, name, text, strlen(text));
}

/* Removes dir and the files in it (one level). */
static inline void gproc_rmdir(const char *dir)
{
        char cmd[512];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", dir);
}
