/* SPDX-License-Identifier: MIT */
#include <fcntl.h>

#include "archive-read.h"
#include "archive-util.h"
#include "incremental.h"
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

static int errorf(char **ret_error, int r, const char *s) {
        if (ret_error)
                *ret_error = strdup(s);
        return r;
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

int archive_reader_open(const char *path, const CryptKeySource *key, ArchiveReader **ret, char **ret_error) {
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
        s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (s->fd < 0)
                return negative_errno();
        r = crypt_is_encrypted(s->fd);
        if (r > 0 && !key)
                return errorf(ret_error, -ENOKEY, "the archive is encrypted: give its key (--key FILE, or KeyFile= in the schedule)");
        if (r > 0)
                r = crypt_reader_new(key, s->fd, &s->reader, ret_error);
        if (r < 0)
                return r;

        if (archive_read_open(a, s, NULL, source_read, NULL) != ARCHIVE_OK) {
                int e = archive_errno(a);
                return errorf(ret_error, e > 0 ? -e : -EINVAL, archive_reader_error(&(ArchiveReader) { a, s }));
        }
        reader->a = TAKE_PTR(a);
        *ret = TAKE_PTR(reader);
        return 0;
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
