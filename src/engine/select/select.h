/* SPDX-License-Identifier: MIT */
#pragma once

/* The run's first stage: which entries go into the archive. Walks every
 * source in tar order and keeps what the selection policy keeps
 * (select-policy.h: Exclude=, the built-in excludes, the destination,
 * sockets, SkipPackaged=; decided before a directory is descended), opens
 * each regular file once, and hands each chosen entry to the caller:
 *
 *   ENTRY  built by libarchive from the file (owner names, symlink target,
 *          xattrs, ACLs), its pathname relative ("srv/data/x"), its
 *          sourcepath the absolute path walked;
 *   FD     the regular file, opened O_NOFOLLOW and checked to be the file
 *          walked, or -EBADF (empty files and everything else);
 *   ST     its stat, from FD when open.
 *
 * Problems with single files are warnings in the run's report; the walk goes
 * on. A callback error stops it. Later selection rules (incremental
 * filtering) belong here. */

#include <sys/stat.h>
#include "file-content.h"
#include "report.h"
#include "schedule.h"

struct archive_entry;
/* A stored entry: a regular file comes open as FD, or read ahead as CONTENT
 * (file-content.h), or neither when empty. */
typedef int (*select_entry_fn)(struct archive_entry *entry, int fd, const struct stat *st, const FileContent *content,
                               void *userdata, char **ret_error);

typedef struct Selection Selection;

/* DESTINATION: the open destination directory, never archived. With
 * SkipPackaged=yes this loads the dpkg database; an error says why. */
int selection_new(const Schedule *s, const struct stat *destination, RunReport *report, Selection **ret,
                  char **ret_error);
/* Every source must exist when the run starts, and not be the empty
 * directory under a mount point that is not mounted (mounts.h): either
 * fails the run. */
int selection_check_sources(const Selection *sel, char **ret_error);
int selection_walk(Selection *sel, select_entry_fn fn, void *userdata, char **ret_error);
/* FullEvery=: the walk goes in index order, passes every entry through INC
 * (borrowed), skips what is unchanged and stores the directories above
 * what changed (incremental.h). */
struct Incremental;
void selection_set_incremental(Selection *sel, struct Incremental *inc);
Selection *selection_free(Selection *sel);
DEFINE_TRIVIAL_CLEANUP_FUNC(Selection *, selection_free);

/* After the walk: the entries other than directories that the sources gave
 * the restore point (stored now or, FullEvery=, before); dumps and the
 * package state are not counted. None where there used to be some is an
 * emptied source (shrink.h). */
uint64_t selection_source_files(const Selection *sel);
/* The same per source, in the schedule's order (borrowed; *RET_N of them). */
const uint64_t *selection_source_files_of(const Selection *sel, size_t *ret_n);
/* After the walk, with Expect=: the kept files no Expect= covers, one path
 * a line (a backslash, a newline and other control characters written as
 * \\, \n and \xNN), and how many. *ret_list is NULL without Expect=. */
int selection_unexpected(Selection *sel, char **ret_list, uint64_t *ret_count);
