/* Networks as a whole: specs, shape checks, the fused loss gradient, learning,
 * reproducibility, optimisers and model files. */
#include "cnn.h"
#include "net.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static const char *SMALL =
    "input 6x6x2 mean 0 std 1\n"
    "conv 3 3x3 pad 1\n"
    "relu\n"
    "maxpool 2\n"
    "dense 5\n"
    "tanh\n"
    "dense 3\n"
    "softmax\n";

static void fill(float *x, size_t n, uint64_t seed)
{
    cnn_rng r;
    cnn_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(2 * cnn_rng_uniform(&r) - 1);
}

/* ---- specs ------------------------------------------------------------- */

TEST(presets_parse_and_have_the_documented_shapes)
{
    cnn_error err;
    const char *names[4] = {"seed", "lenet", "convnet", "xo"};
    size_t params[4] = {8 * 9 + 13520 + 10,
                        156 + 2416 + 48120 + 10164 + 850,
                        320 + 18496 + 1179776 + 1290, 0};
    for (int i = 0; i < 4; i++) {
        cnn_train_config t;
        cnn_net *net = cnn_net_parse(cnn_preset(names[i]), &t, &err);
        CHECK(net != NULL);
        CHECK(cnn_net_init(net, 2, 1, &err) == 0);
        if (params[i])
            CHECK(cnn_net_param_count(net) == params[i]);
        CHECK(cnn_net_classes(net) == (i == 3 ? 2 : 10));
        cnn_net_free(net);
    }
    cnn_train_config t;
    cnn_net *seed = cnn_net_parse(cnn_preset("seed"), &t, &err);
    CHECK(t.optimizer == CNN_SGD && t.lr == 0.005f && t.batch == 1 && t.epochs == 3);
    CHECK(cnn_net_layer_shape(seed, 0).c == 8 && cnn_net_layer_shape(seed, 0).h == 26);
    CHECK(cnn_net_layer_shape(seed, 1).h == 13);
    cnn_net_free(seed);
    CHECK(cnn_preset("nonsense") == NULL);
}

/* Which convs run by Winograd: 3x3, stride 1, 16 or more channels in and
 * out; the rest shifted (stride 1) or unrolled. */
TEST(conv_methods_follow_window_stride_and_channels)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse(cnn_preset("convnet"), NULL, &err);
    CHECK(net != NULL);
    CHECK(strcmp(cnn_net_layer_method(net, 0), "shifted") == 0); /* one channel in */
    CHECK(cnn_net_layer_method(net, 1) == NULL);                 /* relu */
    CHECK(strcmp(cnn_net_layer_method(net, 2), "winograd") == 0);
    cnn_net_free(net);
    net = cnn_net_parse("input 12x12x16\nconv 16 3x3 pad 1\nconv 15 3x3\nconv 16 5x5 pad 2\n"
                        "conv 16 3x3 stride 2\nconv 16 3x3 pad 1,1,1,1\nconv 16 3x3 pad 0,0,1,1\n",
                        NULL, &err);
    CHECK(net != NULL);
    CHECK(strcmp(cnn_net_layer_method(net, 0), "winograd") == 0);
    CHECK(strcmp(cnn_net_layer_method(net, 1), "shifted") == 0); /* 15 filters */
    CHECK(strcmp(cnn_net_layer_method(net, 2), "shifted") == 0); /* 5x5 */
    CHECK(strcmp(cnn_net_layer_method(net, 3), "im2col") == 0);
    CHECK(strcmp(cnn_net_layer_method(net, 4), "winograd") == 0); /* equal pads after all */
    CHECK(strcmp(cnn_net_layer_method(net, 5), "shifted") == 0);  /* padded apart */
    cnn_net_free(net);
}

TEST(spec_errors_name_the_line_and_column)
{
    cnn_error err;
    CHECK(cnn_net_parse("input 28x28x1\nconv 8 3x3 strid 2\n", NULL, &err) == NULL);
    CHECK(strstr(err.msg, "line 2, column 12") && strstr(err.msg, "strid"));
    CHECK(cnn_net_parse("input 28x28x1\nconvolution 8 3x3\n", NULL, &err) == NULL);
    CHECK(strstr(err.msg, "line 2, column 1") && strstr(err.msg, "convolution"));
    CHECK(cnn_net_parse("input 28x28x1\nconv -3 3x3\n", NULL, &err) == NULL);
    CHECK(strstr(err.msg, "line 2, column 6"));
    CHECK(cnn_net_parse("conv 8 3x3\n", NULL, &err) == NULL);
    CHECK(strstr(err.msg, "input"));
    CHECK(cnn_net_parse("", NULL, &err) == NULL);
    CHECK(cnn_net_parse("input 28x28\ntrain sgd lr fast\n", NULL, &err) == NULL);
    CHECK(strstr(err.msg, "lr"));
    CHECK(cnn_net_parse("input 28x28\nsoftmax\ndense 3\n", NULL, &err) == NULL);
    CHECK(strstr(err.msg, "last"));
}

TEST(spec_refuses_a_network_whose_shapes_cannot_work)
{
    cnn_error err;
    CHECK(cnn_net_parse("input 4x4x1\nconv 2 3x3\nconv 2 3x3\n", NULL, &err) == NULL);
    CHECK(strstr(err.msg, "line 3") && strstr(err.msg, "2x2x2"));
    CHECK(cnn_net_parse("input 4x4\nmaxpool 5\n", NULL, &err) == NULL);
    CHECK(strstr(err.msg, "4x4x1"));
    CHECK(cnn_net_parse("input 4x4\nconv 2 4x4 pad same\n", NULL, &err) == NULL);
    CHECK(strstr(err.msg, "odd"));
}

TEST(spec_on_one_line_with_semicolons_and_comments)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse("input 8x8 # gray ; conv 2 3x3 stride 2 pad 1; relu; dense 4;"
                                 " softmax", NULL, &err);
    CHECK(net != NULL);
    CHECK(cnn_net_layers(net) == 4);
    CHECK(cnn_net_layer_shape(net, 0).h == 4);
    cnn_net_free(net);
}

TEST(spec_round_trips_through_text)
{
    cnn_error err;
    cnn_net *a = cnn_net_parse(cnn_preset("lenet"), NULL, &err);
    char *text = cnn_net_to_spec(a);
    cnn_net *b = cnn_net_parse(text, NULL, &err);
    CHECK(b != NULL);
    char *again = cnn_net_to_spec(b);
    CHECK(strcmp(text, again) == 0);
    free(text), free(again);
    cnn_net_free(a), cnn_net_free(b);
}

/* Every line of a network text, written back by cnn_layer_text, parses to
 * the same layer: each option of every kind, at its default and not. */
TEST(every_layer_line_round_trips_through_its_registry_options)
{
    static const char *lines[] = {
        "conv 6 5x5",          "conv 8 3x5 stride 2x1 pad 1x2 nobias init 0.25",
        "conv 4 3x3 pad same", "maxpool 2x2",
        "avgpool 3x3 stride 2x2 ceil", "sumpool 2x3 stride 1x1",
        "maxpool 3x3 stride 2x2 pad 1x1", "maxpool 2x2 pad 0,0,1,1 ceil",
        "avgpool 3x2 stride 1x1 pad 2,1,0,1 ceil countpad", "avgpool 2x2 pad 1x1 countpad",
        "avgpool 2x2 countpad", "sumpool 3x3 stride 2x1 pad 1x2",
        "sumpool 3x3 pad 0,2,1,0", "conv 4 3x3 pad 1,0,2,1",
        "conv 2 2x4 stride 2x1 pad 0,0,1,3 nobias",
        "dense 10",            "dense 7 nobias init 0.125",
        "dropout 0.5",         "leaky",
        "leaky 0.25",          "relu",
        "sigmoid",             "tanh",
        "flatten",
    };
    for (size_t t = 0; t < sizeof lines / sizeof lines[0]; t++) {
        char text[128], back[128];
        snprintf(text, sizeof text, "input 12x12x2\n%s\ndense 2\nsoftmax\n", lines[t]);
        cnn_error err;
        cnn_net *net = cnn_net_parse(text, NULL, &err);
        CHECK(net != NULL);
        cnn_layer_spec l = cnn_net_layer(net, 0);
        CHECK(cnn_layer_text(&l, 0, back, sizeof back) == (int)strlen(lines[t]));
        if (strcmp(back, lines[t]) != 0)
            printf("  wrote '%s' for '%s'\n", back, lines[t]);
        CHECK(strcmp(back, lines[t]) == 0 || (l.same && strstr(back, "pad same")));
        cnn_net_free(net);
    }
}

/* A padding given as four equal to two is written as two: one padding,
 * one spec, one text.  A later pad replaces an earlier one whole. */
TEST(pads_equal_on_both_sides_are_written_the_short_way)
{
    static const char *lines[][2] = {
        {"conv 4 3x3 pad 1,2,1,2", "conv 4 3x3 pad 1x2"},
        {"maxpool 3x3 pad 0,0,0,0", "maxpool 3x3"},
        {"conv 4 3x3 pad 0,0,1,1 pad 1", "conv 4 3x3 pad 1x1"},
        {"conv 4 3x3 pad same pad 0,1,0,0", "conv 4 3x3 pad 0,1,0,0"},
        {"conv 4 3x3 pad 2,0,1,1 pad same", "conv 4 3x3 pad same"},
    };
    for (size_t t = 0; t < sizeof lines / sizeof lines[0]; t++) {
        char text[128], back[128];
        snprintf(text, sizeof text, "input 12x12x2\n%s\n", lines[t][0]);
        cnn_error err;
        cnn_net *net = cnn_net_parse(text, NULL, &err);
        CHECK(net != NULL);
        cnn_layer_spec l = cnn_net_layer(net, 0);
        cnn_layer_text(&l, 0, back, sizeof back);
        if (strcmp(back, lines[t][1]) != 0)
            printf("  wrote '%s' for '%s'\n", back, lines[t][0]);
        CHECK(strcmp(back, lines[t][1]) == 0);
        CHECK(l.pad_asym == (strchr(lines[t][1], ',') != NULL));
        CHECK(l.ph_end == (l.pad_asym ? 0 : l.ph)); /* the end pads always filled in */
        cnn_net_free(net);
    }
}

/* A spec made by hand that sets ph and pw only is padded alike on both
 * sides, as before pad_asym; one that sets the four pads says so. */
TEST(a_hand_made_spec_with_ph_and_pw_alone_pads_both_sides)
{
    cnn_error err;
    cnn_net *net = cnn_net_new((cnn_shape){1, 7, 7}, &err);
    cnn_layer_spec conv = {.kind = CNN_CONV, .filters = 2, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                           .ph = 1, .pw = 2};
    cnn_layer_spec pool = {.kind = CNN_AVGPOOL, .kh = 3, .kw = 3, .ph = 1, .pw = 0,
                           .ph_end = 2, .pw_end = 1, .pad_asym = 1, .count_pad = 1};
    CHECK(cnn_net_add(net, &conv, &err) == 0 && cnn_net_add(net, &pool, &err) == 0);
    cnn_shape c = cnn_net_layer_shape(net, 0), p = cnn_net_layer_shape(net, 1);
    CHECK(c.h == 7 && c.w == 9);                 /* 7 + 1 + 1 - 3 + 1, 7 + 2 + 2 - 3 + 1 */
    CHECK(p.h == (7 + 1 + 2 - 3) / 3 + 1 && p.w == (9 + 0 + 1 - 3) / 3 + 1);
    cnn_layer_spec back = cnn_net_layer(net, 0);
    CHECK(back.ph_end == 1 && back.pw_end == 2 && !back.pad_asym);
    char s[96];
    cnn_layer_text(&pool, 1, s, sizeof s); /* brief: the pads and countpad shape the output */
    CHECK(strcmp(s, "avgpool 3x3 pad 1,0,2,1 countpad") == 0);
    cnn_net_free(net);
}

/* Every wrong padding is refused with what was wrong and where. */
TEST(a_bad_padding_is_refused_with_a_clear_message)
{
    static const char *cases[][3] = {
        {"maxpool 2 pad 2", "line 2", "pad 2x2 must be smaller than the 2x2 window"},
        {"avgpool 3x2 pad 0,1,0,2", "line 2", "pad 0,1,0,2 must be smaller than the 3x2 window"},
        {"sumpool 3 pad 1,1,3,1", "layer 1 (sumpool)", "smaller than the 3x3 window"},
        {"conv 2 3x3 pad 1,2,3", "line 2, column 16", "'1,2,3' gives 3 pads"},
        {"conv 2 3x3 pad 1,2,3,4,5", "column 16", "gives 5 pads: give 1 (P), 2 (PHxPW) or 4"},
        {"conv 2 3x3 pad -1", "column 16", "'-1' is not a padding such as 1, 1x2 or 0,1,1,0"},
        {"maxpool 3 pad 1,-1,0,0", "column 15", "'1,-1,0,0' is not a padding"},
        {"conv 2 3x3 pad 1x2x3", "column 16", "is not a padding"},
        {"conv 2 3x3 pad 1,,2,3", "column 16", "is not a padding"},
        {"conv 2 3x3 pad", "column 12", "pad needs a padding"},
        {"maxpool 2 pad same", "line 2", "'pad same' is for conv"},
        {"maxpool 2 countpad", "column 11", "unknown option 'countpad' for maxpool"},
        {"conv 2 3x3 pad 0,0,0,9999", "column 16", "each 0..1024"},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        char text[128];
        snprintf(text, sizeof text, "input 8x8\n%s\n", cases[t][0]);
        cnn_error err;
        CHECK(cnn_net_parse(text, NULL, &err) == NULL);
        if (!strstr(err.msg, cases[t][1]) || !strstr(err.msg, cases[t][2]))
            printf("  '%s': %s\n", cases[t][0], err.msg);
        CHECK(strstr(err.msg, cases[t][1]) && strstr(err.msg, cases[t][2]));
    }
}

TEST(a_brief_layer_text_keeps_the_shapes_and_leaves_out_the_learning)
{
    cnn_layer_spec conv = {.kind = CNN_CONV, .filters = 8, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                           .no_bias = 1, .init_std = 0.5f};
    char s[64];
    cnn_layer_text(&conv, 1, s, sizeof s);
    CHECK(strcmp(s, "conv 8 3x3 stride 2x2") == 0);
    cnn_layer_text(&conv, 0, s, sizeof s);
    CHECK(strcmp(s, "conv 8 3x3 stride 2x2 nobias init 0.5") == 0);
    /* too small a buffer: cut short, with the length it needed */
    CHECK(cnn_layer_text(&conv, 0, s, 8) == 37 && strcmp(s, "conv 8 ") == 0);
}

/* The registry has a line for every kind (the build checks the count), and
 * each layer kind its functions; its options are what the parser accepts,
 * and what its errors list. */
TEST(every_kind_has_its_registry_line_and_the_parser_lists_its_options)
{
    for (int k = 0; k < CNN_LAYER_KINDS; k++) {
        CHECK(layer_kinds[k].name != NULL);
        CHECK(k == CNN_INPUT ? kind_named(layer_kinds[k].name) < 0
                             : kind_named(layer_kinds[k].name) == k);
        const layer_ops *ops = layer_kinds[k].ops;
        CHECK(k == CNN_INPUT || (ops && ops->setup && ops->forward && ops->backward));
    }
    cnn_error err;
    CHECK(cnn_net_parse("input 8x8\nmaxpool 2 countpad\n", NULL, &err) == NULL);
    CHECK(strstr(err.msg, "(options: stride, pad, ceil)"));
    CHECK(cnn_net_parse("input 8x8\navgpool 2 count\n", NULL, &err) == NULL);
    CHECK(strstr(err.msg, "(options: stride, pad, ceil, countpad)"));
    CHECK(cnn_net_parse("input 8x8\nrelu 2\n", NULL, &err) == NULL);
    CHECK(strstr(err.msg, "it takes no options"));
    CHECK(cnn_net_parse("input 8x8\nbatchnorm\n", NULL, &err) == NULL);
    CHECK(strstr(err.msg, "conv, relu, leaky") && strstr(err.msg, "softmax or train"));
}

/* Labels above 255 train and are checked like any other: a 300-class
 * network learns to answer 299 and 258. */
TEST(a_network_of_300_classes_learns_labels_past_a_byte)
{
    cnn_error err;
    cnn_train_config cfg;
    cnn_net *net = cnn_net_parse("input 1x1x2; dense 300; softmax; train sgd lr 0.5", &cfg, &err);
    CHECK(net && cnn_net_init(net, 2, 1, &err) == CNN_OK);
    cnn_optim *opt = cnn_optim_new(net, &cfg, &err);
    float x[4] = {1, 0, 0, 1};
    cnn_label y[2] = {299, 258}, bad[2] = {299, 300};
    CHECK(cnn_train_batch(net, opt, x, bad, 2, 0, NULL, NULL, &err) == CNN_EINVAL);
    CHECK(strstr(err.msg, "label 300 of image 1"));
    int correct = 0;
    for (int step = 0; step < 200; step++)
        CHECK(cnn_train_batch(net, opt, x, y, 2, 0, NULL, &correct, &err) == CNN_OK);
    CHECK(cnn_forward(net, x, 2, 0, &err) == CNN_OK);
    CHECK(cnn_net_predicted(net, 0) == 299 && cnn_net_predicted(net, 1) == 258);
    cnn_optim_free(opt);
    cnn_net_free(net);
}

/* Parameters set before cnn_net_init are kept by it: no random draw
 * replaces them, and the network runs on them. */
TEST(parameters_set_before_init_are_kept_and_used)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse("input 1x1x2\ndense 2\nsoftmax\n", NULL, &err);
    float w[6] = {1, 0, 0, 1, 0.5f, -0.5f}; /* identity weights, then the biases */
    CHECK(cnn_net_set_params(net, w, 5, &err) == CNN_EINVAL && strstr(err.msg, "has 6"));
    CHECK(cnn_net_set_params(net, w, 6, &err) == CNN_OK);
    CHECK(cnn_net_init(net, 1, 99, &err) == CNN_OK);
    CHECK(memcmp(cnn_net_params(net), w, sizeof w) == 0);
    float x[2] = {1.0f, 2.0f}; /* scores 1.5 and 1.5: an even split */
    CHECK(cnn_forward(net, x, 1, 0, &err) == CNN_OK);
    CHECK_NEAR(cnn_net_output(net)[0], 0.5, 1e-7);
    w[4] = 1.5f; /* after init too */
    CHECK(cnn_net_set_params(net, w, 6, &err) == CNN_OK);
    CHECK(cnn_forward(net, x, 1, 0, &err) == CNN_OK);
    CHECK(cnn_net_output(net)[0] > 0.7f);
    cnn_net_free(net);
}

/* Backward writes gradients only: every activation of the forward, fused
 * and in place ones too, reads the same after it. */
TEST(backward_leaves_the_outputs_of_the_forward_as_they_were)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse(SMALL, NULL, &err);
    CHECK(net && cnn_net_init(net, 9, 3, &err) == CNN_OK);
    float x[9 * 72];
    fill(x, 9 * 72, 5);
    cnn_label labels[9] = {0, 1, 2, 0, 1, 2, 0, 1, 2};
    CHECK(cnn_forward(net, x, 9, 1, &err) == CNN_OK);
    float *before[8] = {0};
    for (int i = 0; i < cnn_net_layers(net); i++)
        if (cnn_net_activation(net, i)) {
            size_t bytes = sizeof(float) * 9 * cnn_shape_size(cnn_net_layer_shape(net, i));
            before[i] = malloc(bytes);
            memcpy(before[i], cnn_net_activation(net, i), bytes);
        }
    CHECK(cnn_backward(net, labels, 9, &err) == CNN_OK);
    int same = 1;
    for (int i = 0; i < cnn_net_layers(net); i++) {
        if (before[i])
            same &= memcmp(before[i], cnn_net_activation(net, i),
                           sizeof(float) * 9 * cnn_shape_size(cnn_net_layer_shape(net, i))) == 0;
        free(before[i]);
    }
    CHECK(same);
    cnn_net_free(net);
}

/* The per-layer profile times every layer, both ways, and refuses what it
 * cannot run; it leaves the parameters alone. */
TEST(the_profile_times_every_layer_and_refuses_bad_input)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse(SMALL, NULL, &err);
    cnn_layer_time t[7];
    float x[4 * 72];
    fill(x, 4 * 72, 2);
    cnn_label labels[4] = {0, 1, 2, 1}, bad[4] = {0, 1, 3, 1};
    CHECK(cnn_net_profile(net, x, labels, 4, 0.01, t, &err) == CNN_EINVAL); /* no init */
    CHECK(cnn_net_init(net, 4, 1, &err) == CNN_OK);
    size_t np = cnn_net_param_count(net);
    float *before = malloc(sizeof(float) * np);
    memcpy(before, cnn_net_params(net), sizeof(float) * np);
    CHECK(cnn_net_profile(net, x, bad, 4, 0.01, t, &err) == CNN_EINVAL && strstr(err.msg, "3"));
    CHECK(cnn_net_profile(net, x, labels, 4, 0.01, t, &err) == CNN_OK);
    for (int i = 0; i < 7; i++)
        CHECK(t[i].forward_us > 0 && t[i].backward_us > 0);
    CHECK(cnn_net_profile(net, x, NULL, 1, 0.01, t, &err) == CNN_OK && t[0].backward_us == 0);
    CHECK(memcmp(before, cnn_net_params(net), sizeof(float) * np) == 0);
    free(before);
    cnn_net_free(net);
}

/* The network's answer is its most probable class, the first of equals. */
TEST(the_predicted_class_is_the_most_probable_and_the_first_of_a_tie)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse("input 1x1x3\nsoftmax\n", NULL, &err);
    CHECK(net && cnn_net_init(net, 3, 1, &err) == CNN_OK);
    float x[9] = {1, 3, 2, /* */ 2, 2, 1, /* */ -1, -5, 4};
    CHECK(cnn_forward(net, x, 3, 0, &err) == CNN_OK);
    CHECK(cnn_net_predicted(net, 0) == 1 && cnn_net_predicted(net, 1) == 0 &&
          cnn_net_predicted(net, 2) == 2);
    cnn_net_free(net);
}

/* ---- the whole backward pass ------------------------------------------- */

/* cnn_check_gradients on a whole network (conv, relu, max-pool, dense,
 * tanh, dropout, softmax), every parameter and input, and the checker
 * itself catching a gradient that is off. */
TEST(network_gradients_match_finite_differences_of_the_loss)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse("input 6x6x2 mean 0 std 1; conv 3 3x3 pad 1; relu; maxpool 2;"
                                 " dense 5; tanh; dropout 0.3; dense 3; softmax", NULL, &err);
    CHECK(net && cnn_net_init(net, 3, 5, &err) == 0);
    cnn_net_want_input_grad(net, 1);
    float x[3 * 72];
    fill(x, 3 * 72, 9);
    cnn_label labels[3] = {0, 2, 1};
    uint64_t steps = cnn_net_training_steps(net);
    size_t np = cnn_net_param_count(net);
    float *before = malloc(sizeof(float) * np);
    memcpy(before, cnn_net_params(net), sizeof(float) * np);
    double worst = cnn_check_gradients(net, x, labels, 3, 0, 1, &err);
    if (!(worst >= 0 && worst < 2e-2)) /* 3.6e-3 when written */
        printf("  worst relative error %g\n", worst);
    CHECK(worst >= 0 && worst < 2e-2);
    CHECK(memcmp(before, cnn_net_params(net), sizeof(float) * np) == 0);
    CHECK(cnn_net_training_steps(net) == steps);
    /* the comparison itself: one gradient 20% off is caught */
    float *grads = malloc(sizeof(float) * np);
    memcpy(grads, cnn_net_grads(net), sizeof(float) * np);
    CHECK(check_against(net, x, labels, 3, 0, 1, steps, grads, NULL) < 2e-2);
    grads[np - 5] *= 1.2f;
    CHECK(check_against(net, x, labels, 3, 0, 1, steps, grads, NULL) > 5e-2);
    CHECK(cnn_check_gradients(net, x, labels, 4, 10, 1, &err) < 0 && strstr(err.msg, "batch"));
    free(before), free(grads);
    cnn_net_free(net);
}

/* A network that is only a softmax: the input gradient is the loss's own,
 * (p - onehot) / n, written by the backward pass (it used to be left as it was). */
TEST(softmax_alone_gives_the_loss_gradient_as_the_input_gradient)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse("input 1x1x3; softmax", NULL, &err);
    CHECK(net && cnn_net_init(net, 2, 1, &err) == 0);
    cnn_net_want_input_grad(net, 1);
    float x[6] = {0, 0, 0, 1, 2, 3};
    cnn_label labels[2] = {1, 2};
    CHECK(cnn_forward(net, x, 2, 0, &err) == 0);
    float *g = (float *)cnn_net_input_grad(net);
    for (int i = 0; i < 6; i++)
        g[i] = 1e9f; /* whatever was there before must go */
    CHECK(cnn_backward(net, labels, 2, &err) == 0);
    const float *p = cnn_net_output(net);
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(cnn_net_input_grad(net)[i], (p[i] - (i == 1 || i == 5)) / 2, 1e-7);
    CHECK_NEAR(cnn_net_input_grad(net)[0], (1.0 / 3) / 2, 1e-7);
    cnn_net_free(net);
}

static int fusion_changes_no_bit(const char *spec)
{
    cnn_error err;
    float x[4 * 162], out[2][4 * 3], dx[2][4 * 162], *grads[2];
    int same = 1;
    fill(x, 4 * 162, 3);
    cnn_label labels[4] = {0, 1, 2, 1};
    for (int keep = 0; keep < 2; keep++) {
        cnn_net *net = cnn_net_parse(spec, NULL, &err);
        if (!net)
            return 0;
        cnn_net_keep_activations(net, keep);
        cnn_net_want_input_grad(net, 1);
        if (cnn_net_init(net, 4, 7, &err) || cnn_forward(net, x, 4, 1, &err) ||
            cnn_backward(net, labels, 4, &err))
            return 0;
        memcpy(out[keep], cnn_net_output(net), sizeof out[keep]);
        memcpy(dx[keep], cnn_net_input_grad(net), sizeof dx[keep]);
        size_t np = cnn_net_param_count(net);
        grads[keep] = malloc(sizeof(float) * np);
        memcpy(grads[keep], cnn_net_grads(net), sizeof(float) * np);
        if (keep) {
            same &= memcmp(grads[0], grads[1], sizeof(float) * np) == 0;
            free(grads[0]), free(grads[1]);
        }
        cnn_net_free(net);
    }
    return same && memcmp(out[0], out[1], sizeof out[0]) == 0 &&
           memcmp(dx[0], dx[1], sizeof dx[0]) == 0;
}

/* A ReLU after a convolution is fused into it, and so is a 2x2 max-pool
 * after that (or right after the convolution), unless every activation is
 * kept; both ways give the same bits, forward and backward, for stride-1 and
 * strided convolutions, for a ReLU alone, ReLU + pool and pool alone. */
TEST(fused_conv_relu_pool_equals_the_layers_run_apart)
{
    static const char *specs[] = {
        "input 9x9x2\nconv 4 3x3 pad 1\nrelu\nconv 3 3x3 stride 2\nrelu\ndense 3\nsoftmax\n",
        "input 9x9x2\nconv 4 3x3 pad 1\nrelu\nmaxpool 2\nconv 3 3x3 stride 2 pad 1\nrelu\n"
        "maxpool 2\ndense 3\nsoftmax\n",
        "input 9x9x2\nconv 4 2x2\nrelu\nmaxpool 2\nconv 3 1x1\nrelu\nmaxpool 2 ceil\n"
        "dense 3\nsoftmax\n",
        "input 9x9x2\nconv 4 3x3 nobias\nmaxpool 2\nconv 3 3x3 stride 2 pad 1\nmaxpool 2\n"
        "tanh\ndense 3\nsoftmax\n",
        /* padded 2x2 max-pools are not fused: 8x8 padded at the top and left
         * makes 4x4 windows that fit, but start a row and a column above */
        "input 9x9x2\nconv 4 2x2\nrelu\nmaxpool 2 pad 1,1,0,0\nconv 3 3x3 pad 0,1,1,0\n"
        "relu\nmaxpool 2 pad 1x1\ndense 3\nsoftmax\n",
    };
    for (size_t t = 0; t < sizeof specs / sizeof specs[0]; t++)
        CHECK(fusion_changes_no_bit(specs[t]));
}

/* A 2x2 stride-2 max-pool padded at the top and left fits its 8x8 input in
 * 4x4 whole windows, as an unpadded one does, but each starts a row and a
 * column above: it is no conv's epilogue, and its maxima are of the pixels
 * its windows cover. */
TEST(a_padded_2x2_maxpool_is_not_fused_and_pools_its_own_windows)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse("input 9x9x2; conv 4 2x2; relu; maxpool 2 pad 1,1,0,0; dense 2; "
                                 "softmax", NULL, &err);
    CHECK(net && cnn_net_init(net, 1, 5, &err) == 0);
    float x[162];
    fill(x, 162, 9);
    CHECK(cnn_forward(net, x, 1, 0, &err) == 0);
    const float *relu = cnn_net_activation(net, 1), *pool = cnn_net_activation(net, 2);
    CHECK(relu != NULL && pool != NULL); /* a fused pool leaves the ReLU's output NULL */
    for (int c = 0; c < 4; c++)
        for (int oy = 0; oy < 4; oy++)
            for (int ox = 0; ox < 4; ox++) {
                float m = -1.0f; /* below any ReLU's output */
                for (int y = 2 * oy - 1; y < 2 * oy + 1; y++)
                    for (int xx = 2 * ox - 1; xx < 2 * ox + 1; xx++)
                        if (y >= 0 && xx >= 0 && relu[(c * 8 + y) * 8 + xx] > m)
                            m = relu[(c * 8 + y) * 8 + xx];
                CHECK(pool[(c * 4 + oy) * 4 + ox] == m);
            }
    cnn_net_free(net);
}

/* The outputs of a fresh copy of a's network, with a's parameters, on x: no
 * cache of its own yet. */
static int fresh_forward(cnn_net *a, const char *spec, const float *x, int n, float *out,
                         size_t count)
{
    cnn_error err;
    cnn_net *b = cnn_net_parse(spec, NULL, &err);
    int ok = b && cnn_net_init(b, n, 1, &err) == 0 &&
             cnn_net_set_params(b, cnn_net_params(a), cnn_net_param_count(a), &err) == 0 &&
             cnn_forward(b, x, n, 0, &err) == 0;
    if (ok)
        memcpy(out, cnn_net_output(b), sizeof(float) * count);
    cnn_net_free(b);
    return ok;
}

/* Inference keeps a Winograd layer's transformed filters between calls; a
 * change of the weights by any road (here the caller's pointer, then a
 * training step) is seen, and the outputs stay those of a network that
 * never cached anything. */
TEST(inference_reuses_winograd_filters_until_the_weights_change)
{
    static const char *spec = "input 6x6x16\nconv 16 3x3 pad 1\nrelu\ndense 3\nsoftmax\n";
    cnn_error err;
    cnn_net *a = cnn_net_parse(spec, NULL, &err);
    CHECK(a && cnn_net_init(a, 4, 3, &err) == 0);
    CHECK(strcmp(cnn_net_layer_method(a, 0), "winograd") == 0);
    float x[4 * 576], first[12], again[12], fresh[12];
    fill(x, 4 * 576, 5);
    CHECK(cnn_forward(a, x, 4, 0, &err) == 0);
    memcpy(first, cnn_net_output(a), sizeof first);
    CHECK(cnn_forward(a, x, 4, 0, &err) == 0); /* from the cache */
    CHECK(!memcmp(cnn_net_output(a), first, sizeof first));
    CHECK(fresh_forward(a, spec, x, 4, fresh, 12) && !memcmp(fresh, first, sizeof first));
    float *w = cnn_net_params(a);
    for (int i = 0; i < 16 * 16 * 9; i++) /* the conv's weights come first */
        w[i] = -w[i];
    CHECK(cnn_forward(a, x, 4, 0, &err) == 0);
    memcpy(again, cnn_net_output(a), sizeof again);
    CHECK(memcmp(again, first, sizeof first));
    CHECK(fresh_forward(a, spec, x, 4, fresh, 12) && !memcmp(fresh, again, sizeof again));
    cnn_train_config cfg = cnn_train_defaults();
    cfg.lr = 0.5f, cfg.batch = 4;
    cnn_optim *opt = cnn_optim_new(a, &cfg, &err);
    cnn_label labels[4] = {0, 1, 2, 0};
    CHECK(opt && cnn_train_batch(a, opt, x, labels, 4, 0, NULL, NULL, &err) == 0);
    CHECK(cnn_forward(a, x, 4, 0, &err) == 0);
    CHECK(memcmp(cnn_net_output(a), again, sizeof again));
    CHECK(fresh_forward(a, spec, x, 4, fresh, 12) && !memcmp(fresh, cnn_net_output(a), 48));
    cnn_optim_free(opt);
    cnn_net_free(a);
}

/* ---- learning ---------------------------------------------------------- */

/* Two classes of 5x5 images: a bright row at a random height (0) or a bright
 * column (1).  Separable by a convolution, not by a fixed pixel. */
static void bars(int n, uint64_t seed, float *x, cnn_label *labels)
{
    cnn_rng r;
    cnn_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        int cls = i % 2, at = (int)(cnn_rng_next(&r) % 5);
        for (int p = 0; p < 25; p++) {
            int on = cls ? p % 5 == at : p / 5 == at;
            x[i * 25 + p] = on ? 1.0f : -0.2f * (float)cnn_rng_uniform(&r);
        }
        labels[i] = (cnn_label)cls;
    }
}

static const char *BARS = "input 5x5\nconv 4 3x3 pad 1\nrelu\nmaxpool 5\ndense 2\nsoftmax\n";

TEST(a_tiny_network_learns_a_separable_problem_to_100_percent)
{
    cnn_error err;
    cnn_train_config cfg;
    cnn_net *net = cnn_net_parse(BARS, &cfg, &err);
    CHECK(net && cnn_net_init(net, 8, 3, &err) == 0);
    cfg.optimizer = CNN_ADAM;
    cfg.lr = 0.02f;
    cnn_optim *opt = cnn_optim_new(net, &cfg, &err);
    float x[64 * 25];
    cnn_label y[64];
    bars(64, 11, x, y);
    for (int epoch = 0; epoch < 30; epoch++)
        for (int b = 0; b < 64; b += 8)
            CHECK(cnn_train_batch(net, opt, x + b * 25, y + b, 8, epoch, NULL, NULL, &err) == 0);
    float tx[8 * 25];
    cnn_label ty[8];
    int right = 0;
    for (int b = 0; b < 8; b++) { /* fresh images never seen in training */
        bars(8, 1000 + b, tx, ty);
        int c;
        cnn_forward(net, tx, 8, 0, &err);
        cnn_loss(net, ty, 8, &c);
        right += c;
    }
    CHECK(right == 64);
    cnn_optim_free(opt);
    cnn_net_free(net);
}

TEST(loss_falls_monotonically_on_a_fixed_batch_with_a_small_learning_rate)
{
    cnn_error err;
    cnn_train_config cfg;
    cnn_net *net = cnn_net_parse(SMALL, &cfg, &err);
    CHECK(net && cnn_net_init(net, 6, 4, &err) == 0);
    cfg.lr = 0.05f;
    cnn_optim *opt = cnn_optim_new(net, &cfg, &err);
    float x[6 * 72];
    fill(x, 6 * 72, 12);
    cnn_label y[6] = {0, 1, 2, 0, 1, 2};
    float last = INFINITY, loss;
    for (int step = 0; step < 50; step++) {
        CHECK(cnn_train_batch(net, opt, x, y, 6, 0, &loss, NULL, &err) == 0);
        CHECK(loss < last);
        last = loss;
    }
    cnn_optim_free(opt);
    cnn_net_free(net);
}

/* The parameters after 5 steps; apart: through cnn_forward, cnn_backward
 * and cnn_optim_step instead of the one-pass cnn_train_batch. */
static float *train_steps(const char *spec, int optimizer, int threads, uint64_t seed,
                          int batch, int apart, size_t *count)
{
    cnn_error err;
    cnn_train_config cfg;
    cnn_net *net = cnn_net_parse(spec, &cfg, &err);
    if (net)
        cnn_net_set_threads(net, threads); /* the net's own count, not OpenMP's */
    if (!net || cnn_net_init(net, batch, seed, &err))
        return NULL;
    cfg.optimizer = (cnn_optimizer)optimizer;
    cfg.weight_decay = 1e-4f;
    cnn_optim *opt = cnn_optim_new(net, &cfg, &err);
    cnn_shape in = cnn_net_input_shape(net);
    size_t per = cnn_shape_size(in);
    float *x = malloc(sizeof(float) * (size_t)batch * per);
    cnn_label y[64];
    for (int step = 0; step < 5; step++) {
        fill(x, batch * per, 50 + step);
        for (int i = 0; i < batch; i++)
            y[i] = (cnn_label)((i * 7 + step) % cnn_net_classes(net));
        if (!apart)
            cnn_train_batch(net, opt, x, y, batch, 0, NULL, NULL, &err);
        else if (!cnn_forward(net, x, batch, 1, &err) && !cnn_backward(net, y, batch, &err))
            cnn_optim_step(opt, net, 0);
    }
    *count = cnn_net_param_count(net);
    float *w = malloc(sizeof(float) * *count);
    memcpy(w, cnn_net_params(net), sizeof(float) * *count);
    free(x);
    cnn_optim_free(opt);
    cnn_net_free(net);
    return w;
}

static float *train_batches(const char *spec, int optimizer, int threads, uint64_t seed,
                            int batch, size_t *count)
{
    return train_steps(spec, optimizer, threads, seed, batch, 0, count);
}

static float *train_copy(const char *spec, int optimizer, int threads, uint64_t seed,
                         size_t *count)
{
    return train_batches(spec, optimizer, threads, seed, 16, count);
}

TEST(two_runs_with_one_seed_are_bit_identical_and_other_seeds_differ)
{
    size_t n1, n2, n3;
    float *a = train_copy(SMALL, CNN_ADAM, 2, 7, &n1), *b = train_copy(SMALL, CNN_ADAM, 2, 7, &n2);
    float *c = train_copy(SMALL, CNN_ADAM, 2, 8, &n3);
    CHECK(a && b && c && n1 == n2);
    CHECK(memcmp(a, b, sizeof(float) * n1) == 0);
    CHECK(memcmp(a, c, sizeof(float) * n1) != 0);
    free(a), free(b), free(c);
}

/* Two networks in one program, each on its own thread count. */
TEST(each_network_keeps_its_own_thread_count)
{
    cnn_error err;
    cnn_net *a = cnn_net_parse(SMALL, NULL, &err), *b = cnn_net_parse(SMALL, NULL, &err);
    CHECK(a && b);
    cnn_net_set_threads(a, 1);
    cnn_net_set_threads(b, 3);
    CHECK(cnn_net_init(a, 8, 1, &err) == 0 && cnn_net_init(b, 8, 1, &err) == 0);
#ifdef _OPENMP
    CHECK(cnn_net_threads(a) == 1 && cnn_net_threads(b) == 3);
#endif
    float x[8 * 72];
    fill(x, 8 * 72, 4);
    CHECK(cnn_forward(a, x, 8, 0, &err) == 0 && cnn_forward(b, x, 8, 0, &err) == 0);
    CHECK(!memcmp(cnn_net_output(a), cnn_net_output(b), sizeof(float) * 8 * 3));
    cnn_net_free(a);
    cnn_net_free(b);
}

TEST(training_is_bit_identical_for_any_number_of_threads)
{
    const char *specs[2] = {cnn_preset("lenet"),
                            "input 12x12x3\nconv 8 3x3\nrelu\ndropout 0.2\nconv 16 3x3 stride 2\n"
                            "relu\navgpool 2\ndense 7\nsoftmax\n"};
    for (int s = 0; s < 2; s++)
        for (int o = CNN_SGD; o <= CNN_ADAM; o++) {
            size_t n1, n2, n3;
            float *one = train_copy(specs[s], o, 1, 3, &n1);
            float *two = train_copy(specs[s], o, 2, 3, &n2);
            float *three = train_copy(specs[s], o, 3, 3, &n3);
            CHECK(one && two && three);
            CHECK(memcmp(one, two, sizeof(float) * n1) == 0);
            CHECK(memcmp(one, three, sizeof(float) * n1) == 0);
            free(one), free(two), free(three);
        }
}

/* Threads share a batch by whole gradient groups, or evenly when there are
 * more threads than groups; with batches that split unevenly, or that have
 * fewer images than threads, the bits must not move either.  The layers'
 * outputs differ in size, so two threads' gradients in flight would overlap
 * if one ran ahead into the other's part of a shared buffer. */
TEST(training_is_bit_identical_for_uneven_batches_and_more_threads_than_images)
{
    const char *spec = "input 12x12x3\nconv 8 3x3\nrelu\nmaxpool 2\nconv 6 3x3 pad 1\nrelu\n"
                       "dense 20\nrelu\ndropout 0.3\ndense 7\nsoftmax\n";
    const int batches[] = {2, 3, 5, 13};
    for (int b = 0; b < 4; b++) {
        size_t n1, nt;
        float *one = train_batches(spec, CNN_MOMENTUM, 1, 5, batches[b], &n1);
        CHECK(one);
        for (int threads = 2; threads <= 4; threads++) {
            float *more = train_batches(spec, CNN_MOMENTUM, threads, 5, batches[b], &nt);
            CHECK(more && nt == n1 && memcmp(one, more, sizeof(float) * n1) == 0);
            free(more);
        }
        free(one);
    }
}

/* cnn_train_batch updates each part of the parameters as soon as its
 * gradient is summed, in the pass's own parallel region: the same bits as
 * a forward, a backward and a separate optimiser step.  dense 200 has more
 * parameters than one thread updates alone (a batch of one image). */
TEST(the_one_pass_training_step_equals_forward_backward_and_step_apart)
{
    const char *spec = "input 16x16x3\nconv 4 3x3\nrelu\nmaxpool 2\ndense 200\nrelu\n"
                       "dense 5\nsoftmax\n";
    const int optimizers[] = {CNN_SGD, CNN_MOMENTUM, CNN_ADAM}, batches[] = {1, 5, 16};
    for (int o = 0; o < 3; o++)
        for (int b = 0; b < 3; b++)
            for (int threads = 1; threads <= 3; threads++) {
                size_t n1, n2;
                float *fused = train_steps(spec, optimizers[o], threads, 3, batches[b], 0, &n1);
                float *apart = train_steps(spec, optimizers[o], threads, 3, batches[b], 1, &n2);
                CHECK(fused && apart && n1 == n2);
                CHECK(fused && apart && memcmp(fused, apart, sizeof(float) * n1) == 0);
                free(fused), free(apart);
            }
}

/* How a batch is shared: every image of the process's groups once, in
 * contiguous runs in thread order, whole gradient groups while there are
 * no more threads than groups. */
TEST(image_share_covers_the_batch_in_whole_groups)
{
    for (int n = 1; n <= 70; n++)
        for (int ranks = 1; ranks <= GRAD_GROUPS; ranks *= 2)
            for (int rank = 0; rank < ranks; rank++)
                for (int threads = 1; threads <= 12; threads++) {
                    int g0 = GRAD_GROUPS * rank / ranks, g1 = GRAD_GROUPS * (rank + 1) / ranks;
                    int next = group_first(n, g0);
                    for (int t = 0; t < threads; t++) {
                        int first, last;
                        image_share(n, g0, g1, t, threads, &first, &last);
                        CHECK(first == next && last >= first);
                        next = last;
                        if (threads <= g1 - g0) { /* a group boundary */
                            int boundary = 0;
                            for (int g = g0; g <= g1; g++)
                                boundary |= group_first(n, g) == first;
                            CHECK(boundary);
                        }
                    }
                    CHECK(next == group_first(n, g1));
                }
}

/* The groups' tree: ((g0 + g1) + (g2 + g3)) + ((g4 + g5) + (g6 + g7)), an
 * absent group leaving its partner as it is; a team's halves and quarters
 * added along it give the same bits as the whole. */
TEST(group_tree_adds_in_the_fixed_pairwise_order)
{
    enum { N = 1000 };
    float *p = malloc(sizeof(float) * GRAD_GROUPS * N), out[N], half[2][N], want;
    cnn_rng rng;
    cnn_rng_seed(&rng, 5);
    for (int i = 0; i < GRAD_GROUPS * N; i++)
        p[i] = (cnn_rng_uniform(&rng) - 0.5f) * (float)(1 << (i % 20));
    for (unsigned mask = 1; mask < 256; mask++) {
        CHECK(group_tree(p, N, mask, 0, N, out));
        for (int i = 0; i < N; i++) {
            float v[GRAD_GROUPS];
            int has[GRAD_GROUPS];
            for (int g = 0; g < GRAD_GROUPS; g++)
                v[g] = p[g * N + i], has[g] = mask >> g & 1;
            for (int width = 1; width < GRAD_GROUPS; width *= 2) /* one level of pairs */
                for (int g = 0; g < GRAD_GROUPS; g += 2 * width) {
                    v[g] = has[g] && has[g + width] ? v[g] + v[g + width]
                           : has[g]                  ? v[g]
                                                     : v[g + width];
                    has[g] |= has[g + width];
                }
            want = v[0];
            CHECK(memcmp(&out[i], &want, sizeof want) == 0);
        }
        /* the two halves, then their sum */
        int l = group_tree(p, N, mask & 0x0F, 0, N, half[0]);
        int r = group_tree(p, N, mask & 0xF0, 0, N, half[1]);
        for (int i = 0; i < N; i++) {
            float sum = l && r ? half[0][i] + half[1][i] : l ? half[0][i] : half[1][i];
            CHECK(memcmp(&out[i], &sum, sizeof sum) == 0);
        }
    }
    CHECK(group_tree(p, N, 0, 0, N, out) == 0);
    free(p);
}

/* A caller that is itself inside a parallel region (here, one thread of
 * it) gets the same bits as one that is not. */
TEST(training_from_inside_a_parallel_region_changes_no_bit)
{
    size_t np;
    float *alone = train_copy(SMALL, CNN_MOMENTUM, 2, 9, &np), *inside = NULL;
#pragma omp parallel num_threads(2)
#pragma omp single
    {
        size_t n2;
        inside = train_copy(SMALL, CNN_MOMENTUM, 2, 9, &n2);
    }
    CHECK(alone && inside && memcmp(alone, inside, sizeof(float) * np) == 0);
    free(alone), free(inside);
}

TEST(he_init_is_reproducible_from_the_seed_alone)
{
    cnn_error err;
    cnn_net *a = cnn_net_parse(cnn_preset("convnet"), NULL, &err);
    cnn_net *b = cnn_net_parse(cnn_preset("convnet"), NULL, &err);
    CHECK(cnn_net_init(a, 1, 42, &err) == 0 && cnn_net_init(b, 64, 42, &err) == 0);
    CHECK(memcmp(cnn_net_params(a), cnn_net_params(b),
                 sizeof(float) * cnn_net_param_count(a)) == 0);
    /* He uniform bound for the first conv: sqrt(6 / 9) */
    const float *w = cnn_net_layer_weights(a, 0);
    float max = 0;
    for (int i = 0; i < 288; i++)
        max = fabsf(w[i]) > max ? fabsf(w[i]) : max;
    CHECK(max <= sqrtf(6.0f / 9.0f) && max > 0.7f);
    cnn_net_free(a), cnn_net_free(b);
}

/* ---- optimisers -------------------------------------------------------- */

TEST(optimisers_take_the_documented_first_steps)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse("input 1x1\ndense 2 nobias\nsoftmax\n", NULL, &err);
    CHECK(net && cnn_net_init(net, 1, 1, &err) == 0);
    float *w = cnn_net_params(net), *g = cnn_net_grads(net);
    cnn_train_config cfg = cnn_train_defaults();
    cfg.lr = 0.1f;
    /* SGD: w - lr g */
    w[0] = 1, g[0] = 0.5f, w[1] = 0, g[1] = 0;
    cnn_optim *opt = cnn_optim_new(net, &cfg, &err);
    cnn_optim_step(opt, net, 0);
    CHECK_NEAR(w[0], 0.95, 1e-7);
    cnn_optim_free(opt);
    /* momentum 0.9: v = 0.5, then 0.9*0.5 + 0.5 = 0.95 */
    cfg.optimizer = CNN_MOMENTUM;
    opt = cnn_optim_new(net, &cfg, &err);
    w[0] = 1;
    cnn_optim_step(opt, net, 0);
    cnn_optim_step(opt, net, 0);
    CHECK_NEAR(w[0], 1 - 0.1 * 0.5 - 0.1 * 0.95, 1e-6);
    cnn_optim_free(opt);
    /* Adam's first step is lr * sign(g) */
    cfg.optimizer = CNN_ADAM;
    opt = cnn_optim_new(net, &cfg, &err);
    w[0] = 1;
    cnn_optim_step(opt, net, 0);
    CHECK_NEAR(w[0], 0.9, 1e-6);
    cnn_optim_free(opt);
    /* weight decay 0.5 adds 0.5 w to the gradient */
    cfg.optimizer = CNN_SGD;
    cfg.weight_decay = 0.5f;
    opt = cnn_optim_new(net, &cfg, &err);
    w[0] = 1, g[0] = 0;
    cnn_optim_step(opt, net, 0);
    CHECK_NEAR(w[0], 0.95, 1e-7);
    cnn_optim_free(opt);
    cnn_net_free(net);
}

TEST(learning_rate_schedules)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse("input 1x1\ndense 2\nsoftmax\n", NULL, &err);
    cnn_net_init(net, 1, 1, &err);
    cnn_train_config cfg = cnn_train_defaults();
    cfg.lr = 1.0f;
    cfg.schedule = CNN_STEP;
    cfg.step_epochs = 2;
    cfg.gamma = 0.5f;
    cnn_optim *opt = cnn_optim_new(net, &cfg, &err);
    CHECK(cnn_optim_lr(opt, 0) == 1.0f && cnn_optim_lr(opt, 1) == 1.0f);
    CHECK(cnn_optim_lr(opt, 2) == 0.5f && cnn_optim_lr(opt, 5) == 0.25f);
    cnn_optim_free(opt);
    cfg.schedule = CNN_COSINE;
    cfg.epochs = 4;
    opt = cnn_optim_new(net, &cfg, &err);
    CHECK_NEAR(cnn_optim_lr(opt, 0), 1.0, 1e-6);
    CHECK_NEAR(cnn_optim_lr(opt, 2), 0.5, 1e-6);
    cnn_optim_free(opt);
    cfg.lr = -1;
    CHECK(cnn_optim_new(net, &cfg, &err) == NULL);
    cnn_net_free(net);
}

TEST(a_diverging_step_is_refused_and_leaves_weights_and_gradients_alone)
{
    cnn_error err;
    cnn_train_config cfg;
    cnn_net *net = cnn_net_parse("input 2x2\ndense 3\nsoftmax\n", &cfg, &err);
    cnn_net_init(net, 2, 1, &err);
    cnn_optim *opt = cnn_optim_new(net, &cfg, &err);
    float x[8] = {1, 2, 3, 4, 5, NAN, 7, 8};
    cnn_label y[2] = {0, 1};
    size_t np = cnn_net_param_count(net);
    float before[15], grads[15];
    memcpy(before, cnn_net_params(net), sizeof(float) * np);
    for (size_t i = 0; i < np; i++)
        cnn_net_grads(net)[i] = grads[i] = (float)i;
    CHECK(cnn_train_batch(net, opt, x, y, 2, 0, NULL, NULL, &err) == CNN_ENUMERIC);
    CHECK(strstr(err.msg, "diverged"));
    CHECK(memcmp(before, cnn_net_params(net), sizeof(float) * np) == 0);
    CHECK(memcmp(grads, cnn_net_grads(net), sizeof(float) * np) == 0);
    CHECK(cnn_optim_steps(opt) == 0);
    cnn_optim_free(opt);
    cnn_net_free(net);
}

/* A label that is not one of the network's classes is refused before
 * anything runs: by a batch, and by an epoch or an evaluation of a dataset
 * made by hand (whose labels training converts inside the step). */
TEST(a_label_outside_the_classes_is_refused_and_changes_nothing)
{
    cnn_error err;
    cnn_train_config cfg;
    cnn_net *net = cnn_net_parse("input 2x2\ndense 3\nsoftmax\n", &cfg, &err);
    CHECK(net && cnn_net_init(net, 4, 1, &err) == CNN_OK);
    cnn_optim *opt = cnn_optim_new(net, &cfg, &err);
    size_t np = cnn_net_param_count(net);
    float before[15];
    memcpy(before, cnn_net_params(net), sizeof(float) * np);
    uint8_t pixels[16] = {0, 9, 200, 255, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    cnn_label labels[4] = {0, 1, 2, 7};
    float x[16] = {0};
    CHECK(cnn_train_batch(net, opt, x, labels, 4, 0, NULL, NULL, &err) == CNN_EINVAL);
    CHECK(strstr(err.msg, "label 7 of image 3"));
    cnn_dataset d = {.n = 4, .c = 1, .h = 2, .w = 2, .classes = 3, .pixels = pixels,
                     .labels = labels};
    cnn_metrics m;
    CHECK(cnn_train_epoch(net, opt, &d, 0, 2, 1, NULL, NULL, &m, &err) == CNN_EINVAL);
    CHECK(strstr(err.msg, "label 7 of image 3"));
    CHECK(cnn_evaluate(net, &d, &m, NULL, &err) == CNN_EINVAL);
    CHECK(memcmp(before, cnn_net_params(net), sizeof(float) * np) == 0);
    CHECK(cnn_optim_steps(opt) == 0);
    labels[3] = 2; /* and with every label a class, the epoch runs */
    CHECK(cnn_train_epoch(net, opt, &d, 0, 2, 1, NULL, NULL, &m, &err) == CNN_OK);
    CHECK(cnn_optim_steps(opt) == 2 && memcmp(before, cnn_net_params(net), sizeof(float) * np));
    cnn_optim_free(opt);
    cnn_net_free(net);
}

TEST(running_before_init_or_over_the_batch_is_an_error)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse(SMALL, NULL, &err);
    float x[72 * 3] = {0};
    CHECK(cnn_forward(net, x, 1, 0, &err) == CNN_EINVAL);
    cnn_net_init(net, 2, 1, &err);
    CHECK(cnn_forward(net, x, 3, 0, &err) == CNN_EINVAL && strstr(err.msg, "1..2"));
    CHECK(cnn_forward(net, x, 2, 0, &err) == 0);
    cnn_label bad[2] = {0, 9};
    CHECK(cnn_backward(net, bad, 2, &err) == CNN_EINVAL && strstr(err.msg, "label 9"));
    cnn_net_free(net);
}

/* ---- model files ------------------------------------------------------- */

static char *temp_path(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/cnn-test-%d-%s", (int)getpid(), name);
    return path;
}

TEST(a_saved_model_loads_with_the_same_outputs_and_metadata)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse(cnn_preset("lenet"), NULL, &err);
    cnn_net_init(net, 2, 77, &err);
    cnn_model_meta meta = {.epochs = 3, .accuracy = 0.987f, .seed = 77};
    strcpy(meta.dataset, "mnist");
    meta.train = cnn_train_defaults();
    char *path = temp_path("model.cnn");
    CHECK(cnn_model_save(path, net, &meta, NULL, &err) == 0);
    cnn_model_meta got;
    cnn_net *back = cnn_model_load(path, &got, NULL, NULL, NULL, &err);
    CHECK(back != NULL);
    CHECK(got.epochs == 3 && got.accuracy == 0.987f && strcmp(got.dataset, "mnist") == 0);
    CHECK(strcmp(got.version, CNN_VERSION) == 0);
    CHECK(cnn_net_param_count(back) == cnn_net_param_count(net));
    CHECK(memcmp(cnn_net_params(back), cnn_net_params(net),
                 sizeof(float) * cnn_net_param_count(net)) == 0);
    float x[784];
    fill(x, 784, 3);
    cnn_forward(net, x, 1, 0, &err);
    cnn_forward(back, x, 1, 0, &err);
    CHECK(memcmp(cnn_net_output(net), cnn_net_output(back), 40) == 0);
    CHECK(got.class_names == NULL); /* none were given */
    unlink(path);
    cnn_net_free(net), cnn_net_free(back);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *p = malloc(*len);
    if (fread(p, 1, *len, f) != *len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

TEST(a_damaged_model_file_says_what_is_wrong)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse(SMALL, NULL, &err);
    cnn_net_init(net, 1, 1, &err);
    char *path = temp_path("damaged.cnn");
    CHECK(cnn_model_save(path, net, NULL, NULL, &err) == 0);
    size_t len;
    uint8_t *bytes = slurp(path, &len);
    CHECK(bytes);
    CHECK(cnn_model_parse(bytes, len / 2, NULL, NULL, NULL, NULL, &err) == NULL);
    CHECK(strstr(err.msg, "truncated"));
    bytes[len / 2] ^= 0x40;
    CHECK(cnn_model_parse(bytes, len, NULL, NULL, NULL, NULL, &err) == NULL);
    CHECK(strstr(err.msg, "checksum"));
    bytes[len / 2] ^= 0x40;
    bytes[8] = 9;
    CHECK(cnn_model_parse(bytes, len, NULL, NULL, NULL, NULL, &err) == NULL);
    CHECK(strstr(err.msg, "version 9"));
    bytes[0] = 'X';
    CHECK(cnn_model_parse(bytes, len, NULL, NULL, NULL, NULL, &err) == NULL);
    CHECK(strstr(err.msg, "not a cnn model"));
    CHECK(cnn_model_load("/nonexistent/model.cnn", NULL, NULL, NULL, NULL, &err) == NULL);
    CHECK(strstr(err.msg, "/nonexistent/model.cnn") && err.status == CNN_EIO);
    free(bytes);
    unlink(path);
    cnn_net_free(net);
}

TEST(saving_into_a_missing_folder_fails_and_keeps_the_old_file)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse(SMALL, NULL, &err);
    cnn_net_init(net, 1, 1, &err);
    CHECK(cnn_model_save("/nonexistent-dir/m.cnn", net, NULL, NULL, &err) == CNN_EIO);
    CHECK(strstr(err.msg, "/nonexistent-dir/m.cnn"));
    cnn_net_free(net);
}

TEST(a_checkpoint_carries_the_optimiser_state)
{
    cnn_error err;
    cnn_train_config cfg;
    cnn_net *net = cnn_net_parse(SMALL, &cfg, &err);
    cnn_net_init(net, 2, 1, &err);
    cfg.optimizer = CNN_ADAM;
    cnn_optim *opt = cnn_optim_new(net, &cfg, &err);
    float x[144];
    fill(x, 144, 2);
    cnn_label y[2] = {0, 1};
    cnn_train_batch(net, opt, x, y, 2, 0, NULL, NULL, &err);
    char *path = temp_path("ckpt.cnn");
    CHECK(cnn_model_save(path, net, NULL, opt, &err) == 0);
    float *state = NULL;
    size_t count = 0;
    int64_t steps = 0;
    cnn_net *back = cnn_model_load(path, NULL, &state, &count, &steps, &err);
    CHECK(back && state);
    size_t want;
    float *have = cnn_optim_state(opt, &want);
    CHECK(count == want && steps == 1);
    CHECK(memcmp(state, have, sizeof(float) * count) == 0);
    free(state);
    unlink(path);
    cnn_optim_free(opt);
    cnn_net_free(net), cnn_net_free(back);
}
