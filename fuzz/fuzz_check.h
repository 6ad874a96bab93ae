// What the fuzz targets share: a check that aborts on a violated property. libFuzzer reports the
// abort as a crash and saves the input, like a sanitizer report.
#pragma once

#include <cstdio>
#include <cstdlib>

#define OB_FUZZ_CHECK(cond)                                                                   \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "%s:%d: fuzz property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
