/* SPDX-License-Identifier: MIT */
#pragma once

/* Minimal assertions: print file:line and the failed expression, then abort
 * the test program (meson counts it as failed). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ASSERT(x)                                                                        \
        do {                                                                             \
                if (!(x)) {                                                              \
                        fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #x); \
                        abort();                                                         \
                }                                                                        \
        } while (0)

#define ASSERT_STREQ(a, b)                                                               \
        do {                                                                             \
                const char *_a = (a), *_b = (b);                                         \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                 \
                        fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,  \
                                _a ? _a : "(null)", _b ? _b : "(null)");                 \
                        abort();                                                         \
                }                                                                        \
        } while (0)

#define ASSERT_CONTAINS(haystack, needle)                                                \
        do {                                                                             \
                const char *_h = (haystack), *_n = (needle);                             \
                if (!_h || !strstr(_h, _n)) {                                            \
                        fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n",        \
                                __FILE__, __LINE__, _h ? _h : "(null)", _n);             \
                        abort();                                                         \
                }                                                                        \
        } while (0)
