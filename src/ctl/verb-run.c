/* SPDX-License-Identifier: MIT */
/* run NAME: through the manager, exactly as the timer would, waiting like
 * `systemctl start --wait`. run --here NAME: the worker in this process,
 * with a progress line on a terminal. */
#include <inttypes.h>

#include "ctl.h"
#include "format-util.h"
#include "hooks.h"
#include "log.h"
#include "manager.h"
#include "record.h"
#include "units.h"
#include "worker.h"

typedef struct Progress {
        bool tty;
        bool line_shown;
        uint64_t start, last;
} Progress;

static void progress_clear(Progress *p) {
        if (p->tty && p->line_shown) {
                fputs("\r\033[K", stderr);
                p->line_shown = false;
        }
}

static void on_progress(const BackupStats *s, const char *current, void *userdata) {
        Progress *p = userdata;
        uint64_t now = now_monotonic_usec();
        char bytes[FORMAT_BYTES_MAX], rate[FORMAT_BYTES_MAX];

        if (now - p->last < (p->tty ? USEC_PER_SEC / 10 : 5 * USEC_PER_SEC))
                return;
        p->last = now;
        double secs = (double) (now - p->start) / USEC_PER_SEC;
        format_bytes(bytes, s->bytes);
        format_bytes(rate, secs > 0 ? (uint64_t) ((double) s->bytes / secs) : 0);

        if (p->tty) {
                char head[128];
                int n = snprintf(head, sizeof head, "%" PRIu64 " files  %s  %s/s  ", s->files, bytes, rate);
                int width = 80 - n;
                const char *c = strempty(current);
                size_t len = strlen(c);
                /* keep the end of long paths: that is the part that changes */
                if (width > 4 && len > (size_t) width)
                        fprintf(stderr, "\r\033[K%s…%s", head, c + len - (size_t) width + 1);
                else
                        fprintf(stderr, "\r\033[K%s%s", head, c);
                p->line_shown = true;
        } else
                fprintf(stderr, "progress: %" PRIu64 " files, %s read, %s/s, at %s\n", s->files, bytes, rate, strempty(current));
}

static void on_warning(const char *message, void *userdata) {
        Progress *p = userdata;
        progress_clear(p);
        fprintf(stderr, "warning: %s\n", message);
}

static int run_worker_here(const char *name) {
        uint64_t now = now_monotonic_usec();
        Progress p = { .tty = isatty(STDERR_FILENO), .start = now, .last = now };
        BackupCallbacks cb = { .progress = on_progress, .warning = on_warning, .userdata = &p };
        int r = worker_run(&paths, name, &cb);
        progress_clear(&p);
        return r;
}

/* What the service does around the worker, here: ExecStartPre= first (one
 * that fails means no backup), ExecStopPost= always, with the outcome in
 * $SERVICE_RESULT, $EXIT_CODE, $EXIT_STATUS. A schedule that does not load
 * has no hooks to run; the worker reports why. */
static int run_here(const char *name) {
        _cleanup_schedule_free_ Schedule *s = NULL;
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *error = NULL;
        HookStatus main_status = { CLD_EXITED, EXIT_FAILED };
        int code, r;

        if (schedule_load_name(paths.schedules_dir, name, paths.default_destination, paths.owner, &s, &error) < 0 ||
            (s->n_exec_start_pre == 0 && s->n_exec_stop_post == 0))
                return run_worker_here(name);
        free(error);
        error = NULL;

        r = schedule_check_commands(s, &error);
        if (r < 0) {
                log_error("%s", error ?: strerror(-r));
                return r == -ENOMEM ? EXIT_FAILED : EXIT_USAGE;
        }
        r = hooks_run("ExecStartPre", s->exec_start_pre, s->n_exec_start_pre, NULL, &main_status, &error);
        if (r < 0) {
                log_error("%s; the backup of %s did not run.", error ?: strerror(-r), name);
                code = EXIT_FAILED;
        } else {
                code = run_worker_here(name);
                main_status = (HookStatus) { CLD_EXITED, code };
        }
        /* SuccessExitStatus=3 4 */
        bool success = r >= 0 && (code == EXIT_OK || code == EXIT_WARNINGS || code == EXIT_BUSY);
        free(error);
        error = NULL;
        if (hooks_stop_post_env(success, r >= 0, &main_status, &env) < 0)
                return log_oom(), EXIT_FAILED;
        r = hooks_run("ExecStopPost", s->exec_stop_post, s->n_exec_stop_post, env, NULL, &error);
        if (r < 0) {
                log_error("%s.", error ?: strerror(-r));
                if (success)
                        code = EXIT_FAILED;
        }
        return code;
}

static void on_tick(sd_bus *bus, void *userdata) {
        const char *unit = userdata;
        _cleanup_free_ char *status = NULL;
        if (!isatty(STDERR_FILENO))
                return;
        if (manager_get_string(bus, unit, "Service", "StatusText", &status, NULL) >= 0 && !isempty(status))
                fprintf(stderr, "\r\033[K%.100s", status);
}

static int run_via_manager(const Schedule *s) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *job_result = NULL, *result = NULL;
        char unit[UNIT_NAME_MAX];
        int32_t status = -1;
        int r;

        unit_name_service(unit, s->name);
        if (manager_connect(arg.user, &bus) < 0)
                return EXIT_FAILED;

        r = manager_start_unit(bus, unit, MANAGER_WAIT_FOREVER, on_tick, unit, &job_result, &error);
        if (isatty(STDERR_FILENO))
                fputs("\r\033[K", stderr);
        if (r < 0) {
                log_error_errno(r, "Cannot start %s: %s", unit, bus_error_text(&error, r));
                return EXIT_FAILED;
        }
        sd_bus_error_free(&error);
        r = ctl_service_result(bus, unit, &result, &status, &error);
        if (r < 0) {
                log_error_errno(r, "Cannot read the result of %s: %s", unit, bus_error_text(&error, r));
                return EXIT_FAILED;
        }

        /* The worker's record of this very invocation names its archive. */
        _cleanup_(record_done) RunRecord rec = RUN_RECORD_NULL;
        char invocation[33];
        if (manager_get_invocation_id(bus, unit, invocation, NULL) < 0 ||
            record_find(paths.state_dir, s->name, invocation, &rec) < 0)
                rec = RUN_RECORD_NULL;
        /* (unknown to a caller who may not read the records: the pull account) */
        const char *archive_sep = rec.archive ? "; archive " : "", *archive = strempty(rec.archive);

        int code;
        if (streq(job_result, "done") && status == EXIT_OK) {
                printf("%s: succeeded%s%s\n", unit, archive_sep, archive);
                code = EXIT_OK;
        } else if (status == EXIT_WARNINGS) {
                printf("%s: succeeded with warnings%s%s\n", unit, archive_sep, archive);
                printf("See: %s logs %s\n", program_invocation_short_name, s->name);
                code = EXIT_WARNINGS;
        } else if (status == EXIT_BUSY) {
                /* not a failure: another run (run --here) is writing the archive right now */
                printf("%s: yielded: another run of %s holds its lock and is writing the archive (exit status 4)\n",
                       unit, s->name);
                code = EXIT_BUSY;
        } else {
                printf("%s: failed (job %s, result %s, exit status %" PRIi32 ")\n", unit, job_result, result, status);
                if (rec.error)
                        printf("%s\n", rec.error);
                printf("See: %s logs %s\n", program_invocation_short_name, s->name);
                code = EXIT_FAILED;
        }
        if (rec.unexpected_sha256 && rec.unexpected > 0)
                printf("%" PRIu64 " stored file%s no Expect= covers: %s files %s --unexpected\n", rec.unexpected,
                       rec.unexpected == 1 ? "" : "s", program_invocation_short_name, s->name);
        return code;
}

int verb_run(int argc, char **argv) {
        const Schedule *s;

        if (arg.here)
                return run_here(argv[1]);
        if (ctl_find_valid_schedule(&ctx.schedules, argv[1], &s) < 0)
                return EXIT_USAGE;
        return run_via_manager(s);
}
