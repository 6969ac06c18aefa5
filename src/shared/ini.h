/* SPDX-License-Identifier: MIT */
#pragma once

/* A strict reader for systemd-style INI files.
 *
 * Why not inih: its inline ";" comments would silently cut values such as
 * paths containing ';', and Debian's build does not hand line numbers to the
 * callback. This reader follows systemd's rules where they matter to us:
 * comments are whole lines starting with '#' or ';', keys and values are
 * trimmed, there are no inline comments. Line continuations are refused
 * rather than guessed at. */

#include <stdio.h>

#define INI_LINE_MAX 4096

/* Called for every key, and with KEY and VALUE NULL at each section header;
 * returns 0 or a negative errno (parsing stops).
 * The callback fills *ret_error with a message when it refuses a key. */
typedef int (*ini_handler_t)(const char *section, const char *key, const char *value,
                             unsigned line, void *userdata, char **ret_error);

/* On failure returns a negative errno and, for a syntax or handler error,
 * "LINE: message" through *ret_error (caller frees) and the line number. */
int ini_parse(FILE *f, ini_handler_t handler, void *userdata, unsigned *ret_line, char **ret_error);
