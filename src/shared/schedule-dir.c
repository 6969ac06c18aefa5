/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <sys/stat.h>

#include "path-util.h"
#include "format-util.h"
#include "schedule-dir.h"

static int entry_compare(const void *a, const void *b) {
        return strcmp(((const ScheduleEntry *) a)->name, ((const ScheduleEntry *) b)->name);
}

int schedule_dir_load(const char *dir, const char *default_destination, uid_t owner, ScheduleDir *ret) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        ScheduleDir set = {};
        struct dirent *de;

        if (!d) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret = set;
                return 0;
        }

        while ((errno = 0, de = readdir(d))) {
                const char *suffix = endswith(de->d_name, ".conf");
                if (de->d_name[0] == '.' || !suffix || suffix == de->d_name)
                        continue;

                ScheduleEntry *e = reallocarray(set.entries, set.n + 1, sizeof *e);
                if (!e)
                        goto oom;
                set.entries = e;
                e = &set.entries[set.n];
                *e = (ScheduleEntry) {
                        .name = strndup(de->d_name, suffix - de->d_name),
                        .path = path_join(dir, de->d_name),
                };
                set.n++;
                if (!e->name || !e->path)
                        goto oom;
                e->error_code = schedule_load(e->path, default_destination, owner, &e->schedule, &e->error);
                if (e->error_code == -ENOMEM)
                        goto oom;
        }
        if (errno != 0) {
                int r = negative_errno();
                schedule_dir_done(&set);
                return r;
        }

        if (set.n > 0)
                qsort(set.entries, set.n, sizeof *set.entries, entry_compare);
        *ret = set;
        return 0;
oom:
        schedule_dir_done(&set);
        return -ENOMEM;
}

void schedule_dir_done(ScheduleDir *d) {
        for (size_t i = 0; i < d->n; i++) {
                free(d->entries[i].name);
                free(d->entries[i].path);
                free(d->entries[i].error);
                schedule_free(d->entries[i].schedule);
        }
        free(d->entries);
        *d = (ScheduleDir) {};
}

const ScheduleEntry *schedule_dir_find(const ScheduleDir *d, const char *name) {
        for (size_t i = 0; i < d->n; i++)
                if (streq(d->entries[i].name, name))
                        return &d->entries[i];
        return NULL;
}

int schedule_load_name(const char *dir, const char *name, const char *default_destination, uid_t owner,
                       Schedule **ret, char **ret_error) {
        _cleanup_free_ char *file = NULL, *path = NULL;
        int r;

        if (!schedule_name_is_valid(name))
                return errorf(ret_error, -EINVAL,
                              "Invalid schedule name '%s': names are 1-%d characters from A-Z a-z 0-9 _ . -, starting with a letter or digit.",
                              name, SCHEDULE_NAME_MAX);
        if (asprintf(&file, "%s.conf", name) < 0 || !(path = path_join(dir, file)))
                return -ENOMEM;
        r = schedule_load(path, default_destination, owner, ret, ret_error);
        if (r == -ENOENT) {
                free(*ret_error);
                *ret_error = NULL;
                return errorf(ret_error, r, "No schedule '%s': %s does not exist.", name, path);
        }
        return r;
}
