/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdarg.h>
#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include "events.h"

static const struct {
        const char *name, *id;
        int priority;
} event_table[_EVENT_MAX] = {
        [EVENT_RUN_STARTED]       = { "started",   "3948834316054c3caf55bb7ed1e2509a", LOG_INFO },
        [EVENT_RUN_SUCCEEDED]     = { "succeeded", "2b4c85653858491da1b778481630ffb8", LOG_NOTICE },
        [EVENT_RUN_WARNINGS]      = { "warnings",  "171de01e976d4d85a3d29b76aebf8b0d", LOG_WARNING },
        [EVENT_RUN_FAILED]        = { "failed",    "5d3f9993a1de4bf98a49cf18c047c406", LOG_ERR },
        [EVENT_SCHEDULE_CREATED]  = { "created",   "0be85ea8359a48c18ab289c1bf5d9275", LOG_NOTICE },
        [EVENT_SCHEDULE_DELETED]  = { "deleted",   "0a09a54c968844a896c4d0d68f4960d0", LOG_NOTICE },
        [EVENT_SCHEDULE_ENABLED]  = { "enabled",   "f426dd933fa64f249ee85ebe097852a8", LOG_NOTICE },
        [EVENT_SCHEDULE_DISABLED] = { "disabled",  "1fa2a8de825e43debeb3618caa52b2f4", LOG_NOTICE },
        [EVENT_ARCHIVE_PRUNED]    = { "pruned",    "dac487704da04ff1b49507c64b97e717", LOG_INFO },
        [EVENT_FILE_WARNING]      = { "file-warning", "119f15b8b71b445387f1a1acb13d54af", LOG_WARNING },
        [EVENT_UNEXPECTED_FILES]  = { "unexpected", "dae9e8efea584dbc8e335d4a1859059d", LOG_WARNING },
        [EVENT_COPY_SUCCEEDED]    = { "copied",    "c8932550e2eb456a8d0a01a155e9ea18", LOG_INFO },
        [EVENT_COPY_FAILED]       = { "copy-failed", "bcaa79212e6e401c8432799ed73f20ae", LOG_ERR },
        [EVENT_SERVE_ALLOWED]     = { "served",    "4bfb5127b68647d98084258dcaaca768", LOG_NOTICE },
        [EVENT_SERVE_REFUSED]     = { "serve-refused", "59fcc443655246bf95370883c02e02f4", LOG_WARNING },
        [EVENT_RUN_SHRANK]        = { "shrank",    "2f7bf1fc6b464426ab888f0a5dc5bd41", LOG_WARNING },
};

EventKind event_kind_from_message_id(const char *id) {
        for (EventKind k = 0; k < _EVENT_MAX; k++)
                if (streq(id, event_table[k].id))
                        return k;
        return _EVENT_INVALID;
}

int event_emit(EventKind kind, const EventFields *f, const char *format, ...) {
        char *fields[28] = {};
        struct iovec iov[28];
        size_t n = 0;
        va_list ap;
        int r = -ENOMEM;

#define ADD(...)                                                          \
        do {                                                              \
                if (asprintf(&fields[n], __VA_ARGS__) < 0) {              \
                        fields[n] = NULL;                                 \
                        goto finish;                                      \
                }                                                         \
                iov[n] = (struct iovec) { fields[n], strlen(fields[n]) }; \
                n++;                                                      \
        } while (0)

        {
                _cleanup_free_ char *msg = NULL;
                va_start(ap, format);
                int k = vasprintf(&msg, format, ap);
                va_end(ap);
                if (k < 0)
                        goto finish;
                ADD("MESSAGE=%s", msg);
        }
        ADD("MESSAGE_ID=%s", event_table[kind].id);
        ADD("PRIORITY=%i", event_table[kind].priority);
        ADD("SYSLOG_IDENTIFIER=alexandria");
        ADD("ALEXANDRIA_EVENT=%s", event_table[kind].name);
        if (f->schedule)
                ADD("ALEXANDRIA_SCHEDULE=%s", f->schedule);
        if (f->archive)
                ADD("ALEXANDRIA_ARCHIVE=%s", f->archive);
        if (f->path)
                ADD("ALEXANDRIA_PATH=%s", f->path);
        if (f->source)
                ADD("ALEXANDRIA_SOURCE=%s", f->source);
        if (f->copy_target)
                ADD("ALEXANDRIA_COPY_TARGET=%s", f->copy_target);
        if (f->remote)
                ADD("ALEXANDRIA_REMOTE=%s", f->remote);
        if (f->request)
                ADD("ALEXANDRIA_REQUEST=%s", f->request);
        if (f->kind)
                ADD("ALEXANDRIA_KIND=%s", f->kind);
        if (f->files != EVENT_FIELD_UNSET)
                ADD("ALEXANDRIA_FILES=%" PRIu64, f->files);
        if (f->bytes != EVENT_FIELD_UNSET)
                ADD("ALEXANDRIA_BYTES=%" PRIu64, f->bytes);
        if (f->archive_bytes != EVENT_FIELD_UNSET)
                ADD("ALEXANDRIA_ARCHIVE_BYTES=%" PRIu64, f->archive_bytes);
        if (f->duration_usec != EVENT_FIELD_UNSET)
                ADD("ALEXANDRIA_DURATION_USEC=%" PRIu64, f->duration_usec);
        if (f->warnings != EVENT_FIELD_UNSET)
                ADD("ALEXANDRIA_WARNINGS=%" PRIu64, f->warnings);
        if (f->unexpected != EVENT_FIELD_UNSET)
                ADD("ALEXANDRIA_UNEXPECTED=%" PRIu64, f->unexpected);
        if (f->error != 0)
                ADD("ERRNO=%i", -f->error);
#undef ADD

        r = sd_journal_sendv(iov, (int) n);
finish:
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                free(fields[i]);
        return r;
}
