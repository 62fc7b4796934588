/* cnn bench: how fast the reference networks train and run, measured the way
 * the PyTorch peer (../shared/bench/torch_ref.py) measures itself, so the two
 * can be put side by side.
 *
 * Each (network, thread count) is measured in a fresh process (this program
 * re-executed with --child): peak resident memory is a per-process high-water
 * mark, and a fresh OpenMP runtime keeps one run's thread pool out of the
 * next one's figures.
 *
 * FLOPs are counted as common.py counts them: 2 per multiply-add of the conv
 * and dense layers only; training = 3 x forward.
 *
 * The per-layer profile is the library's (cnn_net_profile): each layer on
 * its own, as the unfused plan runs it. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const char HELP[] =
    "usage: cnn bench [--net seed|lenet|convnet|all] [--threads N|N,M,...] [OPTIONS]\n"
    "\n"
    "Trains one epoch, then measures test accuracy, batch-256 inference,\n"
    "batch-1 latency, peak memory and GFLOP/s against the FP32 FMA peak; each\n"
    "network and thread count in its own process.\n"
    "\n"
    "  --net NAME       seed, lenet, convnet or all [all]\n"
    "  --threads LIST   thread counts, e.g. 2 or 1,2 [the CPUs online]\n"
    "  --data DIR       MNIST-style IDX folder [../shared/data/mnist if present,\n"
    "                   else " CLI_DEFAULT_DATA "]\n"
    "  --train-n N      training images for the timed epoch [60000]\n"
    "  --lat-n N        single-image forwards for the latency [2000]\n"
    "  --infer-reps N   timed batch-256 passes over the test set [5]\n"
    "  --no-layers      skip the per-layer profile\n"
    "  --infer-only     no training: batch-256 inference and batch-1 latency\n"
    "  --int8           then the same net quantized to int8 (cnn quantize, on the\n"
    "                   first 500 training images): its accuracy and speed too\n"
    "                   alone, on the initial weights (the speed is the same)\n"
    "  --seed N         seed for weights and shuffling [1]\n"
    "  --json           one JSON line per network and thread count\n";

enum { INFER_BATCH = 256, WARM_LAT = 100, MAX_THREAD_LIST = 16 };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v; the median as Python's statistics.median takes it. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int is_idx_dir(const char *dir)
{
    char p[4096 + 64];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    if (access(p, R_OK) == 0)
        return 1;
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    return access(p, R_OK) == 0;
}

/* ../shared/data/mnist next to the repository (from the working directory,
 * then from where this program lives: REPO/build/cnn), else Fashion-MNIST. */
static const char *default_data(char *buf, size_t size)
{
    if (is_idx_dir("../shared/data/mnist"))
        return "../shared/data/mnist";
    char exe[2048];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        for (int up = 0; up < 2; up++) { /* strip "cnn", then "build" */
            char *slash = strrchr(exe, '/');
            if (slash)
                *slash = '\0';
        }
        int w = snprintf(buf, size, "%s/../shared/data/mnist", exe);
        if (w > 0 && (size_t)w < size && is_idx_dir(buf))
            return buf;
    }
    return CLI_DEFAULT_DATA;
}

/* ---- the per-layer profile ---------------------------------------------- */

typedef struct {
    int count, batch;
    double fwd_us[64], bwd_us[64]; /* per batch */
    double flops[64];              /* forward, per image, conv and dense only */
    int has_dx[64];
} profile;

/* Each layer's time over batches of n test images (the test set repeated
 * if it is smaller), forward and, with_backward, backward: cnn_net_profile,
 * for about budget seconds. */
static int profile_layers(cnn_net *net, const cnn_dataset *test, int n, int with_backward,
                          double budget, profile *out)
{
    int count = cnn_net_layers(net);
    if (count > 64)
        return -1;
    memset(out, 0, sizeof *out);
    out->count = count;
    out->batch = n;
    size_t in_size = cnn_shape_size(cnn_net_input_shape(net));
    float *x = malloc(sizeof(float) * in_size * (size_t)n);
    cnn_label *labels = malloc(sizeof *labels * (size_t)n);
    cnn_layer_time times[64];
    cnn_error err;
    int ok = x && labels;
    if (ok) {
        float mean, std;
        cnn_net_normalization(net, &mean, &std);
        for (int have = 0, take; have < n; have += take) {
            take = n - have < test->n ? n - have : test->n;
            cnn_dataset_batch(test, NULL, 0, take, mean, std, x + (size_t)have * in_size,
                              labels + have);
        }
        ok = cnn_net_profile(net, x, with_backward ? labels : NULL, n, budget, times, &err) ==
             CNN_OK;
    }
    for (int i = 0; ok && i < count; i++) {
        cnn_layer_kind k = cnn_net_layer(net, i).kind;
        out->fwd_us[i] = times[i].forward_us;
        out->bwd_us[i] = times[i].backward_us;
        out->flops[i] = k == CNN_CONV || k == CNN_DENSE ? cnn_net_layer_flops(net, i) : 0;
        out->has_dx[i] = i > 0;
    }
    free(x), free(labels);
    return ok ? 0 : -1;
}

/* ---- one network, one thread count (the child process) ------------------- */

typedef struct {
    const char *net, *data;
    int threads, train_n, lat_n, infer_reps, layers, json, infer_only, int8;
    uint64_t seed;
} bench_opts;

typedef struct {
    double load1, peak, train_s, train_ips, acc, infer_best, infer_med, lat_med, lat_p90;
    double fwd_flops, step_us, data_us;
    long rss_kb, rss_all_kb;
    int train_images, test_images, batch;
    cnn_train_config cfg;
    profile train_prof, lat_prof;
    int have_prof;
    /* --int8: the same figures of the quantized network */
    int have_int8;
    double acc8, infer8_best, infer8_med, lat8_med, lat8_p90;
} bench_result;

/* The int8 figures as JSON keys (after a float line's own), or as text. */
static void print_int8(const bench_result *r, int json, int with_accuracy)
{
    if (!r->have_int8)
        return;
    if (json) {
        if (with_accuracy)
            printf(",\"acc_test_int8\":%.4f", r->acc8);
        printf(",\"infer_b256_ips_best_int8\":%.1f,\"infer_b256_ips_median_int8\":%.1f,"
               "\"lat_b1_us_median_int8\":%.2f,\"lat_b1_us_p90_int8\":%.2f",
               r->infer8_best, r->infer8_med, r->lat8_med, r->lat8_p90);
        return;
    }
    if (with_accuracy)
        printf("  int8 accuracy  %.2f%% (float %.2f%%)\n", 100 * r->acc8, 100 * r->acc);
    printf("  int8 b256      best %.0f img/s, median %.0f img/s (%.2fx float)\n"
           "  int8 b1        median %.1f us, p90 %.1f us\n",
           r->infer8_best, r->infer8_med, r->infer8_best / r->infer_best, r->lat8_med,
           r->lat8_p90);
}

/* conv layers during training: forward + weight gradient + (but for the first
 * layer) input gradient, per the profile at the training batch. */
static double conv_train_gflops(const profile *p, const cnn_net *net)
{
    double flops = 0, us = 0;
    for (int i = 0; i < p->count; i++) {
        if (cnn_net_layer(net, i).kind != CNN_CONV)
            continue;
        flops += p->flops[i] * p->batch * (2 + p->has_dx[i]);
        us += p->fwd_us[i] + p->bwd_us[i];
    }
    return us > 0 ? flops / us * 1e-3 : 0;
}

static void print_json(const bench_opts *o, const bench_result *r, const cnn_net *net)
{
    double train_gf = r->train_ips * 3 * r->fwd_flops * 1e-9;
    double infer_gf = r->infer_best * r->fwd_flops * 1e-9;
    printf("{\"peer\":\"cnn\",\"net\":\"%s\",\"threads\":%d,\"simd\":\"%s\",\"data\":\"%s\","
           "\"batch\":%d,\"opt\":\"%s\",\"lr\":%g,\"train_images\":%d,\"train_s\":%.4f,"
           "\"train_ips\":%.1f,\"acc_test\":%.4f,\"infer_b256_ips_best\":%.1f,"
           "\"infer_b256_ips_median\":%.1f,\"lat_b1_us_median\":%.2f,\"lat_b1_us_p90\":%.2f,"
           "\"rss_kb\":%ld,\"rss_all_kb\":%ld,\"train_gflops\":%.3f,\"infer_gflops\":%.3f,\"peak_gflops\":%.1f,"
           "\"train_peak_pct\":%.2f,\"infer_peak_pct\":%.2f,\"load1\":%.2f",
           o->net, o->threads, cnn_simd_path(), o->data, r->batch, cli_optimizers[r->cfg.optimizer],
           r->cfg.lr, r->train_images, r->train_s, r->train_ips, r->acc, r->infer_best,
           r->infer_med, r->lat_med, r->lat_p90, r->rss_kb, r->rss_all_kb, train_gf, infer_gf, r->peak,
           100 * train_gf / r->peak, 100 * infer_gf / r->peak, r->load1);
    print_int8(r, 1, 1);
    if (r->have_prof) {
        double conv = conv_train_gflops(&r->train_prof, net);
        printf(",\"conv_train_gflops\":%.3f,\"conv_peak_pct\":%.2f,\"step_us\":%.2f,"
               "\"data_us\":%.2f,\"layers\":[",
               conv, 100 * conv / r->peak, r->step_us, r->data_us);
        for (int i = 0; i < r->train_prof.count; i++) {
            const char *method = cnn_net_layer_method(net, i);
            printf("%s{\"kind\":\"%s\",\"fwd_us\":%.2f,\"bwd_us\":%.2f,\"fwd_b1_us\":%.2f",
                   i ? "," : "", cnn_layer_name(cnn_net_layer(net, i).kind),
                   r->train_prof.fwd_us[i], r->train_prof.bwd_us[i], r->lat_prof.fwd_us[i]);
            if (method)
                printf(",\"method\":\"%s\"", method);
            printf("}");
        }
        printf("]");
    }
    printf("}\n");
}

/* --infer-only: the inference figures alone, keyed as in the full line. */
static void print_infer(const bench_opts *o, const bench_result *r)
{
    if (!o->json)
        printf("%s: %d thread%s, %s, inference alone (%d test images)\n"
               "  inference b256 best %.0f img/s, median %.0f img/s\n"
               "  latency b1     median %.1f us, p90 %.1f us\n",
               o->net, o->threads, o->threads == 1 ? "" : "s", cnn_simd_path(), r->test_images,
               r->infer_best, r->infer_med, r->lat_med, r->lat_p90);
    if (!o->json) {
        print_int8(r, 0, 0);
    } else {
        printf("{\"peer\":\"cnn\",\"mode\":\"infer\",\"net\":\"%s\",\"threads\":%d,"
               "\"simd\":\"%s\",\"data\":\"%s\",\"test_images\":%d,\"infer_b256_ips_best\":%.1f,"
               "\"infer_b256_ips_median\":%.1f,\"lat_b1_us_median\":%.2f,"
               "\"lat_b1_us_p90\":%.2f,\"load1\":%.2f",
               o->net, o->threads, cnn_simd_path(), o->data, r->test_images, r->infer_best,
               r->infer_med, r->lat_med, r->lat_p90, r->load1);
        print_int8(r, 1, 0);
        printf("}\n");
    }
    fflush(stdout);
}

static void print_text(const bench_opts *o, const bench_result *r, const cnn_net *net)
{
    double train_gf = r->train_ips * 3 * r->fwd_flops * 1e-9;
    double infer_gf = r->infer_best * r->fwd_flops * 1e-9;
    printf("%s: %d thread%s, %s, FP32 FMA peak %.1f GFLOP/s, load %.2f\n", o->net, o->threads,
           o->threads == 1 ? "" : "s", cnn_simd_path(), r->peak, r->load1);
    printf("  data           %s (%d training, %d test images)\n", o->data, r->train_images,
           r->test_images);
    printf("  training       %.0f img/s (%s lr %g, batch %d; %.2f s)  %.2f GFLOP/s = %.1f%% of "
           "peak\n",
           r->train_ips, cli_optimizers[r->cfg.optimizer], r->cfg.lr, r->batch, r->train_s,
           train_gf, 100 * train_gf / r->peak);
    printf("  test accuracy  %.2f%%\n", 100 * r->acc);
    printf("  inference b256 best %.0f img/s, median %.0f img/s  %.2f GFLOP/s = %.1f%% of peak\n",
           r->infer_best, r->infer_med, infer_gf, 100 * infer_gf / r->peak);
    printf("  latency b1     median %.1f us, p90 %.1f us\n", r->lat_med, r->lat_p90);
    print_int8(r, 0, 1);
    printf("  peak memory    %.1f MiB training (%ld kB), %.1f MiB with batch-256 inference\n",
           r->rss_kb / 1024.0, r->rss_kb, r->rss_all_kb / 1024.0);
    if (!r->have_prof) {
        fflush(stdout);
        return;
    }
    const profile *p = &r->train_prof;
    double total = r->step_us + r->data_us;
    for (int i = 0; i < p->count; i++)
        total += p->fwd_us[i] + p->bwd_us[i];
    double epoch_us = r->train_s * 1e6 / ((r->train_images + r->batch - 1) / r->batch);
    printf("  per layer, training batch %d (us per batch; GFLOP/s of conv and dense):\n",
           p->batch);
    printf("    %-3s %-8s %10s %10s %6s %9s %9s %11s\n", "#", "layer", "forward", "backward",
           "share", "fwd GF/s", "bwd GF/s", "fwd b1 us");
    for (int i = 0; i < p->count; i++) {
        double f = p->flops[i] * p->batch;
        printf("    %-3d %-8s %10.1f %10.1f %5.1f%%", i + 1,
               cnn_layer_name(cnn_net_layer(net, i).kind), p->fwd_us[i], p->bwd_us[i],
               100 * (p->fwd_us[i] + p->bwd_us[i]) / total);
        if (f > 0)
            printf(" %9.2f %9.2f", f / p->fwd_us[i] * 1e-3,
                   f * (1 + p->has_dx[i]) / p->bwd_us[i] * 1e-3);
        else
            printf(" %9s %9s", "", "");
        const char *method = cnn_net_layer_method(net, i);
        printf(" %11.2f%s%s\n", r->lat_prof.fwd_us[i], method ? "  " : "", method ? method : "");
    }
    printf("    optimiser step %.1f us, batch conversion %.1f us; sum %.1f us vs %.1f us "
           "per batch in the epoch\n",
           r->step_us, r->data_us, total, epoch_us);
    double conv = conv_train_gflops(p, net);
    printf("    conv layers in training: %.2f GFLOP/s = %.1f%% of peak\n", conv,
           100 * conv / r->peak);
    for (int i = 0; i < p->count; i++)
        if (cnn_net_layer_method(net, i) && !strcmp(cnn_net_layer_method(net, i), "winograd")) {
            printf("    (FLOPs of the direct convolution; the winograd layers multiply-add 4/9 "
                   "as often)\n");
            break;
        }
    fflush(stdout);
}

/* One measurement under way. */
typedef struct {
    cnn_net *net;
    cnn_optim *opt;
    cnn_dataset train, test;
} bench_run;

/* The network, its data and its optimiser, for training at its own batch. */
static int set_up(const bench_opts *o, bench_run *b, bench_result *r)
{
    cnn_error err;
    cnn_train_config cfg;
    if (!(b->net = cli_load_net(o->net, &cfg, NULL, NULL)))
        return EXIT_FAIL;
    cnn_net_set_threads(b->net, o->threads);
    /* one epoch at the preset's learning rate, as the peer runs it */
    cfg.schedule = CNN_CONSTANT;
    r->cfg = cfg;
    r->batch = cfg.batch;
    cnn_shape in = cnn_net_input_shape(b->net);
    size_t train_n = o->infer_only ? 1 : (size_t)o->train_n;
    if (cli_load_splits(o->data, train_n, 0, in, o->threads, &b->train, &b->test))
        return EXIT_FAIL;
    /* the workspace for the training batch; inference at batch 256 gets
     * its own after the training figures, memory included, are taken */
    if (cnn_net_init(b->net, cfg.batch, o->seed, &err) ||
        !(b->opt = cnn_optim_new(b->net, &cfg, &err)))
        return cli_error(EXIT_FAIL, "%s", err.msg);
    for (int i = 0; i < cnn_net_layers(b->net); i++) {
        cnn_layer_kind k = cnn_net_layer(b->net, i).kind;
        if (k == CNN_CONV || k == CNN_DENSE)
            r->fwd_flops += cnn_net_layer_flops(b->net, i);
    }
    r->train_images = b->train.n;
    r->test_images = b->test.n;
    return 0;
}

/* The workspace for batch-256 inference, if training's is smaller. */
static int grow_for_inference(const bench_opts *o, bench_run *b, const bench_result *r)
{
    cnn_error err;
    if (r->batch < INFER_BATCH && cnn_net_init(b->net, INFER_BATCH, o->seed, &err))
        return cli_error(EXIT_FAIL, "%s", err.msg);
    return 0;
}

/* One epoch timed, the test accuracy, the memory of both; then the
 * workspace for inference. */
static int time_training(const bench_opts *o, bench_run *b, bench_result *r)
{
    cnn_error err;
    cnn_metrics tm, vm;
    double t0 = cli_now();
    if (cnn_train_epoch(b->net, b->opt, &b->train, 0, r->batch, o->seed, NULL, NULL, &tm, &err))
        return cli_error(EXIT_FAIL, "training: %s", err.msg);
    r->train_s = cli_now() - t0;
    r->train_ips = b->train.n / r->train_s;
    if (cnn_evaluate(b->net, &b->test, &vm, NULL, &err))
        return cli_error(EXIT_FAIL, "%s", err.msg);
    r->acc = vm.accuracy;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->rss_kb = ru.ru_maxrss; /* the peak of training and its evaluation */
    return grow_for_inference(o, b, r);
}

/* Passes over the test set at batch 256, each one's seconds into t: forwards
 * only are timed, the byte-to-float conversion of each batch is not (the
 * peer converts the set up front). */
static void time_batches(bench_run *b, int reps, float *x, cnn_label *labels, double *t)
{
    cnn_error err;
    float mean, std;
    cnn_net_normalization(b->net, &mean, &std);
    const cnn_dataset *test = &b->test;
    for (int pass = -1; pass < reps; pass++) { /* pass -1: warm-up */
        double sum = 0;
        for (int first = 0; first < test->n; first += INFER_BATCH) {
            int n = test->n - first < INFER_BATCH ? test->n - first : INFER_BATCH;
            cnn_dataset_batch(test, NULL, first, n, mean, std, x, labels);
            double s = cli_now();
            cnn_forward(b->net, x, n, 0, &err);
            sum += cli_now() - s;
        }
        if (pass >= 0)
            t[pass] = sum;
    }
}

/* count single-image forwards after a warm-up, each one's microseconds into t. */
static void time_singles(bench_run *b, int count, float *x, cnn_label *labels, double *t)
{
    cnn_error err;
    float mean, std;
    cnn_net_normalization(b->net, &mean, &std);
    for (int i = 0; i < WARM_LAT + count; i++) {
        int j = (i < WARM_LAT ? i : i - WARM_LAT) % b->test.n;
        cnn_dataset_batch(&b->test, NULL, j, 1, mean, std, x, labels);
        double s = cli_now();
        cnn_forward(b->net, x, 1, 0, &err);
        if (i >= WARM_LAT)
            t[i - WARM_LAT] = (cli_now() - s) * 1e6;
    }
}

/* Throughput at batch 256, then the latency of one image. */
static int time_inference(const bench_opts *o, bench_run *b, bench_result *r)
{
    size_t in_size = cnn_shape_size(cnn_net_input_shape(b->net));
    int reps = o->infer_reps;
    float *x = malloc(sizeof(float) * in_size * INFER_BATCH);
    cnn_label *labels = malloc(sizeof *labels * INFER_BATCH);
    double *t = malloc(sizeof(double) * (size_t)(o->lat_n > reps ? o->lat_n : reps));
    int rc = 0;
    if (!x || !labels || !t) {
        rc = cli_error(EXIT_FAIL, "out of memory");
    } else {
        time_batches(b, reps, x, labels, t);
        r->infer_med = b->test.n / median(t, reps);
        r->infer_best = b->test.n / t[0];
        time_singles(b, o->lat_n, x, labels, t);
        qsort(t, (size_t)o->lat_n, sizeof *t, cmp_double);
        r->lat_med = t[o->lat_n / 2];
        r->lat_p90 = t[(int)(o->lat_n * 0.9)];
    }
    free(x), free(labels), free(t);
    return rc;
}

/* Microseconds of one optimiser step, over about 0.1 s. */
static double time_step(bench_run *b)
{
    int n = 0;
    double s = cli_now();
    do {
        cnn_optim_step(b->opt, b->net, 0);
        n++;
    } while (cli_now() - s < 0.1);
    return (cli_now() - s) * 1e6 / n;
}

/* Microseconds of one training batch's conversion (bytes to floats, in a
 * shuffled order), over about 0.05 s; 0 if out of memory. */
static double time_conversion(bench_run *b, int batch)
{
    const cnn_dataset *train = &b->train;
    float mean, std;
    cnn_net_normalization(b->net, &mean, &std);
    size_t in_size = cnn_shape_size(cnn_net_input_shape(b->net));
    float *bx = malloc(sizeof(float) * in_size * (size_t)batch);
    cnn_label *bl = malloc(sizeof *bl * (size_t)batch);
    int *order = malloc(sizeof(int) * (size_t)train->n);
    double us = 0;
    if (bx && bl && order) {
        for (int i = 0; i < train->n; i++)
            order[i] = (int)(((uint64_t)i * 7919) % (uint64_t)train->n);
        int m = batch < train->n ? batch : train->n, n = 0;
        double s = cli_now();
        do {
            cnn_dataset_batch(train, order, (n * m) % (train->n - m + 1), m, mean, std, bx, bl);
            n++;
        } while (cli_now() - s < 0.05);
        us = (cli_now() - s) * 1e6 / n;
    }
    free(bx), free(bl), free(order);
    return us;
}

/* Each layer at the training batch and at batch 1, and the rest of a
 * training batch: the optimiser step and the conversion. */
static int time_layers(bench_run *b, bench_result *r)
{
    if (profile_layers(b->net, &b->test, r->batch, 1, 0.5, &r->train_prof) ||
        profile_layers(b->net, &b->test, 1, 0, 0.2, &r->lat_prof))
        return cli_error(EXIT_FAIL, "the per-layer profile could not be set up");
    r->step_us = time_step(b);
    r->data_us = time_conversion(b, r->batch);
    r->have_prof = 1;
    return 0;
}

/* The network quantized (on the first 500 training images, as cnn quantize
 * does), then its accuracy (after training) and its inference timed again. */
static int time_int8(const bench_opts *o, bench_run *b, bench_result *r)
{
    cnn_error err;
    int n = b->train.n < 500 ? b->train.n : 500;
    float mean, std;
    cnn_net_normalization(b->net, &mean, &std);
    float *x = malloc(sizeof(float) * cnn_shape_size(cnn_net_input_shape(b->net)) * (size_t)n);
    if (!x)
        return cli_error(EXIT_FAIL, "out of memory");
    cnn_dataset_batch(&b->train, NULL, 0, n, mean, std, x, NULL);
    int rc = cnn_net_quantize(b->net, x, n, &err);
    free(x);
    cnn_metrics m;
    if (rc || (!o->infer_only && cnn_evaluate(b->net, &b->test, &m, NULL, &err)))
        return cli_error(EXIT_FAIL, "int8: %s", err.msg);
    r->acc8 = o->infer_only ? 0 : m.accuracy;
    bench_result q = *r;
    if ((rc = time_inference(o, b, &q)))
        return rc;
    r->infer8_best = q.infer_best, r->infer8_med = q.infer_med;
    r->lat8_med = q.lat_med, r->lat8_p90 = q.lat_p90;
    r->have_int8 = 1;
    return 0;
}

static int run_one(const bench_opts *o)
{
    bench_result r;
    memset(&r, 0, sizeof r);
    double load[1] = {0};
    if (getloadavg(load, 1) == 1)
        r.load1 = load[0];
    bench_run b = {0};
    int rc = set_up(o, &b, &r);
    if (rc == 0)
        rc = o->infer_only ? grow_for_inference(o, &b, &r) : time_training(o, &b, &r);
    if (rc == 0)
        rc = time_inference(o, &b, &r);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r.rss_all_kb = ru.ru_maxrss; /* with inference, before int8's and the profile's buffers */
    /* before the per-layer profile, whose optimiser steps move the weights */
    if (rc == 0 && o->int8)
        rc = time_int8(o, &b, &r);
    if (rc == 0 && !o->infer_only) {
        r.peak = cnn_fp32_peak_gflops(o->threads);
        if (o->layers)
            rc = time_layers(&b, &r);
    }
    if (rc == 0 && o->infer_only)
        print_infer(o, &r);
    else if (rc == 0 && o->json)
        print_json(o, &r, b.net);
    else if (rc == 0)
        print_text(o, &r, b.net);
    cnn_dataset_free(&b.train);
    cnn_dataset_free(&b.test);
    cnn_optim_free(b.opt);
    cnn_net_free(b.net);
    return rc;
}

/* ---- the parent: one child per (network, thread count) ------------------- */

static int parse_threads(const char *v, int *list, int max)
{
    int n = 0;
    const char *p = v;
    while (*p) {
        char *end;
        long t = strtol(p, &end, 10);
        if (end == p || t < 1 || t > 1024 || n == max || (*end && *end != ','))
            return -1;
        list[n++] = (int)t;
        p = *end ? end + 1 : end;
    }
    return n;
}

static int spawn(char **args)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return cli_error(EXIT_FAIL, "bench: cannot start a child process");
    if (pid == 0) {
        execv("/proc/self/exe", args);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return EXIT_FAIL;
    return WEXITSTATUS(status);
}

/* What cnn bench was asked: the networks and thread counts, and the rest
 * of each child's command line. */
typedef struct {
    const char *nets[3];
    int nnets, threads[MAX_THREAD_LIST], nthreads, child;
    bench_opts each; /* but for its net and threads */
    char data[4096]; /* the default data's path, when it is built */
} bench_plan;

static int read_options(const cli_option *opts, int nopts, bench_plan *p)
{
    long train_n = 60000, lat_n = 2000, infer_reps = 5, seed = 1;
    if (cli_int(opts, nopts, "train-n", 1, 1L << 30, &train_n) ||
        cli_int(opts, nopts, "lat-n", 1, 10000000, &lat_n) ||
        cli_int(opts, nopts, "infer-reps", 1, 1000, &infer_reps) ||
        cli_int(opts, nopts, "seed", 0, 0x7fffffffL, &seed))
        return EXIT_USAGE;
    const char *net = cli_value(opts, nopts, "net");
    net = net ? net : "all";
    *p = (bench_plan){.nets = {"seed", "lenet", "convnet"}, .nnets = 3, .nthreads = 1};
    if (strcmp(net, "all") != 0) {
        if (strcmp(net, "seed") && strcmp(net, "lenet") && strcmp(net, "convnet"))
            return cli_error(EXIT_USAGE, "--net: expected seed, lenet, convnet or all, got '%s'",
                             net);
        p->nets[0] = net;
        p->nnets = 1;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    p->threads[0] = cpus > 0 ? (int)cpus : 1;
    const char *tv = cli_value(opts, nopts, "threads");
    if (tv && (p->nthreads = parse_threads(tv, p->threads, MAX_THREAD_LIST)) < 1)
        return cli_error(EXIT_USAGE, "--threads: expected N or a list such as 1,2, got '%s'",
                         tv);
    const char *data = cli_value(opts, nopts, "data");
    p->each = (bench_opts){NULL, data ? data : default_data(p->data, sizeof p->data), 0,
                           (int)train_n, (int)lat_n, (int)infer_reps,
                           !cli_flag(opts, nopts, "no-layers"), cli_flag(opts, nopts, "json"),
                           cli_flag(opts, nopts, "infer-only"), cli_flag(opts, nopts, "int8"),
                           (uint64_t)seed};
    p->child = cli_flag(opts, nopts, "child");
    return 0;
}

/* This program again, with --child, to measure o's network and thread count. */
static int spawn_child(const bench_opts *o)
{
    char tbuf[16], nbuf[16], lbuf[16], rbuf[16], sbuf[16];
    snprintf(tbuf, sizeof tbuf, "%d", o->threads);
    snprintf(nbuf, sizeof nbuf, "%d", o->train_n);
    snprintf(lbuf, sizeof lbuf, "%d", o->lat_n);
    snprintf(rbuf, sizeof rbuf, "%d", o->infer_reps);
    snprintf(sbuf, sizeof sbuf, "%llu", (unsigned long long)o->seed);
    char *args[24];
    int a = 0;
    args[a++] = "cnn";
    args[a++] = "bench";
    args[a++] = "--child";
    args[a++] = "--net", args[a++] = (char *)o->net;
    args[a++] = "--threads", args[a++] = tbuf;
    args[a++] = "--data", args[a++] = (char *)o->data;
    args[a++] = "--train-n", args[a++] = nbuf;
    args[a++] = "--lat-n", args[a++] = lbuf;
    args[a++] = "--infer-reps", args[a++] = rbuf;
    args[a++] = "--seed", args[a++] = sbuf;
    if (o->json)
        args[a++] = "--json";
    if (!o->layers)
        args[a++] = "--no-layers";
    if (o->infer_only)
        args[a++] = "--infer-only";
    if (o->int8)
        args[a++] = "--int8";
    args[a] = NULL;
    return spawn(args);
}

int cmd_bench(int argc, char **argv)
{
    cli_option opts[] = {
        {"net", 1, NULL},      {"threads", 1, NULL},
        {"data", 1, NULL},       {"train-n", 1, NULL},  {"lat-n", 1, NULL},
        {"infer-reps", 1, NULL}, {"no-layers", 0, NULL}, {"seed", 1, NULL},
        {"json", 0, NULL},       {"child", 0, NULL},    {"infer-only", 0, NULL},
        {"int8", 0, NULL},
    };
    int nopts = sizeof opts / sizeof opts[0], npos;
    const char *pos[1];
    int parsed = cli_parse("bench", HELP, argc, argv, opts, nopts, pos, 0, &npos);
    if (parsed)
        return CLI_PARSE_EXIT(parsed);
    bench_plan p;
    int rc = read_options(opts, nopts, &p);
    if (rc)
        return rc;
    if (p.child) {
        if (p.nnets != 1 || p.nthreads != 1)
            return cli_error(EXIT_USAGE, "bench --child: one --net and one --threads");
        bench_opts o = p.each;
        o.net = p.nets[0], o.threads = p.threads[0];
        return run_one(&o);
    }
    for (int i = 0; i < p.nnets; i++)
        for (int t = 0; t < p.nthreads; t++) {
            bench_opts o = p.each;
            o.net = p.nets[i], o.threads = p.threads[t];
            if (spawn_child(&o)) {
                cli_error(EXIT_FAIL, "bench: %s on %d thread(s) failed", o.net, o.threads);
                rc = EXIT_FAIL;
            }
        }
    return rc;
}
