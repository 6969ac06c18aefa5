/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "history.h"

int history_open(const char *name, sd_journal **ret) {
        sd_journal *j;
        int r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return r;
        r = sd_journal_add_match(j, "SYSLOG_IDENTIFIER=alexandria", 0);
        if (r >= 0 && name) {
                _cleanup_free_ char *m = NULL;
                if (asprintf(&m, "ALEXANDRIA_SCHEDULE=%s", name) < 0)
                        r = -ENOMEM;
                else
                        r = sd_journal_add_match(j, m, 0);
        }
        if (r < 0) {
                sd_journal_close(j);
                return r;
        }
        *ret = j;
        return 0;
}

char *history_field(sd_journal *j, const char *field) {
        const void *data;
        size_t len, flen = strlen(field);
        if (sd_journal_get_data(j, field, &data, &len) < 0 || len <= flen)
                return NULL;
        return strndup((const char *) data + flen + 1, len - flen - 1);
}

static uint64_t history_u64(sd_journal *j, const char *field) {
        _cleanup_free_ char *v = history_field(j, field);
        return v ? strtoull(v, NULL, 10) : 0;
}

EventKind history_kind(sd_journal *j) {
        _cleanup_free_ char *id = history_field(j, "MESSAGE_ID");
        return id ? event_kind_from_message_id(id) : _EVENT_INVALID;
}

static int history_last_run_journal(const char *name, LastRun *ret);

static EventKind event_of_result(RunResult r) {
        return r == RUN_SUCCEEDED ? EVENT_RUN_SUCCEEDED : r == RUN_WARNINGS ? EVENT_RUN_WARNINGS : EVENT_RUN_FAILED;
}

int last_run_from_record(const RunRecord *rec, LastRun *ret) {
        LastRun l = {
                .kind = event_of_result(rec->result),
                .time_usec = rec->end_usec ?: rec->start_usec,
                .files = rec->files,
                .bytes = rec->bytes_read,
                .archive_bytes = rec->archive_bytes,
                .duration_usec = rec->end_usec > rec->start_usec ? rec->end_usec - rec->start_usec : 0,
                .warnings = rec->warnings,
        };
        int k;

        /* the same words as the worker's journal event */
        if (rec->result == RUN_FAILED)
                k = asprintf(&l.message, "Backup of %s failed: %s", rec->schedule, rec->error ?: "unknown error");
        else if (rec->warnings > 0)
                k = asprintf(&l.message, "Backup done for %s in %s (%" PRIu64 " files, %" PRIu64 " bytes) with %" PRIu64 " warnings.",
                             rec->schedule, strempty(rec->archive), rec->files, rec->bytes_read, rec->warnings);
        else
                k = asprintf(&l.message, "Backup done for %s in %s (%" PRIu64 " files, %" PRIu64 " bytes).",
                             rec->schedule, strempty(rec->archive), rec->files, rec->bytes_read);
        if (k >= 0 && rec->shrunk) {
                _cleanup_free_ char *m = TAKE_PTR(l.message);
                k = asprintf(&l.message, "%s It read far less than usual: %s.", m, rec->shrunk);
                if (k >= 0 && !(l.shrunk = strdup(rec->shrunk)))
                        k = -1;
        }
        if (k < 0 || (rec->archive && !(l.archive = strdup(rec->archive)))) {
                last_run_done(&l);
                return -ENOMEM;
        }
        *ret = l;
        return 0;
}

/* The records of the last RECORDS_SCANNED runs tell the last run and the
 * last success; -ENOENT when there are none. */
#define RECORDS_SCANNED 100
static int last_run_from_records(const char *state_dir, const char *name, LastRun *ret) {
        RunRecord *list = NULL;
        size_t n = 0;
        int r = record_list(state_dir, name, RECORDS_SCANNED, &list, &n);
        if (r < 0)
                return r;
        if (n == 0)
                r = -ENOENT;
        else
                r = last_run_from_record(&list[n - 1], ret);
        for (size_t i = n; r >= 0 && i > 0; i--)
                if (list[i - 1].result != RUN_FAILED) {
                        ret->last_success_usec = list[i - 1].end_usec ?: list[i - 1].start_usec;
                        break;
                }
        record_list_free(list, n);
        return r;
}

int history_last_run(const char *state_dir, const char *name, LastRun *ret) {
        int r = last_run_from_records(state_dir, name, ret);
        if (r != -ENOENT)
                return r;
        return history_last_run_journal(name, ret);
}

static int history_last_run_journal(const char *name, LastRun *ret) {
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        int r;

        *ret = (LastRun) { .kind = _EVENT_INVALID };
        r = history_open(name, &j);
        if (r < 0)
                return r;
        /* Newest first: the first outcome found is the last run. */
        r = sd_journal_seek_tail(j);
        if (r < 0)
                return r;
        while ((r = sd_journal_previous(j)) > 0) {
                EventKind k = history_kind(j);
                uint64_t t = 0;
                /* runs before the schedule was created (again) were another's of the name */
                if (k == EVENT_SCHEDULE_CREATED)
                        return 0;
                if (k != EVENT_RUN_SUCCEEDED && k != EVENT_RUN_WARNINGS && k != EVENT_RUN_FAILED)
                        continue;
                (void) sd_journal_get_realtime_usec(j, &t);
                if (ret->kind == _EVENT_INVALID) {
                        ret->kind = k;
                        ret->time_usec = t;
                        ret->message = history_field(j, "MESSAGE");
                        ret->archive = history_field(j, "ALEXANDRIA_ARCHIVE");
                        ret->files = history_u64(j, "ALEXANDRIA_FILES");
                        ret->bytes = history_u64(j, "ALEXANDRIA_BYTES");
                        ret->archive_bytes = history_u64(j, "ALEXANDRIA_ARCHIVE_BYTES");
                        ret->duration_usec = history_u64(j, "ALEXANDRIA_DURATION_USEC");
                        ret->warnings = history_u64(j, "ALEXANDRIA_WARNINGS");
                }
                if (k != EVENT_RUN_FAILED) {
                        ret->last_success_usec = t;
                        return 0;
                }
        }
        return r;
}

void last_run_done(LastRun *r) {
        free(r->message);
        free(r->archive);
        free(r->shrunk);
        *r = (LastRun) { .kind = _EVENT_INVALID };
}
