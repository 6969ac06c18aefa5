/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading archives back. Only what Alexandria writes is accepted: tar (pax)
 * with gzip, zstd, xz or no compression, optionally encrypted; anything else
 * is refused rather than handed to a parser we do not need. An encrypted
 * archive is decrypted on the fly with KEY: plaintext never touches the
 * disk. */

#include <stdint.h>
#include <archive.h>
#include "encryption.h"
#include "manifest.h"

typedef struct ArchiveReader {
        struct archive *a;
        struct Source *source;  /* owned by a */
} ArchiveReader;

/* On failure *ret_error (if given) says why: not ours, wrong key, no key. */
int archive_reader_open(const char *path, const CryptKeySource *key, ArchiveReader **ret, char **ret_error);
/* The same for the open archive FD (borrowed), read from its start: one file
 * read twice is the same file both times, whatever happens to its path. */
int archive_reader_open_fd(int fd, const CryptKeySource *key, ArchiveReader **ret, char **ret_error);
/* Why reading failed: the decryption's own words (corrupted chunk,
 * truncated, trailing data) rather than what the decompressor made of it. */
const char *archive_reader_error(const ArchiveReader *r);
ArchiveReader *archive_reader_free(ArchiveReader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(ArchiveReader *, archive_reader_free);

/* Whether the file at PATH is an encrypted archive (by its magic); false
 * also when it cannot be read, which opening it will then report. */
bool archive_file_is_encrypted(const char *path);

/* Counts the entries of the archive at PATH (reads it whole), not counting
 * the manifest. */
int archive_count_entries(const char *path, const CryptKeySource *key, uint64_t *ret, char **ret_error);

/* Entries that describe the archive rather than the backup: the manifest,
 * and an incremental archive's header and list of deletions. Restore does
 * not write them as files; counts of entries leave them out. */
bool archive_member_is_internal(const char *name);

/* Reads the current entry's data whole into a NUL-terminated buffer of at
 * most MAX bytes: -EFBIG beyond, -EBADMSG when the archive cannot be read. */
int archive_read_entry_whole(struct archive *a, size_t max, char **ret, size_t *ret_len);

/* Receives a block of an entry's data at OFFSET (after a hole, if it
 * skips). Returns 0, or a negative errno other than -EBADMSG to stop. */
typedef int (*archive_data_sink_t)(void *userdata, const void *buf, size_t n, int64_t offset);

/* Reads the current entry's data to its end, hands each block to SINK (if
 * any) and hashes the logical content of SIZE bytes: holes and a short tail
 * as zeros, as the manifest does. -EBADMSG when the archive cannot be read,
 * or what SINK returned. */
int archive_read_entry_data(struct archive *a, uint64_t size, ContentHash *h, archive_data_sink_t sink, void *userdata,
                            ContentDigest *ret_digest);

/* Engine code does not log: restore and verify hand each message (an entry
 * refused or damaged, the archive unreadable) to their caller, which logs it
 * (archive_report_log does) or keeps it. LEVEL is a syslog level. */
typedef void (*archive_report_t)(int level, const char *message, void *userdata);
void archive_report_log(int level, const char *message, void *userdata);
/* Formats and hands a message to REPORT (none: log_debug). ERROR (a negative
 * errno, or 0) is what %m names; returns ERROR, for "return archive_reportf(…)". */
int archive_reportf(archive_report_t report, void *userdata, int level, int error, const char *format, ...)
        _printf_(5, 6);
