/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>

#include "format-util.h"
#include "trust.h"

static const char *file_type(mode_t mode) {
        switch (mode & S_IFMT) {
        case S_IFDIR:  return "a directory";
        case S_IFIFO:  return "a FIFO";
        case S_IFSOCK: return "a socket";
        case S_IFCHR:  return "a character device";
        case S_IFBLK:  return "a block device";
        case S_IFLNK:  return "a symbolic link";
        default:       return "not a regular file";
        }
}

/* Owner and mode, for files and directories alike. */
static int check_owner_and_mode(const struct stat *st, const char *what, const char *path, uid_t owner,
                                char **ret_error) {
        if (st->st_uid != owner)
                return errorf(ret_error, -EPERM,
                              "%s: the %s is owned by uid %u, not by uid %u whose backups it decides, refusing it (fix: chown %u '%s')",
                              path, what, (unsigned) st->st_uid, (unsigned) owner, (unsigned) owner, path);
        if (st->st_mode & (S_IWGRP | S_IWOTH))
                return errorf(ret_error, -EPERM, "%s: the %s is group- or world-writable, refusing it (fix: chmod go-w '%s')",
                              path, what, path);
        return 0;
}

int trusted_file_open(int dir_fd, const char *name, const char *path, uid_t owner, uint64_t max_size,
                      int *ret_fd, char **ret_error) {
        /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. It
         * has no effect on a regular file, which is all we read. */
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0) {
                int r = negative_errno();
                if (r == -ELOOP)
                        return errorf(ret_error, r, "%s: is a symbolic link, refusing it (only a regular file is trusted)", path);
                return errorf(ret_error, r, "%s: cannot open: %m", path);
        }

        struct stat st;
        if (fstat(fd, &st) < 0)
                return errorf(ret_error, negative_errno(), "%s: cannot stat: %m", path);
        if (!S_ISREG(st.st_mode))
                return errorf(ret_error, S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD,
                              "%s: is %s, refusing it (only a regular file is read)", path, file_type(st.st_mode));
        int r = check_owner_and_mode(&st, "file", path, owner, ret_error);
        if (r < 0)
                return r;
        if ((uint64_t) st.st_size > max_size)
                return errorf(ret_error, -EFBIG, "%s: larger than %" PRIu64 " KiB, refusing it", path, max_size / 1024);

        *ret_fd = TAKE_FD(fd);
        return 0;
}

int trusted_dir_check_fd(int fd, const char *path, uid_t owner, char **ret_error) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return errorf(ret_error, negative_errno(), "%s: cannot stat: %m", path);
        if (!S_ISDIR(st.st_mode))
                return errorf(ret_error, -ENOTDIR, "%s: is not a directory", path);
        return check_owner_and_mode(&st, "directory", path, owner, ret_error);
}

int trusted_dir_check(const char *path, uid_t owner, char **ret_error) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                int r = negative_errno();
                if (r == -ENOENT)
                        return r;
                return errorf(ret_error, r, "%s: cannot open: %m", path);
        }
        return trusted_dir_check_fd(fd, path, owner, ret_error);
}
