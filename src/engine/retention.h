/* SPDX-License-Identifier: MIT */
#pragma once

#include "archive-list.h"
#include "schedule.h"

/* Keep=N: deletes the oldest archives of the schedule beyond the newest N,
 * never KEEP_PATH (the archive just written). Each deletion is a journal
 * event. Returns 0, or -EIO after warning when an archive could not be
 * removed. Keep=0 deletes nothing. */
int retention_apply(const Schedule *s, const char *keep_path, unsigned *ret_pruned);

/* Which of LIST (N archives of schedule S, oldest first) S's retention
 * keeps: ret_keep[i]. The copy targets keep the same by default (copy.h),
 * so a policy added here applies to them too. */
void retention_plan(const Schedule *s, const ArchiveInfo *list, size_t n, bool *ret_keep);
