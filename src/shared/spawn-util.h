/* SPDX-License-Identifier: MIT */
#pragma once

#include "macro.h"

/* Runs ARGV (PATH is searched) with stdin from /dev/null, captures stdout and
 * stderr (each at most 64 KiB), and waits. *ret_status is the exit status, or
 * 128+signal. Returns a negative errno if it could not be run at all. */
int spawn_capture(char *const argv[], char **ret_stdout, char **ret_stderr, int *ret_status);
/* The same, with EXTRA_ENV ("KEY=value", NULL-terminated) added to the
 * environment: how secrets reach a child without showing in its argv. */
int spawn_capture_env(char *const argv[], char *const extra_env[], char **ret_stdout, char **ret_stderr, int *ret_status);
