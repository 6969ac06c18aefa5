/* SPDX-License-Identifier: MIT */
#pragma once

/* JSON output for scripts (doctor --json, history --json). */

#include <stdio.h>

/* The length of the well-formed UTF-8 sequence at P (1-4), or 0 if P starts
 * none (a stray continuation byte, an overlong form, a surrogate, more than
 * U+10FFFF, or a sequence cut short by the terminating NUL). */
size_t utf8_sequence(const unsigned char *p);

/* S as a JSON string (null for NULL): control characters escaped, bytes
 * that are not UTF-8 replaced by U+FFFD, so the output is always valid. */
void json_put_string(FILE *f, const char *s);
