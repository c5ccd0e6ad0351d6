/* SPDX-License-Identifier: MIT */
/*
 * The progress events a worker publishes on gavel.progress while it judges a job: received,
 * compiling, running test k of n, done. Small and frequent; lost ones do not matter.
 */
#include <stdlib.h>

#include "schema/cleanup.h"
#include "schema/codec-internal.h"

enum { P_V, P_ID, P_STAGE, P_TEST, P_OF, P_WORKER, P_TS_MS, _P_MAX };

static const char *const progress_keys[_P_MAX] = {
        [P_V] = "v",   [P_ID] = "id",         [P_STAGE] = "stage", [P_TEST] = "test",
        [P_OF] = "of", [P_WORKER] = "worker", [P_TS_MS] = "ts_ms",
};

static int decode_progress(const void *buf, size_t len, const msgpack_object *root,
                           const struct schema_limits *lim, void *ret, struct gv_err *err)
{
        struct progress *progress = ret;
        struct schema__field f[_P_MAX];
        int stage, r;

        (void)buf;
        (void)len;
        r = schema__fields(root, progress_keys, f, _P_MAX, err);
        if (r < 0)
                return r;
        if (!f[P_V].val)
                return schema__missing("v", err);
        r = schema__version(f[P_V].val, &progress->v, err);
        if (r < 0)
                return r;
        if (!f[P_ID].val)
                return schema__missing("id", err);
        r = schema__str(f[P_ID].val, "id", lim->id_max, SCHEMA__ID, &progress->id, err);
        if (r < 0)
                return r;
        if (!f[P_STAGE].val)
                return schema__missing("stage", err);
        r = schema__enum(f[P_STAGE].val, "stage", schema__stage_names, _SCHEMA_STAGE_MAX, "stage",
                         &stage, err);
        if (r < 0)
                return r;
        progress->stage = stage;
        if (f[P_TEST].val) {
                r = schema__u32(f[P_TEST].val, "test", &progress->test, err);
                if (r < 0)
                        return r;
        }
        if (f[P_OF].val) {
                r = schema__u32(f[P_OF].val, "of", &progress->of, err);
                if (r < 0)
                        return r;
        }
        if (f[P_WORKER].val) {
                r = schema__str(f[P_WORKER].val, "worker", lim->id_max, SCHEMA__ID,
                                &progress->worker, err);
                if (r < 0)
                        return r;
        }
        if (f[P_TS_MS].val) {
                r = schema__i64(f[P_TS_MS].val, "ts_ms", &progress->ts_ms, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void progress_done_any(void *progress)
{
        progress_done(progress);
}

int schema_progress_decode(const void *buf, size_t len, const struct schema_limits *lim,
                           struct progress *ret_progress, struct gv_err *err)
{
        static const struct schema__type type = {sizeof(struct progress), decode_progress,
                                                 progress_done_any};
        struct schema_limits dflt;

        return schema__decode(buf, len, schema__limits(lim, &dflt), &type, ret_progress, err);
}

void progress_done(struct progress *progress)
{
        if (!progress)
                return;
        free(progress->id);
        free(progress->worker);
        *progress = (struct progress){};
}

int schema_progress_encode(const struct progress *progress, void **ret_buf, size_t *ret_len)
{
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        int r = 0;

        if (!progress->id || !schema__name(schema__stage_names, _SCHEMA_STAGE_MAX, progress->stage))
                return -EINVAL;
        msgpack_sbuffer_init(&sbuf);
        msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
        r |= msgpack_pack_map(&pk, 3 + !!progress->test + !!progress->of + !!progress->worker +
                                           !!progress->ts_ms);
        r |= schema__kv_uint(&pk, "v", SCHEMA_VERSION);
        r |= schema__kv_str(&pk, "id", progress->id);
        r |= schema__kv_str(&pk, "stage", schema__stage_names[progress->stage]);
        if (progress->test)
                r |= schema__kv_uint(&pk, "test", progress->test);
        if (progress->of)
                r |= schema__kv_uint(&pk, "of", progress->of);
        if (progress->worker)
                r |= schema__kv_str(&pk, "worker", progress->worker);
        if (progress->ts_ms)
                r |= schema__kv_int(&pk, "ts_ms", progress->ts_ms);
        return schema__sbuffer_finish(&sbuf, r, ret_buf, ret_len);
}
