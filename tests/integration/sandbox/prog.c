// SPDX-License-Identifier: MIT
/*
 * A misbehaving program for the container tests: each mode does one thing a hostile or broken
 * submission might do. Built static and without sanitizers, run inside containers by fexecve.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double cpu_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void spin(double seconds)
{
        double end = cpu_s() + seconds;

        while (cpu_s() < end)
                ;
}

static void *spin_thread(void *arg)
{
        spin(*(double *)arg);
        return NULL;
}

static int recurse(int depth)
{
        volatile char buf[4096];

        buf[0] = (char)depth;
        return recurse(depth + 1) + buf[0];
}

static int count_entries(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *e;
        int n = 0;

        if (!d)
                return -1;
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

int main(int argc, char **argv)
{
        const char *mode = argc > 1 ? argv[1] : "";

        if (!strcmp(mode, "exit"))
                return argc > 2 ? atoi(argv[2]) : 0;
        if (!strcmp(mode, "spin")) { /* cpu until killed */
                for (;;)
                        ;
        }
        if (!strcmp(mode, "burn")) { /* a fixed amount of cpu: burn SECONDS */
                spin(atof(argv[2]));
                return 0;
        }
        if (!strcmp(mode, "sleep")) {
                sleep(100);
                return 0;
        }
        if (!strcmp(mode, "mem")) { /* touch MiB of memory */
                size_t n = (size_t)atol(argv[2]) << 20;
                char *p = malloc(n);

                if (!p)
                        return 3;
                for (size_t i = 0; i < n; i += 4096)
                        p[i] = 1;
                printf("%d\n", p[n / 2]);
                return 0;
        }
        if (!strcmp(mode, "stack"))
                return recurse(0);
        if (!strcmp(mode, "flood")) {
                static char buf[65536];

                memset(buf, 'x', sizeof(buf));
                for (;;)
                        if (write(1, buf, sizeof(buf)) < 0)
                                return 4;
        }
        if (!strcmp(mode, "write")) { /* write FD BYTES: exactly that many bytes, then exit 0 */
                static char buf[65536];
                int fd = argc > 2 ? atoi(argv[2]) : 1;
                long long left = argc > 3 ? atoll(argv[3]) : 0;

                memset(buf, 'y', sizeof(buf));
                while (left > 0) {
                        ssize_t n =
                                write(fd, buf,
                                      left < (long long)sizeof(buf) ? (size_t)left : sizeof(buf));

                        if (n <= 0)
                                return 4;
                        left -= n;
                }
                return 0;
        }
        if (!strcmp(mode, "forkbomb")) {
                for (;;)
                        fork();
        }
        if (!strcmp(mode, "threads")) { /* 2 threads x SECONDS of cpu */
                double s = atof(argv[2]);
                pthread_t t[2];

                for (int i = 0; i < 2; i++)
                        pthread_create(&t[i], NULL, spin_thread, &s);
                for (int i = 0; i < 2; i++)
                        pthread_join(t[i], NULL);
                return 0;
        }
        if (!strcmp(mode, "children")) { /* 2 children x SECONDS of cpu, never reaped */
                double s = atof(argv[2]);
                pid_t pid[2];

                for (int i = 0; i < 2; i++)
                        if ((pid[i] = fork()) == 0) {
                                spin(s);
                                _exit(0);
                        }
                spin(s + 0.05);
                /* outlive them (on a loaded machine they may not have had their cpu yet) but
                 * leave them zombies: their time never reaches this process's rusage */
                for (int i = 0; i < 2; i++) {
                        siginfo_t info;

                        waitid(P_PID, (id_t)pid[i], &info, WEXITED | WNOWAIT);
                }
                return 0;
        }
        if (!strcmp(mode, "orphan")) { /* leave a spinning grandchild behind */
                if (fork() == 0) {
                        setsid();
                        if (fork() == 0)
                                for (;;)
                                        ;
                        _exit(0);
                }
                usleep(50000);
                return 0;
        }
        if (!strcmp(mode, "killall")) {
                int r = kill(-1, SIGKILL);

                printf("kill %d\n", r);
                return 0;
        }
        if (!strcmp(mode, "stopparent")) {
                printf("stop %d\n", kill(getppid(), SIGSTOP));
                return 0;
        }
        if (!strcmp(mode, "fds")) { /* descriptors open, besides the one listing them */
                printf("%d\n", count_entries("/proc/self/fd") - 1);
                return 0;
        }
        if (!strcmp(mode, "open")) { /* open PATH FLAGS(r|w) */
                int fd = open(argv[2], argv[3][0] == 'w' ? O_WRONLY | O_CREAT : O_RDONLY, 0644);

                printf("%s\n", fd >= 0 ? "ok" : strerror(errno));
                return fd >= 0 ? 0 : 1;
        }
        if (!strcmp(mode, "net")) {
                struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
                int fd = socket(AF_INET, SOCK_STREAM, 0);

                if (fd < 0) {
                        printf("socket %s\n", strerror(errno));
                        return 1;
                }
                a.sin_addr.s_addr = htonl(0x7f000001);
                if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
                        printf("connect %s\n", strerror(errno));
                        return 1;
                }
                printf("connected\n");
                return 0;
        }
        if (!strcmp(mode, "plant")) { /* leave links, fifos and files in /w and /tmp */
                int ok = symlink("/etc/passwd", "/w/link") == 0 && mkfifo("/tmp/fifo", 0666) == 0 &&
                         mkdir("/w/d", 0755) == 0 && symlink("/w", "/w/d/loop") == 0;
                int fd = open("/tmp/big", O_WRONLY | O_CREAT, 0644);

                ok = ok && fd >= 0 && write(fd, "secret", 6) == 6;
                printf("%s\n", ok ? "planted" : strerror(errno));
                return ok ? 0 : 1;
        }
        if (!strcmp(mode, "fill")) { /* fill /tmp until it is full */
                static char buf[1 << 16];
                int fd = open("/tmp/fill", O_WRONLY | O_CREAT, 0644);

                while (fd >= 0 && write(fd, buf, sizeof(buf)) > 0)
                        ;
                printf("%s\n", strerror(errno));
                return 0;
        }
        if (!strcmp(mode, "ipcplant")) { /* keyed SysV shm, msg, sem and a POSIX mq, kept */
                key_t key = 0x67617665;
                int ok = shmget(key, 1 << 20, IPC_CREAT | 0666) >= 0 &&
                         msgget(key, IPC_CREAT | 0666) >= 0 &&
                         semget(key, 1, IPC_CREAT | 0666) >= 0 &&
                         mq_open("/gavel", O_CREAT | O_RDWR, 0666, NULL) != (mqd_t)-1;

                printf("%s\n", ok ? "planted" : strerror(errno));
                return ok ? 0 : 1;
        }
        if (!strcmp(mode, "ipcfind")) { /* how many of ipcplant's objects are there */
                key_t key = 0x67617665;

                printf("%d\n", (shmget(key, 0, 0) >= 0) + (msgget(key, 0) >= 0) +
                                       (semget(key, 0, 0) >= 0) +
                                       (mq_open("/gavel", O_RDONLY) != (mqd_t)-1));
                return 0;
        }
        if (!strcmp(mode, "count")) { /* entries in /w and /tmp */
                printf("%d %d\n", count_entries("/w"), count_entries("/tmp"));
                return 0;
        }
        if (!strcmp(mode, "cat")) {
                char buf[4096];
                ssize_t n;

                while ((n = read(0, buf, sizeof(buf))) > 0)
                        if (write(1, buf, (size_t)n) != n)
                                return 4;
                return 0;
        }
        if (!strcmp(mode, "show")) { /* show PATH: its first 4 KiB */
                char buf[4096];
                int fd = open(argv[2], O_RDONLY);
                ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));

                if (n < 0) {
                        printf("%s\n", strerror(errno));
                        return 1;
                }
                return write(1, buf, (size_t)n) == n ? 0 : 4;
        }
        if (!strcmp(mode, "size")) { /* size PATH: the bytes it reads, or why it cannot */
                char buf[4096];
                long total = 0;
                ssize_t n;
                int fd = open(argv[2], O_RDONLY);

                if (fd < 0) {
                        printf("%s\n", strerror(errno));
                        return 1;
                }
                while ((n = read(fd, buf, sizeof(buf))) > 0)
                        total += n;
                if (n < 0) {
                        printf("read: %s\n", strerror(errno));
                        return 1;
                }
                printf("%ld\n", total);
                return 0;
        }
        if (!strcmp(mode, "whoami")) {
                printf("%u %u\n", (unsigned)getuid(), (unsigned)getgid());
                return 0;
        }
        fprintf(stderr, "prog: unknown mode '%s'\n", mode);
        return 2;
}
