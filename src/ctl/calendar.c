/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "calendar.h"
#include "macro.h"
#include "spawn-util.h"

static int parse_elapse(const char *out, const char *label, uint64_t *ret) {
        const char *p = strstr(out, label);
        struct tm tm = {};
        if (!p)
                return -ENOENT;
        p += strlen(label);
        while (*p == ' ')
                p++;
        const char *end = strptime(p, "%a %Y-%m-%d %H:%M:%S", &tm);
        if (!end)
                return -EINVAL;
        time_t t = timegm(&tm);
        if (t == (time_t) -1)
                return -EINVAL;
        *ret = (uint64_t) t * USEC_PER_SEC;
        return 0;
}

int calendar_check(const char *expr, uint64_t *ret_period_usec, char **ret_error) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        char *argv[] = { "env", "TZ=UTC", "systemd-analyze", "calendar", "--iterations=15", "--", (char *) expr, NULL };
        int status, r;

        r = spawn_capture(argv, &out, &err, &status);
        if (r < 0)
                return r;
        if (status == 127)
                return -ENOPKG;         /* env could not find systemd-analyze */
        if (status != 0) {
                /* "Failed to parse calendar specification 'x': Invalid argument" */
                size_t n = strcspn(err, "\n");
                *ret_error = strndup(err, n);
                return *ret_error ? -EINVAL : -ENOMEM;
        }
        if (ret_period_usec) {
                /* The longest gap between the next elapses: for "Mon..Sat" that is
                 * the weekend, not a day, so Sunday is not "overdue". */
                uint64_t prev, next, longest = 0;
                char label[32];
                if (parse_elapse(out, "Next elapse:", &prev) >= 0)
                        for (int i = 2; i <= 15; i++) {
                                snprintf(label, sizeof label, "Iter. #%d:", i);
                                if (parse_elapse(out, label, &next) < 0 || next <= prev)
                                        break;
                                longest = MAX(longest, next - prev);
                                prev = next;
                        }
                *ret_period_usec = longest;    /* 0: elapses once, or never again */
        }
        return 0;
}
