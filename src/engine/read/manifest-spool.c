/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "archive-read.h"
#include "fileio.h"
#include "manifest-spool.h"
#include "scratch.h"

/* A positional line is at most "f " + 16 digits + " " + 9 digits. */
#define POSITIONAL_LINE_MAX 64

int manifest_spool_open(ManifestSpool *s, const char *archive) {
        *s = (ManifestSpool) { .archive = archive };
        s->f = scratch_open(archive);
        return s->f ? 0 : -errno ?: -EIO;
}

void manifest_spool_done(ManifestSpool *s) {
        if (s->f)
                fclose(s->f);
        manifest_entry_done(&s->current);
        *s = (ManifestSpool) {};
}

static int spool_block(void *userdata, const void *buf, size_t n, int64_t offset) {
        ManifestSpool *s = userdata;
        if (n > MANIFEST_MAX - s->bytes)
                return -EFBIG;
        s->bytes += n;
        for (const char *p = buf, *end = p + n; (p = memchr(p, '\n', (size_t) (end - p))); p++)
                s->lines++;
        return fwrite(buf, 1, n, s->f) == n ? 0 : -EIO;
}

int manifest_spool_take(ManifestSpool *s, struct archive *a, uint64_t size, ContentHash *h, ContentDigest *ret_digest) {
        if (s->bytes > 0) {
                /* what was taken was a file after all: start afresh */
                fclose(s->f);
                s->f = scratch_open(s->archive);
                if (!s->f)
                        return -errno ?: -EIO;
        }
        s->lines = s->bytes = 0;
        return archive_read_entry_data(a, size, h, spool_block, s, ret_digest);
}

int manifest_spool_rewind(ManifestSpool *s) {
        char head[sizeof MANIFEST_HEADER];

        if (fflush(s->f) != 0)
                return -errno;
        rewind(s->f);
        size_t n = fread(head, 1, strlen(MANIFEST_HEADER), s->f);
        if (ferror(s->f))
                return -EIO;
        s->positional = manifest_is_positional(head, n);
        rewind(s->f);
        s->line = 0;
        s->next = 0;
        if (s->positional) {
                if (fseek(s->f, (long) strlen(MANIFEST_HEADER), SEEK_SET) < 0)
                        return -errno;
                s->line = 1;
        }
        return 0;
}

int manifest_spool_next(ManifestSpool *s, ManifestEntry *ret) {
        char line[POSITIONAL_LINE_MAX + 2];
        if (!fgets(line, sizeof line, s->f))
                return ferror(s->f) ? -EIO : 0;
        s->line++;
        char *eol = strchr(line, '\n');
        if (!eol || manifest_parse_line(line, eol, true, ret) < 0)
                return -EBADMSG;
        return 1;
}

int manifest_spool_check(ManifestSpool *s) {
        ManifestEntry line = {};
        int r;
        while ((r = manifest_spool_next(s, &line)) > 0)
                manifest_entry_done(&line);
        manifest_entry_done(&line);
        return r < 0 ? r : manifest_spool_rewind(s);
}

const ManifestEntry *manifest_spool_seek(ManifestSpool *s, uint64_t ordinal, int *ret_error) {
        *ret_error = 0;
        while (s->next <= ordinal) {
                manifest_entry_done(&s->current);
                int r = manifest_spool_next(s, &s->current);
                if (r <= 0) {
                        *ret_error = r;
                        return NULL;
                }
                s->next++;
        }
        return s->next == ordinal + 1 ? &s->current : NULL;
}

int manifest_spool_read_whole(ManifestSpool *s, char **ret, size_t *ret_len) {
        size_t len = (size_t) s->bytes;
        _cleanup_free_ char *text = malloc(len + 1);
        if (!text)
                return -ENOMEM;
        if (fflush(s->f) != 0)
                return -errno;
        rewind(s->f);
        if (fread(text, 1, len, s->f) != len)
                return -EIO;
        text[len] = 0;
        *ret = TAKE_PTR(text);
        *ret_len = (size_t) len;
        return 0;
}
