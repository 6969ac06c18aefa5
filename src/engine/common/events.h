/* SPDX-License-Identifier: MIT */
#pragma once

/* Structured journal events: one fixed MESSAGE_ID per kind of event (see
 * units/alexandria.catalog), SYSLOG_IDENTIFIER=alexandria, and the
 * ALEXANDRIA_* fields of DESIGN.md. `alexandria-ctl logs` reads these back. */

#include <stdint.h>
#include "macro.h"

typedef enum EventKind {
        EVENT_RUN_STARTED,
        EVENT_RUN_SUCCEEDED,
        EVENT_RUN_WARNINGS,
        EVENT_RUN_FAILED,
        EVENT_SCHEDULE_CREATED,
        EVENT_SCHEDULE_DELETED,
        EVENT_SCHEDULE_ENABLED,
        EVENT_SCHEDULE_DISABLED,
        EVENT_ARCHIVE_PRUNED,
        EVENT_FILE_WARNING,
        EVENT_UNEXPECTED_FILES,
        EVENT_COPY_SUCCEEDED,           /* one CopyTo= target holds what it should */
        EVENT_COPY_FAILED,
        EVENT_SERVE_ALLOWED,            /* a request through `alexandria-ctl serve` */
        EVENT_SERVE_REFUSED,
        EVENT_RUN_SHRANK,
        _EVENT_MAX,
        _EVENT_INVALID = -EINVAL,
} EventKind;

#define EVENT_FIELD_UNSET UINT64_MAX

typedef struct EventFields {
        const char *schedule;
        const char *archive;            /* full path */
        const char *path;               /* the file a warning is about */
        const char *source;             /* the schedule's sources, space separated */
        const char *copy_target;        /* a CopyTo= target, secrets redacted */
        const char *remote;             /* serve: the client's address and port */
        const char *request;            /* serve: the command it asked for */
        const char *kind;               /* of the archive: "full" or "incremental" */
        uint64_t files, bytes, archive_bytes, duration_usec, warnings;
        uint64_t unexpected;            /* files no Expect= covers */
        int error;                      /* negative errno, or 0 */
} EventFields;

#define EVENT_FIELDS_INIT(s)                                              \
        (EventFields) {                                                   \
                .schedule = (s), .files = EVENT_FIELD_UNSET,              \
                .bytes = EVENT_FIELD_UNSET, .archive_bytes = EVENT_FIELD_UNSET, \
                .duration_usec = EVENT_FIELD_UNSET, .warnings = EVENT_FIELD_UNSET, \
                .unexpected = EVENT_FIELD_UNSET,                          \
        }

EventKind event_kind_from_message_id(const char *id);   /* _EVENT_INVALID if not ours */

/* Sends the event to the journal. Returns 0 or a negative errno (no journal). */
int event_emit(EventKind kind, const EventFields *f, const char *format, ...) _printf_(3, 4);
