/* SPDX-License-Identifier: MIT */
/* prune NAME [--dry-run]: the schedule's retention, now, saying for every
 * archive whether it stays and why. */
#include <inttypes.h>

#include "ctl.h"
#include "format-util.h"
#include "log.h"
#include "retention.h"

int verb_prune(int argc, char **argv) {
        _cleanup_(retention_plan_done) RetentionPlan plan = {};
        _cleanup_close_ int lock_fd = -EBADF;
        const Schedule *s;
        int r;

        if (ctl_find_valid_schedule(&ctx.schedules, argv[1], &s) < 0)
                return EXIT_USAGE;

        /* A run deciding what to build on must not see its base vanish. */
        r = archive_dir_lock(s->destination, s->name, &lock_fd);
        if (r == -ENOENT) {
                printf("No archives of %s in %s.\n", s->name, s->destination);
                return EXIT_OK;
        }
        if (r == -EBUSY) {
                log_error("A run of %s is in progress (it holds %s/.alexandria-%s.lock); prune it later.",
                          s->name, s->destination, s->name);
                return EXIT_BUSY;
        }
        if (r < 0 && !arg.dry_run) {
                log_error_errno(r, "Cannot lock %s/.alexandria-%s.lock: %m", s->destination, s->name);
                return EXIT_FAILED;
        }
        /* a dry run changes nothing: it may look at a destination it cannot lock */

        r = retention_plan(s, NULL, &plan);
        if (r < 0) {
                log_error_errno(r, "Cannot list archives in %s: %m", s->destination);
                return EXIT_FAILED;
        }

        uint64_t freed = 0;
        size_t deleting = 0, width = 0;
        for (size_t i = 0; i < plan.n; i++)
                width = MAX(width, strlen(plan.archives[i].filename));
        for (size_t i = 0; i < plan.n; i++) {
                _cleanup_free_ char *why = NULL;
                if (retention_plan_reason(&plan, i, &why) < 0)
                        return log_oom(), EXIT_FAILED;
                printf("%-*s  %s\n", (int) width, plan.archives[i].filename, why);
                if (!plan.decisions[i].keep) {
                        deleting++;
                        freed += plan.archives[i].size;
                }
        }

        char bytes[FORMAT_BYTES_MAX];
        if (arg.dry_run) {
                printf("Would delete %zu of %zu archives (%s); nothing was changed.\n", deleting, plan.n,
                       format_bytes(bytes, freed));
                return EXIT_OK;
        }
        unsigned pruned = 0;
        _cleanup_free_ char *error = NULL;
        r = retention_execute(s, &plan, &pruned, &error);
        if (r < 0)
                log_error("%s", error ?: strerror(-r));
        printf("Deleted %u of %zu archives (%s).\n", pruned, plan.n, format_bytes(bytes, freed));
        return r < 0 ? EXIT_FAILED : EXIT_OK;
}
