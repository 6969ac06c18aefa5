/* SPDX-License-Identifier: MIT */
/* The encrypted-stream reader on any bytes, with a fixed raw key (the seeds
 * are streams made with it, so mutations reach the chunks, not only the
 * header): it either returns plaintext and ends cleanly, or fails with a
 * message; it never reads out of bounds or returns more than a chunk. */
#include <string.h>

#include "encryption.h"
#include "fuzz.h"

/* the seeds in corpus/crypt-reader are archives alexandria-backup wrote
 * with this key as KeyFile= */
#define FUZZ_KEY "alexandria-key-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"

static CryptKeySource *key;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char *error = NULL;
        if (crypt_key_parse(FUZZ_KEY, strlen(FUZZ_KEY), &key, &error) < 0) {
                fprintf(stderr, "fuzz key: %s\n", error);
                abort();
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        int fd = fuzz_memfd(data, size);
        CryptReader *r = NULL;
        char *error = NULL;

        if (crypt_reader_new(key, fd, &r, &error) == 0) {
                uint64_t total = 0;
                for (;;) {
                        const void *buf = NULL;
                        ssize_t n = crypt_reader_read(r, &buf, &error);
                        if (n <= 0) {
                                fuzz_assert(n == 0 ? buf == NULL : error != NULL);
                                break;
                        }
                        /* touch every byte returned: ASan checks the buffer */
                        uint8_t x = 0;
                        for (ssize_t i = 0; i < n; i++)
                                x ^= ((const uint8_t *) buf)[i];
                        (void) x;
                        total += (uint64_t) n;
                        fuzz_assert(total <= size);
                }
                crypt_reader_free(r);
        } else
                fuzz_assert(error != NULL);
        free(error);
        close(fd);
        return 0;
}
