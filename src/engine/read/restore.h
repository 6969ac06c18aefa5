/* SPDX-License-Identifier: MIT */
#pragma once

/* Restoring an archive, distrustfully: an archive may have been tampered
 * with or damaged, so every entry is checked before libarchive sees it and
 * every file is checked against the manifest before it gets its name.
 * Nothing is written outside the target: no absolute paths, no "..", never
 * through a symlink, hard links only to files this restore wrote. No file
 * is ever written in place: each is written under a temporary name in its
 * directory and renamed to its real name once it is complete and matches
 * the manifest, so a damaged archive never leaves a damaged file under a
 * real name, nor removes the file --overwrite would have replaced.
 * libarchive's own SECURE_* flags are a second layer under ours. */

#include <stdint.h>
#include "archive-read.h"
#include "encryption.h"
#include "macro.h"

typedef enum RestoreMode {
        RESTORE_EXTRACT,
        RESTORE_LIST,           /* print the entries */
        RESTORE_DRY_RUN,        /* print what would be written */
} RestoreMode;

typedef struct RestoreOptions {
        const char *target;     /* --to DIR (created if missing); unused for RESTORE_LIST */
        char **paths;           /* only these entries and what is below them; NULL: all */
        RestoreMode mode;
        bool overwrite;
        bool escape_names;      /* RESTORE_LIST: control characters in names as \xNN (a terminal) */
        const CryptKeySource *key;      /* for encrypted archives */
        archive_report_t report;        /* what restore has to say (NULL: debug log) */
        void *userdata;
} RestoreOptions;

typedef struct RestoreStats {
        uint64_t entries;       /* entries restored (or listed, or that would be) */
        uint64_t existing;      /* not overwritten */
        uint64_t refused;       /* unsafe entries */
        uint64_t failed;        /* entries libarchive could not write */
        uint64_t damaged;       /* differ from the manifest, or missing from the archive: not restored */
        uint64_t unmatched;     /* PATH arguments that matched nothing */
        bool unchecked;         /* no usable manifest: files were restored without a check */
        bool manifest_damaged;  /* there is a manifest, but it cannot be read */
} RestoreStats;

/* Reports each refused, failed or damaged entry through o->report. Returns
 * 0 when the archive was read to its end (check the stats), or a negative
 * errno when it could not be read (corrupt, truncated) or the listing could
 * not be written, after reporting why. */
int restore_archive(const char *archive, const RestoreOptions *o, RestoreStats *ret);

static inline bool restore_stats_ok(const RestoreStats *st) {
        return st->existing + st->refused + st->failed + st->damaged + st->unmatched == 0 && !st->manifest_damaged;
}

/* "/etc/nginx/" → "etc/nginx": how an argument names stored entries. */
char *restore_path_argument(const char *arg);

/* The checks restore makes on every stored name before it writes anything,
 * exported for the unit tests and the fuzzer. */
/* "./a" → "a": a leading "./" means nothing in a stored name. */
const char *restore_entry_name(const char *stored);
/* Relative, no ".." component, not empty. */
bool restore_name_is_safe(const char *name);
/* Whether NAME is one of PATHS or lies below one (NULL: everything). */
bool restore_name_selected(const char *name, char **paths);

/* Opens PATH below DIR_FD without following any symlink and without leaving
 * DIR_FD: with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) where the kernel
 * has it, else (ENOSYS, or EPERM from a seccomp filter) one O_NOFOLLOW
 * component at a time. -ELOOP for a symlink, -EXDEV for "..". */
int restore_open_beneath(int dir_fd, const char *path, int flags);
/* The component walk alone (for the tests: it must agree with openat2). */
int restore_open_beneath_walk(int dir_fd, const char *path, int flags);
