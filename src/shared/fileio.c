/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "fileio.h"
#include "path-util.h"

/* Errors that mean "this file system cannot do O_TMPFILE", not "you may not". */
static bool tmpfile_unsupported(int e) {
        return e == EOPNOTSUPP || e == EISDIR || e == EINVAL || e == ENOENT;
}

int openat_noatime(int dir_fd, const char *name, int flags) {
        int fd = openat(dir_fd, name, flags | O_NOATIME);
        if (fd < 0 && errno == EPERM)
                fd = openat(dir_fd, name, flags);
        return fd;
}

int spool_open(int dir_fd) {
        int fd = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0)
                return fd;
        int r = -errno;
        if (!tmpfile_unsupported(-r))
                return r;
        fd = open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        return fd >= 0 ? fd : r;
}

int unlink_if_present(const char *path) {
        return unlink(path) < 0 && errno != ENOENT ? negative_errno() : 0;
}

static int random_tmp_name(const char *name, char **ret) {
        uint64_t rnd;
        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                rnd = (uint64_t) getpid() << 32 ^ (uint64_t) (uintptr_t) &rnd;
        return asprintf(ret, ".#%s.%016llx", name, (unsigned long long) rnd) < 0 ? -ENOMEM : 0;
}

int atomic_file_open(int dir_fd, const char *name, mode_t mode, AtomicFile *ret) {
        AtomicFile f = ATOMIC_FILE_NULL;

        f.dir_fd = dir_fd;
        f.name = strdup(name);
        if (!f.name)
                return -ENOMEM;

        f.fd = openat(dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
        if (f.fd < 0) {
                if (!tmpfile_unsupported(errno)) {
                        int r = negative_errno();
                        atomic_file_abort(&f);
                        return r;
                }
                for (int attempt = 0; attempt < 16 && f.fd < 0; attempt++) {
                        free(f.tmp_name);
                        f.tmp_name = NULL;
                        if (random_tmp_name(name, &f.tmp_name) < 0) {
                                atomic_file_abort(&f);
                                return -ENOMEM;
                        }
                        f.fd = openat(dir_fd, f.tmp_name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode);
                        if (f.fd < 0 && errno != EEXIST) {
                                int r = negative_errno();
                                free(f.tmp_name);
                                f.tmp_name = NULL;
                                atomic_file_abort(&f);
                                return r;
                        }
                }
                if (f.fd < 0) {
                        free(f.tmp_name);
                        f.tmp_name = NULL;
                        atomic_file_abort(&f);
                        return -EEXIST;
                }
        }
        /* O_TMPFILE and O_CREAT honour the umask; the caller asked for MODE exactly. */
        if (fchmod(f.fd, mode) < 0) {
                int r = negative_errno();
                atomic_file_abort(&f);
                return r;
        }
        *ret = f;
        return 0;
}

static int link_tmpfile(int fd, int dir_fd, const char *name) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%i", fd);
        if (linkat(AT_FDCWD, proc, dir_fd, name, AT_SYMLINK_FOLLOW) >= 0)
                return 0;
        if (errno != ENOENT)
                return negative_errno();
        /* No /proc: the privileged way. */
        if (linkat(fd, "", dir_fd, name, AT_EMPTY_PATH) < 0)
                return negative_errno();
        return 0;
}

int atomic_file_commit(AtomicFile *f, bool replace) {
        int r;

        if (fsync(f->fd) < 0) {
                r = negative_errno();
                goto fail;
        }

        if (!f->tmp_name) {
                if (!replace) {
                        r = link_tmpfile(f->fd, f->dir_fd, f->name);
                        if (r < 0)
                                goto fail;
                } else {
                        /* link() cannot replace: link under a temporary name, then rename over. */
                        for (int attempt = 0;; attempt++) {
                                r = random_tmp_name(f->name, &f->tmp_name);
                                if (r < 0)
                                        goto fail;
                                r = link_tmpfile(f->fd, f->dir_fd, f->tmp_name);
                                if (r >= 0)
                                        break;
                                free(f->tmp_name);
                                f->tmp_name = NULL;
                                if (r != -EEXIST || attempt >= 16)
                                        goto fail;
                        }
                }
        }

        if (f->tmp_name) {
                if (replace)
                        r = renameat(f->dir_fd, f->tmp_name, f->dir_fd, f->name) < 0 ? negative_errno() : 0;
                else
                        r = renameat2(f->dir_fd, f->tmp_name, f->dir_fd, f->name, RENAME_NOREPLACE) < 0 ? negative_errno() : 0;
                /* NFS (which also has no O_TMPFILE, so this is where it lands)
                 * refuses RENAME_NOREPLACE with EINVAL: link(2) does not
                 * replace either, then the temporary name goes. */
                if (!replace && (r == -EINVAL || r == -ENOSYS)) {
                        r = linkat(f->dir_fd, f->tmp_name, f->dir_fd, f->name, 0) < 0 ? negative_errno() : 0;
                        if (r >= 0)
                                (void) unlinkat(f->dir_fd, f->tmp_name, 0);
                }
                if (r < 0)
                        goto fail;
                free(f->tmp_name);
                f->tmp_name = NULL;
        }

        f->fd = safe_close(f->fd);
        r = fsync_directory(f->dir_fd);
        free(f->name);
        f->name = NULL;
        return r;
fail:
        atomic_file_abort(f);
        return r;
}

void atomic_file_abort(AtomicFile *f) {
        f->fd = safe_close(f->fd);
        if (f->tmp_name)
                (void) unlinkat(f->dir_fd, f->tmp_name, 0);
        free(f->tmp_name);
        free(f->name);
        f->tmp_name = f->name = NULL;
}

int fsync_directory(int dir_fd) {
        return fsync(dir_fd) < 0 ? negative_errno() : 0;
}

int loop_write(int fd, const void *buf, size_t n) {
        const uint8_t *p = buf;
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int loop_read(int fd, void *buf, size_t n, size_t *ret_n) {
        size_t got = 0;
        int r = 0;
        while (got < n) {
                ssize_t k = read(fd, (uint8_t *) buf + got, n - got);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        break;
                }
                if (k == 0)
                        break;
                got += (size_t) k;
        }
        *ret_n = got;
        return r;
}

int write_file_atomic_full(const char *path, const void *data, size_t n, mode_t mode, bool replace) {
        _cleanup_free_ char *dir = strdup(path);
        AtomicFile f;
        int r;

        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : path;
        if (isempty(base))
                return -EISDIR;
        if (slash == dir)
                slash[1] = 0;
        else if (slash)
                *slash = 0;
        _cleanup_close_ int dir_fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return negative_errno();

        r = atomic_file_open(dir_fd, base, mode, &f);
        if (r < 0)
                return r;
        r = loop_write(f.fd, data, n);
        if (r < 0) {
                atomic_file_abort(&f);
                return r;
        }
        return atomic_file_commit(&f, replace);
}

int write_file_atomic(const char *path, const char *contents, mode_t mode) {
        return write_file_atomic_full(path, contents, strlen(contents), mode, true);
}

int read_file_full(const char *path, size_t max, char **ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        _cleanup_free_ char *buf = malloc(max + 1);
        if (!buf)
                return -ENOMEM;
        size_t n;
        int r = loop_read(fd, buf, max + 1, &n);
        if (r < 0)
                return r;
        if (n > max)
                return -EFBIG;
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}
