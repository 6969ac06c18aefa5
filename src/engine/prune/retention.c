/* SPDX-License-Identifier: MIT */
#include <fcntl.h>

#include "events.h"
#include "fileio.h"
#include "format-util.h"
#include "log.h"
#include "retention.h"

RetentionRules retention_schedule_rules(const Schedule *s) {
        return (RetentionRules) {
                .count = {
                        [RETENTION_LAST]    = s->keep,
                        [RETENTION_DAILY]   = s->keep_daily,
                        [RETENTION_WEEKLY]  = s->keep_weekly,
                        [RETENTION_MONTHLY] = s->keep_monthly,
                        [RETENTION_YEARLY]  = s->keep_yearly,
                },
        };
}

void retention_plan_done(RetentionPlan *p) {
        archive_list_free(p->archives, p->n);
        free(p->decisions);
        *p = (RetentionPlan) {};
}

int retention_plan(const Schedule *s, const char *keep_path, RetentionPlan *ret) {
        RetentionPlan p = {};
        _cleanup_free_ RetentionPoint *points = NULL;
        int r;

        r = archive_list(s->destination, s->name, &p.archives, &p.n);
        if (r < 0)
                return r;
        points = calloc(p.n + 1, sizeof *points);
        p.decisions = calloc(p.n + 1, sizeof *p.decisions);
        if (!points || !p.decisions) {
                retention_plan_done(&p);
                return -ENOMEM;
        }
        for (size_t i = 0; i < p.n; i++)
                points[i] = (RetentionPoint) { .time_usec = p.archives[i].time_usec, .incremental = p.archives[i].incremental };

        RetentionRules rules = retention_schedule_rules(s);
        retention_policy_decide(points, p.n, &rules, p.decisions);

        /* The archive just written stays whatever the rules say, and so does
         * what it stands on (the rules keep the newest point anyway). */
        for (size_t i = p.n; keep_path && i > 0; i--)
                if (streq(p.archives[i - 1].path, keep_path)) {
                        for (size_t j = i - 1;; j--) {
                                p.decisions[j].keep = true;
                                if (j == 0 || !p.archives[j].incremental)
                                        break;
                        }
                        break;
                }
        *ret = p;
        return 0;
}

int retention_plan_reason(const RetentionPlan *p, size_t i, char **ret) {
        const RetentionDecision *d = &p->decisions[i];
        return retention_decision_format(d, d->needed_by >= 0 ? p->archives[d->needed_by].filename : NULL, ret);
}

int retention_execute(const Schedule *s, const RetentionPlan *plan, unsigned *ret_pruned, char **ret_error) {
        unsigned pruned = 0;
        int ret = 0;

        *ret_pruned = 0;
        _cleanup_close_ int dir_fd = open(s->destination, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return errorf(ret_error, negative_errno(), "Cannot open %s for retention, keeping every archive: %m",
                              s->destination);

        for (size_t k = plan->n; k > 0; k--) {
                const ArchiveInfo *a = &plan->archives[k - 1];
                if (plan->decisions[k - 1].keep)
                        continue;
                if (unlinkat(dir_fd, a->filename, 0) < 0) {
                        if (errno == ENOENT)
                                continue;       /* someone was faster */
                        if (ret == 0)
                                ret = errorf(ret_error, negative_errno(), "Cannot remove old archive %s: %m", a->path);
                        continue;
                }
                pruned++;
                _cleanup_free_ char *why = NULL;
                if (s->keep > 0 && !schedule_keeps_calendar(s))
                        (void) asprintf(&why, "Keep=%u", s->keep);
                else
                        (void) asprintf(&why, "Keep=%u KeepDaily=%u KeepWeekly=%u KeepMonthly=%u KeepYearly=%u",
                                        s->keep, s->keep_daily, s->keep_weekly, s->keep_monthly, s->keep_yearly);
                EventFields f = EVENT_FIELDS_INIT(s->name);
                f.archive = a->path;
                f.archive_bytes = a->size;
                (void) event_emit(EVENT_ARCHIVE_PRUNED, &f, "Removed old archive %s (%s).", a->path, strempty(why));
        }
        if (pruned > 0)
                (void) fsync_directory(dir_fd);
        *ret_pruned = pruned;
        return ret;
}

int retention_apply(const Schedule *s, const char *keep_path, unsigned *ret_pruned, char **ret_error) {
        RetentionPlan plan = {};
        int r;

        *ret_pruned = 0;
        if (s->keep == 0 && !schedule_keeps_calendar(s))
                return 0;
        r = retention_plan(s, keep_path, &plan);
        if (r < 0)
                return errorf(ret_error, r, "Cannot list %s for retention, keeping every archive: %m", s->destination);
        r = retention_execute(s, &plan, ret_pruned, ret_error);
        retention_plan_done(&plan);
        return r;
}
