/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* Calendar expressions are checked by systemd's own parser (through
 * systemd-analyze calendar), so what create accepts is exactly what the
 * timer will accept. On -EINVAL, *ret_error holds systemd's message. */
int calendar_check(const char *expr, uint64_t *ret_period_usec, char **ret_error);
