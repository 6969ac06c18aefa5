/* SPDX-License-Identifier: MIT */
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

EventKind history_kind(sd_journal *j) {
        _cleanup_free_ char *id = history_field(j, "MESSAGE_ID");
        return id ? event_kind_from_message_id(id) : _EVENT_INVALID;
}

int history_last_run(const char *name, LastRun *ret) {
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
                if (k != EVENT_RUN_SUCCEEDED && k != EVENT_RUN_WARNINGS && k != EVENT_RUN_FAILED)
                        continue;
                ret->kind = k;
                (void) sd_journal_get_realtime_usec(j, &ret->time_usec);
                ret->message = history_field(j, "MESSAGE");
                return 0;
        }
        return r;
}

void last_run_done(LastRun *r) {
        free(r->message);
        *r = (LastRun) { .kind = _EVENT_INVALID };
}
