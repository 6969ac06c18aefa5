/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "archive-list.h"
#include "path-util.h"

#define STAMP_LEN (sizeof "YYYYmmddTHHMMSSZ" - 1)

int archive_name_format(const char *schedule, uint64_t time_usec, Compression c, bool encrypted, char **ret) {
        return archive_name_format_kind(schedule, time_usec, false, c, encrypted, ret);
}

int archive_name_format_kind(const char *schedule, uint64_t time_usec, bool incremental, Compression c,
                             bool encrypted, char **ret) {
        time_t t = (time_t) (time_usec / USEC_PER_SEC);
        struct tm tm;
        char stamp[STAMP_LEN + 1];

        if (!gmtime_r(&t, &tm) || strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) != STAMP_LEN)
                return -EINVAL;
        return asprintf(ret, "%s-%s%s%s%s", schedule, stamp, incremental ? INCREMENTAL_SUFFIX : "",
                        compression_suffix(c), encrypted ? ENCRYPTED_SUFFIX : "") < 0 ? -ENOMEM : 0;
}

bool archive_name_parse(const char *filename, char **ret_schedule, uint64_t *ret_time_usec,
                        Compression *ret_compression, bool *ret_encrypted) {
        return archive_name_parse_kind(filename, ret_schedule, ret_time_usec, NULL, ret_compression, ret_encrypted);
}

bool archive_name_parse_kind(const char *filename, char **ret_schedule, uint64_t *ret_time_usec,
                             bool *ret_incremental, Compression *ret_compression, bool *ret_encrypted) {
        /* "….tar.gz.enc": look at the name without the ".enc". */
        const char *enc = endswith(filename, ENCRYPTED_SUFFIX);
        if (enc) {
                _cleanup_free_ char *plain = strndup(filename, enc - filename);
                if (!plain || endswith(plain, ENCRYPTED_SUFFIX) ||
                    !archive_name_parse_kind(plain, ret_schedule, ret_time_usec, ret_incremental, ret_compression, NULL))
                        return false;
                if (ret_encrypted)
                        *ret_encrypted = true;
                return true;
        }
        if (ret_encrypted)
                *ret_encrypted = false;

        /* Try the longest suffixes first: ".tar" is a suffix of none of the others, but be explicit. */
        static const Compression order[] = { COMPRESSION_GZIP, COMPRESSION_ZSTD, COMPRESSION_XZ, COMPRESSION_NONE };
        const char *suffix = NULL;
        Compression c = _COMPRESSION_INVALID;

        for (size_t i = 0; i < ELEMENTSOF(order) && !suffix; i++)
                if ((suffix = endswith(filename, compression_suffix(order[i]))))
                        c = order[i];
        if (!suffix)
                return false;
        /* "….incr.tar.gz": an incremental archive */
        bool incremental = suffix - filename >= (ptrdiff_t) strlen(INCREMENTAL_SUFFIX) &&
                memcmp(suffix - strlen(INCREMENTAL_SUFFIX), INCREMENTAL_SUFFIX, strlen(INCREMENTAL_SUFFIX)) == 0;
        if (incremental)
                suffix -= strlen(INCREMENTAL_SUFFIX);
        if ((size_t) (suffix - filename) < STAMP_LEN + 2)
                return false;

        const char *stamp = suffix - STAMP_LEN;
        if (stamp[-1] != '-')
                return false;
        for (size_t i = 0; i < STAMP_LEN; i++) {
                bool ok = i == 8 ? stamp[i] == 'T' : i == STAMP_LEN - 1 ? stamp[i] == 'Z' : stamp[i] >= '0' && stamp[i] <= '9';
                if (!ok)
                        return false;
        }

        struct tm tm = {};
        char buf[STAMP_LEN + 1];
        memcpy(buf, stamp, STAMP_LEN);
        buf[STAMP_LEN] = 0;
        const char *end = strptime(buf, "%Y%m%dT%H%M%SZ", &tm);
        if (!end || *end != 0)
                return false;
        /* timegm() would turn "20260229" (no such day) or second 60 into
         * another time, which names another archive; and none is older than 1970 */
        struct tm parsed = tm;
        time_t t = timegm(&tm);
        if (t < 0 || tm.tm_year != parsed.tm_year || tm.tm_mon != parsed.tm_mon ||
            tm.tm_mday != parsed.tm_mday || tm.tm_hour != parsed.tm_hour || tm.tm_min != parsed.tm_min ||
            tm.tm_sec != parsed.tm_sec)
                return false;

        _cleanup_free_ char *name = strndup(filename, stamp - 1 - filename);
        if (!name || !schedule_name_is_valid(name))
                return false;

        if (ret_schedule)
                *ret_schedule = TAKE_PTR(name);
        if (ret_time_usec)
                *ret_time_usec = (uint64_t) t * USEC_PER_SEC;
        if (ret_compression)
                *ret_compression = c;
        if (ret_incremental)
                *ret_incremental = incremental;
        return true;
}

bool archive_temporary_name_parse(const char *filename, char **ret_schedule) {
        const char *name = startswith(filename, ".#"), *dot;

        if (!name || !(dot = strrchr(name, '.')) || strlen(dot + 1) != 16 ||
            strspn(dot + 1, "0123456789abcdef") != 16)
                return false;
        _cleanup_free_ char *archive = strndup(name, dot - name);
        return archive && archive_name_parse(archive, ret_schedule, NULL, NULL, NULL);
}

static int archive_compare(const void *a, const void *b) {
        const ArchiveInfo *x = a, *y = b;
        if (x->time_usec != y->time_usec)
                return x->time_usec < y->time_usec ? -1 : 1;
        return strcmp(x->filename, y->filename);
}

void archive_list_free(ArchiveInfo *a, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(a[i].schedule);
                free(a[i].filename);
                free(a[i].path);
        }
        free(a);
}

int archive_list(const char *dir, const char *schedule, ArchiveInfo **ret, size_t *ret_n) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        ArchiveInfo *list = NULL;
        size_t n = 0;
        struct dirent *de;
        int r = 0;

        if (!d) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }

        while ((errno = 0, de = readdir(d))) {
                ArchiveInfo a = {};
                struct stat st;

                if (de->d_name[0] == '.')
                        continue;
                if (!archive_name_parse_kind(de->d_name, &a.schedule, &a.time_usec, &a.incremental, &a.compression,
                                             &a.encrypted))
                        continue;
                if (schedule && !streq(a.schedule, schedule)) {
                        free(a.schedule);
                        continue;
                }
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
                        free(a.schedule);
                        continue;
                }
                a.size = (uint64_t) st.st_size;
                a.filename = strdup(de->d_name);
                a.path = path_join(dir, de->d_name);
                ArchiveInfo *grown = reallocarray(list, n + 1, sizeof *list);
                if (!a.filename || !a.path || !grown) {
                        free(a.schedule);
                        free(a.filename);
                        free(a.path);
                        if (grown)
                                list = grown;
                        r = -ENOMEM;
                        goto fail;
                }
                list = grown;
                list[n++] = a;
        }
        if (errno != 0) {
                r = negative_errno();
                goto fail;
        }

        if (n > 0)
                qsort(list, n, sizeof *list, archive_compare);
        *ret = list;
        *ret_n = n;
        return 0;
fail:
        archive_list_free(list, n);
        return r;
}

int archive_dir_lock(const char *dir, const char *schedule, int *ret_fd) {
        _cleanup_free_ char *name = NULL;
        if (asprintf(&name, ".alexandria-%s.lock", schedule) < 0)
                return -ENOMEM;
        _cleanup_close_ int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return negative_errno();
        int fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return negative_errno();
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = errno == EWOULDBLOCK ? -EBUSY : negative_errno();
                safe_close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}
