/* Whole files in and out, for the model formats (model.c, onnx/): read
 * with a size limit checked before anything is allocated, written
 * atomically. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* Writes bytes to path atomically: temporary file, fsync, rename, fsync of
 * the folder so the rename itself is durable. */
int file_write_atomic(const char *path, const uint8_t *p, size_t n, cnn_error *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16), *dir = strdup(path);
    if (!tmp || !dir) {
        free(tmp), free(dir);
        return cnn_fail(err, CNN_ENOMEM, "out of memory");
    }
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp), free(dir);
        return cnn_fail(err, CNN_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    int rc = CNN_OK;
    if (write_all(fd, p, n) || fsync(fd)) {
        rc = cnn_fail(err, CNN_EIO, "%s: write failed: %s", path, strerror(errno));
        close(fd);
    } else if (close(fd)) {
        rc = cnn_fail(err, CNN_EIO, "%s: write failed: %s", path, strerror(errno));
    } else if (chmod(tmp, 0644), rename(tmp, path)) {
        rc = cnn_fail(err, CNN_EIO, "%s: cannot replace: %s", path, strerror(errno));
    }
    if (rc) {
        unlink(tmp);
    } else {
        int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    free(tmp), free(dir);
    return rc;
}

uint8_t *file_read_all(const char *path, size_t limit, size_t *len, cnn_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cnn_fail(err, CNN_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > limit) {
        fclose(f);
        cnn_fail(err, CNN_EIO, "%s: not a regular file of at most %zu MiB", path, limit >> 20);
        return NULL;
    }
    *len = (size_t)st.st_size;
    uint8_t *bytes = malloc(*len ? *len : 1);
    if (!bytes) {
        fclose(f);
        cnn_fail(err, CNN_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    size_t got = fread(bytes, 1, *len, f);
    fclose(f);
    if (got != *len) {
        free(bytes);
        cnn_fail(err, CNN_EIO, "%s: read error", path);
        return NULL;
    }
    return bytes;
}

uint32_t file_crc32(const uint8_t *p, size_t n)
{
    /* a byte at a time, from a table of the 256 bytes' remainders */
    uint32_t table[256];
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t r = b;
        for (int k = 0; k < 8; k++)
            r = r & 1 ? 0xEDB88320u ^ (r >> 1) : r >> 1;
        table[b] = r;
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}
