/* SPDX-License-Identifier: MIT */
#include "archive-sink.h"
#include "fileio.h"
#include "pgzip.h"

struct ArchiveSink {
        int fd;
        PGzip *gzip;
        CryptWriter *crypt;
        uint64_t bytes_out;
};

static int write_fd(void *userdata, const void *buf, size_t n) {
        ArchiveSink *s = userdata;
        int r = loop_write(s->fd, buf, n);
        if (r < 0)
                return r;
        s->bytes_out += n;
        return 0;
}

/* What leaves the compressor: encrypted, or straight to the file. */
static int after_gzip(void *userdata, const void *buf, size_t n) {
        ArchiveSink *s = userdata;
        return s->crypt ? crypt_writer_write(s->crypt, buf, n) : write_fd(s, buf, n);
}

int archive_sink_new(int fd, int gzip_level, const CryptKeySource *key, ArchiveSink **ret) {
        _cleanup_(archive_sink_freep) ArchiveSink *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return -ENOMEM;
        s->fd = fd;
        if (key) {
                r = crypt_writer_new(key, write_fd, s, &s->crypt);
                if (r < 0)
                        return r;
        }
        if (gzip_level >= 0) {
                r = pgzip_new(gzip_level, 0, after_gzip, s, &s->gzip);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int archive_sink_write(ArchiveSink *s, const void *buf, size_t n) {
        return s->gzip ? pgzip_write(s->gzip, buf, n) : after_gzip(s, buf, n);
}

int archive_sink_finish(ArchiveSink *s) {
        int r = s->gzip ? pgzip_finish(s->gzip) : 0;
        if (r >= 0 && s->crypt)
                r = crypt_writer_finish(s->crypt);
        return r;
}

uint64_t archive_sink_bytes_out(const ArchiveSink *s) {
        return s->bytes_out;
}

ArchiveSink *archive_sink_free(ArchiveSink *s) {
        if (!s)
                return NULL;
        pgzip_free(s->gzip);
        crypt_writer_free(s->crypt);
        free(s);
        return NULL;
}
