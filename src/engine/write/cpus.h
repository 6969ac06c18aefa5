/* SPDX-License-Identifier: MIT */
#pragma once

/* How many CPUs this process may run on: the affinity mask (a unit's
 * CPUAffinity=), else the online count; at least 1. */
unsigned cpus_available(void);
