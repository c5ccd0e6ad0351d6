/* SPDX-License-Identifier: MIT */
/*
 * gavel decode and gavel encode: the operator's view of the wire. decode frames a msgpack stream
 * as it arrives (a kcat pipe never ends), checks each message with schema_check and prints it as
 * one JSON line; encode turns a JSON job (or verdict, progress) into msgpack and decodes the
 * result again as a worker would, so it never emits a message a worker rejects as malformed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schema/cleanup.h"
#include "schema/schema.h"
#include "worker/cmd.h"
#include "worker/util/codec.h"
#include "worker/util/fileio.h"
#include "worker/util/json.h"

#define READ_CHUNK (64 * 1024)

/* ---- gavel decode ----------------------------------------------------------------------- */

struct decode {
        enum codec_type type;
        size_t dump_flags;
        struct schema_limits lim;
        msgpack_unpacked unpacked;
        uint64_t n_messages; /* messages printed */
        uint64_t offset;     /* stream offset of the message being read */
};

/*
 * Checks, converts and prints the complete message buf[0..len). Returns 0, -EBADMSG / -E2BIG
 * for a bad message (err set), or another -errno for a failure of our own (err set).
 */
static int decode_message(struct decode *dec, const uint8_t *buf, size_t len, struct gv_err *err)
{
        json_t *json = NULL;
        char *text;
        int r;

        r = codec_to_json(dec->type, buf, len, &dec->lim, &dec->unpacked, &json, err);
        if (r < 0)
                return r;
        text = json_dumps_exact(json, dec->dump_flags);
        json_decref(json);
        if (!text)
                return gv_err_set(err, -ENOMEM, "out of memory");
        r = fputs(text, stdout) < 0 || putchar('\n') < 0 || fflush(stdout) != 0 ? -errno : 0;
        free(text);
        if (r < 0)
                return gv_err_errno(err, r, "cannot write to stdout");
        dec->n_messages++;
        return 0;
}

static void decode_usage(FILE *f)
{
        fprintf(f,
                "usage: gavel decode [--type job|verdict|progress|auto] [--pretty]\n"
                "\n"
                "Reads msgpack messages on stdin, one or a stream of them back to back, and\n"
                "prints each as one line of JSON as soon as it is complete. A newline byte\n"
                "between messages (kcat's default delimiter) is skipped.\n"
                "\n"
                "  -t, --type TYPE  also decode each message as a job, verdict or progress\n"
                "                   (auto: guess from its keys; any, the default: check only\n"
                "                   the bounds) and stop at the first one that is invalid\n"
                "  -p, --pretty     indent the JSON\n"
                "  -h, --help       show this help\n"
                "\n"
                "bin shows as {\"base64\": \"...\"}, except source, in and out, which show as\n"
                "text when they are UTF-8. Invalid UTF-8 in a str shows as U+FFFD.\n"
                "\n"
                "Exit status: 0 every message printed; 2 bad input: one line on stderr names the\n"
                "message, its byte offset in the stream and what is wrong; 3 a system error.\n"
                "\n"
                "  kcat -C -b BROKER -t gavel.verdicts -u -f '%%s' | gavel decode\n");
}

static int decode_fail(const struct decode *dec, const struct gv_err *err, int code)
{
        fprintf(stderr, "gavel decode: message %" PRIu64 " at byte %" PRIu64 ": %s\n",
                dec->n_messages + 1, dec->offset, err->msg);
        return code == -EBADMSG || code == -E2BIG ? EXIT_USAGE : EXIT_FAILURE_SYSTEM;
}

/* Reads stdin to its end, printing each message once it is complete; returns the exit status. */
static int decode_stream(struct decode *dec)
{
        cleanup_free uint8_t *buf = NULL;
        size_t cap = READ_CHUNK, start = 0, end = 0;
        struct gv_err err = {0};
        struct codec_frame fr;
        bool eof = false;
        ssize_t n;

        buf = xmalloc(cap);
        codec_frame_reset(&fr);
        for (;;) {
                while (start < end) {
                        if (fr.pos == 0 && buf[start] == '\n') { /* kcat's delimiter */
                                start++;
                                dec->offset++;
                                continue;
                        }
                        n = codec_frame_next(&fr, buf + start, end - start, &dec->lim, &err);
                        if (n < 0)
                                return decode_fail(dec, &err, (int)n);
                        if (n == 0)
                                break;
                        n = decode_message(dec, buf + start, (size_t)n, &err);
                        if (n < 0)
                                return decode_fail(dec, &err, (int)n);
                        start += fr.pos;
                        dec->offset += fr.pos;
                        codec_frame_reset(&fr);
                }
                if (eof) {
                        if (start == end)
                                return 0;
                        gv_err_set(&err, -EBADMSG,
                                   "truncated: the input ends %zu bytes into the message",
                                   end - start);
                        return decode_fail(dec, &err, -EBADMSG);
                }
                if (start > 0) { /* keep only the message being read, at the front */
                        memmove(buf, buf + start, end - start);
                        end -= start;
                        start = 0;
                }
                if (cap - end < READ_CHUNK / 4) {
                        uint8_t *p;

                        cap *= 2; /* the framer bounds what stays to message_max */
                        p = realloc(buf, cap);
                        if (!p) {
                                gv_err_set(&err, -ENOMEM, "out of memory");
                                return decode_fail(dec, &err, -ENOMEM);
                        }
                        buf = p;
                }
                n = read(STDIN_FILENO, buf + end, cap - end);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        gv_err_errno(&err, -errno, "cannot read stdin");
                        return decode_fail(dec, &err, err.code);
                }
                if (n == 0)
                        eof = true;
                end += (size_t)n;
        }
}

int cmd_decode(int argc, char **argv)
{
        static const struct option options[] = {
                {"type", required_argument, NULL, 't'},
                {"pretty", no_argument, NULL, 'p'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        struct decode dec = {.type = CODEC_ANY, .dump_flags = JSON_COMPACT};
        int c, status;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+t:ph", options, NULL)) != -1) {
                switch (c) {
                case 't':
                        dec.type = codec_type_from_name(optarg);
                        if (dec.type < 0) {
                                fprintf(stderr,
                                        "gavel decode: --type: unknown type '%s' (job, verdict, "
                                        "progress, auto, any)\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'p':
                        dec.dump_flags = JSON_INDENT(2);
                        break;
                case 'h':
                        decode_usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "gavel decode: unknown option or missing value: '%s'\n",
                                argv[optind - 1]);
                        decode_usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "gavel decode: unexpected argument '%s' (input comes on stdin)\n",
                        argv[optind]);
                return EXIT_USAGE;
        }
        schema_limits_default(&dec.lim);
        msgpack_unpacked_init(&dec.unpacked);
        status = decode_stream(&dec);
        msgpack_unpacked_destroy(&dec.unpacked);
        return status;
}

/* ---- gavel encode ----------------------------------------------------------------------- */

static void encode_usage(FILE *f)
{
        fprintf(f,
                "usage: gavel encode job [--in FILE]\n"
                "       gavel encode verdict|progress [--in FILE]\n"
                "\n"
                "Reads a JSON description on stdin (or FILE) and writes the msgpack message to\n"
                "stdout, after decoding it again exactly as a worker would. Unknown keys are\n"
                "refused (a typo would otherwise be dropped).\n"
                "\n"
                "  -i, --in FILE  read FILE instead of stdin; relative paths in source_file,\n"
                "                 in_file and out_file start at FILE's directory (else at the\n"
                "                 current directory)\n"
                "  -h, --help     show this help\n"
                "\n"
                "A job: {\"id\": \"42\", \"lang\": \"cpp\", \"source_file\": \"a.cpp\",\n"
                "        \"tests\": [{\"in\": \"1 2\\n\", \"out\": \"3\\n\"}, {\"in_file\": "
                "\"2.in\",\n"
                "        \"out_file\": \"2.out\", \"points\": 2}],\n"
                "        \"limits\": {\"time_ms\": 1000, \"memory_kib\": 262144},\n"
                "        \"checker\": {\"name\": \"float\", \"eps\": 1e-6}, \"meta\": {\"any\": "
                "1}}\n"
                "with \"problem\": \"aplusb\" instead of tests for a problem in the worker's\n"
                "store; bytes as a string or {\"base64\": \"...\"}. schema/README.md has every "
                "field.\n"
                "\n"
                "Exit status: 0 written; 2 invalid input: one line on stderr names the key path\n"
                "(tests[2].out_file: cannot open '2.out': No such file or directory).\n"
                "\n"
                "  gavel encode job --in job.json > job.msgpack\n"
                "  kcat -P -b BROKER -t gavel.jobs -k 42 job.msgpack  # a file is one message\n");
}

static json_t *load_json(const char *path, struct gv_err *err)
{
        const size_t flags = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
        json_error_t jerr;
        json_t *json;
        FILE *f = stdin;

        if (path) {
                f = fopen(path, "re");
                if (!f) {
                        gv_err_errno(err, -errno, "--in: cannot open '%s'", path);
                        return NULL;
                }
        }
        json = json_loadf(f, flags, &jerr);
        if (path)
                fclose(f);
        if (!json)
                gv_err_set(err, -EINVAL, "%s:%d:%d: %s", path ? path : "stdin", jerr.line,
                           jerr.column, jerr.text);
        else if (!json_is_object(json)) {
                gv_err_set(err, -EINVAL, "%s: expected a JSON object", path ? path : "stdin");
                json_decref(steal_pointer(&json));
        }
        return json;
}

int cmd_encode(int argc, char **argv)
{
        static const struct option options[] = {
                {"in", required_argument, NULL, 'i'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int in_dirfd = AT_FDCWD;
        cleanup_free char *dir = NULL;
        cleanup_free void *buf = NULL;
        cleanup_fd int dirfd = -1;
        struct gv_err err = {0};
        const char *in = NULL;
        enum codec_type type;
        json_t *json;
        size_t len = 0;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+i:h", options, NULL)) != -1) {
                switch (c) {
                case 'i':
                        in = optarg;
                        break;
                case 'h':
                        encode_usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "gavel encode: unknown option or missing value: '%s'\n",
                                argv[optind - 1]);
                        encode_usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                encode_usage(stderr);
                return EXIT_USAGE;
        }
        type = codec_type_from_name(argv[optind]);
        if (type != CODEC_JOB && type != CODEC_VERDICT && type != CODEC_PROGRESS) {
                fprintf(stderr,
                        "gavel encode: unknown message type '%s' (job, verdict, progress)\n",
                        argv[optind]);
                return EXIT_USAGE;
        }
        /* options may follow the type too: gavel encode job --in job.json */
        optind++;
        while ((c = getopt_long(argc, argv, "+i:h", options, NULL)) != -1) {
                switch (c) {
                case 'i':
                        in = optarg;
                        break;
                case 'h':
                        encode_usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "gavel encode: unknown option or missing value: '%s'\n",
                                argv[optind - 1]);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "gavel encode: unexpected argument '%s'\n", argv[optind]);
                return EXIT_USAGE;
        }
        if (isatty(STDOUT_FILENO)) {
                fprintf(stderr, "gavel encode: stdout is a terminal; redirect the msgpack to a "
                                "file or a pipe\n");
                return EXIT_USAGE;
        }
        if (in) {
                dir = xstrdup(in);
                dirfd = open(dirname(dir), O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (dirfd < 0) {
                        fprintf(stderr,
                                "gavel encode: --in: cannot open the directory of '%s': %s\n", in,
                                strerror(errno));
                        return EXIT_USAGE;
                }
                in_dirfd = dirfd;
        }
        json = load_json(in, &err);
        if (!json) {
                fprintf(stderr, "gavel encode: %s\n", err.msg);
                return EXIT_USAGE;
        }
        r = codec_from_json(type, json, in_dirfd, &buf, &len, &err);
        json_decref(json);
        if (r < 0) {
                fprintf(stderr, "gavel encode: %s\n", err.msg);
                return r == -ENOMEM ? EXIT_FAILURE_SYSTEM : EXIT_USAGE;
        }
        r = fileio_write_all(STDOUT_FILENO, buf, len);
        if (r < 0) {
                fprintf(stderr, "gavel encode: cannot write to stdout: %s\n", strerror(-r));
                return EXIT_FAILURE_SYSTEM;
        }
        return 0;
}
