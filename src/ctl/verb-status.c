/* SPDX-License-Identifier: MIT */
/* status: is every schedule healthy? The destination (the newest archive)
 * is the ground truth, the timer says what comes next, the service and the
 * journal say how the last run ended. logs: the journal history.
 * report-failure: what alexandria-failure@.service runs. */
#include <inttypes.h>
#include <time.h>

#include "archive-list.h"
#include "copy-target.h"
#include "ctl.h"
#include "format-util.h"
#include "history.h"
#include "log.h"
#include "manager.h"
#include "notify.h"
#include "overdue.h"
#include "state.h"
#include "unexpected.h"
#include "units.h"

typedef enum Health {
        HEALTH_FAILED   = 1 << 0,
        HEALTH_OVERDUE  = 1 << 1,
        HEALTH_DISABLED = 1 << 2,
        HEALTH_WARNINGS = 1 << 3,
        HEALTH_INVALID  = 1 << 4,
        HEALTH_INACTIVE = 1 << 5,       /* enabled, but its timer is not running */
        HEALTH_RUNNING  = 1 << 6,
        HEALTH_NOTIFY_FAILED = 1 << 7,  /* the last notification did not get through */
        HEALTH_SHRUNK   = 1 << 8,       /* the last run read far less than usual */
        HEALTH_COPY_FAILED = 1 << 9,    /* the last copy to a CopyTo= target failed */
} Health;

#define HEALTH_UNHEALTHY (HEALTH_FAILED | HEALTH_OVERDUE | HEALTH_INVALID | HEALTH_INACTIVE | HEALTH_NOTIFY_FAILED | \
                          HEALTH_SHRUNK | HEALTH_COPY_FAILED)

static const char *const health_names[] = {
        "FAILED", "OVERDUE", "DISABLED", "WARNINGS", "INVALID", "TIMER-INACTIVE", "RUNNING", "NOTIFY-FAILED",
        "SHRUNK", "COPY-FAILED",
};

static void print_flags(unsigned flags) {
        for (size_t i = 0; i < ELEMENTSOF(health_names); i++)
                if (flags & (1u << i))
                        printf(" %s", health_names[i]);
}

static const char *relative(char buf[static 64], uint64_t when, uint64_t now) {
        char d[FORMAT_DURATION_MAX], ts[FORMAT_TIMESTAMP_MAX];
        if (when > now)
                snprintf(buf, 64, "%s (in %s)", format_timestamp(ts, when), format_duration(d, when - now));
        else
                snprintf(buf, 64, "%s (%s ago)", format_timestamp(ts, when), format_duration(d, now - when));
        return buf;
}

/* Expect=: what the newest run stored that nobody expected (unexpected.h). */
static void print_unexpected(const Schedule *s) {
        _cleanup_strv_free_ char **first = NULL;
        uint64_t count = 0;
        int r = unexpected_peek(paths.state_dir, s->name, UNEXPECTED_SHOWN, &first, &count);

        if (r == -ENOENT) {
                printf("    Unexpected: not known yet (no run since Expect= was set)\n");
                return;
        }
        if (r < 0) {
                printf("    Unexpected: cannot read the list in %s: %s\n", paths.state_dir, strerror(-r));
                return;
        }
        if (count == 0) {
                printf("    Unexpected: none (every stored file is covered by an Expect=)\n");
                return;
        }
        _cleanup_free_ char *list = unexpected_path(paths.state_dir, s->name);
        printf("    Unexpected: %" PRIu64 " file%s no Expect= covers (all in %s):\n", count, count == 1 ? "" : "s",
               strempty(list));
        STRV_FOREACH(p, first)
                printf("        %s\n", *p);
        if (count > strv_length(first))
                printf("        … and %" PRIu64 " more\n", count - strv_length(first));
}

static unsigned status_one(sd_bus *bus, const ScheduleEntry *e) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const Schedule *s = e->schedule;
        uint64_t now = now_realtime_usec();
        char buf[64], bytes[FORMAT_BYTES_MAX];
        unsigned flags = 0;

        if (!s) {
                _cleanup_free_ char *b1 = NULL, *b2 = NULL;
                printf("%s INVALID\n    %s\n", ctl_printable(e->name, &b1),
                       ctl_printable(e->error ?: strerror(-e->error_code), &b2));
                return HEALTH_INVALID;
        }

        /* Ground truth first: what is in the destination. */
        ArchiveInfo *list = NULL;
        size_t n = 0;
        int r = archive_list(s->destination, s->name, &list, &n);
        const ArchiveInfo *newest = n > 0 ? &list[n - 1] : NULL;

        /* No archive within 1.5 periods (overdue.h). */
        _cleanup_(overdue_done) Overdue od = {};
        overdue_check(e, newest, now, &od);
        const char *cal_error = od.calendar_error;
        if (od.overdue)
                flags |= HEALTH_OVERDUE;
        if (!s->enabled)
                flags |= HEALTH_DISABLED;
        if (cal_error)
                flags |= HEALTH_INVALID;        /* systemd will not load its timer */

        char timer[UNIT_NAME_MAX], service[UNIT_NAME_MAX];
        unit_name_timer(timer, s->name);
        unit_name_service(service, s->name);
        _cleanup_free_ char *timer_state = NULL, *service_state = NULL, *result = NULL;
        uint64_t next = 0, last_trigger = 0;
        int32_t exit_status = 0;
        if (bus) {
                (void) manager_get_string(bus, timer, "Unit", "ActiveState", &timer_state, &error);
                (void) manager_get_u64(bus, timer, "Timer", "NextElapseUSecRealtime", &next, NULL);
                (void) manager_get_u64(bus, timer, "Timer", "LastTriggerUSec", &last_trigger, NULL);
                (void) manager_get_string(bus, service, "Unit", "ActiveState", &service_state, NULL);
                (void) manager_get_string(bus, service, "Service", "Result", &result, NULL);
                (void) manager_get_i32(bus, service, "Service", "ExecMainStatus", &exit_status, NULL);
                if (s->enabled && !streq_ptr(timer_state, "active"))
                        flags |= HEALTH_INACTIVE;
                if (streq_ptr(service_state, "failed") || (result && !streq(result, "success")))
                        flags |= HEALTH_FAILED;
                if (streq_ptr(service_state, "activating") || streq_ptr(service_state, "active"))
                        flags |= HEALTH_RUNNING;
        }

        _cleanup_(last_run_done) LastRun last = { .kind = _EVENT_INVALID };
        (void) history_last_run(paths.state_dir, s->name, &last);
        if (last.kind == EVENT_RUN_FAILED)
                flags |= HEALTH_FAILED;
        else if (last.kind == EVENT_RUN_WARNINGS)
                flags |= HEALTH_WARNINGS;
        else if (last.kind == EVENT_RUN_SUCCEEDED && !(streq_ptr(service_state, "failed")))
                flags &= ~HEALTH_FAILED;
        if (last.shrunk)
                flags |= HEALTH_SHRUNK;

        _cleanup_(state_done) ScheduleState state = {};
        _cleanup_close_ int lock_fd = -EBADF;
        if (arg.notify)
                (void) state_lock(paths.state_dir, s->name, &lock_fd);
        (void) state_load(paths.state_dir, s->name, &state);
        STRV_FOREACH(spec, s->copy_to) {
                const CopyState *c = state_copy_find(&state, *spec);
                if (c && c->failed_usec > 0)
                        flags |= HEALTH_COPY_FAILED;
        }

        /* The watchdog: tell once when a schedule turns bad, once when it recovers. */
        if (arg.notify) {
                /* what we log (a failed notification) belongs to the schedule's history */
                char field[128];
                snprintf(field, sizeof field, "ALEXANDRIA_SCHEDULE=%s", s->name);
                log_set_context_field(field);
                bool bad = flags & (HEALTH_FAILED | HEALTH_OVERDUE | HEALTH_INACTIVE | HEALTH_COPY_FAILED);
                NotifyEvent ev = flags & (HEALTH_FAILED | HEALTH_COPY_FAILED) ? NOTIFY_FAILED : NOTIFY_OVERDUE;
                char msg[256];
                if (bad && state_reported_ok(&state)) {
                        snprintf(msg, sizeof msg, "%s: %s", s->name,
                                 flags & HEALTH_FAILED ? "the last backup failed" :
                                 flags & HEALTH_COPY_FAILED ? "the last copy to an offsite target failed" :
                                 flags & HEALTH_OVERDUE ? "no archive for more than 1.5 times the schedule's period" :
                                                          "the timer is not running");
                        NotifyMessage m = { .message = msg, .unit = service };
                        (void) ctl_notify(s, ev, &m, &state);
                        free(state.reported);
                        state.reported = strdup(ev == NOTIFY_FAILED ? "failed" : "overdue");
                        (void) state_save(paths.state_dir, s->name, &state);
                } else if (!bad && !state_reported_ok(&state)) {
                        snprintf(msg, sizeof msg, "%s: backups work again", s->name);
                        NotifyMessage m = { .message = msg, .archive = newest ? newest->path : NULL, .unit = service };
                        (void) ctl_notify(s, NOTIFY_RECOVERED, &m, &state);
                        free(state.reported);
                        state.reported = strdup("ok");
                        (void) state_save(paths.state_dir, s->name, &state);
                }
                (void) ctl_write_metrics(s, flags & HEALTH_OVERDUE);
                log_set_context_field(NULL);
        }
        if (state.notify_error)
                flags |= HEALTH_NOTIFY_FAILED;

        printf("%s", s->name);
        print_flags(flags);
        printf("\n    Calendar: %s%s%s%s\n", s->on_calendar, cal_error ? "  (" : "", strempty(cal_error), cal_error ? ")" : "");
        if (bus)
                printf("    Next run: %s\n", next > 0 && next != UINT64_MAX ? relative(buf, next, now) : s->enabled ? "none (timer not active)" : "none (disabled)");
        if (last.kind >= 0)
                printf("    Last run: %s, %s\n", relative(buf, last.time_usec, now),
                       last.kind == EVENT_RUN_SUCCEEDED ? "succeeded" :
                       last.kind == EVENT_RUN_WARNINGS ? "succeeded with warnings" : "failed");
        else if (last_trigger > 0)
                printf("    Last run: %s\n", relative(buf, last_trigger, now));
        else
                printf("    Last run: never\n");
        if ((flags & HEALTH_FAILED) && last.message)
                printf("    Last error: %s\n", last.message);
        else if ((flags & HEALTH_FAILED) && result)
                printf("    Last error: %s ended with result '%s', exit status %" PRIi32 "\n", service, result, exit_status);
        if (r < 0)
                printf("    Archives: cannot read %s: %s\n", s->destination, strerror(-r));
        else if (newest)
                printf("    Newest archive: %s (%s, %s)\n", newest->path, format_bytes(bytes, newest->size),
                       relative(buf, newest->time_usec, now));
        else
                printf("    Newest archive: none in %s\n", s->destination);
        if (flags & HEALTH_OVERDUE)
                printf("    Overdue: no archive for more than 1.5 times the schedule's period\n");
        if (s->expects)
                print_unexpected(s);
        if (flags & HEALTH_SHRUNK)
                printf("    Shrunk: the last run read far less than usual: %s\n", last.shrunk);
        if (state.notify_error) {
                char when[FORMAT_TIMESTAMP_MAX];
                printf("    Notification failed (%s): %s\n", format_timestamp(when, state.notify_error_usec), state.notify_error);
        }
        STRV_FOREACH(spec, s->copy_to) {
                _cleanup_copy_target_free_ CopyTarget *t = NULL;
                _cleanup_free_ char *parse_error = NULL;
                const CopyState *c = state_copy_find(&state, *spec);
                const char *shown = copy_target_parse(*spec, &t, &parse_error) >= 0 ? t->display : "?";
                char good[64], failed[64];
                if (c && c->last_good_usec > 0)
                        relative(good, c->last_good_usec, now);
                else
                        snprintf(good, sizeof good, "never");
                if (c && c->failed_usec > 0)
                        printf("    COPY FAILED to %s %s: %s\n      last good copy: %s\n", shown,
                               relative(failed, c->failed_usec, now), strempty(c->error), good);
                else
                        printf("    Copy to %s: last good copy %s\n", shown, good);
        }
        if (flags & HEALTH_INACTIVE)
                printf("    Timer %s is not running (%s): run '%s start %s'\n", timer, strempty(timer_state),
                       program_invocation_short_name, s->name);

        archive_list_free(list, n);
        return flags;
}

int verb_status(int argc, char **argv) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const ScheduleDir *d = &ctx.schedules;
        unsigned all = 0;

        /* Not VERB_BUS: without the manager, status still shows what the files and the journal know. */
        if (!arg.no_reload && manager_connect(arg.user, &bus) < 0)
                bus = NULL;     /* said why; show what the files and the journal know */

        if (argc > 1) {
                const ScheduleEntry *e;
                if (ctl_find_schedule(d, argv[1], &e) < 0)
                        return EXIT_USAGE;
                all = status_one(bus, e);
                if (e->schedule)
                        ctl_print_trend(e->schedule->name);
        } else {
                if (d->n == 0)
                        printf("No schedules in %s.\n", paths.schedules_dir);
                for (size_t i = 0; i < d->n; i++) {
                        if (i > 0)
                                putchar('\n');
                        all |= status_one(bus, &d->entries[i]);
                }
                if (arg.notify)
                        (void) ctl_prune_metrics();
        }
        if (!bus && !arg.no_reload)
                return EXIT_FAILED;
        return all & HEALTH_UNHEALTHY ? EXIT_FAILED : EXIT_OK;
}

static void print_event(sd_journal *j) {
        EventKind k = history_kind(j);
        uint64_t t = 0;
        char when[32];

        if (k < 0)
                return;
        (void) sd_journal_get_realtime_usec(j, &t);
        time_t tt = (time_t) (t / USEC_PER_SEC);
        struct tm tm;
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime_r(&tt, &tm));

        _cleanup_free_ char *name = history_field(j, "ALEXANDRIA_SCHEDULE"), *msg = history_field(j, "MESSAGE"),
                            *archive = history_field(j, "ALEXANDRIA_ARCHIVE"), *files = history_field(j, "ALEXANDRIA_FILES"),
                            *bytes = history_field(j, "ALEXANDRIA_BYTES"), *dur = history_field(j, "ALEXANDRIA_DURATION_USEC"),
                            *warnings = history_field(j, "ALEXANDRIA_WARNINGS"), *source = history_field(j, "ALEXANDRIA_SOURCE");
        const char *n = strempty(name);

        switch (k) {
        case EVENT_RUN_SUCCEEDED:
        case EVENT_RUN_WARNINGS:
                printf("[%s] Backup done for %s in %s (%s files, %.1f MiB, %.1fs)", when, n, strempty(archive), files ?: "?",
                       bytes ? strtod(bytes, NULL) / (1024 * 1024) : 0.0, dur ? strtod(dur, NULL) / USEC_PER_SEC : 0.0);
                if (k == EVENT_RUN_WARNINGS)
                        printf(" with %s warnings", warnings ?: "some");
                putchar('\n');
                break;
        case EVENT_RUN_FAILED: {
                /* "Backup of NAME failed: why" → "why" */
                const char *why = msg ? strstr(msg, " failed: ") : NULL;
                printf("[%s] Backup FAILED for %s: %s\n", when, n, why ? why + 9 : strempty(msg));
                break;
        }
        case EVENT_RUN_STARTED:
                printf("[%s] Backup started for %s from %s\n", when, n, strempty(source));
                break;
        case EVENT_FILE_WARNING:
                printf("[%s] Warning for %s: %s\n", when, n, strempty(msg));
                break;
        default:
                printf("[%s] %s\n", when, strempty(msg));
        }
}

int verb_logs(int argc, char **argv) {
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        const char *name = argc > 1 ? argv[1] : NULL;
        int r;

        if (name && !schedule_name_is_valid(name)) {
                log_error("Invalid schedule name '%s'.", name);
                return EXIT_USAGE;
        }
        r = history_open(name, &j);
        if (r < 0) {
                log_error_errno(r, "Cannot open the journal: %m");
                return EXIT_FAILED;
        }
        SD_JOURNAL_FOREACH(j)
                print_event(j);
        return EXIT_OK;
}

int verb_report_failure(int argc, char **argv) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *result = NULL;
        const char *name = argv[1];
        char service[UNIT_NAME_MAX], field[128];
        int32_t status = 0;
        int r;

        if (!schedule_name_is_valid(name)) {
                log_error("Invalid schedule name '%s'.", name);
                return EXIT_USAGE;
        }
        snprintf(field, sizeof field, "ALEXANDRIA_SCHEDULE=%s", name);
        log_set_context_field(field);
        unit_name_service(service, name);

        if (manager_connect(arg.user, &bus) < 0)
                return EXIT_FAILED;
        r = ctl_service_result(bus, service, &result, &status, &error);
        if (r < 0) {
                log_error_errno(r, "%s failed; cannot read why: %s", service, bus_error_text(&error, r));
                return EXIT_FAILED;
        }

        /* Exit statuses 1, 2 and 4 are the worker's own: it already sent the
         * failure event with its reason. Anything else (a signal, a missing
         * binary, a timeout) happened to it, and only we can tell. */
        if (streq(result, "exit-code") && (status == EXIT_FAILED || status == EXIT_USAGE || status == EXIT_BUSY)) {
                log_error("%s failed with exit status %" PRIi32 "; the worker's message says why.", service, status);
                return EXIT_OK;
        }
        EventFields f = EVENT_FIELDS_INIT(name);
        (void) event_emit(EVENT_RUN_FAILED, &f, "Backup of %s failed: %s ended with result '%s' (status %" PRIi32 ") "
                          "before the worker could report", name, service, result, status);
        return EXIT_OK;
}
