/* SPDX-License-Identifier: MIT */
#pragma once

/* Who may read a destination. By default only its owner: the directory is
 * 0700, archives 0600. DestinationGroup=GROUP opens it to one group, for a
 * dedicated pull account (`alexandria-ctl serve`): the directory becomes
 * 0750 and this schedule's archives 0640, owned by that group. */

#include <sys/types.h>
#include "schedule.h"

/* The gid of S's DestinationGroup=, or (gid_t) -1 when it has none.
 * -ENOENT with *ret_error when the group does not exist. */
int share_group(const Schedule *s, gid_t *ret_gid, char **ret_error);

/* Gives the destination DIR_FD (the path DEST, for messages) and every
 * archive of S in it to GID; a no-op for (gid_t) -1. */
int share_destination(int dir_fd, const Schedule *s, gid_t gid, char **ret_error);

/* Makes the archive being written on FD 0640 for GID (the unit's umask
 * took the group bits off); a no-op for (gid_t) -1. */
int share_archive(int fd, gid_t gid);
