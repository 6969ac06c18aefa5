/* SPDX-License-Identifier: MIT */
#pragma once

/* What a run has done so far, shared by its stages: the counters, and the
 * warnings about single files (unreadable, vanished, changed while read).
 * A warning is sent to the journal as an event of the run, handed to the
 * caller's callback (run --here prints it) and kept, up to a bound, for the
 * run record. The stages only count and warn; the orchestrator decides what
 * the run's outcome is. */

#include <stdint.h>
#include "macro.h"

typedef struct BackupStats {
        uint64_t files;                 /* entries stored */
        uint64_t bytes;                 /* file data read */
        uint64_t warnings;
        uint64_t archive_bytes;         /* bytes of archive written so far */
} BackupStats;

typedef struct BackupCallbacks {
        /* Called after each entry and every few MiB; CURRENT is the path being read. */
        void (*progress)(const BackupStats *stats, const char *current, void *userdata);
        /* A warning about one file, already sent to the journal. NULL: print it
         * on stderr unless stderr is the journal. */
        void (*warning)(const char *message, void *userdata);
        void *userdata;
} BackupCallbacks;

/* The run record keeps this many warning messages; the count is exact. */
#define REPORT_WARNINGS_KEPT 20

typedef struct RunReport {
        const char *schedule;           /* borrowed */
        const BackupCallbacks *cb;      /* borrowed, may be NULL */
        BackupStats stats;
        /* of stats: the entries the run made (dumps, package state), not walked */
        uint64_t generated_files, generated_bytes;
        uint64_t bytes_at_last_progress;
        char **warnings;                /* the first REPORT_WARNINGS_KEPT messages, NULL-terminated */
        size_t n_warnings;
} RunReport;

void report_warning(RunReport *r, const char *path, const char *format, ...) _printf_(3, 4);
/* An entry is stored: count it and tell the progress callback. */
void report_entry(RunReport *r, const char *current);
/* N bytes of file data were read; progress every few MiB. */
void report_bytes(RunReport *r, uint64_t n, const char *current);
void report_done(RunReport *r);
