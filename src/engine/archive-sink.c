/* SPDX-License-Identifier: MIT */
#include "archive-sink.h"

struct ArchiveSink {
        int fd;
        CryptWriter *crypt;
        uint64_t bytes_out;
};

static int write_fd(void *userdata, const void *buf, size_t n) {
        ArchiveSink *s = userdata;
        const uint8_t *p = buf;

        for (size_t left = n; left > 0;) {
                ssize_t k = write(s->fd, p, left);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                left -= (size_t) k;
        }
        s->bytes_out += n;
        return 0;
}

int archive_sink_new(int fd, const CryptKeySource *key, ArchiveSink **ret) {
        ArchiveSink *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return -ENOMEM;
        s->fd = fd;
        if (key) {
                r = crypt_writer_new(key, write_fd, s, &s->crypt);
                if (r < 0) {
                        free(s);
                        return r;
                }
        }
        *ret = s;
        return 0;
}

int archive_sink_write(ArchiveSink *s, const void *buf, size_t n) {
        return s->crypt ? crypt_writer_write(s->crypt, buf, n) : write_fd(s, buf, n);
}

int archive_sink_finish(ArchiveSink *s) {
        return s->crypt ? crypt_writer_finish(s->crypt) : 0;
}

uint64_t archive_sink_bytes_out(const ArchiveSink *s) {
        return s->bytes_out;
}

ArchiveSink *archive_sink_free(ArchiveSink *s) {
        if (!s)
                return NULL;
        crypt_writer_free(s->crypt);
        free(s);
        return NULL;
}
