/* SPDX-License-Identifier: MIT */
/*
 * The select stage for the archive writer: the walk and the selection
 * policy (select-walk.h, select-policy.h) decide what is stored; here
 * libarchive builds each entry from the walk's stat, configured in one
 * place (selection_new(): physical, standard owner lookup, no opens of
 * regular files of its own), and each regular file is opened once.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "archive-util.h"
#include "fileio.h"
#include "format-util.h"
#include "incremental.h"
#include "index.h"
#include "log.h"
#include "mounts.h"
#include "select.h"
#include "select-walk.h"

struct Selection {
        const Schedule *schedule;
        RunReport *report;
        SelectPolicy *policy;
        struct archive *disk;           /* builds entries from what the walk found */
        struct archive_entry *entry;    /* reused for every file */

        /* during selection_walk() */
        select_entry_fn fn;
        void *userdata;
        char **ret_error;

        /* Expect=: the kept files none covers, one escaped path a line */
        FILE *unexpected;
        char *unexpected_text;
        size_t unexpected_size;
        uint64_t n_unexpected;

        Incremental *incremental;       /* FullEvery=: the index filter, or NULL */
        uint64_t source_files;          /* what selection_source_files() says */
        uint64_t *source_files_of;      /* the same per source */
        size_t n_sources, current_source;
};

int selection_new(const Schedule *s, const struct stat *destination, RunReport *report, Selection **ret,
                  char **ret_error) {
        _cleanup_(selection_freep) Selection *sel = calloc(1, sizeof *sel);
        int r;

        if (!sel)
                return -ENOMEM;
        sel->schedule = s;
        sel->report = report;
        sel->n_sources = strv_length(s->sources);
        sel->source_files_of = calloc(MAX(sel->n_sources, (size_t) 1), sizeof *sel->source_files_of);
        if (!sel->source_files_of)
                return -ENOMEM;
        r = select_policy_new(s, destination, &sel->policy, ret_error);
        if (r < 0)
                return r;
        if (select_policy_reports_unexpected(sel->policy)) {
                sel->unexpected = open_memstream(&sel->unexpected_text, &sel->unexpected_size);
                if (!sel->unexpected)
                        return -ENOMEM;
        }
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
                return errorf(ret_error, -EIO, "Cannot set up the file system walk: %s", archive_error_string(sel->disk));
        *ret = TAKE_PTR(sel);
        return 0;
}

Selection *selection_free(Selection *sel) {
        if (!sel)
                return NULL;
        select_policy_free(sel->policy);
        if (sel->unexpected)
                fclose(sel->unexpected);
        free(sel->unexpected_text);
        if (sel->disk)
                archive_read_free(sel->disk);
        archive_entry_free(sel->entry);
        free(sel->source_files_of);
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

static int warn_unopened(RunReport *rep, const char *path, int error) {
        if (error == -ENOENT)
                report_warning(rep, path, "%s: vanished before it could be read, not archived", path);
        else if (error == -ELOOP)
                report_warning(rep, path, "%s: replaced by a symlink while archiving, not archived", path);
        else
                report_warning(rep, path, "%s: cannot open: %s, not archived", path, strerror(-error));
        return error;
}

/* Opens the walked file for reading, or returns -ENOENT & co after warning
 * that it is not archived. */
static int open_regular(Selection *sel, const SelectEntry *e, int *ret_fd, struct stat *ret_st) {
        const struct stat *walked = e->st;
        const char *path = e->path;
        RunReport *rep = sel->report;

        int fd = openat_noatime(e->dir_fd, e->name, OPEN_WALKED_FILE);
        if (fd < 0)
                return warn_unopened(rep, path, negative_errno());
        if (fstat(fd, ret_st) < 0) {
                int r = negative_errno();
                report_warning(rep, path, "%s: cannot stat: %s, not archived", path, strerror(-r));
                safe_close(fd);
                return r;
        }
        bool same = S_ISREG(ret_st->st_mode) &&
                    (!e->have_stat || (ret_st->st_dev == walked->st_dev && ret_st->st_ino == walked->st_ino));
        if (!same) {
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

/* A kept file no Expect= covers: one line of the list, with "\\", newlines
 * and other control characters escaped. */
static void add_unexpected(Selection *sel, const char *path) {
        FILE *f = sel->unexpected;
        if (!f)
                return;
        for (const unsigned char *p = (const unsigned char *) path; *p; p++)
                if (*p == '\\')
                        fputs("\\\\", f);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
        fputc('\n', f);
        sel->n_unexpected++;
}

static void walk_warning(const char *path, const char *message, void *userdata) {
        Selection *sel = userdata;
        report_warning(sel->report, path, "%s", message);
}

/* Builds sel->entry for PATH from FD/ST (NO_XATTRS: a regular file known
 * to have no extended attributes): an ARCHIVE_* status, or a negative
 * errno for a fatal error. */
static int build_entry(Selection *sel, const char *path, int fd, const struct stat *st, bool no_xattrs,
                       char **ret_error) {
        struct archive_entry *entry = sel->entry;

        archive_entry_clear(entry);
        archive_entry_copy_pathname(entry, path);
        archive_entry_copy_sourcepath(entry, path);
        /* A regular file without extended attributes has no ACL either (POSIX
         * ACLs are the system.posix_acl_* attributes): then the entry is the
         * stat and the names, what libarchive would make of it after two
         * more system calls a file (the ACL lookup). */
        if (S_ISREG(st->st_mode) && (no_xattrs || (fd >= 0 && flistxattr(fd, NULL, 0) == 0))) {
                archive_entry_copy_stat(entry, st);
                const char *name = archive_read_disk_uname(sel->disk, st->st_uid);
                if (name)
                        archive_entry_copy_uname(entry, name);
                name = archive_read_disk_gname(sel->disk, st->st_gid);
                if (name)
                        archive_entry_copy_gname(entry, name);
                set_relative_pathname(entry, path);
                return ARCHIVE_OK;
        }
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
                int k = build_entry(sel, path, -EBADF, st, false, ret_error);
                if (k < 0)
                        return k;
                if (k == ARCHIVE_FAILED)
                        continue;
                k = fn(sel->entry, -EBADF, st, NULL, userdata, ret_error);
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

static void count_source_file(Selection *sel) {
        sel->source_files++;
        sel->source_files_of[sel->current_source]++;
}

/* One entry the policy keeps: built by libarchive (a regular file with data
 * opened here, once: the descriptor serves for its ACLs and xattrs and then
 * for its data), handed to the caller's function. */
static int select_one(const SelectEntry *e, void *userdata) {
        Selection *sel = userdata;
        const char *path = e->path;
        bool dir = S_ISDIR(e->st->st_mode);
        int k;

        /* FullEvery=: what is unchanged since the previous restore point is
         * neither opened nor stored (a directory is still walked). */
        if (sel->incremental) {
                k = incremental_check(sel->incremental, path, e->level, e->st, sel->ret_error);
                if (k < 0)
                        return k;
                if (k == 0) {   /* in the restore point, from before */
                        if (!dir)
                                count_source_file(sel);
                        if (e->decision->unexpected)
                                add_unexpected(sel, path);
                        return 0;
                }
                k = store_ancestors(sel, sel->fn, sel->userdata, sel->ret_error);
                if (k < 0)
                        return k;
        }

        _cleanup_close_ int fd = -EBADF;
        const struct stat *st = e->st;
        const FileContent *content = NULL;
        const PrefetchedFile *ahead = e->prefetched;
        struct stat opened;
        if (ahead && !ahead->fallback) {
                if (ahead->error < 0) {
                        warn_unopened(sel->report, path, ahead->error);
                        return 0;
                }
                st = &ahead->st;
                content = &ahead->content;
        } else if (S_ISREG(st->st_mode) && (!e->have_stat || st->st_size > 0 || on_procfs(path, st))) {
                if (open_regular(sel, e, &fd, &opened) < 0)
                        return 0;       /* warned, skipped */
                st = &opened;
        }

        k = build_entry(sel, path, fd >= 0 ? fd : e->fd, st, content != NULL, sel->ret_error);
        if (k < 0)
                return k;
        if (k == ARCHIVE_FAILED)
                return dir ? SELECT_WALK_PRUNE : 0;

        uint64_t stored_before = sel->report->stats.files;
        k = sel->fn(sel->entry, fd, st, content, sel->userdata, sel->ret_error);
        bool stored = sel->report->stats.files > stored_before;
        if (k >= 0 && stored && !dir)
                count_source_file(sel);
        if (k >= 0 && sel->incremental && stored)
                k = incremental_stored(sel->incremental, st, sel->ret_error);
        if (k >= 0 && e->decision->unexpected)
                add_unexpected(sel, path);
        return k;
}

int selection_walk(Selection *sel, select_entry_fn fn, void *userdata, char **ret_error) {
        _cleanup_(prefetch_freep) Prefetch *prefetch = NULL;
        bool full = !incremental_is_incremental(sel->incremental);
        /* without a helper thread, every file is opened by the walk */
        int r = full ? prefetch_new(&prefetch) : 0;
        if (r < 0)
                log_debug("No read-ahead thread: %s", strerror(-r));
        SelectVisitor v = {
                .entry = select_one,
                .warning = walk_warning,
                .userdata = sel,
                .need_stat = true,
                /* an incremental run decides on the lstat, before opening
                 * anything; a full one (FullEvery= too) opens every file */
                .regular_unstated = full,
                .prefetch = prefetch,
                /* the index is read in walk order: names sorted bytewise */
                .sorted = sel->incremental != NULL,
        };
        unsigned ordinal = 0;
        sel->fn = fn;
        sel->userdata = userdata;
        sel->ret_error = ret_error;
        STRV_FOREACH(p, sel->schedule->sources) {
                _cleanup_free_ char *error = NULL;
                sel->current_source = ordinal;
                r = sel->incremental ? incremental_begin_source(sel->incremental, ordinal) : 0;
                ordinal++;
                if (r < 0)
                        return r;
                r = select_walk(sel->policy, *p, &v, &error);
                if (r < 0) {
                        if (error)      /* else select_one() said why */
                                return errorf(ret_error, r, "%s", error);
                        return r;
                }
        }
        return sel->incremental ? incremental_end_walk(sel->incremental, ret_error) : 0;
}

uint64_t selection_source_files(const Selection *sel) {
        return sel->source_files;
}

const uint64_t *selection_source_files_of(const Selection *sel, size_t *ret_n) {
        *ret_n = sel->n_sources;
        return sel->source_files_of;
}

int selection_unexpected(Selection *sel, char **ret_list, uint64_t *ret_count) {
        if (!sel->unexpected) {
                *ret_list = NULL;
                *ret_count = 0;
                return 0;
        }
        if (fflush(sel->unexpected) != 0 || ferror(sel->unexpected))
                return -ENOMEM;
        fclose(sel->unexpected);
        sel->unexpected = NULL;
        *ret_list = TAKE_PTR(sel->unexpected_text);
        *ret_count = sel->n_unexpected;
        return 0;
}
