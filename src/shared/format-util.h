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

/* The length of the well-formed UTF-8 sequence at P (1-4), or 0 if P starts
 * none (a stray continuation byte, an overlong form, a surrogate, more than
 * U+10FFFF, or a sequence cut short by the terminating NUL). */
size_t utf8_sequence_length(const char *p);
/* Writes S for a terminal or a log line: C0 and C1 controls, DEL and bytes
 * that are not UTF-8 become \xNN (C1 as \u00NN), so that a file name cannot
 * move the cursor, end the line or change the colours. */
void fputs_escaped(const char *s, FILE *f);
/* The same into a new string; NULL on OOM. */
char *strdup_escaped(const char *s);
