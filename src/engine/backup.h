/* SPDX-License-Identifier: MIT */
#pragma once

/* One run of one schedule: lock, walk the sources, write one archive
 * atomically, apply retention, and report it all as journal events.
 *
 * Problems with single files (unreadable, vanished, changed while read) are
 * warnings: counted, reported with what happened to the entry, and the
 * archive is kept. Anything that makes the archive itself untrustworthy
 * (output errors, a missing source, a full disk) fails the run and leaves
 * no trace but the event. */

#include <stdint.h>
#include "copy.h"
#include "schedule.h"

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
        /* Where stages keep what they need between runs (the copy ledger and
         * per-target state); NULL: nothing is kept. */
        const char *state_dir;
} BackupCallbacks;

typedef struct BackupResult {
        char *archive;                  /* full path of the new archive */
        BackupStats stats;
        uint64_t duration_usec;
        unsigned pruned;
        CopyResults copies;             /* the CopyTo= targets; copies.failed > 0 fails the run, the archive stays */
        char *error;                    /* why the run failed */
} BackupResult;

/* Returns 0 when an archive was written (check stats.warnings), -EBUSY when
 * another run of the schedule holds its lock, another negative errno when the
 * run failed (result.error says why). */
int backup_run(const Schedule *s, const BackupCallbacks *cb, BackupResult *ret);
void backup_result_done(BackupResult *r);

/* Sources joined by spaces, for messages and the journal. */
char *schedule_sources_string(const Schedule *s);
