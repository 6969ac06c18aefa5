/* SPDX-License-Identifier: MIT */
#pragma once

/* alexandria.conf: settings that are not per schedule.
 *
 *   [Metrics]
 *   Directory=/var/lib/prometheus/node-exporter   # textfile collector directory
 */

#include "macro.h"

typedef struct Config {
        char *metrics_directory;        /* NULL: no metrics */
} Config;

/* A missing file is the default configuration. */
int config_load(const char *path, Config *ret, char **ret_error);
void config_done(Config *c);
