/* SPDX-License-Identifier: MIT */
#pragma once

/* Incremental runs (FullEvery=): the plan of a run and the filter of the
 * select stage.
 *
 * The plan: a run is full when FullEvery= is set and the newest full
 * archive is that old, when there is no full archive, or when the index
 * (index.h) it would build on is missing, damaged, another schedule's, made
 * for other sources, or does not describe the newest archive and its chain;
 * the reason is said in the journal. Otherwise it is incremental: it stores
 * only what is new or changed since the newest archive, the restore point
 * before it, plus
 *
 *   .alexandria-incremental   first entry: the schedule, the archive it
 *                             builds on ("base") and the full of its chain
 *   .alexandria-deleted       last entry before the manifest: the paths
 *                             (stored names, one a line, escaped like the
 *                             manifest's) that existed at the base and no
 *                             longer do; only the topmost of a deleted tree;
 *                             also what changed type (a file that became a
 *                             directory), so that restore removes it first
 *
 * and the directories above every stored entry, so that their times and
 * modes are set again after a restore has written into them.
 *
 * The filter: the walk (sorted, see index.h) and the old index are merged
 * as two sorted streams; what the index records unchanged is not stored
 * (nor even opened). Every file that ends up in the restore point is
 * written to the new index, which replaces the old one only after the
 * archive is linked (incremental_commit()). Memory stays flat. */

#include <stdint.h>
#include <sys/stat.h>
#include "schedule.h"

#define INCREMENTAL_HEADER_NAME ".alexandria-incremental"
#define INCREMENTAL_DELETED_NAME ".alexandria-deleted"

typedef struct Incremental Incremental;

/* Plans the run of S that starts at NOW_USEC; DEST_FD is the destination,
 * locked. *RET is NULL when FullEvery= is unset: every run is full and no
 * index is kept (an old one is removed). */
int incremental_plan(const Schedule *s, int dest_fd, uint64_t now_usec, Incremental **ret, char **ret_error);

bool incremental_is_incremental(const Incremental *inc);        /* false for NULL */
/* Why the run is full ("the newest full archive … is 8d old"), or what an
 * incremental run builds on. */
const char *incremental_reason(const Incremental *inc);
const char *incremental_base(const Incremental *inc);           /* file name, or NULL when full */

/* The archive's name is known: opens the new index. */
int incremental_start(Incremental *inc, const char *archive_name, char **ret_error);

/* The text of INCREMENTAL_HEADER_NAME. */
int incremental_header_text(const Incremental *inc, char **ret, size_t *ret_len);

/* ---- the select stage ---- */

/* Sources are walked in order; ORDINAL counts them from 0. */
int incremental_begin_source(Incremental *inc, unsigned ordinal);
/* PATH (absolute, as walked, at fts level LEVEL) with ST: 1 if it is to be
 * stored, 0 if it is unchanged since the previous restore point (it is in
 * the new index already; do not store it). */
int incremental_check(Incremental *inc, const char *path, int level, const struct stat *st, char **ret_error);
/* After incremental_check() returned 1: the directories above PATH that
 * were not stored yet, outermost first, to be stored before it. */
bool incremental_next_ancestor(Incremental *inc, const char **ret_path, const struct stat **ret_st);
/* The entry incremental_check() last returned 1 for is in the archive, as
 * ST (the stat of what was read). An entry never reported here did not
 * make it into the archive (warned about), so it is absent from the
 * restore point. */
int incremental_stored(Incremental *inc, const struct stat *st, char **ret_error);
/* The walk is over: what is left of the old index was deleted. */
int incremental_end_walk(Incremental *inc, char **ret_error);

/* The deletions, for INCREMENTAL_DELETED_NAME: FD positioned at their
 * start (owned by INC), SIZE bytes. */
int incremental_deletions(Incremental *inc, int *ret_fd, uint64_t *ret_size);
/* The size of the restore point the run makes: its entries and the bytes
 * of its regular files, stored now or before. */
void incremental_point(const Incremental *inc, uint64_t *ret_files, uint64_t *ret_bytes);

/* ---- the write stage ---- */

struct ArchiveWriter;
/* An incremental archive's first entry, INCREMENTAL_HEADER_NAME; nothing for a full one. */
int incremental_write_header(Incremental *inc, struct ArchiveWriter *w, char **ret_error);
/* After the walk: INCREMENTAL_DELETED_NAME; nothing for a full archive. */
int incremental_write_deletions(Incremental *inc, struct ArchiveWriter *w, char **ret_error);

/* After the archive is linked (and verified): the new index replaces the
 * old one, atomically. */
int incremental_commit(Incremental *inc, char **ret_error);

Incremental *incremental_free(Incremental *inc);
DEFINE_TRIVIAL_CLEANUP_FUNC(Incremental *, incremental_free);

/* Lines of INCREMENTAL_DELETED_NAME are escaped with manifest_put_name(). */
