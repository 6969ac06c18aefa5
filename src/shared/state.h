/* SPDX-License-Identifier: MIT */
#pragma once

/* What has been told about a schedule, so that the hourly watchdog notifies
 * once when a schedule turns bad and once when it recovers, and so that a
 * notification channel that failed stays visible in status and doctor.
 * One small key=value file per schedule in the state directory. */

#include <stdint.h>
#include "macro.h"

typedef struct ScheduleState {
        char *reported;                 /* "ok", "failed" or "overdue" */
        char *notify_error;             /* the last failed notification, or NULL */
        uint64_t notify_error_usec;
        char *unexpected_notified;      /* SHA-256 of the unexpected-files list last told */
} ScheduleState;

/* Serializes the read-notify-write of NAME's state between the service's
 * notify and the watchdog: flock on NAME.lock in DIR, released with the
 * descriptor (or by the kernel when the process dies). */
int state_lock(const char *dir, const char *name, int *ret_fd);

/* A missing file is the state "ok" with no error. */
int state_load(const char *dir, const char *name, ScheduleState *ret);
int state_save(const char *dir, const char *name, const ScheduleState *s);
void state_done(ScheduleState *s);
bool state_reported_ok(const ScheduleState *s);
