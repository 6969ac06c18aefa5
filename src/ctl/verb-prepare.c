/* SPDX-License-Identifier: MIT */
/* prepare NAME: what alexandria@NAME.service runs before the worker, outside
 * its sandbox (ExecStartPre=+). The worker may write only inside its
 * destination (ReadWritePaths=), which systemd can grant only to a
 * directory that exists: so it is created here, before every run, also for
 * a schedule file dropped in by hand or a destination removed since. */
#include "ctl.h"
#include "log.h"
#include "path-util.h"

int verb_prepare(int argc, char **argv) {
        _cleanup_(schedule_dir_done) ScheduleDir d = {};
        const Schedule *s;
        char field[128];
        int r;

        r = ctl_load_schedules(&d);
        if (r != EXIT_OK)
                return r;
        if (ctl_find_valid_schedule(&d, argv[1], &s) < 0)
                return EXIT_USAGE;
        /* what we log belongs to the schedule's history */
        snprintf(field, sizeof field, "ALEXANDRIA_SCHEDULE=%s", s->name);
        log_set_context_field(field);
        r = mkdir_p(s->destination, 0700);
        if (r < 0) {
                log_error_errno(r, "Cannot create destination %s of schedule %s: %m", s->destination, s->name);
                return EXIT_FAILED;
        }
        return EXIT_OK;
}
