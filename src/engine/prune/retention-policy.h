/* SPDX-License-Identifier: MIT */
#pragma once

/* Which restore points to keep, as a pure function of their times, their
 * kinds and the rules: no files, no clock (only the local time zone, for
 * calendar buckets).
 *
 * The rules are OR-ed, like `restic forget`: Keep=N keeps the newest N
 * points; KeepDaily=N the newest point of each of the newest N days that
 * have one, and so on for ISO weeks, months and years, in local time. A
 * kept point keeps what its chain needs: an incremental archive needs the
 * archive before it, back to the full one (chains are contiguous in time:
 * each run builds on the newest archive). With no rule at all, everything
 * is kept. */

#include <stdint.h>
#include <sys/types.h>
#include "macro.h"

typedef enum RetentionRule {
        RETENTION_LAST,
        RETENTION_DAILY,
        RETENTION_WEEKLY,
        RETENTION_MONTHLY,
        RETENTION_YEARLY,
        _RETENTION_RULE_MAX,
} RetentionRule;

typedef struct RetentionRules {
        unsigned count[_RETENTION_RULE_MAX];    /* 0: rule unused */
} RetentionRules;

typedef struct RetentionPoint {
        uint64_t time_usec;
        bool incremental;
} RetentionPoint;

typedef struct RetentionDecision {
        bool keep;
        unsigned rank[_RETENTION_RULE_MAX];     /* 1-based: "daily 3" is the third daily bucket; 0: not kept by it */
        ssize_t needed_by;                      /* index of the newest kept point whose chain needs it, or -1 */
        bool no_rules;                          /* kept because no rule is set */
} RetentionDecision;

bool retention_rules_any(const RetentionRules *rules);

/* POINTS sorted oldest first; fills RET[0..N-1]. */
void retention_policy_decide(const RetentionPoint *points, size_t n, const RetentionRules *rules,
                             RetentionDecision *ret);

/* "keep (last 2, daily 1)", "keep (needed by NAME)", "keep (no Keep= rule)",
 * "delete"; NEEDED_BY_NAME names decision->needed_by. */
int retention_decision_format(const RetentionDecision *d, const char *needed_by_name, char **ret);

