/* SPDX-License-Identifier: MIT */
#pragma once

/* Telling somebody: the [Notify] channels of a schedule.
 *   PingURL=        healthchecks-style dead man's switch: URL/start when a
 *                   run starts, URL on success, URL/fail on failure or when
 *                   overdue — so a run that never starts is noticed outside.
 *   NotifyCommand=  run through /bin/sh with ALEXANDRIA_SCHEDULE, _EVENT,
 *                   _MESSAGE, _ARCHIVE, _UNIT in its environment.
 *   Mail=           a mail through sendmail(8).
 * Command and mail are for failed, warnings (unless NotifyOnWarnings=no),
 * overdue, recovered and unexpected; pings for every event but unexpected
 * (a dead man's switch is about runs). A channel that fails is an
 * error the caller must make visible (it is the "MAILTO to a dead address"
 * case): notify_send() returns it with a message naming each channel. */

#include "schedule.h"

typedef enum NotifyEvent {
        NOTIFY_STARTED,
        NOTIFY_SUCCEEDED,
        NOTIFY_WARNINGS,
        NOTIFY_FAILED,
        NOTIFY_OVERDUE,
        NOTIFY_RECOVERED,
        NOTIFY_UNEXPECTED,              /* the set of files no Expect= covers changed */
        _NOTIFY_EVENT_MAX,
        _NOTIFY_EVENT_INVALID = -EINVAL,
} NotifyEvent;

const char *notify_event_to_string(NotifyEvent e);
NotifyEvent notify_event_from_string(const char *s);

typedef struct NotifyMessage {
        const char *message;    /* one line, for humans */
        const char *archive;    /* may be NULL */
        const char *unit;       /* may be NULL */
        const char *details;    /* more lines for the mail, may be NULL */
        const char *unexpected_file;    /* NOTIFY_UNEXPECTED: the full list */
} NotifyMessage;

/* Returns 0 when every configured channel took the event, else -EIO and
 * *ret_error lists what failed ("mail to x: sendmail exited 75; ping …"). */
int notify_send(const Schedule *s, NotifyEvent e, const NotifyMessage *m, char **ret_error);
