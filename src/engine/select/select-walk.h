/* SPDX-License-Identifier: MIT */
#pragma once

/* The walk of a run's sources, deciding every entry with the selection
 * policy (select-policy.h) before anything below a directory is read.
 *
 *  - Tar order: a directory's entries follow the directory directly.
 *    libarchive's own walk lists a directory's siblings before its contents;
 *    GNU tar then restores wrong directory times (as root) or cannot create
 *    files under a read-only directory (as anyone else).
 *  - Physical: symlinks are stored, never followed. A Source= that is a
 *    symlink means the tree it points to (as tar -H does), stored under its
 *    real path, so a restore never writes through a symlink.
 *  - Relative to directory descriptors (openat, fstatat): short lookups,
 *    and no stat at all of what the policy leaves out.
 *  - Sorted (SelectVisitor.sorted): each directory's names bytewise, the
 *    walk order of the index (index.h) that FullEvery= merges the walk with.
 *  - A packaged directory (SkipPackaged=yes) is walked but stored only once
 *    something below it is, just before that entry (reason SELECT_PARENT).
 *
 * The walk is the select stage; whoever consumes it (the archive writer,
 * `alexandria-ctl files`) gets the same entries through a visitor. */

#include "prefetch.h"
#include "select-policy.h"

typedef struct SelectEntry {
        const char *path;               /* absolute; valid during the call */
        size_t len;
        int dir_fd;                     /* the parent directory (AT_FDCWD at a source) */
        const char *name;               /* in dir_fd */
        int fd;                         /* a directory: open on it (O_RDONLY); else -EBADF */
        /* With have_stat: lstat (for a directory fstat of fd). Otherwise
         * only the file type bits of st_mode are set. */
        const struct stat *st;
        bool have_stat;
        /* A regular file read ahead (SelectVisitor.prefetch), or NULL */
        const PrefetchedFile *prefetched;
        const SelectDecision *decision;
        int level;                      /* 0 at the source, as fts_level */
} SelectEntry;

/* entry() may return this for a directory: do not walk its contents */
#define SELECT_WALK_PRUNE 1

typedef struct SelectVisitor {
        /* An entry to store. <0 stops the walk (the visitor keeps its reason). */
        int (*entry)(const SelectEntry *e, void *userdata);
        /* An entry (or directory contents) that is not stored because it
         * could not be read: MESSAGE names PATH and says what is missing. */
        void (*warning)(const char *path, const char *message, void *userdata);
        /* Optional: an entry the policy left out (packaged files too). */
        void (*skipped)(const SelectEntry *e, void *userdata);
        void *userdata;
        bool need_stat;                 /* a full lstat of every stored entry */
        /* With need_stat: except regular files, which the visitor opens and
         * fstats itself (one system call a file fewer than lstat first). */
        bool regular_unstated;
        /* With regular_unstated, not sorted: regular files are opened and
         * small ones read ahead by this helper (prefetch.h) */
        Prefetch *prefetch;
        bool sorted;                    /* each directory's names in bytewise order */
} SelectVisitor;

/* Walks SOURCE. Problems with single entries go to warning(). Returns a
 * negative errno if the source itself cannot be walked (*ret_error says
 * why) or entry() returned one (*ret_error stays NULL). */
int select_walk(SelectPolicy *p, const char *source, const SelectVisitor *v, char **ret_error);
