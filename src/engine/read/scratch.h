/* SPDX-License-Identifier: MIT */
#pragma once

/* The scratch files of the readers (verify, restore): what they read of an
 * archive and must keep until its manifest, the last entry, arrives. A
 * scratch file has no name (O_TMPFILE, 0600) and is gone when it is
 * closed; what lands on its disk is encrypted (XChaCha20) with a key that
 * exists only in this process's memory, so that the names and digests of
 * an encrypted archive never sit on a disk in the clear, not even in the
 * free blocks a crash leaves behind. Confidentiality only: nobody but this
 * process (and root, through /proc) can reach the file to alter it. */

#include <stdio.h>

/* A scratch file (w+, buffered, seekable) beside ARCHIVE, or in $TMPDIR,
 * /var/tmp or /tmp when that directory is not writable (a copy on
 * read-only media); NULL with errno set. */
FILE *scratch_open(const char *archive);

/* FD, an open read-write file, behind the same encryption (the FILE owns
 * it from now on); NULL with errno set, FD then still the caller's. */
FILE *scratch_wrap(int fd);
