/* SPDX-License-Identifier: MIT */
/* Archive encryption; the format is specified in docs/encryption-format.md.
 *
 * Design in short:
 *  - One master key per archive: the raw key from a key file, or argon2id of
 *    a passphrase with a fresh random salt. Two subkeys are derived from it
 *    with crypto_kdf (BLAKE2b): one for the secretstream, one to MAC the
 *    header. Separate keys keep the two primitives from ever sharing a key.
 *  - The header MAC lets the reader tell "wrong key or damaged header" apart
 *    from "damaged data" before it reads any data; the whole header is also
 *    the additional data of chunk 0, so the stream itself is bound to it.
 *  - Every chunk but the last holds exactly chunk_size bytes of plaintext;
 *    the last one holds 0..chunk_size-1 and is tagged FINAL. Each chunk is
 *    preceded by its length: without it, bytes appended after a short final
 *    chunk would be read as part of it, and a cut inside a chunk could not be
 *    told from a damaged one. The length needs no MAC of its own: Poly1305
 *    covers the ciphertext length, so a wrong length fails the chunk. A cut
 *    at a chunk boundary is seen as a missing FINAL.
 *  - Secrets (keys, passphrases, the stream state, which holds the key)
 *    live in sodium_malloc() memory: guard pages, mlock()ed where
 *    RLIMIT_MEMLOCK allows (libsodium treats a failed mlock as non-fatal,
 *    and so do we: refusing to back up because of a rlimit would be worse),
 *    wiped by sodium_free(). Chunk buffers hold plaintext that also passes
 *    through libarchive's unlocked buffers, so locking ours would buy
 *    nothing; they are wiped when freed. */

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sodium.h>

#include "encryption.h"
#include "format-util.h"
#include "fileio.h"

/* Header layout: offsets and sizes. All integers little-endian. */
#define HDR_MAGIC        0      /* 8: "ALXCRYPT" */
#define HDR_VERSION      8      /* 1: CRYPT_FORMAT_VERSION */
#define HDR_KDF          9      /* 1: KDF_* */
#define HDR_RESERVED     10     /* 2: zero */
#define HDR_CHUNK_SIZE   12     /* 4: plaintext bytes per chunk */
#define HDR_OPSLIMIT     16     /* 8: argon2id passes, 0 for a raw key */
#define HDR_MEMLIMIT     24     /* 8: argon2id memory in bytes, 0 for a raw key */
#define HDR_SALT         32     /* 16: argon2id salt, zero for a raw key */
#define HDR_STREAM       48     /* 24: secretstream header */
#define HDR_MAC          72     /* 32: BLAKE2b-256 of bytes 0..71, keyed with the header subkey */

#define SALT_SIZE        crypto_pwhash_argon2id_SALTBYTES
#define STREAM_HDR_SIZE  crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define MAC_SIZE         32
#define ABYTES           crypto_secretstream_xchacha20poly1305_ABYTES
#define LENGTH_SIZE      4      /* u32 LE before each chunk: its ciphertext length */

_Static_assert(HDR_SALT + SALT_SIZE == HDR_STREAM, "salt size");
_Static_assert(HDR_STREAM + STREAM_HDR_SIZE == HDR_MAC, "secretstream header size");
_Static_assert(HDR_MAC + MAC_SIZE == CRYPT_HEADER_SIZE, "header size");
_Static_assert(crypto_secretstream_xchacha20poly1305_KEYBYTES == CRYPT_KEY_SIZE, "stream key size");
_Static_assert(crypto_kdf_KEYBYTES == CRYPT_KEY_SIZE, "kdf key size");

enum {
        KDF_NONE = 0,           /* raw key from a key file */
        KDF_ARGON2ID13 = 1,     /* passphrase, crypto_pwhash ALG_ARGON2ID13 */
};

/* Readers accept any chunk size in this range; writers use CRYPT_CHUNK_SIZE.
 * The upper bound caps what a header can make a reader allocate. */
#define CHUNK_SIZE_MIN   512u
#define CHUNK_SIZE_MAX   (16u * 1024 * 1024)

/* crypto_kdf context (exactly 8 bytes) and subkey ids: part of the format. */
static const char kdf_context[crypto_kdf_CONTEXTBYTES] = { 'A', 'L', 'X', 'C', 'R', 'Y', 'P', 'T' };
#define SUBKEY_STREAM    1
#define SUBKEY_HEADER    2

struct CryptKeySource {
        int kdf;                        /* KDF_NONE: secret is the key; KDF_ARGON2ID13: a passphrase */
        uint64_t opslimit, memlimit;    /* argon2id cost when writing */
        size_t size;
        uint8_t *secret;                /* sodium_malloc()ed */
};

/* Per-stream secrets, in one sodium_malloc()ed block. The keys only live
 * while the stream is set up; the state (which holds the stream key) for the
 * life of the writer or reader. */
typedef struct Secrets {
        crypto_secretstream_xchacha20poly1305_state state;
        uint8_t master[CRYPT_KEY_SIZE];
        uint8_t stream_key[CRYPT_KEY_SIZE];
        uint8_t header_key[CRYPT_KEY_SIZE];
} Secrets;

struct CryptWriter {
        crypt_sink_t sink;
        void *userdata;
        Secrets *secrets;
        uint8_t header[CRYPT_HEADER_SIZE];      /* additional data of chunk 0 */
        size_t chunk_size;
        uint8_t *buf;                   /* plaintext collected for the next chunk */
        size_t fill;
        uint8_t *out;                   /* one framed chunk: length, then ciphertext */
        uint64_t chunks;                /* chunks sent */
        int error;                      /* sticky: a stream cannot resume after a failed sink */
        bool finished;
};

struct CryptReader {
        int fd;                         /* borrowed */
        Secrets *secrets;
        uint8_t header[CRYPT_HEADER_SIZE];
        size_t chunk_size;
        uint8_t *in;                    /* one ciphertext chunk */
        uint8_t *buf;                   /* its plaintext */
        uint64_t chunks;                /* chunks authenticated */
        uint64_t offset;                /* of the next chunk's length field, from the first header byte */
        bool done;                      /* FINAL authenticated and end of file seen */
        int error;                      /* sticky, with its message */
        char *error_message;
};

static void sodium_freep(void *p) {
        sodium_free(*(void **) p);      /* NULL-safe; wipes before unmapping */
}
#define _cleanup_sodium_free_ _cleanup_(sodium_freep)

static int crypt_init(void) {
        /* Idempotent and thread-safe; seeds the RNG and picks implementations. */
        return sodium_init() < 0 ? -EIO : 0;
}

static void put_le32(uint8_t *p, uint32_t v) {
        for (size_t i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}
static void put_le64(uint8_t *p, uint64_t v) {
        for (size_t i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}
static uint32_t get_le32(const uint8_t *p) {
        uint32_t v = 0;
        for (size_t i = 0; i < 4; i++)
                v |= (uint32_t) p[i] << (8 * i);
        return v;
}
static uint64_t get_le64(const uint8_t *p) {
        uint64_t v = 0;
        for (size_t i = 0; i < 8; i++)
                v |= (uint64_t) p[i] << (8 * i);
        return v;
}



/* ---- keys ---------------------------------------------------------------- */

static int key_source_new(int kdf, const void *secret, size_t size, CryptKeySource **ret) {
        CryptKeySource *k = calloc(1, sizeof *k);
        if (!k)
                return -ENOMEM;
        k->secret = sodium_malloc(size);
        if (!k->secret) {
                free(k);
                return -ENOMEM;
        }
        memcpy(k->secret, secret, size);
        k->kdf = kdf;
        k->size = size;
        /* MODERATE (3 passes, 256 MiB, well under a second on a server): the
         * cost is paid once per archive written or read, by an unattended job
         * that can afford it, while archives are exactly what ends up on
         * storage we trust least (offsite, removable), open to offline
         * guessing. INTERACTIVE (64 MiB) would be 4x cheaper to attack.
         * The argon2id constants, not crypto_pwhash_*'s: those follow
         * libsodium's default algorithm, which may change. */
        k->opslimit = crypto_pwhash_argon2id_OPSLIMIT_MODERATE;
        k->memlimit = crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
        *ret = k;
        return 0;
}

CryptKeySource *crypt_key_free(CryptKeySource *k) {
        if (!k)
                return NULL;
        sodium_free(k->secret);
        free(k);
        return NULL;
}

bool crypt_key_is_passphrase(const CryptKeySource *k) {
        return k->kdf == KDF_ARGON2ID13;
}

int crypt_key_set_kdf_limits(CryptKeySource *k, uint64_t opslimit, uint64_t memlimit) {
        if (k->kdf != KDF_ARGON2ID13)
                return -EOPNOTSUPP;
        if (opslimit < CRYPT_KDF_OPSLIMIT_MIN || opslimit > CRYPT_KDF_OPSLIMIT_MAX ||
            memlimit < CRYPT_KDF_MEMLIMIT_MIN || memlimit > CRYPT_KDF_MEMLIMIT_MAX)
                return -EINVAL;
        k->opslimit = opslimit;
        k->memlimit = memlimit;
        return 0;
}

static bool is_blank(uint8_t c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ORIGIN names the key in messages: "key file PATH" or "key data". */
static int key_parse(const char *origin, const uint8_t *data, size_t size, CryptKeySource **ret, char **ret_error) {
        static const char family[] = "alexandria-key-";
        const size_t prefix_len = strlen(CRYPT_KEY_FILE_PREFIX);
        size_t b = 0, e = size;
        int r;

        if (size > CRYPT_KEY_FILE_MAX)
                return errorf(ret_error, -EFBIG, "%s is larger than %d bytes: not a key or passphrase file",
                              origin, CRYPT_KEY_FILE_MAX);

        /* Surrounding blanks are ignored when looking for a key line: a key
         * pasted with a stray space must not silently become a passphrase,
         * because archives would then be encrypted with the text of the line. */
        while (b < e && is_blank(data[b]))
                b++;
        while (e > b && is_blank(data[e - 1]))
                e--;

        if (e - b >= strlen(family) && memcmp(data + b, family, strlen(family)) == 0) {
                _cleanup_(crypt_key_freep) CryptKeySource *k = NULL;
                uint8_t zero[CRYPT_KEY_SIZE] = {};
                const char *b64, *b64_end;
                size_t b64_len, n = 0;

                if (e - b < prefix_len || memcmp(data + b, CRYPT_KEY_FILE_PREFIX, prefix_len) != 0)
                        return errorf(ret_error, -EINVAL, "%s: unsupported key format (this build reads %s)",
                                      origin, CRYPT_KEY_FILE_PREFIX);

                r = key_source_new(KDF_NONE, zero, sizeof zero, &k);
                if (r < 0)
                        return r;
                b64 = (const char *) data + b + prefix_len;
                b64_len = e - b - prefix_len;
                /* Decode straight into locked memory: no copy of the key on the stack. */
                if (sodium_base642bin(k->secret, k->size, b64, b64_len, NULL, &n, &b64_end,
                                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
                    b64_end != b64 + b64_len || n != CRYPT_KEY_SIZE)
                        return errorf(ret_error, -EINVAL,
                                      "%s: malformed key line: expected %s followed by %zu base64 characters (%d bytes)",
                                      origin, CRYPT_KEY_FILE_PREFIX,
                                      (size_t) sodium_base64_ENCODED_LEN(CRYPT_KEY_SIZE, sodium_base64_VARIANT_ORIGINAL) - 1,
                                      CRYPT_KEY_SIZE);
                *ret = TAKE_PTR(k);
                return 0;
        }

        /* A passphrase: every byte counts except the line end(s) an editor or
         * `echo` adds, so "secret" and "secret\n" are the same passphrase. */
        e = size;
        while (e > 0 && (data[e - 1] == '\n' || data[e - 1] == '\r'))
                e--;
        if (e == 0)
                return errorf(ret_error, -EINVAL, "%s is empty: it must hold a key line or a passphrase", origin);

        return key_source_new(KDF_ARGON2ID13, data, e, ret);
}

int crypt_key_parse(const void *data, size_t size, CryptKeySource **ret, char **ret_error) {
        int r = crypt_init();
        if (r < 0)
                return r;
        return key_parse("key data", data, size, ret, ret_error);
}

/* POSIX access ACL as the kernel stores it in the "system.posix_acl_access"
 * xattr: a little-endian u32 version (2), then entries of u16 tag, u16 perm,
 * u32 id (linux/posix_acl_xattr.h, not shipped as a uapi header everywhere). */
#define ACL_XATTR_VERSION 2
#define ACL_TAG_USER_OBJ  0x01
#define ACL_TAG_USER      0x02
#define ACL_TAG_GROUP_OBJ 0x04
#define ACL_TAG_GROUP     0x08
#define ACL_TAG_MASK      0x10
#define ACL_TAG_OTHER     0x20

/* With an ACL, the group bits of st_mode are the ACL mask, not the owning
 * group's rights. systemd passes credentials to User= services as a 0400
 * file plus "user:SERVICE:r--", which stat shows as 0440: private all the
 * same. The file is private if, after the mask, no group and no user other
 * than the owner and ourselves is granted anything. Anything we cannot
 * parse is not private. */
static int acl_is_private(int fd, uid_t owner, bool *ret_has_acl, bool *ret) {
        uint8_t acl[4 + 8 * 64];
        ssize_t n = fgetxattr(fd, "system.posix_acl_access", acl, sizeof acl);
        uint16_t mask = 7;

        if (n < 0) {
                if (errno == ENODATA || errno == EOPNOTSUPP) {
                        /* No ACL: the group bits are the group's. */
                        *ret_has_acl = *ret = false;
                        return 0;
                }
                if (errno == ERANGE) {
                        /* More entries than a private file would need. */
                        *ret_has_acl = true;
                        *ret = false;
                        return 0;
                }
                return negative_errno();
        }
        *ret_has_acl = true;
        if (n < 4 || (n - 4) % 8 != 0 || get_le32(acl) != ACL_XATTR_VERSION) {
                *ret = false;
                return 0;
        }
        for (ssize_t i = 4; i < n; i += 8)
                if ((acl[i] | acl[i + 1] << 8) == ACL_TAG_MASK)
                        mask = (uint16_t) (acl[i + 2] | acl[i + 3] << 8);

        for (ssize_t i = 4; i < n; i += 8) {
                uint16_t tag = (uint16_t) (acl[i] | acl[i + 1] << 8);
                uint16_t perm = (uint16_t) (acl[i + 2] | acl[i + 3] << 8);
                uint32_t id = get_le32(acl + i + 4);

                if ((tag == ACL_TAG_GROUP_OBJ || tag == ACL_TAG_GROUP) && (perm & mask)) {
                        *ret = false;
                        return 0;
                }
                if (tag == ACL_TAG_USER && (perm & mask) && id != owner && id != geteuid()) {
                        *ret = false;
                        return 0;
                }
                if (tag == ACL_TAG_OTHER && perm) {
                        *ret = false;
                        return 0;
                }
        }
        *ret = true;
        return 0;
}

static int check_key_file_private(int fd, const struct stat *st, const char *path, char **ret_error) {
        bool private = false, has_acl = false;
        int r;

        /* Whoever owns the key file can read it or swap it for their own. */
        if (st->st_uid != 0 && st->st_uid != geteuid())
                return errorf(ret_error, -EPERM, "key file %s is owned by uid %u: it must belong to root or to uid %u",
                              path, (unsigned) st->st_uid, (unsigned) geteuid());

        if (!(st->st_mode & (S_IRWXG | S_IRWXO)))
                return 0;
        if (!(st->st_mode & S_IRWXO)) {
                r = acl_is_private(fd, st->st_uid, &has_acl, &private);
                if (r < 0)
                        return errorf(ret_error, r, "cannot read the ACL of key file %s: %s", path, strerror(-r));
        }
        /* With an ACL, chmod alone would not do: it sets the mask, which
         * can widen what named entries grant. */
        if (!private)
                return errorf(ret_error, -EPERM,
                              "key file %s is accessible to other users (mode %04o%s): it must be 0600 or stricter "
                              "(%schmod 600 %s)",
                              path, (unsigned) (st->st_mode & 07777), has_acl ? " and an ACL" : "",
                              has_acl ? "setfacl -b, then " : "", path);
        return 0;
}

int crypt_key_load(const char *path, CryptKeySource **ret, char **ret_error) {
        _cleanup_sodium_free_ uint8_t *buf = NULL;
        _cleanup_free_ char *origin = NULL;
        struct stat st;
        size_t n;
        int r;

        r = crypt_init();
        if (r < 0)
                return r;

        /* Symlinks are followed: credentials and /etc layouts use them, and
         * what is checked is the file actually opened. O_NONBLOCK so that a
         * FIFO under that name is refused below instead of hanging the run;
         * it changes nothing for a regular file. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                r = negative_errno();
                return errorf(ret_error, r, "cannot open key file %s: %s", path, strerror(-r));
        }
        if (fstat(fd, &st) < 0) {
                r = negative_errno();
                return errorf(ret_error, r, "cannot stat key file %s: %s", path, strerror(-r));
        }
        if (!S_ISREG(st.st_mode))
                return errorf(ret_error, -EINVAL, "key file %s is not a regular file", path);
        r = check_key_file_private(fd, &st, path, ret_error);
        if (r < 0)
                return r;

        /* Read into locked memory, one byte more than allowed to see a file
         * that is too large (st_size can lie on special file systems). */
        buf = sodium_malloc(CRYPT_KEY_FILE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        r = loop_read(fd, buf, CRYPT_KEY_FILE_MAX + 1, &n);
        if (r < 0)
                return errorf(ret_error, r, "cannot read key file %s: %s", path, strerror(-r));

        if (asprintf(&origin, "key file %s", path) < 0)
                return -ENOMEM;
        return key_parse(origin, buf, n, ret, ret_error);
}

int crypt_keygen(const char *path) {
        const size_t prefix_len = strlen(CRYPT_KEY_FILE_PREFIX);
        const size_t b64_size = sodium_base64_ENCODED_LEN(CRYPT_KEY_SIZE, sodium_base64_VARIANT_ORIGINAL);
        _cleanup_sodium_free_ uint8_t *key = NULL;
        _cleanup_sodium_free_ char *line = NULL;
        int r;

        r = crypt_init();
        if (r < 0)
                return r;

        key = sodium_malloc(CRYPT_KEY_SIZE);
        line = sodium_malloc(prefix_len + b64_size + 1);        /* b64_size counts the NUL; +1 for "\n" */
        if (!key || !line)
                return -ENOMEM;

        randombytes_buf(key, CRYPT_KEY_SIZE);
        memcpy(line, CRYPT_KEY_FILE_PREFIX, prefix_len);
        sodium_bin2base64(line + prefix_len, b64_size, key, CRYPT_KEY_SIZE, sodium_base64_VARIANT_ORIGINAL);
        strcat(line, "\n");

        /* Unnamed until complete and fsync'd, then linked without replacing:
         * an existing key (or anything else under that name, a dangling
         * symlink included) is never touched, and a crash leaves no half key. */
        return write_file_atomic_full(path, line, strlen(line), 0600, false);
}

/* ---- streams -------------------------------------------------------------- */

/* Fills S with the subkeys for the archive described by HEADER (KDF, salt and
 * limits are read from it). Only failure: argon2id's memory. */
static int derive_keys(const CryptKeySource *k, const uint8_t *header, Secrets *s) {
        if (k->kdf == KDF_ARGON2ID13) {
                if (crypto_pwhash(s->master, sizeof s->master, (const char *) k->secret, k->size,
                                  header + HDR_SALT, get_le64(header + HDR_OPSLIMIT),
                                  (size_t) get_le64(header + HDR_MEMLIMIT), crypto_pwhash_ALG_ARGON2ID13) != 0)
                        return -ENOMEM;
        } else
                memcpy(s->master, k->secret, CRYPT_KEY_SIZE);

        crypto_kdf_derive_from_key(s->stream_key, sizeof s->stream_key, SUBKEY_STREAM, kdf_context, s->master);
        crypto_kdf_derive_from_key(s->header_key, sizeof s->header_key, SUBKEY_HEADER, kdf_context, s->master);
        sodium_memzero(s->master, sizeof s->master);
        return 0;
}

static void header_mac(const uint8_t *header, const Secrets *s, uint8_t mac[MAC_SIZE]) {
        crypto_generichash(mac, MAC_SIZE, header, HDR_MAC, s->header_key, sizeof s->header_key);
}

static void wipe_setup_keys(Secrets *s) {
        sodium_memzero(s->stream_key, sizeof s->stream_key);
        sodium_memzero(s->header_key, sizeof s->header_key);
}

/* ---- writer --------------------------------------------------------------- */

CryptWriter *crypt_writer_free(CryptWriter *w) {
        if (!w)
                return NULL;
        sodium_free(w->secrets);
        if (w->buf) {
                sodium_memzero(w->buf, w->chunk_size);
                free(w->buf);
        }
        free(w->out);
        free(w);
        return NULL;
}

int crypt_writer_new(const CryptKeySource *key, crypt_sink_t sink, void *userdata, CryptWriter **ret) {
        _cleanup_(crypt_writer_freep) CryptWriter *w = NULL;
        uint8_t *h;
        int r;

        r = crypt_init();
        if (r < 0)
                return r;

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->sink = sink;
        w->userdata = userdata;
        w->chunk_size = CRYPT_CHUNK_SIZE;
        w->secrets = sodium_malloc(sizeof *w->secrets);
        w->buf = malloc(w->chunk_size);
        w->out = malloc(LENGTH_SIZE + w->chunk_size + ABYTES);
        if (!w->secrets || !w->buf || !w->out)
                return -ENOMEM;

        h = w->header;
        memcpy(h + HDR_MAGIC, CRYPT_MAGIC, CRYPT_MAGIC_SIZE);
        h[HDR_VERSION] = CRYPT_FORMAT_VERSION;
        h[HDR_KDF] = (uint8_t) key->kdf;
        put_le32(h + HDR_CHUNK_SIZE, (uint32_t) w->chunk_size);
        if (key->kdf == KDF_ARGON2ID13) {
                put_le64(h + HDR_OPSLIMIT, key->opslimit);
                put_le64(h + HDR_MEMLIMIT, key->memlimit);
                /* A fresh salt per archive: one archive's derived key says
                 * nothing about another's, and no precomputation pays off. */
                randombytes_buf(h + HDR_SALT, SALT_SIZE);
        }

        r = derive_keys(key, h, w->secrets);
        if (r < 0)
                return r;
        /* init_push draws the random secretstream header (nonce). */
        crypto_secretstream_xchacha20poly1305_init_push(&w->secrets->state, h + HDR_STREAM, w->secrets->stream_key);
        header_mac(h, w->secrets, h + HDR_MAC);
        wipe_setup_keys(w->secrets);

        r = sink(userdata, h, CRYPT_HEADER_SIZE);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(w);
        return 0;
}

static int writer_push(CryptWriter *w, const uint8_t *m, size_t n, uint8_t tag) {
        unsigned long long clen = 0;
        int r;

        /* The whole header is the additional data of chunk 0: the stream is
         * bound to it, so even a reader that skipped the header MAC would
         * notice an altered header. Later chunks are chained to chunk 0 by
         * the secretstream state. */
        if (crypto_secretstream_xchacha20poly1305_push(&w->secrets->state, w->out + LENGTH_SIZE, &clen, m, n,
                                                       w->chunks == 0 ? w->header : NULL,
                                                       w->chunks == 0 ? sizeof w->header : 0, tag) != 0)
                return (w->error = -EIO);       /* only for messages over 256 GiB */
        put_le32(w->out, (uint32_t) clen);

        r = w->sink(w->userdata, w->out, LENGTH_SIZE + (size_t) clen);
        if (r < 0)
                return (w->error = r);
        w->chunks++;
        return 0;
}

int crypt_writer_write(CryptWriter *w, const void *buf, size_t n) {
        const uint8_t *p = buf;
        int r;

        if (w->error < 0)
                return w->error;
        if (w->finished)
                return -EINVAL;

        while (n > 0) {
                if (w->fill == 0 && n >= w->chunk_size) {
                        /* Whole chunks straight from the caller's buffer. */
                        r = writer_push(w, p, w->chunk_size, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
                        if (r < 0)
                                return r;
                        p += w->chunk_size;
                        n -= w->chunk_size;
                        continue;
                }
                size_t k = MIN(n, w->chunk_size - w->fill);
                memcpy(w->buf + w->fill, p, k);
                w->fill += k;
                p += k;
                n -= k;
                /* A full chunk goes out at once: the final chunk is always a
                 * short one (possibly empty), so nothing needs holding back. */
                if (w->fill == w->chunk_size) {
                        r = writer_push(w, w->buf, w->chunk_size, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
                        if (r < 0)
                                return r;
                        w->fill = 0;
                }
        }
        return 0;
}

int crypt_writer_finish(CryptWriter *w) {
        int r;

        if (w->error < 0)
                return w->error;
        if (w->finished)
                return -EINVAL;

        r = writer_push(w, w->buf, w->fill, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
        sodium_memzero(w->buf, w->chunk_size);
        w->fill = 0;
        if (r < 0)
                return r;
        w->finished = true;
        return 0;
}

/* ---- reader --------------------------------------------------------------- */

CryptReader *crypt_reader_free(CryptReader *r) {
        if (!r)
                return NULL;
        sodium_free(r->secrets);
        if (r->buf) {
                sodium_memzero(r->buf, r->chunk_size);
                free(r->buf);
        }
        free(r->in);
        free(r->error_message);
        free(r);
        return NULL;
}

static const char *kdf_description(int kdf) {
        return kdf == KDF_ARGON2ID13 ? "a passphrase" : "a raw key file";
}

/* Checks the fields that decide how much work and memory the rest costs,
 * before any of it is spent. Authenticity comes after, from the MAC. */
static int header_check_fields(const uint8_t *h, const CryptKeySource *key, char **ret_error) {
        uint32_t chunk_size = get_le32(h + HDR_CHUNK_SIZE);
        uint64_t ops = get_le64(h + HDR_OPSLIMIT), mem = get_le64(h + HDR_MEMLIMIT);

        if (h[HDR_VERSION] != CRYPT_FORMAT_VERSION)
                return errorf(ret_error, -EPROTONOSUPPORT,
                              "encryption format version %u is not supported (this build reads version %u)",
                              h[HDR_VERSION], CRYPT_FORMAT_VERSION);
        if (h[HDR_KDF] != KDF_NONE && h[HDR_KDF] != KDF_ARGON2ID13)
                return errorf(ret_error, -EBADMSG, "corrupted header: unknown key derivation %u", h[HDR_KDF]);
        if (h[HDR_RESERVED] != 0 || h[HDR_RESERVED + 1] != 0)
                return errorf(ret_error, -EBADMSG, "corrupted header: reserved bytes are not zero");
        if (chunk_size < CHUNK_SIZE_MIN || chunk_size > CHUNK_SIZE_MAX)
                return errorf(ret_error, -EBADMSG, "corrupted header: chunk size %" PRIu32 " out of range", chunk_size);
        if (h[HDR_KDF] == KDF_ARGON2ID13 &&
            (ops < CRYPT_KDF_OPSLIMIT_MIN || ops > CRYPT_KDF_OPSLIMIT_MAX ||
             mem < CRYPT_KDF_MEMLIMIT_MIN || mem > CRYPT_KDF_MEMLIMIT_MAX))
                return errorf(ret_error, -EBADMSG,
                              "corrupted header: argon2id limits out of range (opslimit %" PRIu64 ", memlimit %" PRIu64 ")",
                              ops, mem);
        if (h[HDR_KDF] != key->kdf)
                return errorf(ret_error, -EKEYREJECTED,
                              "wrong key: the archive was encrypted with %s, but %s was given (or the header is corrupted)",
                              kdf_description(h[HDR_KDF]), kdf_description(key->kdf));
        return 0;
}

int crypt_reader_new(const CryptKeySource *key, int fd, CryptReader **ret, char **ret_error) {
        _cleanup_(crypt_reader_freep) CryptReader *rd = NULL;
        uint8_t mac[MAC_SIZE];
        uint8_t *h;
        size_t n;
        int r;

        r = crypt_init();
        if (r < 0)
                return r;

        rd = calloc(1, sizeof *rd);
        if (!rd)
                return -ENOMEM;
        rd->fd = fd;
        h = rd->header;

        r = loop_read(fd, h, CRYPT_HEADER_SIZE, &n);
        if (r < 0)
                return errorf(ret_error, r, "cannot read the encryption header: %s", strerror(-r));
        if (n == 0)
                return errorf(ret_error, -EBADMSG, "truncated: empty file, no encryption header");
        if (memcmp(h, CRYPT_MAGIC, MIN(n, (size_t) CRYPT_MAGIC_SIZE)) != 0)
                return errorf(ret_error, -EBADMSG, "not an encrypted Alexandria archive (no %s magic)", CRYPT_MAGIC);
        if (n < CRYPT_HEADER_SIZE)
                return errorf(ret_error, -EBADMSG, "truncated: file ends inside the encryption header (%zu of %d bytes)",
                              n, CRYPT_HEADER_SIZE);

        r = header_check_fields(h, key, ret_error);
        if (r < 0)
                return r;

        rd->chunk_size = get_le32(h + HDR_CHUNK_SIZE);
        rd->secrets = sodium_malloc(sizeof *rd->secrets);
        if (!rd->secrets)
                return -ENOMEM;
        r = derive_keys(key, h, rd->secrets);
        if (r < 0)
                return errorf(ret_error, r, "cannot derive the key: argon2id needs %" PRIu64 " MiB of memory",
                              get_le64(h + HDR_MEMLIMIT) >> 20);

        /* A wrong key and a damaged header look the same here; the data has
         * not been read yet, so any later failure is the data's. */
        header_mac(h, rd->secrets, mac);
        if (sodium_memcmp(mac, h + HDR_MAC, MAC_SIZE) != 0) {
                wipe_setup_keys(rd->secrets);
                return errorf(ret_error, -EKEYREJECTED, "wrong key or corrupted header");
        }
        if (crypto_secretstream_xchacha20poly1305_init_pull(&rd->secrets->state, h + HDR_STREAM,
                                                            rd->secrets->stream_key) != 0) {
                wipe_setup_keys(rd->secrets);
                return errorf(ret_error, -EBADMSG, "corrupted header: invalid secretstream header");
        }
        wipe_setup_keys(rd->secrets);

        rd->in = malloc(rd->chunk_size + ABYTES);
        rd->buf = malloc(rd->chunk_size);
        if (!rd->in || !rd->buf)
                return -ENOMEM;
        rd->offset = CRYPT_HEADER_SIZE;

        *ret = TAKE_PTR(rd);
        return 0;
}

static int reader_fail(CryptReader *rd, char **ret_error, int error, const char *format, ...) _printf_(4, 5);
static int reader_fail(CryptReader *rd, char **ret_error, int error, const char *format, ...) {
        va_list ap;

        rd->error = error;
        va_start(ap, format);
        if (vasprintf(&rd->error_message, format, ap) < 0)
                rd->error_message = NULL;
        va_end(ap);
        if (ret_error)
                *ret_error = rd->error_message ? strdup(rd->error_message) : NULL;
        return error;
}

ssize_t crypt_reader_read(CryptReader *rd, const void **ret_buf, char **ret_error) {
        const size_t full = rd->chunk_size + ABYTES;
        unsigned long long mlen = 0;
        unsigned char tag = 0;
        uint8_t length[LENGTH_SIZE], extra;
        size_t n, len;
        int r;

        if (rd->error < 0) {
                if (ret_error)
                        *ret_error = rd->error_message ? strdup(rd->error_message) : NULL;
                return rd->error;
        }
        if (rd->done) {
                *ret_buf = NULL;
                return 0;
        }

        r = loop_read(rd->fd, length, sizeof length, &n);
        if (r < 0)
                return reader_fail(rd, ret_error, r, "read error in chunk %" PRIu64 " at offset %" PRIu64 ": %s",
                                   rd->chunks, rd->offset, strerror(-r));
        if (n == 0)
                return reader_fail(rd, ret_error, -EBADMSG,
                                   "truncated: ends without final chunk (after %" PRIu64 " chunks, at offset %" PRIu64 ")",
                                   rd->chunks, rd->offset);
        if (n < sizeof length)
                return reader_fail(rd, ret_error, -EBADMSG,
                                   "truncated: chunk %" PRIu64 " at offset %" PRIu64 " is incomplete (%zu of %zu length bytes)",
                                   rd->chunks, rd->offset, n, sizeof length);
        len = get_le32(length);
        if (len < ABYTES || len > full)
                return reader_fail(rd, ret_error, -EBADMSG,
                                   "corrupted chunk %" PRIu64 " at offset %" PRIu64 ": length %zu out of range",
                                   rd->chunks, rd->offset, len);

        r = loop_read(rd->fd, rd->in, len, &n);
        if (r < 0)
                return reader_fail(rd, ret_error, r, "read error in chunk %" PRIu64 " at offset %" PRIu64 ": %s",
                                   rd->chunks, rd->offset, strerror(-r));
        if (n < len)
                /* (or a damaged length field claiming more than there is: rare,
                 * and the data would not have authenticated either) */
                return reader_fail(rd, ret_error, -EBADMSG,
                                   "truncated: chunk %" PRIu64 " at offset %" PRIu64 " is incomplete (%zu of %zu bytes)",
                                   rd->chunks, rd->offset, LENGTH_SIZE + n, LENGTH_SIZE + len);

        if (crypto_secretstream_xchacha20poly1305_pull(&rd->secrets->state, rd->buf, &mlen, &tag, rd->in, len,
                                                       rd->chunks == 0 ? rd->header : NULL,
                                                       rd->chunks == 0 ? sizeof rd->header : 0) != 0)
                return reader_fail(rd, ret_error, -EBADMSG,
                                   "corrupted chunk %" PRIu64 " at offset %" PRIu64, rd->chunks, rd->offset);

        if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
                /* The end is only clean if the file ends too: appended bytes
                 * are not covered by any MAC and must not pass silently. */
                r = loop_read(rd->fd, &extra, 1, &n);
                if (r < 0)
                        return reader_fail(rd, ret_error, r, "read error after final chunk at offset %" PRIu64 ": %s",
                                           rd->offset + LENGTH_SIZE + len, strerror(-r));
                if (n > 0)
                        return reader_fail(rd, ret_error, -EBADMSG,
                                           "trailing data after final chunk (at offset %" PRIu64 ")",
                                           rd->offset + LENGTH_SIZE + len);
                rd->done = true;
        } else if (len != full)
                /* Authentic but short and not final: no writer of this format
                 * makes that. Refused, so that the format stays canonical. */
                return reader_fail(rd, ret_error, -EBADMSG,
                                   "invalid stream: chunk %" PRIu64 " at offset %" PRIu64 " is short but not final",
                                   rd->chunks, rd->offset);

        rd->chunks++;
        rd->offset += LENGTH_SIZE + len;
        if (mlen == 0) {
                /* Only a final chunk can be empty (others are full): clean end. */
                *ret_buf = NULL;
                return 0;
        }
        *ret_buf = rd->buf;
        return (ssize_t) mlen;
}

/* ---- detection ------------------------------------------------------------ */

bool crypt_has_magic(const void *buf, size_t n) {
        return n >= CRYPT_MAGIC_SIZE && memcmp(buf, CRYPT_MAGIC, CRYPT_MAGIC_SIZE) == 0;
}

int crypt_is_encrypted(int fd) {
        uint8_t m[CRYPT_MAGIC_SIZE];
        ssize_t n;

        do
                n = pread(fd, m, sizeof m, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        return crypt_has_magic(m, (size_t) n);
}
