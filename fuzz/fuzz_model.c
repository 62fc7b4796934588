/* cnn_model_parse on hostile bytes.
 *
 * Each input is parsed as it is (the checksum stops nearly all mutations),
 * then again with the header's length and the trailing CRC-32 recomputed,
 * so that the fuzzer reaches the sections behind the checksum: a hostile
 * file can always carry a valid checksum. */
#include "cnn.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void parse(const uint8_t *p, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1); /* exact length, for ASan */
    memcpy(copy, p, n);
    cnn_model_meta meta;
    float *state = NULL;
    size_t count = 0;
    int64_t steps = 0;
    cnn_error err;
    cnn_net *net = cnn_model_parse(copy, n, &meta, &state, &count, &steps, &err);
    if (net) {
        if (meta.history_count < 0 || meta.history_count > CNN_MAX_HISTORY ||
            meta.dataset[sizeof meta.dataset - 1] ||
            (meta.class_names && strlen(meta.class_names) >= n))
            abort();
        if (state && count > 2 * cnn_net_param_count(net))
            abort();
        volatile float sink = cnn_net_param_count(net) ? cnn_net_params(net)[0] : 0;
        (void)sink;
        free(state);
        cnn_model_meta_free(&meta);
        cnn_net_free(net);
    } else if (err.msg[0] == '\0' || err.status >= 0 || state) {
        abort();
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse(data, size);
    if (size < 24)
        return 0;
    uint8_t *fixed = malloc(size);
    memcpy(fixed, data, size);
    for (int i = 0; i < 8; i++)
        fixed[12 + i] = (uint8_t)((uint64_t)size >> (8 * i));
    uint32_t crc = (uint32_t)crc32_z(0L, fixed, size - 4);
    for (int i = 0; i < 4; i++)
        fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    parse(fixed, size);
    free(fixed);
    return 0;
}
