/* SPDX-License-Identifier: MIT */
#pragma once

/* Where things live, in system mode (root: /etc/alexandria) or user mode
 * (--user: XDG directories). ALEXANDRIA_CONFIG_DIR or --config-dir replace
 * the configuration directory. */

#include <sys/types.h>
#include "macro.h"

typedef struct Paths {
        bool user;
        char *config_dir;               /* /etc/alexandria */
        char *schedules_dir;            /* …/schedules.d */
        char *default_destination;      /* /var/backups/alexandria */
        char *state_dir;                /* /var/lib/alexandria: what was notified */
        char *config_file;              /* …/alexandria.conf: settings for all schedules */
        uid_t owner;                    /* who must own schedule files: root, or the user */
} Paths;

int paths_init(bool user, const char *config_dir_override, Paths *ret);
void paths_done(Paths *p);
