/* SPDX-License-Identifier: MIT */
#include <fcntl.h>

#include "archive-read.h"
#include "archive-util.h"
#include "manifest.h"

int archive_reader_open(const char *path, struct archive **ret) {
        _cleanup_(archive_read_freep) struct archive *a = archive_read_new();
        if (!a)
                return -ENOMEM;
        if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
            archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
            archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
            archive_read_support_filter_xz(a) != ARCHIVE_OK)
                return -EOPNOTSUPP;
        if (archive_read_open_filename(a, path, 256 * 1024) != ARCHIVE_OK) {
                int e = archive_errno(a);
                return e > 0 ? -e : -EINVAL;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

int archive_count_entries(const char *path, uint64_t *ret, char **ret_error) {
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        struct archive_entry *entry;
        uint64_t n = 0;
        int r;

        r = archive_reader_open(path, &a);
        if (r < 0)
                return r;
        while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                if (!streq(strempty(archive_entry_pathname(entry)), MANIFEST_NAME))
                        n++;
                if (archive_read_data_skip(a) != ARCHIVE_OK) {
                        r = ARCHIVE_FATAL;
                        break;
                }
        }
        if (r != ARCHIVE_EOF) {
                if (ret_error)
                        *ret_error = strdup(archive_error_string(a) ?: "unreadable archive");
                return -EBADMSG;
        }
        *ret = n;
        return 0;
}
