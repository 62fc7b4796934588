/* cnn_image_decode on hostile bytes (PNG, JPEG, BMP, PGM/PPM).
 *
 * Byte 0 chooses the request: bit 0 = 3 channels (else 1), bit 1 = invert,
 * bits 2..7 = the output side - 1 (1..64).  The rest is the file. */
#include "cnn.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int c = data[0] & 1 ? 3 : 1, invert = data[0] >> 1 & 1, side = (data[0] >> 2) + 1;
    int h = side, w = side + (data[0] & 1); /* not always square */
    uint8_t *file = malloc(size - 1 ? size - 1 : 1);
    memcpy(file, data + 1, size - 1);
    uint8_t *out = malloc((size_t)c * h * w);
    cnn_error err;
    int st = cnn_image_decode(file, size - 1, c, h, w, invert, out, &err);
    if (st == CNN_OK) {
        unsigned sum = 0; /* every output byte must have been written */
        for (size_t i = 0; i < (size_t)c * h * w; i++)
            sum += out[i];
        volatile unsigned sink = sum;
        (void)sink;
    } else if (err.msg[0] == '\0' || st >= 0) {
        abort();
    }
    free(out);
    free(file);
    return 0;
}
