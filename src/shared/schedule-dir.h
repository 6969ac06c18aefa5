/* SPDX-License-Identifier: MIT */
#pragma once

/* All schedules of a schedules.d directory, sorted by name: the index that
 * `list` prints and `delete INDEX` takes is a position in this order. A file
 * that fails to parse is kept as an entry with its error, so every consumer
 * can report it and go on with the others.
 *
 * The directory and the configuration directory that holds it are trusted
 * like the files (trust.h): whoever may write them may delete or rename
 * schedules, so one that is group- or world-writable or owned by someone
 * else than OWNER is refused as a whole. */

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

/* Checks DIR and its parent directory (trust.h). A missing one is fine. */
int schedule_dir_check_trust(const char *dir, uid_t owner, char **ret_error);

/* A missing directory is an empty set. On failure *ret_error says why
 * (an untrusted directory: -EPERM, naming it and the fix). */
int schedule_dir_load(const char *dir, const char *default_destination, uid_t owner, ScheduleDir *ret, char **ret_error);
void schedule_dir_done(ScheduleDir *d);
const ScheduleEntry *schedule_dir_find(const ScheduleDir *d, const char *name);

/* Loads only schedule NAME (DIR/NAME.conf), for those that need one: the
 * worker and the service's notify; the directories are checked as above.
 * -ENOENT (with a message) if it is not there; an invalid NAME is -EINVAL. */
int schedule_load_name(const char *dir, const char *name, const char *default_destination, uid_t owner,
                       Schedule **ret, char **ret_error);
