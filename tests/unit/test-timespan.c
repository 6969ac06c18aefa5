/* SPDX-License-Identifier: MIT */
/* systemd time spans, and the schedule keys of incremental runs and
 * calendar retention (FullEvery= KeepDaily= KeepWeekly= KeepMonthly=
 * KeepYearly=). */
#include "schedule.h"
#include "test.h"
#include "timespan.h"

#define DEST "/var/backups/alexandria"
#define HEAD "[Schedule]\nOnCalendar=daily\n[Backup]\nSource=/srv\n"

static uint64_t span(const char *s) {
        uint64_t u = UINT64_MAX;
        if (timespan_parse(s, &u) < 0) {
                fprintf(stderr, "'%s' refused\n", s);
                abort();
        }
        return u;
}

static void test_spans(void) {
        ASSERT(span("7d") == 7 * USEC_PER_DAY);
        ASSERT(span("1w") == 7 * USEC_PER_DAY);
        ASSERT(span("2weeks") == 14 * USEC_PER_DAY);
        ASSERT(span("2 weeks") == 14 * USEC_PER_DAY);
        ASSERT(span("1d 12h") == 36 * USEC_PER_HOUR);
        ASSERT(span("1d12h") == 36 * USEC_PER_HOUR);
        ASSERT(span("1.5h") == 90 * USEC_PER_MINUTE);
        ASSERT(span("90") == 90 * USEC_PER_SEC);
        ASSERT(span("5min 30s") == 330 * USEC_PER_SEC);
        ASSERT(span("1M") == 2629800 * USEC_PER_SEC);
        ASSERT(span("1month") == 2629800 * USEC_PER_SEC);
        ASSERT(span("1m") == USEC_PER_MINUTE);
        ASSERT(span("1y") == 31557600 * USEC_PER_SEC);
        ASSERT(span("250ms") == 250000);
        ASSERT(span("0") == 0);
        ASSERT(span(" 3h ") == 3 * USEC_PER_HOUR);

        uint64_t u;
        ASSERT(timespan_parse("", &u) == -EINVAL);
        ASSERT(timespan_parse("d", &u) == -EINVAL);
        ASSERT(timespan_parse("7 fortnights", &u) == -EINVAL);
        ASSERT(timespan_parse("-1d", &u) == -EINVAL);
        ASSERT(timespan_parse("1.d", &u) == -EINVAL);
        ASSERT(timespan_parse("7d;", &u) == -EINVAL);
        ASSERT(timespan_parse("99999999999999999999y", &u) == -ERANGE);
        ASSERT(timespan_parse("600000y", &u) == -ERANGE);
}

static void test_keys(void) {
        Schedule *s = NULL, *again = NULL;
        char *error = NULL, *text = NULL, *line = NULL;

        ASSERT(schedule_parse_string(HEAD "FullEvery=1w 2d\nKeepDaily=7\nKeepWeekly=5\nKeepMonthly=12\nKeepYearly=3\nKeep=2\n",
                                     "t", "t.conf", DEST, &s, &error) == 0);
        ASSERT_STREQ(s->full_every, "1w 2d");
        ASSERT(s->full_every_usec == 9 * USEC_PER_DAY);
        ASSERT(s->keep_daily == 7 && s->keep_weekly == 5 && s->keep_monthly == 12 && s->keep_yearly == 3 && s->keep == 2);
        ASSERT(schedule_keeps_calendar(s));

        /* written and read back the same; the one-line form shows them */
        ASSERT(schedule_to_string(s, &text) == 0);
        ASSERT(schedule_parse_string(text, "t", "t.conf", DEST, &again, &error) == 0);
        ASSERT_STREQ(again->full_every, "1w 2d");
        ASSERT(again->keep_daily == 7 && again->keep_weekly == 5 && again->keep_monthly == 12 && again->keep_yearly == 3);
        ASSERT(schedule_format_line(s, DEST, &line) == 0);
        ASSERT_CONTAINS(line, " FullEvery=1w 2d KeepDaily=7 KeepWeekly=5 KeepMonthly=12 KeepYearly=3");
        free(line);
        free(text);
        schedule_free(again);
        schedule_free(s);

        /* unset and 0: every run is full, no calendar retention */
        ASSERT(schedule_parse_string(HEAD "FullEvery=0\n", "t", "t.conf", DEST, &s, &error) == 0);
        ASSERT(!s->full_every && s->full_every_usec == 0 && !schedule_keeps_calendar(s));
        schedule_free(s);

        static const struct { const char *text, *error; } bad[] = {
                { HEAD "FullEvery=week\n", "t.conf:5: FullEvery=week is not a time span" },
                { HEAD "FullEvery=7d\nFullEvery=8d\n", "t.conf:6: FullEvery= is set twice (first on line 5)" },
                { HEAD "KeepDaily=-1\n", "t.conf:5: KeepDaily=-1 is not a count of restore points" },
                { HEAD "KeepWeekly=x\n", "t.conf:5: KeepWeekly=x is not a count" },
                { HEAD "KeepMonthly=100001\n", "KeepMonthly=100001" },
                { HEAD "KeepYearly=1.5\n", "KeepYearly=1.5 is not a count" },
                { "[Schedule]\nOnCalendar=daily\nKeepDaily=3\n", "KeepDaily= belongs in section [Backup]" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                s = NULL;
                error = NULL;
                ASSERT(schedule_parse_string(bad[i].text, "t", "t.conf", DEST, &s, &error) < 0);
                ASSERT_CONTAINS(error, bad[i].error);
                free(error);
        }
}

int main(void) {
        test_spans();
        test_keys();
        return 0;
}
