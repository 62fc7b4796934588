/* cnn train: epochs over a dataset, a checkpoint after each, the model at the
 * end.  A run stopped at any moment resumes (--resume) to the same weights as
 * an uninterrupted one. */
#include "cli.h"
#include "team.h"
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

static int show_progress(void *user, int epoch, int done, int total, const cnn_metrics *m)
{
    progress_state *p = user;
    double t = cli_now();
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

/* One run of cnn train: what the command line asked, and what it holds. */
typedef struct {
    const char *data, *out;
    char ckpt[4096], curves[4096 + 16];
    long limit, test_limit, seed;
    int json, quiet, resume, seed_given;
    cnn_train_config cfg;
    cnn_net *net;
    cnn_optim *opt;
    cnn_dataset train, test;
    cnn_model_meta meta;
    int first_epoch, eval_batch;
    int rank;       /* in a team (mpirun): only member 0 prints and saves */
    cli_team *team;
} train_run;

/* The network named by --net (a model file: training goes on from its
 * weights), with the options that override its train line. */
static int read_net(const cli_option *opts, int nopts, long threads, train_run *r)
{
    long epochs = -1, batch = -1;
    const char *net_arg = cli_value(opts, nopts, "net");
    if (cli_int(opts, nopts, "epochs", 1, 100000, &epochs) ||
        cli_int(opts, nopts, "batch", 1, 65536, &batch))
        return EXIT_USAGE;
    if (!(r->net = cli_load_net(net_arg ? net_arg : "seed", &r->cfg, NULL, NULL)))
        return EXIT_FAIL;
    static const char *const optimizers[3] = {"sgd", "momentum", "adam"};
    static const char *const schedules[3] = {"constant", "step", "cosine"};
    int optimizer = (int)r->cfg.optimizer, schedule = (int)r->cfg.schedule;
    if (cli_float(opts, nopts, "lr", 1e-9, 100, &r->cfg.lr) ||
        cli_float(opts, nopts, "momentum", 0, 0.999, &r->cfg.momentum) ||
        cli_float(opts, nopts, "decay", 0, 1, &r->cfg.weight_decay) ||
        parse_word(opts, nopts, "optimizer", optimizers, &optimizer) ||
        parse_word(opts, nopts, "schedule", schedules, &schedule))
        return EXIT_USAGE;
    r->cfg.optimizer = (cnn_optimizer)optimizer;
    r->cfg.schedule = (cnn_schedule)schedule;
    if (epochs > 0)
        r->cfg.epochs = (int)epochs;
    if (batch > 0)
        r->cfg.batch = (int)batch;
    cnn_net_set_threads(r->net, (int)threads); /* 0: OpenMP's default */
    return 0;
}

enum { HELP_SHOWN = -1 }; /* read_options: --help printed, exit 0 */

static int read_options(int argc, char **argv, train_run *r)
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
        return parsed > 0 ? HELP_SHOWN : EXIT_USAGE;
    long threads = 0;
    r->seed = 1;
    if (cli_int(opts, nopts, "limit", 1, 1L << 30, &r->limit) ||
        cli_int(opts, nopts, "test-limit", 1, 1L << 30, &r->test_limit) ||
        cli_int(opts, nopts, "seed", 0, 0x7fffffffL, &r->seed) ||
        cli_int(opts, nopts, "threads", 1, 1024, &threads))
        return EXIT_USAGE;
    r->data = cli_value(opts, nopts, "data");
    r->data = r->data ? r->data : CLI_DEFAULT_DATA;
    r->out = cli_value(opts, nopts, "out");
    r->out = r->out ? r->out : "model.cnn";
    const char *ckpt = cli_value(opts, nopts, "checkpoint");
    snprintf(r->ckpt, sizeof r->ckpt, "%s%s", ckpt ? ckpt : r->out, ckpt ? "" : ".ckpt");
    /* loss and accuracy per epoch, redrawn each epoch */
    snprintf(r->curves, sizeof r->curves, "%s.curves.png", r->out);
    r->json = cli_flag(opts, nopts, "json");
    r->quiet = cli_flag(opts, nopts, "quiet");
    r->resume = cli_flag(opts, nopts, "resume");
    r->seed_given = cli_value(opts, nopts, "seed") != NULL;
    return read_net(opts, nopts, threads, r);
}

/* --resume: the checkpoint's weights, optimiser state, seed and epoch. */
static int resume_run(train_run *r)
{
    if (resume(r->ckpt, &r->net, r->opt, r->eval_batch, &r->meta))
        return EXIT_FAIL;
    if (r->meta.seed != (uint64_t)r->seed && r->seed_given)
        return cli_error(EXIT_USAGE, "--resume: the checkpoint was trained with --seed %llu",
                         (unsigned long long)r->meta.seed);
    r->seed = (long)r->meta.seed;
    r->first_epoch = r->meta.epochs;
    return 0;
}

/* What the model will say of its training: the data's whole path when it
 * fits (so that eval and report find it again), seed, settings, names. */
static int describe_run(train_run *r)
{
    char dataset_name[4096], *full = realpath(r->data, NULL);
    snprintf(dataset_name, sizeof dataset_name, "%s", r->data);
    if (full && strlen(full) < sizeof r->meta.dataset)
        snprintf(r->meta.dataset, sizeof r->meta.dataset, "%s", full);
    else
        snprintf(r->meta.dataset, sizeof r->meta.dataset, "%s", basename(dataset_name));
    free(full);
    r->meta.seed = (uint64_t)r->seed;
    r->meta.train = r->cfg;
    cnn_model_meta_free(&r->meta); /* the checkpoint's: the data's own are kept */
    if (r->train.class_names && !(r->meta.class_names = class_names(&r->train)))
        return cli_error(EXIT_FAIL, "out of memory");
    return 0;
}

/* The data, the workspace, the optimiser, the checkpoint if resuming. */
static int set_up(train_run *r)
{
    cnn_error err;
    cnn_shape in = cnn_net_input_shape(r->net);
    if (cli_load_splits(r->data, (size_t)r->limit, (size_t)r->test_limit, in,
                        cnn_net_threads(r->net), &r->train, &r->test))
        return EXIT_FAIL;
    /* Evaluation runs at the training batch (at least 64): a bigger one
     * would only grow the workspace, for no gain in speed worth its memory. */
    r->eval_batch = r->cfg.batch > 64 ? r->cfg.batch : 64;
    if (cnn_net_init(r->net, r->eval_batch, (uint64_t)r->seed, &err) ||
        !(r->opt = cnn_optim_new(r->net, &r->cfg, &err)))
        return cli_error(EXIT_FAIL, "%s", err.msg);
    if (cnn_dataset_fits(r->net, &r->test, &err)) /* a whole test pass cost 26-59 ms */
        return cli_error(EXIT_FAIL, "%s: %s", r->data, err.msg);
    int rc = r->resume ? resume_run(r) : 0;
    if (rc == 0)
        rc = cli_team_join(r->net, &r->team);
    return rc ? rc : describe_run(r);
}

/* The epoch's figures, in the history and the checkpoint, and on screen. */
static int record_epoch(train_run *r, int epoch, const cnn_metrics *tm, const cnn_metrics *vm,
                        double seconds, FILE *log)
{
    cnn_error err;
    cnn_model_meta *m = &r->meta;
    if (m->history_count == CNN_MAX_HISTORY) { /* keep the latest epochs */
        memmove(m->history, m->history + 1, sizeof m->history[0] * (CNN_MAX_HISTORY - 1));
        m->history_count--;
    }
    m->history[m->history_count++] = (cnn_epoch_record){
        (float)tm->loss, (float)tm->accuracy, (float)vm->loss, (float)vm->accuracy,
        (float)seconds};
    m->epochs = epoch + 1;
    m->accuracy = (float)vm->accuracy;
    m->loss = (float)vm->loss;
    m->created = (int64_t)time(NULL);
    if (r->rank == 0 && (cnn_model_save(r->ckpt, r->net, m, r->opt, &err) ||
                         viz_curves_png(r->curves, m->history, m->history_count, &err)))
        return cli_error(EXIT_FAIL, "%s", err.msg);
    if (!r->quiet)
        fprintf(log,
                "epoch %d/%d: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% | "
                "%.0f img/s, %.1f s\n",
                epoch + 1, r->cfg.epochs, tm->loss, 100 * tm->accuracy, vm->loss,
                100 * vm->accuracy, tm->count / seconds, seconds);
    if (r->json)
        printf("{\"epoch\":%d,\"train_loss\":%.6f,\"train_accuracy\":%.6f,\"test_loss\":%.6f,"
               "\"test_accuracy\":%.6f,\"images_per_second\":%.1f,\"seconds\":%.3f}\n",
               epoch + 1, tm->loss, tm->accuracy, vm->loss, vm->accuracy, tm->count / seconds,
               seconds);
    fflush(stdout);
    return 0;
}

/* One epoch: train, check the weights, evaluate, record. */
static int run_epoch(train_run *r, int epoch, progress_state *prog, FILE *log)
{
    cnn_error err;
    cnn_metrics tm = {0}, vm = {0};
    prog->start = prog->last_draw = cli_now();
    int status = cnn_train_epoch(r->net, r->opt, &r->train, epoch, r->cfg.batch,
                                 (uint64_t)r->seed, show_progress, prog, &tm, &err);
    double seconds = cli_now() - prog->start;
    if (prog->tty && !prog->quiet)
        fputs("\r\033[K", stderr);
    if (status == CNN_OK && !params_finite(r->net))
        status = cnn_fail(&err, CNN_ENUMERIC, "a weight became NaN or infinite");
    if (status && r->rank > 0 && status != CNN_ETEAM)
        return EXIT_FAIL; /* the team's members all see it: member 0 says it */
    if (status)
        return cli_error(EXIT_FAIL, "epoch %d: %s; the last good checkpoint is %s", epoch + 1,
                         err.msg, epoch > r->first_epoch || r->first_epoch ? r->ckpt : "(none)");
    if (cnn_evaluate(r->net, &r->test, &vm, NULL, &err))
        return cli_error(EXIT_FAIL, "%s", err.msg);
    return record_epoch(r, epoch, &tm, &vm, seconds, log);
}

int cmd_train(int argc, char **argv)
{
    train_run r = {0};
    int rc = read_options(argc, argv, &r);
    if (rc == HELP_SHOWN)
        return 0;
    r.rank = cli_team_rank() > 0 ? cli_team_rank() : 0;
    if (r.rank > 0)
        r.quiet = 1, r.json = 0;
    if (rc == 0)
        rc = set_up(&r);
    FILE *log = r.json ? stderr : stdout;
    progress_state prog = {isatty(2), r.quiet, r.cfg.epochs, 0, 0};
    cnn_shape in = r.net ? cnn_net_input_shape(r.net) : (cnn_shape){0, 0, 0};
    if (rc == 0 && !r.quiet)
        fprintf(log, "training on %d images of %dx%dx%d, testing on %d; %zu parameters; %s\n",
                r.train.n, in.h, in.w, in.c, r.test.n, cnn_net_param_count(r.net),
                r.first_epoch ? "resumed" : "new run");
    for (int epoch = r.first_epoch; rc == 0 && epoch < r.cfg.epochs; epoch++)
        rc = run_epoch(&r, epoch, &prog, log);
    cnn_error err;
    if (rc == 0 && r.rank == 0 && cnn_model_save(r.out, r.net, &r.meta, NULL, &err))
        rc = cli_error(EXIT_FAIL, "%s", err.msg);
    if (rc == 0 && !r.quiet)
        fprintf(log, "saved %s: test accuracy %.2f%% on %d images\n", r.out,
                100 * r.meta.accuracy, r.test.n);
    cnn_dataset_free(&r.train);
    cnn_dataset_free(&r.test);
    cnn_model_meta_free(&r.meta);
    cnn_optim_free(r.opt);
    cnn_net_free(r.net);
    cli_team_free(r.team);
    return rc;
}
