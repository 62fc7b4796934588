/* cnn report: one self-contained HTML page about a model (its layers, its
 * training curves, its filters, what it sees in a few test images, its
 * confusion matrix and its most confident mistakes).  Images are embedded as
 * data: URIs so the page works offline, and a small script in the page checks
 * that every image decoded and every table is filled (tests read its verdict
 * from a headless browser). */
#include "cli.h"
#include "viz.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char HELP[] =
    "usage: cnn report MODEL [--data DIR] [--out DIR] [--limit N]\n"
    "Writes DIR/report.html [./report.html]: the layers, the training curves\n"
    "(from the model's history), the filters, the feature maps of the first\n"
    "test images, the confusion matrix and the most confidently wrong test\n"
    "images, on the test split of --data [the data the model was trained on]\n"
    "(the first N images with --limit).  Self-contained: images are inlined.\n";

enum { MISTAKES = 8, EXAMPLES = 3, BATCH = 256, NAME = 48 };

typedef struct {
    int index, truth, pred;
    float confidence;
} mistake;

typedef struct {
    int k, count, correct;
    double loss;
    int *confusion;
    mistake wrong[MISTAKES];
    int nwrong;
} results;

/* ---- HTML pieces ------------------------------------------------------- */

static void text(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
}

static void base64(FILE *f, const unsigned char *p, int n)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        fputc(digits[v >> 18 & 63], f);
        fputc(digits[v >> 12 & 63], f);
        fputc(i + 1 < n ? digits[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? digits[v & 63] : '=', f);
    }
}

/* <img> with the picture inlined; frees it. */
static int image(FILE *f, viz_image *im, const char *alt)
{
    int len;
    unsigned char *png = viz_png_encode(im, &len);
    viz_image_free(im);
    if (!png)
        return cli_error(EXIT_FAIL, "out of memory encoding a PNG");
    fprintf(f, "<img alt=\"");
    text(f, alt);
    fprintf(f, "\" src=\"data:image/png;base64,");
    base64(f, png, len);
    fprintf(f, "\">\n");
    free(png);
    return 0;
}

/* A viz_* picture (rc its status) inlined, or the error reported. */
static int picture(FILE *f, int rc, viz_image *im, const char *alt, const cnn_error *err)
{
    if (rc)
        return cli_error(EXIT_FAIL, "%s", err->msg);
    return image(f, im, alt);
}

static void layer_desc(const cnn_net *net, int i, char *out, size_t n)
{
    cnn_layer_spec l = cnn_net_layer(net, i);
    cnn_layer_text(&l, 1, out, n);
}

/* Class names from the model, else the dataset, else numbers. */
static char *class_names(const cnn_model_meta *meta, const cnn_dataset *d, int k)
{
    char *names = calloc((size_t)k, NAME);
    const char *p = meta->class_names ? meta->class_names : "";
    for (int i = 0; names && i < k; i++) {
        size_t len = strcspn(p, "\n");
        if (len)
            snprintf(names + i * NAME, NAME, "%.*s", (int)len, p);
        else if (d->class_names && i < d->classes)
            snprintf(names + i * NAME, NAME, "%s", d->class_names[i]);
        else
            snprintf(names + i * NAME, NAME, "%d", i);
        p += len + (p[len] == '\n');
    }
    return names;
}

/* ---- the numbers ------------------------------------------------------- */

/* Keeps the MISTAKES most confident wrong answers, most confident first. */
static void note_mistake(results *r, mistake m)
{
    int at = MISTAKES - 1;
    if (r->nwrong < MISTAKES)
        at = r->nwrong++;
    else if (r->wrong[at].confidence >= m.confidence)
        return;
    while (at > 0 && r->wrong[at - 1].confidence < m.confidence) {
        r->wrong[at] = r->wrong[at - 1];
        at--;
    }
    r->wrong[at] = m;
}

static int scan(cnn_net *net, const cnn_dataset *d, results *r)
{
    cnn_error err;
    float mean, std;
    cnn_net_normalization(net, &mean, &std);
    size_t per = (size_t)d->c * d->h * d->w;
    float *x = malloc(sizeof(float) * per * BATCH);
    cnn_label labels[BATCH];
    if (!x)
        return cli_error(EXIT_FAIL, "out of memory");
    for (int first = 0; first < d->n; first += BATCH) {
        int n = d->n - first < BATCH ? d->n - first : BATCH;
        cnn_dataset_batch(d, NULL, first, n, mean, std, x, labels);
        if (cnn_forward(net, x, n, 0, &err)) {
            free(x);
            return cli_error(EXIT_FAIL, "%s", err.msg);
        }
        const float *p = cnn_net_output(net);
        r->loss += (double)cnn_loss(net, labels, n, NULL) * n;
        for (int i = 0; i < n; i++, p += r->k) {
            int best = cnn_net_predicted(net, i), t = labels[i];
            r->confusion[t * r->k + best]++;
            r->count++;
            if (best == t)
                r->correct++;
            else
                note_mistake(r, (mistake){first + i, t, best, p[best]});
        }
    }
    free(x);
    return 0;
}

/* ---- the page ---------------------------------------------------------- */

static const char STYLE[] =
    "body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
    "color:#222}h2{border-bottom:1px solid #ccc;margin-top:2em}table{border-collapse:collapse;"
    "margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
    "th{background:#f3f3f3}img{image-rendering:pixelated;max-width:100%;margin:4px;"
    "vertical-align:top}figure{display:inline-block;margin:0 1em 1em 0}"
    "#check{margin-top:2em;color:#666;font-size:13px}.note{color:#555}\n";

/* Runs on load: every image decoded and every table filled? */
static const char CHECK[] =
    "<script>\n"
    "addEventListener('load', function () {\n"
    "  var imgs = document.images, bad = 0, empty = 0;\n"
    "  for (var i = 0; i < imgs.length; i++)\n"
    "    if (!imgs[i].complete || imgs[i].naturalWidth === 0) bad++;\n"
    "  var tables = document.querySelectorAll('table');\n"
    "  tables.forEach(function (t) {\n"
    "    var cells = t.querySelectorAll('td');\n"
    "    if (t.rows.length < 2 || !cells.length) empty++;\n"
    "    cells.forEach(function (c) { if (!c.textContent.trim()) empty++; });\n"
    "  });\n"
    "  var ok = imgs.length > 0 && !bad && tables.length > 0 && !empty;\n"
    "  var v = (ok ? 'OK' : 'FAIL') + ': ' + imgs.length + ' images, ' + bad +\n"
    "          ' not loaded; ' + tables.length + ' tables, ' + empty + ' empty cells or tables';\n"
    "  document.getElementById('check').textContent = v;\n"
    "  document.title = v;\n"
    "});\n"
    "</script>\n";

static void head(FILE *f, const char *model, const cnn_model_meta *m, const char *data,
                 const results *r)
{
    fprintf(f, "<!doctype html>\n<html lang=en><head><meta charset=utf-8>\n<title>cnn report: ");
    text(f, model);
    fprintf(f, "</title>\n<style>%s</style></head><body>\n<h1>", STYLE);
    text(f, model);
    fprintf(f, "</h1>\n<p>");
    if (m->epochs > 0) {
        fprintf(f, "Trained %d epoch%s on ", m->epochs, m->epochs == 1 ? "" : "s");
        text(f, m->dataset);
        fprintf(f, " (%s, learning rate %g, batch %d, seed %llu)",
                cli_optimizers[m->train.optimizer], m->train.lr, m->train.batch,
                (unsigned long long)m->seed);
        if (m->created > 0) {
            time_t t = (time_t)m->created;
            struct tm tm;
            char when[32];
            if (gmtime_r(&t, &tm) && strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm))
                fprintf(f, ", saved %s", when);
        }
        fprintf(f, " by cnn ");
        text(f, m->version);
        fprintf(f, ".<br>\n");
    }
    fprintf(f, "On the first %d test images of ", r->count);
    text(f, data);
    fprintf(f, ": <b>accuracy %.2f%%</b> (%d right), mean cross-entropy %.4f.</p>\n",
            r->count ? 100.0 * r->correct / r->count : 0.0, r->correct,
            r->count ? r->loss / r->count : 0.0);
}

static void layers_table(FILE *f, const cnn_net *net)
{
    cnn_shape in = cnn_net_input_shape(net);
    fprintf(f, "<h2>Layers</h2>\n<table id=layers><tr><th>#</th><th>layer</th>"
               "<th>output (CxHxW)</th><th>parameters</th><th>FLOPs per image</th></tr>\n"
               "<tr><td>0</td><td>input</td><td>%dx%dx%d</td><td>0</td><td>0</td></tr>\n",
            in.c, in.h, in.w);
    double flops = 0;
    for (int i = 0; i < cnn_net_layers(net); i++) {
        char d[64];
        cnn_shape s = cnn_net_layer_shape(net, i);
        layer_desc(net, i, d, sizeof d);
        flops += cnn_net_layer_flops(net, i);
        fprintf(f, "<tr><td>%d</td><td>%s</td><td>%dx%dx%d</td><td>%zu</td><td>%.0f</td></tr>\n",
                i + 1, d, s.c, s.h, s.w, cnn_net_layer_params(net, i),
                cnn_net_layer_flops(net, i));
    }
    fprintf(f, "<tr><th colspan=3>total</th><td>%zu</td><td>%.0f</td></tr></table>\n",
            cnn_net_param_count(net), flops);
}

static int training(FILE *f, const cnn_model_meta *m)
{
    fprintf(f, "<h2>Training</h2>\n");
    if (m->history_count < 1) {
        fprintf(f, "<p class=note>This model holds no training history.</p>\n");
        return 0;
    }
    viz_image im = {0};
    cnn_error err;
    int h = m->history_count;
    if (picture(f, viz_curves(&im, m->history, h, &err), &im, "loss and accuracy per epoch",
                &err))
        return -1;
    int first = m->epochs - h + 1; /* the file keeps the latest epochs */
    fprintf(f, "<table id=history><tr><th>epoch</th><th>train loss</th><th>train accuracy</th>"
               "<th>test loss</th><th>test accuracy</th><th>seconds</th></tr>\n");
    for (int e = 0; e < h; e++) {
        const cnn_epoch_record *r = &m->history[e];
        fprintf(f, "<tr><td>%d</td><td>%.4f</td><td>%.2f%%</td><td>%.4f</td><td>%.2f%%</td>"
                   "<td>%.1f</td></tr>\n",
                first > 0 ? first + e : e + 1, r->train_loss, 100 * r->train_accuracy,
                r->test_loss, 100 * r->test_accuracy, r->seconds);
    }
    fprintf(f, "</table>\n");
    return 0;
}

static int filters(FILE *f, cnn_net *net)
{
    fprintf(f, "<h2>Filters</h2>\n<p class=note>Blue is negative, white 0, red positive; each "
               "picture's scale is symmetric around 0 (&plusmn; the largest magnitude in it, "
               "printed under it).</p>\n");
    int any = 0;
    for (int i = 0; i < cnn_net_layers(net); i++) {
        if (cnn_net_layer(net, i).kind != CNN_CONV)
            continue;
        viz_image im = {0};
        cnn_error err;
        char alt[64];
        snprintf(alt, sizeof alt, "filters of layer %d", i + 1);
        fprintf(f, "<figure>");
        if (picture(f, viz_filters(&im, net, i, &err), &im, alt, &err))
            return -1;
        fprintf(f, "<figcaption>%s</figcaption></figure>\n", alt);
        any = 1;
    }
    if (!any)
        fprintf(f, "<p class=note>This network has no convolutions.</p>\n");
    return 0;
}

static int feature_maps(FILE *f, cnn_net *net, const cnn_dataset *d, const char *names)
{
    int n = d->n < EXAMPLES ? d->n : EXAMPLES;
    float mean, std;
    cnn_error err;
    cnn_net_normalization(net, &mean, &std);
    float *x = malloc(sizeof(float) * cnn_shape_size(cnn_net_input_shape(net)) * EXAMPLES);
    cnn_label labels[EXAMPLES];
    if (!x)
        return cli_error(EXIT_FAIL, "out of memory");
    cnn_dataset_batch(d, NULL, 0, n, mean, std, x, labels);
    if (cnn_forward(net, x, n, 0, &err)) {
        free(x);
        return cli_error(EXIT_FAIL, "%s", err.msg);
    }
    fprintf(f, "<h2>Feature maps</h2>\n<p class=note>What each layer outputs for the first "
               "test images: one tile per channel, same colours as above.</p>\n");
    int k = cnn_net_classes(net);
    for (int e = 0; e < n; e++) {
        const float *p = cnn_net_output(net) + (size_t)e * k;
        int best = cnn_net_predicted(net, e);
        fprintf(f, "<h3>Test image %d: true ", e);
        text(f, names + labels[e] * NAME);
        fprintf(f, ", predicted ");
        text(f, names + best * NAME);
        fprintf(f, " (%.1f%%)</h3>\n", 100 * p[best]);
        for (int i = -1; i < cnn_net_layers(net); i++) {
            viz_image im = {0};
            char alt[64];
            snprintf(alt, sizeof alt, "image %d, layer %d", e, i + 1);
            if (picture(f, viz_activation(&im, net, i, e, &err), &im, alt, &err)) {
                free(x);
                return -1;
            }
        }
    }
    free(x); /* only now: the net's input activation is x itself */
    return 0;
}

static int confusion(FILE *f, const results *r, const char *names)
{
    viz_image im = {0};
    cnn_error err;
    fprintf(f, "<h2>Confusion matrix</h2>\n");
    if (picture(f, viz_confusion(&im, r->confusion, r->k, &err), &im, "confusion matrix", &err))
        return -1;
    fprintf(f, "<table id=confusion><tr><th>true \\ predicted</th>");
    for (int j = 0; j < r->k; j++) {
        fprintf(f, "<th>");
        text(f, names + j * NAME);
        fprintf(f, "</th>");
    }
    fprintf(f, "</tr>\n");
    for (int i = 0; i < r->k; i++) {
        fprintf(f, "<tr><th>");
        text(f, names + i * NAME);
        fprintf(f, "</th>");
        for (int j = 0; j < r->k; j++)
            fprintf(f, i == j ? "<td><b>%d</b></td>" : "<td>%d</td>", r->confusion[i * r->k + j]);
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
    return 0;
}

static int mistakes(FILE *f, const results *r, const cnn_dataset *d, const char *names)
{
    fprintf(f, "<h2>Most confidently wrong</h2>\n");
    if (r->nwrong == 0) {
        fprintf(f, "<p class=note>No test image was misclassified.</p>\n");
        return 0;
    }
    size_t per = (size_t)d->c * d->h * d->w;
    unsigned char *px = malloc(per * r->nwrong);
    char captions[MISTAKES][3 * NAME + 16];
    const char *cap[MISTAKES];
    if (!px)
        return cli_error(EXIT_FAIL, "out of memory");
    for (int i = 0; i < r->nwrong; i++) {
        const mistake *m = &r->wrong[i];
        memcpy(px + per * i, d->pixels + per * m->index, per);
        snprintf(captions[i], sizeof captions[i], "true %s\npred %s\n%.1f%%",
                 names + m->truth * NAME, names + m->pred * NAME, 100 * m->confidence);
        cap[i] = captions[i];
    }
    viz_image im = {0};
    cnn_error err;
    int rc = picture(f, viz_strip(&im, px, r->nwrong, (cnn_shape){d->c, d->h, d->w}, cap, &err),
                     &im, "the most confidently wrong test images", &err);
    free(px);
    if (rc)
        return -1;
    fprintf(f, "<table id=mistakes><tr><th>test image</th><th>true</th><th>predicted</th>"
               "<th>confidence</th></tr>\n");
    for (int i = 0; i < r->nwrong; i++) {
        const mistake *m = &r->wrong[i];
        fprintf(f, "<tr><td>%d</td><td>", m->index);
        text(f, names + m->truth * NAME);
        fprintf(f, "</td><td>");
        text(f, names + m->pred * NAME);
        fprintf(f, "</td><td>%.1f%%</td></tr>\n", 100 * m->confidence);
    }
    fprintf(f, "</table>\n");
    return 0;
}

/* What the page is about. */
typedef struct {
    const char *model, *data; /* as the command line names them */
    cnn_net *net;
    cnn_model_meta meta;
    cnn_dataset test;
    results r;
    char *names; /* NAME bytes a class */
} report;

/* The test images (the first limit, 0: all) through the network. */
static int measure(report *p, size_t limit)
{
    cnn_error err;
    int k = cnn_net_classes(p->net);
    p->r.k = k;
    if (cli_load_data(p->data, "test", limit, cnn_net_input_shape(p->net), &p->test))
        return EXIT_FAIL;
    if (p->test.classes > k || p->test.n < 1)
        return cli_error(EXIT_FAIL, "%s: %d classes but the network has %d outputs", p->data,
                         p->test.classes, k);
    cli_check_classes(&p->meta, &p->test);
    p->r.confusion = calloc((size_t)k * k, sizeof(int));
    p->names = class_names(&p->meta, &p->test, k);
    if (!p->r.confusion || !p->names)
        return cli_error(EXIT_FAIL, "out of memory");
    cnn_net_keep_activations(p->net, 1); /* feature maps of every layer */
    if (cnn_net_init(p->net, BATCH, 0, &err))
        return cli_error(EXIT_FAIL, "%s", err.msg);
    return scan(p->net, &p->test, &p->r);
}

/* DIR/report.html, and a line on stdout that says so. */
static int write_page(report *p, const char *dir)
{
    char path[4096];
    if (mkdir(dir, 0777) && errno != EEXIST)
        return cli_error(EXIT_FAIL, "%s: cannot create the folder: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/report.html", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return cli_error(EXIT_FAIL, "%s: %s", path, strerror(errno));
    int rc = EXIT_FAIL;
    head(f, p->model, &p->meta, p->data, &p->r);
    layers_table(f, p->net);
    if (training(f, &p->meta) || filters(f, p->net) ||
        feature_maps(f, p->net, &p->test, p->names) || confusion(f, &p->r, p->names) ||
        mistakes(f, &p->r, &p->test, p->names))
        goto done;
    fprintf(f, "<div id=check>not checked (scripts are off)</div>\n%s</body></html>\n", CHECK);
    if (ferror(f)) {
        cli_error(EXIT_FAIL, "%s: write error", path);
        goto done;
    }
    printf("wrote %s: accuracy %.2f%% on %d test images\n", path,
           100.0 * p->r.correct / p->r.count, p->r.count);
    rc = 0;
done:
    if (fclose(f) && rc == 0)
        rc = cli_error(EXIT_FAIL, "%s: write error", path);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    cli_option opts[] = {{"data", 1, NULL}, {"out", 1, NULL},
                         {"limit", 1, NULL}};
    int nopts = sizeof opts / sizeof opts[0], npos;
    const char *pos[1];
    long limit = 0;
    int parsed = cli_parse("report", HELP, argc, argv, opts, nopts, pos, 1, &npos);
    if (parsed)
        return CLI_PARSE_EXIT(parsed);
    if (cli_int(opts, nopts, "limit", 1, 1L << 30, &limit))
        return EXIT_USAGE;
    if (npos != 1)
        return cli_error(EXIT_USAGE, "report: which model? (cnn report MODEL --data DIR)");
    const char *dir = cli_value(opts, nopts, "out");
    report p = {.model = pos[0]};
    if (!(p.net = cli_load_net(p.model, NULL, &p.meta, NULL)))
        return EXIT_FAIL;
    int rc = EXIT_USAGE;
    if ((p.data = cli_model_data(cli_value(opts, nopts, "data"), &p.meta, "report")))
        rc = measure(&p, (size_t)limit) ? EXIT_FAIL : write_page(&p, dir ? dir : ".");
    free(p.r.confusion);
    free(p.names);
    cnn_dataset_free(&p.test);
    cnn_model_meta_free(&p.meta);
    cnn_net_free(p.net);
    return rc;
}
