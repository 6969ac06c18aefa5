/* SPDX-License-Identifier: MIT */
/* notify NAME started|finished: what alexandria@NAME.service runs before
 * and after the worker (ExecStartPre=+, ExecStopPost=+: outside the
 * service's sandbox, with network). It pings, runs NotifyCommand=, mails,
 * records what it told in the state directory, and writes metrics. */
#include <inttypes.h>

#include "settings.h"
#include "ctl.h"
#include "format-util.h"
#include "history.h"
#include "log.h"
#include "metrics.h"
#include "netns.h"
#include "notify.h"
#include "state.h"
#include "units.h"

/* The outcome of the run that just ended, from what systemd hands
 * ExecStopPost= ($EXIT_CODE, $EXIT_STATUS, $SERVICE_RESULT). */
static NotifyEvent outcome(const char **ret_result) {
        const char *code = getenv("EXIT_CODE"), *status = getenv("EXIT_STATUS"), *result = getenv("SERVICE_RESULT");
        *ret_result = result ?: "unknown";
        if (streq_ptr(code, "exited") && streq_ptr(status, "0"))
                return NOTIFY_SUCCEEDED;
        if (streq_ptr(code, "exited") && streq_ptr(status, "3"))
                return NOTIFY_WARNINGS;
        if (streq_ptr(code, "exited") && streq_ptr(status, "4"))
                return _NOTIFY_EVENT_INVALID;   /* run --here holds the lock: nothing happened */
        return NOTIFY_FAILED;
}

/* The record of the run that just ended: the worker's, found by the
 * invocation systemd gave both of us. Without one, the worker never got
 * to write it (binary gone, killed), and an older record is an earlier
 * run's, whose reason is not this one's. */
static int this_runs_record(const char *name, RunRecord *ret) {
        const char *invocation = getenv("INVOCATION_ID");
        if (isempty(invocation))
                return -ENOENT;
        return record_find(paths.state_dir, name, invocation, ret);
}

int verb_notify(int argc, char **argv) {
        _cleanup_(state_done) ScheduleState state = {};
        const char *name = argv[1], *what = argv[2];
        char unit[UNIT_NAME_MAX], field[128];
        int r;

        if (!streq(what, "started") && !streq(what, "finished")) {
                log_error("notify takes 'started' or 'finished', not '%s'.", what);
                return EXIT_USAGE;
        }
        snprintf(field, sizeof field, "ALEXANDRIA_SCHEDULE=%s", name);
        log_set_context_field(field);
        /* Only this schedule's file: the service runs notify twice a run. */
        _cleanup_schedule_free_ Schedule *s = NULL;
        _cleanup_free_ char *error = NULL;
        r = schedule_load_name(paths.schedules_dir, name, paths.default_destination, paths.owner, &s, &error);
        if (r < 0) {
                log_error("No valid schedule '%s' to notify about: %s", name, error ?: strerror(-r));
                return EXIT_USAGE;
        }
        unit_name_service(unit, name);
        /* (the service has PrivateNetwork=yes; the channels need the network) */
        if (s->ping_url || s->mail || s->notify_command) {
                r = netns_join_host();
                if (r < 0)
                        log_debug_errno(r, "Staying in this network namespace (cannot join PID 1's): %m");
        }

        _cleanup_close_ int lock_fd = -EBADF;
        r = state_lock(paths.state_dir, name, &lock_fd);
        if (r < 0)
                log_warning_errno(r, "Cannot lock the notification state of %s: %m", name);
        r = state_load(paths.state_dir, name, &state);
        if (r < 0)
                log_warning_errno(r, "Cannot read the notification state of %s: %m", name);

        if (streq(what, "started")) {
                NotifyMessage m = { .message = "backup started", .unit = unit };
                (void) ctl_notify(s, NOTIFY_STARTED, &m, &state);
        } else {
                const char *result;
                NotifyEvent ev = outcome(&result);
                if (ev < 0)
                        return EXIT_OK;

                _cleanup_(record_done) RunRecord rec = RUN_RECORD_NULL;
                _cleanup_(last_run_done) LastRun last = { .kind = _EVENT_INVALID };
                _cleanup_free_ char *fallback = NULL;
                bool ours = this_runs_record(name, &rec) >= 0 && last_run_from_record(&rec, &last) >= 0;
                if (!ours && asprintf(&fallback, "%s ended with result '%s' (exit %s %s)", unit, result,
                                      strempty(getenv("EXIT_CODE")), strempty(getenv("EXIT_STATUS"))) < 0)
                        return log_oom(), EXIT_FAILED;
                NotifyMessage m = {
                        .message = ours ? last.message : fallback,
                        .archive = ours ? last.archive : NULL,
                        .unit = unit,
                };

                bool was_bad = !state_reported_ok(&state);
                r = ctl_notify(s, ev, &m, &state);
                free(state.reported);
                state.reported = strdup(ev == NOTIFY_FAILED ? "failed" : "ok");
                if (ev != NOTIFY_FAILED && was_bad) {
                        NotifyMessage rm = { .message = "backups work again", .archive = m.archive, .unit = unit };
                        _cleanup_free_ char *keep = r < 0 && state.notify_error ? strdup(state.notify_error) : NULL;
                        (void) ctl_notify(s, NOTIFY_RECOVERED, &rm, &state);
                        /* keep the earlier failure visible if this one went through */
                        if (!state.notify_error && keep)
                                state.notify_error = TAKE_PTR(keep), state.notify_error_usec = now_realtime_usec();
                }
                (void) ctl_write_metrics(s, false);
        }

        r = state_save(paths.state_dir, name, &state);
        if (r < 0)
                log_error_errno(r, "Cannot record the notification state of %s in %s: %m", name, paths.state_dir);
        /* The backup's result is the service's; a notification problem is
         * reported, not turned into a failed backup. */
        return EXIT_OK;
}
