/* int8 inference: a trained network's forward pass in 8-bit integers.
 *
 * Post-training quantization, as TFLite and ONNX Runtime do it:
 *  - weights: per output channel, symmetric int8, w ~ sw[o] * q, with
 *    sw[o] = max |w[o]| / 127;
 *  - every tensor between layers: uint8 with a scale and a zero point,
 *    x ~ s * (q - z), from the range [lo, hi] the tensor took on a few
 *    hundred calibration images (cnn_net_quantize), widened to hold 0;
 *  - conv and dense: an exact integer product (qgemm), then
 *    y = b + sw * sx * (sum q_w q_x - z_x sum q_w), rounded into the output's
 *    uint8; a ReLU after them is that rounding's floor (its range starts at
 *    0), max pooling picks bytes, average pooling rounds the bytes' mean;
 *  - the last scores leave as floats for the softmax.
 * The ranges are the whole of what quantization adds to a model: the file
 * keeps the float weights and a QUNT section of ranges (model.c), and the
 * int8 weights are derived from them here, the same way every time.
 *
 * The plain loops here are the reference; the integer product runs on the
 * kernels' VNNI, AVX2 or plain C path, all exact, so every path gives the
 * same bytes. */
#include "kernels/kernels.h"
#include "net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float s;
    int z;
} qparams;

typedef struct {
    qparams out;    /* this layer's output tensor                      */
    int fused_relu; /* conv/dense followed by relu: the relu is folded */
    int skip;       /* a relu folded into the layer before, or a no-op  */
    int8_t *qw;     /* conv, dense: the int8 weights                    */
    float *sw;      /* their scale per output channel                   */
    int32_t *wsum;  /* each output channel's sum of q_w                 */
} qlayer;

struct quant_state {
    qparams in;
    qlayer *layers;
    float *ranges; /* 2 (count + 1): the input's, then each layer's */
    int count;
};

static qparams params_of(float lo, float hi)
{
    lo = lo < 0.0f ? lo : 0.0f, hi = hi > 0.0f ? hi : 0.0f;
    qparams p = {(hi - lo) / 255.0f, 0};
    if (!(p.s > 0.0f) || !isfinite(p.s))
        return (qparams){1.0f, 0};
    p.z = (int)lrintf(-lo / p.s);
    p.z = p.z < 0 ? 0 : p.z > 255 ? 255 : p.z;
    return p;
}

static inline uint8_t to_byte(float v, qparams p)
{
    float q = rintf(v / p.s) + (float)p.z;
    return (uint8_t)(q < 0.0f ? 0.0f : q > 255.0f ? 255.0f : q);
}

/* A conv's or dense layer's int8 weights, from its float ones. */
static int quantize_weights(const layer *l, qlayer *q, cnn_error *err)
{
    int rows = l->spec.filters;
    size_t per = l->nweights / (size_t)rows;
    q->qw = malloc(l->nweights);
    q->sw = malloc(sizeof(float) * rows);
    q->wsum = malloc(sizeof(int32_t) * rows);
    if (!q->qw || !q->sw || !q->wsum)
        return cnn_fail(err, CNN_ENOMEM, "out of memory for the int8 weights");
    for (int o = 0; o < rows; o++) {
        const float *w = l->w + (size_t)o * per;
        float most = 0.0f;
        for (size_t k = 0; k < per; k++)
            most = fabsf(w[k]) > most ? fabsf(w[k]) : most;
        q->sw[o] = most > 0.0f ? most / 127.0f : 1.0f;
        int32_t sum = 0;
        for (size_t k = 0; k < per; k++) {
            long v = lrintf(w[k] / q->sw[o]);
            q->qw[(size_t)o * per + k] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
            sum += q->qw[(size_t)o * per + k];
        }
        q->wsum[o] = sum;
    }
    return CNN_OK;
}

void quant_free(quant_state *q)
{
    if (!q)
        return;
    for (int i = 0; i < q->count; i++)
        free(q->layers[i].qw), free(q->layers[i].sw), free(q->layers[i].wsum);
    free(q->layers);
    free(q->ranges);
    free(q);
}

static int score_layer(const cnn_net *net, const quant_state *q);

/* Which layers int8 runs, and how each layer's output is held. */
static int plan_layers(const cnn_net *net, quant_state *q, cnn_error *err)
{
    qparams cur = q->in;
    for (int i = 0; i < net->count; i++) {
        const layer *l = &net->layers[i];
        qlayer *ql = &q->layers[i];
        cnn_layer_kind kind = l->spec.kind, next = i + 1 < net->count
                                                        ? net->layers[i + 1].spec.kind
                                                        : CNN_INPUT;
        switch (kind) {
        case CNN_CONV:
        case CNN_DENSE: {
            ql->fused_relu = next == CNN_RELU;
            const float *r = q->ranges + 2 * (i + 1 + ql->fused_relu);
            ql->out = params_of(r[0], r[1]);
            int rc = quantize_weights(l, ql, err);
            if (rc)
                return rc;
            if (ql->fused_relu)
                q->layers[i + 1].skip = 1, q->layers[i + 1].out = ql->out;
            cur = ql->out;
            i += ql->fused_relu;
            continue;
        }
        case CNN_RELU: case CNN_MAXPOOL: case CNN_AVGPOOL: case CNN_DROPOUT: case CNN_FLATTEN:
            ql->out = cur; /* the same scale: a byte op */
            ql->skip = kind == CNN_DROPOUT || kind == CNN_FLATTEN;
            break;
        case CNN_SUMPOOL: case CNN_LEAKY_RELU: case CNN_SIGMOID: case CNN_TANH:
            ql->out = cur = params_of(q->ranges[2 * (i + 1)], q->ranges[2 * (i + 1) + 1]);
            break;
        case CNN_SOFTMAX:
            if (i != net->count - 1)
                return cnn_fail(err, CNN_EINVAL, "int8: a softmax must be the last layer");
            break;
        default:
            return cnn_fail(err, CNN_EINVAL, "int8 cannot run layer %d (%s)", i + 1,
                            cnn_layer_name(kind));
        }
    }
    int last = score_layer(net, q);
    if (last < 0 || q->layers[last].skip)
        return cnn_fail(err, CNN_EINVAL, "int8 needs a layer that computes the scores");
    return CNN_OK;
}

int quant_attach(cnn_net *net, const float *ranges, cnn_error *err)
{
    quant_state *q = calloc(1, sizeof *q);
    if (q) {
        q->count = net->count;
        q->layers = calloc((size_t)net->count, sizeof *q->layers);
        q->ranges = malloc(sizeof(float) * 2 * (net->count + 1));
    }
    if (!q || !q->layers || !q->ranges) {
        quant_free(q);
        return cnn_fail(err, CNN_ENOMEM, "out of memory for the int8 network");
    }
    memcpy(q->ranges, ranges, sizeof(float) * 2 * (net->count + 1));
    q->in = params_of(ranges[0], ranges[1]);
    int rc = plan_layers(net, q, err);
    if (rc) {
        quant_free(q);
        return rc;
    }
    quant_free(net->quant);
    net->quant = q;
    return CNN_OK;
}

const float *quant_ranges(const cnn_net *net) { return net->quant ? net->quant->ranges : NULL; }

/* ---- the layers, one image at a time ------------------------------------ */

/* Output channel o of a conv or dense layer, n values from their integer
 * sums acc, stored `step` apart: y = b + sw sx (acc - zx sum q_w), as a
 * float score into f, or rounded into a byte of the output's scale into q
 * (the multiply by 1 / s_out folded into the factor: no division). */
static void output_row(const qlayer *ql, qparams in, int o, float bias, const int32_t *acc,
                       int step, int n, uint8_t *q, float *f)
{
    float scale = ql->sw[o] * in.s;
    int32_t shift = in.z * ql->wsum[o];
    if (f) {
        for (int p = 0; p < n; p++) {
            float v = bias + scale * (float)(acc[p] - shift);
            f[(size_t)p * step] = ql->fused_relu && v < 0.0f ? 0.0f : v;
        }
        return;
    }
    float mult = scale / ql->out.s, add = bias / ql->out.s + (float)ql->out.z;
    requant_bytes(acc, n, shift, mult, add, q, step);
}

/* conv: the image's windows unrolled into bytes (padding is the zero point,
 * a real 0), their integer product with the weights, then each output
 * rounded into its byte (or left as a float score, out_f). */
static void conv_q(const layer *l, const qlayer *ql, qparams in, const uint8_t *x, uint8_t *cols,
                   int32_t *acc, uint8_t *y, float *out_f)
{
    const cnn_layer_spec *s = &l->spec;
    int c = l->in.c, h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w;
    int k = c * s->kh * s->kw, n = oh * ow;
    for (int ch = 0; ch < c; ch++)
        for (int ky = 0; ky < s->kh; ky++)
            for (int kx = 0; kx < s->kw; kx++) {
                uint8_t *row = cols + (size_t)((ch * s->kh + ky) * s->kw + kx) * n;
                /* the outputs whose input column is inside: [x0, x1) */
                int x0 = 0, x1 = ow;
                while (x0 < ow && x0 * s->sw - s->pw + kx < 0)
                    x0++;
                while (x1 > x0 && (x1 - 1) * s->sw - s->pw + kx >= w)
                    x1--;
                for (int oy = 0; oy < oh; oy++) {
                    int iy = oy * s->sh - s->ph + ky;
                    uint8_t *r = row + (size_t)oy * ow;
                    if (iy < 0 || iy >= h) {
                        memset(r, in.z, (size_t)ow);
                        continue;
                    }
                    const uint8_t *src = x + ((size_t)ch * h + iy) * w - s->pw + kx;
                    memset(r, in.z, (size_t)x0);
                    if (s->sw == 1)
                        memcpy(r + x0, src + x0, (size_t)(x1 - x0));
                    else
                        for (int ox = x0; ox < x1; ox++)
                            r[ox] = src[ox * s->sw];
                    memset(r + x1, in.z, (size_t)(ow - x1));
                }
            }
    qgemm(0, s->filters, n, k, ql->qw, k, cols, n, acc, n);
    for (int o = 0; o < s->filters; o++)
        output_row(ql, in, o, l->b ? l->b[o] : 0.0f, acc + (size_t)o * n, 1, n,
                   y ? y + (size_t)o * n : NULL, out_f ? out_f + (size_t)o * n : NULL);
}

/* pooling over bytes: max picks one (the padding never wins), an average
 * rounds the mean of the real values, a sum is rounded into its own scale. */
static void pool_q(const layer *l, qparams in, qparams out, const uint8_t *x, uint8_t *y)
{
    const cnn_layer_spec *s = &l->spec;
    int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w;
    for (int ch = 0; ch < l->in.c; ch++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                int ys = oy * s->sh - s->ph, xs = ox * s->sw - s->pw;
                int ye = ys + s->kh, xe = xs + s->kw, most = 0, sum = 0, count;
                int y0 = ys > 0 ? ys : 0, y1 = ye < h ? ye : h;
                int x0 = xs > 0 ? xs : 0, x1 = xe < w ? xe : w;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        int v = x[((size_t)ch * h + iy) * w + ix];
                        most = v > most ? v : most;
                        sum += v - in.z;
                    }
                if (s->count_pad) {
                    int ce = ye < h + s->ph_end ? ye : h + s->ph_end;
                    int cx = xe < w + s->pw_end ? xe : w + s->pw_end;
                    count = (ce - ys) * (cx - xs);
                } else {
                    count = (y1 - y0) * (x1 - x0);
                }
                uint8_t *o = y + ((size_t)ch * oh + oy) * ow + ox;
                if (s->kind == CNN_MAXPOOL)
                    *o = (uint8_t)most;
                else if (s->kind == CNN_AVGPOOL)
                    *o = to_byte(in.s * (float)sum / (float)count, out);
                else
                    *o = to_byte(in.s * (float)sum, out);
            }
}

/* an element-wise activation: relu on the bytes, the others through floats */
static void activation_q(const layer *l, qparams in, qparams out, const uint8_t *x, uint8_t *y,
                         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (l->spec.kind == CNN_RELU) {
            y[i] = x[i] > in.z ? x[i] : (uint8_t)in.z;
            continue;
        }
        float v = in.s * (float)(x[i] - in.z);
        if (l->spec.kind == CNN_LEAKY_RELU)
            v = v > 0.0f ? v : l->spec.alpha * v;
        else if (l->spec.kind == CNN_SIGMOID)
            v = 1.0f / (1.0f + expf(-v));
        else
            v = tanhf(v);
        y[i] = to_byte(v, out);
    }
}

/* dense over the whole batch at once: outputs x images, then each rounded
 * into its byte (or left as a float score). */
static void dense_q(const layer *l, const qlayer *ql, qparams in, int n, const uint8_t *x,
                    int32_t *acc, uint8_t *y, float *out_f)
{
    int k = (int)cnn_shape_size(l->in), m = l->spec.filters;
    qgemm(1, m, n, k, ql->qw, k, x, k, acc, n);
    for (int o = 0; o < m; o++) /* image b's output o is at b * m + o */
        output_row(ql, in, o, l->b ? l->b[o] : 0.0f, acc + (size_t)o * n, m, n,
                   y ? y + o : NULL, out_f ? out_f + o : NULL);
}

/* ---- the forward pass --------------------------------------------------- */

/* The layer whose output is the scores: the one before the softmax, or the
 * last, back past the layers int8 skips (a folded relu, flatten, dropout),
 * which leave the values as they are. */
static int score_layer(const cnn_net *net, const quant_state *q)
{
    int last = net->count - 1 - (net->layers[net->count - 1].spec.kind == CNN_SOFTMAX);
    while (last > 0 && q->layers[last].skip)
        last--;
    return last;
}

typedef struct {
    uint8_t *a, *b, *cols;
    int32_t *acc;
} quant_buffers;

static int buffers_for(const cnn_net *net, int n, quant_buffers *q, cnn_error *err)
{
    size_t most = cnn_shape_size(net->input), cols = 1, acc = 1;
    for (int i = 0; i < net->count; i++) {
        const layer *l = &net->layers[i];
        size_t out = cnn_shape_size(l->out);
        most = out > most ? out : most;
        if (l->spec.kind == CNN_CONV) {
            size_t k = (size_t)l->in.c * l->spec.kh * l->spec.kw * l->out.h * l->out.w;
            cols = k > cols ? k : cols;
            acc = out > acc ? out : acc;
        } else if (l->spec.kind == CNN_DENSE) {
            acc = out * (size_t)n > acc ? out * (size_t)n : acc;
        }
    }
    q->a = malloc(most * (size_t)n), q->b = malloc(most * (size_t)n);
    q->cols = malloc(cols), q->acc = malloc(sizeof(int32_t) * acc);
    if (q->a && q->b && q->cols && q->acc)
        return CNN_OK;
    free(q->a), free(q->b), free(q->cols), free(q->acc);
    return cnn_fail(err, CNN_ENOMEM, "out of memory for an int8 batch of %d", n);
}

/* Layer i over the batch, from bytes x into bytes y, or into the float
 * scores f when it is the score layer. */
static void run_layer(const cnn_net *net, int i, qparams in, int n, const uint8_t *x, uint8_t *y,
                      float *f, const quant_buffers *buf)
{
    const layer *l = &net->layers[i];
    const qlayer *ql = &net->quant->layers[i];
    size_t isz = cnn_shape_size(l->in), osz = cnn_shape_size(l->out);
    switch (l->spec.kind) {
    case CNN_CONV:
        for (int b = 0; b < n; b++)
            conv_q(l, ql, in, x + b * isz, buf->cols, buf->acc, y + b * osz, f ? f + b * osz : NULL);
        return;
    case CNN_DENSE:
        dense_q(l, ql, in, n, x, buf->acc, y, f);
        return;
    case CNN_MAXPOOL: case CNN_AVGPOOL: case CNN_SUMPOOL:
        for (int b = 0; b < n; b++)
            pool_q(l, in, ql->out, x + b * isz, y + b * osz);
        break;
    default:
        activation_q(l, in, ql->out, x, y, isz * (size_t)n);
        break;
    }
    if (f) /* scores from a layer of bytes */
        for (size_t p = 0; p < osz * (size_t)n; p++)
            f[p] = ql->out.s * (float)(y[p] - ql->out.z);
}

/* The probabilities of the scores z (n x k) into p, as the softmax layer. */
static void softmax_rows(const float *z, int n, int k, float *p)
{
    for (int i = 0; i < n; i++, z += k, p += k) {
        float max = z[0], sum = 0.0f;
        for (int j = 1; j < k; j++)
            max = z[j] > max ? z[j] : max;
        for (int j = 0; j < k; j++)
            sum += p[j] = expf(z[j] - max);
        for (int j = 0; j < k; j++)
            p[j] /= sum;
    }
}

int quant_forward(cnn_net *net, const float *x, int n, cnn_error *err)
{
    int softmax = net->layers[net->count - 1].spec.kind == CNN_SOFTMAX;
    float *scores = net->plan.act[net->count - 1 - softmax];
    if (!scores || (softmax && !net->plan.act[net->count - 1]))
        return cnn_fail(err, CNN_EINVAL, "int8: the network keeps no buffer for its scores");
    quant_buffers buf;
    int rc = buffers_for(net, n, &buf, err);
    if (rc)
        return rc;
    const quant_state *q = net->quant;
    size_t in_size = cnn_shape_size(net->input) * (size_t)n;
    for (size_t p = 0; p < in_size; p++)
        buf.a[p] = to_byte(x[p], q->in);
    int last = score_layer(net, q);
    qparams cur = q->in;
    for (int i = 0; i <= last; i++) {
        if (q->layers[i].skip)
            continue;
        run_layer(net, i, cur, n, buf.a, buf.b, i == last ? scores : NULL, &buf);
        cur = q->layers[i].out;
        uint8_t *t = buf.a;
        buf.a = buf.b, buf.b = t;
    }
    if (softmax)
        softmax_rows(scores, n, cnn_net_classes(net), net->plan.act[net->count - 1]);
    free(buf.a), free(buf.b), free(buf.cols), free(buf.acc);
    return CNN_OK;
}

/* ---- calibration -------------------------------------------------------- */

/* The range of every tensor over the images, run by a float copy of the
 * network that keeps every layer's output. */
static int calibrate(const cnn_net *net, const float *x, int n, float *ranges, cnn_error *err)
{
    char *spec = cnn_net_to_spec(net);
    cnn_net *copy = spec ? cnn_net_parse(spec, NULL, err) : NULL;
    free(spec);
    if (!copy)
        return err && err->status ? err->status : cnn_fail(err, CNN_ENOMEM, "out of memory");
    int batch = n < 64 ? n : 64, count = net->count;
    cnn_net_keep_activations(copy, 1);
    cnn_net_set_threads(copy, net->threads);
    int rc = cnn_net_init(copy, batch, 0, err);
    if (rc == CNN_OK)
        rc = cnn_net_set_params(copy, net->params, net->nparams, err);
    for (int i = 0; i <= count; i++)
        ranges[2 * i] = INFINITY, ranges[2 * i + 1] = -INFINITY;
    size_t in_size = cnn_shape_size(net->input);
    for (int first = 0; rc == CNN_OK && first < n; first += batch) {
        int m = n - first < batch ? n - first : batch;
        const float *xb = x + (size_t)first * in_size;
        if ((rc = cnn_forward(copy, xb, m, 0, err)))
            break;
        for (int i = -1; i < count; i++) {
            const float *v = i < 0 ? xb : cnn_net_activation(copy, i);
            size_t size = (i < 0 ? in_size : cnn_shape_size(net->layers[i].out)) * (size_t)m;
            float *r = ranges + 2 * (i + 1);
            for (size_t p = 0; p < size; p++) {
                r[0] = v[p] < r[0] ? v[p] : r[0];
                r[1] = v[p] > r[1] ? v[p] : r[1];
            }
        }
    }
    cnn_net_free(copy);
    for (int i = 0; rc == CNN_OK && i <= 2 * count + 1; i++)
        if (!isfinite(ranges[i]))
            rc = cnn_fail(err, CNN_ENUMERIC, "int8: a tensor took no finite values in calibration");
    return rc;
}

int cnn_net_quantize(cnn_net *net, const float *x, int n, cnn_error *err)
{
    if (!net->work)
        return cnn_fail(err, CNN_EINVAL, "call cnn_net_init before quantizing the network");
    if (n < 1)
        return cnn_fail(err, CNN_EINVAL, "int8: calibration needs at least one image");
    float *ranges = malloc(sizeof(float) * 2 * ((size_t)net->count + 1));
    if (!ranges)
        return cnn_fail(err, CNN_ENOMEM, "out of memory");
    quant_free(net->quant); /* calibrate the float network, not the int8 one */
    net->quant = NULL;
    int rc = calibrate(net, x, n, ranges, err);
    if (rc == CNN_OK)
        rc = quant_attach(net, ranges, err);
    free(ranges);
    return rc;
}

const float *cnn_net_quant_ranges(const cnn_net *net) { return quant_ranges(net); }

int cnn_net_quantize_ranges(cnn_net *net, const float *ranges, cnn_error *err)
{
    if (!net->work)
        return cnn_fail(err, CNN_EINVAL, "call cnn_net_init before quantizing the network");
    return quant_attach(net, ranges, err);
}
