/* SPDX-License-Identifier: MIT */
#include <sched.h>
#include <unistd.h>

#include "cpus.h"

unsigned cpus_available(void) {
        cpu_set_t set;

        /* The affinity mask, not just the online count: a unit's
         * CPUAffinity= should not get more threads than it has CPUs. */
        if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
                return (unsigned) CPU_COUNT(&set);
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (unsigned) n : 1;
}
