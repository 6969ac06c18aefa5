/* SPDX-License-Identifier: MIT */
#pragma once

/* CopyTo= targets: where the offsite copies of a schedule's archives go.
 *
 *   ssh://[USER@]HOST[:PORT]/PATH   rsync over ssh (SSHCommand=); PATH is
 *                                   absolute, or inside the DIR of a remote
 *                                   key forced into `rrsync DIR`.
 *   rclone:REMOTE:PATH              rclone; REMOTE is a configured remote or
 *                                   an on-the-fly ":backend,key=value…".
 *
 * Parsing validates everything the copy stage later hands to rsync, ssh
 * and rclone as arguments (never through a shell). Pure: no I/O. */

#include "macro.h"

typedef enum CopyKind {
        COPY_SSH,
        COPY_RCLONE,
} CopyKind;

typedef struct CopyTarget {
        CopyKind kind;
        char *spec;             /* the CopyTo= value as written */
        char *display;          /* the spec with on-the-fly rclone parameters (keys, passwords) redacted */

        /* ssh:// */
        char *user;             /* NULL: ssh's default */
        char *host;             /* without [] for IPv6 */
        unsigned port;          /* 0: ssh's default */
        char *path;             /* absolute; no trailing slash except "/" */

        /* rclone: */
        char *remote;           /* "name:" or ":backend,params:", ready to prefix a path */
        char *remote_path;      /* may be empty: the remote's root */
} CopyTarget;

/* Returns -EINVAL with *ret_error ("CopyTo=…: what is wrong") for bad input. */
int copy_target_parse(const char *spec, CopyTarget **ret, char **ret_error);
CopyTarget *copy_target_free(CopyTarget *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(CopyTarget *, copy_target_free);
#define _cleanup_copy_target_free_ _cleanup_(copy_target_freep)

/* The location of FILENAME on the target, as rsync or rclone take it
 * ("[user@]host:path/FILENAME", "remote:path/FILENAME"); FILENAME may be
 * "" for the directory itself (with a trailing slash). NULL on OOM. */
char *copy_target_location(const CopyTarget *t, const char *filename);

/* SSHCommand=: a program and its options, as rsync -e takes it. */
bool ssh_command_is_valid(const char *command);
