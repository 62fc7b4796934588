/* A tiny test harness: TEST(name) { ... } registers itself; CHECK fails the
 * test with the file, line and expression; the runner prints
 * "N passed, N failed". */
#ifndef CNN_TEST_H
#define CNN_TEST_H

#include <math.h>
#include <stdio.h>

typedef void test_fn(int *failed);
void test_register(const char *name, test_fn *fn);

#define TEST(name)                                                        \
    static void name(int *failed_);                                       \
    __attribute__((constructor)) static void register_##name(void)        \
    {                                                                     \
        test_register(#name, name);                                       \
    }                                                                     \
    static void name(int *failed_)

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            *failed_ = 1;                                                    \
            return;                                                          \
        }                                                                    \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                       \
    do {                                                                            \
        double a_ = (a), b_ = (b);                                                  \
        if (!(fabs(a_ - b_) <= (tol))) {                                            \
            printf("  %s:%d: %s = %.9g, expected %.9g (tol %g)\n", __FILE__, __LINE__, \
                   #a, a_, b_, (double)(tol));                                      \
            *failed_ = 1;                                                           \
            return;                                                                 \
        }                                                                           \
    } while (0)

#endif
