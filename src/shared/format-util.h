/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include "macro.h"

#define FORMAT_BYTES_MAX 16
#define FORMAT_DURATION_MAX 32
#define FORMAT_TIMESTAMP_MAX 32

/* "512 B", "1.5 KiB", "12.3 MiB", "2.0 GiB" */
const char *format_bytes(char buf[static FORMAT_BYTES_MAX], uint64_t bytes);
/* "0.4s", "12s", "3min 5s", "2h 1min", "3d 4h" */
const char *format_duration(char buf[static FORMAT_DURATION_MAX], uint64_t usec);
/* local time "YYYY-mm-dd HH:MM:SS" */
const char *format_timestamp(char buf[static FORMAT_TIMESTAMP_MAX], uint64_t usec);
uint64_t now_realtime_usec(void);
uint64_t now_monotonic_usec(void);

/* The one way a function hands a message back with its error: formats into
 * *RET_ERROR (with %m meaning R) unless a message is already there — the
 * first, innermost one says most — and returns R (-ENOMEM if even the
 * message cannot be made). "return errorf(ret_error, r, "Cannot open %s: %m", p);" */
int errorf(char **ret_error, int r, const char *format, ...) _printf_(3, 4);

/* TEXT with every URL in it ("scheme://…") cut to its scheme and host: what
 * follows the host (a token in the path or query) and any user:password@
 * are secrets. "https://hc-ping.com/5f1e…" becomes "https://hc-ping.com/…".
 * NULL on OOM. */
char *redact_urls(const char *text);
