/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <mntent.h>
#include <stdio.h>

#include "format-util.h"
#include "mounts.h"
#include "path-util.h"

#define FSTAB "/etc/fstab"
#define MOUNT_UNIT_DIR "/etc/systemd/system"

/* PATH is MOUNT_POINT or below it */
static bool path_at_or_below(const char *path, const char *mount_point) {
        size_t n = strlen(mount_point);
        if (streq(mount_point, "/"))
                return false;   /* the root is always mounted */
        return strncmp(path, mount_point, n) == 0 && (path[n] == 0 || path[n] == '/');
}

static bool is_mounted(const char *mount_point) {
        FILE *f = setmntent("/proc/self/mounts", "re");
        struct mntent *m;
        bool found = false;

        if (!f)
                return true;    /* cannot tell: do not fail a run on a guess */
        while (!found && (m = getmntent(f)))
                found = streq(m->mnt_dir, mount_point);
        endmntent(f);
        return found;
}

static int check_one(const char *what, const char *path, const char *mount_point, const char *listed_in,
                     char **ret_error) {
        _cleanup_free_ char *mp = path_normalize(mount_point);
        if (!mp)
                return -ENOMEM;
        if (!path_at_or_below(path, mp) || is_mounted(mp))
                return 0;
        return errorf(ret_error, -ENOTCONN, "%s %s is on %s, which %s lists as a mount point, but nothing is mounted "
                      "there: not backing up the directory underneath. Mount it (or fix %s), then run again.",
                      what, path, mp, listed_in, listed_in);
}

/* Where= of the .mount units an admin wrote */
static int check_mount_units(const char *what, const char *path, char **ret_error) {
        _cleanup_closedir_ DIR *d = opendir(MOUNT_UNIT_DIR);
        struct dirent *de;

        if (!d)
                return 0;
        while ((de = readdir(d))) {
                if (!endswith(de->d_name, ".mount") || de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *unit = path_join(MOUNT_UNIT_DIR, de->d_name);
                if (!unit)
                        return -ENOMEM;
                _cleanup_fclose_ FILE *f = fopen(unit, "re");
                char line[4096];
                while (f && fgets(line, sizeof line, f)) {
                        const char *where = startswith(line, "Where=");
                        if (!where)
                                continue;
                        line[strcspn(line, "\n")] = 0;
                        int r = check_one(what, path, where, unit, ret_error);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int mounts_check_path(const char *what, const char *path, char **ret_error) {
        FILE *f = setmntent(FSTAB, "re");
        struct mntent *m;
        int r = 0;

        if (f) {
                while (r >= 0 && (m = getmntent(f)))
                        if (m->mnt_dir[0] == '/')
                                r = check_one(what, path, m->mnt_dir, FSTAB, ret_error);
                endmntent(f);
        }
        if (r >= 0)
                r = check_mount_units(what, path, ret_error);
        return r;
}
