/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <time.h>

#include "archive-list.h"
#include "destination.h"
#include "share.h"
#include "format-util.h"
#include "log.h"
#include "mounts.h"
#include "path-util.h"

/* A second run of the same schedule must not write beside the first. The
 * lock lives in the kernel (flock on an open descriptor): when a run dies,
 * however it dies, the lock goes with it. The file merely gives the lock a
 * name and is never removed (removing lock files is what makes them racy). */
static int take_lock(Destination *d, char **ret_error) {
        const Schedule *s = d->schedule;
        _cleanup_free_ char *name = NULL;

        if (asprintf(&name, ".alexandria-%s.lock", s->name) < 0)
                return -ENOMEM;
        int fd = openat(d->fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return errorf(ret_error, negative_errno(), "Cannot open lock %s/%s: %m", s->destination, name);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = errno == EWOULDBLOCK ? -EBUSY : negative_errno();
                safe_close(fd);
                if (r == -EBUSY)
                        return errorf(ret_error, r, "Another run of schedule '%s' is in progress (it holds %s/%s).",
                                      s->name, s->destination, name);
                return errorf(ret_error, r, "Cannot lock %s/%s: %m", s->destination, name);
        }
        d->lock_fd = fd;
        return 0;
}

int destination_open(const Schedule *s, Destination *d, char **ret_error) {
        const char *dest = s->destination;
        int r;

        *d = DESTINATION_NULL;
        d->schedule = s;
        /* not even a mkdir on the disk underneath an unmounted one */
        r = mounts_check_path("Destination", dest, ret_error);
        if (r < 0)
                return r;
        if (mkdir(dest, 0700) < 0 && errno != EEXIST) {
                r = mkdir_p(dest, 0700);
                if (r < 0)
                        return errorf(ret_error, r, "Cannot create destination %s: %m", dest);
        }
        d->fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d->fd < 0)
                return errorf(ret_error, negative_errno(), "Cannot open destination %s: %m", dest);
        if (fstat(d->fd, &d->st) < 0)
                return errorf(ret_error, negative_errno(), "Cannot stat destination %s: %m", dest);
        r = take_lock(d, ret_error);
        if (r < 0)
                return r;
        /* DestinationGroup= (share.h): the directory and the archives for a pull account */
        gid_t gid;
        r = share_group(s, &gid, ret_error);
        return r < 0 ? r : share_destination(d->fd, s, gid, ret_error);
}

/* Where the file system cannot do O_TMPFILE (NFS, CIFS, …) an archive is
 * written under a hidden ".#NAME.XXXXXXXXXXXXXXXX" first (atomic_file_open()),
 * and a run that was killed leaves that behind, as big as it had grown.
 * Runs of a schedule hold its lock, so a temporary file of one of this
 * schedule's archive names belongs to no live run: remove it. */
void destination_remove_stale(Destination *d, RunReport *report) {
        _cleanup_closedir_ DIR *dir = NULL;
        struct dirent *de;

        int fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        dir = fdopendir(fd);
        if (!dir) {
                safe_close(fd);
                return;
        }
        while ((de = readdir(dir))) {
                _cleanup_free_ char *schedule = NULL;
                struct stat st;

                if (!archive_temporary_name_parse(de->d_name, &schedule) || !streq(schedule, d->schedule->name))
                        continue;
                if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (unlinkat(dirfd(dir), de->d_name, 0) < 0) {
                        report_warning(report, d->schedule->destination, "Cannot remove %s/%s, left behind by an interrupted run: %m",
                                       d->schedule->destination, de->d_name);
                } else
                        /* the one record of where that disk space went */
                        log_info("Removed %s/%s, left behind by an interrupted run.",
                                 d->schedule->destination, de->d_name);
        }
}

/* The name says when the run started, to the second. Runs of a schedule are
 * serialised by its lock, so an archive of this schedule already stamped with
 * this second (with any compression) comes from an earlier run that started
 * within the same second: wait for the next second rather than fail, replace
 * it, or stamp a time that is not true. Retention then never sees a tie. */
static int pick_archive_name(Destination *d, uint64_t realtime, char **ret, char **ret_error) {
        const Schedule *s = d->schedule;
        int r;

        for (unsigned attempt = 0;; attempt++) {
                bool taken = false;

                for (unsigned v = 0; v < 4 * _COMPRESSION_MAX && !taken; v++) {
                        _cleanup_free_ char *n = NULL;
                        struct stat st;

                        /* every compression, encrypted or not, full or incremental */
                        r = archive_name_format_kind(s->name, realtime, v / (2 * _COMPRESSION_MAX),
                                                     v / 2 % _COMPRESSION_MAX, v % 2, &n);
                        if (r < 0)
                                return r;
                        if (fstatat(d->fd, n, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                                taken = true;
                        else if (errno != ENOENT)
                                return errorf(ret_error, negative_errno(), "Cannot check for %s/%s: %m",
                                              s->destination, n);
                }
                if (!taken)
                        break;
                /* A name from the future (the clock went back) is not ours to wait for. */
                if (attempt >= 2)
                        return errorf(ret_error, -EEXIST, "An archive of schedule '%s' stamped with the current time "
                                      "already exists in %s; not replacing it.", s->name, s->destination);
                uint64_t wait = USEC_PER_SEC - realtime % USEC_PER_SEC;
                struct timespec ts = {
                        .tv_sec = (time_t) (wait / USEC_PER_SEC),
                        .tv_nsec = (long) (wait % USEC_PER_SEC * NSEC_PER_USEC),
                };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
                realtime = now_realtime_usec();
        }
        return archive_name_format_kind(s->name, realtime, d->incremental, s->compression, s->encryption, ret);
}

int destination_create_archive(Destination *d, uint64_t start_realtime, char **ret_name, char **ret_error) {
        _cleanup_free_ char *name = NULL;
        int r;

        r = pick_archive_name(d, start_realtime, &name, ret_error);
        if (r < 0)
                return r;
        r = atomic_file_open(d->fd, name, 0600, &d->out);
        if (r < 0)
                return errorf(ret_error, r, "Cannot create archive in %s: %m", d->schedule->destination);
        gid_t gid;
        r = share_group(d->schedule, &gid, ret_error);
        if (r >= 0 && (r = share_archive(d->out.fd, gid)) < 0)
                r = errorf(ret_error, r, "Cannot give the new archive to group %s: %m", d->schedule->destination_group);
        if (r < 0)
                return r;
        *ret_name = TAKE_PTR(name);
        return 0;
}

int destination_link_archive(Destination *d, char **ret_path, char **ret_error) {
        const char *dest = d->schedule->destination;
        _cleanup_free_ char *path = path_join(dest, d->out.name);
        int r;

        if (!path)
                return -ENOMEM;
        r = atomic_file_commit(&d->out, false);
        if (r == -EEXIST)
                return errorf(ret_error, r, "Archive %s already exists; not replacing it.", path);
        if (r < 0)
                return errorf(ret_error, r, "Cannot commit archive %s: %m", path);
        *ret_path = TAKE_PTR(path);
        return 0;
}

void destination_close(Destination *d) {
        atomic_file_abort(&d->out);
        d->fd = safe_close(d->fd);
        d->lock_fd = safe_close(d->lock_fd);
}
