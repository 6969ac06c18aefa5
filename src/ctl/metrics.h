/* SPDX-License-Identifier: MIT */
#pragma once

/* Prometheus metrics through node_exporter's textfile collector: one file
 * per schedule, alexandria_NAME.prom, replaced atomically so the exporter
 * never reads half of one. */

#include "history.h"
#include "schedule.h"
#include "state.h"

/* The same, with one alexandria_copy_* series per CopyTo= target of S from
 * STATE (which may be NULL). */
/* A schedule that is gone has no metrics: its file goes too. */
int metrics_remove(const char *dir, const char *name);

int metrics_write_full(const char *dir, const Schedule *s, const LastRun *last, bool overdue, const ScheduleState *state);
