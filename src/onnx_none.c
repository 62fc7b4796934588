/* The ONNX calls of a library built without ONNX (make ONNX=0): they say
 * so.  src/onnx/ has the real ones. */
#include "cnn.h"

int cnn_model_export_onnx(const char *path, cnn_net *net, const cnn_model_meta *meta,
                          cnn_error *err)
{
    (void)path, (void)net, (void)meta;
    return cnn_fail(err, CNN_EINVAL, "this cnn was built without ONNX (make ONNX=0)");
}

cnn_net *cnn_model_import_onnx(const char *path, cnn_model_meta *meta, cnn_error *err)
{
    (void)path, (void)meta;
    cnn_fail(err, CNN_EINVAL, "this cnn was built without ONNX (make ONNX=0)");
    return NULL;
}

cnn_net *cnn_model_parse_onnx(const uint8_t *bytes, size_t len, cnn_model_meta *meta,
                              cnn_error *err)
{
    (void)bytes, (void)len, (void)meta;
    cnn_fail(err, CNN_EINVAL, "this cnn was built without ONNX (make ONNX=0)");
    return NULL;
}
