/* The bytes of one data file, plain or gzip (inflated as they are read),
 * from memory or from the file itself, read as far as they are needed:
 * what the IDX reader (idx.c) takes its headers and items from.  The same
 * reads, and the same checks on them, whichever the bytes come from. */
#ifndef CNN_DATA_SOURCE_H
#define CNN_DATA_SOURCE_H

#include "cnn.h"

#include <stdio.h>
#include <zlib.h>

typedef struct {
    const char *name;  /* for messages */
    const uint8_t *p;  /* the input at hand: all of it, or a file's window */
    size_t len, pos;   /* p's length, and how much of it has been taken */
    FILE *f;           /* a file read as needed, into window; else NULL */
    uint8_t *window;   /* (or, for a file that is not a regular one, all of it) */
    uint64_t size;     /* the whole input's length (a file's: from fstat) */
    uint64_t before;   /* a file's bytes before the window */
    int gz, ended;
    z_stream zs;
    uint64_t total;    /* bytes delivered so far (decompressed) */
} source;

/* Bytes in memory (not copied: they must outlive the source). */
int source_memory(source *s, const char *name, const uint8_t *p, size_t len, cnn_error *err);
/* A file, refused if longer than max bytes.  A regular file is read as far
 * as the reads need; anything else (a pipe) is read whole first. */
int source_file(source *s, const char *path, size_t max, cnn_error *err);
void source_close(source *s);

/* Reads up to n bytes; *got < n means the data has ended. */
int source_read(source *s, uint8_t *dst, size_t n, size_t *got, cnn_error *err);
/* The input bytes not yet taken: a plain file's bytes left. */
uint64_t source_left(const source *s);
/* The last four bytes of the input (gzip's trailer ends with the inflated
 * length, ISIZE); -1 if it is shorter than a gzip header and trailer (18
 * bytes) or they cannot be read. */
int source_tail(const source *s, uint8_t tail[4]);

#endif
