/* SPDX-License-Identifier: MIT */
#pragma once

/* alexandria.conf: settings that are not per schedule.
 *
 *   [Metrics]
 *   Directory=/var/lib/prometheus/node-exporter   # textfile collector directory
 *   Enabled=no                                    # no metrics at all
 *
 * Without Directory=, system schedules write their metrics where Debian's
 * prometheus-node-exporter reads textfiles, if that directory exists.
 */

#include <sys/types.h>
#include "macro.h"

typedef struct Config {
        char *metrics_directory;        /* NULL: the default */
        bool metrics_disabled;          /* Enabled=no */
        unsigned enabled_line, directory_line;  /* where each was set: once only */
} Config;

/* A missing file is the default configuration. Like schedules, the file
 * must be a regular file (no symlink), at most 64 KiB, owned by OWNER and
 * not writable by group or others (trust.h): it decides where root writes
 * files. */
int config_load(const char *path, uid_t owner, Config *ret, char **ret_error);
void config_done(Config *c);

#define METRICS_DEFAULT_DIRECTORY "/var/lib/prometheus/node-exporter"

/* Where metrics go: Directory=, else (not USER) METRICS_DEFAULT_DIRECTORY
 * if it is a directory; NULL when they are off (Enabled=no, or no place). */
const char *config_metrics_directory(const Config *c, bool user);
