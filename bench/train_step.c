/* The training step alone: cnn_dataset_batch + cnn_train_batch over real
 * MNIST images in a loop, without the epoch's shuffle, progress and
 * evaluation around it, timed per round.  For comparing two builds, or one
 * vCPU with the other (taskset), on a machine whose speed drifts.
 *
 *   make    (for build/libcnn.a), then
 *   cc -O2 -Iinclude bench/train_step.c build/libcnn.a -fopenmp -lz -lpng -ljpeg -lstb -lm \
 *      -o train_step
 *   OMP_NUM_THREADS=2 ./train_step [net, default lenet] [steps, default 300] [rounds, 3]
 *   OMP_NUM_THREADS=1 taskset -c 1 ./train_step lenet
 *
 * Data from $CNN_DATA or ../shared/data/mnist. */
#include "cnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "lenet";
    int steps = argc > 2 ? atoi(argv[2]) : 300, rounds = argc > 3 ? atoi(argv[3]) : 3;
    const char *dir = getenv("CNN_DATA") ? getenv("CNN_DATA") : "../shared/data/mnist";
    cnn_error err;
    cnn_train_config cfg;
    cnn_dataset d;
    cnn_net *net = cnn_preset(name) ? cnn_net_parse(cnn_preset(name), &cfg, &err) : NULL;
    if (!net || steps < 1 || rounds < 1) {
        fprintf(stderr, "train_step: net seed|lenet|convnet, steps and rounds >= 1\n");
        return 2;
    }
    if (cnn_idx_load_dir(dir, "train", 0, &d, &err) || cnn_net_init(net, cfg.batch, 1, &err)) {
        fprintf(stderr, "train_step: %s\n", err.msg);
        return 1;
    }
    cnn_optim *opt = cnn_optim_new(net, &cfg, &err);
    int batch = cfg.batch;
    float *x = malloc(sizeof(float) * (size_t)batch * (size_t)(d.c * d.h * d.w));
    uint8_t *labels = malloc((size_t)batch);
    if (!opt || !x || !labels || d.n < batch)
        return 1;
    float mean, std;
    cnn_net_normalization(net, &mean, &std);
    for (int r = 0; r < rounds; r++) {
        double t = seconds();
        for (int s = 0; s < steps; s++) {
            cnn_dataset_batch(&d, NULL, (int)(((long)s * batch) % (d.n - batch)), batch, mean,
                              std, x, labels);
            if (cnn_train_batch(net, opt, x, labels, batch, 0, NULL, NULL, &err)) {
                fprintf(stderr, "train_step: %s\n", err.msg);
                return 1;
            }
        }
        t = seconds() - t;
        printf("%s: %.0f img/s, %.1f us a step of %d\n", name, steps * batch / t, t / steps * 1e6,
               batch);
    }
    free(x), free(labels);
    cnn_optim_free(opt);
    cnn_net_free(net);
    cnn_dataset_free(&d);
    return 0;
}
