/* SPDX-License-Identifier: MIT */
#pragma once

/* What has been told about a schedule, so that the hourly watchdog notifies
 * once when a schedule turns bad and once when it recovers, and so that a
 * notification channel that failed stays visible in status and doctor.
 * One small key=value file per schedule in the state directory. */

#include <stdint.h>
#include "macro.h"

/* How copying to one CopyTo= target went (written by the copy stage). */
typedef struct CopyState {
        char *target;                   /* the CopyTo= value (may hold rclone parameters: the file is 0600) */
        uint64_t last_good_usec;        /* the last copy that left the target complete; 0: never */
        uint64_t failed_usec;           /* when the last attempt failed; 0: it succeeded */
        char *error;                    /* why it failed */
} CopyState;

typedef struct ScheduleState {
        char *reported;                 /* "ok", "failed" or "overdue" */
        char *notify_error;             /* the last failed notification, or NULL */
        uint64_t notify_error_usec;
        char *unexpected_notified;      /* SHA-256 of the unexpected-files list last told */
        CopyState *copies;
        size_t n_copies;
} ScheduleState;

/* Serializes the read-notify-write of NAME's state between the service's
 * notify and the watchdog: flock on NAME.lock in DIR, released with the
 * descriptor (or by the kernel when the process dies). */
int state_lock(const char *dir, const char *name, int *ret_fd);

/* A missing file is the state "ok" with no error. */
int state_load(const char *dir, const char *name, ScheduleState *ret);
int state_save(const char *dir, const char *name, const ScheduleState *s);
int state_forget(const char *dir, const char *name);
void state_done(ScheduleState *s);
bool state_reported_ok(const ScheduleState *s);

/* The entry of TARGET, added if missing; NULL on OOM. */
CopyState *state_copy(ScheduleState *s, const char *target);
const CopyState *state_copy_find(const ScheduleState *s, const char *target);
