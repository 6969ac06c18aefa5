/* SPDX-License-Identifier: MIT */
#pragma once

/* Schedules that are gone while their archives remain. `delete` keeps a
 * copy of the schedule file, its tombstone (STATE_DIR/deleted/NAME.conf,
 * 0600: a PingURL= may hold a token), so that its destination and key file
 * stay known; a schedule file removed by hand leaves archives that are
 * found in the destinations still in use (every schedule's and the
 * default one). backups, restore and verify take these names like
 * schedules, marked as deleted; `delete --archives` removes the archives
 * and then the tombstone. A live schedule of the same name always wins. */

#include "locations.h"
#include "schedule-dir.h"

typedef struct DeletedSchedules {
        Schedule **schedules;   /* sorted by name; each has archives left */
        size_t n;
} DeletedSchedules;

int deleted_schedules_load(const Paths *p, const ScheduleDir *live, DeletedSchedules *ret);
void deleted_schedules_done(DeletedSchedules *d);
const Schedule *deleted_schedules_find(const DeletedSchedules *d, const char *name);
/* The deleted schedule an INDEX|NAME argument means: none if it names a
 * live schedule or is an index of one (those win). */
const Schedule *deleted_schedules_find_arg(const DeletedSchedules *d, const ScheduleDir *live, const char *index_or_name);

/* Keeps TEXT, the file of schedule NAME, as its tombstone (replacing an older one). */
int deleted_schedule_remember(const Paths *p, const char *name, const char *text);
/* Forgets NAME's tombstone; none is fine. */
int deleted_schedule_forget(const Paths *p, const char *name);
