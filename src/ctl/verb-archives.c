/* SPDX-License-Identifier: MIT */
/* backups: the archives in the destinations, which are the ground truth of
 * what exists (not the journal, not the timers). */
#include <inttypes.h>

#include "archive-list.h"
#include "archive-read.h"
#include "ctl.h"
#include "format-util.h"
#include "log.h"

static int print_archives(const char *dir, const char *schedule) {
        ArchiveInfo *list = NULL;
        size_t n = 0;
        int r, ret = EXIT_OK;

        r = archive_list(dir, schedule, &list, &n);
        if (r < 0) {
                log_error_errno(r, "Cannot list archives in %s: %m", dir);
                return EXIT_FAILED;
        }
        for (size_t i = 0; i < n; i++) {
                if (!arg.long_format) {
                        printf("%s\n", list[i].path);
                        continue;
                }
                char size[FORMAT_BYTES_MAX], when[FORMAT_TIMESTAMP_MAX];
                _cleanup_free_ char *error = NULL;
                uint64_t entries;
                r = archive_count_entries(list[i].path, &entries, &error);
                if (r < 0) {
                        printf("%s  %10s  %s  UNREADABLE: %s\n", list[i].path, format_bytes(size, list[i].size),
                               format_timestamp(when, list[i].time_usec), error ?: strerror(-r));
                        ret = EXIT_FAILED;
                        continue;
                }
                printf("%s  %10s  %s  %" PRIu64 " entries\n", list[i].path, format_bytes(size, list[i].size),
                       format_timestamp(when, list[i].time_usec), entries);
        }
        archive_list_free(list, n);
        return ret;
}

int verb_backups(int argc, char **argv) {
        _cleanup_(schedule_dir_done) ScheduleDir d = {};
        _cleanup_strv_free_ char **seen = NULL;
        int r, ret = EXIT_OK;

        r = ctl_load_schedules(&d);
        if (r != EXIT_OK)
                return r;

        if (argc > 1) {
                const ScheduleEntry *e;
                if (ctl_find_schedule(&d, argv[1], &e) < 0)
                        return EXIT_USAGE;
                if (!e->schedule) {
                        log_error("%s", e->error);
                        return EXIT_USAGE;
                }
                return print_archives(e->schedule->destination, e->name);
        }

        for (size_t i = 0; i < d.n; i++) {
                const Schedule *s = d.entries[i].schedule;
                if (!s)
                        continue;
                r = print_archives(s->destination, s->name);
                if (r != EXIT_OK)
                        ret = r;
        }
        return ret;
}
