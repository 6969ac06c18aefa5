/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "retention-policy.h"

static const char *const rule_names[_RETENTION_RULE_MAX] = {
        [RETENTION_LAST]    = "last",
        [RETENTION_DAILY]   = "daily",
        [RETENTION_WEEKLY]  = "weekly",
        [RETENTION_MONTHLY] = "monthly",
        [RETENTION_YEARLY]  = "yearly",
};

bool retention_rules_any(const RetentionRules *rules) {
        for (size_t i = 0; i < _RETENTION_RULE_MAX; i++)
                if (rules->count[i] > 0)
                        return true;
        return false;
}

/* The calendar bucket of T under RULE, as a number that differs between
 * buckets: the point's own index for "last" (every point is its own). */
static int64_t bucket(RetentionRule rule, uint64_t time_usec, size_t index) {
        time_t t = (time_t) (time_usec / USEC_PER_SEC);
        struct tm tm;
        char iso[16];

        if (rule == RETENTION_LAST || !localtime_r(&t, &tm))
                return (int64_t) index;
        int64_t year = tm.tm_year + 1900;
        switch (rule) {
        case RETENTION_DAILY:
                return year * 1000 + tm.tm_yday;
        case RETENTION_WEEKLY:
                /* ISO 8601: the week's year is not always the day's */
                if (strftime(iso, sizeof iso, "%G%V", &tm) == 0)
                        return (int64_t) index;
                return strtoll(iso, NULL, 10);
        case RETENTION_MONTHLY:
                return year * 100 + tm.tm_mon;
        default:
                return year;
        }
}

void retention_policy_decide(const RetentionPoint *points, size_t n, const RetentionRules *rules,
                             RetentionDecision *ret) {
        for (size_t i = 0; i < n; i++)
                ret[i] = (RetentionDecision) { .needed_by = -1 };

        if (!retention_rules_any(rules)) {
                for (size_t i = 0; i < n; i++)
                        ret[i].keep = ret[i].no_rules = true;
                return;
        }

        /* Newest first, each rule keeps the first point of every bucket it
         * has not seen, until it has kept its count. */
        for (RetentionRule rule = 0; rule < _RETENTION_RULE_MAX; rule++) {
                unsigned kept = 0;
                bool have_last = false;
                int64_t last = 0;

                for (size_t k = n; k > 0 && kept < rules->count[rule]; k--) {
                        size_t i = k - 1;
                        int64_t b = bucket(rule, points[i].time_usec, i);
                        if (have_last && b == last)
                                continue;
                        have_last = true;
                        last = b;
                        ret[i].rank[rule] = ++kept;
                        ret[i].keep = true;
                }
        }

        /* What the kept points stand on: an incremental archive needs the
         * one before it, down to a full one. */
        for (size_t k = n; k > 0; k--) {
                size_t i = k - 1;
                if (!ret[i].keep)
                        continue;
                for (size_t j = i; j > 0 && points[j].incremental; j--) {
                        RetentionDecision *d = &ret[j - 1];
                        if (d->needed_by >= 0)
                                break;          /* and so is everything below it */
                        d->needed_by = (ssize_t) i;
                        d->keep = true;
                }
        }
}

int retention_decision_format(const RetentionDecision *d, const char *needed_by_name, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        if (!d->keep)
                fputs("delete", f);
        else if (d->no_rules)
                fputs("keep (no retention rule is set)", f);
        else {
                const char *sep = "";
                fputs("keep (", f);
                for (RetentionRule r = 0; r < _RETENTION_RULE_MAX; r++)
                        if (d->rank[r] > 0) {
                                fprintf(f, "%s%s %u", sep, rule_names[r], d->rank[r]);
                                sep = ", ";
                        }
                if (d->needed_by >= 0)
                        fprintf(f, "%sneeded by %s", sep, strempty(needed_by_name));
                fputc(')', f);
        }
        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;
        fclose(TAKE_PTR(f));
        *ret = TAKE_PTR(buf);
        return 0;
}
