/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <zlib.h>

#include "pgzip.h"
#include "test.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

/* ---- data ---------------------------------------------------------------- */

static uint64_t rnd(uint64_t *s) {
        /* xorshift64*: deterministic, so every run tests the same bytes */
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * UINT64_C(2685821657736338717);
}

static const char *const words[] = {
        "backup", "archive", "schedule", "the", "of", "and", "retention", "file", "directory",
        "journal", "systemd", "timer", "compress", "gzip", "block", "a", "to", "in", "is",
        "manifest", "restore", "verify", "worker", "engine", "snapshot", "daily", "weekly",
        "/etc/alexandria/", "/var/lib/", "error", "warning", "ok", "0644", "root", "2024-01-01",
};

/* Text-like: words, spaces and newlines, like logs and config files. */
static void fill_text(uint8_t *p, size_t n, uint64_t *s) {
        size_t i = 0;
        while (i < n) {
                const char *w = words[rnd(s) % ELEMENTSOF(words)];
                for (; *w && i < n; w++)
                        p[i++] = (uint8_t) *w;
                if (i < n)
                        p[i++] = rnd(s) % 9 == 0 ? '\n' : ' ';
        }
}

/* Mixed: text, random (incompressible) and runs in pieces of varying size,
 * so blocks of every kind and block boundaries inside each kind occur. */
static uint8_t *make_mixed(size_t n, uint64_t seed) {
        uint8_t *p = malloc(n ?: 1);
        uint64_t s = seed;
        ASSERT(p);
        for (size_t i = 0; i < n;) {
                size_t want = 1 + rnd(&s) % (300 * KIB), k = MIN(n - i, want);  /* MIN() evaluates twice */
                switch (rnd(&s) % 3) {
                case 0:
                        fill_text(p + i, k, &s);
                        break;
                case 1:
                        for (size_t j = 0; j < k; j++)
                                p[i + j] = (uint8_t) rnd(&s);
                        break;
                default:
                        memset(p + i, (int) (rnd(&s) & 0xff), k);
                }
                i += k;
        }
        return p;
}

/* ---- sinks --------------------------------------------------------------- */

typedef struct Buf {
        uint8_t *data;
        size_t len, cap;
        size_t fail_after;      /* SIZE_MAX: never */
        int fail_error;
        bool failed;
        unsigned calls_after_failure;
        pthread_t thread;       /* the thread the sink must be called from */
} Buf;

static void buf_init(Buf *b) {
        *b = (Buf) { .fail_after = SIZE_MAX, .fail_error = -ENOSPC, .thread = pthread_self() };
}

static int buf_sink(void *userdata, const void *p, size_t n) {
        Buf *b = userdata;

        ASSERT(n > 0);
        ASSERT(pthread_equal(pthread_self(), b->thread));
        if (b->failed)
                b->calls_after_failure++;
        if (b->len + n > b->fail_after) {
                b->failed = true;
                return b->fail_error;
        }
        if (b->len + n > b->cap) {
                b->cap = MAX(b->cap * 2, b->len + n);
                b->data = realloc(b->data, b->cap);
                ASSERT(b->data);
        }
        memcpy(b->data + b->len, p, n);
        b->len += n;
        return 0;
}

/* ---- helpers ------------------------------------------------------------- */

/* Compresses DATA written in pieces of 1, 2, 3, ... PIECE_MAX bytes (cycling;
 * 0 means one write). Returns the gzip bytes. */
static Buf compress_with(const uint8_t *data, size_t n, int level, unsigned threads, size_t piece_max) {
        _cleanup_pgzip_free_ PGzip *z = NULL;
        Buf out;

        buf_init(&out);
        ASSERT(pgzip_new(level, threads, buf_sink, &out, &z) == 0);
        if (piece_max == 0)
                ASSERT(pgzip_write(z, data, n) == 0);
        else
                for (size_t i = 0, k = 1; i < n; k = k % piece_max + 1) {
                        size_t m = MIN(k * 997, n - i);       /* odd sizes up to piece_max * 997 */
                        ASSERT(pgzip_write(z, data + i, m) == 0);
                        i += m;
                }
        ASSERT(pgzip_finish(z) == 0);
        ASSERT(pgzip_bytes_in(z) == n);
        ASSERT(pgzip_bytes_out(z) == out.len);
        return out;
}

/* Inflates in gzip mode and requires exactly one member that uses all input. */
static void check_gunzip(const Buf *gz, const uint8_t *data, size_t n) {
        z_stream s = {};
        uint8_t *out = malloc(n + 1);
        int r;

        ASSERT(out);
        ASSERT(inflateInit2(&s, 16 + 15) == Z_OK);
        s.next_in = gz->data;
        s.avail_in = (uInt) gz->len;
        s.next_out = out;
        s.avail_out = (uInt) (n + 1);   /* one spare byte: extra output would be caught */
        r = inflate(&s, Z_FINISH);
        ASSERT(r == Z_STREAM_END);
        ASSERT(s.avail_in == 0);
        ASSERT(s.total_out == n);
        ASSERT(n == 0 || memcmp(out, data, n) == 0);
        ASSERT(inflateEnd(&s) == Z_OK);
        free(out);

        /* Header: magic, deflate, no flags, mtime 0, Unix. */
        ASSERT(gz->len >= 18);
        ASSERT(gz->data[0] == 0x1f && gz->data[1] == 0x8b && gz->data[2] == 8 && gz->data[3] == 0);
        ASSERT(gz->data[4] == 0 && gz->data[5] == 0 && gz->data[6] == 0 && gz->data[7] == 0);
        ASSERT(gz->data[9] == 3);
}

static size_t single_stream_size(const uint8_t *data, size_t n, int level) {
        z_stream s = {};
        size_t cap, len;
        uint8_t *out;

        ASSERT(deflateInit2(&s, level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
        cap = deflateBound(&s, n) + 64;
        out = malloc(cap);
        ASSERT(out);
        s.next_in = (uint8_t *) data;
        s.avail_in = (uInt) n;
        s.next_out = out;
        s.avail_out = (uInt) cap;
        ASSERT(deflate(&s, Z_FINISH) == Z_STREAM_END);
        len = s.total_out;
        deflateEnd(&s);
        free(out);
        return len;
}

/* ---- tests --------------------------------------------------------------- */

static void test_invalid(void) {
        PGzip *z = NULL;
        Buf b;

        buf_init(&b);
        ASSERT(pgzip_new(10, 1, buf_sink, &b, &z) == -EINVAL);
        ASSERT(pgzip_new(-2, 1, buf_sink, &b, &z) == -EINVAL);
        ASSERT(pgzip_new(6, PGZIP_THREADS_MAX + 1, buf_sink, &b, &z) == -EINVAL);
        ASSERT(pgzip_new(6, 1, NULL, &b, &z) == -EINVAL);
        ASSERT(!z);

        /* threads 0 resolves to the CPUs we have; free without any write. */
        ASSERT(pgzip_new(-1, 0, buf_sink, &b, &z) == 0);
        ASSERT(pgzip_threads(z) >= 1 && pgzip_threads(z) <= PGZIP_THREADS_MAX);
        z = pgzip_free(z);
        ASSERT(b.len == 0);     /* nothing emitted without finish */

        ASSERT(pgzip_new(6, 2, buf_sink, &b, &z) == 0);
        ASSERT(pgzip_write(z, NULL, 0) == 0);
        ASSERT(pgzip_write(z, NULL, 1) == -EINVAL);
        ASSERT(pgzip_finish(z) == 0);
        ASSERT(pgzip_finish(z) == -EINVAL);
        ASSERT(pgzip_write(z, "x", 1) == -EINVAL);
        z = pgzip_free(z);
        ASSERT(!pgzip_free(NULL));
        free(b.data);
}

static void test_round_trip(void) {
        static const size_t sizes[] = {
                0, 1, PGZIP_BLOCK_SIZE - 1, PGZIP_BLOCK_SIZE, PGZIP_BLOCK_SIZE + 1,
                2 * PGZIP_BLOCK_SIZE, 3 * PGZIP_BLOCK_SIZE + PGZIP_DICT_SIZE, 10 * MIB,
        };
        static const unsigned threads[] = { 1, 2, 4 };

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                uint8_t *data = make_mixed(sizes[i], 42 + i);
                Buf ref = compress_with(data, sizes[i], 6, 1, 0);

                check_gunzip(&ref, data, sizes[i]);
                for (size_t t = 0; t < ELEMENTSOF(threads); t++) {
                        /* Odd-sized writes, several thread counts: same bytes as one write on one thread. */
                        Buf out = compress_with(data, sizes[i], 6, threads[t], 7);
                        ASSERT(out.len == ref.len);
                        ASSERT(memcmp(out.data, ref.data, ref.len) == 0);
                        free(out.data);
                }
                fprintf(stderr, "round trip %8zu bytes -> %8zu (threads 1, 2, 4 identical)\n", sizes[i], ref.len);
                free(ref.data);
                free(data);
        }
}

static void test_levels(void) {
        size_t n = 3 * MIB + 12345;
        uint8_t *data = make_mixed(n, 7);

        for (int level = 0; level <= 9; level++) {
                Buf a = compress_with(data, n, level, 1, 0);
                Buf b = compress_with(data, n, level, 3, 5);
                check_gunzip(&a, data, n);
                ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
                ASSERT(a.data[8] == (level == 9 ? 2 : level <= 1 ? 4 : 0));
                if (level == 1 || level == 9)
                        fprintf(stderr, "level %d: %zu -> %zu\n", level, n, a.len);
                free(a.data);
                free(b.data);
        }
        free(data);
}

static void test_ratio(void) {
        static const int levels[] = { 1, 6, 9 };
        size_t n = 8 * MIB;
        uint8_t *data = malloc(n);
        uint64_t s = 99;

        ASSERT(data);
        fill_text(data, n, &s);
        for (size_t l = 0; l < ELEMENTSOF(levels); l++) {
                int level = levels[l];
                size_t single = single_stream_size(data, n, level);
                Buf out = compress_with(data, n, level, 2, 0);
                double over = 100.0 * ((double) out.len - (double) single) / (double) single;

                check_gunzip(&out, data, n);
                fprintf(stderr, "ratio level %d: single-stream gzip %zu, pgzip %zu (%+.3f%%)\n",
                        level, single, out.len, over);
                ASSERT(over < 1.0);
                free(out.data);
        }
        free(data);
}

/* A sink that fails (ENOSPC) once FAIL_AFTER bytes are taken: the error comes
 * back from write or finish, stays, and pgzip_free() returns. */
static void test_failing_sink(void) {
        static const size_t fail_after[] = { 0, 5, 10, 1000, 300 * KIB, 2 * MIB };
        static const unsigned threads[] = { 1, 2, 4 };
        size_t n = 6 * MIB;
        uint8_t *data = make_mixed(n, 3);

        for (size_t f = 0; f < ELEMENTSOF(fail_after); f++)
                for (size_t t = 0; t < ELEMENTSOF(threads); t++) {
                        _cleanup_pgzip_free_ PGzip *z = NULL;
                        Buf out;
                        int r = 0;

                        buf_init(&out);
                        out.fail_after = fail_after[f];
                        ASSERT(pgzip_new(6, threads[t], buf_sink, &out, &z) == 0);
                        for (size_t i = 0; i < n && r == 0; i += 64 * KIB)
                                r = pgzip_write(z, data + i, MIN(64 * KIB, n - i));
                        if (r == 0)
                                r = pgzip_finish(z);
                        ASSERT(r == -ENOSPC);
                        /* sticky, and the sink is not called again */
                        ASSERT(pgzip_write(z, data, 10) == -ENOSPC);
                        ASSERT(pgzip_finish(z) == -ENOSPC);
                        ASSERT(out.failed && out.calls_after_failure == 0);
                        ASSERT(pgzip_bytes_out(z) == out.len);
                        ASSERT(out.len <= fail_after[f]);
                        z = pgzip_free(z);
                        free(out.data);
                }

        /* Free in the middle of a stream, with blocks queued and in flight. */
        for (size_t t = 0; t < ELEMENTSOF(threads); t++) {
                PGzip *z = NULL;
                Buf out;

                buf_init(&out);
                ASSERT(pgzip_new(9, threads[t], buf_sink, &out, &z) == 0);
                ASSERT(pgzip_write(z, data, n) == 0);
                z = pgzip_free(z);
                free(out.data);
        }
        free(data);
}

/* A different error code passes through unchanged. */
static void test_sink_error_code(void) {
        _cleanup_pgzip_free_ PGzip *z = NULL;
        uint8_t *data = make_mixed(MIB, 5);
        Buf out;

        buf_init(&out);
        out.fail_after = 100 * KIB;
        out.fail_error = -EIO;
        ASSERT(pgzip_new(1, 2, buf_sink, &out, &z) == 0);
        int r = pgzip_write(z, data, MIB);
        if (r == 0)
                r = pgzip_finish(z);
        ASSERT(r == -EIO);
        free(out.data);
        free(data);
}

/* gzip(1) and Python read the output, when they are installed. */
static void test_external_tools(void) {
        size_t n = 5 * MIB + 3;
        uint8_t *data = make_mixed(n, 11);
        Buf out = compress_with(data, n, 6, 2, 3);
        char dir[] = "/tmp/test-pgzip-XXXXXX", gz[64], raw[64], cmd[512];
        FILE *f;

        ASSERT(mkdtemp(dir));
        ASSERT(snprintf(gz, sizeof gz, "%s/data.gz", dir) < (int) sizeof gz);
        ASSERT(snprintf(raw, sizeof raw, "%s/data", dir) < (int) sizeof raw);
        ASSERT((f = fopen(gz, "we")));
        ASSERT(fwrite(out.data, 1, out.len, f) == out.len);
        ASSERT(fclose(f) == 0);
        ASSERT((f = fopen(raw, "we")));
        ASSERT(fwrite(data, 1, n, f) == n);
        ASSERT(fclose(f) == 0);

        if (system("command -v gzip >/dev/null 2>&1") == 0) {
                ASSERT(snprintf(cmd, sizeof cmd, "gzip -t '%s' && gzip -dc '%s' | cmp -s - '%s'", gz, gz, raw) < (int) sizeof cmd);
                ASSERT(system(cmd) == 0);
                fprintf(stderr, "gzip -t and gzip -d: ok\n");
        } else
                fprintf(stderr, "gzip not installed, skipped\n");

        if (system("command -v python3 >/dev/null 2>&1") == 0) {
                ASSERT(snprintf(cmd, sizeof cmd,
                                "python3 -c 'import gzip, sys; sys.exit(gzip.open(sys.argv[1]).read() != open(sys.argv[2], \"rb\").read())' '%s' '%s'",
                                gz, raw) < (int) sizeof cmd);
                ASSERT(system(cmd) == 0);
                fprintf(stderr, "python3 gzip: ok\n");
        } else
                fprintf(stderr, "python3 not installed, skipped\n");

        ASSERT(unlink(gz) == 0 && unlink(raw) == 0 && rmdir(dir) == 0);
        free(out.data);
        free(data);
}

int main(void) {
        test_invalid();
        test_round_trip();
        test_levels();
        test_ratio();
        test_failing_sink();
        test_sink_error_code();
        test_external_tools();
        return 0;
}
