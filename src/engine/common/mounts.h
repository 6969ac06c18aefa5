/* SPDX-License-Identifier: MIT */
#pragma once

/* The disk that did not mount: a source or destination at or below a mount
 * point that /etc/fstab (or a .mount unit in /etc/systemd/system) lists,
 * while nothing is mounted there, is the empty directory underneath, not
 * the data. The generator adds RequiresMountsFor= so that systemd mounts
 * them first; this catches the run that starts anyway (run --here, a mount
 * that failed, noauto). */

/* -ENOTCONN, with a message naming PATH and the mount point, when a listed
 * mount point that PATH lies at or below is not mounted; WHAT says which
 * ("Source", "Destination"). */
int mounts_check_path(const char *what, const char *path, char **ret_error);
