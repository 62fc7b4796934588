/* The same library's speed natively and in WebAssembly: lenet trained on
 * synthetic 28x28 images (random pixels, labels from a hash), one thread,
 * then batch-256 inference and single-image forwards.  One JSON line.
 *   native:  cc web/speed.c build/libcnn.a ... && ./speed
 *   wasm:    make web, then node build-web/speed.js */
#include <cnn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4096;
    cnn_error err;
    cnn_train_config cfg;
    cnn_net *net = cnn_net_parse(cnn_preset("lenet"), &cfg, &err);
    cnn_dataset d = {n, 1, 28, 28, 10, malloc((size_t)n * 784), malloc(sizeof(cnn_label) * n), NULL};
    cnn_rng r;
    cnn_rng_seed(&r, 1);
    for (size_t i = 0; i < (size_t)n * 784; i++)
        d.pixels[i] = (uint8_t)(cnn_rng_next(&r) >> 56);
    for (int i = 0; i < n; i++)
        d.labels[i] = (cnn_label)(d.pixels[(size_t)i * 784 + 400] % 10);
    cnn_net_set_threads(net, 1);
    cnn_optim *opt = NULL;
    if (cnn_net_init(net, 256, 1, &err) || !(opt = cnn_optim_new(net, &cfg, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t0 = now();
    if (cnn_train_epoch(net, opt, &d, 0, cfg.batch, 1, NULL, NULL, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double train = n / (now() - t0);
    float *x = malloc(sizeof(float) * 256 * 784);
    cnn_label *y = malloc(sizeof(cnn_label) * 256);
    cnn_dataset_batch(&d, NULL, 0, 256, 0.1307f, 0.3081f, x, y);
    t0 = now();
    int reps = 0;
    while (now() - t0 < 1.0 && cnn_forward(net, x, 256, 0, &err) == CNN_OK)
        reps++;
    double infer = 256.0 * reps / (now() - t0);
    t0 = now();
    int singles = 0;
    while (now() - t0 < 1.0 && cnn_forward(net, x, 1, 0, &err) == CNN_OK)
        singles++;
    double latency = (now() - t0) / singles * 1e6;
    printf("{\"net\":\"lenet\",\"simd\":\"%s\",\"train_ips\":%.0f,\"infer_b256_ips\":%.0f,"
           "\"latency_b1_us\":%.1f}\n", cnn_simd_path(), train, infer, latency);
    cnn_optim_free(opt);
    cnn_net_free(net);
    free(d.pixels), free(d.labels), free(x), free(y);
    return 0;
}
