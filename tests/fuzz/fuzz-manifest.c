/* SPDX-License-Identifier: MIT */
/* The manifest parser on any bytes (verify and restore read it from the
 * archive, which anybody may have written). What parses is formatted and
 * parsed again to the same entries. */
#include <string.h>

#include "fuzz.h"
#include "manifest.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* exactly SIZE bytes on the heap, no terminator: ASan sees any read past them */
        char *text = malloc(size ?: 1);
        fuzz_assert(text);
        memcpy(text, data, size);

        Manifest m = {}, again = {};
        size_t line = 0;
        if (manifest_parse(text, size, &m, &line) == 0) {
                char *formatted = NULL;
                size_t len = 0;
                fuzz_assert(manifest_format(&m, &formatted, &len) == 0);
                fuzz_assert(manifest_parse(formatted, len, &again, NULL) == 0);
                fuzz_assert(again.n == m.n && again.positional == m.positional);
                for (size_t i = 0; i < m.n; i++) {
                        const ManifestEntry *a = &m.entries[i], *b = &again.entries[i];
                        fuzz_assert(a->type == b->type && a->size == b->size);
                        fuzz_assert(!a->path == m.positional && !b->path == m.positional);
                        fuzz_assert(m.positional || strcmp(a->path, b->path) == 0);
                        fuzz_assert((!a->target && !b->target) || (a->target && b->target && strcmp(a->target, b->target) == 0));
                        fuzz_assert(a->digest_len == b->digest_len && memcmp(a->digest, b->digest, a->digest_len) == 0);
                        fuzz_assert(a->has_mtime == b->has_mtime && a->mtime_nsec_only == b->mtime_nsec_only);
                        fuzz_assert(!a->has_mtime || (a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec));
                }
                free(formatted);
                manifest_done(&again);
                manifest_done(&m);
        } else
                fuzz_assert(line >= 1);
        free(text);
        return 0;
}
