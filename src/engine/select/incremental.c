/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "archive-list.h"
#include "fileio.h"
#include "format-util.h"
#include "incremental.h"
#include "manifest.h"
#include "index.h"
#include "path-util.h"
#include "timespan.h"
#include "write.h"

typedef struct Ancestor {
        char *path;
        int level;
        struct stat st;
        bool stored;
} Ancestor;

struct Incremental {
        const Schedule *schedule;
        int dest_fd;                    /* borrowed */
        bool incremental;
        char *reason;
        char *index_name;
        char *fingerprint;
        char **chain;                   /* the old index's: the full first, the base last */
        uint64_t old_walk_start_usec;   /* when the old index's walk began */
        uint64_t start_usec;            /* this run's */

        IndexReader *old;
        IndexRecord old_rec;
        bool old_valid;
        IndexWriter *new;
        unsigned source;

        /* the entry incremental_check() said to store, until it is stored */
        bool pending;
        char *pending_path;
        size_t pending_allocated;
        int pending_level;
        struct stat pending_st;
        bool pending_in_old;

        Ancestor *stack;                /* the directories above the walk's position */
        size_t n_stack, allocated_stack, cursor;

        int deleted_fd;
        FILE *deleted;
        char *last_deleted;             /* the root of the last deleted tree */
        uint64_t point_bytes;           /* of the regular files in the new index */
};

Incremental *incremental_free(Incremental *inc) {
        if (!inc)
                return NULL;
        free(inc->reason);
        free(inc->index_name);
        free(inc->fingerprint);
        strv_free(inc->chain);
        index_reader_free(inc->old);
        index_writer_free(inc->new);
        free(inc->pending_path);
        for (size_t i = 0; i < inc->allocated_stack; i++)
                free(inc->stack[i].path);
        free(inc->stack);
        if (inc->deleted)
                fclose(inc->deleted);   /* and deleted_fd with it */
        else
                safe_close(inc->deleted_fd);
        free(inc->last_deleted);
        free(inc);
        return NULL;
}

bool incremental_is_incremental(const Incremental *inc) {
        return inc && inc->incremental;
}

const char *incremental_reason(const Incremental *inc) {
        return inc ? inc->reason : NULL;
}

const char *incremental_base(const Incremental *inc) {
        return incremental_is_incremental(inc) ? inc->chain[strv_length(inc->chain) - 1] : NULL;
}

void incremental_point(const Incremental *inc, uint64_t *ret_files, uint64_t *ret_bytes) {
        *ret_files = inc->new ? index_writer_records(inc->new) : 0;
        *ret_bytes = inc->point_bytes;
}

static char **strv_copy(char * const *l) {
        _cleanup_strv_free_ char **copy = NULL;
        STRV_FOREACH(p, l)
                if (strv_extend(&copy, *p) < 0)
                        return NULL;
        return copy ? TAKE_PTR(copy) : calloc(1, sizeof(char *));
}

/* What the index must have been made for: these sources, in this order. */
static int sources_fingerprint(const Schedule *s, char **ret) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        uint8_t digest[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

        STRV_FOREACH(p, s->sources)
                ok = ok && EVP_DigestUpdate(ctx, *p, strlen(*p) + 1) == 1;
        ok = ok && EVP_DigestFinal_ex(ctx, digest, &len) == 1;
        EVP_MD_CTX_free(ctx);
        if (!ok)
                return -ENOMEM;
        char *hex = malloc(2 * len + 1);
        if (!hex)
                return -ENOMEM;
        for (unsigned i = 0; i < len; i++)
                sprintf(hex + 2 * i, "%02x", digest[i]);
        *ret = hex;
        return 0;
}

static int set_reason(Incremental *inc, const char *format, ...) _printf_(2, 3);
static int set_reason(Incremental *inc, const char *format, ...) {
        va_list ap;
        free(inc->reason);
        va_start(ap, format);
        int k = vasprintf(&inc->reason, format, ap);
        va_end(ap);
        if (k < 0) {
                inc->reason = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* The index's chain must be exactly the newest archives, the full first:
 * nothing added, nothing missing. */
static bool chain_matches(const Incremental *inc, char **chain, const ArchiveInfo *list, size_t n, char **ret_why) {
        size_t len = strv_length(chain);
        const char *dest = inc->schedule->destination;

        *ret_why = NULL;
        if (len == 0 || n == 0 || !streq(list[n - 1].filename, chain[len - 1])) {
                if (asprintf(ret_why, "the index describes %s, but the newest archive in %s is %s",
                             len > 0 ? chain[len - 1] : "nothing", dest, n > 0 ? list[n - 1].filename : "none") < 0)
                        *ret_why = NULL;
                return false;
        }
        for (size_t j = 0; j < len; j++) {
                const ArchiveInfo *a = len <= n ? &list[n - len + j] : NULL;
                if (!a || !streq(a->filename, chain[j]) || a->incremental != (j > 0)) {
                        if (asprintf(ret_why, "the chain the index describes (%s to %s) is not what %s holds: "
                                     "%s is missing or another archive is in its place",
                                     chain[0], chain[len - 1], dest, chain[j]) < 0)
                                *ret_why = NULL;
                        return false;
                }
        }
        return true;
}

static int decide(Incremental *inc, const ArchiveInfo *list, size_t n, uint64_t now_usec, int index_r,
                  const IndexHeader *h, const char *index_error) {
        const Schedule *s = inc->schedule;
        _cleanup_free_ char *index_path = path_join(s->destination, inc->index_name), *why = NULL;
        const ArchiveInfo *full = NULL;
        char age[FORMAT_DURATION_MAX];

        if (!index_path)
                return -ENOMEM;
        for (size_t i = n; i > 0 && !full; i--)
                if (!list[i - 1].incremental)
                        full = &list[i - 1];

        /* A timer may fire a little earlier than it did a FullEvery= ago:
         * the week's full is still due. */
        uint64_t margin = MIN(USEC_PER_HOUR, s->full_every_usec / 10);
        uint64_t full_age = full && now_usec > full->time_usec ? now_usec - full->time_usec : 0;

        if (!full)
                return set_reason(inc, "full: there is no full archive of %s in %s yet", s->name, s->destination);
        if (full_age + margin >= s->full_every_usec)
                return set_reason(inc, "full: the newest full archive, %s, is %s old (FullEvery=%s)",
                                  full->filename, format_duration(age, full_age), s->full_every);
        if (index_r == -ENOENT)
                return set_reason(inc, "full: there is no index %s of the newest restore point", index_path);
        if (index_r == -EBADMSG)
                return set_reason(inc, "full: the index %s is damaged (%s)", index_path, strempty(index_error));
        if (index_r < 0)
                return set_reason(inc, "full: the index %s cannot be read (%s)", index_path, strerror(-index_r));
        if (!streq(h->schedule, s->name))
                return set_reason(inc, "full: the index %s belongs to schedule '%s'", index_path, h->schedule);
        if (!streq(h->fingerprint, inc->fingerprint))
                return set_reason(inc, "full: the index %s was made for other sources (Source= changed)", index_path);
        if (!chain_matches(inc, h->chain, list, n, &why))
                return set_reason(inc, "full: %s", why ?: "the index does not match the archives");
        inc->chain = strv_copy(h->chain);
        if (!inc->chain)
                return -ENOMEM;
        inc->old_walk_start_usec = h->walk_start_usec;
        inc->incremental = true;
        return set_reason(inc, "incremental: on top of %s, %zu archive%s since the full %s", list[n - 1].filename,
                          strv_length(inc->chain) - 1, strv_length(inc->chain) == 2 ? "" : "s", inc->chain[0]);
}

/* Where there is no O_TMPFILE, a new index is written as ".#INDEX.XXXXXXXXXXXXXXXX"
 * first (atomic_file_open()); a killed run leaves it behind. Under the
 * schedule's lock no live run owns one. */
static void remove_stale_index_temporaries(int dest_fd, const char *index_name) {
        _cleanup_free_ char *prefix = NULL;
        if (asprintf(&prefix, ".#%s.", index_name) < 0)
                return;
        int fd = openat(dest_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return;
        }
        for (struct dirent *de; (de = readdir(d));) {
                const char *hex = startswith(de->d_name, prefix);
                if (hex && strlen(hex) == 16 && strspn(hex, "0123456789abcdef") == 16)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        }
}

int incremental_plan(const Schedule *s, int dest_fd, uint64_t now_usec, Incremental **ret, char **ret_error) {
        _cleanup_(incremental_freep) Incremental *inc = NULL;
        _cleanup_(index_header_done) IndexHeader h = {};
        _cleanup_free_ char *index_name = NULL, *index_error = NULL;
        ArchiveInfo *list = NULL;
        size_t n = 0;
        int r;

        r = index_file_name(s->name, &index_name);
        if (r < 0)
                return r;
        remove_stale_index_temporaries(dest_fd, index_name);
        if (s->full_every_usec == 0) {
                /* Every run is full: an index would only go stale. */
                if (unlinkat(dest_fd, index_name, 0) < 0 && errno != ENOENT)
                        return errorf(ret_error, negative_errno(), "Cannot remove the old index %s/%s: %m",
                                      s->destination, index_name);
                *ret = NULL;
                return 0;
        }

        inc = calloc(1, sizeof *inc);
        if (!inc)
                return -ENOMEM;
        inc->schedule = s;
        inc->dest_fd = dest_fd;
        inc->deleted_fd = -EBADF;
        inc->index_name = TAKE_PTR(index_name);
        inc->start_usec = now_usec;
        r = sources_fingerprint(s, &inc->fingerprint);
        if (r < 0)
                return r;

        r = archive_list(s->destination, s->name, &list, &n);
        if (r < 0)
                return errorf(ret_error, r, "Cannot list the archives in %s: %m", s->destination);

        int index_r = index_reader_open(dest_fd, inc->index_name, &inc->old, &h, &index_error);
        if (index_r == -ENOMEM) {
                archive_list_free(list, n);
                return -ENOMEM;
        }
        r = decide(inc, list, n, now_usec, index_r, &h, index_error);
        archive_list_free(list, n);
        if (r < 0)
                return r;
        if (!inc->incremental)
                inc->old = index_reader_free(inc->old);
        *ret = TAKE_PTR(inc);
        return 0;
}

static int advance_old(Incremental *inc, char **ret_error) {
        int r = index_reader_next(inc->old, &inc->old_rec);
        if (r < 0)
                return errorf(ret_error, r == -EBADMSG ? -EBADMSG : r, "The index %s/%s is damaged after %" PRIu64 " records.",
                              inc->schedule->destination, inc->index_name, index_reader_records(inc->old));
        inc->old_valid = r > 0;
        return 0;
}

int incremental_start(Incremental *inc, const char *archive_name, char **ret_error) {
        _cleanup_strv_free_ char **chain = NULL;
        int r;

        if (inc->incremental) {
                chain = strv_copy(inc->chain);
                if (!chain)
                        return -ENOMEM;
        }
        r = strv_extend(&chain, archive_name);
        if (r < 0)
                return r;
        IndexHeader h = {
                .schedule = inc->schedule->name,
                .fingerprint = inc->fingerprint,
                .walk_start_usec = inc->start_usec,
                .chain = chain,
        };
        r = index_writer_open(inc->dest_fd, inc->index_name, &h, &inc->new);
        if (r < 0)
                return errorf(ret_error, r, "Cannot create the index %s/%s: %m", inc->schedule->destination, inc->index_name);
        if (!inc->incremental)
                return 0;

        r = advance_old(inc, ret_error);
        if (r < 0)
                return r;
        /* The deletions may be many: they wait in a file, not in memory. */
        inc->deleted_fd = openat(inc->dest_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (inc->deleted_fd < 0) {
                FILE *f = tmpfile();
                if (!f)
                        return errorf(ret_error, negative_errno(), "Cannot create a temporary file: %m");
                inc->deleted = f;
                inc->deleted_fd = fileno(f);
        } else {
                inc->deleted = fdopen(inc->deleted_fd, "w+");
                if (!inc->deleted)
                        return -ENOMEM;
        }
        return 0;
}

int incremental_header_text(const Incremental *inc, char **ret, size_t *ret_len) {
        int k = asprintf(ret,
                         "# An incremental archive of Alexandria: what changed since BASE. Restore it with\n"
                         "# 'alexandria-ctl restore', which applies the chain from FULL on.\n"
                         "schedule=%s\nbase=%s\nfull=%s\n",
                         inc->schedule->name, incremental_base(inc), inc->chain[0]);
        if (k < 0)
                return -ENOMEM;
        *ret_len = (size_t) k;
        return 0;
}

/* The stored name of a walked path, as the select stage makes it. */
static const char *stored_name(const char *path) {
        while (*path == '/')
                path++;
        return *path ? path : ".";
}

/* PATH was in the previous restore point and is not in this one. */
static int note_deleted(Incremental *inc, const char *path) {
        const char *name = stored_name(path);

        if (inc->last_deleted) {
                const char *rest = startswith(name, inc->last_deleted);
                if (rest && *rest == '/')
                        return 0;       /* inside a tree already deleted */
        }
        char *copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        free(inc->last_deleted);
        inc->last_deleted = copy;
        if ((manifest_put_name(inc->deleted, name), ferror(inc->deleted)) || fputc('\n', inc->deleted) == EOF)
                return -EIO;
        return 0;
}

static int compare_old(const Incremental *inc, const char *path) {
        if (inc->old_rec.source != inc->source)
                return inc->old_rec.source < inc->source ? -1 : 1;
        return index_path_compare(inc->old_rec.path, path);
}

static int push_directory(Incremental *inc, const char *path, int level, const struct stat *st, bool stored) {
        if (inc->n_stack == inc->allocated_stack) {
                size_t a = MAX((size_t) 16, 2 * inc->allocated_stack);
                Ancestor *grown = reallocarray(inc->stack, a, sizeof *grown);
                if (!grown)
                        return -ENOMEM;
                memset(grown + inc->allocated_stack, 0, (a - inc->allocated_stack) * sizeof *grown);
                inc->stack = grown;
                inc->allocated_stack = a;
        }
        Ancestor *d = &inc->stack[inc->n_stack];
        char *p = realloc(d->path, strlen(path) + 1);  /* slots keep their buffers */
        if (!p)
                return -ENOMEM;
        d->path = strcpy(p, path);
        d->level = level;
        d->st = *st;
        d->stored = stored;
        inc->n_stack++;
        return 0;
}

static int add_record(Incremental *inc, const char *path, const struct stat *st, char **ret_error) {
        IndexRecord rec;
        index_record_from_stat(&rec, path, inc->source, st);
        int r = index_writer_add(inc->new, &rec);
        if (r < 0)
                return errorf(ret_error, r, "Cannot write the index %s/%s: %m", inc->schedule->destination, inc->index_name);
        if (S_ISREG(st->st_mode))
                inc->point_bytes += (uint64_t) st->st_size;
        return 0;
}

/* The entry to be stored never was (warned about): it is not in this
 * restore point. */
static int drop_pending(Incremental *inc) {
        if (!inc->pending)
                return 0;
        inc->pending = false;
        return inc->pending_in_old ? note_deleted(inc, inc->pending_path) : 0;
}

int incremental_begin_source(Incremental *inc, unsigned ordinal) {
        int r = drop_pending(inc);
        inc->source = ordinal;
        inc->n_stack = 0;
        return r;
}

int incremental_check(Incremental *inc, const char *path, int level, const struct stat *st, char **ret_error) {
        bool in_old = false, same = false;
        int r;

        r = drop_pending(inc);
        if (r < 0)
                return r;
        while (inc->n_stack > 0 && inc->stack[inc->n_stack - 1].level >= level)
                inc->n_stack--;

        if (inc->incremental) {
                int c = -1;
                while (inc->old_valid && (c = compare_old(inc, path)) < 0) {
                        r = note_deleted(inc, inc->old_rec.path);
                        if (r >= 0)
                                r = advance_old(inc, ret_error);
                        if (r < 0)
                                return r;
                }
                if (inc->old_valid && c == 0) {
                        IndexRecord now;
                        index_record_from_stat(&now, path, inc->source, st);
                        in_old = true;
                        /* A file changed in the second before the old walk began, or
                         * during it, may have changed again within the same tick of
                         * the clock after it was looked at, its times unchanged:
                         * only older times are trusted (git's "racily clean"). */
                        same = index_record_same(&inc->old_rec, &now) &&
                               (uint64_t) inc->old_rec.ctime_sec * USEC_PER_SEC + inc->old_rec.ctime_nsec / NSEC_PER_USEC +
                               USEC_PER_SEC < inc->old_walk_start_usec;
                        /* A file that became a directory or the other way round:
                         * the old one goes first, so that a restore never has to
                         * write one kind of file over the other. */
                        if ((inc->old_rec.mode & S_IFMT) != (st->st_mode & S_IFMT)) {
                                r = note_deleted(inc, path);
                                if (r < 0)
                                        return r;
                                in_old = false;
                        }
                        r = advance_old(inc, ret_error);
                        if (r < 0)
                                return r;
                }
        }

        if (same) {
                r = add_record(inc, path, st, ret_error);
                if (r >= 0 && S_ISDIR(st->st_mode))
                        r = push_directory(inc, path, level, st, false);
                return r < 0 ? r : 0;
        }

        size_t len = strlen(path) + 1;
        if (len > inc->pending_allocated) {
                char *p = realloc(inc->pending_path, MAX(len, 2 * inc->pending_allocated));
                if (!p)
                        return -ENOMEM;
                inc->pending_path = p;
                inc->pending_allocated = MAX(len, 2 * inc->pending_allocated);
        }
        memcpy(inc->pending_path, path, len);
        inc->pending = true;
        inc->pending_level = level;
        inc->pending_st = *st;
        inc->pending_in_old = in_old;
        inc->cursor = 0;
        return 1;
}

bool incremental_next_ancestor(Incremental *inc, const char **ret_path, const struct stat **ret_st) {
        for (; inc->cursor < inc->n_stack; inc->cursor++) {
                Ancestor *d = &inc->stack[inc->cursor];
                if (d->stored)
                        continue;
                d->stored = true;
                *ret_path = d->path;
                *ret_st = &d->st;
                inc->cursor++;
                return true;
        }
        return false;
}

int incremental_stored(Incremental *inc, const struct stat *st, char **ret_error) {
        int r;

        if (!inc->pending)
                return 0;
        inc->pending = false;
        r = add_record(inc, inc->pending_path, st, ret_error);
        if (r >= 0 && S_ISDIR(st->st_mode))
                r = push_directory(inc, inc->pending_path, inc->pending_level, st, true);
        return r;
}

int incremental_end_walk(Incremental *inc, char **ret_error) {
        int r = drop_pending(inc);
        while (r >= 0 && inc->incremental && inc->old_valid) {
                r = note_deleted(inc, inc->old_rec.path);
                if (r >= 0)
                        r = advance_old(inc, ret_error);
        }
        return r;
}

int incremental_deletions(Incremental *inc, int *ret_fd, uint64_t *ret_size) {
        if (!inc->deleted)
                return -EINVAL;
        if (fflush(inc->deleted) != 0)
                return negative_errno();
        off_t size = lseek(inc->deleted_fd, 0, SEEK_END);
        if (size < 0 || lseek(inc->deleted_fd, 0, SEEK_SET) < 0)
                return negative_errno();
        *ret_fd = inc->deleted_fd;
        *ret_size = (uint64_t) size;
        return 0;
}

int incremental_commit(Incremental *inc, char **ret_error) {
        int r = index_writer_commit(inc->new);
        if (r < 0)
                return errorf(ret_error, r, "Cannot write the index %s/%s: %m", inc->schedule->destination, inc->index_name);
        return 0;
}

int incremental_write_header(Incremental *inc, ArchiveWriter *w, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        if (!incremental_is_incremental(inc))
                return 0;
        r = incremental_header_text(inc, &text, &len);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = memfd_create("alexandria-incremental", MFD_CLOEXEC);
        if (fd < 0)
                return errorf(ret_error, negative_errno(), "Cannot create a memory file: %m");
        r = loop_write(fd, text, len);
        if (r < 0 || lseek(fd, 0, SEEK_SET) < 0)
                return errorf(ret_error, r < 0 ? r : negative_errno(), "Cannot write a memory file: %m");
        return archive_writer_add_stream(w, INCREMENTAL_HEADER_NAME, 0600, now_realtime_usec() / USEC_PER_SEC,
                                         fd, len, ret_error);
}

int incremental_write_deletions(Incremental *inc, ArchiveWriter *w, char **ret_error) {
        uint64_t size;
        int fd, r;

        if (!incremental_is_incremental(inc))
                return 0;
        r = incremental_deletions(inc, &fd, &size);
        if (r < 0)
                return errorf(ret_error, r, "Cannot read back the list of deleted files: %m");
        return archive_writer_add_stream(w, INCREMENTAL_DELETED_NAME, 0600, now_realtime_usec() / USEC_PER_SEC,
                                         fd, size, ret_error);
}
