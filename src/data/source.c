/* The bytes of a data file (source.h).  A regular file is read a window at
 * a time as the reads ask: cnn train --limit 20000 on Fashion-MNIST
 * inflates the first third of its 26 MB of gzip, which used to be read
 * whole first (about 15 ms in a fresh process, and 26 MB more resident
 * memory at the peak). */
#define ZLIB_CONST
#include "source.h"
#include "data.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZCHUNK ((size_t)1 << 30) /* zlib counts are 32-bit */
#define WINDOW ((size_t)1 << 18)

static int start_gzip(source *s, cnn_error *err)
{
    if (s->len >= 2 && s->p[0] == 0x1f && s->p[1] == 0x8b) {
        if (inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK) /* 16: gzip wrapper */
            return cnn_fail(err, CNN_ENOMEM, "%s: cannot start gzip decompression", s->name);
        s->gz = 1;
    }
    return CNN_OK;
}

int source_memory(source *s, const char *name, const uint8_t *p, size_t len, cnn_error *err)
{
    memset(s, 0, sizeof *s);
    s->name = name;
    s->p = p;
    s->len = len;
    s->size = len;
    return start_gzip(s, err);
}

/* A file's next window, once the last one is all taken (memory: nothing
 * more).  Never while zlib still holds input from the window. */
static int refill(source *s, cnn_error *err)
{
    if (!s->f || s->pos < s->len)
        return CNN_OK;
    s->before += s->len;
    size_t got = fread(s->window, 1, WINDOW, s->f);
    if (got < WINDOW && ferror(s->f))
        return cnn_fail(err, CNN_EIO, "%s: read error", s->name);
    s->p = s->window;
    s->len = got;
    s->pos = 0;
    return CNN_OK;
}

int source_file(source *s, const char *path, size_t max, cnn_error *err)
{
    memset(s, 0, sizeof *s);
    s->name = path;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cnn_fail(err, CNN_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) { /* a pipe: whole, then from memory */
        fclose(f);
        uint8_t *all;
        size_t n;
        int rc = data_read_file(path, max, &all, &n, err);
        if (rc)
            return rc;
        rc = source_memory(s, path, all, n, err);
        s->window = all; /* source_close frees it */
        return rc;
    }
    s->f = f;
    s->size = (uint64_t)st.st_size;
    if (s->size > max)
        return cnn_fail(err, CNN_EFORMAT, "%s: larger than the limit of %zu bytes", path, max);
    if (!(s->window = malloc(WINDOW)))
        return cnn_fail(err, CNN_ENOMEM, "%s: out of memory", path);
    int rc = refill(s, err);
    return rc ? rc : start_gzip(s, err);
}

void source_close(source *s)
{
    if (s->gz)
        inflateEnd(&s->zs);
    if (s->f)
        fclose(s->f);
    free(s->window);
    s->gz = 0;
    s->f = NULL;
    s->window = NULL;
}

uint64_t source_left(const source *s) { return s->size - (s->before + s->pos); }

int source_tail(const source *s, uint8_t tail[4])
{
    if (s->size < 18)
        return -1;
    if (!s->f) {
        memcpy(tail, s->p + s->len - 4, 4);
        return 0;
    }
    return pread(fileno(s->f), tail, 4, (off_t)(s->size - 4)) == 4 ? 0 : -1;
}

/* Plain bytes: from the window, or for a long read of a file straight into
 * dst. */
static int read_plain(source *s, uint8_t *dst, size_t n, size_t *got, cnn_error *err)
{
    size_t done = 0;
    while (done < n) {
        if (s->f && s->pos == s->len && n - done >= WINDOW) {
            size_t k = fread(dst + done, 1, n - done, s->f);
            if (k < n - done && ferror(s->f))
                return cnn_fail(err, CNN_EIO, "%s: read error", s->name);
            s->before += k;
            done += k;
            if (k == 0)
                break;
            continue;
        }
        int st = refill(s, err);
        if (st)
            return st;
        if (s->pos == s->len)
            break;
        size_t k = n - done < s->len - s->pos ? n - done : s->len - s->pos;
        memcpy(dst + done, s->p + s->pos, k);
        s->pos += k;
        done += k;
    }
    *got = done;
    return CNN_OK;
}

/* After the end of the gzip stream: nothing may follow it. */
static int nothing_after(source *s, cnn_error *err)
{
    int st = s->zs.avail_in ? CNN_OK : refill(s, err);
    if (!st && (s->zs.avail_in || s->pos < s->len))
        st = cnn_fail(err, CNN_EFORMAT, "%s: bytes after the end of the gzip stream", s->name);
    return st;
}

static int read_gzip(source *s, uint8_t *dst, size_t n, size_t *got, cnn_error *err)
{
    size_t done = 0;
    int st = CNN_OK;
    while (!st && done < n && !s->ended) {
        if (s->zs.avail_in == 0 && !(st = refill(s, err)) && s->pos < s->len) {
            size_t k = s->len - s->pos < ZCHUNK ? s->len - s->pos : ZCHUNK;
            s->zs.next_in = s->p + s->pos;
            s->zs.avail_in = (uInt)k;
            s->pos += k;
        }
        if (st)
            break;
        size_t want = n - done < ZCHUNK ? n - done : ZCHUNK;
        s->zs.next_out = dst + done;
        s->zs.avail_out = (uInt)want;
        int z = inflate(&s->zs, Z_NO_FLUSH);
        done += want - s->zs.avail_out;
        if (z == Z_STREAM_END) {
            s->ended = 1;
            st = nothing_after(s, err);
        } else if (z == Z_BUF_ERROR && s->zs.avail_in == 0 && s->pos == s->len) {
            st = cnn_fail(err, CNN_EFORMAT, "%s: the gzip stream is truncated", s->name);
        } else if (z == Z_MEM_ERROR) {
            st = cnn_fail(err, CNN_ENOMEM, "%s: out of memory while inflating", s->name);
        } else if (z != Z_OK) {
            st = cnn_fail(err, CNN_EFORMAT, "%s: corrupt gzip data (%s)", s->name,
                          s->zs.msg ? s->zs.msg : "inflate failed");
        }
    }
    *got = done;
    return st;
}

int source_read(source *s, uint8_t *dst, size_t n, size_t *got, cnn_error *err)
{
    int st = s->gz ? read_gzip(s, dst, n, got, err) : read_plain(s, dst, n, got, err);
    if (!st)
        s->total += *got;
    return st;
}
