/* SPDX-License-Identifier: MIT */
#pragma once

/* Atomic file creation: a file becomes visible under its name only complete
 * and fsync'd. Where the file system allows it the data is written to an
 * unnamed O_TMPFILE, so a crash or kill leaves nothing behind at all;
 * elsewhere to a hidden ".#NAME.XXXXXX" that is renamed into place. */

#include <fcntl.h>
#include <sys/types.h>
#include "macro.h"

typedef struct AtomicFile {
        int dir_fd;             /* borrowed */
        int fd;
        char *name;             /* final name, relative to dir_fd */
        char *tmp_name;         /* NULL while the data lives in an O_TMPFILE */
} AtomicFile;

#define ATOMIC_FILE_NULL (AtomicFile) { .dir_fd = -EBADF, .fd = -EBADF }

int atomic_file_open(int dir_fd, const char *name, mode_t mode, AtomicFile *ret);
/* fsync, give it its name (replacing an existing file only if REPLACE; else
 * -EEXIST), fsync the directory. The file is closed either way. */
int atomic_file_commit(AtomicFile *f, bool replace);
/* Close and remove whatever was written. Safe to call twice. */
void atomic_file_abort(AtomicFile *f);

/* Writes all N bytes, retrying after EINTR and short writes. */
int loop_write(int fd, const void *buf, size_t n);
/* Reads until N bytes or end of file, retrying after EINTR and short reads;
 * *ret_n is how many arrived, also on error. */
int loop_read(int fd, void *buf, size_t n, size_t *ret_n);

/* Writes DATA to PATH atomically with MODE. REPLACE: over an existing file;
 * else -EEXIST if anything has that name. */
int write_file_atomic_full(const char *path, const void *data, size_t n, mode_t mode, bool replace);
/* The common case: a text file, replacing the old one. */
int write_file_atomic(const char *path, const char *contents, mode_t mode);

/* Reads a small text file whole (at most MAX bytes). */
int read_file_full(const char *path, size_t max, char **ret);

/* An unnamed scratch file (O_TMPFILE, read-write, 0600) in DIR_FD, or in
 * /var/tmp where that file system has none (NFS, CIFS); never a named
 * file. Returns the descriptor or a negative errno (of DIR_FD's attempt). */
int spool_open(int dir_fd);
/* unlink(PATH); a file that is not there is no error. */
int unlink_if_present(const char *path);

/* Opens NAME in DIR_FD as a backup reads a file: with O_NOATIME (reading
 * it must not make it look used), which only its owner may ask for, else
 * plainly. Returns the descriptor, or -1 with errno set, as openat(). */
int openat_noatime(int dir_fd, const char *name, int flags);
/* For a file the walk found to be a regular file: never through a symlink,
 * never blocking on what became a FIFO meanwhile, never as a terminal. */
#define OPEN_WALKED_FILE (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)

/* Makes the directory's entries durable. */
int fsync_directory(int dir_fd);
