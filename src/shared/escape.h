/* SPDX-License-Identifier: MIT */
#pragma once

/* How strings reach a terminal: C0 and C1 control characters, DEL and
 * bytes that are not UTF-8 become \xNN (C1 as \u00NN), so that a file name
 * cannot move the cursor, set a title or end the line. (The inputs branch
 * has the same API in a larger escape.h; on merging, take that one.) */

#include <stdio.h>
#include "macro.h"

/* Writes S escaped for a terminal. */
void put_text(FILE *f, const char *s);
/* S as put_text() would write it; NULL on OOM. */
char *text_escape(const char *s);
