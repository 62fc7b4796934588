/* Tensors and attributes of an ONNX file, as the importer reads them: a
 * tensor's declared size is checked against the bytes the file really
 * holds for it before its floats are allocated. */
#include "onnx.h"

#include <stdlib.h>
#include <string.h>

static int fail_tensor(cnn_error *err, const Onnx__TensorProto *t, const char *why)
{
    return cnn_fail(err, CNN_EFORMAT, "tensor '%s': %s", t->name ? t->name : "", why);
}

static float little_float(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int64_t little_int64(const uint8_t *p)
{
    uint64_t u = 0;
    for (int b = 7; b >= 0; b--)
        u = u << 8 | p[b];
    return (int64_t)u;
}

int tensor_read(const Onnx__TensorProto *t, tensor *out, cnn_error *err)
{
    memset(out, 0, sizeof *out);
    out->name = t->name ? t->name : "";
    if (t->n_dims > MAX_DIMS)
        return fail_tensor(err, t, "more than 8 dimensions");
    if (t->n_external_data || (t->has_data_location && t->data_location))
        return fail_tensor(err, t, "its data is in another file (external data is not read)");
    size_t count = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        /* each dimension too, not only the product: after a 0 the product
         * bounds nothing, and the importer takes dimensions as ints */
        if (t->dims[i] < 0 || (uint64_t)t->dims[i] > MAX_VALUES ||
            (t->dims[i] > 0 && count > MAX_VALUES / (size_t)t->dims[i]))
            return fail_tensor(err, t, "a negative or too large dimension");
        count *= (size_t)t->dims[i];
        out->dims[i] = t->dims[i];
    }
    out->ndims = (int)t->n_dims;
    int is_float = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    int is_int64 = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    if (!is_float && !is_int64)
        return fail_tensor(err, t, "not float32 or int64 (the types cnn reads)");
    size_t size = is_float ? 4 : 8;
    size_t held = t->has_raw_data ? t->raw_data.len / size
                  : is_float      ? t->n_float_data
                                  : t->n_int64_data;
    if (held != count || (t->has_raw_data && t->raw_data.len % size))
        return fail_tensor(err, t, "its data does not match its dimensions");
    out->count = count;
    out->data = malloc(sizeof(float) * (count ? count : 1));
    if (!out->data)
        return cnn_fail(err, CNN_ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++)
        out->data[i] = t->has_raw_data
                           ? (is_float ? little_float(t->raw_data.data + 4 * i)
                                       : (float)little_int64(t->raw_data.data + 8 * i))
                       : is_float ? t->float_data[i]
                                  : (float)t->int64_data[i];
    return CNN_OK;
}

const Onnx__AttributeProto *attr_find(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
            return n->attribute[i];
    return NULL;
}

int64_t attr_int(const Onnx__NodeProto *n, const char *name, int64_t absent)
{
    const Onnx__AttributeProto *a = attr_find(n, name);
    return a && a->has_i ? a->i : absent;
}

float attr_float(const Onnx__NodeProto *n, const char *name, float absent)
{
    const Onnx__AttributeProto *a = attr_find(n, name);
    return a && a->has_f ? a->f : absent;
}

int attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *out, int max)
{
    const Onnx__AttributeProto *a = attr_find(n, name);
    if (!a)
        return 0;
    if (a->n_ints > (size_t)max)
        return -1;
    if (a->n_ints) /* an empty list has ints NULL, and memcpy from NULL is undefined */
        memcpy(out, a->ints, sizeof(int64_t) * a->n_ints);
    return (int)a->n_ints;
}

const char *attr_string(const Onnx__NodeProto *n, const char *name, char *buf, size_t size)
{
    const Onnx__AttributeProto *a = attr_find(n, name);
    size_t len = a && a->has_s ? a->s.len : 0;
    if (len >= size)
        len = size - 1;
    if (len)
        memcpy(buf, a->s.data, len);
    buf[len] = '\0';
    return buf;
}
