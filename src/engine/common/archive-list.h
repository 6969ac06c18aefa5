/* SPDX-License-Identifier: MIT */
#pragma once

/* Archive names: NAME-YYYYmmddTHHMMSSZ[.incr].tar[.gz|.zst|.xz][.enc], UTC,
 * so that names sort chronologically; ".incr" marks an incremental archive
 * (FullEvery=: only what changed since the archive before it, see chain.h),
 * ".enc" an encrypted archive, which no tar can read as it is. Anything else in a destination (temporary files,
 * lock files, other tools' files) is not an archive and is never touched. */

#include <stdint.h>
#include "schedule.h"

typedef struct ArchiveInfo {
        char *schedule;
        char *filename;
        char *path;             /* destination + filename */
        uint64_t time_usec;     /* from the name */
        Compression compression;
        bool encrypted;
        uint64_t size;          /* bytes on disk */
        bool incremental;       /* ".incr": needs the archives before it back to a full */
} ArchiveInfo;

#define ENCRYPTED_SUFFIX ".enc"
#define INCREMENTAL_SUFFIX ".incr"

int archive_name_format(const char *schedule, uint64_t time_usec, Compression c, bool encrypted, char **ret);
/* The same for an incremental archive if INCREMENTAL. */
int archive_name_format_kind(const char *schedule, uint64_t time_usec, bool incremental, Compression c,
                             bool encrypted, char **ret);
/* Splits FILENAME into schedule name, time, compression and encryption;
 * false if it is not an archive name. Incremental archives are archives. */
bool archive_name_parse(const char *filename, char **ret_schedule, uint64_t *ret_time_usec,
                        Compression *ret_compression, bool *ret_encrypted);
/* The same, also saying whether it is incremental. */
bool archive_name_parse_kind(const char *filename, char **ret_schedule, uint64_t *ret_time_usec,
                             bool *ret_incremental, Compression *ret_compression, bool *ret_encrypted);

/* A hidden temporary ".#ARCHIVE.XXXXXXXXXXXXXXXX" (16 hex digits) that a run
 * writes an archive into where the file system has no O_TMPFILE, and that a
 * killed run leaves behind; *ret_schedule is the schedule of ARCHIVE. False
 * if FILENAME is not one. The worker removes its own under the lock. */
bool archive_temporary_name_parse(const char *filename, char **ret_schedule);

/* Archives in DIR, of SCHEDULE only unless NULL, oldest first. A missing
 * directory has no archives. */
int archive_list(const char *dir, const char *schedule, ArchiveInfo **ret, size_t *ret_n);
void archive_list_free(ArchiveInfo *a, size_t n);

/* Takes the lock that runs of SCHEDULE hold in DIR (flock on
 * ".alexandria-SCHEDULE.lock", see backup.c), without waiting: -EBUSY while
 * a run (or a prune) holds it. -ENOENT if DIR does not exist. */
int archive_dir_lock(const char *dir, const char *schedule, int *ret_fd);
