/* SPDX-License-Identifier: MIT */
#pragma once

/* What dpkg knows about the files of this system, read once, straight from
 * its database (never by running dpkg -S per file):
 *   ADMINDIR/status (and pending updates/)   installed packages, Conffiles:
 *   ADMINDIR/info/PKG[:ARCH].list            the paths each package ships
 *   ADMINDIR/info/PKG[:ARCH].md5sums         their checksums (only if asked)
 *   ADMINDIR/diversions                      files moved aside (dpkg-divert)
 *   ADMINDIR/alternatives/NAME               links of update-alternatives
 *   CONFDIR/dpkg.cfg, CONFDIR/dpkg.cfg.d/    path-exclude= / path-include=
 *
 * All paths are kept in one compact open-addressing hash set, so a lookup
 * during a walk of / costs one hash of the path. Paths are stored as the
 * walk sees them: on a merged-/usr system (/bin -> usr/bin) dpkg's "/bin/ls"
 * is "/usr/bin/ls".
 *
 * A database that cannot be read, or does not parse, is an error with a
 * message naming the file and line: a wrong answer would silently back up
 * nothing or everything. */

#include <stdint.h>
#include "macro.h"

#define DPKG_ADMINDIR "/var/lib/dpkg"
#define DPKG_CONFDIR  "/etc/dpkg"

typedef enum DpkgClass {
        DPKG_UNOWNED,           /* no installed package ships it */
        DPKG_PACKAGED,          /* an installed package ships it: reinstalling gives it back
                                 * (also the /usr-merge links such as /bin) */
        DPKG_CONFFILE,          /* a conffile (Conffiles: of the status file), changed or not */
        DPKG_MANAGED,           /* dpkg's own business: its database, an alternatives link,
                                 * a diverted file */
        _DPKG_CLASS_MAX,
} DpkgClass;

typedef enum DpkgLoadFlags {
        DPKG_LOAD_MD5SUMS = 1 << 0,     /* also read the md5sums, for dpkg_db_md5() */
} DpkgLoadFlags;

typedef struct DpkgDbStats {
        unsigned packages;              /* installed (with files on disk) */
        size_t paths;                   /* distinct paths in the .list files */
        size_t conffiles;
        size_t diversions;
        size_t alternatives;            /* links managed by update-alternatives */
        size_t path_filters;            /* path-exclude=/path-include= rules */
        size_t md5sums;
        uint64_t load_usec;             /* wall clock */
        uint64_t load_cpu_usec;         /* CPU time (user + system) of the loading thread */
} DpkgDbStats;

typedef struct DpkgDb DpkgDb;

/* ADMINDIR and CONFDIR: NULL for dpkg's defaults. On failure *ret_error
 * says what is wrong and where. */
int dpkg_db_load(const char *admindir, const char *confdir, DpkgLoadFlags flags, DpkgDb **ret, char **ret_error);
DpkgDb *dpkg_db_free(DpkgDb *db);
DEFINE_TRIVIAL_CLEANUP_FUNC(DpkgDb *, dpkg_db_free);

/* Whether this system has a dpkg database at all (create refuses
 * SkipPackaged=yes without one). */
int dpkg_db_check_present(const char *admindir, char **ret_error);

/* PATH: absolute, as a physical walk sees it. IS_DIR: path-exclude= rules
 * apply to files only (dpkg keeps the directories that included files need). */
DpkgClass dpkg_db_classify(const DpkgDb *db, const char *path, size_t len, bool is_dir);
const char *dpkg_class_to_string(DpkgClass c);

/* The MD5 dpkg recorded for packaged file PATH (16 bytes), or NULL. Needs
 * DPKG_LOAD_MD5SUMS. */
const uint8_t *dpkg_db_md5(const DpkgDb *db, const char *path, size_t len);

void dpkg_db_stats(const DpkgDb *db, DpkgDbStats *ret);
const char *dpkg_db_admindir(const DpkgDb *db);
