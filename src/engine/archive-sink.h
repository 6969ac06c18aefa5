/* SPDX-License-Identifier: MIT */
#pragma once

/* The bytes below libarchive on their way to the archive file: optionally
 * encrypted (compressed data in, ciphertext out: encrypting first would
 * leave nothing to compress), counted, written whole. */

#include <stdint.h>
#include "encryption.h"
#include "macro.h"

typedef struct ArchiveSink ArchiveSink;

/* FD is borrowed. KEY, if set, encrypts; it is not referenced afterwards.
 * On failure *ret_error may say why (a key that cannot be used). */
int archive_sink_new(int fd, const CryptKeySource *key, ArchiveSink **ret);
int archive_sink_write(ArchiveSink *s, const void *buf, size_t n);
/* Completes the stream (the final encrypted chunk). */
int archive_sink_finish(ArchiveSink *s);
uint64_t archive_sink_bytes_out(const ArchiveSink *s);
ArchiveSink *archive_sink_free(ArchiveSink *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ArchiveSink *, archive_sink_free);
