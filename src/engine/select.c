/* SPDX-License-Identifier: MIT */
/*
 * The walk is fts(3), in tar order: a directory's entries follow the
 * directory directly. libarchive's own walk lists a directory's siblings
 * before its contents; GNU tar then sets a directory's mode and time as soon
 * as it sees a sibling, before the directory's files arrive, and restores
 * wrong directory times (as root) or cannot create files under a read-only
 * directory (as anyone else). libarchive still builds each entry from the
 * stat fts made, configured in one place (selection_new(): physical walk,
 * standard owner lookup, no opens of regular files of its own).
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <fts.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include "archive-util.h"
#include "fileio.h"
#include "format-util.h"
#include "incremental.h"
#include "index.h"
#include "log.h"
#include "mounts.h"
#include "select.h"

struct Selection {
        const Schedule *schedule;
        struct stat destination;
        RunReport *report;
        struct archive *disk;           /* builds entries from what fts found */
        struct archive_entry *entry;    /* reused for every file */
        Incremental *incremental;       /* FullEvery=: the index filter, or NULL */
};

int selection_new(const Schedule *s, const struct stat *destination, RunReport *report, Selection **ret) {
        _cleanup_(selection_freep) Selection *sel = calloc(1, sizeof *sel);
        int r;

        if (!sel)
                return -ENOMEM;
        sel->schedule = s;
        sel->destination = *destination;
        sel->report = report;
        sel->disk = archive_read_disk_new();
        sel->entry = archive_entry_new();
        if (!sel->disk || !sel->entry)
                return -ENOMEM;
        r = archive_read_disk_set_symlink_physical(sel->disk);
        if (r == ARCHIVE_OK)
                r = archive_read_disk_set_standard_lookup(sel->disk);
        /* Sparse maps are taken from our own descriptor by the writer; with
         * fflags off too, libarchive never opens a regular file. */
        if (r == ARCHIVE_OK)
                r = archive_read_disk_set_behavior(sel->disk, ARCHIVE_READDISK_NO_SPARSE | ARCHIVE_READDISK_NO_FFLAGS);
        if (r != ARCHIVE_OK)
                return -EIO;
        *ret = TAKE_PTR(sel);
        return 0;
}

Selection *selection_free(Selection *sel) {
        if (!sel)
                return NULL;
        if (sel->disk)
                archive_read_free(sel->disk);
        archive_entry_free(sel->entry);
        free(sel);
        return NULL;
}

void selection_set_incremental(Selection *sel, Incremental *inc) {
        sel->incremental = inc;
}

int selection_check_sources(const Selection *sel, char **ret_error) {
        STRV_FOREACH(p, sel->schedule->sources) {
                struct stat st;
                int r = mounts_check_path("Source", *p, ret_error);
                if (r < 0)
                        return r;
                /* stat, not lstat: a symlink to nothing is a missing source */
                if (stat(*p, &st) < 0)
                        return errorf(ret_error, negative_errno(), "Source %s: %m", *p);
        }
        return 0;
}

bool selection_excluded(char **patterns, const char *path, const char *source) {
        size_t n = strlen(source);
        const char *below = strncmp(path, source, n) == 0 ? path + n : path;
        while (*below == '/')
                below++;
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;

        STRV_FOREACH(p, patterns) {
                const char *subject = **p == '/' ? path : strchr(*p, '/') ? below : base;
                if (fnmatch(*p, subject, FNM_PATHNAME) == 0)
                        return true;
        }
        return false;
}

/* Never archive the archives (the destination may lie inside a source), and
 * no sockets: tar has no way to store one, and it is runtime state anyway. */
static bool wanted(const Selection *sel, const struct stat *st, const char *path) {
        if (S_ISDIR(st->st_mode) && st->st_dev == sel->destination.st_dev && st->st_ino == sel->destination.st_ino) {
                log_debug("Skipping the destination %s inside the source.", path);
                return false;
        }
        if (S_ISSOCK(st->st_mode)) {
                log_debug("Skipping socket %s.", path);
                return false;
        }
        return true;
}

/* Opens the walked file for reading, or returns -ENOENT & co after warning
 * that it is not archived. */
static int open_regular(Selection *sel, const char *path, const struct stat *walked, int *ret_fd, struct stat *ret_st) {
        int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
        RunReport *rep = sel->report;

        int fd = open(path, flags | O_NOATIME);
        if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership */
                fd = open(path, flags);
        if (fd < 0) {
                int r = negative_errno();
                if (r == -ENOENT)
                        report_warning(rep, path, "%s: vanished before it could be read, not archived", path);
                else if (r == -ELOOP)
                        report_warning(rep, path, "%s: replaced by a symlink while archiving, not archived", path);
                else
                        report_warning(rep, path, "%s: cannot open: %s, not archived", path, strerror(-r));
                return r;
        }
        if (fstat(fd, ret_st) < 0) {
                int r = negative_errno();
                report_warning(rep, path, "%s: cannot stat: %s, not archived", path, strerror(-r));
                safe_close(fd);
                return r;
        }
        if (!S_ISREG(ret_st->st_mode) || ret_st->st_dev != walked->st_dev || ret_st->st_ino != walked->st_ino) {
                report_warning(rep, path, "%s: replaced by another file while archiving, not archived", path);
                safe_close(fd);
                return -ESTALE;
        }
        *ret_fd = fd;
        return 0;
}

/* "/srv/data/x" is stored as "srv/data/x", like tar does. */
static int set_relative_pathname(struct archive_entry *entry, const char *path) {
        const char *p = path;
        while (*p == '/')
                p++;
        archive_entry_copy_pathname(entry, *p ? p : ".");
        return 0;
}

/* Why an entry that the walk could not stat is missing. */
static void warn_unwalkable(Selection *sel, const FTSENT *e) {
        if (e->fts_errno == ENOENT)
                report_warning(sel->report, e->fts_path, "%s: vanished before it could be read, not archived", e->fts_path);
        else
                report_warning(sel->report, e->fts_path, "%s: cannot stat: %s, not archived", e->fts_path,
                               strerror(e->fts_errno));
}

/* Sorts out what fts says about one entry. False: nothing to store. */
static bool entry_walkable(Selection *sel, FTSENT *e) {
        switch (e->fts_info) {
        case FTS_DP:
                return false;   /* on the way back up */
        case FTS_NS:
        case FTS_ERR:
                warn_unwalkable(sel, e);
                return false;
        case FTS_DNR:
                report_warning(sel->report, e->fts_path, "%s: cannot read directory: %s, its contents are not archived",
                               e->fts_path, strerror(e->fts_errno));
                return e->fts_number == 0;      /* else stored when it was entered */
        case FTS_DC:
                report_warning(sel->report, e->fts_path, "%s: directory cycle, its contents are not archived again",
                               e->fts_path);
                return true;
        }
        return true;
}

/* Builds sel->entry for PATH from FD/ST: an ARCHIVE_* status, or a negative
 * errno for a fatal error. */
static int build_entry(Selection *sel, const char *path, int fd, const struct stat *st, char **ret_error) {
        struct archive_entry *entry = sel->entry;

        archive_entry_clear(entry);
        archive_entry_copy_pathname(entry, path);
        archive_entry_copy_sourcepath(entry, path);
        int k = archive_read_disk_entry_from_file(sel->disk, entry, fd, st);
        if (k == ARCHIVE_FATAL)
                return errorf(ret_error, -archive_errno(sel->disk) ?: -EIO, "Cannot walk %s: %s", path,
                              archive_error_string(sel->disk));
        if (k == ARCHIVE_FAILED)
                report_warning(sel->report, path, "%s: %s, not archived", path, archive_error_string(sel->disk));
        else if (k == ARCHIVE_WARN)
                report_warning(sel->report, path, "%s: %s", path, archive_error_string(sel->disk));
        set_relative_pathname(entry, path);
        return k;
}

/* FullEvery=: an incremental archive holds the directories above every
 * entry it stores, so that a restore sets their times and modes again
 * after writing into them. */
static int store_ancestors(Selection *sel, select_entry_fn fn, void *userdata, char **ret_error) {
        const struct stat *st;
        const char *path;

        while (incremental_next_ancestor(sel->incremental, &path, &st)) {
                int k = build_entry(sel, path, -EBADF, st, ret_error);
                if (k < 0)
                        return k;
                if (k == ARCHIVE_FAILED)
                        continue;
                k = fn(sel->entry, -EBADF, st, userdata, ret_error);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* Empty files are not opened, except on procfs, whose files all say 0
 * bytes: the writer then finds out whether one holds something. */
static bool on_procfs(const char *path, const struct stat *st) {
        struct statfs sfs;
        return major(st->st_dev) == 0 && statfs(path, &sfs) >= 0 && sfs.f_type == PROC_SUPER_MAGIC;
}

/* Builds the entry of E (opening a regular file with data) and hands it to
 * FN. Returns 0 also when the entry was skipped with a warning. */
static int select_one(Selection *sel, FTS *fts, FTSENT *e, const char *source,
                      select_entry_fn fn, void *userdata, char **ret_error) {
        bool dir = e->fts_info == FTS_D || e->fts_info == FTS_DC;
        struct archive_entry *entry = sel->entry;
        const char *path = e->fts_path;
        int k;

        /* Excludes are matched before a directory is descended: an excluded
         * directory is never walked. */
        if (e->fts_level > FTS_ROOTLEVEL && selection_excluded(sel->schedule->excludes, path, source)) {
                if (dir)
                        (void) fts_set(fts, e, FTS_SKIP);
                return 0;
        }
        if (!wanted(sel, e->fts_statp, path)) {
                if (dir)
                        (void) fts_set(fts, e, FTS_SKIP);
                return 0;
        }

        /* FullEvery=: what is unchanged since the previous restore point is
         * neither opened nor stored. */
        if (sel->incremental) {
                k = incremental_check(sel->incremental, path, e->fts_level, e->fts_statp, ret_error);
                if (k < 0)
                        return k;
                e->fts_number = 1;
                if (k == 0)
                        return 0;
                k = store_ancestors(sel, fn, userdata, ret_error);
                if (k < 0)
                        return k;
        }

        /* A regular file is opened here, once: the descriptor serves for its
         * ACLs and xattrs (no more lookups of its long path) and then for
         * its data. */
        _cleanup_close_ int fd = -EBADF;
        const struct stat *st = e->fts_statp;
        struct stat opened;
        if (e->fts_info == FTS_F && S_ISREG(st->st_mode) && (st->st_size > 0 || on_procfs(path, st))) {
                if (open_regular(sel, path, st, &fd, &opened) < 0)
                        return 0;       /* warned, skipped */
                st = &opened;
        }

        k = build_entry(sel, path, fd, st, ret_error);
        if (k < 0)
                return k;
        if (k == ARCHIVE_FAILED) {
                if (dir)
                        (void) fts_set(fts, e, FTS_SKIP);
                return 0;
        }

        e->fts_number = 1;
        uint64_t stored_before = sel->report->stats.files;
        k = fn(entry, fd, st, userdata, ret_error);
        if (k >= 0 && sel->incremental && sel->report->stats.files > stored_before)
                k = incremental_stored(sel->incremental, st, ret_error);
        return k;
}

static int walk_source(Selection *sel, const char *given, select_entry_fn fn, void *userdata, char **ret_error) {
        _cleanup_free_ char *resolved = NULL;
        const char *source = given;
        FTSENT *e;
        FTS *fts;
        int r = 0;

        /* A source that is a symlink means the tree or file it points to (as
         * tar -H does), stored under its real path: a restore then never has
         * to write through a symlink (/lib -> usr/lib is stored as usr/lib). */
        struct stat given_st;
        if (lstat(given, &given_st) >= 0 && S_ISLNK(given_st.st_mode)) {
                resolved = realpath(given, NULL);
                if (!resolved)
                        return errorf(ret_error, negative_errno(), "Source %s is a symlink that cannot be resolved: %m",
                                      given);
                log_debug("Source %s is a symlink; archiving %s.", given, resolved);
                source = resolved;
        }
        char *roots[] = { (char *) source, NULL };
        /* The index is read in walk order: with it, names sorted bytewise */
        fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, sel->incremental ? index_fts_compare : NULL);
        if (!fts)
                return errorf(ret_error, negative_errno(), "Cannot open source %s: %m", source);

        while (r >= 0 && (errno = 0, e = fts_read(fts)))
                if (entry_walkable(sel, e))
                        r = select_one(sel, fts, e, source, fn, userdata, ret_error);
        if (r >= 0 && errno != 0)
                r = errorf(ret_error, negative_errno(), "Cannot walk %s: %m", source);
        fts_close(fts);
        return r;
}

int selection_walk(Selection *sel, select_entry_fn fn, void *userdata, char **ret_error) {
        unsigned ordinal = 0;
        STRV_FOREACH(p, sel->schedule->sources) {
                int r = sel->incremental ? incremental_begin_source(sel->incremental, ordinal++) : 0;
                if (r < 0)
                        return r;
                r = walk_source(sel, *p, fn, userdata, ret_error);
                if (r < 0)
                        return r;
        }
        return sel->incremental ? incremental_end_walk(sel->incremental, ret_error) : 0;
}
