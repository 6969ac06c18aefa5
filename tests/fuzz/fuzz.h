/* SPDX-License-Identifier: MIT */
#pragma once

/* What every harness needs: libFuzzer's entry point, a crash that says
 * which property broke, and the input as a file (the code under test reads
 * archives and keys from descriptors). */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define fuzz_assert(expr)                                                               \
        do {                                                                            \
                if (!(expr)) {                                                          \
                        fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                        \
                }                                                                       \
        } while (0)

/* DATA in a new memfd, positioned at 0; the caller closes it. */
static inline int fuzz_memfd(const uint8_t *data, size_t size) {
        int fd = memfd_create("fuzz", MFD_CLOEXEC);
        fuzz_assert(fd >= 0);
        for (size_t done = 0; done < size;) {
                ssize_t n = write(fd, data + done, size - done);
                fuzz_assert(n > 0);
                done += (size_t) n;
        }
        fuzz_assert(lseek(fd, 0, SEEK_SET) == 0);
        return fd;
}
