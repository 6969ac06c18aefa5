/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdarg.h>

#include "archive-read.h"
#include "format-util.h"
#include "archive-util.h"
#include "incremental.h"
#include "log.h"
#include "manifest.h"

/* What libarchive reads from: the file, decrypted on the way when it is
 * encrypted. The ArchiveReader owns it (not libarchive, which would free it
 * on a failed open, taking the decryption's error message with it). */
typedef struct Source {
        int fd;
        CryptReader *reader;    /* NULL: a plain archive */
        char *error;            /* the first decryption error */
        uint8_t buf[256 * 1024];
} Source;

static la_ssize_t source_read(struct archive *a, void *userdata, const void **ret_buf) {
        Source *s = userdata;

        if (s->reader) {
                _cleanup_free_ char *error = NULL;
                ssize_t n = crypt_reader_read(s->reader, ret_buf, &error);
                if (n < 0) {
                        if (!s->error)
                                s->error = TAKE_PTR(error);
                        archive_set_error(a, (int) -n, "%s", s->error ?: strerror((int) -n));
                        return -1;
                }
                return n;
        }
        for (;;) {
                ssize_t n = read(s->fd, s->buf, sizeof s->buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        archive_set_error(a, errno, "%s", strerror(errno));
                        return -1;
                }
                *ret_buf = s->buf;
                return n;
        }
}

static void source_free(Source *s) {
        if (!s)
                return;
        crypt_reader_free(s->reader);
        safe_close(s->fd);
        free(s->error);
        free(s);
}

const char *archive_reader_error(const ArchiveReader *r) {
        return r->source->error ?: archive_error_string(r->a) ?: "unreadable archive";
}

ArchiveReader *archive_reader_free(ArchiveReader *r) {
        if (!r)
                return NULL;
        if (r->a)
                archive_read_free(r->a);
        source_free(r->source);
        free(r);
        return NULL;
}

/* Plain archives only: lets libarchive skip over entry data it does not
 * want (restore's first pass, which only needs the headers and the
 * manifest) instead of reading it. */
static la_int64_t source_skip(struct archive *a, void *userdata, la_int64_t request) {
        Source *s = userdata;
        if (lseek(s->fd, (off_t) request, SEEK_CUR) < 0)
                return 0;       /* not seekable: libarchive reads instead */
        return request;
}

int archive_reader_open_fd(int fd, const CryptKeySource *key, ArchiveReader **ret, char **ret_error) {
        _cleanup_(archive_read_freep) struct archive *a = archive_read_new();
        Source *s;
        int r;

        if (!a)
                return -ENOMEM;
        if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
            archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
            archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
            archive_read_support_filter_xz(a) != ARCHIVE_OK)
                return -EOPNOTSUPP;

        _cleanup_(archive_reader_freep) ArchiveReader *reader = calloc(1, sizeof *reader);
        if (!reader)
                return -ENOMEM;
        reader->source = s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (s->fd < 0)
                return negative_errno();
        if (lseek(s->fd, 0, SEEK_SET) < 0)
                return negative_errno();
        r = crypt_is_encrypted(s->fd);
        if (r > 0 && !key)
                return errorf(ret_error, -ENOKEY, "the archive is encrypted: give its key (--key FILE, or KeyFile= in the schedule)");
        if (r > 0)
                r = crypt_reader_new(key, s->fd, &s->reader, ret_error);
        if (r < 0)
                return r;

        if (!s->reader && archive_read_set_skip_callback(a, source_skip) != ARCHIVE_OK)
                return -EOPNOTSUPP;
        if (archive_read_open(a, s, NULL, source_read, NULL) != ARCHIVE_OK) {
                int e = archive_errno(a);
                return errorf(ret_error, e > 0 ? -e : -EINVAL, "%s", archive_reader_error(&(ArchiveReader) { a, s }));
        }
        reader->a = TAKE_PTR(a);
        *ret = TAKE_PTR(reader);
        return 0;
}

int archive_reader_open(const char *path, const CryptKeySource *key, ArchiveReader **ret, char **ret_error) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        return archive_reader_open_fd(fd, key, ret, ret_error);
}

int archive_read_entry_whole(struct archive *a, size_t max, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, allocated = 0;
        for (;;) {
                if (allocated - len < 65536) {
                        if (allocated >= max)
                                return -EFBIG;
                        allocated = allocated ? allocated * 2 : 65536;
                        char *b = realloc(buf, allocated + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                la_ssize_t n = archive_read_data(a, buf + len, allocated - len);
                if (n < 0)
                        return -EBADMSG;
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int archive_read_entry_data(struct archive *a, uint64_t size, ContentHash *h, archive_data_sink_t sink, void *userdata,
                            ContentDigest *ret_digest) {
        uint64_t pos = 0;
        int r;

        content_hash_start(h, size, true);
        for (;;) {
                const void *buf;
                size_t n;
                la_int64_t offset;
                r = archive_read_data_block(a, &buf, &n, &offset);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN || offset < 0 || (uint64_t) offset < pos) {
                        r = -EBADMSG;
                        goto fail;
                }
                if ((uint64_t) offset > pos) {
                        content_hash_zeros(h, (uint64_t) offset - pos);
                        pos = (uint64_t) offset;
                }
                content_hash_update(h, buf, n);
                pos += n;
                if (sink) {
                        r = sink(userdata, buf, n, offset);
                        if (r < 0)
                                goto fail;
                }
        }
        if (pos < size)
                content_hash_zeros(h, size - pos);
        content_hash_final(h, ret_digest);
        return 0;
fail:
        /* H starts afresh for the next entry, whatever this one left in it */
        content_hash_final(h, ret_digest);
        return r;
}

bool archive_file_is_encrypted(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        return fd >= 0 && crypt_is_encrypted(fd) > 0;
}

int archive_count_entries(const char *path, const CryptKeySource *key, uint64_t *ret, char **ret_error) {
        _cleanup_(archive_reader_freep) ArchiveReader *reader = NULL;
        struct archive_entry *entry;
        uint64_t n = 0;
        int r;

        r = archive_reader_open(path, key, &reader, ret_error);
        if (r < 0)
                return r;
        struct archive *a = reader->a;
        while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                if (!archive_member_is_internal(strempty(archive_entry_pathname(entry))))
                        n++;
                if (archive_read_data_skip(a) != ARCHIVE_OK) {
                        r = ARCHIVE_FATAL;
                        break;
                }
        }
        if (r != ARCHIVE_EOF) {
                if (ret_error)
                        *ret_error = strdup(archive_reader_error(reader));
                return -EBADMSG;
        }
        *ret = n;
        return 0;
}

bool archive_member_is_internal(const char *name) {
        return streq(name, MANIFEST_NAME) || streq(name, INCREMENTAL_HEADER_NAME) || streq(name, INCREMENTAL_DELETED_NAME);
}

void archive_report_log(int level, const char *message, void *userdata) {
        log_full_errno(level, 0, "%s", message);
}

int archive_reportf(archive_report_t report, void *userdata, int level, int error, const char *format, ...) {
        _cleanup_free_ char *message = NULL;
        va_list ap;

        if (error != 0)
                errno = error < 0 ? -error : error;
        va_start(ap, format);
        int k = vasprintf(&message, format, ap);
        va_end(ap);
        if (k < 0)
                return error;
        if (report)
                report(level, message, userdata);
        else
                log_debug("%s", message);
        return error;
}
