/* SPDX-License-Identifier: MIT */
#include <archive.h>
#include <archive_entry.h>

#include "archive-read.h"
#include "archive-util.h"
#include "escape.h"
#include "log.h"
#include "manifest.h"
#include "verify.h"

#define say(level, error, ...) archive_reportf(report, userdata, level, error, __VA_ARGS__)

static const char *entry_name(const char *p) {
        while (p && p[0] == '.' && p[1] == '/')
                p += 2;
        return strempty(p);
}

int verify_archive(const char *path, const CryptKeySource *key, archive_report_t report, void *userdata, VerifyResult *ret) {
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
                return say(LOG_ERR, r, "Cannot open %s: %s", path, open_error ?: strerror(-r));
        struct archive *a = reader->a;
        r = sha256_init(&h);
        if (r < 0)
                return say(LOG_ERR, -ENOMEM, "Out of memory.");

        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                const char *name = entry_name(archive_entry_pathname(e));

                /* A manifest is only the manifest if it is the last entry: if
                 * anything follows, what we took for one was a file. */
                if (manifest_text) {
                        r = manifest_add(&actual, 'f', MANIFEST_NAME, NULL, manifest_len, NULL, 0, NULL);
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
                if (manifest_add(&actual, type, name, link ? entry_name(link) : NULL, size, type == 'f' ? digest : NULL,
                                 SHA256_LEN, NULL) < 0)
                        goto oom;
                res.entries++;
        }
        sha256_done(&h);
        if (r != ARCHIVE_EOF)
                return say(LOG_ERR, -EBADMSG, "%s: unreadable after %llu entries: %s", path,
                                       (unsigned long long) res.entries, archive_reader_error(reader));

        if (!manifest_text) {
                say(LOG_ERR, 0, "%s: no manifest (the archive's last entry %s is missing): it cannot be verified.", path, MANIFEST_NAME);
                *ret = res;
                return 0;
        }
        size_t bad_line = 0;
        r = manifest_parse(manifest_text, manifest_len, &expected, &bad_line);
        if (r == -ENOMEM)
                return say(LOG_ERR, -ENOMEM, "Out of memory.");
        if (r < 0) {
                say(LOG_ERR, 0, "%s: the manifest is damaged at line %zu.", path, bad_line);
                *ret = res;
                return 0;
        }
        res.has_manifest = true;

        manifest_sort(&actual);
        manifest_sort(&expected);
        size_t i = 0, j = 0;
        while (i < expected.n || j < actual.n) {
                int c = i == expected.n ? 1 : j == actual.n ? -1 : strcmp(expected.entries[i].path, actual.entries[j].path);
                const ManifestEntry *x = c <= 0 ? &expected.entries[i] : NULL, *y = c >= 0 ? &actual.entries[j] : NULL;
                /* names from the archive reach a terminal or the journal escaped */
                _cleanup_free_ char *name = text_escape(x ? x->path : y->path);
                _cleanup_free_ char *target = x && x->target ? text_escape(x->target) : NULL;
                _cleanup_free_ char *actual_target = y && y->target ? text_escape(y->target) : NULL;
                if (!name || (x && x->target && !target) || (y && y->target && !actual_target))
                        goto oom;
                if (!y) {
                        say(LOG_ERR, 0, "%s: missing: %s", path, name);
                        res.missing++;
                } else if (!x) {
                        say(LOG_ERR, 0, "%s: extra: %s", path, name);
                        res.extra++;
                } else if (x->type != y->type)
                        say(LOG_ERR, 0, "%s: corrupt: %s is a '%c' entry, the manifest says '%c'", path, name, y->type, x->type);
                else if (x->size != y->size)
                        say(LOG_ERR, 0, "%s: corrupt: %s has %llu bytes, the manifest says %llu", path, name,
                            (unsigned long long) y->size, (unsigned long long) x->size);
                else if (x->type == 'f' && !manifest_digest_matches(x, y->digest))
                        say(LOG_ERR, 0, "%s: corrupt: %s: content differs from its SHA-256 in the manifest", path, name);
                else if (!streq_ptr(x->target, y->target))
                        say(LOG_ERR, 0, "%s: corrupt: %s links to %s, the manifest says %s", path, name,
                            strempty(actual_target), strempty(target));
                else
                        goto same;
                if (x && y)
                        res.corrupt++;
        same:
                i += !!x;
                j += !!y;
        }
        *ret = res;
        return 0;
oom:
        sha256_done(&h);
        return say(LOG_ERR, -ENOMEM, "Out of memory.");
}
