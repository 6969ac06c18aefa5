/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <fts.h>
#include <limits.h>
#include <sys/stat.h>
#include <zlib.h>

#include "fileio.h"
#include "index.h"

#define INDEX_MAGIC "ALXINDEX"
#define INDEX_MAGIC_LEN 8
#define BUFFER_SIZE (128 * 1024)
#define STRING_MAX 4096                 /* header strings */
#define CHAIN_MAX 100000                /* archives in one chain */
#define VARINT_MAX 10

void index_header_done(IndexHeader *h) {
        free(h->schedule);
        free(h->fingerprint);
        strv_free(h->chain);
        *h = (IndexHeader) {};
}

int index_file_name(const char *schedule, char **ret) {
        return asprintf(ret, ".alexandria-%s.index", schedule) < 0 ? -ENOMEM : 0;
}

int index_path_compare(const char *a, const char *b) {
        const unsigned char *x = (const unsigned char *) a, *y = (const unsigned char *) b;
        while (*x && *x == *y)
                x++, y++;
        if (*x == *y)
                return 0;
        /* the end of a name sorts first: "d" < "d/x" < "d.x" */
        unsigned cx = *x == '/' ? 0 : *x, cy = *y == '/' ? 0 : *y;
        if (*x == 0)
                return -1;
        if (*y == 0)
                return 1;
        return cx < cy ? -1 : 1;
}

int index_fts_compare(const FTSENT **a, const FTSENT **b) {
        return strcmp((*a)->fts_name, (*b)->fts_name);
}

void index_record_from_stat(IndexRecord *rec, const char *path, unsigned source, const struct stat *st) {
        *rec = (IndexRecord) {
                .path = path,
                .source = source,
                .mode = st->st_mode,
                .uid = st->st_uid,
                .gid = st->st_gid,
                .size = S_ISREG(st->st_mode) || S_ISLNK(st->st_mode) ? (uint64_t) st->st_size : 0,
                .ino = st->st_ino,
                .mtime_sec = st->st_mtim.tv_sec,
                .mtime_nsec = (uint32_t) st->st_mtim.tv_nsec,
                .ctime_sec = st->st_ctim.tv_sec,
                .ctime_nsec = (uint32_t) st->st_ctim.tv_nsec,
        };
}

bool index_record_same(const IndexRecord *a, const IndexRecord *b) {
        return a->mode == b->mode && a->uid == b->uid && a->gid == b->gid && a->size == b->size &&
               a->ino == b->ino && a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
               a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

/* ---- varints (LEB128) ---- */

static size_t put_varint(uint8_t *p, uint64_t v) {
        size_t n = 0;
        while (v >= 0x80) {
                p[n++] = (uint8_t) (v | 0x80);
                v >>= 7;
        }
        p[n++] = (uint8_t) v;
        return n;
}

static uint64_t zigzag(int64_t v) {
        return ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);
}

static int64_t unzigzag(uint64_t v) {
        return (int64_t) (v >> 1) ^ -(int64_t) (v & 1);
}

/* ---- writing ---- */

struct IndexWriter {
        AtomicFile file;
        uint8_t *buf;
        size_t used;
        uLong crc;
        char *last;             /* previous path */
        size_t last_len, last_allocated;
        unsigned last_source;
        uint64_t records;
        int error;              /* sticky */
};

static int writer_flush(IndexWriter *w) {
        if (w->used == 0)
                return 0;
        w->crc = crc32(w->crc, w->buf, (uInt) w->used);
        int r = loop_write(w->file.fd, w->buf, w->used);
        w->used = 0;
        return r;
}

static int writer_put(IndexWriter *w, const void *data, size_t n) {
        const uint8_t *p = data;
        while (n > 0) {
                if (w->used == BUFFER_SIZE) {
                        int r = writer_flush(w);
                        if (r < 0)
                                return r;
                }
                size_t k = MIN(n, BUFFER_SIZE - w->used);
                memcpy(w->buf + w->used, p, k);
                w->used += k;
                p += k;
                n -= k;
        }
        return 0;
}

static int writer_varint(IndexWriter *w, uint64_t v) {
        uint8_t b[VARINT_MAX];
        return writer_put(w, b, put_varint(b, v));
}

static int writer_string(IndexWriter *w, const char *s) {
        size_t n = strlen(s);
        if (n > STRING_MAX)
                return -E2BIG;
        int r = writer_varint(w, n);
        return r < 0 ? r : writer_put(w, s, n);
}

IndexWriter *index_writer_free(IndexWriter *w) {
        if (!w)
                return NULL;
        atomic_file_abort(&w->file);
        free(w->buf);
        free(w->last);
        free(w);
        return NULL;
}

int index_writer_open(int dir_fd, const char *name, const IndexHeader *h, IndexWriter **ret) {
        _cleanup_(index_writer_freep) IndexWriter *w = calloc(1, sizeof *w);
        int r;

        if (!w)
                return -ENOMEM;
        w->file = ATOMIC_FILE_NULL;
        w->buf = malloc(BUFFER_SIZE);
        if (!w->buf)
                return -ENOMEM;
        w->crc = crc32(0, NULL, 0);
        r = atomic_file_open(dir_fd, name, 0600, &w->file);
        if (r < 0)
                return r;

        uint8_t version = INDEX_VERSION;
        r = writer_put(w, INDEX_MAGIC, INDEX_MAGIC_LEN);
        if (r >= 0)
                r = writer_put(w, &version, 1);
        if (r >= 0)
                r = writer_string(w, h->schedule);
        if (r >= 0)
                r = writer_string(w, strempty(h->fingerprint));
        if (r >= 0)
                r = writer_varint(w, h->walk_start_usec);
        if (r >= 0)
                r = writer_varint(w, strv_length(h->chain));
        STRV_FOREACH(a, h->chain)
                if (r >= 0)
                        r = writer_string(w, *a);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(w);
        return 0;
}

int index_writer_add(IndexWriter *w, const IndexRecord *rec) {
        if (w->error < 0)
                return w->error;

        size_t len = strlen(rec->path), shared = 0;
        if (w->records > 0) {
                if (rec->source < w->last_source ||
                    (rec->source == w->last_source && index_path_compare(w->last, rec->path) >= 0))
                        return w->error = -EINVAL;
                while (shared < len && shared < w->last_len && w->last[shared] == rec->path[shared])
                        shared++;
        }

        uint8_t b[11 * VARINT_MAX], *p = b;
        p += put_varint(p, shared + 1);
        p += put_varint(p, len - shared);
        int r = writer_put(w, b, (size_t) (p - b));
        if (r >= 0)
                r = writer_put(w, rec->path + shared, len - shared);
        if (r < 0)
                return w->error = r;
        p = b;
        p += put_varint(p, rec->source);
        p += put_varint(p, rec->mode);
        p += put_varint(p, rec->uid);
        p += put_varint(p, rec->gid);
        p += put_varint(p, rec->size);
        p += put_varint(p, rec->ino);
        p += put_varint(p, zigzag(rec->mtime_sec));
        p += put_varint(p, rec->mtime_nsec);
        p += put_varint(p, zigzag(rec->ctime_sec - rec->mtime_sec));
        p += put_varint(p, rec->ctime_nsec);
        r = writer_put(w, b, (size_t) (p - b));
        if (r < 0)
                return w->error = r;

        if (len + 1 > w->last_allocated) {
                size_t a = MAX(len + 1, 2 * w->last_allocated);
                char *n = realloc(w->last, a);
                if (!n)
                        return w->error = -ENOMEM;
                w->last = n;
                w->last_allocated = a;
        }
        memcpy(w->last, rec->path, len + 1);
        w->last_len = len;
        w->last_source = rec->source;
        w->records++;
        return 0;
}

uint64_t index_writer_records(const IndexWriter *w) {
        return w->records;
}

int index_writer_commit(IndexWriter *w) {
        int r;

        if (w->error < 0)
                return w->error;
        r = writer_varint(w, 0);
        if (r >= 0)
                r = writer_varint(w, w->records);
        if (r >= 0)
                r = writer_flush(w);
        if (r < 0)
                return r;
        uint8_t crc[4] = { (uint8_t) w->crc, (uint8_t) (w->crc >> 8), (uint8_t) (w->crc >> 16), (uint8_t) (w->crc >> 24) };
        r = loop_write(w->file.fd, crc, sizeof crc);
        if (r < 0)
                return r;
        return atomic_file_commit(&w->file, true);
}

/* ---- reading ---- */

struct IndexReader {
        int fd;
        uint8_t *buf;
        size_t pos, len;
        bool eof;
        char *path;             /* the current record's */
        size_t path_len, path_allocated;
        uint64_t records, expected;
        bool done;
};

IndexReader *index_reader_free(IndexReader *r) {
        if (!r)
                return NULL;
        safe_close(r->fd);
        free(r->buf);
        free(r->path);
        free(r);
        return NULL;
}

/* Keeps at least N bytes (or what is left of the file) in the buffer. */
static int reader_fill(IndexReader *r, size_t n) {
        if (r->len - r->pos >= n || r->eof)
                return 0;
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
        while (r->len < BUFFER_SIZE && !r->eof) {
                ssize_t k = read(r->fd, r->buf + r->len, BUFFER_SIZE - r->len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        r->eof = true;
                r->len += (size_t) k;
        }
        return 0;
}

static int reader_varint(IndexReader *r, uint64_t *ret) {
        int k = reader_fill(r, VARINT_MAX);
        if (k < 0)
                return k;
        uint64_t v = 0;
        for (unsigned shift = 0; shift < 64; shift += 7) {
                if (r->pos == r->len)
                        return -EBADMSG;
                uint8_t b = r->buf[r->pos++];
                v |= (uint64_t) (b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *ret = v;
                        return 0;
                }
        }
        return -EBADMSG;
}

static int reader_bytes(IndexReader *r, void *out, size_t n) {
        uint8_t *o = out;
        while (n > 0) {
                int k = reader_fill(r, MIN(n, (size_t) BUFFER_SIZE));
                if (k < 0)
                        return k;
                if (r->pos == r->len)
                        return -EBADMSG;
                size_t c = MIN(n, r->len - r->pos);
                memcpy(o, r->buf + r->pos, c);
                r->pos += c;
                o += c;
                n -= c;
        }
        return 0;
}

static int reader_string(IndexReader *r, char **ret) {
        uint64_t n;
        int k = reader_varint(r, &n);
        if (k < 0)
                return k;
        if (n > STRING_MAX)
                return -EBADMSG;
        char *s = malloc(n + 1);
        if (!s)
                return -ENOMEM;
        k = reader_bytes(r, s, n);
        if (k < 0) {
                free(s);
                return k;
        }
        s[n] = 0;
        if (strlen(s) != n) {
                free(s);
                return -EBADMSG;
        }
        *ret = s;
        return 0;
}

/* The whole file against its CRC, before anything in it is believed. */
static int check_crc(int fd, char **ret_error) {
        _cleanup_free_ uint8_t *buf = malloc(BUFFER_SIZE);
        uint8_t tail[4];
        uLong crc = crc32(0, NULL, 0);
        uint64_t total = 0;
        size_t held = 0;        /* the last bytes read, which may be the CRC */

        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf, BUFFER_SIZE);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                total += (uint64_t) k;
                /* everything but the final 4 bytes goes into the CRC */
                size_t n = (size_t) k;
                if (n >= 4) {
                        crc = crc32(crc, tail, (uInt) held);
                        crc = crc32(crc, buf, (uInt) (n - 4));
                        memcpy(tail, buf + n - 4, 4);
                        held = 4;
                } else {
                        size_t drop = held + n > 4 ? held + n - 4 : 0;
                        crc = crc32(crc, tail, (uInt) drop);
                        memmove(tail, tail + drop, held - drop);
                        memcpy(tail + held - drop, buf, n);
                        held = held - drop + n;
                }
        }
        if (total < INDEX_MAGIC_LEN + 1 + 4 || held < 4) {
                *ret_error = strdup("truncated");
                return -EBADMSG;
        }
        uint32_t stored = (uint32_t) tail[0] | (uint32_t) tail[1] << 8 | (uint32_t) tail[2] << 16 | (uint32_t) tail[3] << 24;
        if (stored != (uint32_t) crc) {
                *ret_error = strdup("its checksum does not match its contents");
                return -EBADMSG;
        }
        if (lseek(fd, 0, SEEK_SET) < 0)
                return negative_errno();
        return 0;
}

int index_reader_open(int dir_fd, const char *name, IndexReader **ret, IndexHeader *ret_header, char **ret_error) {
        _cleanup_(index_reader_freep) IndexReader *r = calloc(1, sizeof *r);
        _cleanup_(index_header_done) IndexHeader h = {};
        char magic[INDEX_MAGIC_LEN];
        uint8_t version;
        uint64_t chain_len;
        struct stat st;
        int k;

        *ret_error = NULL;
        if (!r)
                return -ENOMEM;
        r->fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (r->fd < 0)
                return negative_errno();
        if (fstat(r->fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode)) {
                *ret_error = strdup("not a regular file");
                return -EBADMSG;
        }
        r->buf = malloc(BUFFER_SIZE);
        if (!r->buf)
                return -ENOMEM;
        k = check_crc(r->fd, ret_error);
        if (k < 0)
                return k;

        k = reader_bytes(r, magic, sizeof magic);
        if (k >= 0 && memcmp(magic, INDEX_MAGIC, INDEX_MAGIC_LEN) != 0)
                k = -EBADMSG;
        if (k >= 0)
                k = reader_bytes(r, &version, 1);
        if (k >= 0 && version != INDEX_VERSION) {
                if (asprintf(ret_error, "version %u, not %u", version, INDEX_VERSION) < 0)
                        *ret_error = NULL;
                return -EBADMSG;
        }
        if (k >= 0)
                k = reader_string(r, &h.schedule);
        if (k >= 0)
                k = reader_string(r, &h.fingerprint);
        if (k >= 0)
                k = reader_varint(r, &h.walk_start_usec);
        if (k >= 0)
                k = reader_varint(r, &chain_len);
        if (k >= 0 && chain_len > CHAIN_MAX)
                k = -EBADMSG;
        for (uint64_t i = 0; k >= 0 && i < chain_len; i++) {
                char *a;
                k = reader_string(r, &a);
                if (k >= 0)
                        k = strv_push(&h.chain, a);
        }
        if (k < 0) {
                if (k == -EBADMSG && !*ret_error)
                        *ret_error = strdup("its header is malformed");
                return k;
        }
        *ret_header = h;
        h = (IndexHeader) {};
        *ret = TAKE_PTR(r);
        return 0;
}

int index_reader_next(IndexReader *r, IndexRecord *ret) {
        uint64_t shared, rest, v[10];
        int k;

        if (r->done)
                return 0;
        k = reader_varint(r, &shared);
        if (k < 0)
                return k;
        if (shared == 0) {
                /* the end: the count must agree */
                k = reader_varint(r, &r->expected);
                if (k < 0)
                        return k;
                if (r->expected != r->records)
                        return -EBADMSG;
                r->done = true;
                return 0;
        }
        shared--;
        k = reader_varint(r, &rest);
        if (k < 0)
                return k;
        if (shared > r->path_len || rest > PATH_MAX * 16 || (r->records == 0 && shared > 0))
                return -EBADMSG;
        size_t len = (size_t) (shared + rest);
        if (len + 1 > r->path_allocated) {
                size_t a = MAX(len + 1, 2 * r->path_allocated);
                char *n = realloc(r->path, a);
                if (!n)
                        return -ENOMEM;
                r->path = n;
                r->path_allocated = a;
        }
        k = reader_bytes(r, r->path + shared, (size_t) rest);
        if (k < 0)
                return k;
        r->path[len] = 0;
        if (strlen(r->path) != len)
                return -EBADMSG;
        r->path_len = len;

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                k = reader_varint(r, &v[i]);
                if (k < 0)
                        return k;
        }
        if (v[0] > UINT_MAX || v[1] > UINT32_MAX || v[2] > UINT32_MAX || v[3] > UINT32_MAX ||
            v[7] >= 1000000000 || v[9] >= 1000000000)
                return -EBADMSG;
        *ret = (IndexRecord) {
                .path = r->path,
                .source = (unsigned) v[0],
                .mode = (uint32_t) v[1],
                .uid = (uint32_t) v[2],
                .gid = (uint32_t) v[3],
                .size = v[4],
                .ino = v[5],
                .mtime_sec = unzigzag(v[6]),
                .mtime_nsec = (uint32_t) v[7],
                .ctime_sec = unzigzag(v[6]) + unzigzag(v[8]),
                .ctime_nsec = (uint32_t) v[9],
        };
        r->records++;
        return 1;
}

uint64_t index_reader_records(const IndexReader *r) {
        return r->records;
}
