/* SPDX-License-Identifier: MIT */
#pragma once

/* All schedules of a schedules.d directory, sorted by name: the index that
 * `list` prints and `delete INDEX` takes is a position in this order. A file
 * that fails to parse is kept as an entry with its error, so every consumer
 * can report it and go on with the others. */

#include "schedule.h"

typedef struct ScheduleEntry {
        char *name;
        char *path;
        Schedule *schedule;     /* NULL if it failed to load … */
        char *error;            /* … and this says why */
        int error_code;
} ScheduleEntry;

typedef struct ScheduleDir {
        ScheduleEntry *entries;
        size_t n;
} ScheduleDir;

/* A missing directory is an empty set. */
int schedule_dir_load(const char *dir, const char *default_destination, uid_t owner, ScheduleDir *ret);
void schedule_dir_done(ScheduleDir *d);
const ScheduleEntry *schedule_dir_find(const ScheduleDir *d, const char *name);

/* Loads only schedule NAME (DIR/NAME.conf), for those that need one: the
 * worker and the service's notify. -ENOENT (with a message) if it is not
 * there; an invalid NAME is -EINVAL. */
int schedule_load_name(const char *dir, const char *name, const char *default_destination, uid_t owner,
                       Schedule **ret, char **ret_error);
