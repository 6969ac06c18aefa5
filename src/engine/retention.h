/* SPDX-License-Identifier: MIT */
#pragma once

#include "schedule.h"

/* Keep=N: deletes the oldest archives of the schedule beyond the newest N,
 * never KEEP_PATH (the archive just written). Each deletion is a journal
 * event. Returns 0, or -EIO after warning when an archive could not be
 * removed. Keep=0 deletes nothing. */
int retention_apply(const Schedule *s, const char *keep_path, unsigned *ret_pruned);
