/* SPDX-License-Identifier: MIT */
/* The retention policy with restore points spread over months: faked
 * timestamps, a fixed local time zone with daylight saving time. */
#include <time.h>

#include "retention-policy.h"
#include "test.h"

#define MAXP 512

static RetentionPoint points[MAXP];
static char names[MAXP][32];
static size_t n;

/* A restore point at local time Y-M-D h:m. */
static void point(int y, int mon, int d, int h, int min, bool incremental) {
        struct tm tm = { .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d, .tm_hour = h, .tm_min = min, .tm_isdst = -1 };
        time_t t = mktime(&tm);
        ASSERT(t != (time_t) -1 && n < MAXP);
        points[n] = (RetentionPoint) { .time_usec = (uint64_t) t * USEC_PER_SEC, .incremental = incremental };
        snprintf(names[n], sizeof names[n], "%04d-%02d-%02d%s", y, mon, d, incremental ? "i" : "f");
        n++;
}

static size_t find(const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(names[i], name) == 0)
                        return i;
        fprintf(stderr, "no point %s\n", name);
        abort();
}

static void expect(const RetentionDecision *d, const char *name, const char *reason) {
        size_t i = find(name);
        char *s = NULL;
        ASSERT(retention_decision_format(&d[i], d[i].needed_by >= 0 ? names[d[i].needed_by] : NULL, &s) == 0);
        if (strcmp(s, reason) != 0) {
                fprintf(stderr, "%s: \"%s\", expected \"%s\"\n", name, s, reason);
                abort();
        }
        free(s);
}

static size_t kept(const RetentionDecision *d) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                k += d[i].keep;
        return k;
}

/* 101 nightly runs, a full every Monday (2024-01-01 is one) and incrementals
 * between: each ISO week is one chain. DST begins on 2024-03-31 at 02:00,
 * so that night's run at 02:00 happens at 03:00. */
static void test_months_of_chains(void) {
        RetentionDecision d[MAXP];
        n = 0;
        for (int day = 0; day < 101; day++) {
                struct tm tm = { .tm_year = 124, .tm_mon = 0, .tm_mday = 1 + day, .tm_hour = 12, .tm_isdst = -1 };
                ASSERT(mktime(&tm) != (time_t) -1);
                point(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, 2, 0, tm.tm_wday != 1);
        }
        ASSERT(strcmp(names[n - 1], "2024-04-10i") == 0);

        RetentionRules rules = { .count = { [RETENTION_DAILY] = 3, [RETENTION_WEEKLY] = 2, [RETENTION_MONTHLY] = 3 } };
        retention_policy_decide(points, n, &rules, d);

        expect(d, "2024-04-10i", "keep (daily 1, weekly 1, monthly 1)");
        expect(d, "2024-04-09i", "keep (daily 2, needed by 2024-04-10i)");
        expect(d, "2024-04-08f", "keep (daily 3, needed by 2024-04-10i)");
        expect(d, "2024-04-07i", "keep (weekly 2)");            /* Sunday: newest of ISO week 14 */
        for (int day = 1; day <= 6; day++) {
                char name[32];
                snprintf(name, sizeof name, "2024-04-%02d%c", day, day == 1 ? 'f' : 'i');
                expect(d, name, "keep (needed by 2024-04-07i)");
        }
        expect(d, "2024-03-31i", "keep (monthly 2)");           /* the DST night */
        expect(d, "2024-03-25f", "keep (needed by 2024-03-31i)");
        expect(d, "2024-03-24i", "delete");
        expect(d, "2024-02-29i", "keep (monthly 3)");           /* leap day, a Thursday */
        expect(d, "2024-02-28i", "keep (needed by 2024-02-29i)");
        expect(d, "2024-02-26f", "keep (needed by 2024-02-29i)");
        expect(d, "2024-02-25i", "delete");
        expect(d, "2024-03-01i", "delete");
        expect(d, "2024-01-01f", "delete");
        ASSERT(kept(d) == 3 + 7 + 7 + 4);

        /* Nothing a kept point stands on is deleted. */
        for (size_t i = 0; i < n; i++)
                if (d[i].keep && points[i].incremental)
                        ASSERT(i > 0 && d[i - 1].keep);

        /* Keep= (the newest N) is OR-ed with the calendar rules. */
        rules = (RetentionRules) { .count = { [RETENTION_LAST] = 2, [RETENTION_YEARLY] = 1 } };
        retention_policy_decide(points, n, &rules, d);
        expect(d, "2024-04-10i", "keep (last 1, yearly 1)");
        expect(d, "2024-04-09i", "keep (last 2, needed by 2024-04-10i)");
        expect(d, "2024-04-08f", "keep (needed by 2024-04-10i)");
        expect(d, "2024-04-07i", "delete");
        ASSERT(kept(d) == 3);

        /* More buckets asked for than there are: every bucket's newest. */
        rules = (RetentionRules) { .count = { [RETENTION_MONTHLY] = 100 } };
        retention_policy_decide(points, n, &rules, d);
        expect(d, "2024-01-31i", "keep (monthly 4)");
        expect(d, "2024-01-29f", "keep (needed by 2024-01-31i)");
        expect(d, "2024-01-28i", "delete");
}

/* Buckets are local: 00:30 on Feb 1 in Berlin is still January in UTC. ISO
 * weeks: Monday 2024-12-30 is in week 1 of 2025, but in the year 2024. */
static void test_local_buckets(void) {
        RetentionDecision d[MAXP];
        n = 0;
        point(2024, 1, 15, 12, 0, false);
        point(2024, 2, 1, 0, 30, false);
        RetentionRules rules = { .count = { [RETENTION_MONTHLY] = 2 } };
        retention_policy_decide(points, n, &rules, d);
        expect(d, "2024-01-15f", "keep (monthly 2)");
        expect(d, "2024-02-01f", "keep (monthly 1)");

        n = 0;
        point(2024, 12, 28, 23, 0, false);      /* Saturday, week 52 of 2024 */
        point(2024, 12, 29, 23, 0, false);      /* Sunday, week 52 of 2024 */
        point(2024, 12, 30, 1, 0, false);       /* Monday, week 1 of 2025 */
        point(2025, 1, 1, 1, 0, false);         /* Wednesday, week 1 of 2025 */
        rules = (RetentionRules) { .count = { [RETENTION_WEEKLY] = 2, [RETENTION_YEARLY] = 2 } };
        retention_policy_decide(points, n, &rules, d);
        expect(d, "2025-01-01f", "keep (weekly 1, yearly 1)");
        expect(d, "2024-12-30f", "keep (yearly 2)");
        expect(d, "2024-12-29f", "keep (weekly 2)");
        expect(d, "2024-12-28f", "delete");

        /* Two runs in one day: the day's newest counts. */
        n = 0;
        point(2024, 5, 1, 1, 0, false);
        point(2024, 5, 1, 23, 59, true);
        point(2024, 5, 2, 0, 1, true);
        rules = (RetentionRules) { .count = { [RETENTION_DAILY] = 2 } };
        retention_policy_decide(points, n, &rules, d);
        expect(d, "2024-05-02i", "keep (daily 1)");
}

static void test_edges(void) {
        RetentionDecision d[MAXP];
        RetentionRules none = {};

        /* no rule: everything stays */
        n = 0;
        point(2024, 1, 1, 0, 0, false);
        point(2024, 1, 2, 0, 0, true);
        retention_policy_decide(points, n, &none, d);
        expect(d, "2024-01-01f", "keep (no retention rule is set)");
        ASSERT(kept(d) == 2);
        ASSERT(!retention_rules_any(&none));

        /* an incremental whose full is gone (deleted by hand) keeps what is left of its chain */
        n = 0;
        point(2024, 1, 2, 0, 0, true);
        point(2024, 1, 3, 0, 0, true);
        point(2024, 1, 4, 0, 0, false);
        RetentionRules rules = { .count = { [RETENTION_DAILY] = 2 } };
        retention_policy_decide(points, n, &rules, d);
        expect(d, "2024-01-04f", "keep (daily 1)");
        expect(d, "2024-01-03i", "keep (daily 2)");
        expect(d, "2024-01-02i", "keep (needed by 2024-01-03i)");

        /* no points */
        n = 0;
        retention_policy_decide(points, 0, &rules, d);
}

int main(void) {
        /* Berlin without tzdata: CET, CEST from the last Sunday in March 02:00 to the last in October 03:00 */
        setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
        tzset();
        test_months_of_chains();
        test_local_buckets();
        test_edges();
        return 0;
}
