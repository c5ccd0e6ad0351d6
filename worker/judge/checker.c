/* SPDX-License-Identifier: MIT */
/*
 * Checkers. The built-in ones compare bytes in one linear pass, whatever the bytes are (NUL
 * included, tokens of megabytes), and explain the first difference with short escaped excerpts.
 * A custom checker is a testlib-style program run in a container from the pool, because a
 * problem's checker is code like any other and may crash, loop or be hostile.
 */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schema/cleanup.h"
#include "worker/judge/checker.h"
#include "worker/util/fileio.h"

#define QUOTE_MAX    40 /* characters of one quoted excerpt, escapes included */
#define QUOTE_SIZE   (QUOTE_MAX + 16)
#define QUOTE_BEFORE 8      /* bytes shown before a difference found deep inside a token or line */
#define DIGITS_MAX   40     /* significant digits of a number kept for strtod (doubles need 17) */
#define EXP10_MAX    100000 /* beyond this a decimal exponent is inf or 0 anyway */
#define EXP_SATURATE 1000000000000000LL /* a written exponent stops growing here */
#define DEFAULT_EPS  1e-6

static bool is_space(uint8_t c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(uint8_t c)
{
        return c >= '0' && c <= '9';
}

/*
 * Writes p[from..len) quoted into buf (QUOTE_SIZE bytes): at most QUOTE_MAX characters, so a
 * message holds two excerpts whatever their size; "..." marks a cut at either end.
 */
static const char *quote(char *buf, const uint8_t *p, size_t len, size_t from)
{
        static const char hex[] = "0123456789abcdef";
        size_t n = 0, used = 0, i;

        if (from > 0) {
                memcpy(buf, "...", 3);
                n = 3;
        }
        buf[n++] = '\'';
        for (i = from; i < len; i++) {
                char e[4];
                size_t k = 0;
                uint8_t c = p[i];

                if (c == '\\' || c == '\'') {
                        e[k++] = '\\';
                        e[k++] = (char)c;
                } else if (c == '\n' || c == '\r' || c == '\t' ||
                           (c == '\0' && (i + 1 == len || !is_digit(p[i + 1])))) {
                        /* "\0" before a digit would read as an octal escape: "\x00" then */
                        e[k++] = '\\';
                        e[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : '0';
                } else if (c < 0x20 || c >= 0x7f) {
                        e[k++] = '\\';
                        e[k++] = 'x';
                        e[k++] = hex[c >> 4];
                        e[k++] = hex[c & 15];
                } else {
                        e[k++] = (char)c;
                }
                if (used + k > QUOTE_MAX)
                        break;
                memcpy(buf + n, e, k);
                n += k;
                used += k;
        }
        buf[n++] = '\'';
        if (i < len) {
                memcpy(buf + n, "...", 3);
                n += 3;
        }
        buf[n] = '\0';
        return buf;
}

static size_t common_prefix(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
        size_t n = a_len < b_len ? a_len : b_len, i = 0;

        /* whole blocks with memcmp first: megabyte tokens that agree cost one pass */
        while (i + 4096 <= n && !memcmp(a + i, b + i, 4096))
                i += 4096;
        while (i < n && a[i] == b[i])
                i++;
        return i;
}

/* Where to start quoting two differing strings so the difference shows. */
static size_t quote_from(size_t diff)
{
        return diff <= QUOTE_MAX - 2 * QUOTE_BEFORE ? 0 : diff - QUOTE_BEFORE;
}

__attribute__((format(printf, 3, 4))) static void
outcome(struct checker_outcome *ret, enum checker_result result, const char *fmt, ...)
{
        va_list ap;

        ret->result = result;
        va_start(ap, fmt);
        vsnprintf(ret->message, sizeof(ret->message), fmt, ap);
        va_end(ap);
}

/* ---- numbers ------------------------------------------------------------------------------ */

static bool word_is(const uint8_t *p, size_t len, const char *word)
{
        size_t n = strlen(word);

        if (len != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((p[i] | 0x20) != word[i])
                        return false;
        return true;
}

/*
 * Parses p[0..len) when all of it is a decimal number: [+-] digits [. digits] [e [+-] digits]
 * (digits on at least one side of the point), or [+-] nan, inf, infinity in any case. Hex floats,
 * "nan(...)", digit separators and anything else are not numbers (compared as text). A number of
 * any length costs one pass: its first DIGITS_MAX significant digits and its exponent go to
 * strtod in a small NUL-terminated buffer, which never sees the token itself. Overflow gives
 * +-inf and underflow +-0, as strtod does.
 */
static bool parse_number(const uint8_t *p, size_t len, double *ret)
{
        char digits[DIGITS_MAX], buf[DIGITS_MAX + 32];
        size_t i = 0, kept = 0;
        int64_t exp10 = 0, e = 0;
        bool neg = false, any_digit = false, nonzero = false, neg_exp = false;

        if (i < len && (p[i] == '+' || p[i] == '-'))
                neg = p[i++] == '-';
        if (word_is(p + i, len - i, "nan")) {
                *ret = NAN;
                return true;
        }
        if (word_is(p + i, len - i, "inf") || word_is(p + i, len - i, "infinity")) {
                *ret = neg ? -INFINITY : INFINITY;
                return true;
        }
        for (; i < len && is_digit(p[i]); i++) {
                any_digit = true;
                if (!nonzero && p[i] == '0')
                        continue;
                nonzero = true;
                if (kept < DIGITS_MAX)
                        digits[kept++] = (char)p[i];
                else
                        exp10++; /* bounded by the token's length: no overflow */
        }
        if (i < len && p[i] == '.') {
                for (i++; i < len && is_digit(p[i]); i++) {
                        any_digit = true;
                        if (kept >= DIGITS_MAX)
                                continue;
                        exp10--;
                        if (!nonzero && p[i] == '0')
                                continue;
                        nonzero = true;
                        digits[kept++] = (char)p[i];
                }
        }
        if (!any_digit)
                return false;
        if (i < len && (p[i] == 'e' || p[i] == 'E')) {
                i++;
                if (i < len && (p[i] == '+' || p[i] == '-'))
                        neg_exp = p[i++] == '-';
                if (i == len || !is_digit(p[i]))
                        return false;
                for (; i < len && is_digit(p[i]); i++)
                        if (e < EXP_SATURATE)
                                e = e * 10 + (p[i] - '0');
        }
        if (i != len)
                return false;
        if (!nonzero) {
                *ret = neg ? -0.0 : 0.0;
                return true;
        }
        e = neg_exp ? exp10 - e : exp10 + e;
        e = e > EXP10_MAX ? EXP10_MAX : e < -EXP10_MAX ? -EXP10_MAX : e;
        snprintf(buf, sizeof(buf), "%s%.*se%lld", neg ? "-" : "", (int)kept, digits, (long long)e);
        *ret = strtod(buf, NULL);
        return true;
}

/*
 * Whether found is within eps of expected, absolutely or relatively to expected (testlib's rule).
 * A relative slack of 1e-9 on eps absorbs the binary rounding of decimals, so 1.000001 is within
 * 1e-6 of 1. nan matches only nan; an infinity only the same infinity; -0 equals 0.
 */
static bool numbers_close(double expected, double found, double eps)
{
        double diff;

        if (isnan(expected) || isnan(found))
                return isnan(expected) && isnan(found);
        if (isinf(expected) || isinf(found))
                return expected == found;
        diff = fabs(expected - found);
        return diff <= fmax(eps, eps * fabs(expected)) * (1 + 1e-9);
}

/* ---- built-in checkers -------------------------------------------------------------------- */

struct span {
        const uint8_t *p;
        size_t len;
};

static bool next_token(struct span *s, struct span *tok)
{
        size_t i = 0;

        while (i < s->len && is_space(s->p[i]))
                i++;
        if (i == s->len) {
                s->p += i;
                s->len = 0;
                return false;
        }
        tok->p = s->p + i;
        while (i < s->len && !is_space(s->p[i]))
                i++;
        tok->len = (size_t)(s->p + i - tok->p);
        s->p += i;
        s->len -= i;
        return true;
}

static size_t strip_trailing_space(const uint8_t *p, size_t len)
{
        while (len > 0 && is_space(p[len - 1]))
                len--;
        return len;
}

/* The next line of s, without its '\n' and trailing whitespace (so "\r\n" ends a line too). */
static bool next_line(struct span *s, struct span *line)
{
        const uint8_t *nl;
        size_t n;

        if (s->len == 0)
                return false;
        nl = memchr(s->p, '\n', s->len);
        n = nl ? (size_t)(nl - s->p) : s->len;
        line->p = s->p;
        line->len = strip_trailing_space(s->p, n);
        s->p += nl ? n + 1 : n;
        s->len -= nl ? n + 1 : n;
        return true;
}

/* What the token and line checkers compare, one unit at a time. */
struct unit {
        const char *name; /* "token", "line" */
        const char *at;   /* a place inside one: "byte", "column" */
        bool (*next)(struct span *s, struct span *unit);
        bool numeric; /* numbers within eps are equal */
};

static const struct unit unit_token = {"token", "byte", next_token, false};
static const struct unit unit_number = {"token", "byte", next_token, true};
static const struct unit unit_line = {"line", "column", next_line, false};

static void check_units(const struct unit *u, double eps, struct span out, struct span ans,
                        struct checker_outcome *ret)
{
        char q1[QUOTE_SIZE], q2[QUOTE_SIZE];
        struct span o, a;

        for (size_t k = 1;; k++) {
                bool have_out = u->next(&out, &o), have_ans = u->next(&ans, &a);
                double x, y;
                size_t diff;

                if (!have_out && !have_ans)
                        break;
                if (!have_ans && k == 1) {
                        outcome(ret, CHECKER_WA, "expected no output, found %s",
                                quote(q1, o.p, o.len, 0));
                        return;
                }
                if (!have_ans) {
                        outcome(ret, CHECKER_WA, "extra output after %s %zu: %s", u->name, k - 1,
                                quote(q1, o.p, o.len, 0));
                        return;
                }
                if (!have_out) {
                        outcome(ret, CHECKER_WA, "output ends early at %s %zu: expected %s",
                                u->name, k, quote(q1, a.p, a.len, 0));
                        return;
                }
                diff = common_prefix(o.p, o.len, a.p, a.len);
                if (diff == o.len && diff == a.len)
                        continue;
                if (u->numeric && parse_number(a.p, a.len, &x) && parse_number(o.p, o.len, &y)) {
                        if (numbers_close(x, y, eps))
                                continue;
                        outcome(ret, CHECKER_WA, "%s %zu: expected %s, found %s (difference %.3g)",
                                u->name, k, quote(q1, a.p, a.len, 0), quote(q2, o.p, o.len, 0),
                                fabs(x - y));
                        return;
                }
                if (quote_from(diff) > 0)
                        outcome(ret, CHECKER_WA, "%s %zu differs at %s %zu: expected %s, found %s",
                                u->name, k, u->at, diff + 1,
                                quote(q1, a.p, a.len, quote_from(diff)),
                                quote(q2, o.p, o.len, quote_from(diff)));
                else
                        outcome(ret, CHECKER_WA, "%s %zu: expected %s, found %s", u->name, k,
                                quote(q1, a.p, a.len, 0), quote(q2, o.p, o.len, 0));
                return;
        }
        outcome(ret, CHECKER_AC, "%s", "");
}

static void check_exact(struct span out, struct span ans, struct checker_outcome *ret)
{
        char q1[QUOTE_SIZE], q2[QUOTE_SIZE];
        size_t diff = common_prefix(out.p, out.len, ans.p, ans.len), line = 1, col;
        const uint8_t *bol = ans.p, *nl;

        if (diff == out.len && diff == ans.len) {
                outcome(ret, CHECKER_AC, "%s", "");
                return;
        }
        while ((nl = memchr(bol, '\n', (size_t)(ans.p + diff - bol)))) {
                bol = nl + 1;
                line++;
        }
        col = (size_t)(ans.p + diff - bol) + 1;
        if (diff == out.len) {
                outcome(ret, CHECKER_WA,
                        "output ends early at byte %zu (line %zu, column %zu): expected %s",
                        diff + 1, line, col, quote(q1, ans.p + diff, ans.len - diff, 0));
                return;
        }
        if (diff == ans.len) {
                outcome(ret, CHECKER_WA, "extra output after byte %zu: %s", diff,
                        quote(q1, out.p + diff, out.len - diff, 0));
                return;
        }
        outcome(ret, CHECKER_WA, "byte %zu (line %zu, column %zu) differs: expected %s, found %s",
                diff + 1, line, col, quote(q1, ans.p, ans.len, quote_from(diff)),
                quote(q2, out.p, out.len, quote_from(diff)));
}

void checker_builtin(enum schema_checker kind, double eps, const uint8_t *out, size_t out_len,
                     const uint8_t *ans, size_t ans_len, struct checker_outcome *ret)
{
        static const uint8_t none[1];
        struct span o = {out ? out : none, out ? out_len : 0};
        struct span a = {ans ? ans : none, ans ? ans_len : 0};

        if (!(eps > 0)) /* 0, negative or nan */
                eps = DEFAULT_EPS;
        switch (kind) {
        case SCHEMA_CHECKER_EXACT:
                check_exact(o, a, ret);
                return;
        case SCHEMA_CHECKER_LINES:
                /* trailing empty (or blank) lines do not count: cut them before splitting */
                o.len = strip_trailing_space(o.p, o.len);
                a.len = strip_trailing_space(a.p, a.len);
                check_units(&unit_line, eps, o, a, ret);
                return;
        case SCHEMA_CHECKER_FLOAT:
                check_units(&unit_number, eps, o, a, ret);
                return;
        case SCHEMA_CHECKER_DEFAULT:
        case SCHEMA_CHECKER_TOKENS:
        case _SCHEMA_CHECKER_MAX:
        case _SCHEMA_CHECKER_INVALID:
                break;
        }
        check_units(&unit_token, eps, o, a, ret);
}

/* ---- custom checkers ---------------------------------------------------------------------- */

#define CHECKER_TIME_MS    10000
#define CHECKER_MEMORY_KIB (512 * 1024)
#define CHECKER_OUTPUT_KIB 1024 /* its stderr (a message) and any file it writes */

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0 (jansson and Kafka consumers want
 * valid UTF-8, and a testlib message may well be in Russian). */
static size_t utf8_len(const uint8_t *p, size_t n)
{
        size_t len;
        uint8_t lo = 0x80, hi = 0xbf;

        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                len = 2;
        else if (p[0] >= 0xe0 && p[0] <= 0xef)
                len = 3;
        else if (p[0] >= 0xf0 && p[0] <= 0xf4)
                len = 4;
        else
                return 0;
        if (p[0] == 0xe0)
                lo = 0xa0; /* overlong */
        else if (p[0] == 0xed)
                hi = 0x9f; /* surrogates */
        else if (p[0] == 0xf0)
                lo = 0x90; /* overlong */
        else if (p[0] == 0xf4)
                hi = 0x8f; /* beyond U+10FFFF */
        if (n < len || p[1] < lo || p[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if (p[i] < 0x80 || p[i] > 0xbf)
                        return 0;
        return len;
}

/*
 * Appends what the checker wrote on stderr (its start) to the NUL-terminated text in buf, after
 * ": " when there is both: lines joined with "; ", runs of blanks as one space, valid UTF-8 kept,
 * control and invalid bytes escaped as \xHH, cut at a character boundary to fit size.
 */
static void append_message(int fd, char *buf, size_t size)
{
        uint8_t text[1024];
        size_t n = strlen(buf), i = 0;
        ssize_t len = pread(fd, text, sizeof(text), 0);
        const char *sep = n > 0 ? ": " : ""; /* goes before the next visible character */
        bool started = false;

        while (len > 0 && i < (size_t)len) {
                uint8_t c = text[i];
                char e[8];
                size_t k, step;

                if (c == '\n' || c == '\r' || c == ' ' || c == '\t') {
                        if (started && (c == '\n' || c == '\r'))
                                sep = "; ";
                        else if (started && !*sep)
                                sep = " ";
                        i++;
                        continue;
                }
                step = utf8_len(text + i, (size_t)len - i);
                if (step == 0 || (step == 1 && (c < 0x20 || c == 0x7f))) {
                        k = (size_t)snprintf(e, sizeof(e), "\\x%02x", c);
                        step = 1;
                } else {
                        memcpy(e, text + i, step);
                        k = step;
                }
                if (n + strlen(sep) + k >= size)
                        break;
                memcpy(buf + n, sep, strlen(sep));
                n += strlen(sep);
                memcpy(buf + n, e, k);
                n += k;
                sep = "";
                started = true;
                i += step;
        }
        buf[n] = '\0';
}

/*
 * Copies a host file into the container. Returns 0; 1 when it does not fit (the work dir is
 * full: the checker's failure, reported in err); or -errno when the container or the host failed.
 */
static int copy_in(struct sandbox *sb, const char *path, int src_fd, unsigned mode,
                   struct gv_err *err)
{
        cleanup_fd int fd = -1;
        int r;

        r = sandbox_open(sb, path, O_WRONLY | O_CREAT | O_TRUNC, mode, &fd, err);
        if (r < 0)
                return gv_err_prefix(err, r, "checker: %s: ", path);
        r = fileio_copy(fd, src_fd, NULL, err);
        if (r == -ENOSPC || r == -EFBIG || r == -EDQUOT) {
                gv_err_prefix(err, r, "%s does not fit in the container: ", path);
                return 1;
        }
        if (r < 0)
                return gv_err_prefix(err, r, "checker: %s: ", path);
        return 0;
}

static void explain(const struct sandbox_result *res, const struct sandbox_limits *l,
                    struct checker_outcome *o)
{
        switch (res->status) {
        case SANDBOX_OK:
                o->result = CHECKER_AC;
                return;
        case SANDBOX_NONZERO:
                if (res->exit_code == 1 || res->exit_code == 2) {
                        o->result = res->exit_code == 1 ? CHECKER_WA : CHECKER_PE;
                        return;
                }
                if (res->exit_code == 3)
                        snprintf(o->message, sizeof(o->message), "checker failed (exit code 3)");
                else
                        snprintf(o->message, sizeof(o->message),
                                 "checker exited with code %d (expected 0 to 3)", res->exit_code);
                return;
        case SANDBOX_SIGNAL:
                snprintf(o->message, sizeof(o->message), "checker killed by signal %d (SIG%s)",
                         res->signal, sigabbrev_np(res->signal) ?: "?");
                return;
        case SANDBOX_TIME:
                snprintf(o->message, sizeof(o->message),
                         "checker exceeded its cpu time limit of %u ms", l->time_ms);
                return;
        case SANDBOX_WALL:
                snprintf(o->message, sizeof(o->message),
                         "checker exceeded its wall-clock limit (ran %u ms)", res->wall_ms);
                return;
        case SANDBOX_MEMORY:
                snprintf(o->message, sizeof(o->message),
                         "checker exceeded its memory limit of %llu KiB",
                         (unsigned long long)l->memory_kib);
                return;
        case SANDBOX_OUTPUT:
                snprintf(o->message, sizeof(o->message), "checker wrote more than %llu KiB",
                         (unsigned long long)l->output_kib);
                return;
        case SANDBOX_ERROR:
                snprintf(o->message, sizeof(o->message), "checker could not run: %.200s",
                         res->error);
                return;
        case _SANDBOX_STATUS_MAX:
        case _SANDBOX_STATUS_INVALID:
                break;
        }
        snprintf(o->message, sizeof(o->message), "checker ended in an unknown state %d",
                 (int)res->status);
}

int checker_run_custom(struct sandbox *sb, const struct checker_custom *c,
                       struct checker_outcome *ret, struct gv_err *err)
{
        static const char *const paths[] = {"/w/input.txt", "/w/output.txt", "/w/answer.txt"};
        const char *argv[] = {"checker", "input.txt", "output.txt", "answer.txt", NULL};
        struct sandbox_run run = {.argv = argv,
                                  .stdin_fd = -1,
                                  .stdout_fd = -1,
                                  .exe_fd = -1,
                                  .policy = PROTO_POLICY_RUN,
                                  .limits = c->limits};
        const int fds[] = {c->in_fd, c->out_fd, c->ans_fd};
        struct checker_outcome o = {.result = CHECKER_FAIL};
        struct sandbox_result res;
        cleanup_fd int err_fd = -1;
        struct gv_err local = {0};
        struct stat st;
        int r;

        if (!err) /* a full work dir is reported through it */
                err = &local;
        if (fstat(c->exe_fd, &st) < 0)
                return gv_err_errno(err, -errno, "checker executable");
        for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
                r = copy_in(sb, paths[i], fds[i], 0400, err);
                if (r != 0)
                        goto out_copy;
        }
        /* the program user must be able to exec it: a private file (a cache entry is 0500) is
         * copied in, anything else runs from the caller's descriptor at no cost */
        if (S_ISREG(st.st_mode) && (st.st_mode & S_IXOTH)) {
                run.exe_fd = c->exe_fd;
        } else {
                r = copy_in(sb, "/w/checker", c->exe_fd, 0500, err);
                if (r != 0)
                        goto out_copy;
                argv[0] = "/w/checker";
        }

        err_fd = memfd_create("checker-stderr", MFD_CLOEXEC);
        if (err_fd < 0)
                return gv_err_errno(err, -errno, "memfd_create");
        run.stderr_fd = err_fd;
        if (!run.limits.time_ms)
                run.limits.time_ms = CHECKER_TIME_MS;
        if (!run.limits.memory_kib)
                run.limits.memory_kib = CHECKER_MEMORY_KIB;
        if (!run.limits.output_kib)
                run.limits.output_kib = CHECKER_OUTPUT_KIB;
        r = sandbox_exec(sb, &run, &res, err);
        if (r < 0)
                return gv_err_prefix(err, r, "checker: ");
        explain(&res, &run.limits, &o);
        append_message(err_fd, o.message, sizeof(o.message));
        *ret = o;
        return 0;

out_copy:
        if (r < 0)
                return r;
        snprintf(o.message, sizeof(o.message), "%s", err->msg);
        *ret = o;
        return 0;
}
