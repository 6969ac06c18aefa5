/* SPDX-License-Identifier: MIT */
#pragma once

/* The unexpected-files report of a schedule with Expect=: the files a run
 * stored that no Expect= covers (select.h makes the list). The list of the
 * newest successful run is kept in the state directory,
 *
 *   STATE_DIR/NAME.unexpected      one path a line, mode 0600
 *
 * (a backslash, a newline and other control characters in a name are
 * written as \\, \n and \xNN). The worker writes it and logs a warning
 * event with the count and the first few; the run record carries the count
 * and the list's SHA-256, so that the notifier can tell when the set
 * changed; status shows the count. */

#include <stdint.h>
#include "macro.h"

#define UNEXPECTED_SHOWN 10             /* paths in the journal message, in status */
#define UNEXPECTED_MAILED 1000          /* paths in a notification mail */

char *unexpected_path(const char *state_dir, const char *name);
int unexpected_save(const char *state_dir, const char *name, const char *list);
int unexpected_forget(const char *state_dir, const char *name);

/* The first MAX lines of the kept list (a NULL-terminated strv) and the
 * count of all; -ENOENT if there is none. */
int unexpected_peek(const char *state_dir, const char *name, size_t max, char ***ret_first, uint64_t *ret_count);

/* Hex SHA-256 of LIST (NULL: the empty list). */
int unexpected_digest(const char *list, char ret[static 65]);

/* "/a, /b, /c and 7 more": the first MAX lines of LIST. */
char *unexpected_summary(const char *list, uint64_t count, size_t max);
