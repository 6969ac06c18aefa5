/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading archives back. Only what Alexandria writes is accepted: tar (pax)
 * with gzip, zstd, xz or no compression; anything else is refused rather
 * than handed to a parser we do not need. */

#include <stdint.h>
#include <archive.h>

int archive_reader_open(const char *path, struct archive **ret);

/* Counts the entries of the archive at PATH (reads it whole), not counting
 * the manifest. */
int archive_count_entries(const char *path, uint64_t *ret, char **ret_error);
