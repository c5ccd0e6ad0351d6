/* SPDX-License-Identifier: MIT */
/*
 * cgroup v1, hybrid and v2 behind cgroup-internal.h. Detection parses mountinfo and
 * /proc/self/cgroup once; each container then owns one long-lived set of leaf cgroups whose
 * files stay open, so that a run costs a few pwrite/pread calls: begin resets the peak and takes
 * baselines, attach writes cgroup.procs, the cpu poll is one pread.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/cgroup-internal.h"
#include "schema/cleanup.h"

#define HIER_MAX        5         /* memory, pids, cpuacct, freezer, unified: one base each */
#define MOUNTINFO_MAX   (8 << 20) /* bytes; hosts with many mounts reach a few hundred KiB */
#define SELF_CGROUP_MAX (64 << 10)
#define EMPTY_WAIT_MS   2000 /* free: how long killed tasks may take to leave */
#define RMDIR_WAIT_MS   1000 /* rmdir: how long EBUSY may last */
#define FREEZE_WAIT_MS  1000 /* v1 freezer: FREEZING to FROZEN */
#define KILL_ROUNDS     10
/* begin: above this much memory still charged from earlier runs, the set is made anew. A
 * compiler leaves the page cache of what it read first charged here (rustc: 245 MiB, javac:
 * 20 MiB, measured), and a run's peak is counted from the usage at begin. */
#define STALE_MAX_BYTES (1 << 20)
#define WORKER_LEAF     "worker"

enum kill_method {
        KILL_CGROUP,  /* v2 cgroup.kill (5.14) */
        KILL_FREEZER, /* v1 freezer: FROZEN, SIGKILL each, THAWED */
        KILL_SIGNAL,  /* SIGKILL each pid in cgroup.procs until none is left */
};

struct hier {
        char *mount; /* mount point: co-mounted v1 controllers share one hierarchy */
        char *path;  /* the base directory */
        int dirfd;   /* O_PATH of path */
        bool v2;
        bool made; /* path exists through us (made or reused): sys_free removes it */
};

struct cgroup_sys {
        enum cgroup_mode mode;
        struct hier h[HIER_MAX];
        int nh;
        int mem, pids, cpu, freezer, v2; /* index into h, or -1 */
        int tasks;                       /* where cgroup.procs is counted: v2, else memory */
        enum kill_method kill;
        char *parent;         /* v2: the directory the base is in */
        char *worker;         /* v2: "<base>/worker" while this process lives there */
        char enabled[32];     /* v2: "+memory +pids" as this process enabled them in parent */
        atomic_uint n_groups; /* live sets; sets may be made from several threads */
};

/* One kept-open file of a set. */
struct cgfile {
        int fd;           /* -1 when the kernel lacks the file */
        int h;            /* hierarchy index, for messages */
        const char *name; /* static */
};

enum {
        F_MEM_MAX,     /* memory.max | memory.limit_in_bytes */
        F_MEM_SWAP,    /* memory.swap.max | memory.memsw.limit_in_bytes */
        F_MEM_PEAK,    /* memory.peak | memory.max_usage_in_bytes */
        F_MEM_USAGE,   /* memory.current | memory.usage_in_bytes */
        F_MEM_EVENTS,  /* memory.events | memory.oom_control: the oom_kill line */
        F_PIDS_MAX,    /* pids.max */
        F_PIDS_EVENTS, /* pids.events: the max line */
        F_PIDS_PEAK,   /* pids.peak */
        F_CPU,         /* cpu.stat | cpuacct.usage */
        F_CPU_USER,    /* cpuacct.stat (v1 only): the user line, in USER_HZ ticks */
        F_KILL,        /* cgroup.kill */
        F_FREEZER,     /* freezer.state (v1) */
        F_PROCS,       /* cgroup.procs of hierarchy 0, then 1, ... (write only) */
        _F_MAX = F_PROCS + HIER_MAX,
};

struct cgroup {
        struct cgroup_sys *sys;
        char *name;
        char *path[HIER_MAX]; /* the leaf directories */
        int dirfd[HIER_MAX];  /* O_PATH of path */
        struct cgfile f[_F_MAX];
        bool peak_resettable; /* v1 always; v2 from 6.12, per open file */
        bool mem_known, pids_known;
        uint64_t memory_bytes, pids_max; /* as last written */
        uint64_t base_cpu, base_user, base_oom, base_pids_max;
        unsigned runs; /* begin calls since the directories were made */
};

static const char *const mode_names[_CGROUP_MODE_MAX] = {
        [CGROUP_MODE_V1] = "v1",
        [CGROUP_MODE_HYBRID] = "hybrid",
        [CGROUP_MODE_V2] = "v2",
};

const char *sandbox__cgroup_mode_name(enum cgroup_mode mode)
{
        if (mode < 0 || mode >= _CGROUP_MODE_MAX)
                return NULL;
        return mode_names[mode];
}

enum cgroup_mode sandbox__cgroup_sys_mode(const struct cgroup_sys *sys)
{
        return sys->mode;
}

/* ---- small helpers ----------------------------------------------------------------------- */

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static char *path_join(const char *dir, const char *name)
{
        size_t a = strlen(dir), b = strlen(name);
        char *p = xmalloc(a + 1 + b + 1);

        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
        return p;
}

static bool valid_name(const char *name)
{
        size_t n = name ? strlen(name) : 0;

        return n > 0 && n < NAME_MAX && !strchr(name, '/') && !strchr(name, '\n') &&
               strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* Strict decimal: digits, then end of string or whitespace. */
static int parse_u64(const char *s, uint64_t *ret)
{
        uint64_t v = 0;
        const char *p = s;

        if (*p < '0' || *p > '9')
                return -EBADMSG;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t)(*p - '0');
        }
        if (*p && *p != '\n' && *p != ' ' && *p != '\t')
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* Whether the comma-separated list (not NUL-terminated) has the exact word. */
static bool list_has(const char *list, size_t len, const char *word, char sep)
{
        size_t w = strlen(word);
        const char *p = list, *end = list + len;

        while (p < end) {
                const char *q = memchr(p, sep, (size_t)(end - p));
                size_t n = q ? (size_t)(q - p) : (size_t)(end - p);

                if (n == w && memcmp(p, word, w) == 0)
                        return true;
                if (!q)
                        break;
                p = q + 1;
        }
        return false;
}

/* Reads a whole (proc) file into a NUL-terminated heap buffer of at most max bytes. */
static int read_text(const char *path, size_t max, char **ret, struct gv_err *err)
{
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        cleanup_free char *buf = NULL;
        size_t len = 0, size = 16384;

        if (fd < 0)
                return gv_err_errno(err, -errno, "open '%s'", path);
        buf = xmalloc(size);
        for (;;) {
                ssize_t n;

                if (len + 1 >= size) {
                        char *p;

                        if (size >= max)
                                return gv_err_set(err, -EFBIG, "'%s': over %zu bytes", path, max);
                        size *= 2;
                        p = realloc(buf, size);
                        if (!p)
                                return gv_err_set(err, -ENOMEM, "'%s': out of memory", path);
                        buf = p;
                }
                n = read(fd, buf + len, size - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return gv_err_errno(err, -errno, "read '%s'", path);
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        *ret = steal_pointer(&buf);
        return 0;
}

/* Reads a small cgroup file relative to dirfd (AT_FDCWD for an absolute path), without the
 * trailing newline. Returns the length or -errno. */
static int read_small(int dirfd, const char *name, char *buf, size_t size)
{
        cleanup_fd int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        do
                n = read(fd, buf, size - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                n--;
        buf[n] = '\0';
        return (int)n;
}

/* Writes value in one write(2) call, as cgroup files require. Returns 0 or -errno. */
static int write_small(int dirfd, const char *name, const char *value)
{
        cleanup_fd int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
        size_t len = strlen(value);
        ssize_t n;

        if (fd < 0)
                return -errno;
        do
                n = write(fd, value, len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return (size_t)n == len ? 0 : -EIO;
}

/* Removes an empty cgroup directory; EBUSY lasts a moment after its last task left. */
static int rmdir_wait(int dirfd, const char *name)
{
        uint64_t deadline = now_ms() + RMDIR_WAIT_MS;

        for (;;) {
                if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY && errno != EINTR)
                        return -errno;
                if (now_ms() >= deadline)
                        return -EBUSY;
                sleep_ms(2);
        }
}

/* ---- pure parsing ------------------------------------------------------------------------ */

struct span {
        const char *p;
        size_t n;
};

static bool span_is(struct span s, const char *str)
{
        return s.n == strlen(str) && memcmp(s.p, str, s.n) == 0;
}

static bool is_odigit(char c)
{
        return c >= '0' && c <= '7';
}

/* Copies a mountinfo field, turning the kernel's octal escapes (\040 ...) back into bytes. */
static int copy_unescaped(struct span s, char *buf, size_t size)
{
        size_t o = 0;

        for (size_t i = 0; i < s.n; i++) {
                char c = s.p[i];

                if (c == '\\' && i + 3 < s.n && is_odigit(s.p[i + 1]) && is_odigit(s.p[i + 2]) &&
                    is_odigit(s.p[i + 3])) {
                        c = (char)((s.p[i + 1] - '0') * 64 + (s.p[i + 2] - '0') * 8 +
                                   (s.p[i + 3] - '0'));
                        i += 3;
                }
                if (o + 1 >= size)
                        return -ENAMETOOLONG;
                buf[o++] = c;
        }
        buf[o] = '\0';
        return 0;
}

static int set_mount(struct cgroup_mount *mnt, struct span root, struct span path)
{
        int r;

        if (mnt->path[0])
                return 0; /* the first mount wins */
        r = copy_unescaped(root, mnt->root, sizeof(mnt->root));
        if (r < 0)
                return r;
        r = copy_unescaped(path, mnt->path, sizeof(mnt->path));
        if (r < 0)
                mnt->path[0] = '\0';
        return r;
}

int sandbox__cgroup_parse_mountinfo(const char *text, struct cgroup_mounts *ret, struct gv_err *err)
{
        cleanup_free struct cgroup_mounts *m = xcalloc(1, sizeof(*m));
        static const char *const ctrls[] = {"memory", "pids", "cpuacct", "freezer"};
        const char *line, *next;
        unsigned lineno = 0;

        for (line = text; *line; line = next) {
                const char *eol = strchrnul(line, '\n');
                struct span f[64], super;
                size_t nf = 0;
                int sep = -1, r = 0;

                next = *eol ? eol + 1 : eol;
                lineno++;
                if (eol == line)
                        continue;
                for (const char *p = line; p <= eol;) {
                        const char *q = memchr(p, ' ', (size_t)(eol - p));

                        if (!q)
                                q = eol;
                        if (nf == ARRAY_SIZE(f))
                                return gv_err_set(err, -EBADMSG,
                                                  "mountinfo line %u: too many fields", lineno);
                        f[nf++] = (struct span){p, (size_t)(q - p)};
                        if (f[nf - 1].n == 0)
                                return gv_err_set(err, -EBADMSG, "mountinfo line %u: empty field",
                                                  lineno);
                        p = q + 1;
                }
                for (size_t i = 6; i < nf; i++)
                        if (span_is(f[i], "-")) {
                                sep = (int)i;
                                break;
                        }
                if (sep < 0 || nf - (size_t)sep != 4 || f[0].p[0] < '0' || f[0].p[0] > '9' ||
                    !memchr(f[2].p, ':', f[2].n) || f[4].p[0] != '/')
                        return gv_err_set(err, -EBADMSG,
                                          "mountinfo line %u: expected \"ID PARENT MAJ:MIN ROOT "
                                          "MOUNT OPTIONS [TAGS] - TYPE SOURCE SUPER\"",
                                          lineno);
                super = f[sep + 3];
                if (span_is(f[sep + 1], "cgroup2")) {
                        r = set_mount(&m->v2, f[3], f[4]);
                } else if (span_is(f[sep + 1], "cgroup")) {
                        struct cgroup_mount *dst[] = {&m->memory, &m->pids, &m->cpuacct,
                                                      &m->freezer};

                        for (size_t i = 0; i < ARRAY_SIZE(ctrls) && r == 0; i++)
                                if (list_has(super.p, super.n, ctrls[i], ','))
                                        r = set_mount(dst[i], f[3], f[4]);
                }
                if (r < 0)
                        return gv_err_set(err, r, "mountinfo line %u: path too long", lineno);
        }
        *ret = *m;
        return 0;
}

int sandbox__cgroup_parse_self(const char *text, const char *ctrl, char *buf, size_t size)
{
        const char *line, *next;

        for (line = text; *line; line = next) {
                const char *eol = strchrnul(line, '\n'), *c1, *c2, *path;
                size_t len = (size_t)(eol - line), n;
                bool match;

                next = *eol ? eol + 1 : eol;
                if (len == 0)
                        continue;
                c1 = memchr(line, ':', len);
                c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
                if (!c2 || c1 == line || c2 + 1 == eol || c2[1] != '/')
                        return -EBADMSG;
                for (const char *p = line; p < c1; p++)
                        if (*p < '0' || *p > '9')
                                return -EBADMSG;
                if (!ctrl[0])
                        match = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
                else
                        match = list_has(c1 + 1, (size_t)(c2 - c1 - 1), ctrl, ',');
                if (!match)
                        continue;
                path = c2 + 1;
                n = (size_t)(eol - path);
                if (n + 1 > size)
                        return -ENAMETOOLONG;
                memcpy(buf, path, n);
                buf[n] = '\0';
                return 0;
        }
        return -ENOENT;
}

int sandbox__cgroup_parse_keyed(const char *text, const char *key, uint64_t *ret)
{
        size_t k = strlen(key);
        const char *line, *next;

        for (line = text; *line; line = next) {
                const char *eol = strchrnul(line, '\n');

                next = *eol ? eol + 1 : eol;
                if ((size_t)(eol - line) > k && memcmp(line, key, k) == 0 && line[k] == ' ')
                        return parse_u64(line + k + 1, ret) < 0 ? -EBADMSG : 0;
        }
        return -ENOENT;
}

/* Appends word to a ", "-separated list in buf. */
static void list_add(char *buf, size_t size, const char *word)
{
        size_t n = strlen(buf);

        snprintf(buf + n, size - n, "%s%s", n ? ", " : "", word);
}

int sandbox__cgroup_detect_mode(const struct cgroup_mounts *mounts, const char *forced,
                                enum cgroup_mode *ret_mode, struct gv_err *err)
{
        bool v2 = mounts->v2.path[0], mem = mounts->memory.path[0], pids = mounts->pids.path[0];
        bool cpu = mounts->cpuacct.path[0];
        enum cgroup_mode mode = _CGROUP_MODE_INVALID;
        char missing[64] = "";

        if (forced && forced[0]) {
                for (int i = 0; i < _CGROUP_MODE_MAX; i++)
                        if (strcmp(forced, mode_names[i]) == 0)
                                mode = (enum cgroup_mode)i;
                if (mode < 0)
                        return gv_err_set(err, -EINVAL,
                                          "GAVEL_CGROUP_MODE=\"%s\": expected v1, hybrid or v2",
                                          forced);
        } else if (v2 && (mem || pids)) {
                mode = CGROUP_MODE_HYBRID;
        } else if (v2) {
                mode = CGROUP_MODE_V2;
        } else if (mem || pids || cpu || mounts->freezer.path[0]) {
                mode = CGROUP_MODE_V1;
        } else {
                return gv_err_set(err, -ENOENT,
                                  "no cgroup hierarchy is mounted (mountinfo has no "
                                  "cgroup2 and no v1 memory, pids or cpuacct)");
        }

        switch (mode) {
        case CGROUP_MODE_V1:
        case CGROUP_MODE_HYBRID:
                if (mode == CGROUP_MODE_HYBRID && !v2)
                        list_add(missing, sizeof(missing), "cgroup2");
                if (!mem)
                        list_add(missing, sizeof(missing), "memory");
                if (!pids)
                        list_add(missing, sizeof(missing), "pids");
                if (mode == CGROUP_MODE_V1 && !cpu)
                        list_add(missing, sizeof(missing), "cpuacct");
                break;
        case CGROUP_MODE_V2:
                if (!v2)
                        list_add(missing, sizeof(missing), "cgroup2");
                break;
        case _CGROUP_MODE_MAX:
        case _CGROUP_MODE_INVALID:
                assert(!"unreachable");
                break;
        }
        if (missing[0])
                return gv_err_set(err, -EOPNOTSUPP, "cgroup %s mode: no %s mount%s",
                                  mode_names[mode], missing, mode == CGROUP_MODE_V2 ? "" : " (v1)");
        *ret_mode = mode;
        return 0;
}

/* ---- the base cgroups -------------------------------------------------------------------- */

/* "<mount point><own cgroup of ctrl, relative to the mounted root>" */
static int own_dir(const struct cgroup_mount *mnt, const char *self_text, const char *ctrl,
                   char **ret, struct gv_err *err)
{
        char self[PATH_MAX];
        const char *rel = self;
        size_t n;
        int r;

        r = sandbox__cgroup_parse_self(self_text, ctrl, self, sizeof(self));
        if (r < 0)
                return gv_err_errno(err, r, "/proc/self/cgroup: line of %s", ctrl[0] ? ctrl : "v2");
        n = strlen(mnt->root);
        if (strcmp(mnt->root, "/") != 0) {
                if (strncmp(self, mnt->root, n) != 0 || (self[n] && self[n] != '/'))
                        return gv_err_set(err, -ENOENT,
                                          "own cgroup '%s' is outside the tree mounted at '%s'",
                                          self, mnt->path);
                rel = self + n;
        }
        if (strcmp(rel, "/") == 0)
                rel = "";
        if (strlen(mnt->path) + strlen(rel) + NAME_MAX + 2 >= PATH_MAX)
                return gv_err_set(err, -ENAMETOOLONG, "cgroup path '%s%s' too long", mnt->path,
                                  rel);
        n = strlen(mnt->path) + strlen(rel) + 1;
        *ret = xmalloc(n);
        snprintf(*ret, n, "%s%s", mnt->path, rel);
        return 0;
}

/* Removes the cgroup directory name under dirfd and the cgroups below it (they are only
 * directories: the files in them are the kernel's). Best effort: a cgroup that still holds tasks
 * stays. */
static void remove_cgroup_tree(int dirfd, const char *name, int depth)
{
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;

        if (!d) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        while (depth < 4 && (de = readdir(d)))
                if (de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        remove_cgroup_tree(fd, de->d_name, depth + 1);
        closedir(d);
        (void)unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* A worker killed with SIGKILL leaves its base behind (its containers died with it, by
 * PDEATHSIG). The next start in the same parent removes every sibling "<prefix>-<pid>[-...]"
 * whose process is gone, so dead workers' cgroups do not pile up. */
static void sweep_stale(const char *parent, const char *name)
{
        const char *dash = strchr(name, '-');
        struct dirent *de;
        size_t plen;
        DIR *d;

        if (!dash)
                return;
        plen = (size_t)(dash - name) + 1;
        d = opendir(parent);
        if (!d)
                return;
        while ((de = readdir(d))) {
                const char *num = de->d_name + plen;
                char *end;
                long pid;

                if (de->d_type != DT_DIR || strncmp(de->d_name, name, plen) != 0 ||
                    strcmp(de->d_name, name) == 0 || *num < '1' || *num > '9')
                        continue;
                errno = 0;
                pid = strtol(num, &end, 10);
                if (errno || (*end && *end != '-') || pid > INT_MAX)
                        continue;
                if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
                        continue; /* alive (or not ours to judge) */
                remove_cgroup_tree(dirfd(d), de->d_name, 0);
        }
        closedir(d);
}

/* Makes (or reuses) the base "<parent>/<name>" in the hierarchy mounted at mount; co-mounted
 * controllers share one. Returns its index in sys->h. */
static int add_hier(struct cgroup_sys *sys, const char *mount, const char *parent, bool v2,
                    const char *name, struct gv_err *err)
{
        struct hier *h;

        for (int i = 0; i < sys->nh; i++)
                if (strcmp(sys->h[i].mount, mount) == 0)
                        return i;
        assert(sys->nh < HIER_MAX);
        h = &sys->h[sys->nh++];
        h->mount = xstrdup(mount);
        h->path = path_join(parent, name);
        h->v2 = v2;
        sweep_stale(parent, name);
        if (mkdir(h->path, 0755) < 0 && errno != EEXIST)
                return gv_err_errno(err, -errno, "mkdir '%s'", h->path);
        h->made = true;
        h->dirfd = open(h->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (h->dirfd < 0)
                return gv_err_errno(err, -errno, "open '%s'", h->path);
        return sys->nh - 1;
}

static int add_v1(struct cgroup_sys *sys, const struct cgroup_mount *mnt, const char *ctrl,
                  const char *self_text, const char *name, struct gv_err *err)
{
        cleanup_free char *own = NULL;
        int r;

        r = own_dir(mnt, self_text, ctrl, &own, err);
        if (r < 0)
                return r;
        return add_hier(sys, mnt->path, own, false, name, err);
}

/* v2: enables +memory +pids in the parent (when it lacks them) and in the base. The
 * no-internal-processes rule refuses the parent with EBUSY while it holds processes; when the
 * parent is this process's own cgroup, this process moves into the leaf "<base>/worker" first. */
static int enable_v2(struct cgroup_sys *sys, const char *own, struct gv_err *err)
{
        const struct hier *h = &sys->h[sys->v2];
        cleanup_fd int pfd = open(sys->parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
        char sub[512], need[32] = "", pid[24];
        int r;

        if (pfd < 0)
                return gv_err_errno(err, -errno, "open '%s'", sys->parent);
        r = read_small(pfd, "cgroup.subtree_control", sub, sizeof(sub));
        if (r < 0)
                return gv_err_errno(err, r, "read '%s/cgroup.subtree_control'", sys->parent);
        if (!list_has(sub, strlen(sub), "memory", ' '))
                snprintf(need, sizeof(need), "+memory");
        if (!list_has(sub, strlen(sub), "pids", ' '))
                snprintf(need + strlen(need), sizeof(need) - strlen(need), "%s+pids",
                         need[0] ? " " : "");
        if (need[0]) {
                r = write_small(pfd, "cgroup.subtree_control", need);
                if (r == -EBUSY && strcmp(sys->parent, own) == 0) {
                        sys->worker = path_join(h->path, WORKER_LEAF);
                        if (mkdir(sys->worker, 0755) < 0 && errno != EEXIST)
                                return gv_err_errno(err, -errno, "mkdir '%s'", sys->worker);
                        snprintf(pid, sizeof(pid), "%d", (int)getpid());
                        r = write_small(h->dirfd, WORKER_LEAF "/cgroup.procs", pid);
                        if (r < 0)
                                return gv_err_errno(err, r, "move self to '%s/cgroup.procs'",
                                                    sys->worker);
                        r = write_small(pfd, "cgroup.subtree_control", need);
                }
                if (r < 0)
                        return gv_err_errno(err, r, "write \"%s\" to '%s/cgroup.subtree_control'%s",
                                            need, sys->parent,
                                            r == -EBUSY ? " (other processes in it)" : "");
                snprintf(sys->enabled, sizeof(sys->enabled), "%s", need);
        }
        r = write_small(h->dirfd, "cgroup.subtree_control", "+memory +pids");
        if (r < 0)
                return gv_err_errno(
                        err, r, "write \"+memory +pids\" to '%s/cgroup.subtree_control'", h->path);
        return 0;
}

static int setup_v2(struct cgroup_sys *sys, const struct cgroup_mounts *m, const char *self_text,
                    const char *name, bool controllers, struct gv_err *err)
{
        const char *root = getenv("GAVEL_CGROUP_ROOT");
        cleanup_free char *own = NULL;
        int r;

        r = own_dir(&m->v2, self_text, "", &own, err);
        if (r < 0)
                return r;
        if (root && root[0] && root[0] != '/')
                return gv_err_set(err, -EINVAL, "GAVEL_CGROUP_ROOT=\"%s\": not an absolute path",
                                  root);
        sys->parent = xstrdup(root && root[0] ? root : own);
        for (size_t n = strlen(sys->parent); n > 1 && sys->parent[n - 1] == '/'; n--)
                sys->parent[n - 1] = '\0'; /* compared with own below */
        if (controllers) {
                cleanup_free char *p = path_join(sys->parent, "cgroup.controllers");
                char have[512], missing[32] = "";

                r = read_small(AT_FDCWD, p, have, sizeof(have));
                if (r < 0)
                        return gv_err_errno(err, r, "read '%s'", p);
                if (!list_has(have, strlen(have), "memory", ' '))
                        list_add(missing, sizeof(missing), "memory");
                if (!list_has(have, strlen(have), "pids", ' '))
                        list_add(missing, sizeof(missing), "pids");
                if (missing[0])
                        return gv_err_set(err, -EOPNOTSUPP,
                                          "cgroup v2 mode: '%s' offers no %s (it has \"%s\")%s", p,
                                          missing, have,
                                          m->memory.path[0] || m->pids.path[0]
                                                  ? "; they are bound to v1: use hybrid"
                                                  : "");
        }
        r = add_hier(sys, m->v2.path, sys->parent, true, name, err);
        if (r < 0)
                return r;
        sys->v2 = r;
        return controllers ? enable_v2(sys, own, err) : 0;
}

static int setup(struct cgroup_sys *sys, const struct cgroup_mounts *m, const char *self_text,
                 const char *name, struct gv_err *err)
{
        int r;

        switch (sys->mode) {
        case CGROUP_MODE_V2:
                r = setup_v2(sys, m, self_text, name, true, err);
                if (r < 0)
                        return r;
                sys->mem = sys->pids = sys->cpu = sys->v2;
                break;
        case CGROUP_MODE_HYBRID:
        case CGROUP_MODE_V1:
                r = sys->mem = add_v1(sys, &m->memory, "memory", self_text, name, err);
                if (r < 0)
                        return r;
                r = sys->pids = add_v1(sys, &m->pids, "pids", self_text, name, err);
                if (r < 0)
                        return r;
                if (sys->mode == CGROUP_MODE_HYBRID) {
                        r = setup_v2(sys, m, self_text, name, false, err);
                        if (r < 0)
                                return r;
                        /* core accounting: every non-root v2 cgroup has it, in usec */
                        if (faccessat(sys->h[sys->v2].dirfd, "cpu.stat", F_OK, 0) == 0)
                                sys->cpu = sys->v2;
                }
                if (sys->cpu < 0 && !m->cpuacct.path[0])
                        return gv_err_set(err, -EOPNOTSUPP, "cgroup %s mode: no cpuacct mount",
                                          mode_names[sys->mode]);
                if (sys->cpu < 0) {
                        r = sys->cpu = add_v1(sys, &m->cpuacct, "cpuacct", self_text, name, err);
                        if (r < 0)
                                return r;
                }
                break;
        case _CGROUP_MODE_MAX:
        case _CGROUP_MODE_INVALID:
                return gv_err_set(err, -EINVAL, "invalid cgroup mode %d", (int)sys->mode);
        }

        if (sys->v2 >= 0 && faccessat(sys->h[sys->v2].dirfd, "cgroup.kill", F_OK, 0) == 0) {
                sys->kill = KILL_CGROUP;
        } else if (sys->mode != CGROUP_MODE_V2 && m->freezer.path[0]) {
                r = sys->freezer = add_v1(sys, &m->freezer, "freezer", self_text, name, err);
                if (r < 0)
                        return r;
                sys->kill = KILL_FREEZER;
        } else {
                sys->kill = KILL_SIGNAL;
        }
        /* v2 drops exited tasks from cgroup.procs, as v1 does; either will do */
        sys->tasks = sys->v2 >= 0 ? sys->v2 : sys->mem;
        return 0;
}

int sandbox__cgroup_sys_new(const char *name, struct cgroup_sys **ret_sys, struct gv_err *err)
{
        cleanup_free struct cgroup_mounts *m = xcalloc(1, sizeof(*m));
        cleanup_free char *mountinfo = NULL, *self = NULL;
        struct cgroup_sys *sys;
        enum cgroup_mode mode;
        int r;

        if (!valid_name(name))
                return gv_err_set(err, -EINVAL, "cgroup name \"%s\": not one path component",
                                  name ? name : "");
        r = read_text("/proc/self/mountinfo", MOUNTINFO_MAX, &mountinfo, err);
        if (r < 0)
                return r;
        r = read_text("/proc/self/cgroup", SELF_CGROUP_MAX, &self, err);
        if (r < 0)
                return r;
        r = sandbox__cgroup_parse_mountinfo(mountinfo, m, err); /* "mountinfo line N: ..." */
        if (r < 0)
                return r;
        r = sandbox__cgroup_detect_mode(m, getenv("GAVEL_CGROUP_MODE"), &mode, err);
        if (r < 0)
                return r;

        sys = xcalloc(1, sizeof(*sys));
        sys->mode = mode;
        sys->mem = sys->pids = sys->cpu = sys->freezer = sys->v2 = sys->tasks = -1;
        for (int i = 0; i < HIER_MAX; i++)
                sys->h[i].dirfd = -1;
        r = setup(sys, m, self, name, err);
        if (r < 0) {
                sandbox__cgroup_sys_free(sys);
                return r;
        }
        *ret_sys = sys;
        return 0;
}

/* Undoes enable_v2's move: the base gives up its controllers so that the parent may, so that
 * this process may live in the parent again. Best effort. */
static void leave_worker(struct cgroup_sys *sys)
{
        const struct hier *h = &sys->h[sys->v2];
        cleanup_fd int pfd = open(sys->parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
        char undo[sizeof(sys->enabled)], pid[24];

        if (pfd < 0 || h->dirfd < 0)
                return;
        (void)write_small(h->dirfd, "cgroup.subtree_control", "-memory -pids");
        snprintf(undo, sizeof(undo), "%s", sys->enabled);
        for (char *c = undo; *c; c++)
                if (*c == '+')
                        *c = '-';
        if (undo[0])
                (void)write_small(pfd, "cgroup.subtree_control", undo);
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        if (write_small(pfd, "cgroup.procs", pid) == 0)
                (void)rmdir_wait(h->dirfd, WORKER_LEAF);
}

void sandbox__cgroup_sys_free(struct cgroup_sys *sys)
{
        if (!sys)
                return;
        assert(atomic_load(&sys->n_groups) == 0);
        if (sys->worker)
                leave_worker(sys);
        for (int i = sys->nh - 1; i >= 0; i--) {
                struct hier *h = &sys->h[i];

                if (h->dirfd >= 0)
                        close(h->dirfd);
                if (h->made)
                        (void)rmdir_wait(AT_FDCWD, h->path);
                free(h->mount);
                free(h->path);
        }
        free(sys->parent);
        free(sys->worker);
        free(sys);
}

/* ---- one container's set ----------------------------------------------------------------- */

static int cgfile_read(const struct cgfile *f, char *buf, size_t size)
{
        ssize_t n;

        do
                n = pread(f->fd, buf, size - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return (int)n;
}

static int cgfile_write(const struct cgfile *f, const char *value)
{
        size_t len = strlen(value);
        ssize_t n;

        do
                n = pwrite(f->fd, value, len, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return (size_t)n == len ? 0 : -EIO;
}

static int write_file(struct cgroup *cg, int id, const char *value, struct gv_err *err)
{
        const struct cgfile *f = &cg->f[id];
        int r = cgfile_write(f, value);

        if (r < 0)
                return gv_err_errno(err, r, "write \"%s\" to '%s/%s'", value, cg->path[f->h],
                                    f->name);
        return 0;
}

/* A file holding one number. */
static int read_u64(struct cgroup *cg, int id, uint64_t *ret, struct gv_err *err)
{
        const struct cgfile *f = &cg->f[id];
        char buf[64];
        int r;

        r = cgfile_read(f, buf, sizeof(buf));
        if (r >= 0)
                r = parse_u64(buf, ret);
        if (r < 0)
                return gv_err_errno(err, r, "read '%s/%s'", cg->path[f->h], f->name);
        return 0;
}

/* The key's line of a flat-keyed file; 0 when the file or the line does not exist. */
static int read_keyed(struct cgroup *cg, int id, const char *key, uint64_t *ret, struct gv_err *err)
{
        const struct cgfile *f = &cg->f[id];
        char buf[1024];
        int r;

        *ret = 0;
        if (f->fd < 0)
                return 0;
        r = cgfile_read(f, buf, sizeof(buf));
        if (r >= 0)
                r = sandbox__cgroup_parse_keyed(buf, key, ret);
        if (r < 0 && r != -ENOENT)
                return gv_err_errno(err, r, "read '%s/%s'", cg->path[f->h], f->name);
        return 0;
}

/* cpu usage and its user part (when ret_user_ns is not NULL), both in ns since the cgroup was
 * made. One pread for the usage. */
static int cpu_read(struct cgroup *cg, uint64_t *ret_ns, uint64_t *ret_user_ns)
{
        const struct cgfile *f = &cg->f[F_CPU];
        char buf[1024];
        uint64_t v, user = 0;
        int r;

        r = cgfile_read(f, buf, sizeof(buf));
        if (r < 0)
                return r;
        if (cg->sys->h[f->h].v2) {
                r = sandbox__cgroup_parse_keyed(buf, "usage_usec", &v);
                if (r < 0)
                        return r;
                if (ret_user_ns && sandbox__cgroup_parse_keyed(buf, "user_usec", &user) == 0)
                        user *= 1000;
                v *= 1000;
        } else {
                r = parse_u64(buf, &v);
                if (r < 0)
                        return r;
                if (ret_user_ns && cg->f[F_CPU_USER].fd >= 0 &&
                    cgfile_read(&cg->f[F_CPU_USER], buf, sizeof(buf)) >= 0 &&
                    sandbox__cgroup_parse_keyed(buf, "user", &user) == 0)
                        user *= 1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK);
                else
                        user = 0;
        }
        *ret_ns = v;
        if (ret_user_ns)
                *ret_user_ns = user;
        return 0;
}

static uint64_t since(uint64_t now, uint64_t base)
{
        return now > base ? now - base : 0;
}

static void files_close(struct cgroup *cg)
{
        for (int i = 0; i < _F_MAX; i++) {
                if (cg->f[i].fd >= 0)
                        close(cg->f[i].fd);
                cg->f[i].fd = -1;
        }
}

enum role { ROLE_MEM, ROLE_PIDS, ROLE_CPU };

static const struct {
        int id;
        enum role role;
        const char *v1, *v2; /* NULL: not on that version */
        int flags;
        bool optional;
} file_specs[] = {
        {F_MEM_MAX, ROLE_MEM, "memory.limit_in_bytes", "memory.max", O_RDWR, false},
        {F_MEM_SWAP, ROLE_MEM, "memory.memsw.limit_in_bytes", "memory.swap.max", O_RDWR, true},
        /* v2: writable from 6.12 on, where a write resets the peak seen through that fd */
        {F_MEM_PEAK, ROLE_MEM, "memory.max_usage_in_bytes", "memory.peak", O_RDWR, true},
        {F_MEM_USAGE, ROLE_MEM, "memory.usage_in_bytes", "memory.current", O_RDONLY, true},
        {F_MEM_EVENTS, ROLE_MEM, "memory.oom_control", "memory.events", O_RDONLY, false},
        {F_PIDS_MAX, ROLE_PIDS, "pids.max", "pids.max", O_RDWR, false},
        {F_PIDS_EVENTS, ROLE_PIDS, "pids.events", "pids.events", O_RDONLY, true},
        {F_PIDS_PEAK, ROLE_PIDS, "pids.peak", "pids.peak", O_RDONLY, true},
        {F_CPU, ROLE_CPU, "cpuacct.usage", "cpu.stat", O_RDONLY, false},
        /* not cpuacct.usage_user: raw tick samples, off by half and more under contention;
         * cpuacct.stat is scaled to the precise usage, as rusage is */
        {F_CPU_USER, ROLE_CPU, "cpuacct.stat", NULL, O_RDONLY, true},
};

static int file_open(struct cgroup *cg, int id, int h, const char *name, int flags, bool optional,
                     struct gv_err *err)
{
        struct cgfile *f = &cg->f[id];

        f->h = h;
        f->name = name;
        f->fd = openat(cg->dirfd[h], name, flags | O_CLOEXEC);
        if (f->fd < 0 && id == F_MEM_PEAK && errno == EACCES)
                f->fd = openat(cg->dirfd[h], name, O_RDONLY | O_CLOEXEC); /* before 6.12 */
        if (f->fd >= 0 || (optional && errno == ENOENT))
                return 0;
        return gv_err_errno(err, -errno, "open '%s/%s'", cg->path[h], name);
}

static int files_open(struct cgroup *cg, struct gv_err *err)
{
        const struct cgroup_sys *sys = cg->sys;
        const int role_h[] = {
                [ROLE_MEM] = sys->mem, [ROLE_PIDS] = sys->pids, [ROLE_CPU] = sys->cpu};
        int r;

        for (int i = 0; i < sys->nh; i++) {
                r = file_open(cg, F_PROCS + i, i, "cgroup.procs", O_WRONLY, false, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ARRAY_SIZE(file_specs); i++) {
                int h = role_h[file_specs[i].role];
                const char *name = sys->h[h].v2 ? file_specs[i].v2 : file_specs[i].v1;

                if (!name)
                        continue;
                r = file_open(cg, file_specs[i].id, h, name, file_specs[i].flags,
                              file_specs[i].optional, err);
                if (r < 0)
                        return r;
        }
        cg->peak_resettable = cg->f[F_MEM_PEAK].fd >= 0 &&
                              (fcntl(cg->f[F_MEM_PEAK].fd, F_GETFL) & O_ACCMODE) == O_RDWR;
        switch (sys->kill) {
        case KILL_CGROUP:
                return file_open(cg, F_KILL, sys->v2, "cgroup.kill", O_WRONLY, false, err);
        case KILL_FREEZER:
                return file_open(cg, F_FREEZER, sys->freezer, "freezer.state", O_RDWR, false, err);
        case KILL_SIGNAL:
                break;
        }
        return 0;
}

static int dirs_make(struct cgroup *cg, struct gv_err *err)
{
        const struct cgroup_sys *sys = cg->sys;

        for (int i = 0; i < sys->nh; i++) {
                if (mkdirat(sys->h[i].dirfd, cg->name, 0755) < 0 && errno != EEXIST)
                        return gv_err_errno(err, -errno, "mkdir '%s'", cg->path[i]);
                cg->dirfd[i] = openat(sys->h[i].dirfd, cg->name, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (cg->dirfd[i] < 0)
                        return gv_err_errno(err, -errno, "open '%s'", cg->path[i]);
        }
        return 0;
}

static void dirs_remove(struct cgroup *cg)
{
        const struct cgroup_sys *sys = cg->sys;

        for (int i = sys->nh - 1; i >= 0; i--) {
                if (cg->dirfd[i] < 0)
                        continue;
                close(cg->dirfd[i]);
                cg->dirfd[i] = -1;
                (void)rmdir_wait(sys->h[i].dirfd, cg->name);
        }
}

int sandbox__cgroup_new(struct cgroup_sys *sys, const char *name, struct cgroup **ret_cg,
                        struct gv_err *err)
{
        struct cgroup *cg;
        int r;

        if (!valid_name(name) || strcmp(name, WORKER_LEAF) == 0)
                return gv_err_set(err, -EINVAL,
                                  "cgroup name \"%s\": not one path component or "
                                  "reserved",
                                  name ? name : "");
        cg = xcalloc(1, sizeof(*cg));
        cg->sys = sys;
        cg->name = xstrdup(name);
        for (int i = 0; i < HIER_MAX; i++)
                cg->dirfd[i] = -1;
        for (int i = 0; i < _F_MAX; i++)
                cg->f[i].fd = -1;
        for (int i = 0; i < sys->nh; i++)
                cg->path[i] = path_join(sys->h[i].path, name);
        atomic_fetch_add(&sys->n_groups, 1);
        r = dirs_make(cg, err);
        if (r >= 0)
                r = files_open(cg, err);
        if (r < 0) {
                sandbox__cgroup_free(cg);
                return r;
        }
        *ret_cg = cg;
        return 0;
}

/* Calls fn (may be NULL) for each pid in cgroup.procs of hierarchy h; returns how many there
 * were, or -errno. Never on this process, nor on pid 0: kill(0, ...) means the process group. */
static int procs_foreach(struct cgroup *cg, int h, void (*fn)(pid_t pid))
{
        cleanup_fd int fd = -1;
        char buf[4096];
        int64_t pid = -1; /* the number being read, -1 between numbers */
        int count = 0;

        if (cg->dirfd[h] < 0)
                return -EBADF;
        fd = openat(cg->dirfd[h], "cgroup.procs", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        for (bool eof = false; !eof;) {
                ssize_t n = read(fd, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0) {
                        eof = true;
                        buf[n++] = '\n'; /* closes the last number */
                }
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] >= '0' && buf[i] <= '9') {
                                pid = (pid < 0 ? 0 : pid * 10) + (buf[i] - '0');
                                if (pid > INT_MAX)
                                        return -EBADMSG;
                                continue;
                        }
                        if (pid > 0 && pid != getpid()) {
                                if (fn)
                                        fn((pid_t)pid);
                                count++;
                        }
                        pid = -1;
                }
        }
        return count;
}

static void kill_pid(pid_t pid)
{
        kill(pid, SIGKILL);
}

static bool any_tasks(struct cgroup *cg)
{
        for (int i = 0; i < cg->sys->nh; i++)
                if (procs_foreach(cg, i, NULL) > 0)
                        return true;
        return false;
}

static int freezer_kill(struct cgroup *cg, struct gv_err *err)
{
        int h = cg->sys->freezer, n, r;

        for (int round = 0; round < KILL_ROUNDS; round++) {
                uint64_t deadline = now_ms() + FREEZE_WAIT_MS;
                bool frozen = false;
                char state[32];

                r = write_file(cg, F_FREEZER, "FROZEN", err);
                if (r < 0)
                        return r;
                for (long pause_ns = 50000;;
                     pause_ns = pause_ns < 1000000 ? 2 * pause_ns : pause_ns) {
                        struct timespec ts = {.tv_nsec = pause_ns};

                        frozen = cgfile_read(&cg->f[F_FREEZER], state, sizeof(state)) > 0 &&
                                 strncmp(state, "FROZEN", 6) == 0;
                        if (frozen || now_ms() >= deadline)
                                break;
                        nanosleep(&ts, NULL); /* usually done within a few hundred us */
                }
                /* frozen tasks cannot fork past the list; killed ones die once thawed */
                n = procs_foreach(cg, h, kill_pid);
                r = write_file(cg, F_FREEZER, "THAWED", err);
                if (n < 0)
                        return gv_err_errno(err, n, "read '%s/cgroup.procs'", cg->path[h]);
                if (r < 0)
                        return r;
                if (frozen || n == 0)
                        return 0;
                sleep_ms(10); /* a task stuck in FREEZING may have forked: go again */
        }
        return gv_err_set(err, -EBUSY, "'%s' did not freeze", cg->path[h]);
}

static int signal_kill(struct cgroup *cg, struct gv_err *err)
{
        int h = cg->sys->tasks;

        for (int round = 0; round < 100; round++) {
                int n = procs_foreach(cg, h, kill_pid);

                if (n < 0)
                        return gv_err_errno(err, n, "read '%s/cgroup.procs'", cg->path[h]);
                if (n == 0)
                        return 0;
                sleep_ms(2);
        }
        return gv_err_set(err, -EBUSY, "'%s': tasks left after 100 rounds of SIGKILL", cg->path[h]);
}

int sandbox__cgroup_kill(struct cgroup *cg, struct gv_err *err)
{
        switch (cg->sys->kill) {
        case KILL_CGROUP:
                return write_file(cg, F_KILL, "1", err);
        case KILL_FREEZER:
                return freezer_kill(cg, err);
        case KILL_SIGNAL:
                return signal_kill(cg, err);
        }
        return gv_err_set(err, -EINVAL, "no kill method");
}

int sandbox__cgroup_ntasks(struct cgroup *cg)
{
        return procs_foreach(cg, cg->sys->tasks, NULL);
}

void sandbox__cgroup_free(struct cgroup *cg)
{
        if (!cg)
                return;
        if (any_tasks(cg)) {
                uint64_t deadline = now_ms() + EMPTY_WAIT_MS;

                (void)sandbox__cgroup_kill(cg, NULL);
                while (any_tasks(cg) && now_ms() < deadline)
                        sleep_ms(1);
        }
        files_close(cg);
        dirs_remove(cg);
        for (int i = 0; i < HIER_MAX; i++)
                free(cg->path[i]);
        atomic_fetch_sub(&cg->sys->n_groups, 1);
        free(cg->name);
        free(cg);
}

/* v1: memsw.limit_in_bytes must stay >= limit_in_bytes, so memsw goes first when the limit
 * rises and last when it falls. v2: memory.swap.max is separate; 0 keeps the limit honest on
 * hosts with swap. */
static int set_memory(struct cgroup *cg, uint64_t bytes, struct gv_err *err)
{
        bool v2 = cg->sys->h[cg->sys->mem].v2, raising;
        int first, second, r;
        char val[24];

        if (bytes)
                snprintf(val, sizeof(val), "%" PRIu64, bytes);
        else
                snprintf(val, sizeof(val), "%s", v2 ? "max" : "-1");
        if (v2) {
                r = write_file(cg, F_MEM_MAX, val, err);
                if (r == 0 && cg->f[F_MEM_SWAP].fd >= 0)
                        r = write_file(cg, F_MEM_SWAP, bytes ? "0" : "max", err);
                return r;
        }
        if (cg->f[F_MEM_SWAP].fd < 0)
                return write_file(cg, F_MEM_MAX, val, err);
        raising = !cg->mem_known || !bytes || (cg->memory_bytes && bytes > cg->memory_bytes);
        first = raising ? F_MEM_SWAP : F_MEM_MAX;
        second = raising ? F_MEM_MAX : F_MEM_SWAP;
        r = cgfile_write(&cg->f[first], val);
        if (r == -EINVAL) {
                /* the old values were not what we thought: the other order is the right one */
                r = write_file(cg, second, val, err);
                return r < 0 ? r : write_file(cg, first, val, err);
        }
        if (r < 0)
                return write_file(cg, first, val, err); /* once more, for the message */
        return write_file(cg, second, val, err);
}

int sandbox__cgroup_set_limits(struct cgroup *cg, uint64_t memory_bytes, uint64_t pids_max,
                               struct gv_err *err)
{
        char val[24];
        int r;

        if (!cg->mem_known || memory_bytes != cg->memory_bytes) {
                cg->mem_known = false;
                r = set_memory(cg, memory_bytes, err);
                if (r < 0)
                        return r;
                cg->memory_bytes = memory_bytes;
                cg->mem_known = true;
        }
        if (!cg->pids_known || pids_max != cg->pids_max) {
                cg->pids_known = false;
                if (pids_max)
                        snprintf(val, sizeof(val), "%" PRIu64, pids_max);
                else
                        snprintf(val, sizeof(val), "max");
                r = write_file(cg, F_PIDS_MAX, val, err);
                if (r < 0)
                        return r;
                cg->pids_max = pids_max;
                cg->pids_known = true;
        }
        return 0;
}

/* Made anew, the set is empty: for v2 before 6.12, where memory.peak cannot be reset, and when
 * earlier runs left memory charged here. */
static int recreate(struct cgroup *cg, struct gv_err *err)
{
        const struct cgroup_sys *sys = cg->sys;
        int r;

        /* nothing written to the old set holds for the new one, even if making it fails */
        cg->runs = 0;
        cg->mem_known = cg->pids_known = false;
        files_close(cg);
        for (int i = sys->nh - 1; i >= 0; i--) {
                close(cg->dirfd[i]);
                cg->dirfd[i] = -1;
                r = rmdir_wait(sys->h[i].dirfd, cg->name);
                if (r < 0)
                        return gv_err_errno(err, r, "rmdir '%s'", cg->path[i]);
        }
        r = dirs_make(cg, err);
        if (r < 0)
                return r;
        r = files_open(cg, err);
        if (r < 0)
                return r;
        return sandbox__cgroup_set_limits(cg, cg->memory_bytes, cg->pids_max, err);
}

/* Whether earlier runs left more than STALE_MAX_BYTES charged to the set. */
static bool stale(struct cgroup *cg)
{
        uint64_t usage;

        return cg->f[F_MEM_USAGE].fd >= 0 && read_u64(cg, F_MEM_USAGE, &usage, NULL) == 0 &&
               usage > STALE_MAX_BYTES;
}

int sandbox__cgroup_begin(struct cgroup *cg, struct gv_err *err)
{
        const struct cgfile *peak = &cg->f[F_MEM_PEAK];
        int r;

        if (cg->runs > 0 && peak->fd >= 0 && (!cg->peak_resettable || stale(cg))) {
                r = recreate(cg, err);
                if (r < 0)
                        return r;
        } else if (peak->fd >= 0 && cg->peak_resettable) {
                r = write_file(cg, F_MEM_PEAK, "0", err); /* to the current usage */
                if (r < 0)
                        return r;
        }
        r = cpu_read(cg, &cg->base_cpu, &cg->base_user);
        if (r < 0)
                return gv_err_errno(err, r, "read '%s/%s'", cg->path[cg->f[F_CPU].h],
                                    cg->f[F_CPU].name);
        r = read_keyed(cg, F_MEM_EVENTS, "oom_kill", &cg->base_oom, err);
        if (r < 0)
                return r;
        r = read_keyed(cg, F_PIDS_EVENTS, "max", &cg->base_pids_max, err);
        if (r < 0)
                return r;
        cg->runs++;
        return 0;
}

int sandbox__cgroup_attach(struct cgroup *cg, pid_t pid, struct gv_err *err)
{
        char val[24];
        int r;

        snprintf(val, sizeof(val), "%d", (int)pid);
        for (int i = 0; i < cg->sys->nh; i++) {
                r = cgfile_write(&cg->f[F_PROCS + i], val);
                if (r < 0)
                        return gv_err_errno(err, r, "attach %d to '%s/cgroup.procs'", (int)pid,
                                            cg->path[i]);
        }
        return 0;
}

int sandbox__cgroup_cpu_ns(struct cgroup *cg, uint64_t *ret_ns)
{
        uint64_t ns;
        int r;

        r = cpu_read(cg, &ns, NULL);
        if (r < 0)
                return r;
        *ret_ns = since(ns, cg->base_cpu);
        return 0;
}

int sandbox__cgroup_stats(struct cgroup *cg, struct cgroup_stats *ret_stats, struct gv_err *err)
{
        struct cgroup_stats st = {0};
        uint64_t cpu, user, v;
        int r;

        r = cpu_read(cg, &cpu, &user);
        if (r < 0)
                return gv_err_errno(err, r, "read '%s/%s'", cg->path[cg->f[F_CPU].h],
                                    cg->f[F_CPU].name);
        st.cpu_ns = since(cpu, cg->base_cpu);
        st.user_ns = user ? since(user, cg->base_user) : 0;
        if (st.user_ns > st.cpu_ns)
                st.user_ns = st.cpu_ns; /* v1: in 10 ms steps */
        if (cg->f[F_MEM_PEAK].fd >= 0) {
                r = read_u64(cg, F_MEM_PEAK, &st.memory_peak, err);
                if (r < 0)
                        return r;
        }
        r = read_keyed(cg, F_MEM_EVENTS, "oom_kill", &v, err);
        if (r < 0)
                return r;
        st.oom_kills = since(v, cg->base_oom);
        r = read_keyed(cg, F_PIDS_EVENTS, "max", &v, err);
        if (r < 0)
                return r;
        st.pids_limited = v > cg->base_pids_max;
        if (cg->runs == 1 && cg->f[F_PIDS_PEAK].fd >= 0) {
                r = read_u64(cg, F_PIDS_PEAK, &st.pids_peak, err);
                if (r < 0)
                        return r;
        }
        *ret_stats = st;
        return 0;
}
