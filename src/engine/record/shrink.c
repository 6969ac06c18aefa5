/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>

#include "format-util.h"
#include "macro.h"
#include "shrink.h"

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n) {
        qsort(v, n, sizeof *v, compare_u64);
        return n % 2 ? v[n / 2] : v[n / 2 - 1] / 2 + v[n / 2] / 2 + (v[n / 2 - 1] % 2 + v[n / 2] % 2) / 2;
}

static bool counts(const RunRecord *r) {
        return r->result != RUN_FAILED && r->archive;
}

/* The median of what the last SHRINK_HISTORY counting records that name
 * SOURCE gave from it; 0 if none does. */
static uint64_t usual_of_source(const RunRecord *records, size_t n, const char *source) {
        uint64_t files[SHRINK_HISTORY];
        size_t k = 0, seen = 0;

        for (size_t i = n; i > 0 && seen < SHRINK_HISTORY; i--) {
                if (!counts(&records[i - 1]))
                        continue;
                seen++;
                STRV_FOREACH(line, records[i - 1].sources) {
                        uint64_t f;
                        const char *path;
                        if (record_source_parse(*line, &f, &path) >= 0 && streq(path, source)) {
                                files[k++] = f;
                                break;
                        }
                }
        }
        return k > 0 ? median(files, k) : 0;
}

void shrink_usual_done(RunUsual *u) {
        free(u->source_files_of);
        *u = (RunUsual) {};
}

int shrink_usual(const RunRecord *records, size_t n, char * const *sources, RunUsual *ret) {
        uint64_t files[SHRINK_HISTORY], bytes[SHRINK_HISTORY], source_files[SHRINK_HISTORY];
        size_t k = 0, known = 0, n_sources = strv_length(sources);
        uint64_t *of = n_sources > 0 ? calloc(n_sources, sizeof *of) : NULL;

        if (n_sources > 0 && !of)
                return -ENOMEM;
        for (size_t i = n; i > 0 && k < SHRINK_HISTORY; i--)
                if (counts(&records[i - 1])) {
                        /* the restore point, where it differs from what was stored (FullEvery=) */
                        bool point = records[i - 1].point_files > 0 || records[i - 1].point_bytes > 0;
                        files[k] = point ? records[i - 1].point_files : records[i - 1].files;
                        bytes[k] = point ? records[i - 1].point_bytes : records[i - 1].bytes_read;
                        if (records[i - 1].source_files != SOURCE_FILES_UNKNOWN)
                                source_files[known++] = records[i - 1].source_files;
                        k++;
                }
        for (size_t i = 0; i < n_sources; i++)
                of[i] = usual_of_source(records, n, sources[i]);
        *ret = (RunUsual) { .known = k > 0, .source_files_of = of, .n_sources = n_sources };
        if (k > 0) {
                ret->files = median(files, k);
                ret->bytes = median(bytes, k);
                /* records from before the key say nothing: 0, no emptied source */
                ret->source_files = known > 0 ? median(source_files, known) : 0;
        }
        return 0;
}

/* "48,210": counts people compare at a glance */
static const char *grouped(char buf[static 32], uint64_t v) {
        char digits[24];
        int n = snprintf(digits, sizeof digits, "%" PRIu64, v), o = 0;
        for (int i = 0; i < n; i++) {
                if (i > 0 && (n - i) % 3 == 0)
                        buf[o++] = ',';
                buf[o++] = digits[i];
        }
        buf[o] = 0;
        return buf;
}

static bool below(uint64_t now, uint64_t usual, unsigned percent) {
        /* now < usual * (100 - percent) / 100, without overflow */
        return (long double) now * 100 < (long double) usual * (100 - percent);
}

/* The first of SOURCES that gave nothing but directories, where it usually
 * gave files: one source of several emptied barely moves the totals. */
static ssize_t emptied_source(const RunUsual *usual, const RunPoint *point, char * const *sources) {
        for (size_t i = 0; i < point->n_sources && i < usual->n_sources && sources[i]; i++)
                if (point->source_files_of[i] == 0 && usual->source_files_of[i] > 0)
                        return (ssize_t) i;
        return -1;
}

int shrink_check(const RunUsual *usual, const RunPoint *point, char * const *sources, unsigned percent,
                 char **ret_message) {
        char f1[32], f2[32], f3[32], b1[FORMAT_BYTES_MAX], b2[FORMAT_BYTES_MAX];
        uint64_t files = point->files, bytes = point->bytes;
        _cleanup_free_ char *which = NULL;

        *ret_message = NULL;
        if (!usual->known)
                return 0;
        ssize_t source = emptied_source(usual, point, sources);
        /* a source of empty files reads no data even when it is whole */
        bool emptied = (bytes == 0 && usual->bytes > 0) || (point->source_files == 0 && usual->source_files > 0) ||
                       source >= 0;
        bool shrank = percent > 0 && (below(files, usual->files, percent) || below(bytes, usual->bytes, percent));
        if (!emptied && !shrank)
                return 0;
        if (source >= 0 && asprintf(&which, "; no files from %s, usually %s", sources[source],
                                    grouped(f3, usual->source_files_of[source])) < 0)
                return -ENOMEM;
        if (asprintf(ret_message, "%s files, %s read; usually %s files, %s%s",
                     grouped(f1, files), format_bytes(b1, bytes), grouped(f2, usual->files),
                     format_bytes(b2, usual->bytes), strempty(which)) < 0) {
                *ret_message = NULL;
                return -ENOMEM;
        }
        return 1;
}
