/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <unistd.h>

#include "events.h"
#include "exit-codes.h"
#include "format-util.h"
#include "log.h"
#include "path-util.h"
#include "record.h"
#include "unexpected.h"
#include "schedule-dir.h"
#include "worker.h"

/* Encryption=yes: the key comes as the systemd credential "alexandria.key"
 * (LoadCredential= in the generated drop-in), or from KeyFile= itself. */
static int load_key(const Schedule *s, CryptKeySource **ret, char **ret_error) {
        _cleanup_free_ char *error = NULL, *credential = NULL;
        const char *dir = getenv("CREDENTIALS_DIRECTORY"), *path = s->key_file;
        int r;

        *ret = NULL;
        if (!s->encryption)
                return 0;
        if (dir) {
                credential = path_join(dir, "alexandria.key");
                if (!credential)
                        return -ENOMEM;
                if (access(credential, F_OK) >= 0)
                        path = credential;
        }
        r = crypt_key_load(path, ret, &error);
        if (r < 0)
                return errorf(ret_error, r, "Cannot use key file %s: %s", path, error ?: strerror(-r));
        return 0;
}

/* Expect=: keep the list of this run's unexpected files and say how many,
 * naming the first few. Not a warning of the run: the files are stored,
 * and a schedule whose admin has not sorted them out yet must not turn
 * every run into "with warnings". */
static void report_unexpected(const Paths *paths, const char *name, const BackupResult *res, char digest[static 65]) {
        _cleanup_free_ char *list_path = unexpected_path(paths->state_dir, name), *summary = NULL;
        int r;

        if (!list_path || unexpected_digest(res->unexpected, digest) < 0) {
                log_oom();
                return;
        }
        r = unexpected_save(paths->state_dir, name, res->unexpected);
        if (r < 0)
                log_warning_errno(r, "Cannot keep the list of unexpected files of %s in %s: %m", name, list_path);
        if (res->n_unexpected == 0)
                return;
        summary = unexpected_summary(res->unexpected, res->n_unexpected, UNEXPECTED_SHOWN);
        EventFields f = EVENT_FIELDS_INIT(name);
        f.archive = res->archive;
        f.unexpected = res->n_unexpected;
        (void) event_emit(EVENT_UNEXPECTED_FILES, &f, "%" PRIu64 " file%s of %s not covered by Expect=: %s "
                          "(all of them in %s)", res->n_unexpected, res->n_unexpected == 1 ? "" : "s", name,
                          strempty(summary), list_path);
        if (!log_on_journal())
                fprintf(stderr, "%" PRIu64 " unexpected file%s (no Expect= covers them): %s\n"
                        "  all of them: %s, or alexandria-ctl files %s --unexpected\n",
                        res->n_unexpected, res->n_unexpected == 1 ? "" : "s", strempty(summary), list_path, name);
}

static int exit_code_of(int r, const BackupResult *res) {
        if (r == -EBUSY)
                return EXIT_BUSY;
        if (r < 0 || res->copies.failed > 0)
                return EXIT_FAILED;
        return res->stats.warnings > 0 ? EXIT_WARNINGS : EXIT_OK;
}

/* The record of this run, for everything that reports on runs (record.h). */
static void save_record(const Paths *paths, const char *name, char * const *sources_walked, const BackupResult *res,
                        int exit_code, const char *unexpected_sha256) {
        RunRecord rec = {
                .schedule = (char *) name,
                .invocation = getenv("INVOCATION_ID"),
                .start_usec = res->start_usec ?: now_realtime_usec(),
                .end_usec = now_realtime_usec(),
                .result = exit_code == EXIT_OK ? RUN_SUCCEEDED : exit_code == EXIT_WARNINGS ? RUN_WARNINGS : RUN_FAILED,
                .exit_status = exit_code,
                .kind = res->archive ? (char *) (res->incremental ? "incremental" : "full") : NULL,
                .archive = res->archive,
                .files = res->stats.files,
                .bytes_read = res->stats.bytes,
                .archive_bytes = res->archive ? res->stats.archive_bytes : 0,
                .warnings = res->stats.warnings,
                .warning_messages = res->warnings,
                .pruned = res->pruned,
                .point_files = res->incremental ? res->point.files : 0,
                .point_bytes = res->incremental ? res->point.bytes : 0,
                .source_files = res->point.source_files,
                .error = res->error,
                .unexpected = res->n_unexpected,
                .unexpected_sha256 = (char *) unexpected_sha256,
                .shrunk = res->shrunk,
        };
        _cleanup_strv_free_ char **copies = NULL;
        for (size_t i = 0; i < res->copies.n; i++) {
                const CopyOutcome *o = &res->copies.targets[i];
                char *line;
                if (asprintf(&line, "%s %u %u %u %s%s%s", o->error < 0 ? "failed" : "ok", o->sent, o->present, o->deleted,
                             o->target, o->error < 0 ? " " : "", o->error < 0 ? strempty(o->message) : "") < 0 ||
                    strv_push(&copies, line) < 0)
                        break;
        }
        rec.copies = copies;
        _cleanup_strv_free_ char **sources = NULL;
        for (size_t i = 0; res->archive && i < res->point.n_sources && sources_walked[i]; i++) {
                char *line;
                if (record_source_format(res->point.source_files_of[i], sources_walked[i], &line) < 0 ||
                    strv_push(&sources, line) < 0)
                        break;
        }
        rec.sources = sources;
        int r = record_save(paths->state_dir, &rec);
        if (r < 0)
                log_warning_errno(r, "Cannot write the run record of %s in %s: %m", name, paths->state_dir);
}

/* What the earlier runs read, from their records. */
static int usual_of(const Paths *paths, const Schedule *s, RunUsual *ret) {
        RunRecord *list = NULL;
        size_t n = 0;
        /* failed runs are skipped: look back further than SHRINK_HISTORY */
        if (record_list(paths->state_dir, s->name, 4 * SHRINK_HISTORY, &list, &n) < 0)
                n = 0;
        int r = shrink_usual(list, n, s->sources, ret);
        record_list_free(list, n);
        return r;
}

static void print_summary(const char *name, const BackupResult *res) {
        char bytes[FORMAT_BYTES_MAX], abytes[FORMAT_BYTES_MAX], dur[FORMAT_DURATION_MAX];

        fprintf(stderr, "Backup done for %s in %s (%" PRIu64 " files, %s read, %s written, %s).\n",
                name, res->archive, res->stats.files,
                format_bytes(bytes, res->stats.bytes),
                format_bytes(abytes, res->stats.archive_bytes),
                format_duration(dur, res->duration_usec));
        if (res->plan)
                fprintf(stderr, "  %s\n", res->plan);
        for (size_t i = 0; i < res->copies.n; i++) {
                const CopyOutcome *o = &res->copies.targets[i];
                if (o->error < 0)
                        fprintf(stderr, "  %s: copy FAILED: %s\n", o->target, strempty(o->message));
                else
                        fprintf(stderr, "  copied to %s: %u sent, %u already there, %u removed there\n",
                                o->target, o->sent, o->present, o->deleted);
        }
        if (res->shrunk)
                fprintf(stderr, "  It read far less than usual: %s; older archives were not pruned.\n", res->shrunk);
        if (res->stats.warnings > 0)
                fprintf(stderr, "  with %" PRIu64 " warning%s (see above).\n",
                        res->stats.warnings, res->stats.warnings == 1 ? "" : "s");
        if (res->copies.failed > 0)
                fprintf(stderr, "Backup of %s failed: %s\n", name, strempty(res->error));
}

int worker_run(const Paths *paths, const char *name, const BackupCallbacks *cb) {
        _cleanup_schedule_free_ Schedule *s = NULL;
        _cleanup_(crypt_key_freep) CryptKeySource *key = NULL;
        BackupResult res = { .start_usec = now_realtime_usec() };
        int r, code;

        r = schedule_load_name(paths->schedules_dir, name, paths->default_destination, paths->owner, &s, &res.error);
        if (r >= 0)
                r = schedule_check_resolved_paths(s, &res.error);
        /* Dump=, ExecStartPre=, ExecStopPost=: their commands must exist now */
        if (r >= 0)
                r = schedule_check_commands(s, &res.error);
        if (r >= 0) {
                /* a group that is gone is bad input like a bad key, not a failed run */
                _cleanup_free_ char *group_error = NULL;
                r = schedule_check_group(s, &group_error);
                if (r < 0) {
                        r = errorf(&res.error, -EINVAL, "%s: %s", strempty(s->path), strempty(group_error));
                        s = schedule_free(s);
                }
        }
        if (r < 0) {
                /* Nothing ran: the schedule is wrong, which is bad input (2)
                 * and changes nothing, not even the run records; status
                 * shows the broken schedule itself. */
                code = r == -ENOMEM ? EXIT_FAILED : EXIT_USAGE;
                log_error("%s", res.error ?: strerror(-r));
                EventFields f = EVENT_FIELDS_INIT(name);
                f.error = r;
                (void) event_emit(EVENT_RUN_FAILED, &f, "Backup of %s failed: %s", name,
                                  r == -ENOENT ? "schedule file missing" : res.error ?: strerror(-r));
                backup_result_done(&res);
                return code;
        }

        r = load_key(s, &key, &res.error);
        if (r >= 0) {
                BackupInput in = { .key = key, .cb = cb, .state_dir = paths->state_dir };
                free(res.error);
                res.error = NULL;
                r = usual_of(paths, s, &in.usual);
                if (r >= 0)
                        r = backup_run(s, &in, &res);
                shrink_usual_done(&in.usual);
        } else {
                EventFields f = EVENT_FIELDS_INIT(name);
                f.error = r;
                (void) event_emit(EVENT_RUN_FAILED, &f, "Backup of %s failed: %s", name, res.error);
        }
        code = exit_code_of(r, &res);

        if (r == -EBUSY)
                log_error("%s", res.error ?: "Another run of this schedule is in progress.");
        else {
                char digest[65];
                bool expect = r >= 0 && res.unexpected;
                if (expect)
                        report_unexpected(paths, name, &res, digest);
                save_record(paths, name, s->sources, &res, code, expect ? digest : NULL);
                /* The event carries the outcome to the journal; repeat it only where it would not land there. */
                if (!log_on_journal()) {
                        if (r < 0)
                                log_error("Backup of %s failed: %s", name, res.error ?: strerror(-r));
                        else
                                print_summary(name, &res);
                }
        }
        backup_result_done(&res);
        return code;
}
