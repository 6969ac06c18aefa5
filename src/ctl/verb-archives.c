/* SPDX-License-Identifier: MIT */
/* backups: the archives in the destinations, which are the ground truth of
 * what exists (not the journal, not the timers). Archives whose schedule
 * was deleted are listed too, marked: they are backups all the same. */
#include <inttypes.h>

#include "archive-list.h"
#include "archive-read.h"
#include "ctl.h"
#include "deleted.h"
#include "format-util.h"
#include "log.h"
#include "record.h"
#include "verify.h"

#define DELETED_MARK "  (schedule deleted)"

/* NAME (or INDEX) as a live schedule, else as a deleted one whose archives
 * remain; logs why neither (or a broken live one) is refused. */
static int find_schedule_or_deleted(const ScheduleDir *d, const DeletedSchedules *gone, const char *name,
                                    const Schedule **ret, bool *ret_deleted) {
        const Schedule *s = deleted_schedules_find_arg(gone, d, name);
        if (s) {
                *ret = s;
                *ret_deleted = true;
                return 0;
        }
        *ret_deleted = false;
        return ctl_find_valid_schedule(d, name, ret);
}

static int load_deleted(const ScheduleDir *d, DeletedSchedules *ret) {
        int r = deleted_schedules_load(&paths, d, ret);
        if (r < 0)
                return log_error_errno(r, "Cannot look for archives of deleted schedules: %m");
        return 0;
}

/* The entry count of archive A: from the record of the run that wrote it;
 * only an archive from before run records (or whose record was dropped)
 * is read whole to count them. */
static int count_entries(const Schedule *s, const ArchiveInfo *a, const RunRecord *records, size_t n_records,
                         CryptKeySource **key, bool *key_loaded, uint64_t *ret, char **ret_error) {
        for (size_t j = n_records; j > 0; j--)
                if (streq_ptr(records[j - 1].archive, a->path)) {
                        *ret = records[j - 1].files;
                        return 0;
                }
        if (!*key_loaded && a->encrypted) {
                *key_loaded = true;
                if (ctl_load_key(s, a->path, key) < 0)
                        return -ENOKEY;
        }
        return archive_count_entries(a->path, *key, ret, ret_error);
}

static int print_archives(const Schedule *s, bool deleted) {
        const char *dir = s->destination, *schedule = s->name;
        ArchiveInfo *list = NULL;
        RunRecord *records = NULL;
        size_t n = 0, n_records = 0;
        int r, ret = EXIT_OK;

        r = archive_list(dir, schedule, &list, &n);
        if (r < 0) {
                log_error_errno(r, "Cannot list archives in %s: %m", dir);
                return EXIT_FAILED;
        }
        if (arg.long_format && n > 0 && record_list(paths.state_dir, schedule, RECORDS_KEPT, &records, &n_records) < 0)
                n_records = 0;
        _cleanup_(crypt_key_freep) CryptKeySource *key = NULL;
        bool key_loaded = false;
        for (size_t i = 0; i < n; i++) {
                const char *mark = deleted ? DELETED_MARK : "";
                if (!arg.long_format) {
                        printf("%s%s\n", list[i].path, mark);
                        continue;
                }
                char size[FORMAT_BYTES_MAX], when[FORMAT_TIMESTAMP_MAX];
                _cleanup_free_ char *error = NULL, *kind = NULL;
                if (ctl_archive_kind(list, n, i, &kind) < 0)
                        return log_oom(), EXIT_FAILED;
                uint64_t entries;
                r = count_entries(s, &list[i], records, n_records, &key, &key_loaded, &entries, &error);
                if (r == -ENOKEY) {
                        ret = EXIT_FAILED;
                        continue;
                }
                if (r < 0) {
                        printf("%s  %10s  %s  %s  UNREADABLE: %s%s\n", list[i].path, format_bytes(size, list[i].size),
                               format_timestamp(when, list[i].time_usec), kind, error ?: strerror(-r), mark);
                        ret = EXIT_FAILED;
                        continue;
                }
                printf("%s  %10s  %s  %s  %" PRIu64 " entries%s\n", list[i].path, format_bytes(size, list[i].size),
                       format_timestamp(when, list[i].time_usec), kind, entries, mark);
        }
        record_list_free(records, n_records);
        archive_list_free(list, n);
        return ret;
}

int verb_backups(int argc, char **argv) {
        const ScheduleDir *d = &ctx.schedules;
        _cleanup_(deleted_schedules_done) DeletedSchedules gone = {};
        int r, ret = EXIT_OK;

        if (load_deleted(d, &gone) < 0)
                return EXIT_FAILED;

        if (argc > 1) {
                const Schedule *s;
                bool deleted;
                if (find_schedule_or_deleted(d, &gone, argv[1], &s, &deleted) < 0)
                        return EXIT_USAGE;
                return print_archives(s, deleted);
        }

        for (size_t i = 0; i < d->n; i++) {
                const Schedule *s = d->entries[i].schedule;
                if (!s)
                        continue;
                r = print_archives(s, false);
                if (r != EXIT_OK)
                        ret = r;
        }
        for (size_t i = 0; i < gone.n; i++) {
                r = print_archives(gone.schedules[i], true);
                if (r != EXIT_OK)
                        ret = r;
        }
        return ret;
}

/* The verdict is the point of verify: one that cannot be written is a failure. */
static int verify_verdict_written(void) {
        if (fflush(stdout) == 0 && !ferror(stdout))
                return EXIT_OK;
        log_error_errno(errno > 0 ? -errno : -EIO, "Cannot write to standard output: %m");
        return EXIT_FAILED;
}

static int verify_one(const char *archive, const Schedule *s) {
        _cleanup_(crypt_key_freep) CryptKeySource *key = NULL;
        VerifyResult res;
        /* an incremental archive is only as good as its chain */
        if (ctl_archive_is_incremental(archive))
                return ctl_verify_chain(s, archive);
        if (ctl_load_key(s, archive, &key) < 0)
                return EXIT_FAILED;
        int r = verify_archive(archive, key, archive_report_log, NULL, &res);
        if (r < 0)
                return EXIT_FAILED;
        if (!verify_result_ok(&res)) {
                printf("%s: BAD (%llu entries; %llu missing, %llu extra, %llu corrupt%s)\n", archive,
                       (unsigned long long) res.entries, (unsigned long long) res.missing,
                       (unsigned long long) res.extra, (unsigned long long) res.corrupt,
                       res.has_manifest ? "" : "; no manifest");
                (void) verify_verdict_written();
                return EXIT_FAILED;
        }
        printf("%s: OK (%llu entries match the manifest)\n", archive, (unsigned long long) res.entries);
        return verify_verdict_written();
}

static int verify_newest(const Schedule *s) {
        ArchiveInfo *list = NULL;
        size_t n = 0;
        int r, ret;

        r = archive_list(s->destination, s->name, &list, &n);
        if (r < 0) {
                log_error_errno(r, "Cannot list archives in %s: %m", s->destination);
                return EXIT_FAILED;
        }
        if (n == 0) {
                log_error("No archives of %s in %s.", s->name, s->destination);
                ret = EXIT_FAILED;
        } else
                ret = verify_one(list[n - 1].path, s);
        archive_list_free(list, n);
        return ret;
}

/* verify [NAME | ARCHIVE]: the newest archive of NAME (or of every schedule),
 * or the archive file given. */
int verb_verify(int argc, char **argv) {
        _cleanup_(schedule_dir_done) ScheduleDir d = {};
        _cleanup_(deleted_schedules_done) DeletedSchedules gone = {};
        int r, ret = EXIT_OK;

        if (argc > 1 && (strchr(argv[1], '/') || archive_name_parse(argv[1], NULL, NULL, NULL, NULL))) {
                if (access(argv[1], R_OK) < 0) {
                        log_error_errno(negative_errno(), "Cannot read %s: %m", argv[1]);
                        return EXIT_USAGE;
                }
                return verify_one(argv[1], NULL);
        }

        r = ctl_load_schedules(&d);
        if (r < 0)
                return exit_code_for(r);
        if (load_deleted(&d, &gone) < 0)
                return EXIT_FAILED;
        if (argc > 1) {
                const Schedule *s;
                bool deleted;
                if (find_schedule_or_deleted(&d, &gone, argv[1], &s, &deleted) < 0)
                        return EXIT_USAGE;
                return verify_newest(s);
        }
        for (size_t i = 0; i < d.n; i++)
                if (d.entries[i].schedule && verify_newest(d.entries[i].schedule) != EXIT_OK)
                        ret = EXIT_FAILED;
        for (size_t i = 0; i < gone.n; i++)
                if (verify_newest(gone.schedules[i]) != EXIT_OK)
                        ret = EXIT_FAILED;
        return ret;
}

/* keygen FILE: a new random key, mode 0600; never replaces a file. */
int verb_keygen(int argc, char **argv) {
        int r = crypt_keygen(argv[1]);
        if (r == -EEXIST) {
                log_error("%s exists; not replacing a key (archives made with it would be lost).", argv[1]);
                return EXIT_USAGE;
        }
        if (r < 0) {
                log_error_errno(r, "Cannot create key file %s: %m", argv[1]);
                return EXIT_FAILED;
        }
        printf("Created key %s (mode 0600). Keep a copy somewhere other than the backups:\n"
               "without it, encrypted archives cannot be read.\n", argv[1]);
        return EXIT_OK;
}
