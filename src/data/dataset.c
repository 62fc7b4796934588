/* Datasets keep raw bytes; a batch at a time becomes normalised floats. */
#include "cnn.h"
#include "data.h"
#include "kernels/kernels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

void cnn_dataset_free(cnn_dataset *d)
{
    if (!d)
        return;
    free(d->pixels);
    free(d->labels);
    if (d->class_names) {
        for (int i = 0; i < d->classes; i++)
            free(d->class_names[i]);
        free(d->class_names);
    }
    memset(d, 0, sizeof *d);
}

/* One image's bytes to floats, (p/255 - mean)/std as written: the loop
 * vectorises (a table lookup per pixel would not), once per instruction set. */
static VECTOR_CLONES void normalise(const uint8_t *src, size_t n, float mean, float std,
                                    float *dst)
{
    for (size_t j = 0; j < n; j++)
        dst[j] = ((float)src[j] / 255.0f - mean) / std;
}

/* Image i of the batch: index[first + i] of the dataset (first + i without
 * an index). */
static void convert_image(const cnn_dataset *d, const int *index, int first, int i, float mean,
                          float std, float *x, cnn_label *labels)
{
    size_t per = (size_t)d->c * d->h * d->w;
    size_t k = (size_t)(index ? index[first + i] : first + i);
    normalise(d->pixels + k * per, per, mean, std, x + (size_t)i * per);
    if (labels)
        labels[i] = d->labels ? d->labels[k] : 0;
}

void dataset_convert(const cnn_dataset *d, const int *index, int first, int from, int to,
                     float mean, float std, float *x, cnn_label *labels)
{
    for (int i = from; i < to; i++)
        convert_image(d, index, first, i, mean, std, x, labels);
}

void cnn_dataset_batch(const cnn_dataset *d, const int *index, int first, int n,
                       float mean, float std, float *x, cnn_label *labels)
{
    dataset_convert(d, index, first, 0, n, mean, std, x, labels);
}

/* Linux 6.1's synchronous collapse; older kernels refuse it (EINVAL). */
#if defined(__linux__) && !defined(MADV_COLLAPSE)
#define MADV_COLLAPSE 25
#endif

void data_advise_huge(void *p, size_t bytes)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (hi > lo) { /* the first for pages the kernel may later move, the second now */
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
        (void)madvise((void *)lo, hi - lo, MADV_COLLAPSE);
    }
#else
    (void)p, (void)bytes;
#endif
}

int data_read_file(const char *path, size_t max, uint8_t **bytes, size_t *len,
                   cnn_error *err)
{
    *bytes = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cnn_fail(err, CNN_EIO, "%s: %s", path, strerror(errno));
    /* Size the buffer from fstat when we can, but trust only what fread
     * returns: the file may change, or not be a regular file at all. */
    struct stat st;
    size_t cap = 1 << 16, n = 0;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
        (uint64_t)st.st_size < max)
        cap = (size_t)st.st_size + 1;
    uint8_t *buf = malloc(cap);
    int status = buf ? CNN_OK : cnn_fail(err, CNN_ENOMEM, "%s: out of memory", path);
    while (!status) {
        if (n == cap) {
            if (cap > max) {
                status = cnn_fail(err, CNN_EFORMAT, "%s: larger than the limit of %zu bytes",
                                  path, max);
                break;
            }
            size_t grow = cap > max / 2 ? max + 1 : cap * 2;
            uint8_t *b = realloc(buf, grow);
            if (!b) {
                status = cnn_fail(err, CNN_ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = b;
            cap = grow;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (n < cap) {
            if (ferror(f))
                status = cnn_fail(err, CNN_EIO, "%s: read error", path);
            break;
        }
    }
    if (!status && n > max)
        status = cnn_fail(err, CNN_EFORMAT, "%s: larger than the limit of %zu bytes", path, max);
    fclose(f);
    if (status) {
        free(buf);
        return status;
    }
    *bytes = buf;
    *len = n;
    return CNN_OK;
}
