/* SPDX-License-Identifier: MIT */
#pragma once

/* OVERDUE, as status and doctor both judge it: an enabled schedule with no
 * archive for more than 1.5 times its period. The period is the longest gap
 * between the calendar's next elapses (calendar_check()), so a "Mon..Sat"
 * schedule is not overdue on Sunday. It is measured from the newest archive,
 * or for a schedule that never produced one, from when its file was written. */

#include <stdint.h>
#include "archive-list.h"
#include "schedule-dir.h"

typedef struct Overdue {
        bool overdue;
        uint64_t period_usec;           /* 0: unknown, or the calendar elapses once or never again */
        uint64_t since_usec;            /* the newest archive, or the schedule file's mtime */
        bool never;                     /* no archive at all: since_usec is the file's mtime */
        char *calendar_error;           /* systemd's message when it refuses the calendar, else NULL */
} Overdue;

/* E must have a schedule; NEWEST is its newest archive or NULL. */
void overdue_check(const ScheduleEntry *e, const ArchiveInfo *newest, uint64_t now, Overdue *ret);
void overdue_done(Overdue *o);
