/* SPDX-License-Identifier: MIT */
/*
 * Counting what the host has (descriptors, descendant processes, mounts, this process's
 * cgroups), for the container tests' "nothing leaks" checks: count before, act, count after.
 * Header-only, included by each test program that needs it.
 */
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int count_dir(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *e;
        int n = 0;

        if (!d)
                return -1;
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

/* Processes descending from this one: containers' inits and anything below them. */
static int count_descendants(void)
{
        enum { MAXP = 1 << 16 };
        static int parent[MAXP];
        DIR *d = opendir("/proc");
        struct dirent *e;
        int n = 0;

        memset(parent, 0, sizeof(parent));
        while ((e = readdir(d))) {
                char path[300], buf[512], *p;
                int pid = atoi(e->d_name), fd;
                ssize_t k;

                if (pid <= 0 || pid >= MAXP)
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/stat", pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                k = read(fd, buf, sizeof(buf) - 1);
                close(fd);
                if (k <= 0)
                        continue;
                buf[k] = '\0';
                p = strrchr(buf, ')'); /* "pid (comm) state ppid ..." */
                if (p && sscanf(p + 2, "%*c %d", &parent[pid]) != 1)
                        parent[pid] = 0;
        }
        closedir(d);
        for (int pid = 1; pid < MAXP; pid++)
                for (int q = parent[pid], hops = 0; q > 0 && q < MAXP && hops < 64;
                     q = parent[q], hops++)
                        if (q == getpid()) {
                                n++;
                                break;
                        }
        return n;
}

static int count_lines(const char *path)
{
        FILE *f = fopen(path, "re");
        int n = 0, c;

        if (!f)
                return -1;
        while ((c = fgetc(f)) != EOF)
                n += c == '\n';
        fclose(f);
        return n;
}

static int cgroup_dirs;
static char cgroup_mark[64];

static int count_cgroup_dir(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        const char *p = strstr(path, cgroup_mark);

        (void)st;
        (void)ftw;
        if (type == FTW_D && p && p[strlen(cgroup_mark)] == '-') /* "gavel-<pid>-<pool>" */
                cgroup_dirs++;
        return 0;
}

/* cgroup directories this process made ("gavel-<pid>-<n>" and below, in every hierarchy). */
static int count_cgroups(void)
{
        snprintf(cgroup_mark, sizeof(cgroup_mark), "/gavel-%d", (int)getpid());
        cgroup_dirs = 0;
        nftw("/sys/fs/cgroup", count_cgroup_dir, 32, FTW_PHYS);
        return cgroup_dirs;
}
