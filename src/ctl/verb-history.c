/* SPDX-License-Identifier: MIT */
/* history NAME [--json]: one line per run, from the run records (record.h),
 * and the trend line that `status NAME` ends with. */
#include <inttypes.h>
#include <time.h>

#include "ctl.h"
#include "format-util.h"
#include "json-util.h"
#include "log.h"
#include "record.h"

#define TREND_RUNS 12

static uint64_t duration_of(const RunRecord *r) {
        return r->end_usec > r->start_usec ? r->end_usec - r->start_usec : 0;
}

static const char *local_time(char buf[static 32], uint64_t usec) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        if (!localtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, 32, "@%" PRIu64, usec / USEC_PER_SEC);
        return buf;
}

static void print_line(const RunRecord *r) {
        char when[32], read[FORMAT_BYTES_MAX], size[FORMAT_BYTES_MAX], dur[FORMAT_DURATION_MAX];

        printf("%s  %-9s  %-4s  %8" PRIu64 " files  %10s read  %10s  %8s",
               local_time(when, r->start_usec), run_result_to_string(r->result), r->kind ?: "-", r->files,
               format_bytes(read, r->bytes_read), r->archive ? format_bytes(size, r->archive_bytes) : "-",
               format_duration(dur, duration_of(r)));
        if (r->result == RUN_FAILED && r->error)
                printf("  %s", r->error);
        else if (r->shrunk)
                printf("  shrunk: %s", r->shrunk);
        putchar('\n');
}

static void print_json_one(const RunRecord *r) {
        printf("{\"start_usec\":%" PRIu64 ",\"end_usec\":%" PRIu64 ",\"result\":", r->start_usec, r->end_usec);
        json_put_string(stdout, run_result_to_string(r->result));
        printf(",\"exit_status\":%d,\"kind\":", r->exit_status);
        json_put_string(stdout, r->kind);
        printf(",\"archive\":");
        json_put_string(stdout, r->archive);
        printf(",\"files\":%" PRIu64 ",\"bytes_read\":%" PRIu64 ",\"archive_bytes\":%" PRIu64
               ",\"duration_usec\":%" PRIu64 ",\"warnings\":%" PRIu64 ",\"pruned\":%" PRIu64 ",\"error\":",
               r->files, r->bytes_read, r->archive_bytes, duration_of(r), r->warnings, r->pruned);
        json_put_string(stdout, r->error);
        printf(",\"shrunk\":");
        json_put_string(stdout, r->shrunk);
        putchar('}');
}

int verb_history(int argc, char **argv) {
        const char *name = argv[1];
        RunRecord *list = NULL;
        size_t n = 0;
        int r;

        if (!schedule_name_is_valid(name)) {
                log_error("Invalid schedule name '%s'.", name);
                return EXIT_USAGE;
        }
        r = record_list(paths.state_dir, name, RECORDS_KEPT, &list, &n);
        if (r < 0) {
                log_error_errno(r, "Cannot read the run records of %s in %s: %m", name, paths.state_dir);
                return EXIT_FAILED;
        }
        if (arg.json) {
                putchar('[');
                for (size_t i = 0; i < n; i++) {
                        if (i > 0)
                                putchar(',');
                        print_json_one(&list[i]);
                }
                puts("]");
        } else if (n == 0)
                printf("No runs of %s recorded in %s.\n", name, paths.state_dir);
        else
                for (size_t i = 0; i < n; i++)
                        print_line(&list[i]);
        record_list_free(list, n);
        return EXIT_OK;
}

/* ▁▂▃▄▅▆▇█ for V between the smallest and the largest of the series */
static void put_sparkline(const uint64_t *v, size_t n) {
        static const char *const bars[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
        uint64_t lo = UINT64_MAX, hi = 0;
        for (size_t i = 0; i < n; i++)
                lo = MIN(lo, v[i]), hi = MAX(hi, v[i]);
        for (size_t i = 0; i < n; i++)
                fputs(bars[hi > lo ? (size_t) ((long double) (v[i] - lo) * 7 / (long double) (hi - lo) + 0.5L) : 3], stdout);
}

void ctl_print_trend(const char *name) {
        uint64_t sizes[TREND_RUNS], durations[TREND_RUNS];
        RunRecord *list = NULL;
        size_t n = 0, k = 0;

        if (record_list(paths.state_dir, name, 4 * TREND_RUNS, &list, &n) < 0 || n == 0) {
                record_list_free(list, n);
                return;
        }
        /* the runs that wrote an archive, newest TREND_RUNS, oldest first */
        size_t first = n;
        while (first > 0 && k < TREND_RUNS)
                if (list[--first].archive)
                        k++;
        k = 0;
        for (size_t i = first; i < n; i++)
                if (list[i].archive) {
                        sizes[k] = list[i].archive_bytes;
                        durations[k] = duration_of(&list[i]);
                        k++;
                }
        if (k > 0) {
                char size[FORMAT_BYTES_MAX], dur[FORMAT_DURATION_MAX];
                printf("    Trend (last %zu runs): ", k);
                if (isatty(STDOUT_FILENO)) {
                        fputs("size ", stdout);
                        put_sparkline(sizes, k);
                        printf(" %s, duration ", format_bytes(size, sizes[k - 1]));
                        put_sparkline(durations, k);
                        printf(" %s\n", format_duration(dur, durations[k - 1]));
                } else {
                        fputs("sizes", stdout);
                        for (size_t i = 0; i < k; i++)
                                printf(" %s", format_bytes(size, sizes[i]));
                        fputs("; durations", stdout);
                        for (size_t i = 0; i < k; i++)
                                printf(" %s", format_duration(dur, durations[i]));
                        putchar('\n');
                }
        }
        record_list_free(list, n);
}
