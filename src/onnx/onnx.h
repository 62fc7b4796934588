/* What the ONNX importer's two files share (import.c walks the graph into
 * layers; tensors.c reads tensors and attributes).  Every size that comes
 * from the file is checked against the file before anything is
 * allocated. */
#ifndef CNN_ONNX_H
#define CNN_ONNX_H

#include "cnn.h"
#include "onnx.pb-c.h"

enum { MAX_DIMS = 8 };
/* At most this many values in a tensor (a weight of 1 GiB) and in an image
 * on the path (the core's own limit on a layer's output): every count and
 * shape the importer computes then fits an int. */
#define MAX_VALUES ((size_t)1 << 28)

/* A float tensor known when the graph is read: an initializer or a
 * Constant's output (int64 tensors, the shapes of Reshape, as floats). */
typedef struct {
    const char *name;
    int ndims;
    int64_t dims[MAX_DIMS];
    size_t count;
    float *data; /* owned */
} tensor;

/* The tensor's values as floats (from float or int64 data, raw or not);
 * CNN_OK, or an error naming it. */
int tensor_read(const Onnx__TensorProto *t, tensor *out, cnn_error *err);

/* A node's attribute by name, NULL if absent. */
const Onnx__AttributeProto *attr_find(const Onnx__NodeProto *n, const char *name);
int64_t attr_int(const Onnx__NodeProto *n, const char *name, int64_t absent);
float attr_float(const Onnx__NodeProto *n, const char *name, float absent);
/* Up to max ints into out; how many (0 if absent, -1 if more than max). */
int attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *out, int max);
/* A string attribute ("" if absent). */
const char *attr_string(const Onnx__NodeProto *n, const char *name, char *buf, size_t size);

#endif
