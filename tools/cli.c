/* Options, networks and datasets as the command line names them. */
#include "cli.h"
#include "team.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

/* In a team, the message names the member; a wrong command line is every
 * member's (they share it), so member 0 alone says it. */
int cli_error(int code, const char *fmt, ...)
{
    int rank = cli_team_rank();
    if (rank > 0 && code == EXIT_USAGE)
        return code;
    va_list ap;
    va_start(ap, fmt);
    if (rank >= 0)
        fprintf(stderr, "cnn: rank %d: ", rank);
    else
        fputs("cnn: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static cli_option *find(cli_option *opts, int nopts, const char *name, size_t len)
{
    for (int i = 0; i < nopts; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

int cli_parse(const char *command, const char *help, int argc, char **argv, cli_option *opts,
              int nopts, const char **positional, int max_positional, int *npositional)
{
    *npositional = 0;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help, stdout);
            return 1;
        }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || strcmp(a, "--") == 0 || a[2] == '\0') {
            if (*npositional == max_positional) {
                cli_error(EXIT_USAGE, "%s: unexpected argument '%s' (see cnn %s --help)", command,
                          a, command);
                return -1;
            }
            positional[(*npositional)++] = a;
            continue;
        }
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        cli_option *o = find(opts, nopts, a + 2, len);
        if (!o) {
            cli_error(EXIT_USAGE, "%s: unknown option '%.*s' (see cnn %s --help)", command,
                      (int)len + 2, a, command);
            return -1;
        }
        if (!o->takes_value) {
            if (eq) {
                cli_error(EXIT_USAGE, "%s: --%s takes no value", command, o->name);
                return -1;
            }
            o->value = "";
        } else if (eq) {
            o->value = eq + 1;
        } else if (i + 1 < argc) {
            o->value = argv[++i];
        } else {
            cli_error(EXIT_USAGE, "%s: --%s needs a value", command, o->name);
            return -1;
        }
    }
    return 0;
}

const char *cli_value(const cli_option *opts, int nopts, const char *name)
{
    for (int i = 0; i < nopts; i++)
        if (strcmp(opts[i].name, name) == 0)
            return opts[i].value;
    return NULL;
}

int cli_flag(const cli_option *opts, int nopts, const char *name)
{
    return cli_value(opts, nopts, name) != NULL;
}

int cli_int(const cli_option *opts, int nopts, const char *name, long lo, long hi, long *out)
{
    const char *v = cli_value(opts, nopts, name);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end || errno || n < lo || n > hi) {
        cli_error(EXIT_USAGE, "--%s: expected a whole number in %ld..%ld, got '%s'", name, lo, hi,
                  v);
        return -1;
    }
    *out = n;
    return 0;
}

int cli_float(const cli_option *opts, int nopts, const char *name, double lo, double hi,
              float *out)
{
    const char *v = cli_value(opts, nopts, name);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*v == '\0' || *end || errno || !isfinite(x) || x < lo || x > hi) {
        cli_error(EXIT_USAGE, "--%s: expected a number in %g..%g, got '%s'", name, lo, hi, v);
        return -1;
    }
    *out = (float)x;
    return 0;
}

/* ---- networks ---------------------------------------------------------- */

static char *read_text(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = malloc(max + 1);
    size_t n = s ? fread(s, 1, max + 1, f) : 0;
    fclose(f);
    if (!s || n > max) {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    return s;
}

cnn_net *cli_load_net(const char *arg, cnn_train_config *cfg, cnn_model_meta *meta,
                      int *is_model)
{
    cnn_error err;
    cnn_net *net = NULL;
    struct stat st;
    if (is_model)
        *is_model = 0;
    if (cnn_preset(arg)) {
        net = cnn_net_parse(cnn_preset(arg), cfg, &err);
    } else if (stat(arg, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            cli_error(EXIT_FAIL, "%s: not a file", arg);
            return NULL;
        }
        if (cnn_model_probe(arg)) {
            cnn_model_meta m;
            net = cnn_model_load(arg, &m, NULL, NULL, NULL, &err);
            if (net) {
                if (cfg)
                    *cfg = m.train;
                if (is_model)
                    *is_model = 1;
            }
            if (net && meta)
                *meta = m; /* the caller frees its names */
            else if (net)
                cnn_model_meta_free(&m);
        } else {
            char *text = read_text(arg, 1 << 20);
            if (!text) {
                cli_error(EXIT_FAIL, "%s: cannot read the network file (or it is over 1 MiB)", arg);
                return NULL;
            }
            net = cnn_net_parse(text, cfg, &err);
            free(text);
            if (!net) {
                cli_error(EXIT_FAIL, "%s: %s", arg, err.msg);
                return NULL;
            }
        }
    } else if (strchr(arg, ';') || strchr(arg, '\n')) {
        net = cnn_net_parse(arg, cfg, &err);
    } else {
        cli_error(EXIT_USAGE,
                  "'%s' is neither a preset (seed, lenet, convnet, xo), a network or model file, "
                  "nor network text",
                  arg);
        return NULL;
    }
    if (!net)
        cli_error(EXIT_FAIL, "%s", err.msg);
    return net;
}

/* ---- datasets ---------------------------------------------------------- */

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Keeps the images whose index i has (i % 6 == 5) == want_test. */
static int split_folder(cnn_dataset *d, int want_test)
{
    size_t per = (size_t)d->c * d->h * d->w;
    int kept = 0;
    for (int i = 0; i < d->n; i++) {
        if ((i % 6 == 5) != want_test)
            continue;
        memmove(d->pixels + kept * per, d->pixels + i * per, per);
        d->labels[kept++] = d->labels[i];
    }
    d->n = kept;
    return kept > 0 ? 0 : -1;
}

/* cli_load_data, with its message in why instead of on stderr (so that
 * two loads side by side say one thing); EXIT_FAIL on failure. */
static int load_data(const char *arg, const char *split, size_t limit, cnn_shape want,
                     cnn_dataset *out, cnn_error *why)
{
    cnn_error err;
    int test = strcmp(split, "test") == 0;
    memset(out, 0, sizeof *out);
    if (strcmp(arg, "xo") == 0) {
        int n = limit ? (int)limit : test ? 500 : 2000;
        if (cnn_xo_generate(n, want.h, test ? 2 : 1, out, &err))
            return cnn_fail(why, EXIT_FAIL, "xo: %s", err.msg);
        return 0;
    }
    if (!is_dir(arg))
        return cnn_fail(why, EXIT_FAIL, "%s: no such folder (DATA is a folder of IDX files, a "
                                        "folder of class folders, or xo)",
                        arg);
    if (cnn_idx_load_dir(arg, split, limit, out, &err) == CNN_OK)
        return 0;
    int idx_error = err.status;
    char idx_msg[sizeof err.msg];
    memcpy(idx_msg, err.msg, sizeof idx_msg);
    /* a folder of class folders, split into train/ and test/ or by a rule */
    size_t len = strlen(arg) + 8;
    char *sub = malloc(len);
    if (!sub)
        return cnn_fail(why, EXIT_FAIL, "out of memory");
    snprintf(sub, len, "%s/%s", arg, split);
    int presplit = is_dir(sub);
    int rc = cnn_folder_load(presplit ? sub : arg, want.c, want.h, want.w, out, &err);
    free(sub);
    if (rc) /* the IDX problem when the folder looked like IDX data, else the folder's */
        return cnn_fail(why, EXIT_FAIL, "%s", idx_error == CNN_EFORMAT ? idx_msg : err.msg);
    if (!presplit && split_folder(out, test)) {
        cnn_dataset_free(out);
        return cnn_fail(why, EXIT_FAIL, "%s: too few images to set some aside for testing", arg);
    }
    if (limit && (size_t)out->n > limit)
        out->n = (int)limit;
    return 0;
}

int cli_load_data(const char *arg, const char *split, size_t limit, cnn_shape want,
                  cnn_dataset *out)
{
    cnn_error why;
    return load_data(arg, split, limit, want, out, &why) ? cli_error(EXIT_FAIL, "%s", why.msg)
                                                         : 0;
}

/* ---- output ------------------------------------------------------------ */

void cli_class_name(const cnn_model_meta *meta, int k, char *out, size_t n)
{
    const char *p = meta->class_names ? meta->class_names : "";
    for (int i = 0; i < k && *p; i++)
        p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n');
    size_t len = strcspn(p, "\n");
    if (len)
        snprintf(out, n, "%.*s", (int)(len < n ? len : n - 1), p);
    else
        snprintf(out, n, "%d", k);
}

const char *cli_model_data(const char *given, const cnn_model_meta *meta, const char *cmd)
{
    if (given)
        return given;
    const char *rec = meta->dataset;
    if (!strcmp(rec, "xo") || (rec[0] == '/' && is_dir(rec))) {
        fprintf(stderr, "cnn: %s: on %s, the data the model was trained on (--data to choose)\n",
                cmd, rec);
        return rec;
    }
    cli_error(EXIT_USAGE, "%s: which data? the model was trained on '%s'%s; give --data DIR", cmd,
              rec[0] ? rec : "(not recorded)", rec[0] ? ", which is not here" : "");
    return NULL;
}

/* The first three class names, "a, b, c": the model's (meta), else d's,
 * each its number when it has none. */
static void first_names(const cnn_model_meta *meta, const cnn_dataset *d, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < 3 && i < d->classes && len < n; i++) {
        char name[64];
        if (meta)
            cli_class_name(meta, i, name, sizeof name);
        else if (d->class_names)
            snprintf(name, sizeof name, "%s", d->class_names[i]);
        else
            snprintf(name, sizeof name, "%d", i);
        len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "", name);
    }
}

void cli_check_classes(const cnn_model_meta *meta, const cnn_dataset *d)
{
    char mine[256], theirs[256];
    first_names(meta, d, mine, sizeof mine);
    first_names(NULL, d, theirs, sizeof theirs);
    if (strcmp(mine, theirs))
        fprintf(stderr, "cnn: note: the data's classes (%s, ...) are not the model's (%s, ...); "
                "the model was trained on '%s'\n", theirs, mine, meta->dataset);
}

void cli_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    putchar('"');
}

double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

const char *const cli_optimizers[3] = {"sgd", "momentum", "adam"};
const char *const cli_schedules[3] = {"constant", "step", "cosine"};

int cli_load_splits(const char *arg, size_t train_limit, size_t test_limit, cnn_shape want,
                    int threads, cnn_dataset *train, cnn_dataset *test)
{
    cnn_error why[2];
    int rc[2];
    cnn_dataset *out[2] = {train, test};
    /* Inflating a split is one thread's work: side by side, cnn train
     * --limit 20000 on Fashion-MNIST has its data in 89-94 ms, not 126. */
#pragma omp parallel for num_threads(2) if (threads > 1)
    for (int k = 0; k < 2; k++)
        rc[k] = load_data(arg, k ? "test" : "train", k ? test_limit : train_limit, want, out[k],
                          &why[k]);
    for (int k = 0; k < 2; k++) /* the training split's problem first, as when read in turn */
        if (rc[k])
            return cli_error(EXIT_FAIL, "%s", why[k].msg);
    return 0;
}

void cli_json_prediction(int best, const char *name, const float *p, int k)
{
    printf("\"class\":%d,\"name\":", best);
    cli_json_string(name);
    printf(",\"probabilities\":[");
    for (int j = 0; j < k; j++)
        printf("%s%.9g", j ? "," : "", p[j]); /* every bit of the float */
    printf("]");
}
