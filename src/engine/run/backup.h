/* SPDX-License-Identifier: MIT */
#pragma once

/* One run of one schedule, as a pipeline of stages, each a module:
 *
 *   destination  open it, take the schedule's lock, create the unnamed file
 *   plan         FullEvery=: full or incremental, and why      (incremental.h)
 *   select       walk the sources: which entries, opened how   (select.h)
 *   write        libarchive, compression, encryption, manifest (write.h)
 *   link         fsync, link into place, fsync the directory   (destination.h)
 *   verify       Verify=yes: read the new archive back          (verify.h)
 *   index        FullEvery=: the new index replaces the old one (incremental.h)
 *   copy         CopyTo=: send the offsite targets what they miss (copy.h)
 *   compare      ShrinkWarn=: far less than usual is a warning  (shrink.h)
 *   prune        retention, only after the new archive is safe,
 *                and never after a run that shrank              (retention.h)
 *
 * and the outcome as journal events; the worker (worker.h) turns the result
 * into the run record and the exit code.
 *
 * Problems with single files (unreadable, vanished, changed while read) are
 * warnings: counted, reported with what happened to the entry, and the
 * archive is kept. Anything that makes the archive itself untrustworthy
 * (output errors, a missing source, a full disk) fails the run and leaves
 * no trace but the event. */

#include <stdint.h>
#include "copy.h"
#include "encryption.h"
#include "report.h"
#include "schedule.h"
#include "shrink.h"

/* What the caller resolved before the run. */
typedef struct BackupInput {
        const CryptKeySource *key;      /* Encryption=yes's key, or NULL */
        const BackupCallbacks *cb;      /* may be NULL */
        RunUsual usual;                 /* what earlier runs read, for ShrinkWarn= */
        const char *state_dir;          /* the copy stage's ledger and per-target state; NULL: none kept */
} BackupInput;

typedef struct BackupResult {
        char *archive;                  /* full path of the new archive */
        bool incremental;               /* FullEvery=: only what changed since the archive before it */
        char *plan;                     /* why full, or what an incremental archive builds on */
        RunPoint point;                         /* the restore point: what a restore of it writes */
        BackupStats stats;
        uint64_t start_usec;            /* realtime */
        uint64_t duration_usec;
        unsigned pruned;
        char **warnings;                /* the first few warning messages */
        char *unexpected;               /* Expect=: the kept files none covers (select.h), else NULL */
        uint64_t n_unexpected;
        CopyResults copies;             /* the CopyTo= targets; copies.failed > 0 fails the run, the archive stays */
        char *shrunk;                   /* ShrinkWarn=: how far below usual, or NULL */
        char *error;                    /* why the run failed */
} BackupResult;

/* Returns 0 when an archive was written (check stats.warnings), -EBUSY when
 * another run of the schedule holds its lock, another negative errno when the
 * run failed (result.error says why). */
int backup_run(const Schedule *s, const BackupInput *in, BackupResult *ret);
void backup_result_done(BackupResult *r);

/* Sources joined by spaces, for messages and the journal. */
char *schedule_sources_string(const Schedule *s);
