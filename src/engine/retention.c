/* SPDX-License-Identifier: MIT */
#include <fcntl.h>

#include "archive-list.h"
#include "events.h"
#include "fileio.h"
#include "log.h"
#include "retention.h"

void retention_plan(const Schedule *s, const ArchiveInfo *list, size_t n, bool *ret_keep) {
        for (size_t i = 0; i < n; i++)
                ret_keep[i] = s->keep == 0 || n - i <= s->keep;
}

int retention_apply(const Schedule *s, const char *keep_path, unsigned *ret_pruned) {
        ArchiveInfo *list = NULL;
        size_t n = 0, remaining;
        unsigned pruned = 0;
        int r, ret = 0;

        *ret_pruned = 0;
        if (s->keep == 0)
                return 0;

        r = archive_list(s->destination, s->name, &list, &n);
        if (r < 0)
                return log_warning_errno(r, "Cannot list %s for retention, keeping every archive: %m", s->destination);

        _cleanup_close_ int dir_fd = open(s->destination, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) {
                archive_list_free(list, n);
                return log_warning_errno(negative_errno(), "Cannot open %s for retention, keeping every archive: %m", s->destination);
        }

        remaining = n;
        for (size_t i = 0; i < n && remaining > s->keep; i++) {
                if (keep_path && streq(list[i].path, keep_path))
                        continue;
                if (unlinkat(dir_fd, list[i].filename, 0) < 0) {
                        ret = log_warning_errno(negative_errno(), "Cannot remove old archive %s: %m", list[i].path);
                        continue;
                }
                remaining--;
                pruned++;
                EventFields f = EVENT_FIELDS_INIT(s->name);
                f.archive = list[i].path;
                f.archive_bytes = list[i].size;
                (void) event_emit(EVENT_ARCHIVE_PRUNED, &f, "Removed old archive %s (Keep=%u).", list[i].path, s->keep);
        }
        if (pruned > 0)
                (void) fsync_directory(dir_fd);

        archive_list_free(list, n);
        *ret_pruned = pruned;
        return ret < 0 ? -EIO : 0;
}
