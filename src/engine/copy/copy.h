/* SPDX-License-Identifier: MIT */
#pragma once

/* The copy stage: after an archive is linked in the destination, every
 * CopyTo= target is brought to hold the archives it should keep, and loses
 * the ones its retention drops.
 *
 * What a target should keep is planned over the union of the local
 * archives and those already on the target: CopyKeep=N the newest N there,
 * CopyKeep=all everything, by default what the destination's own retention
 * keeps (retention_schedule_rules(), whole chains). Only local archives can be sent; an archive
 * that is there complete is not sent again; deletion on a target only ever
 * names archives of this schedule.
 *
 * ssh:// targets are rsync over ssh and are never listed, so that a key
 * forced into `rrsync -wo DIR` (write-only) works: Alexandria keeps a ledger
 * of what it put on each target (STATE_DIR/NAME.copied), rsync's receiver
 * skips what it has, and old archives are removed by rsync's receiver-side
 * --delete with filter rules that name exactly those archives. Uploads land
 * in rsync's temporary names or in .alexandria-partial/ on the target
 * (resumed by the next run), never under an archive's name half-written.
 *
 * rclone: targets are listed (rclone lsf); an upload goes to a hidden
 * ".ARCHIVE.partial" and is renamed (moveto) when complete.
 *
 * Nothing here logs above debug. Each target's outcome is a journal event
 * (copied / copy-failed, with ALEXANDRIA_COPY_TARGET=), is recorded in the
 * schedule's state (last good copy, last error) and returned. */

#include <stdint.h>
#include "copy-target.h"
#include "schedule.h"

typedef struct CopyOutcome {
        char *target;                   /* display form: rclone parameters redacted */
        int error;                      /* 0, or the negative errno of the failure */
        char *message;                  /* why it failed, one line (ssh's, rsync's or rclone's words) */
        unsigned sent;                  /* archives uploaded by this attempt */
        unsigned present;               /* archives the target already had */
        unsigned deleted;               /* archives removed there by its retention */
        uint64_t time_usec;             /* when the attempt ended */
} CopyOutcome;

typedef struct CopyResults {
        CopyOutcome *targets;
        size_t n;
        size_t failed;                  /* how many targets failed */
} CopyResults;

/* Copies to every target of S. STATE_DIR keeps the ledger and the per-target
 * state (NULL: neither is read nor written). PRUNE: apply each target's
 * retention; false keeps everything there, as a run that shrank keeps the
 * local archives (a good archive must not go offsite first). Returns 0 when every target is
 * done, -EIO when some failed (see RET), another negative errno when the
 * stage could not run at all. RET is filled in every case. The caller holds
 * the schedule's lock. */
int copy_run(const Schedule *s, const char *state_dir, bool prune, CopyResults *ret);
void copy_results_done(CopyResults *r);

/* The first failed target, or NULL. */
const CopyOutcome *copy_results_first_failure(const CopyResults *r);
