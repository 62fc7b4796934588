/* Writes the seed corpora for the fuzz targets: small valid inputs of every
 * kind each parser accepts, made here so that no binary is committed.
 *   make_corpus DIR   ->  DIR/idx, DIR/image, DIR/spec, DIR/model */
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include "cnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static const char *root;

static void put(const char *kind, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, kind);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", root, kind, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "make_corpus: cannot write %s\n", path);
        exit(1);
    }
}

static size_t gzip(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    return len;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* One fuzz_idx input: flags, images length, images, labels. */
static void idx_seed(const char *name, int flags, const uint8_t *img, size_t ni, const uint8_t *lab,
                     size_t nl)
{
    uint8_t buf[8192];
    buf[0] = (uint8_t)flags, buf[1] = (uint8_t)ni, buf[2] = (uint8_t)(ni >> 8);
    memcpy(buf + 3, img, ni);
    memcpy(buf + 3 + ni, lab, nl);
    put("idx", name, buf, 3 + ni + nl);
}

static void idx_seeds(void)
{
    int n = 3, h = 4, w = 5;
    uint8_t img[16 + 60], lab[8 + 3];
    be32(img, 0x803), be32(img + 4, (uint32_t)n), be32(img + 8, (uint32_t)h), be32(img + 12, (uint32_t)w);
    for (int i = 0; i < n * h * w; i++)
        img[16 + i] = (uint8_t)(i * 37);
    be32(lab, 0x801), be32(lab + 4, (uint32_t)n);
    lab[8] = 0, lab[9] = 2, lab[10] = 1;
    idx_seed("plain", 0, img, sizeof img, lab, sizeof lab);
    idx_seed("plain-limit2", 2 << 2, img, sizeof img, lab, sizeof lab);
    idx_seed("gzip-here", 3, img, sizeof img, lab, sizeof lab);
    uint8_t gi[512], gl[512];
    size_t ngi = gzip(img, sizeof img, gi, sizeof gi), ngl = gzip(lab, sizeof lab, gl, sizeof gl);
    idx_seed("gzip-files", 0, gi, ngi, gl, ngl);
    idx_seed("gzip-images", 0, gi, ngi, lab, sizeof lab);
    idx_seed("swapped", 0, lab, sizeof lab, img, sizeof img);
}

static void image_seeds(void)
{
    enum { W = 7, H = 5 };
    uint8_t px[W * H * 4];
    for (int i = 0; i < W * H * 4; i++)
        px[i] = (uint8_t)(i * 29 + 3);
    static const char *names[] = {"", "gray", "graya", "rgb", "rgba"};
    char name[64], path[1024];
    for (int comp = 1; comp <= 4; comp++) {
        /* stb writes to files: write, then copy in with the request byte. */
        const char *fmt[] = {"png", "bmp", "jpg"};
        for (int f = 0; f < 3; f++) {
            snprintf(path, sizeof path, "%s/tmp.%s", root, fmt[f]);
            int ok = f == 0   ? stbi_write_png(path, W, H, comp, px, W * comp)
                     : f == 1 ? stbi_write_bmp(path, W, H, comp, px)
                              : stbi_write_jpg(path, W, H, comp, px, 80);
            if (!ok)
                continue;
            FILE *in = fopen(path, "rb");
            uint8_t buf[65536];
            size_t n = fread(buf + 1, 1, sizeof buf - 1, in);
            fclose(in);
            remove(path);
            for (int req = 0; req < 2; req++) {
                buf[0] = req ? (uint8_t)(27 << 2 | 1) : (uint8_t)(13 << 2 | 2);
                snprintf(name, sizeof name, "%s-%s-%d", names[comp], fmt[f], req);
                put("image", name, buf, n + 1);
            }
        }
    }
    uint8_t pgm[64 + W * H * 3];
    int n = snprintf((char *)pgm + 1, 64, "P5\n# seed\n%d %d\n255\n", W, H) + 1;
    memcpy(pgm + n, px, W * H);
    pgm[0] = 9 << 2;
    put("image", "gray-pgm", pgm, (size_t)n + W * H);
    n = snprintf((char *)pgm + 1, 64, "P6\n%d %d\n255\n", W, H) + 1;
    memcpy(pgm + n, px, W * H * 3);
    pgm[0] = 9 << 2 | 1;
    put("image", "rgb-ppm", pgm, (size_t)n + W * H * 3);
}

static const char *specs[] = {
    "input 8x8x1\nconv 2 3x3 stride 2 pad 1 nobias init 0.1\nleaky 0.2\navgpool 2 ceil\n"
    "dropout 0.5\nflatten\ndense 3 init 0.5\nsoftmax\ntrain adam lr 0.001 batch 4 epochs 2\n",
    "input 6x7x3 mean 0.5 std 0.25; conv 4 3x3 pad same; tanh; sumpool 2x3 stride 1; sigmoid; "
    "maxpool 2 stride 1x2; dense 5 nobias; relu; dense 2; softmax",
    "input 5\ndense 4\nsoftmax # comment\ntrain momentum 0.9 lr 0.1 decay 0.0001 schedule step "
    "step 2 gamma 0.5\n",
    "input 9x9\nconv 1 9x9\nsoftmax\ntrain sgd schedule cosine\n",
    "input 7x8x2; conv 3 3x3 pad 1,0,2,1; relu; maxpool 3 stride 2 pad 1 ceil; "
    "avgpool 2 pad 0,1,1,0 countpad; sumpool 2x3 pad 1x2; dense 2; softmax",
};

static void spec_seeds(void)
{
    const char *presets[] = {"seed", "lenet", "convnet", "xo"};
    for (int i = 0; i < 4; i++)
        put("spec", presets[i], cnn_preset(presets[i]), strlen(cnn_preset(presets[i])));
    char name[32];
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        snprintf(name, sizeof name, "hand-%zu", i);
        put("spec", name, specs[i], strlen(specs[i]));
    }
}

static void model_seed(const char *name, const char *spec, int checkpoint)
{
    cnn_error err;
    cnn_train_config cfg;
    cnn_net *net = cnn_net_parse(spec, &cfg, &err);
    if (!net || cnn_net_init(net, 2, 1, &err)) {
        fprintf(stderr, "make_corpus: %s\n", err.msg);
        exit(1);
    }
    cnn_optim *opt = checkpoint ? cnn_optim_new(net, &cfg, &err) : NULL;
    cnn_model_meta meta;
    memset(&meta, 0, sizeof meta);
    strcpy(meta.dataset, "seed");
    meta.epochs = 2;
    meta.accuracy = 0.5f;
    meta.train = cfg;
    meta.class_names = (char[]){"a\nb\nc"};
    meta.history_count = 2;
    meta.history[1].train_loss = 1.0f;
    char path[1024];
    snprintf(path, sizeof path, "%s/tmp.cnn", root);
    if (cnn_model_save(path, net, &meta, opt, &err)) {
        fprintf(stderr, "make_corpus: %s\n", err.msg);
        exit(1);
    }
    FILE *f = fopen(path, "rb");
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    remove(path);
    put("model", name, buf, n);
    cnn_optim_free(opt);
    cnn_net_free(net);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus DIR\n");
        return 2;
    }
    root = argv[1];
    mkdir(root, 0755);
    idx_seeds();
    image_seeds();
    spec_seeds();
    model_seed("small", specs[0], 0);
    model_seed("small-ckpt", specs[0], 1);
    model_seed("pools-ckpt", specs[1], 1);
    model_seed("dense", specs[2], 0);
    model_seed("xo-ckpt", cnn_preset("xo"), 1);
    return 0;
}
