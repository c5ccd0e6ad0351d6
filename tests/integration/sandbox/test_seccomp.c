/* SPDX-License-Identifier: MIT */
/*
 * The seccomp policies, loaded the way the container init loads them (PR_SET_NO_NEW_PRIVS, then
 * PR_SET_SECCOMP with the compiled BPF) in a forked child: what compilers, interpreters and
 * submissions need still works, and every denied call ends the way its rule says. Between the
 * load and the call under test the child makes raw syscalls only (no sanitizer runtime).
 * Exits 77 when the kernel has no seccomp filter mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/seccomp-internal.h"
#include "schema/cleanup.h"
#include "tests/skip.h"

#define CHILD_SETUP_FAILED 125 /* the child could not install the filter or its descriptors */
#define CHILD_UNEXPECTED   126 /* a call the filter should have stopped returned */
#define CHILD_EXEC_FAILED  127 /* execve returned */

static const enum proto_policy policies[] = {PROTO_POLICY_COMPILE, PROTO_POLICY_RUN};
static const char *const policy_names[_PROTO_POLICY_MAX] = {
        [PROTO_POLICY_NONE] = "none",
        [PROTO_POLICY_COMPILE] = "compile",
        [PROTO_POLICY_RUN] = "run",
};

/* The environment every program run here gets: nothing of the test's (pyenv, ASAN_OPTIONS). */
static char *const child_env[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL};

struct fixture {
        uint8_t *filter[_PROTO_POLICY_MAX]; /* compiled BPF per policy; NULL for none */
        size_t filter_len[_PROTO_POLICY_MAX];
        char dir[64]; /* a scratch directory, removed at teardown */
};

/* Runs in the child after the filter is loaded; returns its exit code. Raw syscalls only. */
typedef int (*child_fn)(const void *arg);

static int setup(void **state)
{
        struct fixture *fx = xcalloc(1, sizeof(*fx));
        struct gv_err err = {0};

        for (int p = 0; p < _PROTO_POLICY_MAX; p++) {
                int r = sandbox__seccomp_compile(p, &fx->filter[p], &fx->filter_len[p], &err);

                if (r < 0) {
                        print_error("compile %s: %s\n", policy_names[p], err.msg);
                        return -1;
                }
        }
        snprintf(fx->dir, sizeof(fx->dir), "/tmp/gavel-seccomp-XXXXXX");
        if (!mkdtemp(fx->dir))
                return -1;
        *state = fx;
        return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st, (void)flag, (void)ftw;
        return remove(path);
}

static int teardown(void **state)
{
        struct fixture *fx = *state;

        for (int p = 0; p < _PROTO_POLICY_MAX; p++)
                free(fx->filter[p]);
        nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(fx);
        return 0;
}

static _Noreturn void child_exit(int code)
{
        syscall(SYS_exit_group, code);
        __builtin_unreachable();
}

/*
 * Forks; the child restores default handlers for the signals cmocka and ASan catch (so a fault
 * ends it rather than running the test framework on in the child), points stdout and stderr at
 * out_fd, arms a 120 s alarm, loads policy's filter exactly as the container init does, and
 * exits with fn(arg). Returns the wait status.
 */
static int run_child(const struct fixture *fx, enum proto_policy policy, child_fn fn,
                     const void *arg, int out_fd)
{
        static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGABRT};
        int status;
        pid_t pid;

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct sock_fprog prog = {
                        .len = (unsigned short)(fx->filter_len[policy] /
                                                sizeof(struct sock_filter)),
                        .filter = (struct sock_filter *)fx->filter[policy],
                };
                /* struct sigaction as the kernel reads it: handler, flags, restorer, mask */
                unsigned long dfl[4] = {(unsigned long)SIG_DFL, 0, 0, 0};

                for (size_t i = 0; i < ARRAY_SIZE(fault_signals); i++)
                        syscall(SYS_rt_sigaction, fault_signals[i], dfl, NULL, 8);
                if (out_fd >= 0 &&
                    (syscall(SYS_dup2, out_fd, 1) < 0 || syscall(SYS_dup2, out_fd, 2) < 0))
                        child_exit(CHILD_SETUP_FAILED);
                syscall(SYS_alarm, 120);
                if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
                        child_exit(CHILD_SETUP_FAILED);
                if (fx->filter[policy] &&
                    syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0L, 0L) < 0)
                        child_exit(CHILD_SETUP_FAILED);
                child_exit(fn(arg));
        }
        while (waitpid(pid, &status, 0) < 0)
                assert_int_equal(errno, EINTR);
        return status;
}

static const char *describe(int status, char *buf, size_t size)
{
        if (WIFEXITED(status))
                snprintf(buf, size, "exit %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                snprintf(buf, size, "signal %d (%s)", WTERMSIG(status),
                         strsignal(WTERMSIG(status)));
        else
                snprintf(buf, size, "wait status %#x", status);
        return buf;
}

/* Prints what the child wrote, up to 4 KiB. */
static void print_output(int fd)
{
        char out[4096];
        ssize_t n = pread(fd, out, sizeof(out) - 1, 0);

        if (n > 0) {
                out[n] = '\0';
                print_message("---- child output ----\n%s\n----\n", out);
        }
}

/* Runs fn under policy and fails unless the child exits with code. */
static void expect_exit(const struct fixture *fx, enum proto_policy policy, child_fn fn,
                        const void *arg, int code, const char *what)
{
        cleanup_fd int out = memfd_create("child-output", MFD_CLOEXEC);
        char buf[64];
        int status;

        assert_true(out >= 0);
        status = run_child(fx, policy, fn, arg, out);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != code) {
                print_output(out);
                fail_msg("%s under the %s policy: %s, expected exit %d", what, policy_names[policy],
                         describe(status, buf, sizeof(buf)), code);
        }
}

/* Runs fn under policy and fails unless the filter killed the child (SIGSYS). */
static void expect_sigsys(const struct fixture *fx, enum proto_policy policy, child_fn fn,
                          const void *arg, const char *what)
{
        char buf[64];
        int status = run_child(fx, policy, fn, arg, -1);

        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
                fail_msg("%s under the %s policy: %s, expected SIGSYS", what, policy_names[policy],
                         describe(status, buf, sizeof(buf)));
}

static void expect_sigsys_under_both(const struct fixture *fx, child_fn fn, const void *arg,
                                     const char *what)
{
        for (size_t i = 0; i < ARRAY_SIZE(policies); i++)
                expect_sigsys(fx, policies[i], fn, arg, what);
}

static void expect_exit_under_both(const struct fixture *fx, child_fn fn, const void *arg, int code,
                                   const char *what)
{
        for (size_t i = 0; i < ARRAY_SIZE(policies); i++)
                expect_exit(fx, policies[i], fn, arg, code, what);
}

/* A call the filter should have stopped returned: the child exits with CHILD_UNEXPECTED. */
static int returned(long r)
{
        (void)r;
        return CHILD_UNEXPECTED;
}

/* A call the filter should let through (or answer itself): 0, or its errno. */
static int errno_of(long r)
{
        return r < 0 ? errno : 0;
}

/* ---- compiling ------------------------------------------------------------------------- */

static void test_none_policy_compiles_to_no_filter(void **state)
{
        uint8_t *buf = (uint8_t *)state; /* any non-NULL value, to see it overwritten */
        size_t len = 1;
        struct gv_err err = {0};

        assert_int_equal(sandbox__seccomp_compile(PROTO_POLICY_NONE, &buf, &len, &err), 0);
        assert_null(buf);
        assert_int_equal(len, 0);
}

static void test_unknown_policy_is_rejected_and_outputs_untouched(void **state)
{
        uint8_t *buf = (uint8_t *)state;
        size_t len = 1;
        struct gv_err err = {0};

        assert_int_equal(sandbox__seccomp_compile(_PROTO_POLICY_MAX, &buf, &len, &err), -EINVAL);
        assert_int_equal(err.code, -EINVAL);
        assert_string_not_equal(err.msg, "");
        assert_ptr_equal(buf, (uint8_t *)state);
        assert_int_equal(len, 1);
        assert_int_equal(sandbox__seccomp_compile(_PROTO_POLICY_INVALID, &buf, &len, NULL),
                         -EINVAL);
}

static void test_filters_are_whole_instructions_within_limit(void **state)
{
        const struct fixture *fx = *state;

        for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
                size_t len = fx->filter_len[policies[i]];
                const struct sock_filter *last;

                assert_non_null(fx->filter[policies[i]]);
                assert_true(len > 0);
                assert_int_equal(len % sizeof(struct sock_filter), 0);
                assert_true(len <= PROTO_FILTER_MAX);
                last = (const struct sock_filter *)(fx->filter[policies[i]] + len) - 1;
                assert_int_equal(BPF_CLASS(last->code), BPF_RET);
        }
        /* the run policy denies strictly more (socket for every family) */
        assert_memory_not_equal(fx->filter[PROTO_POLICY_COMPILE], fx->filter[PROTO_POLICY_RUN],
                                fx->filter_len[PROTO_POLICY_COMPILE] <
                                                fx->filter_len[PROTO_POLICY_RUN]
                                        ? fx->filter_len[PROTO_POLICY_COMPILE]
                                        : fx->filter_len[PROTO_POLICY_RUN]);
}

/*
 * Reads the BPF itself: the only architecture compared against is x86_64, and every return is
 * allow, an errno or KILL_PROCESS (never libseccomp's default bad-arch action, KILL_THREAD, which
 * would leave the other threads of a JVM running).
 */
static void test_filters_check_only_x86_64_and_kill_whole_processes(void **state)
{
        const struct fixture *fx = *state;

        for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
                const struct sock_filter *insn = (const void *)fx->filter[policies[i]];
                size_t n = fx->filter_len[policies[i]] / sizeof(*insn), kills = 0, arch_checks = 0;

                for (size_t k = 0; k < n; k++) {
                        uint32_t action = insn[k].k & SECCOMP_RET_ACTION_FULL;

                        if (insn[k].code == (BPF_LD | BPF_W | BPF_ABS) &&
                            insn[k].k == offsetof(struct seccomp_data, arch)) {
                                assert_true(k + 1 < n);
                                assert_int_equal(insn[k + 1].code, BPF_JMP | BPF_JEQ | BPF_K);
                                assert_int_equal(insn[k + 1].k, AUDIT_ARCH_X86_64);
                                arch_checks++;
                        }
                        if (insn[k].code != (BPF_RET | BPF_K))
                                continue;
                        if (action == SECCOMP_RET_KILL_PROCESS)
                                kills++;
                        else if (action != SECCOMP_RET_ALLOW && action != SECCOMP_RET_ERRNO)
                                fail_msg("%s policy: instruction %zu returns %#x",
                                         policy_names[policies[i]], k, insn[k].k);
                }
                assert_true(arch_checks >= 1);
                assert_true(kills >= 1);
        }
}

/* ---- what must keep working ---------------------------------------------------------- */

struct program {
        const char *path;
        const char *const *argv;
};

static int do_execve(const void *arg)
{
        const struct program *prog = arg;

        syscall(SYS_execve, prog->path, prog->argv, child_env);
        return CHILD_EXEC_FAILED;
}

/* The init's fexecve path: execveat(fd, "", AT_EMPTY_PATH), the descriptor opened beforehand. */
static int do_execveat(const void *arg)
{
        const int *fd = arg;
        static const char *const argv[] = {"true", NULL};

        syscall(SYS_execveat, *fd, "", argv, child_env, AT_EMPTY_PATH);
        return CHILD_EXEC_FAILED;
}

static void test_policies_allow_execve_and_execveat_of_true(void **state)
{
        static const char *const argv[] = {"/bin/true", NULL};
        const struct program prog = {"/bin/true", argv};
        cleanup_fd int fd = open("/bin/true", O_PATH | O_CLOEXEC);

        assert_true(fd >= 0);
        expect_exit_under_both(*state, do_execve, &prog, 0, "execve /bin/true");
        expect_exit_under_both(*state, do_execveat, &fd, 0, "execveat /bin/true");
}

static void test_policies_allow_python_threads_and_fork(void **state)
{
        static const char *const argv[] = {
                "/usr/bin/python3", "-c",
                "import os,threading; t=threading.Thread(target=print); t.start(); t.join(); "
                "os.fork() or os._exit(0)",
                NULL};
        const struct program prog = {"/usr/bin/python3", argv};

        if (access(prog.path, X_OK) < 0)
                gv_skip();
        return;
        expect_exit_under_both(*state, do_execve, &prog, 0, "python3 with a thread and a fork");
}

/* The distinct JVM binaries under /usr/lib/jvm (symbolic links resolved); NULL-terminated. */
static char **find_jvm_tools(const char *tool)
{
        char pattern[64], real[PATH_MAX];
        char **found;
        size_t n = 0;
        glob_t g;

        snprintf(pattern, sizeof(pattern), "/usr/lib/jvm/*/bin/%s", tool);
        if (glob(pattern, 0, NULL, &g) != 0)
                return xcalloc(1, sizeof(char *));
        found = xcalloc(g.gl_pathc + 1, sizeof(char *));
        for (size_t i = 0; i < g.gl_pathc; i++) {
                bool seen = false;

                if (!realpath(g.gl_pathv[i], real) || access(real, X_OK) < 0)
                        continue;
                for (size_t j = 0; j < n; j++)
                        seen = seen || strcmp(found[j], real) == 0;
                if (!seen)
                        found[n++] = xstrdup(real);
        }
        globfree(&g);
        return found;
}

static void free_strv(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

static void test_policies_allow_java_version(void **state)
{
        char **javas = find_jvm_tools("java");

        if (!javas[0]) {
                free_strv(javas);
                gv_skip();
                return;
        }
        for (size_t i = 0; javas[i]; i++) {
                const char *argv[] = {javas[i], "-version", NULL};
                const struct program prog = {javas[i], argv};

                print_message("%s -version\n", javas[i]);
                expect_exit_under_both(*state, do_execve, &prog, 0, javas[i]);
        }
        free_strv(javas);
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static void test_compile_policy_allows_gcc_and_run_policy_its_program(void **state)
{
        const struct fixture *fx = *state;
        char src[128], exe[128];

        if (access("/usr/bin/gcc", X_OK) < 0)
                gv_skip();
        return;
        snprintf(src, sizeof(src), "%s/hello.c", fx->dir);
        snprintf(exe, sizeof(exe), "%s/hello", fx->dir);
        write_file(src, "#include <pthread.h>\n#include <stdio.h>\n"
                        "static void *hello(void *arg) { puts(arg); return NULL; }\n"
                        "int main(void) { pthread_t t; pthread_create(&t, NULL, hello, \"hi\");"
                        " pthread_join(t, NULL); return 42; }\n");
        {
                const char *argv[] = {"/usr/bin/gcc", "-O2", "-pthread", "-o", exe, src, NULL};
                const struct program gcc = {"/usr/bin/gcc", argv};

                expect_exit(fx, PROTO_POLICY_COMPILE, do_execve, &gcc, 0, "gcc");
        }
        {
                const char *argv[] = {exe, NULL};
                const struct program hello = {exe, argv};

                expect_exit(fx, PROTO_POLICY_RUN, do_execve, &hello, 42, "the compiled program");
        }
}

static void test_compile_policy_allows_javac_and_run_policy_its_class(void **state)
{
        const struct fixture *fx = *state;
        char **javacs = find_jvm_tools("javac");
        char src[128];

        if (!javacs[0]) {
                free_strv(javacs);
                gv_skip();
                return;
        }
        snprintf(src, sizeof(src), "%s/Main.java", fx->dir);
        write_file(src, "public class Main { public static void main(String[] a) throws Exception"
                        " { Thread t = new Thread(() -> System.out.println(\"hi\")); t.start();"
                        " t.join(); System.exit(42); } }\n");
        for (size_t i = 0; javacs[i]; i++) {
                const char *javac_argv[] = {javacs[i], "-d", fx->dir, src, NULL};
                const struct program javac = {javacs[i], javac_argv};
                char java[PATH_MAX];

                snprintf(java, sizeof(java), "%.*s/java",
                         (int)(strrchr(javacs[i], '/') - javacs[i]), javacs[i]);
                const char *java_argv[] = {java, "-cp", fx->dir, "Main", NULL};
                const struct program main_class = {java, java_argv};

                print_message("%s, then %s\n", javacs[i], java);
                expect_exit(fx, PROTO_POLICY_COMPILE, do_execve, &javac, 0, "javac");
                expect_exit(fx, PROTO_POLICY_RUN, do_execve, &main_class, 42, "java Main");
        }
        free_strv(javacs);
}

static int do_fork_by_clone(const void *arg)
{
        long pid, r;
        int status = -1;

        (void)arg;
        pid = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
        if (pid == 0)
                child_exit(7);
        if (pid < 0)
                return errno_of(pid);
        r = syscall(SYS_wait4, pid, &status, 0L, 0L);
        if (r != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 7)
                return CHILD_UNEXPECTED;
        return 0;
}

static void test_policies_allow_clone_without_namespace_flags(void **state)
{
        expect_exit_under_both(*state, do_fork_by_clone, NULL, 0, "clone(SIGCHLD)");
}

static int do_personality(const void *arg)
{
        const unsigned long *persona = arg;

        return errno_of(syscall(SYS_personality, *persona));
}

static void test_policies_allow_personality_query_and_default(void **state)
{
        /* the high half is ignored by the kernel, so it is by the filter */
        static const unsigned long ok[] = {0xffffffffUL, 0, 1UL << 32, 0xdead00000000UL};

        for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
                expect_exit_under_both(*state, do_personality, &ok[i], 0, "personality");
}

struct mknod_arg {
        unsigned long mode; /* the whole register: the high half must not matter */
        char path[120];
};

static int do_mknod(const void *arg)
{
        const struct mknod_arg *a = arg;

        return errno_of(syscall(SYS_mknodat, (long)AT_FDCWD, a->path, a->mode | 0600, 0L));
}

static void test_policies_allow_fifo_and_file_mknod(void **state)
{
        const struct fixture *fx = *state;
        static const mode_t types[] = {S_IFIFO, S_IFREG, S_IFSOCK};

        for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
                for (size_t j = 0; j < ARRAY_SIZE(policies); j++) {
                        struct mknod_arg a = {.mode = types[i]};

                        snprintf(a.path, sizeof(a.path), "%s/node-%zu-%zu", fx->dir, i, j);
                        expect_exit(fx, policies[j], do_mknod, &a, 0, "mknodat");
                }
        }
}

/* ---- what the policies kill -------------------------------------------------------------- */

static int do_ptrace(const void *arg)
{
        (void)arg;
        return returned(syscall(SYS_ptrace, (long)PTRACE_TRACEME, 0L, 0L, 0L));
}

static void test_policies_kill_ptrace(void **state)
{
        expect_sigsys_under_both(*state, do_ptrace, NULL, "ptrace(PTRACE_TRACEME)");
}

static int do_mount(const void *arg)
{
        (void)arg;
        return returned(syscall(SYS_mount, "none", "/nonexistent-gavel", "tmpfs", 0L, NULL));
}

static void test_policies_kill_mount(void **state)
{
        expect_sigsys_under_both(*state, do_mount, NULL, "mount");
}

static int do_unshare_user(const void *arg)
{
        (void)arg;
        return returned(syscall(SYS_unshare, (long)CLONE_NEWUSER));
}

static void test_policies_kill_unshare_of_user_namespace(void **state)
{
        expect_sigsys_under_both(*state, do_unshare_user, NULL, "unshare(CLONE_NEWUSER)");
}

static int do_clone_flags(const void *arg)
{
        const unsigned long *flags = arg;
        long pid = syscall(SYS_clone, *flags | SIGCHLD, 0L, 0L, 0L, 0L);

        if (pid == 0)
                child_exit(0);
        return returned(pid);
}

static void test_policies_kill_clone_with_namespace_flags(void **state)
{
        static const unsigned long flags[] = {
                CLONE_NEWNS,
                CLONE_NEWUSER,
                CLONE_NEWPID,
                CLONE_NEWNET,
                CLONE_NEWUTS,
                CLONE_NEWIPC,
                CLONE_NEWCGROUP,
                CLONE_NEWNS | CLONE_NEWUSER | CLONE_VM,
                (1UL << 32) | CLONE_NEWNS, /* the kernel ignores the high half */
        };
        char what[64];

        for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
                snprintf(what, sizeof(what), "clone(%#lx)", flags[i]);
                expect_sigsys_under_both(*state, do_clone_flags, &flags[i], what);
        }
}

static int do_bpf(const void *arg)
{
        (void)arg;
        return returned(syscall(SYS_bpf, 0L /* BPF_MAP_CREATE */, NULL, 0L));
}

static void test_policies_kill_bpf(void **state)
{
        expect_sigsys_under_both(*state, do_bpf, NULL, "bpf");
}

static int do_keyctl(const void *arg)
{
        (void)arg;
        return returned(syscall(SYS_keyctl, (long)KEYCTL_GET_KEYRING_ID,
                                (long)KEY_SPEC_PROCESS_KEYRING, 0L));
}

static void test_policies_kill_keyctl(void **state)
{
        expect_sigsys_under_both(*state, do_keyctl, NULL, "keyctl");
}

static int do_x32_getpid(const void *arg)
{
        (void)arg;
        return returned(syscall(__X32_SYSCALL_BIT | SYS_getpid));
}

static void test_policies_kill_x32_syscalls(void **state)
{
        expect_sigsys_under_both(*state, do_x32_getpid, NULL, "x32 getpid");
}

static int do_i386_getpid(const void *arg)
{
        long r;

        (void)arg;
        __asm__ volatile("int $0x80"
                         : "=a"(r)
                         : "a"(20L) /* i386 getpid */
                         : "memory", "r8", "r9", "r10", "r11");
        return r > 0 ? 0 : CHILD_UNEXPECTED;
}

static void test_policies_kill_i386_syscalls(void **state)
{
        const struct fixture *fx = *state;
        char buf[64];
        int status;

        /* Without a filter first: some hosts fault on int 0x80 (no IA-32 emulation). */
        status = run_child(fx, PROTO_POLICY_NONE, do_i386_getpid, NULL, -1);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                print_message("int 0x80 without a filter: %s; nothing to test\n",
                              describe(status, buf, sizeof(buf)));
                gv_skip();
                return;
        }
        expect_sigsys_under_both(fx, do_i386_getpid, NULL, "i386 getpid");
}

static void test_policies_kill_personality_changes(void **state)
{
        static const unsigned long bad[] = {
                ADDR_NO_RANDOMIZE,
                READ_IMPLIES_EXEC,
                PER_LINUX32,
                ADDR_COMPAT_LAYOUT,
                MMAP_PAGE_ZERO,
                1,
                0x80000000,
                0x7fffffff,
                0xfffffffe,
                0xfffffff7,
                0x00010000,
                0xffff0000,
                (1UL << 32) | ADDR_NO_RANDOMIZE, /* the high half must not hide it */
                0xffffffff00000001UL,
        };
        char what[64];

        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                snprintf(what, sizeof(what), "personality(%#lx)", bad[i]);
                expect_sigsys_under_both(*state, do_personality, &bad[i], what);
        }
}

static void test_policies_kill_device_mknod(void **state)
{
        const struct fixture *fx = *state;
        static const unsigned long types[] = {S_IFCHR, S_IFBLK, (1UL << 32) | S_IFCHR};

        for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
                struct mknod_arg a = {.mode = types[i]};

                snprintf(a.path, sizeof(a.path), "%s/dev-%zu", fx->dir, i);
                expect_sigsys_under_both(fx, do_mknod, &a, "mknodat of a device");
        }
}

static int do_mknod_old(const void *arg)
{
        const unsigned long *mode = arg;

        return returned(syscall(SYS_mknod, "/nonexistent-gavel/dev", *mode | 0600, 0L));
}

static void test_policies_kill_device_mknod_by_old_syscall(void **state)
{
        static const unsigned long types[] = {S_IFCHR, S_IFBLK};

        for (size_t i = 0; i < ARRAY_SIZE(types); i++)
                expect_sigsys_under_both(*state, do_mknod_old, &types[i], "mknod of a device");
}

static int do_ioctl(const void *arg)
{
        const unsigned long *cmd = arg;
        char c = 'x';

        return returned(syscall(SYS_ioctl, 0L, *cmd, &c));
}

static int do_tcgets(const void *arg)
{
        char termios[64];

        (void)arg;
        syscall(SYS_ioctl, 0L, (long)TCGETS, termios); /* not a terminal: ENOTTY, either way */
        return 0;
}

static void test_policies_kill_terminal_injection_ioctls(void **state)
{
        static const unsigned long cmds[] = {TIOCSTI, TIOCLINUX, (1UL << 32) | TIOCSTI};

        for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
                expect_sigsys_under_both(*state, do_ioctl, &cmds[i], "ioctl TIOCSTI/TIOCLINUX");
        expect_exit_under_both(*state, do_tcgets, NULL, 0, "ioctl TCGETS");
}

/* Every syscall both policies kill whatever its arguments, called with all arguments -1 (which
 * would only fail with EINVAL, EFAULT or EBADF if the filter let it through). */
static const struct {
        const char *name;
        long nr;
} killed[] = {
#define K(s)                \
        {                   \
#s, SYS_##s \
        }
        K(ptrace),
        K(process_vm_readv),
        K(process_vm_writev),
        K(kcmp),
        K(pidfd_getfd),
        K(process_madvise),
        K(mount),
        K(umount2),
        K(pivot_root),
        K(chroot),
        K(fsopen),
        K(fsconfig),
        K(fsmount),
        K(fspick),
        K(move_mount),
        K(open_tree),
        K(mount_setattr),
        K(unshare),
        K(setns),
        K(bpf),
        K(perf_event_open),
        K(userfaultfd),
        K(io_uring_setup),
        K(io_uring_enter),
        K(io_uring_register),
        K(keyctl),
        K(add_key),
        K(request_key),
        K(lookup_dcookie),
        K(fanotify_init),
        K(modify_ldt),
        K(uselib),
        K(kexec_load),
        K(kexec_file_load),
        K(init_module),
        K(finit_module),
        K(delete_module),
        K(reboot),
        K(swapon),
        K(swapoff),
        K(acct),
        K(quotactl),
        K(quotactl_fd),
        K(syslog),
        K(settimeofday),
        K(clock_settime),
        K(clock_adjtime),
        K(adjtimex),
        K(sethostname),
        K(setdomainname),
        K(iopl),
        K(ioperm),
        K(open_by_handle_at),
        K(name_to_handle_at),
#undef K
};

static int do_all_minus_one(const void *arg)
{
        const long *nr = arg;

        return returned(syscall(*nr, -1L, -1L, -1L, -1L, -1L, -1L));
}

static void test_policies_kill_every_denied_syscall(void **state)
{
        for (size_t i = 0; i < ARRAY_SIZE(killed); i++)
                expect_sigsys_under_both(*state, do_all_minus_one, &killed[i].nr, killed[i].name);
}

/* ---- what the policies refuse with an errno ------------------------------------------- */

static int do_clone3(const void *arg)
{
        struct clone_args args = {.exit_signal = SIGCHLD};
        long pid;

        (void)arg;
        pid = syscall(SYS_clone3, &args, sizeof(args));
        if (pid == 0)
                child_exit(0);
        return pid < 0 ? errno : CHILD_UNEXPECTED;
}

static void test_policies_return_enosys_for_clone3(void **state)
{
        expect_exit_under_both(*state, do_clone3, NULL, ENOSYS, "clone3");
}

/* Linux AIO: a context is refused, so no unkillable O_DIRECT read can be submitted. */
static int do_io_setup(const void *arg)
{
        unsigned long ctx = 0;
        long r;

        (void)arg;
        r = syscall(SYS_io_setup, 128L, &ctx);
        if (r == 0)
                syscall(SYS_io_destroy, ctx);
        return errno_of(r);
}

/* io_submit on a made-up context: ENOSYS from the filter, not EINVAL from the kernel. */
static int do_io_submit(const void *arg)
{
        (void)arg;
        return errno_of(syscall(SYS_io_submit, 1L, 0L, NULL));
}

static void test_policies_return_enosys_for_linux_aio(void **state)
{
        expect_exit_under_both(*state, do_io_setup, NULL, ENOSYS, "io_setup");
        expect_exit_under_both(*state, do_io_submit, NULL, ENOSYS, "io_submit");
}

static int do_socket(const void *arg)
{
        const int *family = arg;
        long fd = syscall(SYS_socket, (long)*family, (long)(SOCK_STREAM | SOCK_CLOEXEC), 0L);

        if (fd >= 0)
                syscall(SYS_close, fd);
        return errno_of(fd);
}

static void test_policies_refuse_network_sockets_with_eperm(void **state)
{
        static const int families[] = {AF_INET, AF_INET6, AF_NETLINK, AF_PACKET};

        for (size_t i = 0; i < ARRAY_SIZE(families); i++)
                expect_exit_under_both(*state, do_socket, &families[i], EPERM, "socket");
}

static void test_run_policy_refuses_unix_sockets_compile_policy_allows_them(void **state)
{
        static const int family = AF_UNIX;

        expect_exit(*state, PROTO_POLICY_COMPILE, do_socket, &family, 0, "socket(AF_UNIX)");
        expect_exit(*state, PROTO_POLICY_RUN, do_socket, &family, EPERM, "socket(AF_UNIX)");
}

/* The sync family on a descriptor that is not open: EBADF when the call reaches the kernel,
 * 0 when the filter answers it. Exits with the first errno seen, or 0 when all four gave 0. */
static int do_sync_family(const void *arg)
{
        long r;

        (void)arg;
        r = syscall(SYS_fsync, -1L);
        if (r == 0)
                r = syscall(SYS_fdatasync, -1L);
        if (r == 0)
                r = syscall(SYS_syncfs, -1L);
        if (r == 0)
                r = syscall(SYS_sync_file_range, -1L, 0L, 0L, 0L);
        return errno_of(r);
}

static void test_run_policy_answers_the_sync_family_without_the_kernel(void **state)
{
        expect_exit(*state, PROTO_POLICY_COMPILE, do_sync_family, NULL, EBADF, "fsync(-1)");
        expect_exit(*state, PROTO_POLICY_RUN, do_sync_family, NULL, 0, "fsync(-1) ... (-1)");
}

static int do_socketpair(const void *arg)
{
        int sv[2];
        long r;

        (void)arg;
        r = syscall(SYS_socketpair, (long)AF_UNIX, (long)(SOCK_STREAM | SOCK_CLOEXEC), 0L, sv);
        return errno_of(r);
}

static void test_policies_allow_unix_socketpair(void **state)
{
        expect_exit_under_both(*state, do_socketpair, NULL, 0, "socketpair(AF_UNIX)");
}

/* ---- measurements (printed, not asserted) --------------------------------------------- */

static double now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

#define SYSCALL_LOOPS 200000

/* Per-call cost in ns of getppid (no rule: the kernel's action cache answers) and of
 * ioctl(-1, TCGETS) (ioctl has argument rules: the filter runs), written to arg. */
static int do_time_syscalls(const void *arg)
{
        double *ns = (double *)arg;
        double t0 = now_us();

        for (int i = 0; i < SYSCALL_LOOPS; i++)
                syscall(SYS_getppid);
        ns[0] = (now_us() - t0) * 1e3 / SYSCALL_LOOPS;
        t0 = now_us();
        for (int i = 0; i < SYSCALL_LOOPS; i++)
                syscall(SYS_ioctl, -1L, (long)TCGETS, 0L);
        ns[1] = (now_us() - t0) * 1e3 / SYSCALL_LOOPS;
        return 0;
}

static void test_compile_cost_and_filter_size_are_reported(void **state)
{
        const struct fixture *fx = *state;
        static const enum proto_policy all[] = {PROTO_POLICY_NONE, PROTO_POLICY_COMPILE,
                                                PROTO_POLICY_RUN};
        double samples[200];
        double *ns = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

        assert_true(ns != MAP_FAILED);
        for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
                enum proto_policy p = policies[i];

                for (size_t k = 0; k < ARRAY_SIZE(samples); k++) {
                        uint8_t *buf = NULL;
                        size_t len = 0;
                        double t0 = now_us();

                        assert_int_equal(sandbox__seccomp_compile(p, &buf, &len, NULL), 0);
                        samples[k] = now_us() - t0;
                        free(buf);
                }
                qsort(samples, ARRAY_SIZE(samples), sizeof(samples[0]), cmp_double);
                fprintf(stderr,
                        "seccomp policy=%s compile_us_median=%.1f compile_us_p90=%.1f "
                        "bytes=%zu instructions=%zu\n",
                        policy_names[p], samples[ARRAY_SIZE(samples) / 2],
                        samples[ARRAY_SIZE(samples) * 9 / 10], fx->filter_len[p],
                        fx->filter_len[p] / sizeof(struct sock_filter));
        }
        for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
                expect_exit(fx, all[i], do_time_syscalls, ns, 0, "timing");
                fprintf(stderr, "seccomp policy=%s getppid_ns=%.0f ioctl_ns=%.0f\n",
                        policy_names[all[i]], ns[0], ns[1]);
        }
        munmap(ns, 4096);
}

/* 0 when seccomp filter mode works here, else the errno of loading an allow-all filter. */
static int probe_filter_mode(void)
{
        int status;
        pid_t pid;

        if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
                return errno;
        pid = fork();
        if (pid < 0)
                return errno;
        if (pid == 0) {
                struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
                struct sock_fprog prog = {.len = 1, .filter = &allow};

                if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0 ||
                    syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0L, 0L) < 0)
                        child_exit(errno);
                child_exit(0);
        }
        if (waitpid(pid, &status, 0) < 0)
                return errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
                T(test_none_policy_compiles_to_no_filter),
                T(test_unknown_policy_is_rejected_and_outputs_untouched),
                T(test_filters_are_whole_instructions_within_limit),
                T(test_filters_check_only_x86_64_and_kill_whole_processes),
                T(test_policies_allow_execve_and_execveat_of_true),
                T(test_policies_allow_python_threads_and_fork),
                T(test_policies_allow_java_version),
                T(test_compile_policy_allows_gcc_and_run_policy_its_program),
                T(test_compile_policy_allows_javac_and_run_policy_its_class),
                T(test_policies_allow_clone_without_namespace_flags),
                T(test_policies_allow_personality_query_and_default),
                T(test_policies_allow_fifo_and_file_mknod),
                T(test_policies_allow_unix_socketpair),
                T(test_policies_kill_ptrace),
                T(test_policies_kill_mount),
                T(test_policies_kill_unshare_of_user_namespace),
                T(test_policies_kill_clone_with_namespace_flags),
                T(test_policies_kill_bpf),
                T(test_policies_kill_keyctl),
                T(test_policies_kill_x32_syscalls),
                T(test_policies_kill_i386_syscalls),
                T(test_policies_kill_personality_changes),
                T(test_policies_kill_device_mknod),
                T(test_policies_kill_device_mknod_by_old_syscall),
                T(test_policies_kill_terminal_injection_ioctls),
                T(test_policies_kill_every_denied_syscall),
                T(test_policies_return_enosys_for_clone3),
                T(test_policies_return_enosys_for_linux_aio),
                T(test_policies_refuse_network_sockets_with_eperm),
                T(test_run_policy_refuses_unix_sockets_compile_policy_allows_them),
                T(test_run_policy_answers_the_sync_family_without_the_kernel),
                T(test_compile_cost_and_filter_size_are_reported),
#undef T
        };
        int r = probe_filter_mode();

        if (r == EINVAL || r == ENOSYS) {
                fprintf(stderr, "seccomp filter mode unavailable: %s\n", strerror(r));
                return 77;
        }
        return gv_run_group(tests, NULL, NULL);
}
