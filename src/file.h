/* Whole files in and out (file.c). */
#ifndef CNN_FILE_H
#define CNN_FILE_H

#include "cnn.h"

/* Writes n bytes to path atomically: a temporary file in the same folder,
 * fsync, rename over path, fsync of the folder.  A crash leaves the old
 * file or the new one, never half of one. */
int file_write_atomic(const char *path, const uint8_t *p, size_t n, cnn_error *err);
/* The bytes of a regular file of at most limit bytes (*len of them; free()
 * them), or NULL with err filled. */
uint8_t *file_read_all(const char *path, size_t limit, size_t *len, cnn_error *err);
/* The CRC-32 of n bytes (the one of zlib, gzip and PNG: polynomial
 * 0xEDB88320, reflected, starting and ending inverted), computed here so
 * that model files need no zlib (the WebAssembly build has none). */
uint32_t file_crc32(const uint8_t *p, size_t n);

#endif
