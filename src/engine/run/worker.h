/* SPDX-License-Identifier: MIT */
#pragma once

/* What alexandria-backup does, shared with `alexandria-ctl run --here`: load
 * schedule NAME, run it, report the outcome once (journal event, plus a
 * one-line summary on stderr when stderr is not the journal), and turn it
 * into an exit code of exit-codes.h. */

#include "backup.h"
#include "locations.h"

int worker_run(const Paths *paths, const char *name, const BackupCallbacks *cb);
