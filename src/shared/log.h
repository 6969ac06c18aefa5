/* SPDX-License-Identifier: MIT */
#pragma once

/* Logging: one call logs a message and returns the negative errno it was
 * given, so "return log_error_errno(r, ...)" logs once where an error is
 * handled. Messages go to stderr, or straight to the journal with structured
 * fields when stderr already is a journal stream (i.e. under systemd). */

#include <syslog.h>
#include "macro.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO,        /* journal if stderr is connected to it, else stderr */
        LOG_TARGET_STDERR,
        LOG_TARGET_JOURNAL,
} LogTarget;

void log_setup(LogTarget target);
bool log_on_journal(void);
/* Only messages at LEVEL or more urgent (the fuzz harnesses silence everything). */
void log_set_max_level(int level);
/* One extra "FIELD=value" attached to every journal entry, e.g. the schedule. */
void log_set_context_field(const char *field_assignment);

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...) \
        log_internal(level, error, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...)   log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, e, __VA_ARGS__)
#define log_oom() log_error_errno(-ENOMEM, "Out of memory.")
