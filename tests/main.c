/* Runs every registered test, or those whose name contains argv[1]. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_TESTS = 1024 };
static struct { const char *name; test_fn *fn; } tests[MAX_TESTS];
static int ntests;

void test_register(const char *name, test_fn *fn)
{
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1]))
            continue;
        int f = 0;
        tests[i].fn(&f);
        printf("%s %s\n", f ? "FAIL" : "ok  ", tests[i].name);
        fflush(stdout);
        if (f)
            failed++;
        else
            passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
