/* SPDX-License-Identifier: MIT */
#include <archive.h>
#include <archive_entry.h>

#include "archive-read.h"
#include "archive-util.h"
#include "log.h"
#include "manifest.h"
#include "verify.h"

#define MANIFEST_MAX (1024 * 1024 * 1024)

static const char *entry_name(const char *p) {
        while (p && p[0] == '.' && p[1] == '/')
                p += 2;
        return strempty(p);
}

int verify_archive(const char *path, const CryptKeySource *key, VerifyResult *ret) {
        _cleanup_(archive_reader_freep) ArchiveReader *reader = NULL;
        _cleanup_(manifest_done) Manifest actual = {}, expected = {};
        _cleanup_free_ char *manifest_text = NULL;
        size_t manifest_len = 0;
        struct archive_entry *e;
        VerifyResult res = {};
        Sha256 h = {};
        int r;

        _cleanup_free_ char *open_error = NULL;
        r = archive_reader_open(path, key, &reader, &open_error);
        if (r < 0)
                return log_error_errno(r, "Cannot open %s: %s", path, open_error ?: strerror(-r));
        struct archive *a = reader->a;
        r = sha256_init(&h);
        if (r < 0)
                return log_oom();

        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                const char *name = entry_name(archive_entry_pathname(e));

                /* A manifest is only the manifest if it is the last entry: if
                 * anything follows, what we took for one was a file. */
                if (manifest_text) {
                        r = manifest_add(&actual, 'f', MANIFEST_NAME, NULL, manifest_len, NULL);
                        free(manifest_text);
                        manifest_text = NULL;
                        if (r < 0)
                                goto oom;
                        res.entries++;
                }
                if (streq(name, MANIFEST_NAME) && archive_entry_filetype(e) == AE_IFREG) {
                        r = archive_read_entry_whole(a, MANIFEST_MAX, &manifest_text, &manifest_len);
                        if (r == -ENOMEM)
                                goto oom;
                        if (r < 0) {
                                r = ARCHIVE_FATAL;
                                break;
                        }
                        continue;
                }

                uint8_t digest[SHA256_LEN] = {};
                const char *link = archive_entry_hardlink(e);
                char type = link ? 'h' : manifest_type_from_filetype(archive_entry_filetype(e));
                uint64_t size = type == 'f' ? (uint64_t) archive_entry_size(e) : 0;
                if (type == 'f' && archive_read_entry_data(a, size, &h, NULL, NULL, digest) < 0) {
                        r = ARCHIVE_FATAL;
                        break;
                }
                if (manifest_add(&actual, type, name, link ? entry_name(link) : NULL, size, type == 'f' ? digest : NULL) < 0)
                        goto oom;
                res.entries++;
        }
        sha256_done(&h);
        if (r != ARCHIVE_EOF)
                return log_error_errno(-EBADMSG, "%s: unreadable after %llu entries: %s", path,
                                       (unsigned long long) res.entries, archive_reader_error(reader));

        if (!manifest_text) {
                log_error("%s: no manifest (the archive's last entry %s is missing): it cannot be verified.", path, MANIFEST_NAME);
                *ret = res;
                return 0;
        }
        size_t bad_line = 0;
        r = manifest_parse(manifest_text, manifest_len, &expected, &bad_line);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                log_error("%s: the manifest is damaged at line %zu.", path, bad_line);
                *ret = res;
                return 0;
        }
        res.has_manifest = true;

        manifest_sort(&actual);
        manifest_sort(&expected);
        size_t i = 0, j = 0;
        while (i < expected.n || j < actual.n) {
                int c = i == expected.n ? 1 : j == actual.n ? -1 : strcmp(expected.entries[i].path, actual.entries[j].path);
                if (c < 0) {
                        log_error("%s: missing: %s", path, expected.entries[i].path);
                        res.missing++;
                        i++;
                } else if (c > 0) {
                        log_error("%s: extra: %s", path, actual.entries[j].path);
                        res.extra++;
                        j++;
                } else {
                        const ManifestEntry *x = &expected.entries[i], *y = &actual.entries[j];
                        if (x->type != y->type)
                                log_error("%s: corrupt: %s is a '%c' entry, the manifest says '%c'", path, x->path, y->type, x->type);
                        else if (x->size != y->size)
                                log_error("%s: corrupt: %s has %llu bytes, the manifest says %llu", path, x->path,
                                          (unsigned long long) y->size, (unsigned long long) x->size);
                        else if (memcmp(x->digest, y->digest, SHA256_LEN) != 0)
                                log_error("%s: corrupt: %s: content differs from its SHA-256 in the manifest", path, x->path);
                        else if (!streq_ptr(x->target, y->target))
                                log_error("%s: corrupt: %s links to %s, the manifest says %s", path, x->path,
                                          strempty(y->target), strempty(x->target));
                        else
                                goto same;
                        res.corrupt++;
                same:
                        i++;
                        j++;
                }
        }
        *ret = res;
        return 0;
oom:
        sha256_done(&h);
        return log_oom();
}
