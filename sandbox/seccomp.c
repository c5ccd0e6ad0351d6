/* SPDX-License-Identifier: MIT */
/*
 * The seccomp policies: default-allow filters with a deny list, compiled with libseccomp into raw
 * BPF once at start. Allow-lists break interpreters and JVMs, so every other syscall stays
 * allowed and each rule below says what it stops; fork bombs, memory and time are the job of
 * cgroups and rlimits. Only native x86_64 is in the filter: i386 and x32 calls kill the process.
 */
#include <errno.h>
#include <linux/filter.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/seccomp-internal.h"
#include "schema/cleanup.h"

#ifndef __x86_64__
#error "the seccomp policies are written for x86_64 (syscall names, the x32 bit, iopl)"
#endif

/* Kill the whole process, not one thread: a JVM would run on without the thread. SIGSYS. */
#define KILL SCMP_ACT_KILL_PROCESS

/* Which policies a rule belongs to. */
enum {
        IN_COMPILE = 1 << PROTO_POLICY_COMPILE,
        IN_RUN = 1 << PROTO_POLICY_RUN,
        IN_BOTH = IN_COMPILE | IN_RUN,
};

struct rule {
        const char *name;        /* the syscall, for error messages */
        int nr;                  /* its x86_64 number */
        uint32_t action;         /* SCMP_ACT_... taken when the rule matches */
        unsigned int policies;   /* IN_... */
        unsigned int n_cmps;     /* 0: every call matches; 1: only calls that match cmp */
        struct scmp_arg_cmp cmp; /* libseccomp allows one comparison per argument per rule */
};

#define SYS(s) .name = #s, .nr = SCMP_SYS(s)

/*
 * Argument a masked with mask equals value, looking at the low 32 bits only: the kernel reads an
 * int (or, for clone, the low half of the flags) from the register and ignores the high half, so
 * garbage there must neither hide a match nor create one.
 */
#define LOW32_MASKED_EQ(a, mask, value) \
        .n_cmps = 1, .cmp = {(a), SCMP_CMP_MASKED_EQ, (uint32_t)(mask), (uint32_t)(value)}

static const struct rule rules[] = {
        /* --- other processes: what a ptrace-class capability gives ------------------------- */

        /* Attaching to, reading and writing another process (e.g. the interactor or checker). */
        {SYS(ptrace), KILL, IN_BOTH},
        /* Reading another process's memory without attaching. */
        {SYS(process_vm_readv), KILL, IN_BOTH},
        /* Writing another process's memory without attaching. */
        {SYS(process_vm_writev), KILL, IN_BOTH},
        /* Comparing kernel objects of two processes: orders kernel pointers, a KASLR leak. */
        {SYS(kcmp), KILL, IN_BOTH},
        /* Copying a descriptor out of another process. */
        {SYS(pidfd_getfd), KILL, IN_BOTH},
        /* Advising the kernel about (and reclaiming) another process's memory. */
        {SYS(process_madvise), KILL, IN_BOTH},

        /* --- the container's view: mounts, root, namespaces -------------------------------- */

        /* Mounting over or beside the prepared tree (the container's user namespace owns it). */
        {SYS(mount), KILL, IN_BOTH},
        /* Unmounting what hides the host underneath (e.g. the read-only binds). */
        {SYS(umount2), KILL, IN_BOTH},
        /* Swapping the root; with a mount, a way back to the host's tree. */
        {SYS(pivot_root), KILL, IN_BOTH},
        /* Changing root; the classic chroot escape needs it. */
        {SYS(chroot), KILL, IN_BOTH},
        /* The new mount API, the same powers as mount: a filesystem context... */
        {SYS(fsopen), KILL, IN_BOTH},
        /* ...configured, */
        {SYS(fsconfig), KILL, IN_BOTH},
        /* ...turned into a detached mount, */
        {SYS(fsmount), KILL, IN_BOTH},
        /* ...or picked from an existing mount to reconfigure, */
        {SYS(fspick), KILL, IN_BOTH},
        /* ...attached anywhere, */
        {SYS(move_mount), KILL, IN_BOTH},
        /* ...or a copy of a subtree taken, */
        {SYS(open_tree), KILL, IN_BOTH},
        /* ...or mount flags such as read-only or nosuid cleared. */
        {SYS(mount_setattr), KILL, IN_BOTH},
        /* New namespaces: a user namespace brings a full capability set and with it the kernel
         * code only root could reach (netfilter, mounts of many filesystems). */
        {SYS(unshare), KILL, IN_BOTH},
        /* Joining another namespace through a descriptor that leaked in. */
        {SYS(setns), KILL, IN_BOTH},
        /* clone that creates namespaces, one rule per flag (one comparison per rule): */
        /* a mount namespace, */
        {SYS(clone), KILL, IN_BOTH, LOW32_MASKED_EQ(0, CLONE_NEWNS, CLONE_NEWNS)},
        /* a user namespace, */
        {SYS(clone), KILL, IN_BOTH, LOW32_MASKED_EQ(0, CLONE_NEWUSER, CLONE_NEWUSER)},
        /* a pid namespace, */
        {SYS(clone), KILL, IN_BOTH, LOW32_MASKED_EQ(0, CLONE_NEWPID, CLONE_NEWPID)},
        /* a network namespace, */
        {SYS(clone), KILL, IN_BOTH, LOW32_MASKED_EQ(0, CLONE_NEWNET, CLONE_NEWNET)},
        /* a UTS namespace, */
        {SYS(clone), KILL, IN_BOTH, LOW32_MASKED_EQ(0, CLONE_NEWUTS, CLONE_NEWUTS)},
        /* an IPC namespace, */
        {SYS(clone), KILL, IN_BOTH, LOW32_MASKED_EQ(0, CLONE_NEWIPC, CLONE_NEWIPC)},
        /* a cgroup namespace. (CLONE_NEWTIME cannot be passed to clone: its bit is in CSIGNAL.) */
        {SYS(clone), KILL, IN_BOTH, LOW32_MASKED_EQ(0, CLONE_NEWCGROUP, CLONE_NEWCGROUP)},
        /* clone3 passes its flags in a struct the filter cannot read, so no clone3 at all; ENOSYS
         * makes glibc (pthread_create, posix_spawn) fall back to clone, which is checked above. */
        {SYS(clone3), SCMP_ACT_ERRNO(ENOSYS), IN_BOTH},

        /* --- kernel attack surface nobody judged needs ----------------------------------- */

        /* Loading eBPF programs and maps: a large verifier, a long CVE history. */
        {SYS(bpf), KILL, IN_BOTH},
        /* Performance counters: kernel pointers and side channels, a long CVE history. */
        {SYS(perf_event_open), KILL, IN_BOTH},
        /* Stalling the kernel at a page fault, the standard tool to win kernel races. */
        {SYS(userfaultfd), KILL, IN_BOTH},
        /* io_uring runs its operations (openat, connect, ...) without passing this filter, */
        {SYS(io_uring_setup), KILL, IN_BOTH},
        /* ...so none of its three calls are allowed, */
        {SYS(io_uring_enter), KILL, IN_BOTH},
        /* ...on a ring that leaked in either. */
        {SYS(io_uring_register), KILL, IN_BOTH},
        /* Linux AIO (libaio's io_setup family): an O_DIRECT read it submits cannot be cancelled,
         * and a process with hundreds in flight stays unkillable in exit_aio for seconds after
         * SIGKILL, turning a limit into a container that does not end its run (issue 13).
         * Nothing judged needs it: glibc's POSIX aio_* uses threads, not these calls. ENOSYS,
         * as on a kernel built without AIO, so libraries that probe for it fall back. */
        {SYS(io_setup), SCMP_ACT_ERRNO(ENOSYS), IN_BOTH},
        /* ...submitting on a context that leaked in, */
        {SYS(io_submit), SCMP_ACT_ERRNO(ENOSYS), IN_BOTH},
        /* ...and the rest of the family, refused alike so no half of it works. */
        {SYS(io_getevents), SCMP_ACT_ERRNO(ENOSYS), IN_BOTH},
        {SYS(io_pgetevents), SCMP_ACT_ERRNO(ENOSYS), IN_BOTH},
        {SYS(io_cancel), SCMP_ACT_ERRNO(ENOSYS), IN_BOTH},
        {SYS(io_destroy), SCMP_ACT_ERRNO(ENOSYS), IN_BOTH},
        /* The kernel keyrings are not namespaced: keys of the host's users, */
        {SYS(keyctl), KILL, IN_BOTH},
        /* ...adding keys to them, */
        {SYS(add_key), KILL, IN_BOTH},
        /* ...and upcalls to the host's request-key helpers. */
        {SYS(request_key), KILL, IN_BOTH},
        /* Profiling dcookies (oprofile): kernel paths of other processes' mappings. */
        {SYS(lookup_dcookie), KILL, IN_BOTH},
        /* Watching file access across the whole mount or filesystem. */
        {SYS(fanotify_init), KILL, IN_BOTH},
        /* Per-process segment descriptors: only 16-bit and Wine code uses them, and the LDT code
         * has had privilege escalations (CVE-2015-5157, CVE-2017-17053). */
        {SYS(modify_ldt), KILL, IN_BOTH},
        /* Loading an a.out library: obsolete, and once a privilege escalation (CVE-2004-1235). */
        {SYS(uselib), KILL, IN_BOTH},

        /* --- the host's global state (these need capabilities the container should lack; the
         *     filter holds if one leaks) ----------------------------------------------------- */

        /* Replacing the running kernel, */
        {SYS(kexec_load), KILL, IN_BOTH},
        /* ...also from a file. */
        {SYS(kexec_file_load), KILL, IN_BOTH},
        /* Loading kernel modules, */
        {SYS(init_module), KILL, IN_BOTH},
        /* ...also from a file, */
        {SYS(finit_module), KILL, IN_BOTH},
        /* ...and unloading them. */
        {SYS(delete_module), KILL, IN_BOTH},
        /* Rebooting or halting the host (or, in a pid namespace, killing the container). */
        {SYS(reboot), KILL, IN_BOTH},
        /* Adding swap, */
        {SYS(swapon), KILL, IN_BOTH},
        /* ...and removing it. */
        {SYS(swapoff), KILL, IN_BOTH},
        /* Process accounting to a file of one's choice. */
        {SYS(acct), KILL, IN_BOTH},
        /* Disk quotas, */
        {SYS(quotactl), KILL, IN_BOTH},
        /* ...also through a descriptor. */
        {SYS(quotactl_fd), KILL, IN_BOTH},
        /* Reading or clearing the kernel log: kernel addresses and other tenants' traces. */
        {SYS(syslog), KILL, IN_BOTH},
        /* Setting the clock (time limits are measured with it), */
        {SYS(settimeofday), KILL, IN_BOTH},
        /* ...any clock, */
        {SYS(clock_settime), KILL, IN_BOTH},
        /* ...or its frequency, */
        {SYS(clock_adjtime), KILL, IN_BOTH},
        /* ...the old way too. */
        {SYS(adjtimex), KILL, IN_BOTH},
        /* Renaming the host (or the container's UTS namespace), */
        {SYS(sethostname), KILL, IN_BOTH},
        /* ...or its NIS domain. */
        {SYS(setdomainname), KILL, IN_BOTH},
        /* Raw port I/O for the whole port range, */
        {SYS(iopl), KILL, IN_BOTH},
        /* ...or some ports. */
        {SYS(ioperm), KILL, IN_BOTH},

        /* --- files outside the container's view --------------------------------------------- */

        /* Opening a file by handle ignores the mount tree: the "shocker" container escape. */
        {SYS(open_by_handle_at), KILL, IN_BOTH},
        /* Its other half, which also leaks inode numbers and generations. */
        {SYS(name_to_handle_at), KILL, IN_BOTH},
        /* Device nodes: a block device is the host's disk, a char device may be memory or a tty.
         * Regular files, fifos and sockets stay allowed (harmless in the container's tmpfs, and
         * mkfifo is a legitimate thing for a program to do). The mode is the second argument
         * of mknod: a character device, */
        {SYS(mknod), KILL, IN_BOTH, LOW32_MASKED_EQ(1, S_IFMT, S_IFCHR)},
        /* ...a block device; and the same for mknodat, where the mode is the third argument: */
        {SYS(mknod), KILL, IN_BOTH, LOW32_MASKED_EQ(1, S_IFMT, S_IFBLK)},
        /* a character device, */
        {SYS(mknodat), KILL, IN_BOTH, LOW32_MASKED_EQ(2, S_IFMT, S_IFCHR)},
        /* ...a block device. */
        {SYS(mknodat), KILL, IN_BOTH, LOW32_MASKED_EQ(2, S_IFMT, S_IFBLK)},
        /* Faking input on a terminal that leaked in: typed commands run outside the container. */
        {SYS(ioctl), KILL, IN_BOTH, LOW32_MASKED_EQ(1, 0xffffffffU, TIOCSTI)},
        /* The same through the Linux console's selection paste. */
        {SYS(ioctl), KILL, IN_BOTH, LOW32_MASKED_EQ(1, 0xffffffffU, TIOCLINUX)},

        /* --- budgets the whole host shares ------------------------------------------------- */

        /* Run: flushing dirty pages to disk. sync() writes back every filesystem of the host,
         * so a loop of them stalls every other container's and the host's I/O; a submission
         * writes only to tmpfs, where flushing does nothing anyway. A success that does
         * nothing (errno 0), so programs that sync their output run on unchanged: */
        {SYS(sync), SCMP_ACT_ERRNO(0), IN_RUN},
        /* ...one filesystem, */
        {SYS(syncfs), SCMP_ACT_ERRNO(0), IN_RUN},
        /* ...one file, */
        {SYS(fsync), SCMP_ACT_ERRNO(0), IN_RUN},
        /* ...its data, */
        {SYS(fdatasync), SCMP_ACT_ERRNO(0), IN_RUN},
        /* ...or a range of it. */
        {SYS(sync_file_range), SCMP_ACT_ERRNO(0), IN_RUN},

        /* --- the network ------------------------------------------------------------------- */

        /* Compile: no network sockets (the container has no network anyway; this makes the
         * failure fast and clear). Unix sockets stay, for build tools that talk to helpers and
         * for glibc's NSS (getpwuid asks nscd over a unix socket). EPERM, not a kill, so tools
         * that only probe for the network carry on. The comparison is 64-bit: a high half
         * that is not zero makes the call fail, which is the safe side. */
        {SYS(socket), SCMP_ACT_ERRNO(EPERM), IN_COMPILE, .n_cmps = 1,
         .cmp = {.arg = 0, .op = SCMP_CMP_NE, .datum_a = AF_UNIX}},
        /* Run: no socket of any family, unix ones included, so a submission cannot reach a
         * helper or another container through a socket file in a shared directory. EPERM, not
         * a kill: the JVM's startup (glibc's NSS, via nscd) opens a unix socket, and anything
         * that handles the error runs on to a normal verdict. socketpair stays allowed: it only
         * makes a connected pair inside the process, like pipe (asyncio uses it). */
        {SYS(socket), SCMP_ACT_ERRNO(EPERM), IN_RUN},
};

/*
 * personality: killed except for 0 (PER_LINUX, the default, which resets it) and 0xffffffff (the
 * query); every other persona changes what exec does (ADDR_NO_RANDOMIZE turns ASLR off,
 * READ_IMPLIES_EXEC makes data executable, ...). The kernel reads an unsigned int, so only the
 * low 32 bits count. libseccomp cannot say "not in {0, 0xffffffff}" under a default-allow
 * action (one comparison per argument per rule, and no allow rules), so the rules cover that set
 * as a union instead: a value whose 32 bits are neither all zeros nor all ones has some bit i
 * set whose neighbour i + 1 (bit 31's neighbour is bit 0) is clear. 32 rules.
 */
static int add_personality_rules(scmp_filter_ctx ctx, struct gv_err *err)
{
        for (unsigned int i = 0; i < 32; i++) {
                uint32_t bit = 1U << i, next = 1U << ((i + 1) % 32);
                int r;

                r = seccomp_rule_add_exact(ctx, KILL, SCMP_SYS(personality), 1,
                                           SCMP_A0(SCMP_CMP_MASKED_EQ, bit | next, bit));
                if (r < 0)
                        return gv_err_errno(err, r, "add rule for personality bit %u", i);
        }
        return 0;
}

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

/* libseccomp 2.5 can only export to a descriptor: export to a memfd and read it back. */
static int export_bpf(scmp_filter_ctx ctx, uint8_t **ret_buf, size_t *ret_len, struct gv_err *err)
{
        cleanup_free uint8_t *buf = NULL;
        cleanup_fd int fd = -1;
        struct stat st;
        size_t len, done = 0;
        int r;

        fd = memfd_create("gavel-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return gv_err_errno(err, -errno, "memfd_create");
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return gv_err_errno(err, r, "export bpf");
        if (fstat(fd, &st) < 0)
                return gv_err_errno(err, -errno, "fstat exported bpf");
        len = (size_t)st.st_size;
        if (len == 0 || len % sizeof(struct sock_filter) != 0)
                return gv_err_set(err, -EIO, "exported bpf is %zu bytes, not whole instructions",
                                  len);
        if (len > PROTO_FILTER_MAX)
                return gv_err_set(err, -E2BIG, "bpf is %zu bytes, over the limit of %d", len,
                                  PROTO_FILTER_MAX);
        buf = xmalloc(len);
        while (done < len) {
                ssize_t n = pread(fd, buf + done, len - done, (off_t)done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return gv_err_errno(err, -errno, "read exported bpf");
                if (n == 0)
                        return gv_err_set(err, -EIO, "exported bpf shrank while read");
                done += (size_t)n;
        }
        *ret_buf = steal_pointer(&buf);
        *ret_len = len;
        return 0;
}

/*
 * Keeps no state between calls, so concurrent calls are independent apart from libseccomp's
 * own one-time probe of the kernel's features (the caller compiles each policy once at start).
 */
int sandbox__seccomp_compile(enum proto_policy policy, uint8_t **ret_buf, size_t *ret_len,
                             struct gv_err *err)
{
        scmp_filter_ctx ctx cleanup(seccomp_releasep) = NULL;
        int r;

        switch (policy) {
        case PROTO_POLICY_NONE:
                *ret_buf = NULL;
                *ret_len = 0;
                return 0;
        case PROTO_POLICY_COMPILE:
        case PROTO_POLICY_RUN:
                break;
        case _PROTO_POLICY_MAX:
        case _PROTO_POLICY_INVALID:
        default:
                return gv_err_set(err, -EINVAL, "unknown seccomp policy %d", (int)policy);
        }

        /* The native architecture, x86_64, only: no other ABI is added. */
        ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return gv_err_set(err, -ENOMEM, "seccomp_init failed");
        /* Real errnos from libseccomp, not -ECANCELED for everything the kernel refuses. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
        if (r < 0)
                return gv_err_errno(err, r, "set the raw return code attribute");
        /* i386 (int 0x80) and x32 (nr | __X32_SYSCALL_BIT) calls would pass a filter written
         * for x86_64 numbers, so they kill the process; the default, KILL_THREAD, would leave
         * the rest of a multi-threaded process running. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, KILL);
        if (r < 0)
                return gv_err_errno(err, r, "set the bad-architecture action");
        /* A binary tree on the syscall number instead of a linear list: the few calls whose
         * arguments are checked (ioctl, clone, socket, ...) do not walk every rule, and the
         * others the kernel's action cache decides without running the filter at all. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        if (r < 0)
                return gv_err_errno(err, r, "set the binary-tree optimization");

        for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
                const struct rule *rule = &rules[i];

                if (!(rule->policies & (1U << policy)))
                        continue;
                r = seccomp_rule_add_exact_array(ctx, rule->action, rule->nr, rule->n_cmps,
                                                 rule->n_cmps ? &rule->cmp : NULL);
                if (r < 0)
                        return gv_err_errno(err, r, "add rule %zu for %s", i, rule->name);
        }
        r = add_personality_rules(ctx, err);
        if (r < 0)
                return r;

        return export_bpf(ctx, ret_buf, ret_len, err);
}
