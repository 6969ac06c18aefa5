/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <sys/stat.h>

#include "format-util.h"
#include "path-util.h"
#include "schedule-dir.h"
#include "trust.h"

static int entry_compare(const void *a, const void *b) {
        return strcmp(((const ScheduleEntry *) a)->name, ((const ScheduleEntry *) b)->name);
}

int schedule_dir_check_trust(const char *dir, uid_t owner, char **ret_error) {
        _cleanup_free_ char *parent = strdup(dir);
        if (!parent)
                return -ENOMEM;
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) {
                *slash = 0;
                int r = trusted_dir_check(parent, owner, ret_error);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        int r = trusted_dir_check(dir, owner, ret_error);
        return r == -ENOENT ? 0 : r;
}

/* Opens DIR after checking it and its parent; -ENOENT if it does not exist. */
static int open_trusted_dir(const char *dir, uid_t owner, int *ret_fd, char **ret_error) {
        int r = schedule_dir_check_trust(dir, owner, ret_error);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                r = negative_errno();
                return r == -ENOENT ? r : errorf(ret_error, r, "%s: cannot open: %s", dir, strerror(-r));
        }
        /* Checked again on what was opened: it may have been swapped since. */
        r = trusted_dir_check_fd(fd, dir, owner, ret_error);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int schedule_dir_load(const char *dir, const char *default_destination, uid_t owner, ScheduleDir *ret, char **ret_error) {
        ScheduleDir set = {};
        struct dirent *de;
        int fd = -EBADF, r;

        r = open_trusted_dir(dir, owner, &fd, ret_error);
        if (r == -ENOENT) {
                *ret = set;
                return 0;
        }
        if (r < 0)
                return r;
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d) {
                r = negative_errno();
                safe_close(fd);
                return errorf(ret_error, r, "%s: cannot read: %s", dir, strerror(-r));
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
                e->error_code = schedule_load_at(dirfd(d), de->d_name, e->path, default_destination, owner,
                                                 &e->schedule, &e->error);
                if (e->error_code == -ENOMEM)
                        goto oom;
        }
        if (errno != 0) {
                r = negative_errno();
                schedule_dir_done(&set);
                return errorf(ret_error, r, "%s: cannot read: %s", dir, strerror(-r));
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
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!schedule_name_is_valid(name))
                return errorf(ret_error, -EINVAL,
                              "Invalid schedule name '%s': names are 1-%d characters from A-Z a-z 0-9 _ . -, starting with a letter or digit.",
                              name, SCHEDULE_NAME_MAX);
        if (asprintf(&file, "%s.conf", name) < 0 || !(path = path_join(dir, file)))
                return -ENOMEM;
        r = open_trusted_dir(dir, owner, &fd, ret_error);
        if (r >= 0)
                r = schedule_load_at(fd, file, path, default_destination, owner, ret, ret_error);
        if (r == -ENOENT) {
                free(*ret_error);
                *ret_error = NULL;
                return errorf(ret_error, r, "No schedule '%s': %s does not exist.", name, path);
        }
        return r;
}
