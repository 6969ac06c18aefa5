/* SPDX-License-Identifier: MIT */
/* The run's orchestrator: it owns the stages' objects and the order of
 * cleanup, and reads as the story of a run (backup_run() at the end). */
#include <inttypes.h>

#include "archive-list.h"
#include "backup.h"
#include "destination.h"
#include "dump.h"
#include "events.h"
#include "format-util.h"
#include "incremental.h"
#include "locks.h"
#include "log.h"
#include "package-state.h"
#include "path-util.h"
#include "retention.h"
#include "select.h"
#include "verify.h"
#include "write.h"

char *schedule_sources_string(const Schedule *s) {
        size_t len = 1;
        STRV_FOREACH(p, s->sources)
                len += strlen(*p) + 1;
        char *out = malloc(len), *o = out;
        if (!out)
                return NULL;
        *o = 0;
        STRV_FOREACH(p, s->sources)
                o = stpcpy(stpcpy(o, o == out ? "" : " "), *p);
        return out;
}

static int store_selected(struct archive_entry *entry, int fd, const struct stat *st, const FileContent *content,
                          void *userdata, char **ret_error) {
        return archive_writer_add_file(userdata, entry, fd, st, content, ret_error);
}

/* SkipPackaged=yes: the package state is a producer of generated entries
 * (package-state.h), stored like dumps. */
typedef struct GeneratedTarget {
        ArchiveWriter *writer;
        RunReport *report;
        char **ret_error;
} GeneratedTarget;

static int store_generated(const char *name, int fd, uint64_t size, void *userdata) {
        GeneratedTarget *t = userdata;
        return archive_writer_add_stream(t->writer, name, 0600, now_realtime_usec() / USEC_PER_SEC, fd, size, t->ret_error);
}

static void warn_generated(const char *message, void *userdata) {
        GeneratedTarget *t = userdata;
        report_warning(t->report, NULL, "%s", message);
}

static int write_package_state(ArchiveWriter *w, RunReport *report, char **ret_error) {
        GeneratedTarget t = { .writer = w, .report = report, .ret_error = ret_error };
        GeneratedEntrySink sink = { .entry = store_generated, .warning = warn_generated, .userdata = &t };
        return package_state_produce(&sink);
}

static void dump_started(const char *entry, void *userdata) {
        RunReport *report = userdata;
        _cleanup_free_ char *what = NULL;
        if (report->cb && report->cb->progress && asprintf(&what, "dump %s", entry) >= 0)
                report->cb->progress(&report->stats, what, report->cb->userdata);
}

/* LockFile=: the services' locks, held from before the walk until the
 * archive is linked. A lock file that is not there is a warning. */
static int take_service_locks(const Schedule *s, RunReport *report, LockSet *ret, char **ret_error) {
        uint64_t timeout = s->lock_timeout_sec == SCHEDULE_TIMEOUT_INFINITY ? UINT64_MAX : s->lock_timeout_sec * USEC_PER_SEC;
        int r = locks_acquire(s->locks, s->n_locks, timeout, ret, ret_error);
        if (r < 0)
                return r;
        STRV_FOREACH(p, ret->missing)
                report_warning(report, *p, "LockFile=%s does not exist; the sources were read without it", *p);
        return 0;
}

/* What the dumps or the package state added since BEFORE: entries the run
 * made itself, which belong to every restore point, not to the walk. */
static void count_generated(RunReport *report, const BackupStats *before) {
        report->generated_files += report->stats.files - before->files;
        report->generated_bytes += report->stats.bytes - before->bytes;
}

/* select → dumps → write: the archive's whole content, into the unnamed
 * file; the dumps (spooled before) first, then the walk, then the package
 * state (SkipPackaged=yes). */
static int write_archive(const Schedule *s, const CryptKeySource *key, Destination *dest, Selection *sel,
                         Incremental *inc, DumpSet *dumps, RunReport *report, char **ret_error) {
        _cleanup_(archive_writer_freep) ArchiveWriter *w = NULL;
        _cleanup_free_ char *label = path_join(s->destination, dest->out.name);
        int r;

        if (!label)
                return -ENOMEM;
        r = archive_writer_new(dest->out.fd, dest->fd, s->compression, key, label, report, &w, ret_error);
        if (r < 0)
                return r;
        r = incremental_write_header(inc, w, ret_error);
        if (r < 0)
                return r;
        BackupStats before = report->stats;
        r = dumps_store(dumps, w, report, ret_error);
        count_generated(report, &before);
        if (r < 0)
                return r;
        r = selection_walk(sel, store_selected, w, ret_error);
        if (r >= 0 && s->skip_packaged) {
                before = report->stats;
                r = write_package_state(w, report, ret_error);
                count_generated(report, &before);
        }
        if (r < 0)
                return r;
        r = incremental_write_deletions(inc, w, ret_error);
        if (r < 0)
                return r;
        /* the header and the deletions describe the archive: they are not files */
        if (incremental_is_incremental(inc))
                report->stats.files -= 2;
        r = archive_writer_finish(w, ret_error);
        if (r < 0)
                return r;
        report->stats.archive_bytes = archive_writer_bytes_out(w);
        return 0;
}

/* Verify=yes: the new archive is read back whole before retention may
 * delete anything older. */
static int verify_new_archive(const Schedule *s, const CryptKeySource *key, const char *archive, char **ret_error) {
        VerifyResult v;
        int r;

        if (!s->verify)
                return 0;
        r = verify_archive(archive, key, archive_report_log, NULL, &v);
        if (r < 0)
                return errorf(ret_error, r, "The new archive %s cannot be read back; older archives are kept.", archive);
        if (!verify_result_ok(&v)) {
                /* Keep it for a post-mortem, under a name that is no archive's:
                 * it must not count as the newest backup, nor for Keep=. */
                _cleanup_free_ char *bad = NULL;
                if (asprintf(&bad, "%s.failed-verification", archive) >= 0)
                        (void) rename(archive, bad);
                return errorf(ret_error, -EBADMSG, "The new archive does not match its manifest (%" PRIu64 " missing, %" PRIu64
                              " extra, %" PRIu64 " corrupt); kept as %s, older archives are untouched.",
                              v.missing, v.extra, v.corrupt, bad ?: archive);
        }
        return 0;
}

/* ShrinkWarn=: a run that read far less than usual wrote an archive, but
 * probably not of what it should have (an unmounted disk, a moved source):
 * a warning, and no retention, so the usual archives are not pruned for it. */
static int compare_with_usual(const Schedule *s, const RunUsual *usual, RunReport *report, const RunPoint *point,
                              char **ret_shrunk) {
        /* an incremental run stores little: what counts is the restore point it makes */
        int r = shrink_check(usual, point, s->sources, s->shrink_warn, ret_shrunk);
        if (r <= 0)
                return r;
        report->stats.warnings++;
        EventFields f = EVENT_FIELDS_INIT(s->name);
        f.files = report->stats.files;
        f.bytes = report->stats.bytes;
        (void) event_emit(EVENT_RUN_SHRANK, &f, "Backup of %s read far less than usual: %s. Older archives are not pruned.",
                          s->name, *ret_shrunk);
        return 1;
}

static void emit_outcome(const Schedule *s, const char *sources, const BackupResult *res, int r) {
        EventFields f = EVENT_FIELDS_INIT(s->name);
        f.source = sources;
        f.files = res->stats.files;
        f.bytes = res->stats.bytes;
        f.warnings = res->stats.warnings;
        f.duration_usec = res->duration_usec;

        if (r < 0) {
                f.error = r;
                (void) event_emit(EVENT_RUN_FAILED, &f, "Backup of %s failed: %s", s->name, res->error ?: strerror(-r));
                return;
        }
        f.archive = res->archive;
        f.archive_bytes = res->stats.archive_bytes;
        f.kind = res->incremental ? "incremental" : "full";
        const CopyOutcome *copy_failed = copy_results_first_failure(&res->copies);
        if (res->copies.failed > 0) {
                f.copy_target = copy_failed ? copy_failed->target : NULL;
                f.error = -EIO;
                (void) event_emit(EVENT_RUN_FAILED, &f, "Backup of %s failed: %s", s->name, strempty(res->error));
        } else if (res->stats.warnings > 0)
                (void) event_emit(EVENT_RUN_WARNINGS, &f,
                                  "Backup done for %s in %s (%" PRIu64 " files, %" PRIu64 " bytes) with %" PRIu64 " warnings.",
                                  s->name, res->archive, res->stats.files, res->stats.bytes, res->stats.warnings);
        else
                (void) event_emit(EVENT_RUN_SUCCEEDED, &f, "Backup done for %s in %s (%" PRIu64 " files, %" PRIu64 " bytes).",
                                  s->name, res->archive, res->stats.files, res->stats.bytes);
}

int backup_run(const Schedule *s, const BackupInput *in, BackupResult *ret) {
        uint64_t start = now_monotonic_usec();
        _cleanup_(destination_close) Destination dest = DESTINATION_NULL;
        _cleanup_(selection_freep) Selection *sel = NULL;
        _cleanup_(incremental_freep) Incremental *inc = NULL;
        _cleanup_(report_done) RunReport report = { .schedule = s->name, .cb = in->cb };
        _cleanup_(dump_set_done) DumpSet dumps = {};
        _cleanup_(locks_release) LockSet locks = {};
        _cleanup_free_ char *sources = schedule_sources_string(s), *name = NULL;
        BackupResult res = { .start_usec = now_realtime_usec() };
        int r;

        if (!sources)
                return -ENOMEM;

        r = destination_open(s, &dest, &res.error);
        if (r == -EBUSY) {
                /* Not a failure of this schedule: the running one reports for it. */
                *ret = res;
                return r;
        }

        /* FullEvery=: full or incremental, said when the run starts */
        if (r >= 0)
                r = incremental_plan(s, dest.fd, res.start_usec, &inc, &res.error);
        if (r >= 0 && inc) {
                res.incremental = incremental_is_incremental(inc);
                res.plan = strdup(incremental_reason(inc));
                if (!res.plan)
                        r = -ENOMEM;
        }

        EventFields f = EVENT_FIELDS_INIT(s->name);
        f.source = sources;
        f.kind = r >= 0 && inc ? (res.incremental ? "incremental" : "full") : NULL;
        (void) event_emit(EVENT_RUN_STARTED, &f, "Backup of %s started for %s%s%s%s.", s->name, sources,
                          res.plan ? " (" : "", strempty(res.plan), res.plan ? ")" : "");

        if (r >= 0)
                r = selection_new(s, &dest.st, &report, &sel, &res.error);
        if (r >= 0)
                r = selection_check_sources(sel, &res.error);
        dest.incremental = res.incremental;
        if (r >= 0)
                r = dumps_run_all(s, dest.fd, dump_started, &report, &dumps, &res.error);
        if (r >= 0)
                r = take_service_locks(s, &report, &locks, &res.error);
        if (r >= 0) {
                destination_remove_stale(&dest, &report);
                r = destination_create_archive(&dest, res.start_usec, &name, &res.error);
        }
        if (r >= 0 && inc) {
                r = incremental_start(inc, name, &res.error);
                selection_set_incremental(sel, inc);
        }
        if (r >= 0)
                r = write_archive(s, in->key, &dest, sel, inc, &dumps, &report, &res.error);
        if (r >= 0)
                r = destination_link_archive(&dest, &res.archive, &res.error);
        /* the archive is complete: the services may go on */
        locks_release(&locks);
        if (r >= 0)
                r = verify_new_archive(s, in->key, res.archive, &res.error);
        /* The index describes the new archive only once it is safely there. */
        if (r >= 0 && inc)
                r = incremental_commit(inc, &res.error);
        res.point = (RunPoint) { report.stats.files, report.stats.bytes, sel ? selection_source_files(sel) : 0 };
        if (r >= 0) {
                size_t n;
                const uint64_t *of = selection_source_files_of(sel, &n);
                res.point.source_files_of = calloc(MAX(n, (size_t) 1), sizeof *of);
                res.point.n_sources = n;
                if (res.point.source_files_of)
                        memcpy(res.point.source_files_of, of, n * sizeof *of);
                else
                        r = -ENOMEM;
        }
        if (inc) {
                /* the index knows the walked part; the dumps are in every archive */
                incremental_point(inc, &res.point.files, &res.point.bytes);
                res.point.files += report.generated_files;
                res.point.bytes += report.generated_bytes;
        }
        if (r >= 0)
                r = selection_unexpected(sel, &res.unexpected, &res.n_unexpected);
        int shrank = r >= 0 ? compare_with_usual(s, &in->usual, &report, &res.point, &res.shrunk) : 0;
        if (shrank < 0)
                r = shrank;
        /* Offsite copies, once the archive is linked (copy.h): a failed one
         * fails the run, but the archive stays and retention still runs.
         * After a run that shrank the targets keep everything, as here. */
        if (r >= 0 && copy_run(s, in->state_dir, !shrank, &res.copies) < 0) {
                const CopyOutcome *o = copy_results_first_failure(&res.copies);
                (void) errorf(&res.error, -EIO, "the archive %s is written and kept, but the copy to %s failed: %s",
                              res.archive, o ? o->target : "the offsite targets", o ? strempty(o->message) : "out of memory");
        }
        /* Retention runs only after the new archive is safely in place. */
        if (r >= 0 && !shrank) {
                _cleanup_free_ char *error = NULL;
                if (retention_apply(s, res.archive, &res.pruned, &error) < 0)
                        report_warning(&report, s->destination, "%s", error ?: "Retention failed.");
        }

        if (r == -ENOMEM && !res.error)
                (void) errorf(&res.error, r, "Out of memory.");
        res.stats = report.stats;
        res.duration_usec = now_monotonic_usec() - start;
        res.warnings = TAKE_PTR(report.warnings);
        emit_outcome(s, sources, &res, r);
        *ret = res;
        return r;
}

void backup_result_done(BackupResult *r) {
        free(r->archive);
        free(r->unexpected);
        copy_results_done(&r->copies);
        free(r->plan);
        strv_free(r->warnings);
        free(r->shrunk);
        free(r->point.source_files_of);
        free(r->error);
        *r = (BackupResult) {};
}
