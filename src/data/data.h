/* Private to src/data: the one place that reads whole files into memory, so
 * every loader hands bytes to a parser that also works (and is fuzzed) on
 * memory. */
#ifndef CNN_DATA_DATA_H
#define CNN_DATA_DATA_H

#include "cnn.h"

/* Reads all of path into a malloc'ed buffer; a file longer than max bytes is
 * an error (CNN_EFORMAT), so a stray huge file cannot exhaust memory. */
int data_read_file(const char *path, size_t max, uint8_t **bytes, size_t *len,
                   cnn_error *err);

#endif
