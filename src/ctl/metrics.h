/* SPDX-License-Identifier: MIT */
#pragma once

/* Prometheus metrics through node_exporter's textfile collector: one file
 * per schedule, alexandria_NAME.prom, replaced atomically so the exporter
 * never reads half of one. */

#include "history.h"
#include "schedule.h"
#include "state.h"

/* The schedule's series from its LAST run, with one alexandria_copy_*
 * series per CopyTo= target of S from STATE (which may be NULL). */
int metrics_write_full(const char *dir, const Schedule *s, const LastRun *last, bool overdue, const ScheduleState *state);

/* A schedule that is gone has no metrics: its file goes too. */
int metrics_remove(const char *dir, const char *name);

/* Removes the files of schedules whose NAME.conf is no longer in
 * SCHEDULES_DIR (removed by hand, not by delete): only alexandria_NAME.prom
 * with a valid NAME and owned by the caller, as a directory shared by
 * several managers keeps the others' files. Checked per file at the time of
 * removal, so a schedule created meanwhile keeps its file. Sets
 * *RET_REMOVED to how many went. */
int metrics_prune(const char *dir, const char *schedules_dir, unsigned *ret_removed);
