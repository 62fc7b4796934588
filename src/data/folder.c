/* A folder of images, one sub-folder per class:  dir/cat/1.png, dir/dog/a.jpg.
 * Classes and files are sorted by name (strcmp), so labels and order do not
 * depend on the file system.  Hidden entries (".name") are skipped, and so
 * are files without an image extension (a README, Thumbs.db); a file with
 * an image extension that does not decode is an error naming it. */
#include "cnn.h"
#include "data.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_CLASSES CNN_MAX_CLASSES

typedef struct {
    char **v;
    int n, cap;
} names;

static void names_free(names *s)
{
    for (int i = 0; s->v && i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (p) {
        memcpy(p, a, la);
        p[la] = '/';
        memcpy(p + la + 1, b, lb + 1);
    }
    return p;
}

static int is_image_name(const char *name)
{
    static const char *ext[] = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".pnm"};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof ext / sizeof *ext; i++)
        if (!strcasecmp(dot, ext[i]))
            return 1;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names in dir of sub-folders (dirs = 1) or image files. */
static int list(const char *dir, int dirs, names *out, cnn_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return cnn_fail(err, CNN_EIO, "%s: %s", dir, strerror(errno));
    int st = CNN_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (e->d_name[0] == '.' || (!dirs && !is_image_name(e->d_name)))
            continue;
        char *path = join(dir, e->d_name);
        struct stat sb;
        if (!path) {
            st = cnn_fail(err, CNN_ENOMEM, "out of memory");
            break;
        }
        int keep = stat(path, &sb) == 0 && (dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode));
        free(path);
        if (!keep)
            continue;
        if (out->n == out->cap) {
            int cap = out->cap ? 2 * out->cap : 16;
            char **v = cap < (1 << 28) ? realloc(out->v, (size_t)cap * sizeof *v) : NULL;
            if (!v) {
                st = cnn_fail(err, CNN_ENOMEM, "%s: out of memory listing the folder", dir);
                break;
            }
            out->v = v;
            out->cap = cap;
        }
        if (!(out->v[out->n] = strdup(e->d_name)))
            st = cnn_fail(err, CNN_ENOMEM, "%s: out of memory listing the folder", dir);
        else
            out->n++;
    }
    closedir(d);
    if (!st && out->n > 1)
        qsort(out->v, (size_t)out->n, sizeof *out->v, by_name);
    return st;
}

int cnn_folder_load(const char *dir, int c, int h, int w, cnn_dataset *out, cnn_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!dir || !out || (c != 1 && c != 3) || h < 1 || w < 1)
        return cnn_fail(err, CNN_EINVAL, "cnn_folder_load: bad argument");
    names classes = {0};
    names *files = NULL;
    cnn_dataset d = {0};
    int st = list(dir, 1, &classes, err);
    if (!st && classes.n == 0)
        st = cnn_fail(err, CNN_EFORMAT,
                      "%s: no class folders (expected one sub-folder of images per class)", dir);
    if (!st && classes.n > MAX_CLASSES)
        st = cnn_fail(err, CNN_EFORMAT, "%s: %d class folders, more than %d", dir, classes.n,
                      MAX_CLASSES);
    if (!st && !(files = calloc((size_t)classes.n, sizeof *files)))
        st = cnn_fail(err, CNN_ENOMEM, "out of memory");
    size_t total = 0, per = (size_t)c * h * w;
    for (int i = 0; !st && i < classes.n; i++) {
        char *sub = join(dir, classes.v[i]);
        st = sub ? list(sub, 0, &files[i], err) : cnn_fail(err, CNN_ENOMEM, "out of memory");
        if (!st && files[i].n == 0)
            st = cnn_fail(err, CNN_EFORMAT,
                          "%s: no image files (.png .jpg .jpeg .bmp .pgm .ppm .pnm)", sub);
        free(sub);
        total += st ? 0 : (size_t)files[i].n;
    }
    if (!st && (total > INT32_MAX || total > SIZE_MAX / per))
        st = cnn_fail(err, CNN_EFORMAT, "%s: too many images (%zu)", dir, total);
    if (!st) {
        d.n = (int)total;
        d.c = c;
        d.h = h;
        d.w = w;
        d.classes = classes.n;
        d.pixels = malloc(total * per);
        d.labels = malloc(sizeof *d.labels * (total ? total : 1));
        if (!d.pixels || !d.labels)
            st = cnn_fail(err, CNN_ENOMEM, "out of memory for %zu images of %dx%dx%d", total, h,
                          w, c);
    }
    size_t k = 0;
    for (int i = 0; !st && i < classes.n; i++)
        for (int j = 0; !st && j < files[i].n; j++, k++) {
            char *sub = join(dir, classes.v[i]);
            char *path = sub ? join(sub, files[i].v[j]) : NULL;
            st = path ? cnn_image_load(path, c, h, w, 0, d.pixels + k * per, err)
                      : cnn_fail(err, CNN_ENOMEM, "out of memory");
            d.labels[k] = (cnn_label)i;
            free(sub);
            free(path);
        }
    for (int i = 0; files && i < classes.n; i++)
        names_free(&files[i]);
    free(files);
    if (!st) {
        /* The names move from the listing into the dataset. */
        d.class_names = classes.v;
        classes.v = NULL;
        classes.n = 0;
    }
    names_free(&classes);
    if (st) {
        cnn_dataset_free(&d);
        return st;
    }
    data_advise_huge(d.pixels, (size_t)d.n * per);
    *out = d;
    return CNN_OK;
}
