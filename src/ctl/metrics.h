/* SPDX-License-Identifier: MIT */
#pragma once

/* Prometheus metrics through node_exporter's textfile collector: one file
 * per schedule, alexandria_NAME.prom, replaced atomically so the exporter
 * never reads half of one. */

#include "history.h"

int metrics_write(const char *dir, const char *name, const LastRun *last, bool overdue);
