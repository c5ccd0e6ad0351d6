/* SPDX-License-Identifier: MIT */
/*
 * The pure parsers behind cgroup detection: /proc/self/mountinfo, /proc/self/cgroup, the choice
 * of mode, and flat-keyed counter files. Samples: the team's hybrid VM (verbatim), a cgroup
 * v2-only systemd host, a v1-only host with co-mounted cpu,cpuacct, a container without a cgroup
 * namespace, and malformed text. No privileges needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sandbox/cgroup-internal.h"

/* ---- samples ------------------------------------------------------------------------------ */

/* the team's machine, verbatim: v1 controllers each on their own (cpu and cpuacct separate),
 * plus cgroup2 at /sys/fs/cgroup/unified */
static const char hybrid_mountinfo[] =
        "21 26 0:20 / /proc rw,relatime - proc proc rw\n"
        "22 26 0:21 / /sys rw,relatime - sysfs sysfs rw\n"
        "23 26 0:6 / /dev rw,relatime - devtmpfs devtmpfs "
        "rw,size=12334448k,nr_inodes=3083612,mode=755\n"
        "24 23 0:22 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683620k\n"
        "25 23 0:23 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000\n"
        "26 1 254:0 / / rw,relatime - ext4 /dev/vda "
        "rw,discard,resv_strict,resuid=65534,resgid=65534\n"
        "27 26 0:24 / /mnt/sandboxing/model_tools_env/v1/python ro,nosuid,nodev,relatime - tmpfs "
        "model_tools_unavailable ro,size=4k,mode=755\n"
        "28 25 0:25 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000\n"
        "29 24 0:26 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683620k\n"
        "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
        "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
        "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
        "36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
        "37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
        "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
        "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
        "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static const char hybrid_self[] = "9:name=systemd:/\n"
                                  "8:pids:/\n"
                                  "7:blkio:/\n"
                                  "6:freezer:/\n"
                                  "5:devices:/\n"
                                  "4:memory:/process_api/e4935ea1ff81be6edba4a06154588bce\n"
                                  "3:cpuset:/\n"
                                  "2:cpuacct:/\n"
                                  "1:cpu:/\n"
                                  "0::/\n";

/* Debian 12 with systemd: unified only, shared propagation tags, an nsfs mount whose root is
 * not a path */
static const char v2_mountinfo[] =
        "22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
        "23 28 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw\n"
        "28 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
        "26 22 0:6 / /sys/kernel/security rw,nosuid,nodev,noexec,relatime shared:8 - securityfs "
        "securityfs rw\n"
        "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
        "rw,nsdelegate,memory_recursiveprot\n"
        "31 22 0:27 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:10 - pstore pstore rw\n"
        "32 22 0:28 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:11 - bpf bpf rw,mode=700\n"
        "612 25 0:4 net:[4026532500] /run/netns/judge rw shared:290 - nsfs nsfs rw\n";

static const char v2_self[] = "0::/system.slice/gavel.service\n";

/* CentOS 7 style: v1 only, cpu and cpuacct co-mounted, a named systemd hierarchy */
static const char v1_mountinfo[] =
        "18 60 0:17 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw\n"
        "24 18 0:20 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:7 - tmpfs tmpfs ro,mode=755\n"
        "25 24 0:21 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:8 - cgroup "
        "cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd\n"
        "28 24 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - "
        "cgroup cgroup rw,cpu,cpuacct\n"
        "29 24 0:25 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup "
        "cgroup rw,memory\n"
        "30 24 0:26 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:13 - cgroup "
        "cgroup rw,pids\n"
        "31 24 0:27 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:14 - cgroup "
        "cgroup rw,freezer\n"
        "32 24 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - "
        "cgroup cgroup rw,net_prio,net_cls\n"
        "60 0 253:0 / / rw,relatime shared:1 - xfs /dev/mapper/centos-root rw,attr2,noquota\n";

static const char v1_self[] = "11:pids:/user.slice/user-1000.slice/session-1.scope\n"
                              "10:freezer:/\n"
                              "9:net_prio,net_cls:/\n"
                              "8:memory:/user.slice\n"
                              "4:cpu,cpuacct:/user.slice\n"
                              "1:name=systemd:/user.slice/user-1000.slice/session-1.scope\n";

/* a container without a cgroup namespace: the host's memory cgroup of the container is bind
 * mounted, and /proc/self/cgroup shows host paths */
static const char docker_mountinfo[] =
        "700 650 0:31 /docker/3f2a /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:16 "
        "- cgroup cgroup rw,memory\n"
        "701 650 0:35 /docker/3f2a /sys/fs/cgroup/pids ro,nosuid,nodev,noexec,relatime master:20 - "
        "cgroup cgroup rw,pids\n";

/* ---- fixture ------------------------------------------------------------------------------ */

struct fixture {
        struct cgroup_mounts m;
        struct gv_err err;
        char buf[4096];
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        free(*state);
        return 0;
}

/* ---- mountinfo ---------------------------------------------------------------------------- */

static void test_mountinfo_finds_separate_cpuacct_and_unified_mounts_on_hybrid_host(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(sandbox__cgroup_parse_mountinfo(hybrid_mountinfo, &f->m, &f->err), 0);
        assert_string_equal(f->m.v2.path, "/sys/fs/cgroup/unified");
        assert_string_equal(f->m.memory.path, "/sys/fs/cgroup/memory");
        assert_string_equal(f->m.pids.path, "/sys/fs/cgroup/pids");
        assert_string_equal(f->m.cpuacct.path, "/sys/fs/cgroup/cpuacct"); /* not .../cpu */
        assert_string_equal(f->m.freezer.path, "/sys/fs/cgroup/freezer");
        assert_string_equal(f->m.memory.root, "/");
        assert_string_equal(f->m.v2.root, "/");
}

static void test_mountinfo_finds_only_unified_mount_on_v2_host(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(sandbox__cgroup_parse_mountinfo(v2_mountinfo, &f->m, &f->err), 0);
        assert_string_equal(f->m.v2.path, "/sys/fs/cgroup");
        assert_string_equal(f->m.memory.path, "");
        assert_string_equal(f->m.pids.path, "");
        assert_string_equal(f->m.cpuacct.path, "");
        assert_string_equal(f->m.freezer.path, "");
}

static void test_mountinfo_finds_cpuacct_co_mounted_with_cpu_on_v1_host(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(sandbox__cgroup_parse_mountinfo(v1_mountinfo, &f->m, &f->err), 0);
        assert_string_equal(f->m.v2.path, "");
        assert_string_equal(f->m.cpuacct.path, "/sys/fs/cgroup/cpu,cpuacct");
        assert_string_equal(f->m.memory.path, "/sys/fs/cgroup/memory");
        assert_string_equal(f->m.pids.path, "/sys/fs/cgroup/pids");
        assert_string_equal(f->m.freezer.path, "/sys/fs/cgroup/freezer");
}

static void test_mountinfo_ignores_named_hierarchies_and_other_controllers(void **state)
{
        struct fixture *f = *state;
        static const char text[] =
                "25 24 0:21 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
                "26 24 0:22 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls\n"
                "27 24 0:23 / /sys/fs/cgroup/x rw - cgroup cgroup rw,memory_recursiveprot\n";

        assert_int_equal(sandbox__cgroup_parse_mountinfo(text, &f->m, &f->err), 0);
        assert_string_equal(f->m.memory.path, "");
        assert_string_equal(f->m.pids.path, "");
}

static void test_mountinfo_keeps_first_mount_of_a_controller(void **state)
{
        struct fixture *f = *state;
        static const char text[] =
                "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                "90 80 0:31 / /tmp/again rw - cgroup cgroup rw,memory\n"
                "40 30 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
                "91 80 0:37 / /tmp/unified2 rw - cgroup2 cgroup2 rw\n";

        assert_int_equal(sandbox__cgroup_parse_mountinfo(text, &f->m, &f->err), 0);
        assert_string_equal(f->m.memory.path, "/sys/fs/cgroup/memory");
        assert_string_equal(f->m.v2.path, "/sys/fs/cgroup/unified");
}

static void test_mountinfo_unescapes_octal_in_mount_point_and_root(void **state)
{
        struct fixture *f = *state;
        static const char text[] =
                "50 30 0:40 /a\\040b /mnt/my\\040cgroups\\011x\\134y rw - cgroup2 none rw\n";

        assert_int_equal(sandbox__cgroup_parse_mountinfo(text, &f->m, &f->err), 0);
        assert_string_equal(f->m.v2.path, "/mnt/my cgroups\tx\\y");
        assert_string_equal(f->m.v2.root, "/a b");
}

static void test_mountinfo_records_root_of_bind_mounted_hierarchy(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(sandbox__cgroup_parse_mountinfo(docker_mountinfo, &f->m, &f->err), 0);
        assert_string_equal(f->m.memory.path, "/sys/fs/cgroup/memory");
        assert_string_equal(f->m.memory.root, "/docker/3f2a");
        assert_string_equal(f->m.pids.root, "/docker/3f2a");
}

static void test_mountinfo_accepts_empty_text_and_missing_final_newline(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(sandbox__cgroup_parse_mountinfo("", &f->m, &f->err), 0);
        assert_string_equal(f->m.v2.path, "");
        assert_int_equal(
                sandbox__cgroup_parse_mountinfo(
                        "40 30 0:37 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw", &f->m, &f->err),
                0);
        assert_string_equal(f->m.v2.path, "/sys/fs/cgroup");
}

static void test_mountinfo_rejects_line_without_separator_naming_the_line(void **state)
{
        struct fixture *f = *state;
        static const char text[] = "21 26 0:20 / /proc rw,relatime - proc proc rw\n"
                                   "40 30 0:37 / /sys/fs/cgroup rw cgroup2 cgroup2 rw\n";

        strcpy(f->m.v2.path, "untouched");
        assert_int_equal(sandbox__cgroup_parse_mountinfo(text, &f->m, &f->err), -EBADMSG);
        assert_int_equal(f->err.code, -EBADMSG);
        assert_non_null(strstr(f->err.msg, "line 2"));
        assert_string_equal(f->m.v2.path, "untouched"); /* ret written only on success */
}

static void test_mountinfo_rejects_truncated_and_garbled_lines(void **state)
{
        struct fixture *f = *state;
        static const char *const bad[] = {
                "40 30 0:37 / /sys/fs/cgroup rw - cgroup2 cgroup2\n", /* no super options */
                "40 30 0:37 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw extra\n", /* one too many */
                "40 30 0:37 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw \n",      /* trailing space */
                "40 30 0:37 / /sys/fs/cgroup  rw - cgroup2 cgroup2 rw\n",      /* empty field */
                "40 30 - cgroup2 cgroup2 rw\n",                                /* too few fields */
                "x 30 0:37 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",        /* id not a number */
                "40 30 0:37 / sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",        /* relative mount */
                "garbage\n",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&f->err, 0, sizeof(f->err));
                assert_int_equal(sandbox__cgroup_parse_mountinfo(bad[i], &f->m, &f->err), -EBADMSG);
                assert_non_null(strstr(f->err.msg, "mountinfo line 1"));
        }
}

static void test_mountinfo_rejects_mount_point_longer_than_path_max(void **state)
{
        struct fixture *f = *state;
        size_t n = 5000;
        char *text = malloc(n + 64), *p = text;

        assert_non_null(text);
        p += sprintf(p, "40 30 0:37 / /");
        memset(p, 'a', n);
        p += n;
        sprintf(p, " rw - cgroup2 cgroup2 rw\n");
        assert_int_equal(sandbox__cgroup_parse_mountinfo(text, &f->m, &f->err), -ENAMETOOLONG);
        free(text);
}

/* ---- /proc/self/cgroup -------------------------------------------------------------------- */

static void test_self_finds_each_controller_on_hybrid_host(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(sandbox__cgroup_parse_self(hybrid_self, "memory", f->buf, sizeof(f->buf)),
                         0);
        assert_string_equal(f->buf, "/process_api/e4935ea1ff81be6edba4a06154588bce");
        assert_int_equal(sandbox__cgroup_parse_self(hybrid_self, "pids", f->buf, sizeof(f->buf)),
                         0);
        assert_string_equal(f->buf, "/");
        assert_int_equal(sandbox__cgroup_parse_self(hybrid_self, "", f->buf, sizeof(f->buf)), 0);
        assert_string_equal(f->buf, "/");
        /* "cpu" is its own line here; cpuacct has another */
        assert_int_equal(sandbox__cgroup_parse_self(hybrid_self, "cpuacct", f->buf, sizeof(f->buf)),
                         0);
        assert_string_equal(f->buf, "/");
}

static void test_self_finds_unified_line_and_no_controllers_on_v2_host(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(sandbox__cgroup_parse_self(v2_self, "", f->buf, sizeof(f->buf)), 0);
        assert_string_equal(f->buf, "/system.slice/gavel.service");
        assert_int_equal(sandbox__cgroup_parse_self(v2_self, "memory", f->buf, sizeof(f->buf)),
                         -ENOENT);
}

static void test_self_finds_cpuacct_in_co_mounted_list_on_v1_host(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(sandbox__cgroup_parse_self(v1_self, "cpuacct", f->buf, sizeof(f->buf)), 0);
        assert_string_equal(f->buf, "/user.slice");
        assert_int_equal(sandbox__cgroup_parse_self(v1_self, "pids", f->buf, sizeof(f->buf)), 0);
        assert_string_equal(f->buf, "/user.slice/user-1000.slice/session-1.scope");
        assert_int_equal(sandbox__cgroup_parse_self(v1_self, "", f->buf, sizeof(f->buf)), -ENOENT);
}

static void test_self_does_not_match_part_of_a_name(void **state)
{
        struct fixture *f = *state;

        /* "systemd" is no controller: "name=systemd" must not match it, nor "cpu" match
         * "cpuacct" */
        assert_int_equal(sandbox__cgroup_parse_self(v1_self, "systemd", f->buf, sizeof(f->buf)),
                         -ENOENT);
        assert_int_equal(
                sandbox__cgroup_parse_self("2:cpuacct:/a\n", "cpu", f->buf, sizeof(f->buf)),
                -ENOENT);
}

static void test_self_keeps_colons_in_the_path(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(sandbox__cgroup_parse_self("0::/a:b/c:d", "", f->buf, sizeof(f->buf)), 0);
        assert_string_equal(f->buf, "/a:b/c:d");
}

static void test_self_rejects_malformed_lines(void **state)
{
        struct fixture *f = *state;
        static const char *const bad[] = {
                "garbage\n",     "4:memory\n",  ":memory:/x\n",
                "x:memory:/x\n", "4:memory:\n", "4:memory:relative\n",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(
                        sandbox__cgroup_parse_self(bad[i], "memory", f->buf, sizeof(f->buf)),
                        -EBADMSG);
}

static void test_self_reports_small_buffer(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(sandbox__cgroup_parse_self(v2_self, "", f->buf, 8), -ENAMETOOLONG);
        assert_int_equal(sandbox__cgroup_parse_self("0::/abc", "", f->buf, 5), 0);
        assert_string_equal(f->buf, "/abc");
}

/* ---- mode --------------------------------------------------------------------------------- */

static void test_mode_is_detected_from_each_sample(void **state)
{
        struct fixture *f = *state;
        enum cgroup_mode mode = _CGROUP_MODE_INVALID;

        assert_int_equal(sandbox__cgroup_parse_mountinfo(hybrid_mountinfo, &f->m, &f->err), 0);
        assert_int_equal(sandbox__cgroup_detect_mode(&f->m, NULL, &mode, &f->err), 0);
        assert_int_equal(mode, CGROUP_MODE_HYBRID);
        assert_int_equal(sandbox__cgroup_parse_mountinfo(v2_mountinfo, &f->m, &f->err), 0);
        assert_int_equal(sandbox__cgroup_detect_mode(&f->m, "", &mode, &f->err), 0);
        assert_int_equal(mode, CGROUP_MODE_V2);
        assert_int_equal(sandbox__cgroup_parse_mountinfo(v1_mountinfo, &f->m, &f->err), 0);
        assert_int_equal(sandbox__cgroup_detect_mode(&f->m, NULL, &mode, &f->err), 0);
        assert_int_equal(mode, CGROUP_MODE_V1);
}

static void test_mode_forced_v1_on_hybrid_host_is_accepted(void **state)
{
        struct fixture *f = *state;
        enum cgroup_mode mode = _CGROUP_MODE_INVALID;

        assert_int_equal(sandbox__cgroup_parse_mountinfo(hybrid_mountinfo, &f->m, &f->err), 0);
        assert_int_equal(sandbox__cgroup_detect_mode(&f->m, "v1", &mode, &f->err), 0);
        assert_int_equal(mode, CGROUP_MODE_V1);
        assert_int_equal(sandbox__cgroup_detect_mode(&f->m, "v2", &mode, &f->err), 0);
        assert_int_equal(mode, CGROUP_MODE_V2); /* controllers are checked on the live tree */
}

static void test_mode_forced_v1_on_v2_host_fails_naming_missing_hierarchies(void **state)
{
        struct fixture *f = *state;
        enum cgroup_mode mode = CGROUP_MODE_V2;

        assert_int_equal(sandbox__cgroup_parse_mountinfo(v2_mountinfo, &f->m, &f->err), 0);
        assert_int_equal(sandbox__cgroup_detect_mode(&f->m, "v1", &mode, &f->err), -EOPNOTSUPP);
        assert_non_null(strstr(f->err.msg, "memory, pids, cpuacct"));
        assert_int_equal(sandbox__cgroup_detect_mode(&f->m, "hybrid", &mode, &f->err), -EOPNOTSUPP);
        assert_non_null(strstr(f->err.msg, "memory, pids"));
        assert_int_equal(mode, CGROUP_MODE_V2); /* untouched */
}

static void test_mode_forced_v2_or_hybrid_without_cgroup2_fails(void **state)
{
        struct fixture *f = *state;
        enum cgroup_mode mode;

        assert_int_equal(sandbox__cgroup_parse_mountinfo(v1_mountinfo, &f->m, &f->err), 0);
        assert_int_equal(sandbox__cgroup_detect_mode(&f->m, "v2", &mode, &f->err), -EOPNOTSUPP);
        assert_non_null(strstr(f->err.msg, "cgroup2"));
        assert_int_equal(sandbox__cgroup_detect_mode(&f->m, "hybrid", &mode, &f->err), -EOPNOTSUPP);
        assert_non_null(strstr(f->err.msg, "cgroup2"));
}

static void test_mode_rejects_unknown_forced_name(void **state)
{
        struct fixture *f = *state;
        enum cgroup_mode mode;

        assert_int_equal(sandbox__cgroup_parse_mountinfo(hybrid_mountinfo, &f->m, &f->err), 0);
        assert_int_equal(sandbox__cgroup_detect_mode(&f->m, "v3", &mode, &f->err), -EINVAL);
        assert_non_null(strstr(f->err.msg, "GAVEL_CGROUP_MODE"));
}

static void test_mode_without_any_hierarchy_is_enoent(void **state)
{
        struct fixture *f = *state;
        enum cgroup_mode mode;

        assert_int_equal(sandbox__cgroup_parse_mountinfo("21 26 0:20 / /proc rw - proc proc rw\n",
                                                         &f->m, &f->err),
                         0);
        assert_int_equal(sandbox__cgroup_detect_mode(&f->m, NULL, &mode, &f->err), -ENOENT);
}

static void test_mode_names_round_trip(void **state)
{
        (void)state;
        assert_string_equal(sandbox__cgroup_mode_name(CGROUP_MODE_V1), "v1");
        assert_string_equal(sandbox__cgroup_mode_name(CGROUP_MODE_HYBRID), "hybrid");
        assert_string_equal(sandbox__cgroup_mode_name(CGROUP_MODE_V2), "v2");
        assert_null(sandbox__cgroup_mode_name(_CGROUP_MODE_INVALID));
        assert_null(sandbox__cgroup_mode_name(_CGROUP_MODE_MAX));
}

/* ---- flat-keyed files --------------------------------------------------------------------- */

static void test_keyed_oom_kill_is_not_confused_with_oom_kill_disable(void **state)
{
        uint64_t v = 99;

        (void)state;
        /* v1 memory.oom_control, as read after one OOM kill on this machine */
        assert_int_equal(sandbox__cgroup_parse_keyed("oom_kill_disable 0\nunder_oom 0\n"
                                                     "oom_kill 1\n",
                                                     "oom_kill", &v),
                         0);
        assert_int_equal(v, 1);
        assert_int_equal(
                sandbox__cgroup_parse_keyed("oom_kill_disable 1\nunder_oom 0\n", "oom_kill", &v),
                -ENOENT);
}

static void test_keyed_reads_v2_memory_events_and_cpu_stat(void **state)
{
        uint64_t v = 0;
        static const char events[] = "low 0\nhigh 0\nmax 212\noom 3\noom_kill 2\n"
                                     "oom_group_kill 0\n";
        static const char stat[] = "usage_usec 999800\nuser_usec 956000\nsystem_usec 43800\n"
                                   "nice_usec 0\n";

        (void)state;
        assert_int_equal(sandbox__cgroup_parse_keyed(events, "oom_kill", &v), 0);
        assert_int_equal(v, 2);
        assert_int_equal(sandbox__cgroup_parse_keyed(events, "max", &v), 0);
        assert_int_equal(v, 212);
        assert_int_equal(sandbox__cgroup_parse_keyed(stat, "usage_usec", &v), 0);
        assert_int_equal(v, 999800);
        assert_int_equal(sandbox__cgroup_parse_keyed(stat, "user_usec", &v), 0);
        assert_int_equal(v, 956000);
        assert_int_equal(sandbox__cgroup_parse_keyed("max 9234", "max", &v), 0); /* no newline */
        assert_int_equal(v, 9234);
}

static void test_keyed_rejects_non_numeric_and_overflowing_values(void **state)
{
        uint64_t v = 0;

        (void)state;
        assert_int_equal(sandbox__cgroup_parse_keyed("max max\n", "max", &v), -EBADMSG);
        assert_int_equal(sandbox__cgroup_parse_keyed("max 12x\n", "max", &v), -EBADMSG);
        assert_int_equal(sandbox__cgroup_parse_keyed("max 99999999999999999999\n", "max", &v),
                         -EBADMSG);
        assert_int_equal(sandbox__cgroup_parse_keyed("max 18446744073709551615\n", "max", &v), 0);
        assert_true(v == UINT64_MAX);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_mountinfo_finds_separate_cpuacct_and_unified_mounts_on_hybrid_host),
                T(test_mountinfo_finds_only_unified_mount_on_v2_host),
                T(test_mountinfo_finds_cpuacct_co_mounted_with_cpu_on_v1_host),
                T(test_mountinfo_ignores_named_hierarchies_and_other_controllers),
                T(test_mountinfo_keeps_first_mount_of_a_controller),
                T(test_mountinfo_unescapes_octal_in_mount_point_and_root),
                T(test_mountinfo_records_root_of_bind_mounted_hierarchy),
                T(test_mountinfo_accepts_empty_text_and_missing_final_newline),
                T(test_mountinfo_rejects_line_without_separator_naming_the_line),
                T(test_mountinfo_rejects_truncated_and_garbled_lines),
                T(test_mountinfo_rejects_mount_point_longer_than_path_max),
                T(test_self_finds_each_controller_on_hybrid_host),
                T(test_self_finds_unified_line_and_no_controllers_on_v2_host),
                T(test_self_finds_cpuacct_in_co_mounted_list_on_v1_host),
                T(test_self_does_not_match_part_of_a_name),
                T(test_self_keeps_colons_in_the_path),
                T(test_self_rejects_malformed_lines),
                T(test_self_reports_small_buffer),
                T(test_mode_is_detected_from_each_sample),
                T(test_mode_forced_v1_on_hybrid_host_is_accepted),
                T(test_mode_forced_v1_on_v2_host_fails_naming_missing_hierarchies),
                T(test_mode_forced_v2_or_hybrid_without_cgroup2_fails),
                T(test_mode_rejects_unknown_forced_name),
                T(test_mode_without_any_hierarchy_is_enoent),
                T(test_mode_names_round_trip),
                T(test_keyed_oom_kill_is_not_confused_with_oom_kill_disable),
                T(test_keyed_reads_v2_memory_events_and_cpu_stat),
                T(test_keyed_rejects_non_numeric_and_overflowing_values),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
