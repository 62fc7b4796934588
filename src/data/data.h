/* Private to src/data (and training, which converts batches): reading
 * whole files into memory, so every loader hands bytes to a parser that
 * also works (and is fuzzed) on memory.  (IDX files are read as far as
 * they are needed instead, through source.h, into the same parser.) */
#ifndef CNN_DATA_DATA_H
#define CNN_DATA_DATA_H

#include "cnn.h"

/* Reads all of path into a malloc'ed buffer; a file longer than max bytes is
 * an error (CNN_EFORMAT), so a stray huge file cannot exhaust memory. */
int data_read_file(const char *path, size_t max, uint8_t **bytes, size_t *len,
                   cnn_error *err);

/* Asks the kernel to move the 2 MiB-aligned middle of a large buffer, once
 * filled, to huge pages (a copy of it, inside the kernel).  Training reads a dataset's
 * images in random order, a page or two each; with 4 KiB pages every image
 * was a TLB miss, which on a virtual machine cost LeNet-5 50 us of its
 * 1.2 ms batch (9 us with huge pages).  Only advice: nothing changes where
 * the kernel has no huge pages. */
void data_advise_huge(void *p, size_t bytes);

/* Images [from, to) of the batch that starts at `first` of the index (as
 * cnn_dataset_batch), on the calling thread: training converts each
 * thread's own images inside its parallel region. */
void dataset_convert(const cnn_dataset *d, const int *index, int first, int from, int to,
                     float mean, float std, float *x, cnn_label *labels);

#endif
