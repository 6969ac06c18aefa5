/* SPDX-License-Identifier: MIT */
#pragma once

/* systemd time spans (systemd.time(7)): "7d", "1w 2d", "12h30min", "1.5h",
 * "2 weeks"; a bare number is seconds. Months are 30.44 days and years
 * 365.25 days, as systemd counts them. */

#include <stdint.h>
#include "macro.h"

#define USEC_PER_MINUTE (UINT64_C(60) * USEC_PER_SEC)
#define USEC_PER_HOUR   (UINT64_C(60) * USEC_PER_MINUTE)
#define USEC_PER_DAY    (UINT64_C(24) * USEC_PER_HOUR)
#define USEC_PER_WEEK   (UINT64_C(7) * USEC_PER_DAY)
#define USEC_PER_MONTH  (UINT64_C(2629800) * USEC_PER_SEC)
#define USEC_PER_YEAR   (UINT64_C(31557600) * USEC_PER_SEC)

/* 0, or -EINVAL (not a time span: bad number or unknown unit) or -ERANGE. */
int timespan_parse(const char *s, uint64_t *ret_usec);
