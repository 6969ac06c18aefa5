/* SPDX-License-Identifier: MIT */
#pragma once

/* Command lines as systemd writes them in ExecStart= (systemd.service(5),
 * "Command lines"), for Dump=, ExecStartPre= and ExecStopPost=: words split
 * at white space, '…' and "…" quote (also inside a word), C escapes (\n,
 * \t, \\, \", \', \s, \xHH, \NNN, \;). No shell, no specifiers, no
 * $VARIABLE expansion. A lone ";" would be a second command to systemd and
 * is refused, so that what Alexandria runs and what systemd runs never
 * differ. */

#include "macro.h"

/* Splits TEXT into a strv of at least one word. On -EINVAL *ret_error says why. */
int command_line_split(const char *text, char ***ret, char **ret_error);

/* The executable NAME means: an absolute path, or the first match in $PATH
 * (systemd's default search path when PATH is unset). Returns -ENOENT when
 * there is none, -EACCES when it is not an executable regular file, -EINVAL
 * for a relative path with a '/'. */
int command_find(const char *name, char **ret_path);
