/* SPDX-License-Identifier: MIT */
#pragma once

/* Unit names of DESIGN.md. NAME is a valid schedule name, which is also a
 * valid unit-name component without any escaping. */

#include <stdio.h>

#define UNIT_NAME_MAX 128

static inline const char *unit_name_timer(char buf[static UNIT_NAME_MAX], const char *name) {
        snprintf(buf, UNIT_NAME_MAX, "alexandria-%s.timer", name);
        return buf;
}

static inline const char *unit_name_service(char buf[static UNIT_NAME_MAX], const char *name) {
        snprintf(buf, UNIT_NAME_MAX, "alexandria@%s.service", name);
        return buf;
}
