/* cnn xo: the X-or-O walkthrough of the classic CNN explanation, every number
 * computed by the library's own layers (cnn_xo_walkthrough), then the xo preset
 * trained on the generated set to show what a network learns by itself. */
#include "cli.h"
#include "viz.h"

#include <stdlib.h>
#include <string.h>

static const char HELP[] =
    "usage: cnn xo [--json] [--out DIR] [--seed N] [--train N]\n"
    "The X-or-O walkthrough: the canonical X, O and deformed X (+1 white, -1\n"
    "black) through the features \\ X / as 3x3 filters with weights feature/9 (a\n"
    "match is the mean of the elementwise products), ReLU, max pooling 2 that\n"
    "keeps partial windows (7x7 -> 4x4 -> 2x2), and a fully connected vote of the\n"
    "12 pooled values for X and for O, whose weights are the canonical X's and\n"
    "O's own 12 values (each set divided by its sum).  Then trains the xo preset\n"
    "on N generated images [2000] and tests it on 500 others.\n"
    "\n"
    "  --out DIR   also write the pictures as PNG files into DIR\n"
    "  --json      the numbers as JSON\n"
    "  --seed N    seed of the trained network's weights and shuffling [1]\n"
    "  --train N   generated training images [2000]; more make 100% held out likelier\n";

static const char *const NAMES[3] = {"x", "o", "deformed"};
static const char *const TITLES[3] = {"canonical X", "canonical O", "deformed X"};
static const char *const FEATURES[3] = {"\\", "X", "/"};

/* ---- JSON and text ----------------------------------------------------- */

static void json_list(const float *v, int n)
{
    printf("[");
    for (int i = 0; i < n; i++)
        printf("%s%.7g", i ? "," : "", v[i]);
    printf("]");
}

static void json_map(const float *v, int h, int w)
{
    printf("[");
    for (int y = 0; y < h; y++) {
        printf("%s", y ? "," : "");
        json_list(v + y * w, w);
    }
    printf("]");
}

static void json_maps(const float *v, int count, int h, int w)
{
    printf("[");
    for (int k = 0; k < count; k++) {
        printf("%s", k ? "," : "");
        json_map(v + (size_t)k * h * w, h, w);
    }
    printf("]");
}

static void json_walk(const viz_xo *o)
{
    printf("{\"input\":");
    json_map(o->input, 9, 9);
    printf(",\"match\":");
    json_maps(&o->match[0][0], 3, 7, 7);
    printf(",\"relu\":");
    json_maps(&o->relu[0][0], 3, 7, 7);
    printf(",\"pool1\":");
    json_maps(&o->pool1[0][0], 3, 4, 4);
    printf(",\"pool2\":");
    json_maps(&o->pool2[0][0], 3, 2, 2);
    printf(",\"votes\":");
    json_list(o->votes, 12);
    printf(",\"vote\":{\"x\":%.7g,\"o\":%.7g},\"probabilities\":[%.7g,%.7g]", o->score[0],
           o->score[1], o->prob[0], o->prob[1]);
    printf(",\"class\":\"%s\"}", o->score[0] >= o->score[1] ? "x" : "o");
}

/* Maps side by side, one row of each per line. */
static void text_maps(const char *title, const float *v, int count, int h, int w)
{
    if (*title)
        printf("%s\n", title);
    for (int y = 0; y < h; y++) {
        printf("   ");
        for (int k = 0; k < count; k++) {
            for (int x = 0; x < w; x++)
                printf(" %5.2f", v[((size_t)k * h + y) * w + x]);
            printf(k + 1 < count ? "   |" : "\n");
        }
    }
}

static void text_walk(int n, const viz_xo *o)
{
    printf("== %s ==\n", TITLES[n]);
    for (int y = 0; y < 9; y++) {
        printf("    ");
        for (int x = 0; x < 9; x++)
            putchar(o->input[y * 9 + x] > 0 ? '#' : '.');
        putchar('\n');
    }
    for (int f = 0; f < 3; f++) {
        char t[96];
        snprintf(t, sizeof t, "  feature %s: match (7x7)", FEATURES[f]);
        text_maps(t, o->match[f], 1, 7, 7);
        text_maps("  after ReLU", o->relu[f], 1, 7, 7);
    }
    text_maps("  max pool 2, partial windows kept (4x4), features \\ X /", &o->pool1[0][0], 3, 4,
              4);
    text_maps("  pooled again (2x2)", &o->pool2[0][0], 3, 2, 2);
    printf("  the 12 votes:");
    for (int i = 0; i < 12; i++)
        printf(" %.2f", o->votes[i]);
    printf("\n  vote for X %.4f, for O %.4f -> %s (softmax %.1f%% X)\n\n", o->score[0],
           o->score[1], o->score[0] >= o->score[1] ? "X" : "O", 100 * o->prob[0]);
}

/* ---- pictures ---------------------------------------------------------- */

static int save_grid(const char *dir, const char *name, const char *title, const float *v,
                     int count, int h, int w)
{
    viz_image im = {0};
    cnn_error err;
    int rc = viz_grid(&im, title, v, count, h, w, 0, &err);
    if (rc == CNN_OK)
        rc = viz_png_save_in(&im, dir, name, &err);
    viz_image_free(&im);
    return rc ? cli_error(EXIT_FAIL, "%s", err.msg) : 0;
}

static int save_walk(const char *dir, int n, const viz_xo *o)
{
    static const char *const stage[] = {"input", "match", "relu", "pool1", "pool2"};
    const float *v[] = {o->input, &o->match[0][0], &o->relu[0][0], &o->pool1[0][0],
                        &o->pool2[0][0]};
    const int count[] = {1, 3, 3, 3, 3}, side[] = {9, 7, 7, 4, 2};
    for (int s = 0; s < 5; s++) {
        char name[64], title[96];
        snprintf(name, sizeof name, "xo-%s-%d-%s.png", NAMES[n], s, stage[s]);
        snprintf(title, sizeof title, "%s: %s%s", TITLES[n], stage[s], s ? " of \\ X /" : "");
        if (save_grid(dir, name, title, v[s], count[s], side[s], side[s]))
            return -1;
    }
    return 0;
}

/* ---- the trained preset ------------------------------------------------ */

typedef struct {
    cnn_metrics test;
    int epochs, train_n, test_n, duplicates;
    float canonical[3][2]; /* its probabilities for the canonical pictures */
} trained;

/* Test images that also occur, byte for byte, in the training set. */
static int duplicates(const cnn_dataset *train, const cnn_dataset *test)
{
    size_t per = (size_t)test->c * test->h * test->w;
    int dup = 0;
    for (int i = 0; i < test->n; i++)
        for (int j = 0; j < train->n; j++)
            if (memcmp(test->pixels + per * i, train->pixels + per * j, per) == 0) {
                dup++;
                break;
            }
    return dup;
}

static int train_preset(long seed, long images, const viz_xo walk[3], cnn_net **out, trained *t)
{
    cnn_error err;
    cnn_train_config cfg;
    cnn_net *net = cnn_net_parse(cnn_preset("xo"), &cfg, &err);
    if (!net)
        return cli_error(EXIT_FAIL, "xo preset: %s", err.msg);
    cnn_dataset train = {0}, test = {0};
    cnn_shape in = cnn_net_input_shape(net);
    int rc = EXIT_FAIL;
    if (cli_load_splits("xo", (size_t)images, 0, in, 1, &train, &test))
        goto done;
    if (cnn_net_init(net, cfg.batch > 256 ? cfg.batch : 256, (uint64_t)seed, &err) ||
        cnn_fit(net, &train, &test, &cfg, (uint64_t)seed, &t->test, &err)) {
        cli_error(EXIT_FAIL, "training the xo preset: %s", err.msg);
        goto done;
    }
    t->epochs = cfg.epochs;
    t->train_n = train.n;
    t->test_n = test.n;
    t->duplicates = duplicates(&train, &test);
    /* the canonical pictures are +1/-1 already: the input the net normalises to */
    float x[3 * 81];
    for (int n = 0; n < 3; n++)
        memcpy(x + 81 * n, walk[n].input, sizeof walk[n].input);
    if (cnn_forward(net, x, 3, 0, &err)) {
        cli_error(EXIT_FAIL, "%s", err.msg);
        goto done;
    }
    memcpy(t->canonical, cnn_net_output(net), sizeof t->canonical);
    rc = 0;
done:
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    if (rc)
        cnn_net_free(net);
    else
        *out = net;
    return rc;
}

/* What cnn xo shows. */
typedef struct {
    viz_xo walk[3];       /* the canonical X, O and deformed X */
    float weights[2][12]; /* the vote's, for X and for O */
    float features[3][9]; /* its filters, times 9: \ X / */
    long seed;
    cnn_net *net; /* the xo preset, trained */
    trained t;
} walkthrough;

static void print_json(const walkthrough *w)
{
    const trained *t = &w->t;
    printf("{\"features\":");
    json_maps(&w->features[0][0], 3, 3, 3);
    printf(",\"vote_weights\":{\"x\":");
    json_list(w->weights[0], 12);
    printf(",\"o\":");
    json_list(w->weights[1], 12);
    printf("}");
    for (int n = 0; n < 3; n++) {
        printf(",\"%s\":", NAMES[n]);
        json_walk(&w->walk[n]);
    }
    printf(",\"trained\":{\"preset\":\"xo\",\"seed\":%ld,\"epochs\":%d,\"train_images\":%d,"
           "\"test_images\":%d,\"test_in_train\":%d,\"accuracy\":%.6f,\"loss\":%.6f,"
           "\"filters\":",
           w->seed, t->epochs, t->train_n, t->test_n, t->duplicates, t->test.accuracy,
           t->test.loss);
    json_maps(cnn_net_layer_weights(w->net, 0), cnn_net_layer(w->net, 0).filters, 3, 3);
    printf(",\"canonical\":{");
    for (int n = 0; n < 3; n++)
        printf("%s\"%s\":[%.6f,%.6f]", n ? "," : "", NAMES[n], t->canonical[n][0],
               t->canonical[n][1]);
    printf("}}}\n");
}

static void print_text(const walkthrough *w)
{
    const trained *t = &w->t;
    printf("features \\ X / (3x3, +1 white, -1 black), as filters feature/9:\n");
    text_maps("", &w->features[0][0], 3, 3, 3);
    printf("vote weights (the canonical X's and O's own 12 values / their sum):\n  X:");
    for (int i = 0; i < 12; i++)
        printf(" %.3f", w->weights[0][i]);
    printf("\n  O:");
    for (int i = 0; i < 12; i++)
        printf(" %.3f", w->weights[1][i]);
    printf("\n\n");
    for (int n = 0; n < 3; n++)
        text_walk(n, &w->walk[n]);
    printf("== the xo preset, trained (seed %ld, %d epochs) ==\n"
           "held-out accuracy %.2f%% on %d generated images (loss %.4f; trained on %d, "
           "%d of the test images also occur in training)\n",
           w->seed, t->epochs, 100 * t->test.accuracy, t->test_n, t->test.loss, t->train_n,
           t->duplicates);
    for (int n = 0; n < 3; n++)
        printf("  %s: X %.2f%%, O %.2f%%\n", TITLES[n], 100 * t->canonical[n][0],
               100 * t->canonical[n][1]);
    const float *filters = cnn_net_layer_weights(w->net, 0);
    int nf = cnn_net_layer(w->net, 0).filters;
    text_maps("its learned first-layer filters (3x3):", filters, nf < 4 ? nf : 4, 3, 3);
    if (nf > 4)
        text_maps("", filters + 36, nf - 4 < 4 ? nf - 4 : 4, 3, 3);
}

/* Every stage's picture, the features and the trained filters into dir. */
static int save_pictures(const walkthrough *w, const char *dir)
{
    cnn_error err;
    int rc = 0;
    for (int n = 0; n < 3 && rc == 0; n++)
        rc = save_walk(dir, n, &w->walk[n]);
    if (rc == 0)
        rc = save_grid(dir, "xo-features.png", "features \\ X /", &w->features[0][0], 3, 3,
                       3);
    viz_image im = {0};
    if (rc == 0 && (viz_filters(&im, w->net, 0, &err) == CNN_OK)) {
        if (viz_png_save_in(&im, dir, "xo-trained-filters.png", &err))
            rc = cli_error(EXIT_FAIL, "%s", err.msg);
        viz_image_free(&im);
    }
    return rc;
}

int cmd_xo(int argc, char **argv)
{
    cli_option opts[] = {{"json", 0, NULL}, {"out", 1, NULL},
                         {"seed", 1, NULL}, {"train", 1, NULL}};
    int nopts = sizeof opts / sizeof opts[0], npos;
    const char *pos[1];
    walkthrough w = {.seed = 1};
    long images = 2000;
    int parsed = cli_parse("xo", HELP, argc, argv, opts, nopts, pos, 0, &npos);
    if (parsed)
        return CLI_PARSE_EXIT(parsed);
    if (cli_int(opts, nopts, "seed", 0, 0x7fffffffL, &w.seed) ||
        cli_int(opts, nopts, "train", 10, 1000000, &images))
        return EXIT_USAGE;
    const char *dir = cli_value(opts, nopts, "out");
    int json = cli_flag(opts, nopts, "json"), rc = 0;
    cnn_error err;
    if (viz_xo_run(w.walk, w.weights, w.features, &err))
        return cli_error(EXIT_FAIL, "xo walkthrough: %s", err.msg);
    if (train_preset(w.seed, images, w.walk, &w.net, &w.t))
        return EXIT_FAIL;
    if (json)
        print_json(&w);
    else
        print_text(&w);
    if (dir) {
        rc = save_pictures(&w, dir);
        if (rc == 0 && !json)
            printf("\npictures written to %s/xo-*.png\n", dir);
    }
    cnn_net_free(w.net);
    return rc ? EXIT_FAIL : 0;
}
