/* Model files across versions: a file saved by an older cnn still loads
 * (tests/data/README.md says which commit and command wrote it; every
 * expected value here was printed by that build). */
#include "cnn.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *V1_MODEL = "tests/data/model-v1.cnn";
static const char *V1_CHECKPOINT = "tests/data/model-v1.ckpt";

/* The two images the old build classified: a white row 3 and a white
 * column 5 on black, 8x8, normalised for the model's input. */
static void bars(const cnn_net *net, float x[2 * 64])
{
    float mean, std;
    cnn_net_normalization(net, &mean, &std);
    for (int i = 0; i < 64; i++) {
        x[i] = ((i / 8 == 3 ? 1.0f : 0.0f) - mean) / std;
        x[64 + i] = ((i % 8 == 5 ? 1.0f : 0.0f) - mean) / std;
    }
}

/* What the old build printed for both files: shapes, the first and last
 * parameter, the probabilities of the two images. */
static int same_net_as_written(cnn_net *net)
{
    static const int shapes[4][3] = {{4, 6, 6}, {4, 6, 6}, {3, 1, 1}, {3, 1, 1}};
    static const float want[2][3] = {{0.00178624806f, 0.991871476f, 0.00634228857f},
                                     {4.7160418e-05f, 0.00468284171f, 0.995269954f}};
    cnn_shape in = cnn_net_input_shape(net);
    if (in.c != 1 || in.h != 8 || in.w != 8 || cnn_net_layers(net) != 4 ||
        cnn_net_classes(net) != 3 || cnn_net_param_count(net) != 475)
        return 0;
    for (int i = 0; i < 4; i++) {
        cnn_shape s = cnn_net_layer_shape(net, i);
        if (s.c != shapes[i][0] || s.h != shapes[i][1] || s.w != shapes[i][2])
            return 0;
    }
    const float *w = cnn_net_params(net);
    if (w[0] != -0.391096443f || w[474] != -0.0155454883f)
        return 0;
    cnn_error err;
    float x[2 * 64];
    bars(net, x);
    if (cnn_net_init(net, 2, 0, &err) || cnn_forward(net, x, 2, 0, &err))
        return 0;
    const float *p = cnn_net_output(net);
    for (int i = 0; i < 6; i++) /* the same sums in any order agree this well */
        if (fabsf(p[i] - want[i / 3][i % 3]) > 1e-5f * (1 + want[i / 3][i % 3]))
            return 0;
    return 1;
}

TEST(a_version_1_model_loads_with_its_names_shapes_and_predictions)
{
    cnn_error err;
    cnn_model_meta meta;
    cnn_net *net = cnn_model_load(V1_MODEL, &meta, NULL, NULL, NULL, &err);
    if (!net)
        printf("  %s\n", err.msg);
    CHECK(net);
    CHECK(!strcmp(meta.class_names, "diagonal\nhorizontal bar\nvertical bar"));
    CHECK(!strcmp(meta.dataset, "/tmp/cnn-v1-fixture/bars") && !strcmp(meta.version, "0.1.0"));
    CHECK(meta.epochs == 6 && meta.accuracy == 1.0f && meta.loss == 0.0602645203f);
    CHECK(meta.created == 1796283498 && meta.seed == 5);
    CHECK(meta.train.optimizer == CNN_MOMENTUM && meta.train.lr == 0.02f && meta.train.batch == 8);
    CHECK(meta.history_count == 6 && meta.history[5].train_loss == 0.037365824f);
    CHECK(same_net_as_written(net));
    cnn_model_meta_free(&meta);
    cnn_net_free(net);
}

TEST(a_version_1_checkpoint_loads_with_its_optimiser_state)
{
    cnn_error err;
    cnn_model_meta meta;
    float *state = NULL;
    size_t count = 0;
    int64_t steps = 0;
    cnn_net *net = cnn_model_load(V1_CHECKPOINT, &meta, &state, &count, &steps, &err);
    if (!net)
        printf("  %s\n", err.msg);
    CHECK(net && state);
    CHECK(count == 475 && steps == 72 && cnn_net_training_steps(net) == 72);
    CHECK(state[0] == 0.070629485f && state[474] == 0.0471059196f);
    CHECK(!strcmp(meta.class_names, "diagonal\nhorizontal bar\nvertical bar"));
    CHECK(same_net_as_written(net));
    free(state);
    cnn_model_meta_free(&meta);
    cnn_net_free(net);
}

/* The names of 300 classes (2,890 bytes: more than version 1's fixed field
 * held) come back whole, the last one included. */
TEST(a_model_keeps_the_names_of_many_classes)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse("input 2x2; dense 300; softmax", NULL, &err);
    CHECK(net && cnn_net_init(net, 1, 1, &err) == CNN_OK);
    char *names = malloc(300 * 16), *at = names;
    for (int i = 0; i < 300; i++)
        at += sprintf(at, "%sclass-%03d", i ? "\n" : "", i);
    cnn_model_meta meta = {.class_names = names}, got;
    char path[64];
    snprintf(path, sizeof path, "/tmp/cnn-test-%d-names.cnn", (int)getpid());
    CHECK(cnn_model_save(path, net, &meta, NULL, &err) == CNN_OK);
    cnn_net *back = cnn_model_load(path, &got, NULL, NULL, NULL, &err);
    unlink(path);
    CHECK(back && got.class_names && strcmp(got.class_names, names) == 0);
    CHECK(strstr(got.class_names, "\nclass-299") && strlen(names) > 1024);
    cnn_model_meta_free(&got);
    CHECK(got.class_names == NULL);
    free(names);
    cnn_net_free(back), cnn_net_free(net);
}

/* A model file keeps its network as text: padded pools (alike and apart,
 * countpad, ceil) and a conv padded apart come back the same layers, with
 * the same outputs, the format unchanged. */
TEST(a_model_with_padded_pools_loads_back_the_same)
{
    static const char *text =
        "input 9x9x2 mean 0 std 1; conv 4 3x3 pad 1,0,2,1; relu; maxpool 3 stride 2 pad 1 ceil; "
        "avgpool 2 pad 0,1,1,0 countpad; sumpool 2 pad 1; dense 3; softmax";
    cnn_error err;
    cnn_net *net = cnn_net_parse(text, NULL, &err);
    CHECK(net && cnn_net_init(net, 2, 11, &err) == CNN_OK);
    char path[64];
    snprintf(path, sizeof path, "/tmp/cnn-test-%d-padded.cnn", (int)getpid());
    CHECK(cnn_model_save(path, net, NULL, NULL, &err) == CNN_OK);
    cnn_net *back = cnn_model_load(path, NULL, NULL, NULL, NULL, &err);
    unlink(path);
    CHECK(back && cnn_net_layers(back) == cnn_net_layers(net));
    for (int i = 0; i < cnn_net_layers(net); i++) {
        cnn_layer_spec a = cnn_net_layer(net, i), b = cnn_net_layer(back, i);
        CHECK(memcmp(&a, &b, sizeof a) == 0);
        cnn_shape sa = cnn_net_layer_shape(net, i), sb = cnn_net_layer_shape(back, i);
        CHECK(sa.c == sb.c && sa.h == sb.h && sa.w == sb.w);
    }
    cnn_layer_spec avg = cnn_net_layer(back, 3);
    CHECK(avg.pad_asym && avg.ph == 0 && avg.pw == 1 && avg.ph_end == 1 && avg.pw_end == 0);
    CHECK(avg.count_pad && cnn_net_layer_shape(back, 3).h == 3);
    float x[2 * 162];
    for (int i = 0; i < 2 * 162; i++)
        x[i] = (float)((i * 37) % 19) / 9.0f - 1.0f;
    CHECK(cnn_net_init(back, 2, 0, &err) == CNN_OK);
    CHECK(cnn_forward(net, x, 2, 0, &err) == 0 && cnn_forward(back, x, 2, 0, &err) == 0);
    CHECK(memcmp(cnn_net_output(net), cnn_net_output(back), 6 * sizeof(float)) == 0);
    cnn_net_free(back), cnn_net_free(net);
}

/* ---- the count of training forwards (dropout's masks) ------------------ */

static const char *DROPPY = "input 4x4 mean 0 std 1; dense 16; dropout 0.5; dense 2; softmax";

static cnn_net *droppy(void)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse(DROPPY, NULL, &err);
    if (net && cnn_net_init(net, 2, 3, &err)) {
        cnn_net_free(net);
        net = NULL;
    }
    return net;
}

TEST(the_training_forwards_choose_the_dropout_masks)
{
    cnn_error err;
    cnn_net *a = droppy(), *b = droppy();
    CHECK(a && b);
    float x[32];
    for (int i = 0; i < 32; i++)
        x[i] = (float)(i % 7) - 3.0f;
    CHECK(cnn_net_training_steps(a) == 0);
    cnn_net_set_training_steps(a, 41);
    cnn_net_set_training_steps(b, 41);
    CHECK(cnn_forward(a, x, 2, 1, &err) == 0 && cnn_forward(b, x, 2, 1, &err) == 0);
    CHECK(cnn_net_training_steps(a) == 42);
    CHECK(!memcmp(cnn_net_output(a), cnn_net_output(b), 4 * sizeof(float)));
    cnn_net_set_training_steps(b, 7); /* another count, other masks */
    CHECK(cnn_forward(a, x, 2, 1, &err) == 0 && cnn_forward(b, x, 2, 1, &err) == 0);
    CHECK(memcmp(cnn_net_output(a), cnn_net_output(b), 4 * sizeof(float)));
    CHECK(cnn_forward(a, x, 2, 0, &err) == 0 && cnn_net_training_steps(a) == 43);
    cnn_net_free(a), cnn_net_free(b);
}

TEST(a_checkpoint_keeps_the_training_forwards_and_a_model_does_not)
{
    cnn_error err;
    cnn_net *net = droppy();
    CHECK(net);
    cnn_train_config cfg = cnn_train_defaults();
    cnn_optim *opt = cnn_optim_new(net, &cfg, &err);
    CHECK(opt);
    cnn_net_set_training_steps(net, 1000);
    char path[64];
    snprintf(path, sizeof path, "/tmp/cnn-test-%d-steps.cnn", (int)getpid());
    CHECK(cnn_model_save(path, net, NULL, opt, &err) == 0);
    cnn_net *back = cnn_model_load(path, NULL, NULL, NULL, NULL, &err);
    CHECK(back && cnn_net_training_steps(back) == 1000);
    cnn_net_free(back);
    CHECK(cnn_model_save(path, net, NULL, NULL, &err) == 0);
    back = cnn_model_load(path, NULL, NULL, NULL, NULL, &err);
    CHECK(back && cnn_net_training_steps(back) == 0);
    cnn_net_free(back);
    unlink(path);
    cnn_optim_free(opt);
    cnn_net_free(net);
}

/* ---- telling a model file from others ---------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

TEST(a_model_file_is_told_by_its_magic)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/cnn-test-%d-probe", (int)getpid());
    CHECK(cnn_model_probe(V1_MODEL) == 1 && cnn_model_probe(V1_CHECKPOINT) == 1);
    write_file(path, "CNNMODEL, but only text after it");
    CHECK(cnn_model_probe(path) == 1); /* the magic only: loading checks the rest */
    write_file(path, "CNNMODE");
    CHECK(cnn_model_probe(path) == 0);
    write_file(path, "input 28x28; dense 10; softmax");
    CHECK(cnn_model_probe(path) == 0);
    unlink(path);
    CHECK(cnn_model_probe(path) == 0 && cnn_model_probe("/tmp") == 0 && cnn_model_probe(NULL) == 0);
}

/* int8 through the API: calibration's bad calls refused, inference near the
 * float network's, training refused, new parameters quantized anew, and a
 * saved int8 model loading back as int8 with the same probabilities. */
TEST(an_int8_network_runs_near_float_and_saves_as_int8)
{
    static const char *text = "input 8x8x1 mean 0 std 1; conv 4 3x3 pad 1; relu; maxpool 2; "
                              "avgpool 2 countpad pad 1; dense 6; relu; dense 3; softmax";
    cnn_error err;
    cnn_net *net = cnn_net_parse(text, NULL, &err);
    float x[32 * 64], want[32 * 3], got[32 * 3];
    for (int i = 0; i < 32 * 64; i++)
        x[i] = (float)((i * 37) % 23) / 11.0f - 1.0f;
    CHECK(net && cnn_net_quantize(net, x, 32, &err) == CNN_EINVAL); /* before init */
    CHECK(cnn_net_init(net, 32, 5, &err) == CNN_OK);
    CHECK(cnn_net_quantize(net, x, 0, &err) == CNN_EINVAL);
    CHECK(cnn_forward(net, x, 32, 0, &err) == CNN_OK);
    memcpy(want, cnn_net_output(net), sizeof want);
    CHECK(!cnn_net_quant_ranges(net) && cnn_net_quantize(net, x, 32, &err) == CNN_OK);
    CHECK(cnn_net_quant_ranges(net) != NULL);
    CHECK(cnn_forward(net, x, 32, 1, &err) == CNN_EINVAL && strstr(err.msg, "inference only"));
    CHECK(cnn_forward(net, x, 32, 0, &err) == CNN_OK);
    memcpy(got, cnn_net_output(net), sizeof got);
    float worst = 0;
    int same = 1;
    for (int i = 0; i < 32 * 3; i++) {
        float d = got[i] > want[i] ? got[i] - want[i] : want[i] - got[i];
        worst = d > worst ? d : worst;
        same &= got[i] == want[i];
    }
    CHECK(worst < 0.03f && !same); /* near, and not the float pass itself */
    /* new weights: quantized anew (the output follows them) */
    size_t np = cnn_net_param_count(net);
    float *w = malloc(sizeof(float) * np);
    for (size_t i = 0; i < np; i++)
        w[i] = -cnn_net_params(net)[i];
    CHECK(cnn_net_set_params(net, w, np, &err) == CNN_OK && cnn_net_quant_ranges(net));
    CHECK(cnn_forward(net, x, 32, 0, &err) == CNN_OK);
    CHECK(memcmp(got, cnn_net_output(net), sizeof got) != 0);
    for (size_t i = 0; i < np; i++)
        w[i] = -w[i];
    CHECK(cnn_net_set_params(net, w, np, &err) == CNN_OK);
    free(w);
    char path[64];
    snprintf(path, sizeof path, "/tmp/cnn-test-%d-int8.cnn", (int)getpid());
    CHECK(cnn_model_save(path, net, NULL, NULL, &err) == CNN_OK);
    cnn_net *back = cnn_model_load(path, NULL, NULL, NULL, NULL, &err);
    unlink(path);
    CHECK(back && cnn_net_quant_ranges(back) && cnn_net_init(back, 32, 0, &err) == CNN_OK);
    CHECK(cnn_forward(back, x, 32, 0, &err) == CNN_OK);
    CHECK(memcmp(got, cnn_net_output(back), sizeof got) == 0);
    cnn_net_free(back);
    cnn_net_free(net);
}
