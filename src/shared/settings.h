/* SPDX-License-Identifier: MIT */
#pragma once

/* alexandria.conf: settings that are not per schedule.
 *
 *   [Metrics]
 *   Directory=/var/lib/prometheus/node-exporter   # textfile collector directory
 */

#include <sys/types.h>
#include "macro.h"

typedef struct Config {
        char *metrics_directory;        /* NULL: no metrics */
} Config;

/* A missing file is the default configuration. Like schedules, the file
 * must be a regular file (no symlink), at most 64 KiB, owned by OWNER and
 * not writable by group or others (trust.h): it decides where root writes
 * files. */
int config_load(const char *path, uid_t owner, Config *ret, char **ret_error);
void config_done(Config *c);
