/* SPDX-License-Identifier: MIT */
/* restore NAME [ARCHIVE | --at TIME] --to DIR [PATH…] */
#include <sys/stat.h>
#include <time.h>

#include "archive-list.h"
#include "ctl.h"
#include "deleted.h"
#include "log.h"
#include "path-util.h"
#include "restore.h"

/* "YYYY-mm-dd [HH:MM[:SS]]" (local), "@EPOCH", or "YYYYmmddTHHMMSSZ" (UTC). */
static int parse_time(const char *s, uint64_t *ret) {
        static const char *const local_formats[] = { "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d" };
        struct tm tm;

        if (s[0] == '@') {
                char *end;
                errno = 0;
                unsigned long long t = strtoull(s + 1, &end, 10);
                if (errno != 0 || *end != 0 || end == s + 1)
                        return -EINVAL;
                *ret = (uint64_t) t * USEC_PER_SEC;
                return 0;
        }
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
        if (end && *end == 0) {
                *ret = (uint64_t) timegm(&tm) * USEC_PER_SEC;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(local_formats); i++) {
                memset(&tm, 0, sizeof tm);
                end = strptime(s, local_formats[i], &tm);
                if (end && *end == 0) {
                        tm.tm_isdst = -1;
                        if (i == 2)     /* a day means its end: the newest archive of that day */
                                tm.tm_hour = 23, tm.tm_min = 59, tm.tm_sec = 59;
                        time_t t = mktime(&tm);
                        if (t == (time_t) -1)
                                return -EINVAL;
                        *ret = (uint64_t) t * USEC_PER_SEC;
                        return 0;
                }
        }
        return -EINVAL;
}

/* Which archive: ARCHIVE (a name in the destination, or a path), the newest
 * at or before --at, or the newest. */
static int pick_archive(const char *name, const Schedule *s, const char *archive_arg, char **ret) {
        ArchiveInfo *list = NULL;
        size_t n = 0;
        int r;

        if (archive_arg && strchr(archive_arg, '/')) {
                if (access(archive_arg, R_OK) < 0)
                        return log_error_errno(negative_errno(), "Cannot read archive %s: %m", archive_arg);
                *ret = strdup(archive_arg);
                return *ret ? 0 : log_oom();
        }
        if (!s) {
                log_error("No schedule '%s' in %s; give the archive as a path to restore it anyway.", name, paths.schedules_dir);
                return -ENOENT;
        }

        r = archive_list(s->destination, s->name, &list, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot list archives in %s: %m", s->destination);

        const ArchiveInfo *pick = NULL;
        if (archive_arg) {
                for (size_t i = 0; i < n; i++)
                        if (streq(list[i].filename, archive_arg))
                                pick = &list[i];
                if (!pick)
                        log_error("No archive '%s' of %s in %s (see '%s backups %s').", archive_arg, s->name,
                                  s->destination, program_invocation_short_name, s->name);
        } else if (arg.at) {
                uint64_t at;
                if (parse_time(arg.at, &at) < 0) {
                        archive_list_free(list, n);
                        log_error("Cannot parse --at '%s': use YYYY-mm-dd [HH:MM[:SS]], @EPOCH or YYYYmmddTHHMMSSZ.", arg.at);
                        return -EINVAL;
                }
                for (size_t i = 0; i < n; i++)
                        if (list[i].time_usec <= at)
                                pick = &list[i];
                if (!pick)
                        log_error("No archive of %s at or before %s.", s->name, arg.at);
        } else {
                pick = n > 0 ? &list[n - 1] : NULL;
                if (!pick)
                        log_error("No archives of %s in %s.", s->name, s->destination);
        }
        if (!pick) {
                archive_list_free(list, n);
                return -ENOENT;
        }
        *ret = strdup(pick->path);
        archive_list_free(list, n);
        return *ret ? 0 : log_oom();
}

int verb_restore(int argc, char **argv) {
        _cleanup_strv_free_ char **selected = NULL;
        _cleanup_free_ char *archive = NULL, *target = NULL;
        const char *name = argv[1], *archive_arg = NULL;
        int first_path = 2, r;

        if (!schedule_name_is_valid(name)) {
                log_error("Invalid schedule name '%s'.", name);
                return EXIT_USAGE;
        }
        /* The word after NAME is an archive if it looks like one. */
        if (argc > 2) {
                const char *base = strrchr(argv[2], '/');
                base = base ? base + 1 : argv[2];
                if (archive_name_parse(base, NULL, NULL, NULL, NULL)) {
                        archive_arg = argv[2];
                        first_path = 3;
                }
        }
        /* A tar file named otherwise reads as a PATH inside the archive:
         * say so, as "No entry" or "No schedule" alone would puzzle. */
        struct stat tar_st;
        if (!archive_arg && argc > 2 && strchr(argv[2], '/') && strstr(strrchr(argv[2], '/'), ".tar") &&
            stat(argv[2], &tar_st) == 0 && S_ISREG(tar_st.st_mode))
                log_warning("'%s' is taken as a PATH inside the archive: an archive given as a path must be "
                            "named NAME-YYYYmmddTHHMMSSZ.tar[.gz|.zst|.xz][.enc], as Alexandria names them.", argv[2]);
        if (archive_arg && arg.at) {
                log_error("Give either ARCHIVE or --at, not both.");
                return EXIT_USAGE;
        }
        if (!arg.list_entries && !arg.to) {
                log_error("restore needs --to DIR (or --list).");
                return EXIT_USAGE;
        }
        if (arg.list_entries && arg.dry_run) {
                log_error("Give either --list or --dry-run.");
                return EXIT_USAGE;
        }
        /* --dumps: what Dump= stored, and nothing else */
        if (arg.dumps && strv_extend(&selected, SCHEDULE_DUMPS_DIR) < 0)
                return log_oom(), EXIT_FAILED;
        for (int i = first_path; i < argc; i++) {
                char *p = restore_path_argument(argv[i]);
                if (!p || strv_push(&selected, p) < 0)
                        return log_oom(), EXIT_FAILED;
        }

        const ScheduleEntry *e = schedule_dir_find(&ctx.schedules, name);
        /* A deleted schedule whose archives remain restores like a live one. */
        _cleanup_(deleted_schedules_done) DeletedSchedules gone = {};
        if (!e && deleted_schedules_load(&paths, &ctx.schedules, &gone) < 0)
                return log_oom(), EXIT_FAILED;
        const Schedule *s = e ? e->schedule : deleted_schedules_find(&gone, name);
        r = pick_archive(name, s, archive_arg, &archive);
        if (r < 0)
                return exit_code_for(r);

        if (arg.to) {
                r = path_make_absolute_cwd(arg.to, &target);
                if (r < 0)
                        return log_oom(), EXIT_FAILED;
        }
        _cleanup_(crypt_key_freep) CryptKeySource *key = NULL;
        if (ctl_load_key(s, archive, &key) < 0)
                return EXIT_FAILED;
        RestoreOptions o = {
                .key = key,
                .target = target,
                .paths = selected,
                .mode = arg.list_entries ? RESTORE_LIST : arg.dry_run ? RESTORE_DRY_RUN : RESTORE_EXTRACT,
                .overwrite = arg.overwrite,
                .escape_names = isatty(STDOUT_FILENO),
                .report = archive_report_log,
        };
        /* an incremental archive is a restore point of its chain */
        if (ctl_archive_is_incremental(archive))
                return ctl_restore_chain(e ? e->schedule : NULL, archive, &o);
        RestoreStats st;
        r = restore_archive(archive, &o, &st);
        if (o.mode == RESTORE_EXTRACT && (r >= 0 || st.entries > 0))
                fprintf(stderr, "Restored %llu entries from %s into %s.\n", (unsigned long long) st.entries, archive, target);
        if (st.existing > 0)
                fprintf(stderr, "%llu existing files were not overwritten (use --overwrite).\n", (unsigned long long) st.existing);
        if (st.refused > 0)
                fprintf(stderr, "%llu unsafe entries were refused.\n", (unsigned long long) st.refused);
        if (st.failed > 0)
                fprintf(stderr, "%llu entries could not be restored.\n", (unsigned long long) st.failed);
        if (st.damaged > 0)
                fprintf(stderr, "%llu damaged entries were not restored (named above).\n", (unsigned long long) st.damaged);
        if (o.mode == RESTORE_EXTRACT && st.unchecked)
                fprintf(stderr, "The restored files were not checked against a manifest.\n");
        return r >= 0 && restore_stats_ok(&st) ? EXIT_OK : EXIT_FAILED;
}
