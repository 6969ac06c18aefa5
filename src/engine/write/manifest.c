/* SPDX-License-Identifier: MIT */
#include <archive_entry.h>
#include <inttypes.h>

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

void sha256_zeros(Sha256 *h, uint64_t n) {
        static const uint8_t zeros[64 * 1024];
        while (n > 0) {
                size_t k = (size_t) MIN(n, (uint64_t) sizeof zeros);
                sha256_update(h, zeros, k);
                n -= k;
        }
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

char manifest_type_from_filetype(unsigned filetype) {
        switch (filetype) {
        case AE_IFREG:  return 'f';
        case AE_IFDIR:  return 'd';
        case AE_IFLNK:  return 'l';
        case AE_IFIFO:  return 'p';
        case AE_IFCHR:  return 'c';
        case AE_IFBLK:  return 'b';
        default:        return '?';
        }
}

void manifest_done(Manifest *m) {
        for (size_t i = 0; i < m->n; i++) {
                free(m->entries[i].path);
                free(m->entries[i].target);
        }
        free(m->entries);
        *m = (Manifest) {};
}

int manifest_add(Manifest *m, char type, const char *path, const char *target, uint64_t size,
                 const uint8_t *digest, size_t digest_len, const struct timespec *mtime) {
        if (digest && (digest_len == 0 || digest_len > SHA256_LEN))
                return -EINVAL;
        if (m->n == m->allocated) {
                size_t a = m->allocated ? m->allocated * 2 : 256;
                ManifestEntry *e = reallocarray(m->entries, a, sizeof *e);
                if (!e)
                        return -ENOMEM;
                m->entries = e;
                m->allocated = a;
        }
        ManifestEntry *e = &m->entries[m->n];
        *e = (ManifestEntry) { .type = type, .size = size };
        e->path = strdup(path);
        e->target = target ? strdup(target) : NULL;
        if (!e->path || (target && !e->target)) {
                free(e->path);
                free(e->target);
                return -ENOMEM;
        }
        if (digest) {
                memcpy(e->digest, digest, digest_len);
                e->digest_len = (uint8_t) digest_len;
        }
        if (mtime) {
                e->has_mtime = true;
                e->mtime = *mtime;
        }
        m->n++;
        return 0;
}

bool manifest_digest_matches(const ManifestEntry *e, const uint8_t digest[static SHA256_LEN]) {
        return e->digest_len > 0 && memcmp(e->digest, digest, e->digest_len) == 0;
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

void manifest_put_entry(FILE *f, const ManifestEntry *e) {
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

/* One line [p, eol) without its newline: "T DIGEST SIZE PATH[\tTARGET]".
 * Every read stays inside the line. */
static int parse_line(const char *p, const char *eol, Manifest *m) {
        uint8_t digest[SHA256_LEN];
        const char *c = p;

        if (eol - c < 2 || !memchr("fhdlpcb", c[0], 7) || c[1] != ' ')
                return -EBADMSG;
        char type = c[0];
        c += 2;
        size_t digest_len = 0;
        if (type == 'f') {
                const char *digest_end = memchr(c, ' ', (size_t) (eol - c));
                if (!digest_end)
                        return -EBADMSG;
                digest_len = (size_t) (digest_end - c) / 2;
                if ((size_t) (digest_end - c) != 2 * digest_len ||
                    (digest_len != SHA256_LEN && digest_len != MANIFEST_DIGEST_LEN))
                        return -EBADMSG;
                for (size_t k = 0; k < digest_len; k++) {
                        int hi = hexval(c[2 * k]), lo = hexval(c[2 * k + 1]);
                        if (hi < 0 || lo < 0)
                                return -EBADMSG;
                        digest[k] = (uint8_t) (hi << 4 | lo);
                }
                c = digest_end;
        } else {
                if (c == eol || *c != '-')
                        return -EBADMSG;
                c++;
        }
        if (c == eol || *c != ' ')
                return -EBADMSG;
        c++;
        const char *size_end = memchr(c, ' ', (size_t) (eol - c));
        if (!size_end)
                return -EBADMSG;
        const char *at = memchr(c, '@', (size_t) (size_end - c));
        uint64_t size, sec = 0, nsec = 0;
        if (parse_size(c, at ?: size_end, &size) < 0)
                return -EBADMSG;
        struct timespec mtime;
        if (at) {
                const char *dot = memchr(at, '.', (size_t) (size_end - at));
                /* seconds since 1970 (nothing older is stored: see write.c), nine digits of nanoseconds */
                if (!dot || size_end - dot != 10 || parse_size(at + 1, dot, &sec) < 0 ||
                    parse_size(dot + 1, size_end, &nsec) < 0 || sec > INT64_MAX)
                        return -EBADMSG;
                mtime = (struct timespec) { .tv_sec = (time_t) sec, .tv_nsec = (long) nsec };
        }
        c = size_end + 1;
        if (c == eol)
                return -EBADMSG;        /* no path */
        const char *tab = memchr(c, '\t', (size_t) (eol - c));
        /* only hard links name a target */
        if ((type == 'h') != !!tab)
                return -EBADMSG;
        _cleanup_free_ char *path = manifest_unescape_name(c, tab ?: eol);
        _cleanup_free_ char *target = tab ? manifest_unescape_name(tab + 1, eol) : NULL;
        if (!path || (tab && !target))
                return -EBADMSG;
        if (isempty(path) || (tab && isempty(target)))
                return -EBADMSG;
        return manifest_add(m, type, path, target, size, type == 'f' ? digest : NULL, digest_len, at ? &mtime : NULL);
}

int manifest_parse(const char *text, size_t len, Manifest *ret, size_t *ret_line) {
        _cleanup_(manifest_done) Manifest m = {};
        const char *p = text, *end = text + len;
        size_t line = 0;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));
                line++;
                int r = eol ? parse_line(p, eol, &m) : -EBADMSG;
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
