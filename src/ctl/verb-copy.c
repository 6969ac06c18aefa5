/* SPDX-License-Identifier: MIT */
/* copy NAME: what a run does after it linked its archive — bring every
 * CopyTo= target to hold the archives it should — now, without a new
 * backup. Under the schedule's lock, so never beside a running backup. */
#include "copy.h"
#include "ctl.h"
#include "destination.h"
#include "log.h"

int verb_copy(int argc, char **argv) {
        _cleanup_(destination_close) Destination dest = DESTINATION_NULL;
        _cleanup_free_ char *error = NULL;
        CopyResults res = {};
        const Schedule *s;
        int r;

        if (ctl_find_valid_schedule(&ctx.schedules, argv[1], &s) < 0)
                return EXIT_USAGE;
        if (!s->copy_to) {
                log_error("Schedule '%s' has no CopyTo= target.", s->name);
                return EXIT_USAGE;
        }
        char field[128];
        snprintf(field, sizeof field, "ALEXANDRIA_SCHEDULE=%s", s->name);
        log_set_context_field(field);

        /* the lock a run holds (destination.h) */
        r = destination_open(s, &dest, &error);
        if (r == -EBUSY) {
                log_error("%s It copies when it is done.", strempty(error));
                return EXIT_BUSY;
        }
        if (r < 0) {
                log_error("%s", error ?: strerror(-r));
                return EXIT_FAILED;
        }

        r = copy_run(s, paths.state_dir, true, &res);
        for (size_t i = 0; i < res.n; i++) {
                const CopyOutcome *o = &res.targets[i];
                if (o->error < 0 && !log_on_journal())
                        /* the copy stage's event already says it in the journal */
                        log_error("Copy of %s to %s failed: %s", s->name, o->target, strempty(o->message));
                else if (o->error == 0)
                        printf("%s: %u sent, %u already there, %u removed there\n", o->target, o->sent, o->present, o->deleted);
        }
        copy_results_done(&res);
        if (r < 0 && r != -EIO)
                log_error_errno(r, "Cannot copy the archives of %s: %m", s->name);
        return r < 0 ? EXIT_FAILED : EXIT_OK;
}
