/* Shared pieces of the command-line program: options, networks and datasets
 * named on the command line, messages. */
#ifndef CNN_CLI_H
#define CNN_CLI_H

#include "cnn.h"

#include <stdio.h>

/* Exit codes: 0 success, 1 the work failed (bad file, bad data, I/O),
 * 2 the command line was wrong. */
enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* One option of a command: "--name VALUE" (or "--name=VALUE"), or a flag. */
typedef struct {
    const char *name;
    int takes_value;
    const char *value; /* after parsing: the value, or "" for a set flag */
} cli_option;

/* Parses argv into opts and positional arguments.  --help prints help and
 * gives 1 (exit 0); unknown options and missing values are reported and give
 * -1 (exit 2). */
int cli_parse(const char *command, const char *help, int argc, char **argv, cli_option *opts,
              int nopts, const char **positional, int max_positional, int *npositional);
/* The exit status for a non-zero cli_parse result. */
#define CLI_PARSE_EXIT(rc) ((rc) > 0 ? 0 : EXIT_USAGE)
const char *cli_value(const cli_option *opts, int nopts, const char *name);
int cli_flag(const cli_option *opts, int nopts, const char *name);
/* Numeric options: a missing option leaves *out alone; a bad value is
 * reported ("--epochs: ...") and gives -1. */
int cli_int(const cli_option *opts, int nopts, const char *name, long lo, long hi, long *out);
int cli_float(const cli_option *opts, int nopts, const char *name, double lo, double hi,
              float *out);

/* Prints "cnn: message" to stderr ("cnn: rank R: message" in a team) and
 * returns code. */
int cli_error(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* NET: a preset name, a spec file, a model file, or spec text with ';'.
 * meta (may be NULL) is filled when NET is a model; *is_model tells. */
cnn_net *cli_load_net(const char *arg, cnn_train_config *cfg, cnn_model_meta *meta,
                      int *is_model);

/* DATA: a folder of IDX files, a folder of class folders (with train/ and
 * test/ inside, or split 5:1 by a fixed rule), or "xo" for the generated
 * X-or-O set.  split is "train" or "test"; limit 0 = all. */
int cli_load_data(const char *arg, const char *split, size_t limit, cnn_shape want,
                  cnn_dataset *out);

/* Class k's name from the model (its newline-separated class_names), or
 * its number when the model has none. */
void cli_class_name(const cnn_model_meta *meta, int k, char *out, size_t n);
/* The data to evaluate a model on: the one given, else the one the model
 * records when it is here (said on stderr), else NULL after an error that
 * asks for --data: never another data set silently. */
const char *cli_model_data(const char *given, const cnn_model_meta *meta, const char *cmd);
/* One line on stderr when d's class names are not the model's. */
void cli_check_classes(const cnn_model_meta *meta, const cnn_dataset *d);
/* The words of cnn_optimizer and cnn_schedule, in their enums' order: what
 * --optimizer and --schedule take, and what the outputs print. */
extern const char *const cli_optimizers[3];
extern const char *const cli_schedules[3];

/* Both splits of DATA (as cli_load_data), each to its own limit, side by
 * side when threads > 1.  On failure (reported, the training split's first)
 * either may be loaded: the caller frees both as ever. */
int cli_load_splits(const char *arg, size_t train_limit, size_t test_limit, cnn_shape want,
                    int threads, cnn_dataset *train, cnn_dataset *test);
/* A prediction's JSON fields on stdout, "class":..,"name":..,"probabilities":
 * [..]: the class, its name and the k probabilities p. */
void cli_json_prediction(int best, const char *name, const float *p, int k);

/* Seconds on a monotonic clock, for timing. */
double cli_now(void);
/* s as a JSON string, quoted and escaped, on stdout. */
void cli_json_string(const char *s);

/* The dataset cnn train uses when --data is not given (Debian's package). */
#define CLI_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_xo(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

#endif
