/* cnn eval and cnn predict: a model on test data, or on image files. */
#include "cli.h"
#include "team.h"

#include <stdlib.h>
#include <string.h>

static const char EVAL_HELP[] =
    "usage: cnn eval MODEL [--data DIR] [--limit N] [--json] [--threads N]\n"
    "Accuracy, mean cross-entropy loss and the confusion matrix (rows: true\n"
    "class, columns: predicted) on the test split of DIR (first N images);\n"
    "without --data, on the data the model was trained on when it is here.\n";

static const char PREDICT_HELP[] =
    "usage: cnn predict MODEL IMAGE... [--invert] [--json]\n"
    "Classifies PNG, JPEG, BMP or PGM files: colour becomes gray as\n"
    "Y = 0.299 R + 0.587 G + 0.114 B, the image is scaled to the network's input\n"
    "and centred. --invert maps p to 255 - p (for dark digits on white paper).\n";

static cnn_net *load_model(const char *path, cnn_model_meta *meta)
{
    cnn_error err;
    cnn_net *net = cnn_model_load(path, meta, NULL, NULL, NULL, &err);
    if (!net)
        cli_error(EXIT_FAIL, "%s", err.msg);
    return net;
}

static void print_json(const cnn_metrics *m, const int *confusion, int k,
                       const cnn_model_meta *meta)
{
    printf("{\"accuracy\":%.6f,\"loss\":%.6f,\"count\":%d,\"confusion\":[", m->accuracy, m->loss,
           m->count);
    for (int i = 0; i < k; i++) {
        printf("%s[", i ? "," : "");
        for (int j = 0; j < k; j++)
            printf("%s%d", j ? "," : "", confusion[i * k + j]);
        printf("]");
    }
    printf("],\"classes\":[");
    for (int i = 0; i < k; i++) {
        char name[64];
        cli_class_name(meta, i, name, sizeof name);
        printf("%s", i ? "," : "");
        cli_json_string(name);
    }
    printf("]}\n");
}

static void print_text(const cnn_metrics *m, const int *confusion, int k,
                       const cnn_model_meta *meta)
{
    printf("accuracy %.2f%% (%d of %d), loss %.4f\n\nconfusion (rows: true, columns: "
           "predicted)\n     ",
           100 * m->accuracy, (int)(m->accuracy * m->count + 0.5), m->count, m->loss);
    for (int j = 0; j < k; j++)
        printf("%6d", j);
    printf("\n");
    for (int i = 0; i < k; i++) {
        printf("%4d ", i);
        for (int j = 0; j < k; j++)
            printf("%6d", confusion[i * k + j]);
        printf("\n");
    }
    if (meta->class_names)
        for (int i = 0; i < k; i++) {
            char name[64];
            cli_class_name(meta, i, name, sizeof name);
            printf("%s%d %s%s", i ? ", " : "\nclasses: ", i, name, i == k - 1 ? "\n" : "");
        }
}

/* The model on the test split of data (its first limit images, 0: all). */
static int evaluate(cnn_net *net, const cnn_model_meta *meta, const char *data, size_t limit,
                    int json)
{
    int rc = EXIT_FAIL, k = cnn_net_classes(net);
    cnn_error err = {0};
    cnn_dataset test = {0};
    int *confusion = calloc((size_t)k * k, sizeof(int));
    cnn_metrics m;
    if (!confusion || cli_load_data(data, "test", limit, cnn_net_input_shape(net), &test))
        goto done;
    cli_team *team = NULL; /* under mpirun, each member a share of the images */
    if (cnn_net_init(net, 256, 0, &err) || cli_team_join(net, &team) ||
        cnn_evaluate(net, &test, &m, confusion, &err)) {
        if (err.status)
            cli_error(EXIT_FAIL, "%s", err.msg);
        cli_team_free(team);
        goto done;
    }
    cli_team_free(team);
    rc = 0;
    if (cli_team_rank() > 0)
        goto done;
    cli_check_classes(meta, &test);
    if (json)
        print_json(&m, confusion, k, meta);
    else
        print_text(&m, confusion, k, meta);
done:
    free(confusion);
    cnn_dataset_free(&test);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    cli_option opts[] = {{"data", 1, NULL},    {"limit", 1, NULL},
                         {"json", 0, NULL},  {"threads", 1, NULL}};
    int nopts = sizeof opts / sizeof opts[0], npos;
    const char *pos[1];
    long limit = 0, threads = 0;
    int parsed = cli_parse("eval", EVAL_HELP, argc, argv, opts, nopts, pos, 1, &npos);
    if (parsed)
        return CLI_PARSE_EXIT(parsed);
    if (npos != 1)
        return cli_error(EXIT_USAGE, "eval: which model? (cnn eval MODEL --data DIR)");
    if (cli_int(opts, nopts, "limit", 1, 1L << 30, &limit) ||
        cli_int(opts, nopts, "threads", 1, 1024, &threads))
        return EXIT_USAGE;
    cnn_model_meta meta;
    cnn_net *net = load_model(pos[0], &meta);
    if (!net)
        return EXIT_FAIL;
    cnn_net_set_threads(net, (int)threads); /* 0: OpenMP's default */
    const char *data = cli_model_data(cli_value(opts, nopts, "data"), &meta, "eval");
    int rc = data ? evaluate(net, &meta, data, (size_t)limit, cli_flag(opts, nopts, "json"))
                  : EXIT_USAGE;
    cnn_model_meta_free(&meta);
    cnn_net_free(net);
    return rc;
}

int cmd_predict(int argc, char **argv)
{
    cli_option opts[] = {{"invert", 0, NULL}, {"json", 0, NULL}};
    int nopts = sizeof opts / sizeof opts[0], npos;
    const char **pos = malloc(sizeof(char *) * (size_t)(argc + 1));
    if (!pos)
        return cli_error(EXIT_FAIL, "out of memory");
    int parsed = cli_parse("predict", PREDICT_HELP, argc, argv, opts, nopts, pos, argc, &npos);
    if (parsed) {
        free(pos);
        return CLI_PARSE_EXIT(parsed);
    }
    if (npos < 2) {
        free(pos);
        return cli_error(EXIT_USAGE, "predict: give a model and at least one image");
    }
    cnn_model_meta meta;
    cnn_net *net = load_model(pos[0], &meta);
    if (!net) {
        free(pos);
        return EXIT_FAIL;
    }
    cnn_shape in = cnn_net_input_shape(net);
    size_t per = cnn_shape_size(in);
    int k = cnn_net_classes(net), json = cli_flag(opts, nopts, "json");
    int invert = cli_flag(opts, nopts, "invert"), rc = 0;
    uint8_t *pixels = malloc(per);
    float *x = malloc(sizeof(float) * per);
    float mean, std;
    cnn_net_normalization(net, &mean, &std);
    cnn_error err;
    if (!pixels || !x || cnn_net_init(net, 1, 0, &err)) {
        rc = cli_error(EXIT_FAIL, "out of memory");
        goto done;
    }
    if (json)
        printf("[");
    for (int f = 1; f < npos; f++) {
        if (cnn_image_load(pos[f], in.c, in.h, in.w, invert, pixels, &err)) {
            rc = cli_error(EXIT_FAIL, "%s", err.msg);
            continue; /* the other images are still worth an answer */
        }
        cnn_dataset one = {1, in.c, in.h, in.w, k, pixels, NULL, NULL};
        cnn_dataset_batch(&one, NULL, 0, 1, mean, std, x, NULL);
        cnn_forward(net, x, 1, 0, &err);
        const float *p = cnn_net_output(net);
        int best = cnn_net_predicted(net, 0);
        char name[64];
        cli_class_name(&meta, best, name, sizeof name);
        if (json) {
            printf("%s{\"file\":", f > 1 ? "," : "");
            cli_json_string(pos[f]);
            printf(",");
            cli_json_prediction(best, name, p, k);
            printf("}");
        } else {
            printf("%s: %s (%.1f%%)  ", pos[f], name, 100 * p[best]);
            for (int j = 0; j < k; j++) {
                char nj[64];
                cli_class_name(&meta, j, nj, sizeof nj);
                printf("%s%s %.3f", j ? " " : "", nj, p[j]);
            }
            printf("\n");
        }
    }
    if (json)
        printf("]\n");
done:
    free(pixels);
    free(x);
    free(pos);
    cnn_model_meta_free(&meta);
    cnn_net_free(net);
    return rc;
}
