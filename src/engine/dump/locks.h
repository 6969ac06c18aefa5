/* SPDX-License-Identifier: MIT */
#pragma once

/* LockFile=PATH[:shared]: the lock a service takes on its own files, taken
 * by the run too (flock(2), exclusive unless shared) before it reads the
 * sources and held until the archive is complete, the way a careful admin
 * waits for a mail filter's lock before copying its spool. The file is
 * opened, never created, never removed: it is the service's. The kernel
 * drops the locks when the run ends, however it ends. */

#include <stdint.h>
#include "schedule.h"

typedef struct LockSet {
        int *fds;               /* one per lock held */
        size_t n;
        char **missing;         /* lock files that do not exist (not locked) */
} LockSet;

/* Takes every lock in order, waiting at most TIMEOUT_USEC in all
 * (UINT64_MAX: no limit). -ETIMEDOUT (or another negative errno) with
 * *ret_error saying which lock and, where /proc/locks tells, who holds it;
 * then no lock is held. */
int locks_acquire(const ScheduleLock *locks, size_t n, uint64_t timeout_usec, LockSet *ret, char **ret_error);
void locks_release(LockSet *set);

/* "pid 1234 (spamd) holds an exclusive lock", from /proc/locks, for the
 * file open at FD; NULL when the kernel does not say (or hides it). */
char *lock_holder_describe(int fd);
