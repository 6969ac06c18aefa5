/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "events.h"
#include "exit-codes.h"
#include "format-util.h"
#include "log.h"
#include "path-util.h"
#include "worker.h"

static int load(const Paths *paths, const char *name, Schedule **ret) {
        _cleanup_free_ char *file = NULL, *path = NULL, *error = NULL;
        int r;

        if (!schedule_name_is_valid(name)) {
                log_error("Invalid schedule name '%s': names are 1-%d characters from A-Z a-z 0-9 _ . -, starting with a letter or digit.",
                          name, SCHEDULE_NAME_MAX);
                return -EINVAL;
        }
        if (asprintf(&file, "%s.conf", name) < 0 || !(path = path_join(paths->schedules_dir, file)))
                return log_oom();

        r = schedule_load(path, paths->default_destination, paths->owner, ret, &error);
        if (r >= 0) {
                /* a group that is gone is bad input like a bad key, not a failed run */
                _cleanup_free_ char *group_error = NULL;
                r = schedule_check_group(*ret, &group_error);
                if (r < 0) {
                        *ret = schedule_free(*ret);
                        if (asprintf(&error, "%s: %s", path, strempty(group_error)) < 0)
                                error = NULL;
                        r = -EINVAL;
                }
        }
        if (r == -ENOENT)
                log_error("No schedule '%s': %s does not exist.", name, path);
        else if (r < 0)
                log_error("%s", error ?: strerror(-r));
        if (r < 0) {
                EventFields f = EVENT_FIELDS_INIT(name);
                f.error = r;
                (void) event_emit(EVENT_RUN_FAILED, &f, "Backup of %s failed: %s", name,
                                  r == -ENOENT ? "schedule file missing" : error ?: strerror(-r));
        }
        return r;
}

int worker_run(const Paths *paths, const char *name, const BackupCallbacks *cb) {
        _cleanup_schedule_free_ Schedule *s = NULL;
        char bytes[FORMAT_BYTES_MAX], abytes[FORMAT_BYTES_MAX], dur[FORMAT_DURATION_MAX];
        BackupResult result = {};
        int r, code;

        r = load(paths, name, &s);
        if (r < 0)
                return r == -ENOMEM ? EXIT_FAILED : EXIT_USAGE;

        BackupCallbacks with_state = cb ? *cb : (BackupCallbacks) {};
        with_state.state_dir = paths->state_dir;
        r = backup_run(s, &with_state, &result);
        if (r == -EBUSY) {
                log_error("%s", result.error ?: "Another run of this schedule is in progress.");
                code = EXIT_BUSY;
        } else if (r < 0) {
                /* The event carries the message to the journal; repeat it only where it would not land there. */
                if (!log_on_journal())
                        log_error("Backup of %s failed: %s", name, result.error ?: strerror(-r));
                code = EXIT_FAILED;
        } else if (result.copies.failed > 0) {
                /* the copy stage sent its events; the archive is there */
                if (!log_on_journal()) {
                        fprintf(stderr, "Backup of %s wrote %s (kept), but copying it offsite failed:\n", name, result.archive);
                        for (size_t i = 0; i < result.copies.n; i++)
                                if (result.copies.targets[i].error < 0)
                                        fprintf(stderr, "  %s: %s\n", result.copies.targets[i].target,
                                                strempty(result.copies.targets[i].message));
                }
                code = EXIT_FAILED;
        } else {
                if (!log_on_journal())
                        fprintf(stderr, "Backup done for %s in %s (%" PRIu64 " files, %s read, %s written, %s).\n",
                                name, result.archive, result.stats.files,
                                format_bytes(bytes, result.stats.bytes),
                                format_bytes(abytes, result.stats.archive_bytes),
                                format_duration(dur, result.duration_usec));
                for (size_t i = 0; i < result.copies.n && !log_on_journal(); i++)
                        fprintf(stderr, "  copied to %s: %u sent, %u already there, %u removed there\n",
                                result.copies.targets[i].target, result.copies.targets[i].sent,
                                result.copies.targets[i].present, result.copies.targets[i].deleted);
                if (result.stats.warnings > 0 && !log_on_journal())
                        fprintf(stderr, "  with %" PRIu64 " warning%s (see above).\n",
                                result.stats.warnings, result.stats.warnings == 1 ? "" : "s");
                code = result.stats.warnings > 0 ? EXIT_WARNINGS : EXIT_OK;
        }
        backup_result_done(&result);
        return code;
}
