/* SPDX-License-Identifier: MIT */
#pragma once

/* Parallel gzip compression, pigz style: the input is cut into fixed
 * 128 KiB blocks that worker threads deflate independently (each primed with
 * the previous 32 KiB as dictionary), and the pieces are emitted in order as
 * ONE standard gzip member (RFC 1952) that gzip -d, tar -z, bsdtar, Python's
 * gzip module and libarchive read like any other.
 *
 * The output is deterministic: the same input at the same level gives the
 * same bytes whatever the thread count and however the input was split into
 * pgzip_write() calls. The header carries no file name and mtime 0.
 *
 * Threading contract: one thread (the "caller") uses a PGzip object; the
 * sink is only ever called from inside pgzip_write() or pgzip_finish() on
 * that thread, so it needs no locking. The worker threads never see the sink.
 * The workers block all signals, so signals go to the caller's threads.
 *
 * Memory is bounded: at most 2 * threads + 2 blocks (~300 KiB each) exist,
 * allocated as first needed; pgzip_write() blocks (no busy-waiting) while
 * all of them are in flight, which is the backpressure towards the producer.
 *
 * Error convention: 0 on success, a negative errno on failure. The first
 * error of any stage (the sink's, or -ENOMEM) is sticky: every later
 * pgzip_write()/pgzip_finish() returns it and the stream is unusable, only
 * pgzip_free() remains. Nothing here logs. */

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define PGZIP_BLOCK_SIZE   (128 * 1024)   /* input bytes per independently deflated block */
#define PGZIP_DICT_SIZE    (32 * 1024)    /* deflate's window: history handed to the next block */
#define PGZIP_THREADS_MAX  64u

typedef struct PGzip PGzip;

/* Receives compressed bytes. Must take all N bytes or fail: returns 0 or
 * -errno. Called only from the thread calling pgzip_write()/pgzip_finish(). */
typedef int (*pgzip_sink_t)(void *userdata, const void *buf, size_t n);

/* LEVEL: 0..9, or -1 for zlib's default (6). THREADS: compression threads;
 * 0 means the CPUs this process may run on (capped at PGZIP_THREADS_MAX);
 * 1 compresses in the caller's thread without starting any thread.
 * -EINVAL for a bad level, THREADS > PGZIP_THREADS_MAX or a NULL sink. */
int pgzip_new(int level, unsigned threads, pgzip_sink_t sink, void *userdata, PGzip **ret);

/* Copies N bytes of input (any size, including 0). May call the sink with
 * whatever output is ready, and waits while all blocks are in flight. On
 * failure an unknown part of BUF has been consumed; the stream is dead. */
int pgzip_write(PGzip *z, const void *buf, size_t n);

/* Compresses what is left and emits it and the gzip trailer (CRC-32, ISIZE).
 * Returns when the sink has taken every byte. -EINVAL if called twice. */
int pgzip_finish(PGzip *z);

/* Stops and joins the workers and frees everything. Safe at any point:
 * after an error, without pgzip_finish() (the output is then incomplete),
 * on NULL. Never calls the sink. Returns NULL. */
PGzip *pgzip_free(PGzip *z);
DEFINE_TRIVIAL_CLEANUP_FUNC(PGzip *, pgzip_free);
#define _cleanup_pgzip_free_ _cleanup_(pgzip_freep)

/* Uncompressed bytes accepted and compressed bytes handed to the sink so far
 * (header and trailer included). Call from the caller's thread. */
uint64_t pgzip_bytes_in(const PGzip *z);
uint64_t pgzip_bytes_out(const PGzip *z);

/* The thread count pgzip_new() resolved THREADS to (for logging). */
unsigned pgzip_threads(const PGzip *z);
