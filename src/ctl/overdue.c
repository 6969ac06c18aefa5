/* SPDX-License-Identifier: MIT */
#include <sys/stat.h>

#include "calendar.h"
#include "overdue.h"

void overdue_check(const ScheduleEntry *e, const ArchiveInfo *newest, uint64_t now, Overdue *ret) {
        const Schedule *s = e->schedule;
        Overdue o = {};
        struct stat st;

        (void) calendar_check(s->on_calendar, &o.period_usec, &o.calendar_error);

        o.never = !newest;
        o.since_usec = newest ? newest->time_usec
                     : stat(e->path, &st) >= 0 ? (uint64_t) st.st_mtim.tv_sec * USEC_PER_SEC : now;
        o.overdue = s->enabled && o.period_usec > 0 && now > o.since_usec &&
                    now - o.since_usec > o.period_usec + o.period_usec / 2;
        *ret = o;
}

void overdue_done(Overdue *o) {
        free(o->calendar_error);
        *o = (Overdue) {};
}
