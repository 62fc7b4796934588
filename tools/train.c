/* cnn train: epochs over a dataset, a checkpoint after each, the model at the
 * end.  A run stopped at any moment resumes (--resume) to the same weights as
 * an uninterrupted one. */
#include "cli.h"
#include "viz.h"

#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char HELP[] =
    "usage: cnn train [--net NET] [--data DIR] [OPTIONS] [--out MODEL]\n"
    "\n"
    "  --net NET          preset (seed, lenet, convnet, xo), spec file or text [seed]\n"
    "  --data DIR         IDX folder, folder of class folders, or xo\n"
    "                     [" CLI_DEFAULT_DATA "]\n"
    "  --epochs N         epochs (default: the network's train line)\n"
    "  --lr X             learning rate\n"
    "  --batch N          mini-batch size\n"
    "  --optimizer NAME   sgd, momentum or adam\n"
    "  --momentum X       momentum for --optimizer momentum\n"
    "  --decay X          L2 weight decay\n"
    "  --schedule NAME    constant, step or cosine learning rate\n"
    "  --limit N          train on the first N training images\n"
    "  --test-limit N     test on the first N test images\n"
    "  --seed N           seed for weights and shuffling [1]\n"
    "  --out MODEL        where to save the model [model.cnn]\n"
    "  --checkpoint FILE  checkpoint after each epoch [MODEL.ckpt]\n"
    "                     (and a chart of the curves: MODEL.curves.png)\n"
    "  --resume           continue from the checkpoint\n"
    "  --threads N        threads (results are identical for any N)\n"
    "  --json             one JSON line of metrics per epoch on stdout\n"
    "  --quiet            no progress\n";

typedef struct {
    int tty, quiet, epochs;
    double start, last_draw;
} progress_state;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static int show_progress(void *user, int epoch, int done, int total, const cnn_metrics *m)
{
    progress_state *p = user;
    double t = now();
    if (!p->tty || p->quiet || (t - p->last_draw < 0.1 && done < total))
        return 0;
    p->last_draw = t;
    double rate = done / (t - p->start + 1e-9);
    int eta = (int)((total - done) / (rate + 1e-9));
    char bar[21];
    int filled = (int)(20.0 * done / total);
    for (int i = 0; i < 20; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[20] = '\0';
    fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %3d%% loss %.4f acc %.2f%% %.0f img/s ETA %d:%02d",
            epoch + 1, p->epochs, bar, (int)(100.0 * done / total), m->loss, 100 * m->accuracy,
            rate, eta / 60, eta % 60);
    return 0;
}

static int params_finite(cnn_net *net)
{
    const float *w = cnn_net_params(net);
    for (size_t i = 0; i < cnn_net_param_count(net); i++)
        if (!isfinite(w[i]))
            return 0;
    return 1;
}

/* --NAME VALUE where VALUE is one of three words, in the order of the
 * enum it sets (cnn_optimizer: sgd momentum adam; cnn_schedule: constant
 * step cosine).  A missing option leaves *out alone. */
static int parse_word(const cli_option *opts, int nopts, const char *name,
                      const char *const words[3], int *out)
{
    const char *v = cli_value(opts, nopts, name);
    if (!v)
        return 0;
    for (int i = 0; i < 3; i++)
        if (strcmp(v, words[i]) == 0) {
            *out = i;
            return 0;
        }
    return cli_error(EXIT_USAGE, "--%s: expected %s, %s or %s, got '%s'", name, words[0],
                     words[1], words[2], v);
}

/* The dataset's class names, one a line, as a model keeps them. */
static char *class_names(const cnn_dataset *d)
{
    size_t len = 1;
    for (int i = 0; i < d->classes; i++)
        len += strlen(d->class_names[i]) + 1;
    char *out = malloc(len), *at = out;
    for (int i = 0; out && i < d->classes; i++)
        at += sprintf(at, "%s%s", i ? "\n" : "", d->class_names[i]);
    return out;
}

/* Replaces *net by the checkpoint's network (weights and training step) and
 * fills opt's state; the network text must match. */
static int resume(const char *ckpt, cnn_net **net, cnn_optim *opt, int batch,
                  cnn_model_meta *meta)
{
    cnn_error err;
    float *state = NULL;
    size_t count = 0;
    int64_t steps = 0;
    cnn_net *saved = cnn_model_load(ckpt, meta, &state, &count, &steps, &err);
    if (!saved)
        return cli_error(EXIT_FAIL, "--resume: %s", err.msg);
    char *a = cnn_net_to_spec(*net), *b = cnn_net_to_spec(saved);
    int same = a && b && strcmp(a, b) == 0;
    free(a), free(b);
    size_t want;
    float *dst = cnn_optim_state(opt, &want);
    int rc = 0;
    if (!same)
        rc = cli_error(EXIT_FAIL, "--resume: %s holds a different network than --net", ckpt);
    else if (count != want)
        rc = cli_error(EXIT_FAIL, "--resume: %s was saved with another optimiser", ckpt);
    else if (cnn_net_set_threads(saved, cnn_net_threads(*net)),
             cnn_net_init(saved, batch, meta->seed, &err))
        rc = cli_error(EXIT_FAIL, "%s", err.msg);
    if (rc == 0) {
        if (count)
            memcpy(dst, state, sizeof(float) * count);
        cnn_optim_set_steps(opt, steps);
        cnn_net_free(*net);
        *net = saved;
    } else {
        cnn_net_free(saved);
    }
    free(state);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    cli_option opts[] = {
        {"net", 1, NULL},       {"data", 1, NULL},
        {"epochs", 1, NULL},   {"lr", 1, NULL},        {"batch", 1, NULL},
        {"optimizer", 1, NULL}, {"momentum", 1, NULL}, {"decay", 1, NULL},
        {"schedule", 1, NULL}, {"limit", 1, NULL},     {"test-limit", 1, NULL},
        {"seed", 1, NULL},     {"out", 1, NULL},       {"checkpoint", 1, NULL},
        {"resume", 0, NULL},   {"threads", 1, NULL},   {"json", 0, NULL},
        {"quiet", 0, NULL},
    };
    int nopts = sizeof opts / sizeof opts[0], npos;
    const char *pos[1];
    int parsed = cli_parse("train", HELP, argc, argv, opts, nopts, pos, 0, &npos);
    if (parsed)
        return CLI_PARSE_EXIT(parsed);
    const char *net_arg = cli_value(opts, nopts, "net");
    const char *data = cli_value(opts, nopts, "data");
    const char *out = cli_value(opts, nopts, "out");
    net_arg = net_arg ? net_arg : "seed";
    data = data ? data : CLI_DEFAULT_DATA;
    out = out ? out : "model.cnn";
    long epochs = -1, batch = -1, limit = 0, test_limit = 0, seed = 1, threads = 0;
    cnn_train_config cfg;
    if (cli_int(opts, nopts, "epochs", 1, 100000, &epochs) ||
        cli_int(opts, nopts, "batch", 1, 65536, &batch) ||
        cli_int(opts, nopts, "limit", 1, 1L << 30, &limit) ||
        cli_int(opts, nopts, "test-limit", 1, 1L << 30, &test_limit) ||
        cli_int(opts, nopts, "seed", 0, 0x7fffffffL, &seed) ||
        cli_int(opts, nopts, "threads", 1, 1024, &threads))
        return EXIT_USAGE;
    /* a model file as NET: training goes on from its weights */
    cnn_net *net = cli_load_net(net_arg, &cfg, NULL, NULL);
    if (!net)
        return EXIT_FAIL;
    static const char *const optimizers[3] = {"sgd", "momentum", "adam"};
    static const char *const schedules[3] = {"constant", "step", "cosine"};
    int optimizer = (int)cfg.optimizer, schedule = (int)cfg.schedule;
    if (cli_float(opts, nopts, "lr", 1e-9, 100, &cfg.lr) ||
        cli_float(opts, nopts, "momentum", 0, 0.999, &cfg.momentum) ||
        cli_float(opts, nopts, "decay", 0, 1, &cfg.weight_decay) ||
        parse_word(opts, nopts, "optimizer", optimizers, &optimizer) ||
        parse_word(opts, nopts, "schedule", schedules, &schedule)) {
        cnn_net_free(net);
        return EXIT_USAGE;
    }
    cfg.optimizer = (cnn_optimizer)optimizer;
    cfg.schedule = (cnn_schedule)schedule;
    if (epochs > 0)
        cfg.epochs = (int)epochs;
    if (batch > 0)
        cfg.batch = (int)batch;
    cnn_net_set_threads(net, (int)threads); /* 0: OpenMP's default */
    char ckpt[4096];
    const char *ckpt_opt = cli_value(opts, nopts, "checkpoint");
    snprintf(ckpt, sizeof ckpt, "%s%s", ckpt_opt ? ckpt_opt : out, ckpt_opt ? "" : ".ckpt");
    char curves[4096 + 16]; /* loss and accuracy per epoch, redrawn each epoch */
    snprintf(curves, sizeof curves, "%s.curves.png", out);

    int rc = EXIT_FAIL;
    cnn_error err;
    cnn_optim *opt = NULL;
    cnn_dataset train = {0}, test = {0};
    cnn_model_meta meta = {0};
    cnn_shape in = cnn_net_input_shape(net);
    if (cli_load_data(data, "train", (size_t)limit, in, &train) ||
        cli_load_data(data, "test", (size_t)test_limit, in, &test))
        goto done;
    /* Evaluation runs at the training batch (at least 64): a bigger one
     * would only grow the workspace, for no gain in speed worth its memory. */
    int eval_batch = cfg.batch > 64 ? cfg.batch : 64;
    if (cnn_net_init(net, eval_batch, (uint64_t)seed, &err) ||
        !(opt = cnn_optim_new(net, &cfg, &err))) {
        cli_error(EXIT_FAIL, "%s", err.msg);
        goto done;
    }
    if (cnn_evaluate(net, &test, NULL, NULL, &err)) { /* shapes and classes fit? */
        cli_error(EXIT_FAIL, "%s: %s", data, err.msg);
        goto done;
    }
    int first_epoch = 0;
    if (cli_flag(opts, nopts, "resume")) {
        if (resume(ckpt, &net, opt, eval_batch, &meta))
            goto done;
        if (meta.seed != (uint64_t)seed && cli_value(opts, nopts, "seed")) {
            cli_error(EXIT_USAGE, "--resume: the checkpoint was trained with --seed %llu",
                      (unsigned long long)meta.seed);
            goto done;
        }
        seed = (long)meta.seed;
        first_epoch = meta.epochs;
    }
    /* the whole path when it fits, so that eval and report find it again */
    char dataset_name[4096], *full = realpath(data, NULL);
    snprintf(dataset_name, sizeof dataset_name, "%s", data);
    if (full && strlen(full) < sizeof meta.dataset)
        snprintf(meta.dataset, sizeof meta.dataset, "%s", full);
    else
        snprintf(meta.dataset, sizeof meta.dataset, "%s", basename(dataset_name));
    free(full);
    meta.seed = (uint64_t)seed;
    meta.train = cfg;
    cnn_model_meta_free(&meta); /* the checkpoint's: the data's own are kept */
    if (train.class_names && !(meta.class_names = class_names(&train))) {
        cli_error(EXIT_FAIL, "out of memory");
        goto done;
    }

    int json = cli_flag(opts, nopts, "json");
    FILE *log = json ? stderr : stdout;
    progress_state prog = {isatty(2), cli_flag(opts, nopts, "quiet"), cfg.epochs, 0, 0};
    if (!prog.quiet)
        fprintf(log, "training on %d images of %dx%dx%d, testing on %d; %zu parameters; %s\n",
                train.n, in.h, in.w, in.c, test.n, cnn_net_param_count(net),
                first_epoch ? "resumed" : "new run");
    cnn_metrics tm = {0}, vm = {0};
    for (int epoch = first_epoch; epoch < cfg.epochs; epoch++) {
        prog.start = prog.last_draw = now();
        int status = cnn_train_epoch(net, opt, &train, epoch, cfg.batch, (uint64_t)seed,
                                     show_progress, &prog, &tm, &err);
        double seconds = now() - prog.start;
        if (prog.tty && !prog.quiet)
            fputs("\r\033[K", stderr);
        if (status == CNN_OK && !params_finite(net))
            status = cnn_fail(&err, CNN_ENUMERIC, "a weight became NaN or infinite");
        if (status) {
            cli_error(EXIT_FAIL, "epoch %d: %s; the last good checkpoint is %s", epoch + 1,
                      err.msg, epoch > first_epoch || first_epoch ? ckpt : "(none)");
            goto done;
        }
        if (cnn_evaluate(net, &test, &vm, NULL, &err)) {
            cli_error(EXIT_FAIL, "%s", err.msg);
            goto done;
        }
        if (meta.history_count == CNN_MAX_HISTORY) /* keep the latest epochs */
            memmove(meta.history, meta.history + 1,
                    sizeof meta.history[0] * (CNN_MAX_HISTORY - 1)),
                meta.history_count--;
        meta.history[meta.history_count++] = (cnn_epoch_record){
            (float)tm.loss, (float)tm.accuracy, (float)vm.loss, (float)vm.accuracy,
            (float)seconds};
        meta.epochs = epoch + 1;
        meta.accuracy = (float)vm.accuracy;
        meta.loss = (float)vm.loss;
        meta.created = (int64_t)time(NULL);
        if (cnn_model_save(ckpt, net, &meta, opt, &err)) {
            cli_error(EXIT_FAIL, "%s", err.msg);
            goto done;
        }
        if (viz_curves_png(curves, meta.history, meta.history_count, &err)) {
            cli_error(EXIT_FAIL, "%s", err.msg);
            goto done;
        }
        if (!prog.quiet)
            fprintf(log,
                    "epoch %d/%d: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% | "
                    "%.0f img/s, %.1f s\n",
                    epoch + 1, cfg.epochs, tm.loss, 100 * tm.accuracy, vm.loss, 100 * vm.accuracy,
                    tm.count / seconds, seconds);
        if (json)
            printf("{\"epoch\":%d,\"train_loss\":%.6f,\"train_accuracy\":%.6f,\"test_loss\":%.6f,"
                   "\"test_accuracy\":%.6f,\"images_per_second\":%.1f,\"seconds\":%.3f}\n",
                   epoch + 1, tm.loss, tm.accuracy, vm.loss, vm.accuracy, tm.count / seconds,
                   seconds);
        fflush(stdout);
    }
    if (cnn_model_save(out, net, &meta, NULL, &err)) {
        cli_error(EXIT_FAIL, "%s", err.msg);
        goto done;
    }
    if (!prog.quiet)
        fprintf(log, "saved %s: test accuracy %.2f%% on %d images\n", out, 100 * meta.accuracy,
                test.n);
    rc = 0;
done:
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    cnn_model_meta_free(&meta);
    cnn_optim_free(opt);
    cnn_net_free(net);
    return rc;
}
