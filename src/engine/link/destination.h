/* SPDX-License-Identifier: MIT */
#pragma once

/* Where a run's archive goes, and the link stage that puts it there:
 * the destination directory (created 0700 if missing), the schedule's lock
 * in it, the archive's name, the unnamed file the archive is written to,
 * and finally fsync, link into place, directory fsync. Until then nothing
 * in the destination looks like a new backup. */

#include <stdint.h>
#include <sys/stat.h>
#include "fileio.h"
#include "report.h"
#include "schedule.h"

typedef struct Destination {
        const Schedule *schedule;       /* borrowed */
        int fd;
        struct stat st;
        int lock_fd;
        AtomicFile out;                 /* the archive being written */
        bool incremental;               /* name it NAME-STAMP.incr.tar… */
} Destination;

#define DESTINATION_NULL (Destination) { .fd = -EBADF, .lock_fd = -EBADF, .out = ATOMIC_FILE_NULL }

/* Opens (creating) the destination and takes the schedule's lock: -EBUSY
 * when another run of the schedule holds it. */
int destination_open(const Schedule *s, Destination *d, char **ret_error);
/* Removes the temporary files of this schedule's archives that killed runs
 * left (the lock says no live run owns them); a file that cannot be removed
 * is a warning of the run. */
void destination_remove_stale(Destination *d, RunReport *report);
/* Creates the unnamed file for an archive of a run that started at
 * START_REALTIME; *RET_NAME is the name it will get. */
int destination_create_archive(Destination *d, uint64_t start_realtime, char **ret_name, char **ret_error);
/* The link stage: the archive becomes visible under its name, durably;
 * *RET_PATH is its full path. */
int destination_link_archive(Destination *d, char **ret_path, char **ret_error);
/* Releases everything (the lock last). */
void destination_close(Destination *d);
