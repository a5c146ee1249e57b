/* runtime.c -- facts about how this library was built. */
#include "common.h"

int cf_have_openmp(void) {
#ifdef CF_HAVE_OPENMP
    return 1;
#else
    return 0;
#endif
}
