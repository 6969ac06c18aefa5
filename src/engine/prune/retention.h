/* SPDX-License-Identifier: MIT */
#pragma once

/* Retention of one schedule's archives: the rules of retention-policy.h
 * (Keep= KeepDaily= KeepWeekly= KeepMonthly= KeepYearly=) applied to what
 * is in the destination. Every archive is a restore point; a kept point
 * keeps every archive its chain needs. */

#include "archive-list.h"
#include "retention-policy.h"
#include "schedule.h"

typedef struct RetentionPlan {
        ArchiveInfo *archives;          /* oldest first */
        size_t n;
        RetentionDecision *decisions;   /* one per archive */
} RetentionPlan;

/* Decides for every archive of S; KEEP_PATH (the archive just written, or
 * NULL) is always kept. */
int retention_plan(const Schedule *s, const char *keep_path, RetentionPlan *ret);
void retention_plan_done(RetentionPlan *p);
/* "keep (daily 3)", "keep (needed by NAME-….incr.tar.gz)", "delete". */
int retention_plan_reason(const RetentionPlan *p, size_t i, char **ret);

/* Deletes what PLAN marks for deletion, newest first (an interruption
 * leaves every remaining chain whole); each deletion is a journal event.
 * Returns 0, or a negative errno with *RET_ERROR saying what failed (the
 * destination could not be opened, or the first archive that could not be
 * removed; the others are still tried). */
int retention_execute(const Schedule *s, const RetentionPlan *plan, unsigned *ret_pruned, char **ret_error);

/* Plan and execute: what a run does after its archive is safely in place.
 * On failure every archive that was not removed is kept; *RET_ERROR says why. */
int retention_apply(const Schedule *s, const char *keep_path, unsigned *ret_pruned, char **ret_error);

/* S's rules (Keep= KeepDaily= …) as retention-policy.h takes them. The copy
 * targets keep the same by default (copy.h), whole chains included, so a
 * policy added here applies to them too. */
RetentionRules retention_schedule_rules(const Schedule *s);
