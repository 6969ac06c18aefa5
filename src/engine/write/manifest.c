/* SPDX-License-Identifier: MIT */
#include <archive_entry.h>
#include <inttypes.h>
#include <zlib.h>

#include "manifest.h"

int sha256_init(Sha256 *h) {
        h->ctx = EVP_MD_CTX_new();
        if (!h->ctx)
                return -ENOMEM;
        if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
                sha256_done(h);
                return -EIO;
        }
        return 0;
}

void sha256_update(Sha256 *h, const void *buf, size_t n) {
        if (n > 0)
                (void) EVP_DigestUpdate(h->ctx, buf, n);
}

void sha256_final(Sha256 *h, uint8_t out[static SHA256_LEN]) {
        unsigned len = SHA256_LEN;
        (void) EVP_DigestFinal_ex(h->ctx, out, &len);
        /* ready for the next file */
        (void) EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
}

void sha256_done(Sha256 *h) {
        EVP_MD_CTX_free(h->ctx);
        h->ctx = NULL;
}

int content_hash_init(ContentHash *h) {
        *h = (ContentHash) {};
        return sha256_init(&h->sha);
}

void content_hash_start(ContentHash *h, uint64_t size, bool every_kind) {
        h->want_crc = size <= MANIFEST_CRC_MAX;
        h->want_sha = !h->want_crc || every_kind;
        h->crc = (uint32_t) crc32(0, NULL, 0);
}

void content_hash_update(ContentHash *h, const void *buf, size_t n) {
        if (h->want_crc) {
                /* zlib takes uInt lengths; only small files are CRC'd, but stay exact */
                for (size_t done = 0; done < n;) {
                        uInt k = (uInt) MIN(n - done, (size_t) (1u << 30));
                        h->crc = (uint32_t) crc32(h->crc, (const Bytef *) buf + done, k);
                        done += k;
                }
        }
        if (h->want_sha)
                sha256_update(&h->sha, buf, n);
}

void content_hash_zeros(ContentHash *h, uint64_t n) {
        static const uint8_t zeros[64 * 1024];
        while (n > 0) {
                size_t k = (size_t) MIN(n, (uint64_t) sizeof zeros);
                content_hash_update(h, zeros, k);
                n -= k;
        }
}

void content_hash_final(ContentHash *h, ContentDigest *ret) {
        *ret = (ContentDigest) { .crc = h->crc, .has_crc = h->want_crc, .has_sha = h->want_sha };
        /* final even when unused: the context is ready for the next entry */
        sha256_final(&h->sha, ret->sha);
}

void content_hash_done(ContentHash *h) {
        sha256_done(&h->sha);
}

char manifest_type_from_filetype(unsigned filetype) {
        switch (filetype) {
        case AE_IFREG:  return 'f';
        case AE_IFDIR:  return 'd';
        case AE_IFLNK:  return 'l';
        case AE_IFIFO:  return 'p';
        case AE_IFCHR:  return 'c';
        case AE_IFBLK:  return 'b';
        case AE_IFSOCK: return 's';
        default:        return '?';
        }
}

void manifest_entry_done(ManifestEntry *e) {
        free(e->path);
        free(e->target);
        *e = (ManifestEntry) {};
}

void manifest_done(Manifest *m) {
        for (size_t i = 0; i < m->n; i++)
                manifest_entry_done(&m->entries[i]);
        free(m->entries);
        *m = (Manifest) {};
}

int manifest_append(Manifest *m, ManifestEntry *e) {
        if (m->n == m->allocated) {
                size_t a = m->allocated ? m->allocated * 2 : 256;
                ManifestEntry *entries = reallocarray(m->entries, a, sizeof *entries);
                if (!entries)
                        return -ENOMEM;
                m->entries = entries;
                m->allocated = a;
        }
        m->entries[m->n++] = *e;
        *e = (ManifestEntry) {};
        return 0;
}

/* A CRC-32 as the manifest writes it: big-endian, so its hex reads as the number. */
static void crc_bytes(uint32_t crc, uint8_t out[static MANIFEST_CRC_LEN]) {
        for (size_t k = 0; k < MANIFEST_CRC_LEN; k++)
                out[k] = (uint8_t) (crc >> (8 * (MANIFEST_CRC_LEN - 1 - k)));
}

bool manifest_digest_matches(const ManifestEntry *e, const ContentDigest *d) {
        if (e->digest_len == MANIFEST_CRC_LEN) {
                uint8_t crc[MANIFEST_CRC_LEN];
                crc_bytes(d->crc, crc);
                return d->has_crc && memcmp(e->digest, crc, MANIFEST_CRC_LEN) == 0;
        }
        return e->digest_len > 0 && d->has_sha && memcmp(e->digest, d->sha, e->digest_len) == 0;
}

bool manifest_entry_mtime(const ManifestEntry *e, time_t header_sec, struct timespec *ret) {
        if (!e->has_mtime)
                return false;
        *ret = e->mtime;
        if (e->mtime_nsec_only)
                ret->tv_sec = header_sec;
        return true;
}

void manifest_put_name(FILE *f, const char *s) {
        for (; *s; s++)
                switch (*s) {
                case '\\': fputs("\\\\", f); break;
                case '\n': fputs("\\n", f); break;
                case '\r': fputs("\\r", f); break;
                case '\t': fputs("\\t", f); break;
                default: fputc(*s, f);
                }
}

/* "T DIGEST NSEC\n" in one write: the writer puts one a file. */
static void put_positional_line(FILE *f, char type, const uint8_t *digest, size_t digest_len, const struct timespec *mtime) {
        static const char hex[] = "0123456789abcdef";
        char line[2 + 2 * SHA256_LEN + 1 + 9 + 2], *o = line;

        *o++ = type;
        *o++ = ' ';
        if (digest_len == 0)
                *o++ = '-';
        for (size_t k = 0; k < digest_len; k++) {
                *o++ = hex[digest[k] >> 4];
                *o++ = hex[digest[k] & 15];
        }
        *o++ = ' ';
        if (mtime) {
                long ns = mtime->tv_nsec;
                for (int k = 8; k >= 0; k--, ns /= 10)
                        o[k] = (char) ('0' + ns % 10);
                o += 9;
        } else
                *o++ = '-';
        *o++ = '\n';
        fwrite(line, 1, (size_t) (o - line), f);
}

void manifest_put_positional(FILE *f, char type, const ContentDigest *digest, const struct timespec *mtime) {
        uint8_t crc[MANIFEST_CRC_LEN];
        crc_bytes(digest->crc, crc);
        if (type != 'f')
                put_positional_line(f, type, NULL, 0, mtime);
        else if (digest->has_crc)
                put_positional_line(f, type, crc, MANIFEST_CRC_LEN, mtime);
        else
                put_positional_line(f, type, digest->sha, MANIFEST_DIGEST_LEN, mtime);
}

void manifest_put_entry(FILE *f, const ManifestEntry *e) {
        if (!e->path) {
                put_positional_line(f, e->type, e->digest, e->type == 'f' ? e->digest_len : 0,
                                    e->has_mtime ? &e->mtime : NULL);
                return;
        }
        fputc(e->type, f);
        fputc(' ', f);
        if (e->type == 'f' && e->digest_len > 0)
                for (size_t k = 0; k < e->digest_len; k++)
                        fprintf(f, "%02x", e->digest[k]);
        else
                fputc('-', f);
        fprintf(f, " %" PRIu64, e->size);
        if (e->has_mtime)
                fprintf(f, "@%" PRId64 ".%09ld", (int64_t) e->mtime.tv_sec, e->mtime.tv_nsec);
        fputc(' ', f);
        manifest_put_name(f, e->path);
        if (e->target) {
                fputc('\t', f);
                manifest_put_name(f, e->target);
        }
        fputc('\n', f);
}

int manifest_format(const Manifest *m, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;

        if (m->positional)
                fputs(MANIFEST_HEADER, f);
        for (size_t i = 0; i < m->n; i++)
                manifest_put_entry(f, &m->entries[i]);
        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;
        fclose(TAKE_PTR(f));
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* Unescapes [s, end) into a new string; NULL on a bad escape, a NUL byte
 * (no name holds one: the line is damaged) or OOM. */
char *manifest_unescape_name(const char *s, const char *end) {
        char *out = malloc((size_t) (end - s) + 1), *o = out;
        if (!out)
                return NULL;
        while (s < end) {
                if (*s == 0)
                        goto bad;
                if (*s != '\\') {
                        *o++ = *s++;
                        continue;
                }
                if (++s == end)
                        goto bad;
                switch (*s++) {
                case '\\': *o++ = '\\'; break;
                case 'n': *o++ = '\n'; break;
                case 'r': *o++ = '\r'; break;
                case 't': *o++ = '\t'; break;
                default: goto bad;
                }
        }
        *o = 0;
        return out;
bad:
        free(out);
        return NULL;
}

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Parses the decimal number that fills [s, end) exactly: no sign, no
 * spaces, no overflow. strtoull() would skip leading whitespace, newlines
 * included, and run past the line. */
static int parse_size(const char *s, const char *end, uint64_t *ret) {
        uint64_t v = 0;
        if (s == end)
                return -EBADMSG;
        for (; s < end; s++) {
                if (*s < '0' || *s > '9')
                        return -EBADMSG;
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -EBADMSG;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

/* The hex digest at C up to the next space, of one of the lengths
 * POSITIONAL allows; *RET_END is the space. */
static int parse_digest(const char *c, const char *eol, bool positional, ManifestEntry *e, const char **ret_end) {
        const char *end = memchr(c, ' ', (size_t) (eol - c));
        if (!end)
                return -EBADMSG;
        size_t len = (size_t) (end - c) / 2;
        if ((size_t) (end - c) != 2 * len)
                return -EBADMSG;
        if (positional ? len != MANIFEST_CRC_LEN && len != MANIFEST_DIGEST_LEN
                       : len != SHA256_LEN && len != MANIFEST_DIGEST_LEN)
                return -EBADMSG;
        for (size_t k = 0; k < len; k++) {
                int hi = hexval(c[2 * k]), lo = hexval(c[2 * k + 1]);
                if (hi < 0 || lo < 0)
                        return -EBADMSG;
                e->digest[k] = (uint8_t) (hi << 4 | lo);
        }
        e->digest_len = (uint8_t) len;
        *ret_end = end;
        return 0;
}

/* Positional, after "T DIGEST ": nine digits of nanoseconds, or "-". */
static int parse_nsec(const char *c, const char *eol, ManifestEntry *e) {
        uint64_t nsec;
        if (eol - c == 1 && *c == '-')
                return 0;
        if (eol - c != 9 || parse_size(c, eol, &nsec) < 0)
                return -EBADMSG;
        e->has_mtime = e->mtime_nsec_only = true;
        e->mtime = (struct timespec) { .tv_nsec = (long) nsec };
        return 0;
}

int manifest_parse_line(const char *p, const char *eol, bool positional, ManifestEntry *ret) {
        _cleanup_(manifest_entry_done) ManifestEntry e = {};
        const char *c = p;
        int r;

        /* every read stays inside the line */
        if (eol - c < 2 || !memchr(positional ? "fhdlpcbs" : "fhdlpcb", c[0], positional ? 8 : 7) || c[1] != ' ')
                return -EBADMSG;
        e.type = c[0];
        c += 2;
        if (e.type == 'f') {
                r = parse_digest(c, eol, positional, &e, &c);
                if (r < 0)
                        return r;
        } else {
                if (c == eol || *c != '-')
                        return -EBADMSG;
                c++;
        }
        if (c == eol || *c != ' ')
                return -EBADMSG;
        c++;
        if (positional) {
                r = parse_nsec(c, eol, &e);
                if (r < 0)
                        return r;
                *ret = e;
                e = (ManifestEntry) {};
                return 0;
        }

        const char *size_end = memchr(c, ' ', (size_t) (eol - c));
        if (!size_end)
                return -EBADMSG;
        const char *at = memchr(c, '@', (size_t) (size_end - c));
        uint64_t sec = 0, nsec = 0;
        if (parse_size(c, at ?: size_end, &e.size) < 0)
                return -EBADMSG;
        if (at) {
                const char *dot = memchr(at, '.', (size_t) (size_end - at));
                /* seconds since 1970 (nothing older is stored: see write.c), nine digits of nanoseconds */
                if (!dot || size_end - dot != 10 || parse_size(at + 1, dot, &sec) < 0 ||
                    parse_size(dot + 1, size_end, &nsec) < 0 || sec > INT64_MAX)
                        return -EBADMSG;
                e.has_mtime = true;
                e.mtime = (struct timespec) { .tv_sec = (time_t) sec, .tv_nsec = (long) nsec };
        }
        c = size_end + 1;
        if (c == eol)
                return -EBADMSG;        /* no path */
        const char *tab = memchr(c, '\t', (size_t) (eol - c));
        /* only hard links name a target */
        if ((e.type == 'h') != !!tab)
                return -EBADMSG;
        e.path = manifest_unescape_name(c, tab ?: eol);
        e.target = tab ? manifest_unescape_name(tab + 1, eol) : NULL;
        if (!e.path || (tab && !e.target))
                return -EBADMSG;
        if (isempty(e.path) || (tab && isempty(e.target)))
                return -EBADMSG;
        *ret = e;
        e = (ManifestEntry) {};
        return 0;
}

bool manifest_is_positional(const char *text, size_t len) {
        size_t h = strlen(MANIFEST_HEADER);
        return len >= h && memcmp(text, MANIFEST_HEADER, h) == 0;
}

int manifest_parse(const char *text, size_t len, Manifest *ret, size_t *ret_line) {
        _cleanup_(manifest_done) Manifest m = { .positional = manifest_is_positional(text, len) };
        const char *p = text, *end = text + len;
        size_t line = 0;

        if (m.positional) {
                p += strlen(MANIFEST_HEADER);
                line++;
        }
        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));
                ManifestEntry e = {};
                line++;
                int r = eol ? manifest_parse_line(p, eol, m.positional, &e) : -EBADMSG;
                if (r == 0) {
                        r = manifest_append(&m, &e);
                        manifest_entry_done(&e);
                }
                if (r < 0) {
                        if (ret_line)
                                *ret_line = line;
                        return r;
                }
                p = eol + 1;
        }
        *ret = m;
        m = (Manifest) {};
        return 0;
}

static int entry_compare(const void *a, const void *b) {
        return strcmp(((const ManifestEntry *) a)->path, ((const ManifestEntry *) b)->path);
}

void manifest_sort(Manifest *m) {
        if (m->n > 1)
                qsort(m->entries, m->n, sizeof *m->entries, entry_compare);
}

ManifestEntry *manifest_lookup(const Manifest *m, const char *path) {
        size_t lo = 0, hi = m->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(m->entries[mid].path, path);
                if (c == 0)
                        return &m->entries[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}
