/* SPDX-License-Identifier: MIT */
#pragma once

/* What a run takes from its sources, entry by entry. In this order:
 *
 *   1. Exclude= (the schedule's own patterns, selection_excluded() in
 *      below) beats everything.
 *   2. Built-in excludes, below a source (never the source itself): file
 *      systems that hold no data of the machine's own (pseudo, in-memory,
 *      network, read-only images: by file system type, at each mount
 *      point), a fixed list of paths (select_builtin_paths: /proc, /tmp,
 *      the apt caches, …), and the schedule's own destination.
 *   3. Sockets (tar cannot store them).
 *   4. SkipPackaged=yes: what dpkg would give back is left out (dpkg-db.h);
 *      conffiles, files no package ships, and dpkg's own business
 *      (database, alternatives links, diversions) are kept. A packaged
 *      directory is walked, and stored only for what is kept below it.
 *      VerifyPackaged=yes also keeps packaged files whose content no longer
 *      matches the package's md5sums (slow: reads every packaged file).
 *   5. Expect=: a kept file (not a directory, not dpkg's business) that no
 *      Expect= covers is "unexpected": still stored, and reported.
 *
 * select-walk.h walks the sources with this policy. */

#include <sys/stat.h>
#include "schedule.h"

typedef enum SelectReason {
        /* stored */
        SELECT_SOURCE,                  /* in a Source= (SkipPackaged=no) */
        SELECT_UNOWNED,                 /* no installed package ships it */
        SELECT_CONFFILE,                /* a package's conffile */
        SELECT_MODIFIED,                /* packaged, but changed since (VerifyPackaged=yes) */
        SELECT_DPKG,                    /* dpkg's own: database, alternatives, diversions */
        SELECT_PARENT,                  /* a packaged directory, for what is stored below it */
        /* not stored */
        SKIP_PACKAGED,                  /* reinstalling its package gives it back */
        SKIP_EXCLUDE,                   /* Exclude= */
        SKIP_BUILTIN,                   /* a built-in excluded path */
        SKIP_FILESYSTEM,                /* a pseudo, in-memory, network or image file system */
        SKIP_DESTINATION,               /* the schedule's own archives */
        SKIP_SOCKET,
        _SELECT_REASON_MAX,
} SelectReason;

static inline bool select_reason_stored(SelectReason r) {
        return r < SKIP_PACKAGED;
}
const char *select_reason_to_string(SelectReason r);

typedef struct SelectDecision {
        SelectReason reason;
        bool descend;                   /* a directory whose contents are walked */
        bool unexpected;                /* stored, and no Expect= covers it */
        const char *detail;             /* SKIP_FILESYSTEM: the type; SKIP_BUILTIN: why. Static. */
} SelectDecision;

typedef struct SelectCandidate {
        const char *path;               /* absolute */
        size_t len;
        const char *source;             /* the (resolved) Source= being walked */
        int level;                      /* 0: the source itself */
        /* Mode (type bits at least), and for directories dev and ino too. */
        const struct stat *st;
        dev_t parent_dev;               /* level > 0 */
        int dir_fd;                     /* the parent directory, and NAME in it: VerifyPackaged */
        const char *name;
} SelectCandidate;

typedef struct SelectPolicy SelectPolicy;

/* DESTINATION: the destination directory's stat (NULL: stat it by its
 * path, if it exists). With SkipPackaged=yes this loads the dpkg database
 * (error: *ret_error). */
int select_policy_new(const Schedule *s, const struct stat *destination, SelectPolicy **ret, char **ret_error);
SelectPolicy *select_policy_free(SelectPolicy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(SelectPolicy *, select_policy_free);

void select_policy_check(SelectPolicy *p, const SelectCandidate *c, SelectDecision *ret);

/* Whether an Expect= covers PATH (false when the schedule has none). */
bool select_policy_expected(const SelectPolicy *p, const char *path, size_t len);
bool select_policy_reports_unexpected(const SelectPolicy *p);

/* The built-in excludes, for `files --explain` and the man page. */
typedef struct SelectBuiltin {
        const char *path;
        const char *why;
} SelectBuiltin;
extern const SelectBuiltin select_builtin_paths[];
extern const size_t select_builtin_paths_n;
typedef struct SelectFsType {
        long magic;                     /* statfs(2) f_type */
        const char *name;
        const char *why;
} SelectFsType;
extern const SelectFsType select_skipped_fs_types[];
extern const size_t select_skipped_fs_types_n;

/* The dpkg database behind the policy (NULL without SkipPackaged=yes). */
struct DpkgDb;
const struct DpkgDb *select_policy_dpkg(const SelectPolicy *p);

/* Exclude= patterns, matched like rsync's: a pattern without '/' against
 * each name below the source ("*.tmp", "cache"); one with '/' against the
 * path below the source ("cache/tmp*"); one starting with '/' against the
 * whole path. The source's own path never takes part, so Exclude=tmp does
 * not exclude everything of a source under /tmp. */
bool selection_excluded(char **patterns, const char *path, const char *source);
