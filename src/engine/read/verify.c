/* SPDX-License-Identifier: MIT */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>

#include "archive-read.h"
#include "archive-util.h"
#include "escape.h"
#include "fileio.h"
#include "log.h"
#include "manifest.h"
#include "manifest-spool.h"
#include "scratch.h"
#include "verify.h"

/* The manifest is the archive's last entry, so what every entry held is
 * known before what it should hold: the entries read back wait in an
 * unnamed scratch file, one record each, and are compared with the
 * manifest line by line at the end. Memory stays flat in the number of
 * entries; only a manifest of an older format, which names its entries
 * in any order, is compared in memory, sorted by name. */

#define say(level, error, ...) archive_reportf(v->report, v->userdata, level, error, __VA_ARGS__)

typedef struct ReadBack {
        char type;
        uint64_t size;
        ContentDigest digest;   /* of a regular file's content */
        uint32_t name_len, target_len;
} ReadBack;

typedef struct Verify {
        const char *path;
        archive_report_t report;
        void *userdata;
        FILE *entries;          /* ReadBack records, each followed by its name and target */
        ManifestSpool manifest; /* the data of the entry taken for the manifest */
        VerifyResult res;
} Verify;

static void verify_done(Verify *v) {
        manifest_spool_done(&v->manifest);
}

static const char *entry_name(const char *p) {
        while (p && p[0] == '.' && p[1] == '/')
                p += 2;
        return strempty(p);
}

static int spool_entry(Verify *v, char type, uint64_t size, const ContentDigest *d, const char *name, const char *target) {
        ReadBack rb = {
                .type = type, .size = size,
                .name_len = (uint32_t) strlen(name), .target_len = target ? (uint32_t) strlen(target) : 0,
        };
        if (d)
                rb.digest = *d;
        if (fwrite(&rb, sizeof rb, 1, v->entries) != 1 || fwrite(name, 1, rb.name_len, v->entries) != rb.name_len ||
            (target && fwrite(target, 1, rb.target_len, v->entries) != rb.target_len))
                return -errno ?: -EIO;
        return 0;
}

/* The next spooled entry: 1, 0 at the end, or a negative errno. */
static int next_spooled(Verify *v, ReadBack *rb, char **ret_name, char **ret_target) {
        if (fread(rb, sizeof *rb, 1, v->entries) != 1)
                return ferror(v->entries) ? -EIO : 0;
        _cleanup_free_ char *name = malloc(rb->name_len + 1), *target = malloc(rb->target_len + 1);
        if (!name || !target)
                return -ENOMEM;
        if (fread(name, 1, rb->name_len, v->entries) != rb->name_len ||
            fread(target, 1, rb->target_len, v->entries) != rb->target_len)
                return -EIO;
        name[rb->name_len] = target[rb->target_len] = 0;
        free(*ret_name);
        *ret_name = TAKE_PTR(name);
        free(*ret_target);
        *ret_target = rb->type == 'h' ? TAKE_PTR(target) : NULL;
        return 1;
}

/* Reads the archive to its end, spooling every entry; the last one, if
 * it is the manifest, goes to v->manifest instead. */
static int read_back(Verify *v, struct archive *a, bool *ret_manifest) {
        _cleanup_(content_hash_done) ContentHash h = {};
        ContentDigest manifest_digest = {};
        uint64_t manifest_size = 0;
        bool pending = false;   /* the entry just read was taken for the manifest */
        struct archive_entry *e;
        int r;

        if (content_hash_init(&h) < 0)
                return -ENOMEM;
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                const char *name = entry_name(archive_entry_pathname(e));

                /* A manifest is only the manifest if it is the last entry: if
                 * anything follows, what we took for one was a file. */
                if (pending) {
                        r = spool_entry(v, 'f', manifest_size, &manifest_digest, MANIFEST_NAME, NULL);
                        if (r < 0)
                                return r;
                        v->res.entries++;
                        pending = false;
                }
                char type = archive_entry_hardlink(e) ? 'h' : manifest_type_from_filetype(archive_entry_filetype(e));
                uint64_t size = type == 'f' ? (uint64_t) MAX(archive_entry_size(e), 0) : 0;
                ContentDigest digest = {};
                if (streq(name, MANIFEST_NAME) && type == 'f') {
                        r = manifest_spool_take(&v->manifest, a, size, &h, &manifest_digest);
                        if (r < 0)
                                return r == -EBADMSG || r == -EFBIG ? r : -EIO;
                        manifest_size = size;
                        pending = true;
                        continue;
                }
                if (type == 'f') {
                        r = archive_read_entry_data(a, size, &h, NULL, NULL, &digest);
                        if (r < 0)
                                return r;
                }
                const char *link = archive_entry_hardlink(e);
                r = spool_entry(v, type, size, type == 'f' ? &digest : NULL, name, link ? entry_name(link) : NULL);
                if (r < 0)
                        return r;
                v->res.entries++;
        }
        if (r != ARCHIVE_EOF)
                return -EBADMSG;
        *ret_manifest = pending;
        return fflush(v->entries) == 0 ? 0 : -errno;
}

/* One entry compared; X is what the manifest says, Y what was read. */
static int compare_entry(Verify *v, const ManifestEntry *x, const ReadBack *y, const char *y_name, const char *y_target) {
        /* names from the archive reach a terminal or the journal escaped */
        _cleanup_free_ char *name = text_escape(x->path ?: y_name);
        if (!name)
                return -ENOMEM;
        if (x->type != y->type)
                say(LOG_ERR, 0, "%s: corrupt: %s is a '%c' entry, the manifest says '%c'", v->path, name, y->type, x->type);
        else if (x->path && x->size != y->size)
                say(LOG_ERR, 0, "%s: corrupt: %s has %llu bytes, the manifest says %llu", v->path, name,
                    (unsigned long long) y->size, (unsigned long long) x->size);
        else if (x->type == 'f' && !manifest_digest_matches(x, &y->digest))
                say(LOG_ERR, 0, "%s: corrupt: %s: content differs from its digest in the manifest", v->path, name);
        else if (x->path && !streq_ptr(x->target, y_target)) {
                _cleanup_free_ char *target = x->target ? text_escape(x->target) : NULL;
                _cleanup_free_ char *actual = y_target ? text_escape(y_target) : NULL;
                say(LOG_ERR, 0, "%s: corrupt: %s links to %s, the manifest says %s", v->path, name,
                    strempty(actual), strempty(target));
        } else
                return 0;
        v->res.corrupt++;
        return 0;
}

/* How far a positional comparison looks ahead for the entry that an
 * added or a lost entry pushed out of place. */
#define LOOKAHEAD 8

typedef struct Window {
        ManifestEntry expected[LOOKAHEAD + 1];
        size_t n_expected;
        ReadBack read[LOOKAHEAD + 1];
        char *names[LOOKAHEAD + 1], *targets[LOOKAHEAD + 1];
        size_t n_read;
        bool manifest_end, read_end;
        char *previous;                 /* name of the last entry matched, for messages */
} Window;

static void window_done(Window *w) {
        for (size_t i = 0; i < w->n_expected; i++)
                manifest_entry_done(&w->expected[i]);
        for (size_t i = 0; i < w->n_read; i++) {
                free(w->names[i]);
                free(w->targets[i]);
        }
        free(w->previous);
}

/* Fills both sides of the window; -EBADMSG for a damaged manifest line. */
static int window_fill(Verify *v, Window *w) {
        while (!w->manifest_end && w->n_expected <= LOOKAHEAD) {
                int r = manifest_spool_next(&v->manifest, &w->expected[w->n_expected]);
                if (r < 0)
                        return r;
                if (r == 0) {
                        w->manifest_end = true;
                        break;
                }
                w->n_expected++;
        }
        while (!w->read_end && w->n_read <= LOOKAHEAD) {
                size_t i = w->n_read;
                w->names[i] = w->targets[i] = NULL;
                int r = next_spooled(v, &w->read[i], &w->names[i], &w->targets[i]);
                if (r < 0)
                        return r;
                if (r == 0) {
                        w->read_end = true;
                        break;
                }
                w->n_read++;
        }
        return 0;
}

static void pop_expected(Window *w, size_t k) {
        for (size_t i = 0; i < k; i++)
                manifest_entry_done(&w->expected[i]);
        memmove(w->expected, w->expected + k, (w->n_expected - k) * sizeof *w->expected);
        w->n_expected -= k;
}

/* Drops K read entries; the last one's name is kept for messages. */
static void pop_read(Window *w, size_t k) {
        for (size_t i = 0; i < k; i++) {
                free(w->previous);
                w->previous = w->names[i];
                free(w->targets[i]);
        }
        memmove(w->read, w->read + k, (w->n_read - k) * sizeof *w->read);
        memmove(w->names, w->names + k, (w->n_read - k) * sizeof *w->names);
        memmove(w->targets, w->targets + k, (w->n_read - k) * sizeof *w->targets);
        w->n_read -= k;
}

static bool entries_agree(const ManifestEntry *x, const ReadBack *y) {
        return x->type == y->type && (x->type != 'f' || manifest_digest_matches(x, &y->digest));
}

static int say_missing(Verify *v, Window *w, size_t k) {
        _cleanup_free_ char *after = w->previous ? text_escape(w->previous) : NULL;
        if (w->previous && !after)
                return -ENOMEM;
        for (size_t i = 0; i < k; i++)
                say(LOG_ERR, 0, "%s: missing: a '%c' entry %s%s (the manifest names no entries, it lists them in order)",
                    v->path, w->expected[i].type, after ? "after " : "at the start", strempty(after));
        v->res.missing += k;
        pop_expected(w, k);
        return 0;
}

static int say_extra(Verify *v, Window *w, size_t k) {
        for (size_t i = 0; i < k; i++) {
                _cleanup_free_ char *shown = text_escape(w->names[i]);
                if (!shown)
                        return -ENOMEM;
                say(LOG_ERR, 0, "%s: extra: %s", v->path, shown);
        }
        v->res.extra += k;
        pop_read(w, k);
        return 0;
}

/* The manifest names no entry: its Nth line describes the Nth entry. An
 * entry lost from the archive or added to it shifts the rest: where the two
 * disagree and the counts differ, the comparison looks up to LOOKAHEAD
 * entries ahead for the place where they agree again. */
static int compare_positional(Verify *v) {
        _cleanup_(window_done) Window w = {};
        int64_t listed = (int64_t) manifest_spool_listed(&v->manifest);
        int r;

        /* more listed than read: entries were lost; fewer: added */
        int64_t surplus = listed - (int64_t) v->res.entries;

        for (;;) {
                r = window_fill(v, &w);
                if (r == -EBADMSG) {
                        say(LOG_ERR, 0, "%s: the manifest is damaged at line %zu.", v->path, v->manifest.line);
                        v->res.has_manifest = false;
                        return 0;
                }
                if (r < 0)
                        return r;
                if (w.n_expected == 0 && w.n_read == 0)
                        return 0;
                if (w.n_read == 0) {
                        r = say_missing(v, &w, w.n_expected);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (w.n_expected == 0) {
                        r = say_extra(v, &w, w.n_read);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!entries_agree(&w.expected[0], &w.read[0])) {
                        for (size_t k = 1; surplus > 0 && k <= (size_t) MIN(surplus, LOOKAHEAD) && k < w.n_expected; k++)
                                if (entries_agree(&w.expected[k], &w.read[0])) {
                                        surplus -= (int64_t) k;
                                        r = say_missing(v, &w, k);
                                        if (r < 0)
                                                return r;
                                        break;
                                }
                        if (!entries_agree(&w.expected[0], &w.read[0]))
                                for (size_t k = 1; surplus < 0 && k <= (size_t) MIN(-surplus, LOOKAHEAD) && k < w.n_read; k++)
                                        if (entries_agree(&w.expected[0], &w.read[k])) {
                                                surplus += (int64_t) k;
                                                r = say_extra(v, &w, k);
                                                if (r < 0)
                                                        return r;
                                                break;
                                        }
                }
                if (w.n_expected == 0 || w.n_read == 0)
                        continue;
                r = compare_entry(v, &w.expected[0], &w.read[0], w.names[0], w.targets[0]);
                if (r < 0)
                        return r;
                pop_expected(&w, 1);
                pop_read(&w, 1);
        }
}

typedef struct Spooled {
        ReadBack *entries;
        char **names, **targets;
        size_t n;
} Spooled;

static void spooled_done(Spooled *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->names[i]);
                free(s->targets[i]);
        }
        free(s->entries);
        free(s->names);
        free(s->targets);
}

static int by_name(const void *a, const void *b, void *userdata) {
        char **names = userdata;
        return strcmp(names[*(const size_t *) a], names[*(const size_t *) b]);
}

/* A manifest of an older format names each entry, in any order: both sides
 * in memory, sorted by name. */
static int compare_by_name(Verify *v, const char *text, size_t len) {
        _cleanup_(manifest_done) Manifest expected = {};
        _cleanup_(spooled_done) Spooled read = {};
        _cleanup_free_ size_t *order = NULL;
        size_t allocated = 0, line = 0;
        int r;

        r = manifest_parse(text, len, &expected, &line);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                say(LOG_ERR, 0, "%s: the manifest is damaged at line %zu.", v->path, line);
                v->res.has_manifest = false;
                return 0;
        }
        for (;;) {
                if (read.n == allocated) {
                        allocated = MAX((size_t) 256, 2 * allocated);
                        ReadBack *e = reallocarray(read.entries, allocated, sizeof *e);
                        char **n = e ? reallocarray(read.names, allocated, sizeof *n) : NULL;
                        char **t = n ? reallocarray(read.targets, allocated, sizeof *t) : NULL;
                        read.entries = e ?: read.entries;
                        read.names = n ?: read.names;
                        read.targets = t ?: read.targets;
                        if (!t)
                                return -ENOMEM;
                }
                read.names[read.n] = read.targets[read.n] = NULL;
                r = next_spooled(v, &read.entries[read.n], &read.names[read.n], &read.targets[read.n]);
                if (r <= 0)
                        break;
                read.n++;
        }
        if (r < 0)
                return r;
        order = calloc(read.n + 1, sizeof *order);
        if (!order)
                return -ENOMEM;
        for (size_t k = 0; k < read.n; k++)
                order[k] = k;
        qsort_r(order, read.n, sizeof *order, by_name, read.names);
        manifest_sort(&expected);

        size_t i = 0, j = 0;
        while (i < expected.n || j < read.n) {
                int c = i == expected.n ? 1 : j == read.n ? -1 : strcmp(expected.entries[i].path, read.names[order[j]]);
                const ManifestEntry *x = c <= 0 ? &expected.entries[i] : NULL;
                size_t k = c >= 0 ? order[j] : SIZE_MAX;
                if (!x || k == SIZE_MAX) {
                        _cleanup_free_ char *shown = text_escape(x ? x->path : read.names[k]);
                        if (!shown)
                                return -ENOMEM;
                        say(LOG_ERR, 0, x ? "%s: missing: %s" : "%s: extra: %s", v->path, shown);
                        if (x)
                                v->res.missing++;
                        else
                                v->res.extra++;
                } else {
                        r = compare_entry(v, x, &read.entries[k], read.names[k], read.targets[k]);
                        if (r < 0)
                                return r;
                }
                i += !!x;
                j += k != SIZE_MAX;
        }
        return 0;
}

int verify_archive(const char *path, const CryptKeySource *key, archive_report_t report, void *userdata, VerifyResult *ret) {
        _cleanup_(archive_reader_freep) ArchiveReader *reader = NULL;
        _cleanup_fclose_ FILE *entries = NULL;
        _cleanup_(verify_done) Verify x = { .path = path, .report = report, .userdata = userdata };
        Verify *v = &x;
        ManifestSpool *manifest = &x.manifest;
        bool has_manifest = false;
        int r;

        _cleanup_free_ char *open_error = NULL;
        r = archive_reader_open(path, key, &reader, &open_error);
        if (r < 0)
                return say(LOG_ERR, r, "Cannot open %s: %s", path, open_error ?: strerror(-r));
        entries = scratch_open(path);
        r = entries ? manifest_spool_open(manifest, path) : -errno ?: -EIO;
        if (r < 0)
                return say(LOG_ERR, r, "Cannot create a scratch file to verify %s: %m", path);
        x.entries = entries;

        r = read_back(v, reader->a, &has_manifest);
        if (r == -EBADMSG)
                return say(LOG_ERR, r, "%s: unreadable after %llu entries: %s", path,
                           (unsigned long long) x.res.entries, archive_reader_error(reader));
        if (r < 0)
                return say(LOG_ERR, r, "Cannot verify %s: %s", path, strerror(-r));
        if (!has_manifest) {
                say(LOG_ERR, 0, "%s: no manifest (the archive's last entry %s is missing): it cannot be verified.", path, MANIFEST_NAME);
                *ret = x.res;
                return 0;
        }
        x.res.has_manifest = true;
        rewind(entries);
        r = manifest_spool_rewind(manifest);
        if (r >= 0 && manifest->positional)
                r = compare_positional(v);
        else if (r >= 0) {
                /* older archives: the manifest in memory, bounded */
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                r = manifest_spool_read_whole(manifest, &text, &len);
                if (r >= 0)
                        r = compare_by_name(v, text, len);
        }
        if (r < 0)
                return say(LOG_ERR, r, "Cannot verify %s: %s", path, strerror(-r));
        *ret = x.res;
        return 0;
}
