/* SPDX-License-Identifier: MIT */
#pragma once

/* The manifest: one line per entry with the SHA-256 of its content, written
 * by the worker while archiving and stored as the archive's last entry, so
 * it travels with the archive. `verify` reads every byte back and compares.
 *
 * Line format (text, one entry per line, paths escaped so that any byte
 * sequence fits on one line: "\\" for a backslash, "\n", "\r"):
 *   f SHA256HEX SIZE PATH       regular file (hash over its logical content, holes as zeros)
 *   h - 0 PATH\tTARGET           hard link to an earlier regular file
 *   d|l|p|c|b - 0 PATH           directory, symlink, FIFO, character or block device
 */

#include <stdint.h>
#include <stdio.h>
#include <openssl/evp.h>
#include "macro.h"

#define MANIFEST_NAME ".alexandria-manifest.sha256"
#define SHA256_LEN 32

typedef struct Sha256 {
        EVP_MD_CTX *ctx;
} Sha256;

int sha256_init(Sha256 *h);
void sha256_update(Sha256 *h, const void *buf, size_t n);
/* Feeds N zero bytes (sparse holes, zero padding). */
void sha256_zeros(Sha256 *h, uint64_t n);
void sha256_final(Sha256 *h, uint8_t out[static SHA256_LEN]);
void sha256_done(Sha256 *h);

typedef struct ManifestEntry {
        char type;              /* f h d l p c b */
        char *path;
        char *target;           /* hard links */
        uint64_t size;
        uint8_t digest[SHA256_LEN];
} ManifestEntry;

typedef struct Manifest {
        ManifestEntry *entries;
        size_t n, allocated;
} Manifest;

void manifest_done(Manifest *m);
int manifest_add(Manifest *m, char type, const char *path, const char *target, uint64_t size,
                 const uint8_t digest[SHA256_LEN]);
/* Serializes (in insertion order). */
int manifest_format(const Manifest *m, char **ret, size_t *ret_len);
/* Parses TEXT; on -EBADMSG, *ret_line says where. */
int manifest_parse(const char *text, size_t len, Manifest *ret, size_t *ret_line);
/* Sorts by path, for merging two manifests. */
void manifest_sort(Manifest *m);

/* A path as the manifest (and an incremental archive's deletions list)
 * writes it: "\\", "\n", "\r", "\t" escaped, so any name fits one line. */
void manifest_put_name(FILE *f, const char *name);
/* The reverse, for S up to END; NULL for a bad escape or a NUL byte. */
char *manifest_unescape_name(const char *s, const char *end);

/* The type letter of an archive entry's file type (AE_IF*), '?' if none. */
char manifest_type_from_filetype(unsigned filetype);
