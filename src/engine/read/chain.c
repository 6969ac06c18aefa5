/* SPDX-License-Identifier: MIT */
/*
 * Restoring a restore point of a chain: the full member is restored as any
 * archive is; each incremental member after it first has what it deleted
 * removed from the target (a first pass over the member, which also finds
 * which PATHs it holds), then is restored over the tree, replacing what
 * came before. A member holds the directories above everything it stores,
 * so their modes and times end up as they were at the restore point.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "archive-read.h"
#include "chain.h"
#include "manifest.h"
#include "format-util.h"
#include "incremental.h"
#include "log.h"
#include "path-util.h"

/* Engine code does not log: messages go to the restore's caller (restore.h). */
#define say(o, level, error, ...) archive_reportf((o)->report, (o)->userdata, level, error, __VA_ARGS__)

#define HEADER_MAX (64 * 1024)
#define LINE_MAX_LEN (64 * 1024)

void chain_header_done(ChainHeader *h) {
        free(h->schedule);
        free(h->base);
        free(h->full);
        *h = (ChainHeader) {};
}

static const char *entry_name(const char *p) {
        while (p && p[0] == '.' && p[1] == '/')
                p += 2;
        return strempty(p);
}

static int header_parse(const char *text, ChainHeader *ret) {
        ChainHeader h = {};
        for (const char *p = text; *p;) {
                size_t n = strcspn(p, "\n");
                char **field = NULL;
                const char *v = NULL;
                if (n > 0 && p[0] != '#') {
                        if ((v = startswith(p, "schedule=")))
                                field = &h.schedule;
                        else if ((v = startswith(p, "base=")))
                                field = &h.base;
                        else if ((v = startswith(p, "full=")))
                                field = &h.full;
                }
                if (field) {
                        free(*field);
                        *field = strndup(v, (size_t) (p + n - v));
                        if (!*field) {
                                chain_header_done(&h);
                                return -ENOMEM;
                        }
                }
                p += n;
                if (*p)
                        p++;
        }
        if (!h.schedule || !h.base || !h.full) {
                chain_header_done(&h);
                return -EBADMSG;
        }
        *ret = h;
        return 0;
}

int chain_header_read(const char *path, const CryptKeySource *key, ChainHeader *ret, char **ret_error) {
        _cleanup_(archive_reader_freep) ArchiveReader *reader = NULL;
        _cleanup_free_ char *text = NULL;
        struct archive_entry *e;
        int r;

        r = archive_reader_open(path, key, &reader, ret_error);
        if (r < 0)
                return r;
        r = archive_read_next_header(reader->a, &e);
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                return errorf(ret_error, -EBADMSG, "unreadable: %s", archive_reader_error(reader));
        if (!streq(entry_name(archive_entry_pathname(e)), INCREMENTAL_HEADER_NAME) ||
            archive_entry_filetype(e) != AE_IFREG || archive_entry_size(e) > HEADER_MAX)
                return errorf(ret_error, -EBADMSG, "its first entry is not %s: it is not an incremental archive of Alexandria",
                              INCREMENTAL_HEADER_NAME);
        size_t size = (size_t) archive_entry_size(e);
        text = malloc(size + 1);
        if (!text)
                return -ENOMEM;
        la_ssize_t k = archive_read_data(reader->a, text, size);
        if (k < 0 || (size_t) k != size)
                return errorf(ret_error, -EBADMSG, "unreadable: %s", archive_reader_error(reader));
        text[size] = 0;
        r = header_parse(text, ret);
        if (r == -EBADMSG)
                return errorf(ret_error, r, "%s is malformed", INCREMENTAL_HEADER_NAME);
        return r;
}

ssize_t chain_full_index(const ArchiveInfo *list, size_t n, size_t i) {
        for (size_t k = MIN(i, n - 1) + 1; k > 0; k--)
                if (!list[k - 1].incremental)
                        return (ssize_t) (k - 1);
        return -1;
}

/* What is wrong with member K's place in the chain that starts at FIRST,
 * or NULL: it must have been built on member K - 1. */
static int check_link(const ArchiveInfo *list, size_t first, size_t k, const CryptKeySource *key, char **ret_problem) {
        _cleanup_(chain_header_done) ChainHeader h = {};
        _cleanup_free_ char *error = NULL;

        *ret_problem = NULL;
        if (k == first)
                return 0;
        int r = chain_header_read(list[k].path, key, &h, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return asprintf(ret_problem, "its chain header cannot be read: %s", error ?: strerror(-r)) < 0 ? -ENOMEM : 0;
        if (!streq(h.base, list[k - 1].filename))
                return asprintf(ret_problem, "it was built on %s, which is missing (the archive before it is %s)",
                                h.base, list[k - 1].filename) < 0 ? -ENOMEM : 0;
        if (!streq(h.full, list[first].filename))
                return asprintf(ret_problem, "its chain starts with %s, not with %s", h.full,
                                list[first].filename) < 0 ? -ENOMEM : 0;
        return 0;
}

int chain_resolve(const ArchiveInfo *list, size_t n, size_t i, const CryptKeySource *key, Chain *ret, char **ret_error) {
        ssize_t first = chain_full_index(list, n, i);
        if (first < 0)
                return errorf(ret_error, -ENOENT, "%s is incremental, and there is no full archive before it to start from",
                              list[i].filename);
        for (size_t k = (size_t) first + 1; k <= i; k++) {
                _cleanup_free_ char *problem = NULL;
                int r = check_link(list, (size_t) first, k, key, &problem);
                if (r < 0)
                        return r;
                if (problem)
                        return errorf(ret_error, -ENOENT, "The chain of %s is broken at %s: %s", list[i].filename,
                                      list[k].filename, problem);
        }
        *ret = (Chain) { .members = &list[first], .n = i - (size_t) first + 1 };
        return 0;
}

/* ---- removing what a member deleted ---- */

/* Opens the directory NAME (relative) below DIR_FD one component at a
 * time, never following a symlink and never leaving DIR_FD. */
static int open_directory_beneath(int dir_fd, const char *name) {
        _cleanup_free_ char *copy = strdup(name);
        int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (!copy || fd < 0) {
                safe_close(fd);
                return copy ? negative_errno() : -ENOMEM;
        }
        for (char *p = copy, *slash; p && *p; p = slash) {
                slash = strchr(p, '/');
                if (slash)
                        *slash++ = 0;
                if (!*p)
                        continue;
                if (streq(p, ".") || streq(p, "..")) {
                        safe_close(fd);
                        return -EXDEV;
                }
                int next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int e = negative_errno();
                safe_close(fd);
                if (next < 0)
                        return e;
                fd = next;
        }
        return fd;
}

/* Without root, a directory restored read-only would refuse what the next
 * member writes into it; it is made writable, and the member (which holds
 * every directory it writes into) sets its mode again. */
static void make_writable(int fd) {
        struct stat st;
        if (geteuid() != 0 && fstat(fd, &st) >= 0 && (st.st_mode & S_IRWXU) != S_IRWXU)
                (void) fchmod(fd, (st.st_mode | S_IRWXU) & 07777);
}

/* rm -rf NAME in DIR_FD, without following symlinks. */
static int remove_tree_at(int dir_fd, const char *name) {
        struct stat st;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (S_ISDIR(st.st_mode)) {
                int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return negative_errno();
                make_writable(fd);
                DIR *d = fdopendir(fd);
                if (!d) {
                        safe_close(fd);
                        return -ENOMEM;
                }
                struct dirent *de;
                int r = 0;
                while (r >= 0 && (errno = 0, de = readdir(d)))
                        if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                                r = remove_tree_at(dirfd(d), de->d_name);
                if (r >= 0 && errno != 0)
                        r = negative_errno();
                closedir(d);
                if (r < 0)
                        return r;
        }
        if (unlinkat(dir_fd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return 1;
}

/* Whether a deletion of NAME touches the selection: NAME is selected, or
 * holds a selected path. */
static bool deletion_selected(const char *name, char **paths) {
        if (!paths || restore_name_selected(name, paths))
                return true;
        STRV_FOREACH(p, paths) {
                const char *rest = startswith(*p, name);
                if (rest && *rest == '/')
                        return true;
        }
        return false;
}

typedef struct DirectoryTime {
        char *name;
        size_t ordinal;         /* its entry's place in the member */
        struct timespec mtime;
} DirectoryTime;

typedef struct Prepass {
        const RestoreOptions *o;
        const char *archive;
        int to_fd;              /* -EBADF: nothing there yet (dry run, list) */
        bool *matched;          /* per o->paths: this member has an entry for it */
        uint64_t deleted;
        /* The member's directories that exist already: libarchive sets the
         * time of an existing directory when it meets its entry, before
         * writing into it, so it is set again afterwards. */
        DirectoryTime *dirs;
        size_t n_dirs, allocated_dirs;
} Prepass;

static void prepass_done(Prepass *x) {
        for (size_t i = 0; i < x->n_dirs; i++)
                free(x->dirs[i].name);
        free(x->dirs);
        x->dirs = NULL;
        x->n_dirs = x->allocated_dirs = 0;
}

static int note_directory(Prepass *x, const char *name, size_t ordinal, struct archive_entry *e) {
        if (x->to_fd < 0 || x->o->mode != RESTORE_EXTRACT || !archive_entry_mtime_is_set(e) ||
            !restore_name_selected(name, x->o->paths))
                return 0;
        struct stat st;
        if (fstatat(x->to_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                return 0;       /* created by the restore: libarchive sets its time at the end */
        if (x->n_dirs == x->allocated_dirs) {
                size_t a = MAX((size_t) 64, 2 * x->allocated_dirs);
                DirectoryTime *d = reallocarray(x->dirs, a, sizeof *d);
                if (!d)
                        return -ENOMEM;
                x->dirs = d;
                x->allocated_dirs = a;
        }
        char *copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        x->dirs[x->n_dirs++] = (DirectoryTime) {
                .name = copy,
                .ordinal = ordinal,
                .mtime = { archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
        };
        return 0;
}

/* The noted directories' exact times, from the member's manifest TEXT
 * (the restricted pax headers hold whole seconds). A manifest that cannot
 * be parsed changes nothing: the restore pass reports it. */
static int exact_directory_times(Prepass *x, const char *text, size_t len, size_t entries) {
        _cleanup_(manifest_done) Manifest m = {};
        int r = manifest_parse(text, len, &m, NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        if (m.positional && m.n != entries)
                return 0;       /* it does not describe these entries */
        if (!m.positional)
                manifest_sort(&m);
        for (size_t i = 0; i < x->n_dirs; i++) {
                DirectoryTime *d = &x->dirs[i];
                const ManifestEntry *e = !m.positional ? manifest_lookup(&m, d->name) :
                                         d->ordinal < m.n ? &m.entries[d->ordinal] : NULL;
                if (e && e->type == 'd')
                        (void) manifest_entry_mtime(e, d->mtime.tv_sec, &d->mtime);
        }
        return 0;
}

static void set_directory_times(const Prepass *x) {
        for (size_t i = 0; i < x->n_dirs; i++) {
                _cleanup_close_ int fd = open_directory_beneath(x->to_fd, x->dirs[i].name);
                struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, x->dirs[i].mtime };
                if (fd < 0 || futimens(fd, ts) < 0)
                        say(x->o, LOG_WARNING, fd < 0 ? fd : negative_errno(), "Cannot set the time of %s/%s: %m",
                            x->o->target, x->dirs[i].name);
        }
}

static int apply_deletion(Prepass *x, const char *name) {
        const RestoreOptions *o = x->o;

        if (!restore_name_is_safe(name)) {
                return say(o, LOG_ERR, -EBADMSG, "%s: refusing to delete '%s': absolute path or '..' component.",
                           x->archive, name);
        }
        if (!deletion_selected(name, o->paths))
                return 0;
        if (o->mode == RESTORE_LIST) {
                printf("deleted %s\n", name);
                x->deleted++;
                return 0;
        }
        if (x->to_fd < 0)
                return 0;

        _cleanup_free_ char *parent = strdup(name);
        if (!parent)
                return -ENOMEM;
        char *slash = strrchr(parent, '/');
        const char *base = slash ? slash + 1 : name;
        if (slash)
                *slash = 0;
        _cleanup_close_ int fd = slash ? open_directory_beneath(x->to_fd, parent) : fcntl(x->to_fd, F_DUPFD_CLOEXEC, 3);
        if (fd == -ENOENT || fd == -ENOTDIR)
                return 0;       /* not restored (a PATH selection), or replaced by a file */
        if (fd < 0)
                return say(o, LOG_ERR, fd, "Cannot remove %s/%s, which %s deleted: a directory on its path is a symlink or "
                           "cannot be opened: %m", o->target, name, x->archive);
        struct stat st;
        if (fstatat(fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        if (o->mode == RESTORE_DRY_RUN) {
                printf("would delete %s/%s\n", o->target, name);
                x->deleted++;
                return 0;
        }
        make_writable(fd);
        int r = remove_tree_at(fd, base);
        if (r < 0)
                return say(o, LOG_ERR, r, "Cannot remove %s/%s, which %s deleted: %m", o->target, name, x->archive);
        x->deleted++;
        return 0;
}

/* The data of the current entry, INCREMENTAL_DELETED_NAME, line by line. */
static int read_deletions(Prepass *x, struct archive *a) {
        _cleanup_free_ char *line = malloc(LINE_MAX_LEN + 1);
        size_t len = 0;
        char buf[16384];

        if (!line)
                return -ENOMEM;
        for (;;) {
                la_ssize_t n = archive_read_data(a, buf, sizeof buf);
                if (n < 0)
                        return -EBADMSG;
                if (n == 0)
                        break;
                for (la_ssize_t i = 0; i < n; i++) {
                        if (buf[i] != '\n') {
                                if (len == LINE_MAX_LEN)
                                        return -EBADMSG;
                                line[len++] = buf[i];
                                continue;
                        }
                        _cleanup_free_ char *name = manifest_unescape_name(line, line + len);
                        len = 0;
                        if (!name)
                                return -EBADMSG;
                        int r = apply_deletion(x, name);
                        if (r < 0)
                                return r;
                }
        }
        return len == 0 ? 0 : -EBADMSG;
}

/* The first pass over an incremental member: removes what it deleted, and
 * notes which PATHs it has entries for. Deletions come last in a member; what
 * they remove is gone before the second pass writes anything. */
static int prepass(Prepass *x, const CryptKeySource *key, bool deletions) {
        _cleanup_(archive_reader_freep) ArchiveReader *reader = NULL;
        _cleanup_free_ char *error = NULL;
        struct archive_entry *e;
        size_t ordinal, manifest_ordinal = 0;
        int r;

        _cleanup_free_ char *manifest = NULL;
        size_t manifest_len = 0;

        r = archive_reader_open(x->archive, key, &reader, &error);
        if (r < 0)
                return say(x->o, LOG_ERR, r, "Cannot open archive %s: %s", x->archive, error ?: strerror(-r));
        for (ordinal = 0; (r = archive_read_next_header(reader->a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN; ordinal++) {
                const char *name = entry_name(archive_entry_pathname(e));

                /* only the last entry is the manifest */
                free(TAKE_PTR(manifest));
                if (streq(name, MANIFEST_NAME) && archive_entry_filetype(e) == AE_IFREG) {
                        if (x->n_dirs == 0)
                                continue;       /* no directory's time to set again */
                        r = archive_read_entry_whole(reader->a, MANIFEST_MAX, &manifest, &manifest_len);
                        if (r == -ENOMEM)
                                return r;
                        manifest_ordinal = ordinal;
                        continue;
                }
                if (streq(name, INCREMENTAL_DELETED_NAME) && archive_entry_filetype(e) == AE_IFREG) {
                        if (!deletions)
                                continue;
                        r = read_deletions(x, reader->a);
                        if (r == -EBADMSG)
                                return say(x->o, LOG_ERR, r, "%s: the list of deleted files is damaged.", x->archive);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (archive_member_is_internal(name))
                        continue;
                if (archive_entry_filetype(e) == AE_IFDIR) {
                        r = note_directory(x, name, ordinal, e);
                        if (r < 0)
                                return r;
                }
                size_t i = 0;
                STRV_FOREACH(p, x->o->paths) {
                        if (restore_name_selected(name, (char *[]) { *p, NULL }))
                                x->matched[i] = true;
                        i++;
                }
                /* the directory this entry will be written into */
                if (x->to_fd >= 0 && geteuid() != 0 && x->o->mode == RESTORE_EXTRACT) {
                        _cleanup_free_ char *parent = strdup(name);
                        char *slash = parent ? strrchr(parent, '/') : NULL;
                        if (slash) {
                                *slash = 0;
                                _cleanup_close_ int fd = open_directory_beneath(x->to_fd, parent);
                                if (fd >= 0)
                                        make_writable(fd);
                        }
                }
        }
        if (r != ARCHIVE_EOF)
                return say(x->o, LOG_ERR, -EBADMSG, "Cannot read %s: %s", x->archive, archive_reader_error(reader));
        return manifest ? exact_directory_times(x, manifest, manifest_len, manifest_ordinal) : 0;
}

static bool directory_is_empty(const char *path) {
        _cleanup_closedir_ DIR *d = opendir(path);
        struct dirent *de;
        if (!d)
                return errno == ENOENT;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        return false;
        return true;
}

static void add_stats(RestoreStats *sum, const RestoreStats *st) {
        sum->entries += st->entries;
        sum->existing += st->existing;
        sum->refused += st->refused;
        sum->failed += st->failed;
        sum->damaged += st->damaged;
        sum->unchecked = sum->unchecked || st->unchecked;
        sum->manifest_damaged = sum->manifest_damaged || st->manifest_damaged;
}

int chain_restore(const Chain *c, const RestoreOptions *o, ChainRestoreStats *ret) {
        size_t npaths = strv_length(o->paths);
        _cleanup_free_ bool *matched_any = calloc(npaths + 1, sizeof(bool));
        _cleanup_free_ bool *matched = calloc(npaths + 1, sizeof(bool));
        ChainRestoreStats total = {};
        int r;

        if (!matched_any || !matched)
                return say(o, LOG_ERR, -ENOMEM, "Out of memory.");
        bool target_empty = o->mode == RESTORE_LIST || directory_is_empty(o->target);
        /* Each member replaces what the one before it wrote: in a directory
         * that holds other files, that would replace them too. */
        if (c->n > 1 && o->mode == RESTORE_EXTRACT && !o->overwrite && !target_empty) {
                return say(o, LOG_ERR, -EEXIST,
                           "%s is not empty: a restore point of a chain (%s is incremental) replaces files as it applies "
                           "each archive; restore into an empty directory, or give --overwrite.", o->target,
                           c->members[c->n - 1].filename);
        }

        for (size_t k = 0; k < c->n; k++) {
                const ArchiveInfo *m = &c->members[k];
                _cleanup_strv_free_ char **member_paths = NULL;
                _cleanup_close_ int to_fd = -EBADF;
                RestoreStats st = {};

                if (o->mode == RESTORE_LIST || o->mode == RESTORE_DRY_RUN)
                        printf("# %s (%s)\n", m->filename, m->incremental ? "incremental" : "full");
                memset(matched, 0, npaths * sizeof(bool));
                if (o->mode != RESTORE_LIST) {
                        to_fd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (to_fd < 0 && errno != ENOENT)
                                return say(o, LOG_ERR, negative_errno(), "Cannot open %s: %m", o->target);
                }
                _cleanup_(prepass_done) Prepass x = { .o = o, .archive = m->path, .to_fd = to_fd, .matched = matched };
                if (m->incremental || npaths > 0 || (o->mode == RESTORE_EXTRACT && !target_empty)) {
                        r = prepass(&x, o->key, m->incremental);
                        if (r < 0) {
                                total.bad_member = k;
                                *ret = total;
                                return r;
                        }
                }
                total.deleted += x.deleted;

                /* Only the PATHs this member has: the others are no error of it. */
                for (size_t i = 0; i < npaths; i++)
                        if (matched[i]) {
                                matched_any[i] = true;
                                if (strv_extend(&member_paths, o->paths[i]) < 0)
                                        return say(o, LOG_ERR, -ENOMEM, "Out of memory.");
                        }
                if (npaths > 0 && !member_paths)
                        continue;

                RestoreOptions mo = *o;
                mo.paths = npaths > 0 ? member_paths : NULL;
                mo.overwrite = o->overwrite || k > 0;
                r = restore_archive(m->path, &mo, &st);
                add_stats(&total.restore, &st);
                if (r < 0) {
                        total.bad_member = k;
                        *ret = total;
                        return r;
                }
                set_directory_times(&x);
        }
        for (size_t i = 0; i < npaths; i++)
                if (!matched_any[i]) {
                        say(o, LOG_ERR, 0, "No entry '%s' in the restore point %s or the archives before it.", o->paths[i],
                            c->members[c->n - 1].filename);
                        total.restore.unmatched++;
                }
        *ret = total;
        return 0;
}

int chain_verify(const ArchiveInfo *list, size_t n, size_t i, const CryptKeySource *key, archive_report_t report,
                 chain_verify_fn fn, void *userdata) {
        ssize_t first = chain_full_index(list, n, i);
        bool bad = false;
        int r;

        if (first < 0) {
                /* all that is there is checked; the chain can never be restored */
                first = 0;
                bad = true;
        }
        for (size_t k = (size_t) first; k <= i; k++) {
                _cleanup_free_ char *problem = NULL;
                VerifyResult v = {};

                r = check_link(list, (size_t) first, k, key, &problem);
                if (r < 0)
                        return r;
                if (k == (size_t) first && list[k].incremental && !problem &&
                    asprintf(&problem, "it is incremental, and there is no full archive before it") < 0)
                        return -ENOMEM;
                int error = verify_archive(list[k].path, key, report, userdata, &v);
                fn(&list[k], &v, error, problem, userdata);
                if (error < 0 || problem || !verify_result_ok(&v))
                        bad = true;
        }
        return bad ? -EBADMSG : 0;
}
