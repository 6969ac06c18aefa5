/* SPDX-License-Identifier: MIT */
#pragma once

/* Who could have written this? Schedules and alexandria.conf decide what a
 * (root) service reads, writes and runs, so like doas(1) with doas.conf we
 * trust them only if nobody but OWNER (root, or the user whose backups they
 * run) could have changed them: the file, and the directories that hold it
 * (whoever may write a directory may delete, rename or add schedules).
 *
 * Every function fills *ret_error with "PATH: what is wrong (fix: …)" when
 * it refuses something, and returns a negative errno: -EPERM for a file or
 * directory someone else could have changed, -ELOOP for a symlink, -EBADFD
 * for something that is not a regular file (a FIFO must never be opened for
 * reading: that would hang), -EFBIG for a file larger than allowed. */

#include <stdint.h>
#include <sys/stat.h>
#include "macro.h"

/* Opens NAME (relative to DIR_FD, or AT_FDCWD) for reading without following
 * a symlink and without blocking on a FIFO, and checks what it opened: a
 * regular file of at most MAX_SIZE bytes, owned by OWNER, not writable by
 * group or others. PATH names it in messages. A missing file is -ENOENT
 * with a message too. */
int trusted_file_open(int dir_fd, const char *name, const char *path, uid_t owner, uint64_t max_size,
                      int *ret_fd, char **ret_error);

/* Checks an open directory: owned by OWNER, not writable by group or others. */
int trusted_dir_check_fd(int fd, const char *path, uid_t owner, char **ret_error);
/* The same by path (following symlinks, as the directory will be used).
 * A missing directory is -ENOENT without a message. */
int trusted_dir_check(const char *path, uid_t owner, char **ret_error);
