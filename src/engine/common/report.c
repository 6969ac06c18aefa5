/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>

#include "events.h"
#include "log.h"
#include "report.h"

#define PROGRESS_EVERY_BYTES (4 * 1024 * 1024)

void report_warning(RunReport *r, const char *path, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        r->stats.warnings++;
        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg)
                return;

        EventFields f = EVENT_FIELDS_INIT(r->schedule);
        f.path = path;
        (void) event_emit(EVENT_FILE_WARNING, &f, "%s", msg);
        if (r->cb && r->cb->warning)
                r->cb->warning(msg, r->cb->userdata);
        else if (!log_on_journal())
                fprintf(stderr, "warning: %s\n", msg);

        if (r->n_warnings < REPORT_WARNINGS_KEPT && strv_push(&r->warnings, TAKE_PTR(msg)) >= 0)
                r->n_warnings++;
}

static void progress(RunReport *r, const char *current) {
        r->bytes_at_last_progress = r->stats.bytes;
        if (r->cb && r->cb->progress)
                r->cb->progress(&r->stats, current, r->cb->userdata);
}

void report_entry(RunReport *r, const char *current) {
        r->stats.files++;
        progress(r, current);
}

void report_bytes(RunReport *r, uint64_t n, const char *current) {
        r->stats.bytes += n;
        if (r->stats.bytes - r->bytes_at_last_progress >= PROGRESS_EVERY_BYTES)
                progress(r, current);
}

void report_done(RunReport *r) {
        r->warnings = strv_free(r->warnings);
        r->n_warnings = 0;
}
