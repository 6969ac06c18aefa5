/* SPDX-License-Identifier: MIT */
#include <ctype.h>

#include "timespan.h"

static const struct {
        const char *unit;
        uint64_t usec;
} units[] = {
        { "seconds", USEC_PER_SEC }, { "second", USEC_PER_SEC }, { "sec", USEC_PER_SEC }, { "s", USEC_PER_SEC },
        { "minutes", USEC_PER_MINUTE }, { "minute", USEC_PER_MINUTE }, { "min", USEC_PER_MINUTE }, { "m", USEC_PER_MINUTE },
        { "hours", USEC_PER_HOUR }, { "hour", USEC_PER_HOUR }, { "hr", USEC_PER_HOUR }, { "h", USEC_PER_HOUR },
        { "days", USEC_PER_DAY }, { "day", USEC_PER_DAY }, { "d", USEC_PER_DAY },
        { "weeks", USEC_PER_WEEK }, { "week", USEC_PER_WEEK }, { "w", USEC_PER_WEEK },
        { "months", USEC_PER_MONTH }, { "month", USEC_PER_MONTH }, { "M", USEC_PER_MONTH },
        { "years", USEC_PER_YEAR }, { "year", USEC_PER_YEAR }, { "y", USEC_PER_YEAR },
        { "msec", UINT64_C(1000) }, { "ms", UINT64_C(1000) },
        { "usec", 1 }, { "us", 1 }, { "\xce\xbcs", 1 },         /* μs */
};

/* The unit at *P (letters up to the next digit, space or end); seconds if
 * there are none. */
static int parse_unit(const char **p, uint64_t *ret) {
        const char *s = *p;
        size_t n = 0;

        while (s[n] && !isdigit((unsigned char) s[n]) && !isspace((unsigned char) s[n]) && s[n] != '.')
                n++;
        if (n == 0) {
                *ret = USEC_PER_SEC;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (strlen(units[i].unit) == n && memcmp(units[i].unit, s, n) == 0) {
                        *ret = units[i].usec;
                        *p = s + n;
                        return 0;
                }
        return -EINVAL;
}

int timespan_parse(const char *s, uint64_t *ret_usec) {
        uint64_t total = 0;
        bool any = false;

        for (const char *p = s;;) {
                while (isspace((unsigned char) *p))
                        p++;
                if (!*p)
                        break;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;

                /* N[.FRACTION][ ]UNIT, in integers: no rounding surprises */
                uint64_t whole = 0, frac = 0, frac_div = 1, unit;
                for (; isdigit((unsigned char) *p); p++) {
                        if (whole > (UINT64_MAX - 9) / 10)
                                return -ERANGE;
                        whole = whole * 10 + (uint64_t) (*p - '0');
                }
                if (*p == '.') {
                        p++;
                        if (!isdigit((unsigned char) *p))
                                return -EINVAL;
                        for (; isdigit((unsigned char) *p); p++)
                                if (frac_div < UINT64_C(1000000000)) {
                                        frac = frac * 10 + (uint64_t) (*p - '0');
                                        frac_div *= 10;
                                }
                }
                while (*p == ' ')
                        p++;
                if (parse_unit(&p, &unit) < 0)
                        return -EINVAL;
                if (whole > UINT64_MAX / unit)
                        return -ERANGE;
                uint64_t part = whole * unit;
                /* unit < 2^45 and frac < 10^9 < 2^30: no overflow */
                part += (uint64_t) ((unsigned __int128) frac * unit / frac_div);
                if (total > UINT64_MAX - part)
                        return -ERANGE;
                total += part;
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret_usec = total;
        return 0;
}
