/* The 9x9 pictures of the classic X-or-O explanation (data/xo/README.md). */
#ifndef CNN_DATA_XO_H
#define CNN_DATA_XO_H

/* which: 'x' the canonical X, 'o' the canonical O, 'd' the deformed X.
 * out receives 81 values, row-major, +1 white and -1 black; any other
 * `which` gives all -1. */
void xo_canonical(char which, float out[81]);

#endif
