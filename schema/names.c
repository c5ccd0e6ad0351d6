/* SPDX-License-Identifier: MIT */
/*
 * The names every enum has on the wire, and lookups both ways. The tables are indexed by the
 * enum value, so adding a value means adding its name here (the unit tests check that none is
 * missing).
 */
#include <string.h>

#include "schema/codec-internal.h"

const char *const schema__code_names[_SCHEMA_CODE_MAX] = {
        [SCHEMA_AC] = "AC",           [SCHEMA_WA] = "WA",
        [SCHEMA_PE] = "PE",           [SCHEMA_TLE] = "TLE",
        [SCHEMA_MLE] = "MLE",         [SCHEMA_OLE] = "OLE",
        [SCHEMA_RE] = "RE",           [SCHEMA_CE] = "CE",
        [SCHEMA_SE] = "SE",           [SCHEMA_REJECTED] = "REJECTED",
        [SCHEMA_SKIPPED] = "SKIPPED",
};

const char *const schema__checker_names[_SCHEMA_CHECKER_MAX] = {
        [SCHEMA_CHECKER_DEFAULT] = "default", [SCHEMA_CHECKER_TOKENS] = "tokens",
        [SCHEMA_CHECKER_EXACT] = "exact",     [SCHEMA_CHECKER_LINES] = "lines",
        [SCHEMA_CHECKER_FLOAT] = "float",
};

const char *const schema__stage_names[_SCHEMA_STAGE_MAX] = {
        [SCHEMA_STAGE_RECEIVED] = "received",
        [SCHEMA_STAGE_COMPILING] = "compiling",
        [SCHEMA_STAGE_RUNNING] = "running",
        [SCHEMA_STAGE_DONE] = "done",
};

const char *const schema__policy_names[_PROTO_POLICY_MAX] = {
        [PROTO_POLICY_NONE] = "none",
        [PROTO_POLICY_COMPILE] = "compile",
        [PROTO_POLICY_RUN] = "run",
};

const char *const schema__cmd_names[_PROTO_CMD_MAX] = {
        [PROTO_PING] = "ping",
        [PROTO_CONF] = "conf",
        [PROTO_OPEN] = "open",
        [PROTO_DELETE] = "delete",
        [PROTO_RESET] = "reset",
        [PROTO_EXECVE] = "execve",
        [PROTO_INIT_FINISHED] = "init_finished",
        [PROTO_KILL] = "kill",
};

const char *const schema__mount_names[_PROTO_MOUNT_MAX] = {
        [PROTO_MOUNT_BIND] = "bind",
        [PROTO_MOUNT_TMPFS] = "tmpfs",
        [PROTO_MOUNT_PROC] = "proc",
        [PROTO_MOUNT_SYMLINK] = "symlink",
};

const char *const schema__reply_names[_PROTO_R_MAX] = {
        [PROTO_R_OK] = "ok",
        [PROTO_R_ERROR] = "error",
        [PROTO_R_PID] = "pid",
        [PROTO_R_FINISHED] = "finished",
};

const char *const schema__status_names[_PROTO_STATUS_MAX] = {
        [PROTO_EXITED] = "exited",
        [PROTO_SIGNALED] = "signaled",
        [PROTO_KILLED] = "killed",
        [PROTO_EXEC_FAILED] = "exec_failed",
};

const char *const schema__rlimit_names[_PROTO_RLIMIT_MAX] = {
        [PROTO_RLIMIT_CPU] = "cpu",       [PROTO_RLIMIT_FSIZE] = "fsize",
        [PROTO_RLIMIT_STACK] = "stack",   [PROTO_RLIMIT_AS] = "as",
        [PROTO_RLIMIT_NOFILE] = "nofile", [PROTO_RLIMIT_NPROC] = "nproc",
        [PROTO_RLIMIT_CORE] = "core",
};

const char *schema__name(const char *const *names, size_t n, int i)
{
        if (i < 0 || (size_t)i >= n)
                return NULL;
        return names[i];
}

int schema__index(const char *const *names, size_t n, const char *p, size_t len)
{
        for (size_t i = 0; i < n; i++)
                if (names[i] && strlen(names[i]) == len && memcmp(names[i], p, len) == 0)
                        return (int)i;
        return -EINVAL;
}

static int index_of(const char *const *names, size_t n, const char *s)
{
        if (!s)
                return -EINVAL;
        return schema__index(names, n, s, strlen(s));
}

const char *schema_code_name(enum schema_code code)
{
        return schema__name(schema__code_names, _SCHEMA_CODE_MAX, code);
}

enum schema_code schema_code_from_name(const char *s)
{
        return index_of(schema__code_names, _SCHEMA_CODE_MAX, s);
}

const char *schema_checker_name(enum schema_checker c)
{
        return schema__name(schema__checker_names, _SCHEMA_CHECKER_MAX, c);
}

enum schema_checker schema_checker_from_name(const char *s)
{
        return index_of(schema__checker_names, _SCHEMA_CHECKER_MAX, s);
}

const char *schema_stage_name(enum schema_stage s)
{
        return schema__name(schema__stage_names, _SCHEMA_STAGE_MAX, s);
}

enum schema_stage schema_stage_from_name(const char *s)
{
        return index_of(schema__stage_names, _SCHEMA_STAGE_MAX, s);
}

const char *proto_policy_name(enum proto_policy p)
{
        return schema__name(schema__policy_names, _PROTO_POLICY_MAX, p);
}

const char *proto_reply_kind_name(enum proto_reply_kind kind)
{
        return schema__name(schema__reply_names, _PROTO_R_MAX, kind);
}

enum proto_policy proto_policy_from_name(const char *s)
{
        return index_of(schema__policy_names, _PROTO_POLICY_MAX, s);
}
