/* SPDX-License-Identifier: MIT */
#pragma once

/* Archive encryption: authenticated streaming encryption with libsodium's
 * crypto_secretstream_xchacha20poly1305, in fixed-size chunks behind a small
 * authenticated header. docs/encryption-format.md is the specification; this
 * is the interface.
 *
 * Keys come from a key file: either a raw 32-byte key written by
 * crypt_keygen() ("alexandria-key-v1:" + base64), or anything else, which is
 * a passphrase stretched with argon2id using a random salt kept in each
 * archive's header. A systemd credential is just a path
 * ($CREDENTIALS_DIRECTORY/NAME).
 *
 * Nothing here writes a file except crypt_keygen(): ciphertext goes to the
 * caller's sink, plaintext only to the caller's buffers. Key material lives
 * in sodium_malloc()ed memory (guard pages, mlock where RLIMIT_MEMLOCK
 * allows, wiped when freed); chunk buffers are wiped when freed.
 *
 * Error convention: 0 (or a byte count) on success, a negative errno on
 * failure. Where a message helps, it is returned through ret_error (heap
 * string, the caller frees it; left NULL when memory ran out or libsodium
 * could not initialise; never written on success). The errno tells the class:
 *   -EKEYREJECTED  wrong key (or a header damaged so that it looks like one)
 *   -EBADMSG       not an encrypted archive, corrupted, truncated, trailing data
 *   -EPROTONOSUPPORT  a format version this build does not read
 *   -EPERM         key file readable or writable by other users
 *   anything else  I/O and memory errors, as the system reported them. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

#define CRYPT_MAGIC              "ALXCRYPT"     /* 8 bytes, no NUL in the file */
#define CRYPT_MAGIC_SIZE         8
#define CRYPT_FORMAT_VERSION     1
#define CRYPT_HEADER_SIZE        104
#define CRYPT_CHUNK_SIZE         (64 * 1024)    /* plaintext bytes per chunk, as written */
#define CRYPT_KEY_SIZE           32
#define CRYPT_KEY_FILE_PREFIX    "alexandria-key-v1:"
#define CRYPT_KEY_FILE_MAX       4096           /* largest key or passphrase file read */

/* Argon2id limits accepted when writing (crypt_key_set_kdf_limits()) and when
 * reading a header. The upper bounds are libsodium's SENSITIVE level: a header
 * cannot make a reader spend more than ~1 GiB and a few seconds. */
#define CRYPT_KDF_OPSLIMIT_MIN   UINT64_C(1)
#define CRYPT_KDF_OPSLIMIT_MAX   UINT64_C(4)
#define CRYPT_KDF_MEMLIMIT_MIN   UINT64_C(8192)
#define CRYPT_KDF_MEMLIMIT_MAX   (UINT64_C(1) << 30)

typedef struct CryptKeySource CryptKeySource;
typedef struct CryptWriter CryptWriter;
typedef struct CryptReader CryptReader;

/* Receives ciphertext. Must take all N bytes or fail: returns 0 or -errno. */
typedef int (*crypt_sink_t)(void *userdata, const void *buf, size_t n);

/* ---- keys ---------------------------------------------------------------- */

/* Creates PATH holding a new random key, mode 0600, atomically (complete and
 * fsync'd, or absent). Never replaces anything: -EEXIST if PATH exists. */
int crypt_keygen(const char *path);

/* Loads a key file: "alexandria-key-v1:..." is a raw key, anything else a
 * passphrase (trailing CR/LF removed; empty is refused). The file must be a
 * regular file owned by root or the caller and not accessible to group or
 * others (-EPERM with a message otherwise); a POSIX ACL that only grants the
 * caller read access, as systemd gives credentials of User= services, is
 * accepted. */
int crypt_key_load(const char *path, CryptKeySource **ret, char **ret_error);

/* Same, from the contents of a key file already in memory (no permission check). */
int crypt_key_parse(const void *data, size_t size, CryptKeySource **ret, char **ret_error);

/* Argon2id cost used when writing with a passphrase (readers take it from the
 * header). Default: libsodium's MODERATE, 3 passes over 256 MiB. -EINVAL when
 * out of the CRYPT_KDF_* range, -EOPNOTSUPP for a raw key. */
int crypt_key_set_kdf_limits(CryptKeySource *k, uint64_t opslimit, uint64_t memlimit);

bool crypt_key_is_passphrase(const CryptKeySource *k);

/* Wipes and frees. Returns NULL. */
CryptKeySource *crypt_key_free(CryptKeySource *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(CryptKeySource *, crypt_key_free);

/* ---- writing -------------------------------------------------------------- */

/* Derives the key (argon2id with a fresh salt for a passphrase), sends the
 * header to SINK and returns a writer. KEY is not referenced afterwards. */
int crypt_writer_new(const CryptKeySource *key, crypt_sink_t sink, void *userdata, CryptWriter **ret);

/* Takes N bytes of plaintext of any size; sends each completed chunk to the
 * sink. After a sink error the writer is dead: every later call returns that
 * error (the stream cannot be resumed). */
int crypt_writer_write(CryptWriter *w, const void *buf, size_t n);

/* Sends the final chunk. Without it the output reads as truncated. */
int crypt_writer_finish(CryptWriter *w);

/* Wipes buffers and keys and frees. Does not finish. Returns NULL. */
CryptWriter *crypt_writer_free(CryptWriter *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(CryptWriter *, crypt_writer_free);

/* ---- reading -------------------------------------------------------------- */

/* Reads the header from FD (borrowed; from its current position, so a pipe
 * works), derives the key and authenticates the header: a wrong key is found
 * here, before any data. */
int crypt_reader_new(const CryptKeySource *key, int fd, CryptReader **ret, char **ret_error);

/* Returns the next block of plaintext (> 0 bytes; *ret_buf is owned by the
 * reader and valid until the next call), 0 at the clean end (final chunk
 * authenticated and end of file verified; *ret_buf = NULL), or a negative
 * errno. Errors are sticky. Fits libarchive's archive_read_callback. */
ssize_t crypt_reader_read(CryptReader *r, const void **ret_buf, char **ret_error);

CryptReader *crypt_reader_free(CryptReader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(CryptReader *, crypt_reader_free);

/* ---- detection ------------------------------------------------------------ */

/* Whether the N bytes (the start of a file) begin with the magic. */
bool crypt_has_magic(const void *buf, size_t n);

/* Whether the file FD starts with the magic: 1 yes, 0 no, -errno if it could
 * not be read (-ESPIPE for a pipe: use crypt_has_magic() on what was read).
 * Reads with pread(): the file position is not moved. */
int crypt_is_encrypted(int fd);
