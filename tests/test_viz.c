/* The pictures of the command-line tool (tools/viz.c): sizes of the PNGs, the
 * colour map's sign, the chart's data at the right pixels, and the numbers of
 * the X-or-O walkthrough checked against values computed by hand.
 *
 * The unit binary links only libcnn.a, so the drawing module is compiled into
 * this file; that also lets the tests use its layout constants. */
#include "../tools/viz.c" /* the layout constants too */
#include "test.h"

#include <png.h>
#include <stb_image.h>
#include <unistd.h>

/* The size a PNG's header announces, after a round trip through the encoder. */
static int png_size(const viz_image *im, int *w, int *h)
{
    int len, comp;
    unsigned char *png = viz_png_encode(im, &len);
    int ok = png && stbi_info_from_memory(png, len, w, h, &comp) && comp == 3;
    free(png);
    return ok;
}

static int same(viz_rgb a, viz_rgb b)
{
    return a.r == b.r && a.g == b.g && a.b == b.b;
}

/* ---- colour map -------------------------------------------------------- */

TEST(viz_diverging_is_white_at_zero_blue_below_red_above)
{
    CHECK(same(viz_diverging(0, 1), VIZ_WHITE));
    CHECK(same(viz_diverging(0, 123), VIZ_WHITE));
    viz_rgb neg = viz_diverging(-1, 1), pos = viz_diverging(1, 1);
    CHECK(neg.b > neg.r + 100);
    CHECK(pos.r > pos.b + 100);
    /* half way is lighter than the end, and beyond the scale is clamped */
    viz_rgb half = viz_diverging(-0.5f, 1);
    CHECK(half.r > neg.r && half.g > neg.g && half.b >= neg.b);
    CHECK(same(viz_diverging(-7, 1), neg) && same(viz_diverging(7, 1), pos));
    /* symmetric: the scale, not the sign, decides how strong a colour is */
    CHECK(same(viz_diverging(2, 4), viz_diverging(0.5f, 1)));
    CHECK(same(viz_diverging(NAN, 1), VIZ_GRAY));
}

/* ---- PNG --------------------------------------------------------------- */

/* libpng, strict where stb_image is lenient: it checks every chunk's CRC. */
static int png_decodes_to(const unsigned char *png, int len, const viz_image *im)
{
    png_image p;
    memset(&p, 0, sizeof p);
    p.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&p, png, (size_t)len))
        return 0;
    p.format = PNG_FORMAT_RGB;
    unsigned char *px = malloc(PNG_IMAGE_SIZE(p));
    int ok = px && (int)p.width == im->w && (int)p.height == im->h &&
             png_image_finish_read(&p, NULL, px, 0, NULL) &&
             !memcmp(px, im->px, (size_t)im->w * im->h * 3);
    png_image_free(&p);
    free(px);
    return ok;
}

TEST(viz_png_holds_every_pixel_and_valid_checksums)
{
    viz_image im = {0};
    CHECK(viz_image_init(&im, 37, 11, NULL) == CNN_OK);
    for (int i = 0; i < 37 * 11 * 3; i++)
        im.px[i] = (unsigned char)(i * 7 + i / 5);
    int len;
    unsigned char *png = viz_png_encode(&im, &len);
    CHECK(png && len > 8 && !memcmp(png, "\x89PNG\r\n\x1a\n", 8));
    CHECK(png_decodes_to(png, len, &im));
    png[len - 20] ^= 1; /* inside the compressed rows: the IDAT CRC no longer matches */
    CHECK(!png_decodes_to(png, len, &im));
    free(png);
    viz_image_free(&im);
}

/* ---- grids ------------------------------------------------------------- */

TEST(viz_grid_png_has_the_size_of_its_tiles)
{
    float maps[3 * 49] = {0};
    viz_image im = {0};
    CHECK(viz_grid(&im, "t", maps, 3, 7, 7, 0, NULL) == CNN_OK);
    /* 7x7 maps get 16-pixel cells: 3 tiles of 112 with 4-pixel gaps */
    CHECK(im.w == 2 * MARGIN + 3 * 112 + 2 * GAP);
    int top = MARGIN + 8 * TITLE + 8;
    CHECK(im.h == top + 112 + 10 + 30);
    int w, h;
    CHECK(png_size(&im, &w, &h) && w == im.w && h == im.h);
    viz_image_free(&im);
}

TEST(viz_grid_colours_negative_and_positive_values_apart)
{
    /* one 2x2 map: -3, 0, 0, +3 */
    float map[4] = {-3, 0, 0, 3};
    viz_image im = {0};
    CHECK(viz_grid(&im, "", map, 1, 2, 2, 0, NULL) == CNN_OK);
    int top = MARGIN + 8 * TITLE + 8, cell = 24; /* 112 / 2 capped at 24 */
    viz_rgb a = viz_pixel(&im, MARGIN + cell / 2, top + cell / 2);
    viz_rgb b = viz_pixel(&im, MARGIN + cell + cell / 2, top + cell / 2);
    viz_rgb d = viz_pixel(&im, MARGIN + cell + cell / 2, top + cell + cell / 2);
    CHECK(same(a, viz_diverging(-1, 1)));
    CHECK(same(b, VIZ_WHITE));
    CHECK(same(d, viz_diverging(1, 1)));
    viz_image_free(&im);
}

TEST(viz_grid_draws_a_vector_as_rows_of_16)
{
    float v[20];
    for (int i = 0; i < 20; i++)
        v[i] = (float)i;
    viz_image im = {0};
    CHECK(viz_grid(&im, "", v, 20, 1, 1, 0, NULL) == CNN_OK);
    int top = MARGIN + 8 * TITLE + 8;
    CHECK(im.h == top + 2 * 16 + 10 + 30); /* 2 rows of 16-pixel cells */
    /* value 17 is row 1, column 1 */
    CHECK(same(viz_pixel(&im, MARGIN + 16 + 8, top + 16 + 8), viz_diverging(17, 19)));
    viz_image_free(&im);
}

TEST(viz_filters_draw_one_row_per_filter_in_deeper_layers)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse("input 8x8x1\nconv 4 3x3\nrelu\nconv 2 3x3\n", NULL, &err);
    CHECK(net && cnn_net_init(net, 1, 1, &err) == CNN_OK);
    viz_image a = {0}, b = {0}, c = {0};
    CHECK(viz_filters(&a, net, 0, &err) == CNN_OK);
    CHECK(viz_filters(&b, net, 2, &err) == CNN_OK);
    CHECK(viz_filters(&c, net, 1, &err) == CNN_EINVAL); /* relu has no filters */
    int top = MARGIN + 8 * TITLE + 8, tile = 3 * 24;
    CHECK(a.h == top + tile + 10 + 30);           /* 4 filters in one row  */
    CHECK(b.h == top + 2 * tile + GAP + 10 + 30); /* 2 filters, 2 rows     */
    CHECK(b.w >= 2 * MARGIN + 4 * tile + 3 * GAP); /* 4 input channels each */
    viz_image_free(&a);
    viz_image_free(&b);
    cnn_net_free(net);
}

/* ---- charts ------------------------------------------------------------ */

static const cnn_epoch_record history[4] = {
    {2.0f, 0.40f, 1.2f, 0.60f, 1}, {1.0f, 0.70f, 0.8f, 0.75f, 1},
    {0.5f, 0.85f, 0.6f, 0.80f, 1}, {0.2f, 0.95f, 0.5f, 0.82f, 1},
};

TEST(viz_curves_axes_span_the_history)
{
    viz_axes loss, acc;
    viz_curves_layout(history, 4, &loss, &acc);
    CHECK(loss.x0 == 1 && loss.x1 == 4 && acc.x0 == 1 && acc.x1 == 4);
    CHECK(loss.y0 == 0 && loss.y1 >= 2.0 && loss.y1 < 3.0);
    CHECK(acc.y0 == 0 && acc.y1 == 100); /* 40% is too low to zoom in */
    CHECK(viz_axes_x(&loss, 1) == loss.left && viz_axes_x(&loss, 4) == loss.right);
    CHECK(viz_axes_y(&loss, 0) == loss.bottom && viz_axes_y(&loss, loss.y1) == loss.top);
    CHECK(acc.left > loss.right); /* two panels side by side */
}

TEST(viz_curves_plot_every_epoch_where_the_axes_say)
{
    viz_image im = {0};
    CHECK(viz_curves(&im, history, 4, NULL) == CNN_OK);
    int w, h;
    CHECK(png_size(&im, &w, &h) && w == 2 * PANEL_W && h == PANEL_H);
    viz_axes loss, acc;
    viz_curves_layout(history, 4, &loss, &acc);
    for (int e = 0; e < 4; e++) {
        const cnn_epoch_record *r = &history[e];
        CHECK(same(viz_pixel(&im, viz_axes_x(&loss, e + 1), viz_axes_y(&loss, r->train_loss)),
                   VIZ_TRAIN));
        CHECK(same(viz_pixel(&im, viz_axes_x(&loss, e + 1), viz_axes_y(&loss, r->test_loss)),
                   VIZ_TEST));
        CHECK(same(viz_pixel(&im, viz_axes_x(&acc, e + 1),
                             viz_axes_y(&acc, 100 * r->train_accuracy)),
                   VIZ_TRAIN));
        CHECK(same(viz_pixel(&im, viz_axes_x(&acc, e + 1),
                             viz_axes_y(&acc, 100 * r->test_accuracy)),
                   VIZ_TEST));
    }
    /* and nothing of either series where there is no data */
    viz_rgb c = viz_pixel(&im, viz_axes_x(&loss, 1) + 3, viz_axes_y(&loss, 0.1));
    CHECK(!same(c, VIZ_TRAIN) && !same(c, VIZ_TEST));
    viz_image_free(&im);
}

TEST(viz_curves_zoom_in_on_high_accuracy_and_handle_one_epoch)
{
    cnn_epoch_record one = {0.3f, 0.97f, 0.25f, 0.975f, 1};
    viz_axes loss, acc;
    viz_curves_layout(&one, 1, &loss, &acc);
    CHECK(acc.y0 == 90 && acc.y1 == 100);
    CHECK(loss.x0 == 1 && loss.x1 == 2); /* one epoch still has a width */
    char path[] = "/tmp/cnn-viz-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK(viz_curves_png(path, &one, 1, NULL) == CNN_OK);
    int w, h, comp;
    CHECK(stbi_info(path, &w, &h, &comp) && w == 2 * PANEL_W && h == PANEL_H);
    unlink(path);
}

/* ---- confusion, strips, text ------------------------------------------- */

TEST(viz_confusion_shades_cells_by_their_share_of_the_row)
{
    const int c[9] = {10, 0, 0, 5, 5, 0, 0, 0, 0};
    viz_image im = {0};
    CHECK(viz_confusion(&im, c, 3, NULL) == CNN_OK);
    int w, h;
    CHECK(png_size(&im, &w, &h) && w == im.w && h == im.h);
    int cell = 44, left = MARGIN + 36 + 6, top = MARGIN + 8 * TITLE + 8 + 14;
    /* corner pixels of cells, away from the digits */
    viz_rgb full = viz_pixel(&im, left + 2, top + 2);
    viz_rgb half = viz_pixel(&im, left + 2, top + cell + 2);
    viz_rgb none = viz_pixel(&im, left + cell + 2, top + 2);
    CHECK(same(none, VIZ_WHITE));
    CHECK(full.r < half.r && half.r < 255); /* darker = bigger share */
    CHECK(same(viz_pixel(&im, left + 2, top + 2 * cell + 2), VIZ_WHITE)); /* empty row */
    viz_image_free(&im);
}

TEST(viz_strip_puts_images_side_by_side)
{
    unsigned char px[2 * 28 * 28];
    for (int i = 0; i < 2 * 28 * 28; i++)
        px[i] = (unsigned char)(i < 784 ? 0 : 255);
    const char *caps[2] = {"true 1\npred 7\n99%", "x"};
    viz_image im = {0};
    CHECK(viz_strip(&im, px, 2, (cnn_shape){1, 28, 28}, caps, NULL) == CNN_OK);
    CHECK(im.w == MARGIN + 2 * (84 + 2 * GAP));
    CHECK(same(viz_pixel(&im, MARGIN + 40, MARGIN + 40), VIZ_BLACK));
    CHECK(same(viz_pixel(&im, MARGIN + 84 + 2 * GAP + 40, MARGIN + 40), VIZ_WHITE));
    viz_image_free(&im);
}

TEST(viz_text_draws_glyphs_of_6_by_8)
{
    viz_image im = {0};
    CHECK(viz_image_init(&im, 40, 20, NULL) == CNN_OK);
    CHECK(viz_text_width("AB", 1) == 12 && viz_text_width("AB", 2) == 24);
    CHECK(viz_text(&im, 1, 1, 1, VIZ_BLACK, "I") == 6);
    /* 'I' is a vertical bar in column 2 with serifs in rows 0 and 6 */
    CHECK(same(viz_pixel(&im, 1 + 2, 1 + 3), VIZ_BLACK));
    CHECK(same(viz_pixel(&im, 1 + 0, 1 + 3), VIZ_WHITE));
    CHECK(glyph('x') == glyph('X') && glyph('~') == glyph('?'));
    viz_image_free(&im);
}

/* ---- the X-or-O walkthrough -------------------------------------------- */

TEST(xo_layers_shrink_9_to_7_to_4_to_2)
{
    cnn_error err;
    cnn_net *net = cnn_xo_walkthrough(1, NULL, &err);
    CHECK(net);
    int sides[] = {7, 7, 4, 2};
    for (int i = 0; i < 4; i++) {
        cnn_shape s = cnn_net_layer_shape(net, i);
        CHECK(s.c == 3 && s.h == sides[i] && s.w == sides[i]);
    }
    CHECK(cnn_net_layer_shape(net, 4).c == 2);
    cnn_net_free(net);
}

TEST(xo_features_match_the_x_where_a_person_would_say)
{
    viz_xo r[3];
    float w[2][12];
    cnn_error err;
    CHECK(viz_xo_run(r, w, NULL, &err) == CNN_OK);
    const viz_xo *x = &r[0], *o = &r[1];
    /* the X's '\' stroke starts at (1,1): window rows 1-3, columns 1-3 */
    CHECK(x->match[0][1 * 7 + 1] == 1.0f);
    CHECK_NEAR(x->match[0][3 * 7 + 3], 5.0 / 9, 1e-6); /* 7 agree, 2 disagree */
    /* the top-left window holds the black border too: 7 of 9 pixels agree */
    CHECK_NEAR(x->match[0][0], 7.0 / 9, 1e-6);
    CHECK(x->match[1][3 * 7 + 3] == 1.0f); /* the crossing at the centre  */
    CHECK(x->match[2][1 * 7 + 5] == 1.0f); /* the '/' stroke from (1,7)   */
    /* window (0,1) of the X against '\': 4 agree, 5 disagree */
    CHECK_NEAR(x->match[0][1], -1.0 / 9, 1e-6);
    /* the O's top right arc is a '\' (rows 1-3, columns 5-7) */
    CHECK(o->match[0][1 * 7 + 5] == 1.0f);
}

TEST(xo_relu_and_ceil_pooling_follow_the_matches)
{
    viz_xo r[3];
    CHECK(viz_xo_run(r, NULL, NULL, NULL) == CNN_OK);
    for (int n = 0; n < 3; n++)
        for (int f = 0; f < 3; f++) {
            const viz_xo *v = &r[n];
            for (int i = 0; i < 49; i++)
                CHECK(v->relu[f][i] == (v->match[f][i] > 0 ? v->match[f][i] : 0));
            /* 4x4: window (py,px) covers rows 2py..2py+1 and columns
             * 2px..2px+1 of the 7x7 map, cut at the edge */
            for (int py = 0; py < 4; py++)
                for (int px = 0; px < 4; px++) {
                    float m = 0;
                    for (int y = 2 * py; y < 2 * py + 2 && y < 7; y++)
                        for (int x = 2 * px; x < 2 * px + 2 && x < 7; x++)
                            m = v->relu[f][y * 7 + x] > m ? v->relu[f][y * 7 + x] : m;
                    CHECK(v->pool1[f][py * 4 + px] == m);
                }
            CHECK(v->pool1[f][15] == v->relu[f][48]); /* the lone corner window */
            for (int i = 0; i < 4; i++) {
                int py = i / 2, px = i % 2;
                const float *p = v->pool1[f];
                const float *q = p + 2 * py * 4 + 2 * px; /* the window's top left */
                float m = fmaxf(fmaxf(q[0], q[1]), fmaxf(q[4], q[5]));
                CHECK(v->pool2[f][i] == m);
                CHECK(v->votes[f * 4 + i] == v->pool2[f][i]);
            }
        }
    /* the canonical X: each diagonal's own quarter pools to a perfect 1 */
    const float want[12] = {1, 5 / 9.f, 5 / 9.f, 1, 1, 5 / 9.f, 5 / 9.f, 5 / 9.f,
                            5 / 9.f, 1, 1, 5 / 9.f};
    for (int i = 0; i < 12; i++)
        CHECK_NEAR(r[0].votes[i], want[i], 1e-6);
}

TEST(xo_vote_picks_x_for_both_xs_and_o_for_the_o)
{
    viz_xo r[3];
    float w[2][12];
    CHECK(viz_xo_run(r, w, NULL, NULL) == CNN_OK);
    float sx = 0, so = 0;
    for (int i = 0; i < 12; i++)
        sx += w[0][i], so += w[1][i];
    CHECK_NEAR(sx, 1, 1e-5);
    CHECK_NEAR(so, 1, 1e-5);
    /* the vote is the weighted average of the 12 values */
    float x = 0;
    for (int i = 0; i < 12; i++)
        x += w[0][i] * r[0].votes[i];
    CHECK_NEAR(r[0].score[0], x, 1e-5);
    CHECK(r[0].score[0] > r[0].score[1]); /* X */
    CHECK(r[1].score[1] > r[1].score[0]); /* O */
    CHECK(r[2].score[0] > r[2].score[1]); /* the deformed X is still an X */
    CHECK_NEAR(r[0].prob[0] + r[0].prob[1], 1, 1e-6);
}
