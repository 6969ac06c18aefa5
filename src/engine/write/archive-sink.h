/* SPDX-License-Identifier: MIT */
#pragma once

/* The bytes below libarchive on their way to the archive file:
 *
 *   tar stream → [parallel gzip] → [encryption] → the file
 *
 * gzip is done here, on every core (pgzip.c), rather than by libarchive's
 * single-threaded filter; zstd and xz stay libarchive's. Encryption comes
 * last: encrypted data would leave nothing to compress. */

#include <stdint.h>
#include "encryption.h"
#include "macro.h"

typedef struct ArchiveSink ArchiveSink;

/* FD is borrowed. GZIP_LEVEL >= 0 compresses with gzip at that level.
 * KEY, if set, encrypts; it is not referenced afterwards. */
int archive_sink_new(int fd, int gzip_level, const CryptKeySource *key, ArchiveSink **ret);
int archive_sink_write(ArchiveSink *s, const void *buf, size_t n);
/* Completes the stream (the final encrypted chunk). */
int archive_sink_finish(ArchiveSink *s);
uint64_t archive_sink_bytes_out(const ArchiveSink *s);
ArchiveSink *archive_sink_free(ArchiveSink *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ArchiveSink *, archive_sink_free);
