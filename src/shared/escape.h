/* SPDX-License-Identifier: MIT */
#pragma once

/* How strings leave the program: to a terminal and into a unit file (JSON:
 * json-util.h). File names and journal messages can hold any byte but '/'
 * and NUL, so each destination gets what it can take and nothing it would
 * act on.
 *
 * Terminal: C0 and C1 control characters, DEL and bytes that are not UTF-8
 * become \xNN (C1 as \u00NN), so that a name cannot move the cursor, set a
 * title or end the line.
 * Unit files: '%' starts a specifier, a newline a new directive, a trailing
 * backslash a continuation line, and systemd strips spaces around values;
 * what no escaping can carry is refused. */

#include <stdio.h>
#include "json-util.h"
#include "macro.h"

/* Every byte of S belongs to a well-formed UTF-8 sequence (utf8_sequence()). */
bool utf8_is_valid(const char *s);

/* Writes S escaped for a terminal. */
void put_text(FILE *f, const char *s);
/* S as put_text() would write it; NULL on OOM. */
char *text_escape(const char *s);

/* Why V cannot be the value of a unit file setting (QUOTED: as one
 * double-quoted word of a list), or NULL if it can. */
const char *unit_value_problem(const char *v, bool quoted);
/* V with '%' doubled, for settings that expand specifiers. NULL on OOM. */
char *unit_escape_specifiers(const char *v);
/* V as one double-quoted word of a list setting (ReadWritePaths=): '"' and
 * '\' backslash-escaped, '%' doubled. NULL on OOM. */
char *unit_escape_quoted(const char *v);
/* V as the command line of an Exec*= setting: '%' and '$' doubled, so that
 * systemd puts in no specifier and no variable of its own. NULL on OOM. */
char *unit_escape_command(const char *v);
