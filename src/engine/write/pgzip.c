/* SPDX-License-Identifier: MIT */

/* Parallel gzip, after pigz.
 *
 * Stream format. The input is cut at fixed offsets into blocks of
 * PGZIP_BLOCK_SIZE bytes. Each block is compressed as raw deflate by its own
 * deflate state, primed with deflateSetDictionary() from the last 32 KiB of
 * the block before it, so back-references may reach across the cut exactly
 * as far as a single deflate stream could: the ratio stays within a few
 * hundredths of a percent of plain gzip. A block other than the last ends
 * with Z_SYNC_FLUSH, which closes the open deflate block (BFINAL clear) and
 * adds an empty stored block, so the piece ends on a byte boundary and the
 * next piece can simply be appended; Z_FULL_FLUSH would only reset a history
 * that a fresh deflate state does not have anyway. The last block ends with
 * Z_FINISH (BFINAL set). Header (10 bytes, no name, mtime 0) + pieces +
 * trailer (CRC-32 combined from the per-block CRCs with crc32_combine(),
 * ISIZE) is one ordinary gzip member. pigz saves the 4-5 bytes of the
 * empty stored block with Z_BLOCK and deflatePrime() tricks; at 128 KiB per
 * block that is 0.004% and not worth the subtlety.
 *
 * Determinism. Cut points depend only on the input offset, every block is
 * compressed from (dictionary, data, last?) alone, and pieces are emitted in
 * sequence order, so the bytes do not depend on the thread count, on
 * scheduling or on how the caller split its writes.
 *
 * Threads and ownership. The caller's thread fills blocks, submits them and
 * is also the writer: it emits finished blocks strictly in sequence order,
 * from inside pgzip_write()/pgzip_finish(), so the sink runs on the caller's
 * thread and needs no locking. N worker threads (none when THREADS is 1:
 * then the caller deflates inline) each own a z_stream and take submitted
 * blocks in sequence order. A block belongs to the caller while it is filled,
 * to one worker from claim until `done`, and to the caller again until it is
 * written out, after which its slot is free.
 *
 * Queues. There is no list: the buffer pool is a ring of n_blocks slots and
 * sequence number s lives in slot s % n_blocks. Three counters describe
 * everything:
 *     next_out <= next_claim <= next_seq,   next_seq - next_out <= n_blocks
 *   [next_out, next_claim)  claimed by a worker, maybe done, not written yet
 *   [next_claim, next_seq)  submitted, waiting for a worker
 *   next_seq                the slot the caller fills (z->cur), if any
 * Workers wait on `work` for next_claim < next_seq; the caller waits on `done`
 * for its oldest block. The mutex protects next_seq, next_claim, stop and
 * each block's `done`; all other block fields are handed over by those
 * lock/unlock pairs. next_out, cur, crc and the counters are caller-only.
 *
 * Backpressure. Starting a block needs a free slot; while all n_blocks
 * (2 * threads + 2, as in pigz, so every worker has one block queued behind
 * its current one while the writer holds another) are in flight, the caller
 * sleeps on `done` and writes out the oldest block as soon as it is ready.
 * Slot buffers are allocated on first use and reused, so memory is flat
 * (about 300 KiB per slot) whatever the input size and small for small
 * inputs.
 *
 * Dictionary. A block copies its dictionary from the tail of the previous
 * slot when it starts. That slot is still intact: it can only be reused by
 * sequence number (s - 1) + n_blocks, which comes later. With a single slot
 * (inline mode) the previous block is the same buffer, and the copy goes
 * from its data tail to its dictionary head, which do not overlap.
 *
 * Errors. Workers record an error (ENOMEM growing an output buffer) in the
 * block; the writer returns it when that block's turn comes. The first error
 * of the sink or of a block becomes sticky in z->error. pgzip_free() sets
 * `stop`, which workers check before taking a block, so joining waits for at
 * most one block per worker; no one ever waits for the sink. */

#include <pthread.h>
#include <signal.h>
#include <zlib.h>

#include "cpus.h"
#include "pgzip.h"

#define GZIP_HEADER_SIZE  10
#define GZIP_TRAILER_SIZE 8
#define GZIP_OS_UNIX      3

typedef struct Block {
        uint8_t *buf;           /* PGZIP_DICT_SIZE of dictionary, then PGZIP_BLOCK_SIZE of input */
        size_t dict_len;
        size_t in_len;
        bool last;

        uint8_t *out;           /* raw deflate piece, grown by the worker if ever too small */
        size_t out_size;
        size_t out_len;
        uint32_t crc;           /* crc32 of the input part */
        int error;

        bool done;              /* under PGzip.lock */
} Block;

typedef struct Worker {
        PGzip *z;
        pthread_t thread;
        z_stream strm;
        bool strm_ready;
        bool started;
} Worker;

struct PGzip {
        int level;
        unsigned threads;
        pgzip_sink_t sink;
        void *userdata;

        Block *blocks;
        size_t n_blocks;
        size_t out_size_initial;

        Worker *workers;        /* NULL in inline mode */
        unsigned n_workers;
        z_stream strm;          /* inline mode only */
        bool strm_ready;

        pthread_mutex_t lock;
        pthread_cond_t work;
        pthread_cond_t done;
        uint64_t next_seq;      /* under lock */
        uint64_t next_claim;    /* under lock */
        bool stop;              /* under lock */

        /* Caller's thread only. */
        uint64_t next_out;
        Block *cur;
        uint32_t crc;
        uint64_t bytes_in;
        uint64_t bytes_out;
        bool finished;
        int error;
};

static inline uint8_t *block_data(const Block *b) {
        return b->buf + PGZIP_DICT_SIZE;
}

static int deflate_state_new(z_stream *s, int level) {
        *s = (z_stream) {};
        /* windowBits -15: raw deflate, the gzip framing is ours. */
        switch (deflateInit2(s, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY)) {
        case Z_OK:
                return 0;
        case Z_MEM_ERROR:
                return -ENOMEM;
        default:
                return -EINVAL;
        }
}

/* Worker side (or the caller in inline mode): fills b->out, out_len, crc,
 * error. INITIAL is the output space deflate is offered first; the offer
 * then doubles. It must not depend on the buffer's capacity: at level 0,
 * deflate sizes its stored blocks by the output space available, so a slot
 * whose buffer grew earlier would otherwise compress differently, and which
 * slot a block gets depends on the thread count. */
static void block_deflate(z_stream *s, Block *b, size_t initial) {
        int flush = b->last ? Z_FINISH : Z_SYNC_FLUSH, r;
        size_t offer = initial;

        b->crc = (uint32_t) crc32(0, block_data(b), (uInt) b->in_len);

        r = deflateReset(s);
        if (r == Z_OK && b->dict_len > 0)
                r = deflateSetDictionary(s, b->buf, (uInt) b->dict_len);
        if (r != Z_OK) {
                b->error = -EIO;        /* only a corrupted z_stream gets here */
                return;
        }

        s->next_in = block_data(b);
        s->avail_in = (uInt) b->in_len;
        s->next_out = b->out;
        s->avail_out = (uInt) offer;
        for (;;) {
                r = deflate(s, flush);
                if (r == Z_STREAM_ERROR || (r == Z_BUF_ERROR && s->avail_out > 0)) {
                        b->error = -EIO;
                        return;
                }
                /* A sync flush is complete when deflate leaves output space unused. */
                if (flush == Z_FINISH ? r == Z_STREAM_END : s->avail_out > 0)
                        break;

                /* Incompressible data plus framing can exceed the initial
                 * bound only in theory; grow rather than trust arithmetic. */
                size_t used = offer - s->avail_out;
                offer *= 2;
                if (offer > b->out_size) {
                        uint8_t *p = realloc(b->out, offer);
                        if (!p) {
                                b->error = -ENOMEM;
                                return;
                        }
                        b->out = p;
                        b->out_size = offer;
                }
                s->next_out = b->out + used;
                s->avail_out = (uInt) (offer - used);
        }
        b->out_len = offer - s->avail_out;
        b->error = 0;
}

static void *worker_main(void *userdata) {
        Worker *w = userdata;
        PGzip *z = w->z;

        pthread_mutex_lock(&z->lock);
        for (;;) {
                while (!z->stop && z->next_claim == z->next_seq)
                        pthread_cond_wait(&z->work, &z->lock);
                if (z->stop)
                        break;
                Block *b = &z->blocks[z->next_claim++ % z->n_blocks];
                pthread_mutex_unlock(&z->lock);

                block_deflate(&w->strm, b, z->out_size_initial);

                pthread_mutex_lock(&z->lock);
                b->done = true;
                /* Only the caller waits on `done`. */
                pthread_cond_signal(&z->done);
        }
        pthread_mutex_unlock(&z->lock);
        return NULL;
}

static int fail(PGzip *z, int r) {
        if (z->error == 0)
                z->error = r;
        return z->error;
}

static int emit(PGzip *z, const void *p, size_t n) {
        if (n == 0)
                return 0;
        int r = z->sink(z->userdata, p, n);
        if (r < 0)
                return r;
        z->bytes_out += n;
        return 0;
}

static int emit_header(PGzip *z) {
        /* ID1 ID2 CM=deflate FLG=0 MTIME=0 (deterministic output) XFL OS */
        uint8_t h[GZIP_HEADER_SIZE] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, GZIP_OS_UNIX };

        /* XFL as gzip and zlib set it: 2 = slowest/best, 4 = fastest. */
        h[8] = z->level == 9 ? 2 : z->level <= 1 ? 4 : 0;
        return emit(z, h, sizeof h);
}

static int emit_block(PGzip *z, Block *b) {
        int r;

        if (b->error < 0)
                return b->error;
        if (z->next_out == 0) {
                r = emit_header(z);
                if (r < 0)
                        return r;
        }
        r = emit(z, b->out, b->out_len);
        if (r < 0)
                return r;
        z->crc = (uint32_t) crc32_combine(z->crc, b->crc, (z_off_t) b->in_len);
        z->next_out++;
        return 0;
}

/* Writes out finished blocks in sequence order: waits until at most
 * MAX_IN_FLIGHT blocks remain unwritten, then keeps going while the next one
 * happens to be ready already. */
static int flush_ready(PGzip *z, uint64_t max_in_flight) {
        while (z->next_out < z->next_seq) {
                Block *b = &z->blocks[z->next_out % z->n_blocks];
                bool must_wait = z->next_seq - z->next_out > max_in_flight, ready;

                pthread_mutex_lock(&z->lock);
                while (must_wait && !b->done)
                        pthread_cond_wait(&z->done, &z->lock);
                ready = b->done;
                pthread_mutex_unlock(&z->lock);
                if (!ready)
                        break;

                int r = emit_block(z, b);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int block_start(PGzip *z) {
        int r;

        r = flush_ready(z, z->n_blocks - 1);
        if (r < 0)
                return r;

        Block *b = &z->blocks[z->next_seq % z->n_blocks];
        if (!b->buf) {
                b->buf = malloc(PGZIP_DICT_SIZE + PGZIP_BLOCK_SIZE);
                if (!b->buf)
                        return -ENOMEM;
        }
        if (!b->out) {
                b->out = malloc(z->out_size_initial);
                if (!b->out)
                        return -ENOMEM;
                b->out_size = z->out_size_initial;
        }

        if (z->next_seq == 0)
                b->dict_len = 0;
        else {
                /* See "Dictionary" above for why the previous slot is intact. */
                const Block *prev = &z->blocks[(z->next_seq - 1) % z->n_blocks];
                memcpy(b->buf, block_data(prev) + PGZIP_BLOCK_SIZE - PGZIP_DICT_SIZE, PGZIP_DICT_SIZE);
                b->dict_len = PGZIP_DICT_SIZE;
        }
        b->in_len = 0;
        b->last = false;
        b->out_len = 0;
        b->error = 0;
        b->done = false;        /* the slot is ours: no worker looks at it */
        z->cur = b;
        return 0;
}

static void block_submit(PGzip *z, bool last) {
        Block *b = TAKE_PTR(z->cur);

        b->last = last;
        if (z->n_workers == 0) {
                block_deflate(&z->strm, b, z->out_size_initial);
                b->done = true;
                z->next_seq++;
                z->next_claim++;
                return;
        }

        pthread_mutex_lock(&z->lock);
        z->next_seq++;
        pthread_cond_signal(&z->work);
        pthread_mutex_unlock(&z->lock);
}

int pgzip_new(int level, unsigned threads, pgzip_sink_t sink, void *userdata, PGzip **ret) {
        _cleanup_(pgzip_freep) PGzip *z = NULL;
        int r;

        if (level == Z_DEFAULT_COMPRESSION)
                level = 6;
        if (level < 0 || level > 9 || threads > PGZIP_THREADS_MAX || !sink || !ret)
                return -EINVAL;
        if (threads == 0) {
                unsigned cpus = cpus_available();
                threads = MIN(cpus, PGZIP_THREADS_MAX);
        }

        PGzip *n = calloc(1, sizeof *n);
        if (!n)
                return -ENOMEM;
        if (pthread_mutex_init(&n->lock, NULL) != 0) {
                free(n);
                return -ENOMEM;
        }
        if (pthread_cond_init(&n->work, NULL) != 0) {
                pthread_mutex_destroy(&n->lock);
                free(n);
                return -ENOMEM;
        }
        if (pthread_cond_init(&n->done, NULL) != 0) {
                pthread_cond_destroy(&n->work);
                pthread_mutex_destroy(&n->lock);
                free(n);
                return -ENOMEM;
        }
        z = n;          /* from here on pgzip_free() undoes whatever was done */

        z->level = level;
        z->threads = threads;
        z->sink = sink;
        z->userdata = userdata;
        /* Raw deflate of one block with the sync flush's empty stored block:
         * compressBound() covers the zlib wrapper, which is larger. */
        z->out_size_initial = compressBound(PGZIP_BLOCK_SIZE) + 16;
        z->n_blocks = threads == 1 ? 1 : 2 * (size_t) threads + 2;
        z->blocks = calloc(z->n_blocks, sizeof *z->blocks);
        if (!z->blocks)
                return -ENOMEM;

        if (threads == 1) {
                r = deflate_state_new(&z->strm, level);
                if (r < 0)
                        return r;
                z->strm_ready = true;
        } else {
                z->workers = calloc(threads, sizeof *z->workers);
                if (!z->workers)
                        return -ENOMEM;
                z->n_workers = threads;
                /* All deflate states first: ENOMEM before any thread runs. */
                for (unsigned i = 0; i < threads; i++) {
                        z->workers[i].z = z;
                        r = deflate_state_new(&z->workers[i].strm, level);
                        if (r < 0)
                                return r;
                        z->workers[i].strm_ready = true;
                }

                /* Workers inherit a full signal mask, so process signals
                 * (and signalfd/sd-event sources) stay with the caller. */
                sigset_t all, saved;
                sigfillset(&all);
                r = -pthread_sigmask(SIG_SETMASK, &all, &saved);
                if (r < 0)
                        return r;
                for (unsigned i = 0; i < threads && r == 0; i++) {
                        r = -pthread_create(&z->workers[i].thread, NULL, worker_main, &z->workers[i]);
                        if (r == 0)
                                z->workers[i].started = true;
                }
                (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(z);
        return 0;
}

int pgzip_write(PGzip *z, const void *buf, size_t n) {
        const uint8_t *p = buf;
        int r;

        if (!z || (!buf && n > 0))
                return -EINVAL;
        if (z->error < 0)
                return z->error;
        if (z->finished)
                return -EINVAL;

        while (n > 0) {
                /* A full block is submitted only once more input arrives:
                 * until then it might be the last one, which ends differently. */
                if (z->cur && z->cur->in_len == PGZIP_BLOCK_SIZE)
                        block_submit(z, false);
                if (!z->cur) {
                        r = block_start(z);
                        if (r < 0)
                                return fail(z, r);
                }

                size_t k = MIN(n, PGZIP_BLOCK_SIZE - z->cur->in_len);
                memcpy(block_data(z->cur) + z->cur->in_len, p, k);
                z->cur->in_len += k;
                z->bytes_in += k;
                p += k;
                n -= k;
        }
        return 0;
}

int pgzip_finish(PGzip *z) {
        uint8_t t[GZIP_TRAILER_SIZE];
        int r;

        if (!z)
                return -EINVAL;
        if (z->error < 0)
                return z->error;
        if (z->finished)
                return -EINVAL;
        z->finished = true;

        /* No input at all still needs a (final, empty) deflate block. */
        if (!z->cur) {
                r = block_start(z);
                if (r < 0)
                        return fail(z, r);
        }
        block_submit(z, true);

        r = flush_ready(z, 0);
        if (r < 0)
                return fail(z, r);

        for (size_t i = 0; i < 4; i++) {
                t[i] = (uint8_t) (z->crc >> (8 * i));
                t[4 + i] = (uint8_t) (z->bytes_in >> (8 * i));   /* ISIZE: length mod 2^32 */
        }
        r = emit(z, t, sizeof t);
        if (r < 0)
                return fail(z, r);
        return 0;
}

PGzip *pgzip_free(PGzip *z) {
        if (!z)
                return NULL;

        if (z->workers) {
                pthread_mutex_lock(&z->lock);
                z->stop = true;
                pthread_cond_broadcast(&z->work);
                pthread_mutex_unlock(&z->lock);

                for (unsigned i = 0; i < z->n_workers; i++) {
                        if (z->workers[i].started)
                                (void) pthread_join(z->workers[i].thread, NULL);
                        if (z->workers[i].strm_ready)
                                (void) deflateEnd(&z->workers[i].strm);
                }
                free(z->workers);
        }
        if (z->strm_ready)
                (void) deflateEnd(&z->strm);

        if (z->blocks)
                for (size_t i = 0; i < z->n_blocks; i++) {
                        free(z->blocks[i].buf);
                        free(z->blocks[i].out);
                }
        free(z->blocks);

        pthread_cond_destroy(&z->done);
        pthread_cond_destroy(&z->work);
        pthread_mutex_destroy(&z->lock);
        free(z);
        return NULL;
}

uint64_t pgzip_bytes_in(const PGzip *z) {
        return z ? z->bytes_in : 0;
}

uint64_t pgzip_bytes_out(const PGzip *z) {
        return z ? z->bytes_out : 0;
}

unsigned pgzip_threads(const PGzip *z) {
        return z ? z->threads : 0;
}
