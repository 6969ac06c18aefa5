/* SPDX-License-Identifier: MIT */
#pragma once

/* The package state of a Debian system, so that it can be rebuilt: entries
 * that a run generates (like database dumps) and stores under
 * PACKAGE_STATE_DIR in the archive when SkipPackaged=yes:
 *
 *   dpkg-selections     dpkg --get-selections        for dpkg --set-selections
 *   apt-manual          apt-mark showmanual          for apt-mark manual
 *   apt-auto            apt-mark showauto            for apt-mark auto
 *   packages            dpkg-query --show            package, version, status
 *   dpkg-architectures  dpkg --print-(foreign-)architecture(s)   native first
 *   alternatives        update-alternatives --get-selections   for --set-selections
 *   debconf-selections  debconf-get-selections       for debconf-set-selections
 *                       (only where debconf-utils is installed)
 *   README              how to rebuild the system from these
 *
 * The producer only runs the commands and hands each output over as
 * (entry name, descriptor, size); the archive writer stores it like a file.
 * A command that fails costs its entry and a warning, not the run. */

#include <stdint.h>
#include "macro.h"

#define PACKAGE_STATE_DIR ".alexandria/system"

typedef struct GeneratedEntrySink {
        /* NAME: the entry's path in the archive; SIZE bytes readable from
         * FD at offset 0 (the sink may read it, not keep it). <0 stops. */
        int (*entry)(const char *name, int fd, uint64_t size, void *userdata);
        /* A part that could not be produced, with why. */
        void (*warning)(const char *message, void *userdata);
        void *userdata;
} GeneratedEntrySink;

/* Returns 0, or the first negative errno entry() returned (or -ENOMEM). */
int package_state_produce(const GeneratedEntrySink *sink);
