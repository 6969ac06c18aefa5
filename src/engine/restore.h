/* SPDX-License-Identifier: MIT */
#pragma once

/* Restoring an archive, distrustfully: an archive may have been tampered
 * with, so every entry is checked before libarchive sees it. Nothing is
 * written outside the target: no absolute paths, no "..", never through a
 * symlink, hard links only to files inside the target. libarchive's own
 * SECURE_* flags are a second layer under ours. */

#include <stdint.h>
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
        const CryptKeySource *key;      /* for encrypted archives */
} RestoreOptions;

typedef struct RestoreStats {
        uint64_t entries;       /* entries restored (or listed, or that would be) */
        uint64_t existing;      /* not overwritten */
        uint64_t refused;       /* unsafe entries */
        uint64_t failed;        /* entries libarchive could not write */
        uint64_t unmatched;     /* PATH arguments that matched nothing */
} RestoreStats;

/* Logs each refused or failed entry. Returns 0 when the archive was read to
 * its end (check the stats), or a negative errno when it could not be read
 * (corrupt, truncated), after logging why. */
int restore_archive(const char *archive, const RestoreOptions *o, RestoreStats *ret);

/* "/etc/nginx/" → "etc/nginx": how an argument names stored entries. */
char *restore_path_argument(const char *arg);
/* Relative, no ".." component, not empty. */
bool restore_name_is_safe(const char *name);
/* Whether NAME is one of PATHS or lies below one (NULL: everything). */
bool restore_name_selected(const char *name, char **paths);
