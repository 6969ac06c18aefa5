/* SPDX-License-Identifier: MIT */
#pragma once

/* The journal as the history of schedules: our events are found by
 * SYSLOG_IDENTIFIER=alexandria and ALEXANDRIA_SCHEDULE=, never by unit. */

#include <stdint.h>
#include <systemd/sd-journal.h>
#include "events.h"
#include "record.h"

/* Opens the local journal filtered to Alexandria's events (of NAME, if set). */
int history_open(const char *name, sd_journal **ret);

/* FIELD's value in the current entry, or NULL. */
char *history_field(sd_journal *j, const char *field);
EventKind history_kind(sd_journal *j);

/* The newest run outcome (succeeded, warnings, failed) of NAME, and when
 * the last successful one was. */
typedef struct LastRun {
        EventKind kind;         /* _EVENT_INVALID if none */
        uint64_t time_usec;
        char *message;
        char *archive;
        uint64_t files, bytes, archive_bytes, duration_usec, warnings;
        uint64_t last_success_usec;     /* 0: never */
        char *shrunk;                   /* the last run read far less than usual (record.h) */
} LastRun;
/* From the run records in STATE_DIR (record.h); from the journal only for
 * a schedule that has none yet (runs from before records existed). */
int history_last_run(const char *state_dir, const char *name, LastRun *ret);
/* LAST as the worker's outcome event says it ("Backup done for …"). */
int last_run_from_record(const RunRecord *rec, LastRun *ret);
void last_run_done(LastRun *r);
