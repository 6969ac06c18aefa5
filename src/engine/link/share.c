/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>

#include "archive-list.h"
#include "format-util.h"
#include "share.h"

int share_group(const Schedule *s, gid_t *ret_gid, char **ret_error) {
        *ret_gid = (gid_t) -1;
        if (!s->destination_group)
                return 0;
        errno = 0;
        struct group *g = getgrnam(s->destination_group);
        if (!g)
                return errorf(ret_error, errno > 0 ? -errno : -ENOENT, "DestinationGroup=%s: %s", s->destination_group,
                              errno > 0 ? strerror(errno) : "no such group");
        *ret_gid = g->gr_gid;
        return 0;
}

static int share(int fd, gid_t gid, mode_t mode) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_gid != gid && fchown(fd, (uid_t) -1, gid) < 0)
                return negative_errno();
        if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
                return negative_errno();
        return 0;
}

int share_destination(int dir_fd, const Schedule *s, gid_t gid, char **ret_error) {
        ArchiveInfo *list = NULL;
        size_t n = 0;
        int r;

        if (gid == (gid_t) -1)
                return 0;
        r = share(dir_fd, gid, 0750);
        if (r < 0)
                return errorf(ret_error, r, "Cannot give %s to group %s: %m", s->destination, s->destination_group);
        /* archives written before DestinationGroup= was set, too */
        r = archive_list(s->destination, s->name, &list, &n);
        if (r < 0)
                return errorf(ret_error, r, "Cannot list %s: %m", s->destination);
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_close_ int fd = openat(dir_fd, list[i].filename, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                r = fd < 0 ? negative_errno() : share(fd, gid, 0640);
                if (r < 0)
                        r = errorf(ret_error, r, "Cannot give %s to group %s: %m", list[i].path, s->destination_group);
        }
        archive_list_free(list, n);
        return r < 0 ? r : 0;
}

int share_archive(int fd, gid_t gid) {
        if (gid == (gid_t) -1)
                return 0;
        return share(fd, gid, 0640);
}
