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

typedef struct ArchiveReader {
        struct archive *a;
        struct Source *source;  /* owned by a */
} ArchiveReader;

/* On failure *ret_error (if given) says why: not ours, wrong key, no key. */
int archive_reader_open(const char *path, const CryptKeySource *key, ArchiveReader **ret, char **ret_error);
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
